"""Fixed probe inputs (built once per run from its seed) and the networks -> a Frame.

The probes never touch the trainer's random generator, so watching a run does not change it.
"""

from __future__ import annotations

import numpy as np
import torch

from gancore.config import RunConfig, data_dim
from gancore.data.targets import Target, sample_latent
from gancore.frames import Frame, frame_kind, quantize
from gancore.observe import metrics
from gancore.observe.detectors import Snapshot, modes_held
from gancore.observe.surface import SurfaceJob, frame_helper
from gancore.train.adagan import mixture_samples
from gancore.train.trainer import StepStats, Trainer

N_GRAD_ARROWS = 120
CURVE_POINTS = 256
HIST_BINS = 80
MARGINAL_BINS = 30
MAPPING_LINES = 120
PROBE_SEED_OFFSET = 7919  # probes draw from their own generator, never the trainer's


class Probes:
    """The inputs every frame of a run is made from, and the code that makes the frame."""

    def __init__(self, cfg: RunConfig, target: Target, z: torch.Tensor | None = None):
        """`z`: the fixed noise batch, (frames.samples, latent) float32, when the run's own noise
        sampler makes it (a watched run: gancore.watch); by default drawn from the config's
        prior."""
        self.cfg, self.target = cfg, target
        self.dim = data_dim(cfg)
        self.kind = frame_kind(self.dim)
        gen = torch.Generator().manual_seed(cfg.train.seed + PROBE_SEED_OFFSET)
        self._seed = cfg.train.seed + PROBE_SEED_OFFSET
        n = cfg.frames.samples
        self.cond = (target.sample_conditional(n, gen)[1] if cfg.train.conditional else None)
        self.z = sample_latent(n, cfg.latent, gen) if z is None else z  # (n, latent) fixed
        self._real_fixed = self._draw_real(n, 0)
        self.bounds = target.bounds()  # (dim, 2)
        self._build_view()
        self._build_latent_grid()
        self._build_data_geometry()
        self._prev_fake: np.ndarray | None = None

    # ---- probe construction ---------------------------------------------------------------
    def _draw_real(self, n: int, step: int) -> np.ndarray:
        # Time-varying targets show the batch the trainer sees at this step; a generator seeded
        # from (seed, step) keeps replays identical.
        gen = torch.Generator().manual_seed(self._seed + 1 + step)
        return self.target.sample(n, gen, step).numpy()

    def real(self, step: int) -> np.ndarray:
        if self.target.time_varying:
            return self._draw_real(self.cfg.frames.samples, step)
        return self._real_fixed

    def _build_view(self) -> None:
        """The 2-D plane D is drawn on: the data plane in 2-D, a projection plane in n-D."""
        if self.kind == "1d":
            lo, hi = self.bounds[0]
            self.xs = np.linspace(lo, hi, CURVE_POINTS)
            self.d_inputs = torch.tensor(self.xs, dtype=torch.float32)[:, None]  # (P, 1)
            return
        r = self.cfg.frames.d_grid
        if self.kind == "2d":
            self.origin = np.zeros(2)
            self.axes = np.eye(2)
            self.plane_bounds = self.bounds
        else:
            real = self._real_fixed
            self.origin = real.mean(0)
            self.axes = self._projection_axes(real)  # (2, dim) orthonormal rows
            proj = (real - self.origin) @ self.axes.T
            lo, hi = np.quantile(proj, 0.005, axis=0), np.quantile(proj, 0.995, axis=0)
            span = np.maximum(hi - lo, 1e-3)
            self.plane_bounds = np.stack([lo - 0.2 * span, hi + 0.2 * span], 1)
        (x0, x1), (y0, y1) = self.plane_bounds
        gx, gy = np.linspace(x0, x1, r), np.linspace(y0, y1, r)
        uu, vv = np.meshgrid(gx, gy)  # row = y, column = x, as a heatmap wants
        plane = np.stack([uu.ravel(), vv.ravel()], 1)  # (r*r, 2)
        pts = self.origin + plane @ self.axes
        self.d_inputs = torch.tensor(pts, dtype=torch.float32)  # (r*r, dim)

    def _projection_axes(self, real: np.ndarray) -> np.ndarray:
        proj = self.cfg.frames.projection
        if proj == "pca":
            xc = real - real.mean(0)
            _, _, vt = np.linalg.svd(xc, full_matrices=False)
            return vt[:2]
        i, j = (int(p) for p in proj.split(","))
        if max(i, j) >= self.dim or i == j:
            raise ValueError(f"frames.projection: dimensions must be two different indices "
                             f"below {self.dim}")
        axes = np.zeros((2, self.dim))
        axes[0, i] = axes[1, j] = 1.0
        return axes

    def _build_latent_grid(self) -> None:
        lat = self.cfg.latent
        half = 2 * lat.scale if lat.distribution == "gaussian" else lat.scale
        g = self.cfg.frames.latent_grid
        ticks = np.linspace(-half, half, g)
        if lat.dim == 1 or self.kind == "1d":
            zs = np.zeros((g, lat.dim))
            zs[:, 0] = ticks
            self.latent_shape: tuple[int, ...] = (g,)
        else:
            uu, vv = np.meshgrid(ticks, ticks)
            zs = np.zeros((g * g, lat.dim))
            zs[:, 0], zs[:, 1] = uu.ravel(), vv.ravel()
            self.latent_shape = (g, g)
        self.latent_half = half
        self.z_grid = torch.tensor(zs, dtype=torch.float32)
        self.cond_grid = (torch.zeros(len(zs), self.target.cond_dim)
                          if self.cond is not None else None)
        # One generator pass serves the sample batch and the latent grid.
        self._z_all = torch.cat([self.z, self.z_grid])
        self._cond_all = None if self.cond is None or self.cond_grid is None else \
            torch.cat([self.cond, self.cond_grid])  # both or neither

    def _build_data_geometry(self) -> None:
        """Where the data is: its scale, a KD-tree of real points (<= 3-D), the view cells far
        from it, and the mode centres; what the detectors measure distances against."""
        from scipy.spatial import cKDTree

        real = self._real_all = self._real_all_modes()
        self.data_mean = real.mean(0)
        self.data_scale = float(np.sqrt(((real - self.data_mean) ** 2).sum(1).mean())) or 1.0
        self._tree = cKDTree(real) if self.dim <= 3 else None
        self._off_cells = None
        if self._tree is not None:
            dist, _ = self._tree.query(self.d_inputs.numpy())
            far = np.flatnonzero(dist > 0.5 * self.data_scale)
            self._off_cells = self.d_inputs[far[:: max(1, len(far) // 1000)]] if len(far) else None
        modes = self.target.modes()
        self._mode_inputs = None
        if modes is not None and modes.centres.shape[1] == self.dim:
            self._mode_inputs = torch.tensor(modes.centres, dtype=torch.float32)
        # Every mode in the drawn plane, (K, 3): x, y, std. The views draw them faintly, so a
        # batch that shows one mode (forgetting) still shows where the others are.
        self._target_modes = None if modes is None or self._mode_inputs is None or \
            self.kind == "1d" else np.column_stack([(modes.centres - self.origin) @ self.axes.T,
                                                    modes.stds]).astype(np.float32)  # (K, 3)

    def _real_all_modes(self) -> np.ndarray:
        if not self.target.time_varying:
            return self._real_fixed
        # A time-varying target shows one mode at a time; the data is all of them.
        from gancore.data.targets import Mixture

        m = self.target.modes()
        assert m is not None  # the time-varying targets (SequentialModes) have modes
        return Mixture(m.centres, m.stds, m.weights).sample(
            self.cfg.frames.samples, torch.Generator().manual_seed(self._seed)).numpy()

    # ---- snapshots for the detectors --------------------------------------------------------
    def snapshot(self, trainer: Trainer, rows: np.ndarray, costly: bool = True) -> Snapshot:
        """The run measured now, for the phenomenon detectors and the metric curves."""
        G, D = trainer.G, trainer.D
        prob = _probabilistic(trainer)
        with torch.inference_mode():
            fake, _ = mixture_samples(trainer.adagan, G, self.z, G(self.z, self.cond).numpy())
            d_modes = d_off = None
            if self._mode_inputs is not None and prob and D is not None:  # prob implies a D
                d_modes = self.d_values(D, self._mode_inputs, True)
            if self._off_cells is not None and prob and D is not None:
                d_off = float(self.d_values(D, self._off_cells, True).mean())
        real = self._real_all  # drawn once: a time-varying target would otherwise re-sample it
        moved = 0.0 if self._prev_fake is None else float(
            np.sqrt(((fake - self._prev_fake) ** 2).sum(1)).mean() / self.data_scale)
        self._prev_fake = fake
        off = None
        if self._tree is not None:
            dist, _ = self._tree.query(fake)
            off = float((dist > 0.25 * self.data_scale).mean())
        means = np.full(rows.shape[1] - 1 if rows.ndim == 2 else 6, np.nan)
        for j in range(len(means)):  # half steps and the VAE leave some columns all NaN
            col = rows[:, j + 1] if len(rows) else np.array([])
            col = col[~np.isnan(col)]
            if len(col):
                means[j] = col.mean()
        snap = Snapshot(
            step=trainer.step_count, d_loss=float(means[0]), g_loss=float(means[1]),
            d_real=float(means[2]), d_fake=float(means[3]), g_grad_norm=float(means[5]),
            probabilistic=prob, moved=moved, off_data=off,
            centroid_gap=float(np.linalg.norm(fake.mean(0) - self.data_mean) / self.data_scale),
            d_at_modes=d_modes, d_off_data=d_off, n_samples=len(fake),
            shown_mode=self.target.active_mode(trainer.step_count)
            if hasattr(self.target, "active_mode") else None)
        if self.target.modes() is not None:
            cov, snap.mode_near, held = self.mode_measures(fake)
            snap.mode_counts, snap.high_quality = cov.counts, cov.high_quality
            snap.metrics.update(modes=held, high_quality=cov.high_quality,
                                reverse_kl=cov.reverse_kl)
        if costly:
            snap.metrics.update(self.costly_metrics(real, fake))
        return snap

    def costly_metrics(self, real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
        """Distribution distances too slow for every frame: computed at each snapshot."""
        out: dict[str, float] = {}
        if self.dim <= 2:
            out["kl"], out["js"] = metrics.grid_divergences(real, fake, self.bounds)
        if self.dim == 1:
            out["wasserstein"] = metrics.wasserstein_1d(real, fake)
        else:
            out["energy"] = metrics.energy_distance(real, fake, max_n=500)
        if self.dim > 2:
            out["norm_ks"] = metrics.norm_ks(real, fake)
            bim_r, bim_f = metrics.bimodality(real), metrics.bimodality(fake)
            real_bimodal = bim_r > 5 / 9
            out["bimodal_dims_real"] = int(real_bimodal.sum())
            out["bimodal_dims_fake"] = int((real_bimodal & (bim_f > 5 / 9)).sum())
            out["variance_ratio"] = float(fake.var(0).sum() / max(real.var(0).sum(), 1e-12))
        return out

    # ---- frame ------------------------------------------------------------------------------
    def d_values(self, D: torch.nn.Module, x: torch.Tensor, probabilistic: bool) -> np.ndarray:
        """D's output at points; replicated into packs when D judges m samples at once."""
        job = SurfaceJob(D, x, self.cfg.remedies.packing, self._cond_dim())
        job.drain()
        return job.values(probabilistic)

    def frame(self, trainer: Trainer, stats: StepStats | None) -> Frame:
        """A picture of the networks now, in about half the time on two cores.

        A helper thread starts on D's surface (the largest job) while this one runs G, G's
        gradient arrows and the mode metrics, then joins in on the surface chunks left. Each
        thread uses one intra-op thread: OpenMP's second thread looked as fast on an idle box but
        spun and stalled frames to 400 ms when the other core was busy, whereas two plain threads
        just take turns (a busy core costs ~5%, never a stall). The helper only reads the
        networks, and the frame waits for it before returning, so training never overlaps it."""
        G, D = trainer.G, trainer.D
        # Only batch norm behaves differently in eval mode; toggling costs ~0.6 ms, so skip it.
        toggle = self.cfg.generator.norm == "batch" or self.cfg.discriminator.norm == "batch"
        if toggle:
            G.eval()
            if D is not None:  # a VAE has none
                D.eval()
        try:
            surface = None if D is None else SurfaceJob(
                D, self.d_inputs, self.cfg.remedies.packing, self._cond_dim())
            helper = None if surface is None else frame_helper().submit(surface.drain)
            try:
                with torch.inference_mode():
                    both = G(self._z_all, self._cond_all).numpy()
                fake, mapped = both[: len(self.z)], both[len(self.z):]
                fake, component = mixture_samples(trainer.adagan, G, self.z, fake)
                step = trainer.step_count
                f = Frame(self.kind, step)
                if component is not None and self.kind == "2d":  # AdaGAN: who drew each fake
                    f.arrays["fake_component"] = component  # (assets/draw_2d.js colours them)
                    f.meta["components"] = trainer.adagan.components  # type: ignore[union-attr]
                f.scalars.update(_stat_scalars(stats))
                self._fill_mode_metrics(f, fake, step)
                arrows = self._grad_arrows(trainer, fake[:N_GRAD_ARROWS]) \
                    if self.kind == "2d" and D is not None else None
            finally:
                if surface is not None:
                    surface.drain()  # take the chunks the helper has not started
                    assert helper is not None  # made with the surface
                    helper.result()
            d_view = None if surface is None else surface.values(_probabilistic(trainer))
            real = self.real(step)
            if self.kind == "1d":
                self._fill_1d(f, real, fake, d_view, trainer)
            elif self.kind == "2d":
                self._fill_2d(f, real, fake, d_view, mapped, arrows, trainer)
            else:
                self._fill_nd(f, real, fake, d_view, trainer)
            if self._target_modes is not None:
                f.arrays["target_modes"] = self._target_modes
            return f
        finally:
            if toggle:
                G.train()
                if D is not None:
                    D.train()

    def _surface(self, f: Frame, d_view: np.ndarray | None, probabilistic: bool) -> None:
        if d_view is None:  # a VAE has no discriminator to draw
            return
        r = self.cfg.frames.d_grid
        lo, hi = (0.0, 1.0) if probabilistic else (None, None)
        q, rng = quantize(d_view.reshape(r, r), lo, hi)
        f.arrays["d_grid"] = q
        f.ranges["d_grid"] = rng
        f.meta["d_extent"] = self.plane_bounds.tolist()
        f.meta["d_probabilistic"] = probabilistic

    def _fill_1d(self, f: Frame, real, fake, d_view, trainer) -> None:
        lo, hi = self.bounds[0]
        f.meta["x_range"] = [float(lo), float(hi)]
        dens = self.target.density(self.xs[:, None])
        if dens is None:
            dens = np.interp(self.xs, np.linspace(lo, hi, HIST_BINS),
                             metrics.density_histogram(real[:, 0], lo, hi, HIST_BINS))
        f.arrays["real_density"] = np.asarray(dens, np.float32)
        f.arrays["fake_hist"] = metrics.density_histogram(fake[:, 0], lo, hi, HIST_BINS)
        if d_view is not None:
            f.arrays["d_curve"] = d_view.astype(np.float32)
            f.meta["d_probabilistic"] = _probabilistic(trainer)
        # The Goodfellow picture: evenly spaced z quantiles and where G sends them.
        order = np.argsort(self.z[:, 0].numpy())
        pick = order[np.linspace(0, len(order) - 1, MAPPING_LINES).astype(int)]
        f.arrays["map_z"] = self.z[pick, 0].numpy().astype(np.float32)
        f.arrays["map_x"] = fake[pick, 0].astype(np.float32)
        f.arrays["fake"] = fake.astype(np.float32)

    def _fill_2d(self, f: Frame, real, fake, d_view, mapped, arrows, trainer) -> None:
        f.arrays["real"] = real.astype(np.float16)
        f.arrays["fake"] = fake.astype(np.float32)
        self._surface(f, d_view, _probabilistic(trainer))
        f.arrays["latent_mapped"] = mapped.astype(np.float16)
        f.meta["latent_shape"] = list(self.latent_shape)
        f.meta["latent_half"] = self.latent_half
        if arrows is not None:
            f.arrays["grad_arrows"] = arrows
        f.meta["bounds"] = self.bounds.tolist()

    def _grad_arrows(self, trainer: Trainer, points: np.ndarray) -> np.ndarray:
        """Where G's loss pushes each of the first fake samples: -dL_G/dx, scaled to the view."""
        x = torch.tensor(points, requires_grad=True)
        c = None if self.cond is None else self.cond[: len(points)]
        D, loss = trainer.D, trainer.loss
        assert D is not None and loss is not None  # asked only of a GAN
        if self.cfg.remedies.packing > 1 or D.mbd is not None:
            return np.zeros_like(points, dtype=np.float16)  # D judges groups, not points
        with torch.enable_grad():
            (g,) = torch.autograd.grad(loss.g(D(x, c)) * len(x), x)
        v = -g.numpy()
        longest = np.sqrt((v**2).sum(1)).max()
        span = float(self.bounds[:, 1].max() - self.bounds[:, 0].min())
        if longest > 0 and np.isfinite(longest):
            v = v / longest * 0.08 * span
        return np.nan_to_num(v).astype(np.float16)

    def _fill_nd(self, f: Frame, real, fake, d_view, trainer) -> None:
        f.arrays["fake"] = fake.astype(np.float32)  # raw samples: recorded, not streamed
        f.arrays["proj_real"] = ((real - self.origin) @ self.axes.T).astype(np.float16)
        f.arrays["proj_fake"] = ((fake - self.origin) @ self.axes.T).astype(np.float32)
        self._surface(f, d_view, _probabilistic(trainer))
        lo, hi = self.bounds[:, 0], self.bounds[:, 1]
        f.arrays["marg_lo_hi"] = self.bounds.astype(np.float32)
        for name, x in (("marg_real", real), ("marg_fake", fake)):
            marginals = metrics.column_density_histograms(x, lo, hi, MARGINAL_BINS)
            f.arrays[name] = marginals.astype(np.float16)
        corr_real, corr_fake = metrics.correlation(real), metrics.correlation(fake)
        cr, _ = quantize(corr_real, -1.0, 1.0)
        cf, _ = quantize(corr_fake, -1.0, 1.0)
        f.arrays["corr_real"], f.ranges["corr_real"] = cr, (-1.0, 1.0)
        f.arrays["corr_fake"], f.ranges["corr_fake"] = cf, (-1.0, 1.0)
        ks, p = metrics.ks_per_dim(real, fake)
        f.arrays["ks_stat"], f.arrays["ks_p"] = ks.astype(np.float32), p.astype(np.float32)
        nr, nf = np.linalg.norm(real, axis=1), np.linalg.norm(fake, axis=1)
        top = float(np.quantile(nr, 0.995) * 1.5)
        f.meta["norm_range"] = [0.0, top]
        f.arrays["norm_real"] = metrics.density_histogram(nr, 0.0, top, HIST_BINS)
        f.arrays["norm_fake"] = metrics.density_histogram(nf, 0.0, top, HIST_BINS)
        f.meta["plane_bounds"] = self.plane_bounds.tolist()
        f.meta["projection"] = self.cfg.frames.projection
        f.scalars["ks_mean"] = float(ks.mean())
        f.scalars["corr_dist"] = float(np.abs(corr_real - corr_fake).mean())

    def mode_measures(self, fake: np.ndarray) -> tuple[metrics.ModeCoverage, np.ndarray | None,
                                                       int]:
        """The samples against the target's modes: high-quality coverage, the samples near each
        mode (within a quarter data scale of its centre, or its high-quality radius when that is
        wider, where the modes live in the data's own space) and the modes held, the one count
        the frame title and the mode-collapse event both report
        (`gancore.observe.detectors.modes_held`). Modes judged on a few coordinates
        (the bimodal 6-D pair) merge into one when those coordinates come out unimodal: a single
        hump between two centres puts samples near both, but it is one mode."""
        modes = self.target.modes()
        assert modes is not None
        cov = metrics.mode_coverage(fake, modes.centres, modes.stds, modes.weights)
        k = modes.centres.shape[1]
        if k == self.dim:
            d2 = ((fake[:, None, :] - modes.centres[None]) ** 2).sum(-1)  # (N, K)
            # a wide mode (the 1-D gaussian) is near out to its high-quality radius
            radius = np.maximum(0.25 * self.data_scale, 3 * modes.stds)  # (K,)
            near = (d2 < radius[None] ** 2).sum(0)
            return cov, near, modes_held(near)
        held = modes_held(cov.counts)
        real_bimodal = metrics.bimodality(self._real_all[:, :k]) > 5 / 9
        if real_bimodal.any() and not (metrics.bimodality(fake[:, :k])[real_bimodal]
                                       > 5 / 9).all():
            held = min(held, 1)
        return cov, None, held

    def _fill_mode_metrics(self, f: Frame, fake: np.ndarray, step: int) -> None:
        modes = self.target.modes()
        if modes is None:
            return
        cov, _, held = self.mode_measures(fake)
        f.scalars["modes"] = held
        f.scalars["modes_total"] = len(modes.centres)
        f.scalars["high_quality"] = cov.high_quality
        f.scalars["reverse_kl"] = cov.reverse_kl

    def _cond_dim(self) -> int | None:
        """The condition's width D is asked with (zeros), or None for an unconditional run."""
        return self.target.cond_dim if self.cond is not None else None


def _probabilistic(trainer: Trainer) -> bool:
    """Whether D's outputs read as probabilities; False without a D (the VAE)."""
    return trainer.D is not None and trainer.loss is not None and trainer.loss.probabilistic


def _stat_scalars(stats: StepStats | None) -> dict[str, float]:
    if stats is None:
        return {}
    return dict(zip(("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"),
                    stats.as_row()[1:], strict=True))
