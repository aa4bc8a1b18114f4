"""What one run's frame draws, by kind: the 1-D density picture, the 2-D map over D's surface
and the n-D projection with its marginals; each is built once and `update` changes data only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from gancore.frames import Frame
from gancore.render.style import FONT, d_cmap, d_limits, nice_ceil, style_axes
from gancore.vocabulary import ARROW, FAKE, FAKE_EDGE, GRID, INK, MAP, MUTED, REAL

if TYPE_CHECKING:
    from matplotlib.artist import Artist


def _d_surface(ax, frame):
    """D's grid over the data plane as an image under the samples (2-D and projected n-D)."""
    (ex0, ex1), (ey0, ey1) = frame.meta["d_extent"]
    image = ax.imshow(frame.value("d_grid"), origin="lower", cmap=d_cmap(),
                      extent=(ex0, ex1, ey0, ey1), interpolation="bilinear", aspect="auto",
                      zorder=0)
    image.set_clim(*d_limits(frame))
    return image


def _segments(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 2, 2) line segments from points a to points b, for a LineCollection."""
    return np.stack([a, b], axis=1)


def _latent_lines(mapped: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The deformed latent grid as one (m, 2) polyline with NaN gaps: rows, then columns."""
    g = int(shape[0])
    pts = mapped.reshape(g, g, 2).astype(np.float32)
    gap = np.full((g, 1, 2), np.nan, np.float32)
    rows = np.concatenate([pts, gap], axis=1).reshape(-1, 2)
    cols = np.concatenate([pts.transpose(1, 0, 2), gap], axis=1).reshape(-1, 2)
    return np.concatenate([rows, cols])


class Body:
    """Draws one kind of frame into a rectangle of a subfigure; `update` changes data only.

    Artists that change per frame are registered with `_anim` (matplotlib's animated flag): the
    rest (axes, ticks, legends, colour bars) is drawn once and blitted. `static_key` names the
    state the static layer depends on (a critic's colour range); when it changes, it is redrawn.
    """

    size: tuple[float, float] = (5.6, 6.6)  # inches of a cell at DPI, title and caption included
    animated: list[Artist]  # made by the first `_anim`

    def __init__(self, sub, first: Frame, last: Frame, rect: tuple[float, float, float, float],
                 cell_in: tuple[float, float]):
        raise NotImplementedError

    def _anim(self, artist):
        artist.set_animated(True)
        self.__dict__.setdefault("animated", []).append(artist)
        return artist

    def update(self, f: Frame) -> None:
        raise NotImplementedError

    def static_key(self) -> tuple:
        return ()


class _Body2D(Body):
    """Real and fake samples over D's heatmap (with its colour bar), the deformed latent grid and
    G's gradient arrows: the page's default 2-D map."""

    size = (5.6, 6.6)

    def __init__(self, sub, first, last, rect, cell_in):
        from matplotlib.collections import LineCollection

        l, b, w, h = rect
        cw, ch = cell_in
        side_in = min(w * cw * 0.70, h * ch)  # a square plot, in inches, with room for the bar
        sw, sh = side_in / cw, side_in / ch  # the same square in subfigure fractions
        left = l + 0.10 * w
        self.ax = ax = sub.add_axes((left, b + (h - sh) / 2, sw, sh))
        (x0, x1), (y0, y1) = first.meta["bounds"]
        style_axes(ax)
        self.heat = None
        if "d_grid" in first.arrays:
            self.heat = self._anim(_d_surface(ax, first))
            cax = sub.add_axes((left + sw + 0.025 * w, b + (h - sh) / 2 + sh * 0.2,
                                0.035 * w, sh * 0.6))
            bar = sub.colorbar(self.heat, cax=cax)
            bar.outline.set_visible(False)
            bar.ax.tick_params(labelsize=FONT["tick"], colors=MUTED)
            prob = bool(first.meta.get("d_probabilistic"))
            bar.set_label("D(x): fake 0 … 1 real" if prob else "critic: fake − … + real",
                          fontsize=FONT["label"], color=INK)
        else:
            ax.text(0.5, 0.02, "no discriminator (VAE)", transform=ax.transAxes, ha="center",
                    fontsize=FONT["label"], color=MUTED)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        self.grid = None
        if "latent_mapped" in first.arrays and len(first.meta.get("latent_shape", [])) == 2:
            self.grid = self._anim(ax.plot([], [], color=GRID, lw=0.5, alpha=0.3, zorder=1)[0])
        self.real = self._anim(ax.scatter([], [], s=9, c=REAL, alpha=0.55, lw=0, zorder=2,
                                          label="real"))
        self.fake = self._anim(ax.scatter([], [], s=12, c=FAKE, alpha=0.85, lw=0.5,
                                          edgecolors=FAKE_EDGE, zorder=3,
                                          label="fake"))
        self.arrows = None
        if "grad_arrows" in first.arrays:
            self.arrows = self._anim(LineCollection([], colors=ARROW, linewidths=0.7,
                                                    alpha=0.55, zorder=4))
            ax.add_collection(self.arrows)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False,
                  fontsize=FONT["label"], markerscale=2.2, handletextpad=0.2, borderaxespad=0.2)

    def update(self, f):
        if self.heat is not None and "d_grid" in f.arrays:
            self.heat.set_data(f.value("d_grid"))
            self.heat.set_clim(*d_limits(f))
        if self.grid is not None and "latent_mapped" in f.arrays:
            lines = _latent_lines(f.value("latent_mapped"), f.meta["latent_shape"])
            self.grid.set_data(lines[:, 0], lines[:, 1])
        if "real" in f.arrays:
            self.real.set_offsets(f.value("real"))
        fake = f.value("fake")
        self.fake.set_offsets(fake)
        if self.arrows is not None and "grad_arrows" in f.arrays:
            v = f.value("grad_arrows")
            a = fake[: len(v)]
            self.arrows.set_segments(_segments(a, a + v))
        self._clim = self.heat.get_clim() if self.heat is not None else ()

    def static_key(self):
        return self._clim


class _Body1D(Body):
    """Goodfellow's picture: real density, fake histogram, D(x) on its own axis, and the lines
    from each z quantile to the x that G sends it to."""

    size = (7.4, 6.4)
    _ylim: tuple  # the raw critic's axis range, () until a frame sets it (the static_key)

    def __init__(self, sub, first, last, rect, cell_in):
        from matplotlib.collections import LineCollection

        l, b, w, h = rect
        lo, hi = first.meta["x_range"]
        self.lo, self.hi = lo, hi
        self.top = top = sub.add_axes((l + 0.10 * w, b + 0.40 * h, 0.78 * w, 0.52 * h))
        self.bottom = bot = sub.add_axes((l + 0.10 * w, b + 0.02 * h, 0.78 * w, 0.27 * h))
        for ax in (top, bot):
            ax.set_xlim(lo, hi)
            style_axes(ax)
        dens = first.value("real_density")
        self.xs = np.linspace(lo, hi, len(dens))
        peak = max(float(np.max(dens)) * 1.6, 1e-3)
        top.set_ylim(0, peak)
        top.set_ylabel("density", fontsize=FONT["label"], color=INK)
        self.real = self._anim(top.plot(self.xs, dens, color=REAL, lw=2.5,
                                        label="real density")[0])
        self.fill = self._anim(top.fill_between(self.xs, dens, color=REAL, alpha=0.18, lw=0))
        nb = len(first.arrays["fake_hist"])
        self.edges = np.linspace(lo, hi, nb + 1)
        self.hist = self._anim(top.stairs(first.value("fake_hist"), self.edges, fill=True,
                                          color=FAKE, alpha=0.5, label="fake histogram"))
        self.curve = None
        self.prob = bool(first.meta.get("d_probabilistic"))
        handles = [self.real, self.hist]
        if "d_curve" in first.arrays:
            self.twin = tw = top.twinx()
            tw.tick_params(labelsize=FONT["tick"], colors=MUTED, length=3)
            for side in ("top", "left"):
                tw.spines[side].set_visible(False)
            tw.spines["right"].set_color("#c9ccd3")
            cx = np.linspace(lo, hi, len(first.arrays["d_curve"]))
            self.curve = self._anim(tw.plot(cx, first.value("d_curve"), color=ARROW, lw=2.5,
                                            ls="--", label="D(x)" if self.prob else
                                            "critic(x)")[0])
            tw.set_ylabel("D(x)" if self.prob else "critic", fontsize=FONT["label"], color=INK)
            if self.prob:
                tw.set_ylim(0, 1.02)
            handles.append(self.curve)
        top.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3,
                   frameon=False, fontsize=FONT["label"], handlelength=1.6, borderaxespad=0.2)
        bot.set_ylim(-0.2, 1.2)
        bot.set_yticks([0, 1], ["z", "x = G(z)"])
        bot.set_title("mapping z → x (crossing lines: G folds the noise)", loc="left",
                      fontsize=FONT["label"], color=MUTED)
        self.lines = self._anim(LineCollection([], colors=MAP, linewidths=0.9, alpha=0.5))
        bot.add_collection(self.lines)
        self.zdots = self._anim(bot.scatter([], [], s=16, c=[], cmap="viridis", lw=0))
        self.xdots = self._anim(bot.scatter([], [], s=16, c=[], cmap="viridis", lw=0))
        self._ylim = ()

    def update(self, f):
        dens = f.value("real_density")
        self.real.set_ydata(dens)
        self.fill.set_verts([np.column_stack([np.r_[self.xs, self.xs[::-1]],
                                              np.r_[dens, np.zeros_like(dens)]])])
        self.hist.set_data(f.value("fake_hist"), self.edges)
        if self.curve is not None and "d_curve" in f.arrays:
            c = f.value("d_curve")
            self.curve.set_ydata(c)
            if not self.prob and np.isfinite(c).any():
                m = nice_ceil(float(np.nanmax(np.abs(c))) * 1.05)
                self._ylim = (-m, m)
                self.twin.set_ylim(*self._ylim)
        mz, mx = f.value("map_z"), f.value("map_x")
        zlo, zhi = float(mz.min()), float(mz.max())
        zx = self.lo + (mz - zlo) / ((zhi - zlo) or 1.0) * (self.hi - self.lo)
        a = np.column_stack([zx, np.zeros_like(zx)])
        b = np.column_stack([mx, np.ones_like(mx)])
        self.lines.set_segments(_segments(a, b))
        for dots, pts in ((self.zdots, a), (self.xdots, b)):
            dots.set_offsets(pts)
            dots.set_array(mz)
            dots.set_clim(zlo, zhi if zhi > zlo else zlo + 1)

    def static_key(self):
        return self._ylim


class _BodyND(Body):
    """n-D data: D and the samples on the projection plane, the marginals of the dimensions that
    end worst (by KS in the recording's last frame, fixed for the whole animation so panels do
    not jump), per-dimension KS bars and the norm histograms."""

    size = (8.2, 7.0)
    N_MARGINALS = 4

    def __init__(self, sub, first, last, rect, cell_in):
        l, b, w, h = rect
        dim = first.arrays["marg_real"].shape[0]
        ks_end = last.value("ks_stat") if "ks_stat" in last.arrays else np.zeros(dim)
        self.dims = sorted(np.argsort(-ks_end, kind="stable")[: self.N_MARGINALS].tolist()) \
            if dim > self.N_MARGINALS else list(range(dim))
        # projection, left and tall
        self.proj = ax = sub.add_axes((l + 0.08 * w, b + 0.36 * h, 0.46 * w, 0.56 * h))
        style_axes(ax)
        (px0, px1), (py0, py1) = first.meta["plane_bounds"]
        ax.set_xlim(px0, px1)
        ax.set_ylim(py0, py1)
        p = first.meta.get("projection", "pca")
        ax.set_title("PCA plane" if p == "pca" else "dims " + str(p).replace(",", " × "),
                     fontsize=FONT["label"], color=INK, loc="left")
        self.heat = None
        if "d_grid" in first.arrays:
            self.heat = self._anim(_d_surface(ax, first))
            cax = sub.add_axes((l + 0.55 * w, b + 0.45 * h, 0.018 * w, 0.38 * h))
            bar = sub.colorbar(self.heat, cax=cax)
            bar.outline.set_visible(False)
            bar.ax.tick_params(labelsize=FONT["tick"] - 1, colors=MUTED)
            bar.set_label("D(x)" if first.meta.get("d_probabilistic") else "critic",
                          fontsize=FONT["tick"], color=INK, labelpad=1)
        self.real = self._anim(ax.scatter([], [], s=7, c=REAL, alpha=0.5, lw=0, zorder=2,
                                          label="real"))
        self.fake = self._anim(ax.scatter([], [], s=10, c=FAKE, alpha=0.8, lw=0.5,
                                          edgecolors=FAKE_EDGE, zorder=3,
                                          label="fake"))
        ax.legend(loc="upper right", frameon=True, framealpha=0.8, fontsize=FONT["tick"],
                  markerscale=2.2, handletextpad=0.2)
        # KS bars and norm histogram, right
        self.ks = sub.add_axes((l + 0.71 * w, b + 0.68 * h, 0.27 * w, 0.24 * h))
        style_axes(self.ks)
        self.ks.set_title("KS per dimension", fontsize=FONT["label"], color=INK, loc="left")
        self.ks_bars = [self._anim(b) for b in
                        self.ks.bar(np.arange(dim), np.zeros(dim), width=0.8, color="#9aa0a6")]
        self.ks.set_xlim(-0.6, dim - 0.4)
        self.ks.set_ylim(0, 1)
        self.norm = sub.add_axes((l + 0.71 * w, b + 0.36 * h, 0.27 * w, 0.22 * h))
        style_axes(self.norm)
        self.norm.set_title("norm ‖x‖", fontsize=FONT["label"], color=INK, loc="left")
        self.norm.set_yticks([])
        nr = first.value("norm_real")
        r0, r1 = first.meta["norm_range"]
        self.nx = np.linspace(r0, r1, len(nr))
        self.norm.set_xlim(r0, r1)
        self.norm_real = self._anim(self.norm.plot(self.nx, nr, color=REAL, lw=2)[0])
        self.norm_fake = self._anim(self.norm.plot(self.nx, first.value("norm_fake"), color=FAKE,
                                                   lw=2)[0])
        # marginals, a row along the bottom
        self.margs = []
        n = len(self.dims)
        lh = first.value("marg_lo_hi")
        for k, j in enumerate(self.dims):
            mx = sub.add_axes((l + 0.08 * w + k * 0.91 * w / n, b + 0.04 * h,
                               0.91 * w / n - 0.03 * w, 0.17 * h))
            style_axes(mx)
            mx.set_yticks([])
            mx.locator_params(axis="x", nbins=3)
            xs = np.linspace(lh[j, 0], lh[j, 1], first.arrays["marg_real"].shape[1])
            mx.set_xlim(lh[j, 0], lh[j, 1])
            real = self._anim(mx.plot(xs, first.value("marg_real")[j], color=REAL, lw=2)[0])
            fake = self._anim(mx.plot(xs, first.value("marg_fake")[j], color=FAKE, lw=2)[0])
            label = self._anim(mx.set_title(f"dim {j}", fontsize=FONT["tick"], color=INK,
                                            loc="left"))
            self.margs.append((j, mx, real, fake, label))

    def update(self, f):
        if self.heat is not None and "d_grid" in f.arrays:
            self.heat.set_data(f.value("d_grid"))
            self.heat.set_clim(*d_limits(f))
        self.real.set_offsets(f.value("proj_real"))
        self.fake.set_offsets(f.value("proj_fake"))
        ks, p = f.value("ks_stat"), f.value("ks_p")
        for bar, k, pv in zip(self.ks_bars, ks, p, strict=True):
            bar.set_height(float(k))
            bar.set_color(FAKE if pv < 0.05 else "#9aa0a6")
        nr, nf = f.value("norm_real"), f.value("norm_fake")
        self.norm_real.set_ydata(nr)
        self.norm_fake.set_ydata(nf)
        self.norm.set_ylim(0, max(float(np.nanmax(nr)), float(np.nanmax(nf)), 1e-6) * 1.1)
        mr, mf = f.value("marg_real"), f.value("marg_fake")
        for j, ax, real, fake, label in self.margs:
            real.set_ydata(mr[j])
            fake.set_ydata(mf[j])
            ax.set_ylim(0, max(float(mr[j].max()), float(mf[j].max()), 1e-6) * 1.15)
            label.set_text(f"dim {j} · KS {ks[j]:.2f}")
        self._clim = self.heat.get_clim() if self.heat is not None else ()

    def static_key(self):
        return self._clim


BODIES: dict[str, type[Body]] = {"1d": _Body1D, "2d": _Body2D, "nd": _BodyND}
