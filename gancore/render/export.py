"""Recordings to pictures: an animated GIF, an MP4 or one PNG of a run, or of 2-4 runs side by side.

Frames come back through `RunReader` and are drawn with matplotlib's Agg canvas (no display, no
pyplot state), in the colours of assets/draw.js so an export looks like the page. The figure is
built once per export and only its artists' data change per frame: a redraw then costs tens of
milliseconds, not the few hundred that building a figure does, and nothing jumps between frames.
GIFs are written by Pillow with one palette for the whole animation (no colour flicker, and
unchanged regions cost almost nothing); MP4s by the ffmpeg binary that the imageio-ffmpeg wheel
bundles, so neither needs a network or a system package.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gancore.frames import Frame
from gancore.store.recording import RecordingError, RunReader

MAX_RUNS = 4
FORMATS = (".gif", ".mp4")
DPI = 100

REAL, FAKE, GRID, ARROW, MAP = "#0b8a5f", "#d1306b", "#5b5f97", "#1f2430", "#7c5cd6"
INK, MUTED, ALERT = "#1f2430", "#5f6b7a", "#c0392b"
D_SCALE = [(0.0, "#f2c2d5"), (0.25, "#f9e2eb"), (0.5, "#fcfcfc"), (0.75, "#d9efe3"),
           (1.0, "#a3d9bd")]
FONT = {"title": 15, "sub": 12.5, "label": 11.5, "tick": 10, "caption": 11.5}
GIF_COLOURS = 96  # a 7-bit palette: smaller LZW codes; the pale D surface still reads
FRESH_FRAMES = 4  # an event caption stays highlighted this many frames after it fires
SKIP_EVENTS = ("recording",)  # storage notes, not something a viewer needs to see

# Title metrics in order of interest: (scalar key, label, format); the first three present show.
TITLE_METRICS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("high_quality", "high quality", lambda v: f"{100 * v:.0f}%"),
    ("ks_mean", "mean KS", lambda v: f"{v:.3f}"),
    ("corr_dist", "corr. gap", lambda v: f"{v:.3f}"),
    ("js", "JS", lambda v: f"{v:.3f}"),
    ("wasserstein", "W1", lambda v: f"{v:.3f}"),
    ("d_real", "D(real)", lambda v: f"{v:.2f}"),
)


class ExportError(ValueError):
    """Bad export input (path, suffix, empty recording); the message names the problem."""


# ---- which frames --------------------------------------------------------------------------------


def plan_steps(step_lists: Sequence[np.ndarray], every: int = 1,
               max_frames: int | None = None) -> list[int]:
    """The training steps to draw: every recorded step of any run (so runs recorded at different
    cadences still line up by step), every k-th of them, at most `max_frames` spread evenly. The
    last step is always kept: how a run ends is what a viewer came to see."""
    if every < 1:
        raise ExportError("every must be 1 or more")
    if max_frames is not None and max_frames < 1:
        raise ExportError("max_frames must be 1 or more")
    steps = sorted(set().union(*(set(s.tolist()) for s in step_lists)))
    if not steps:
        return []
    picked = steps[::every]
    if picked[-1] != steps[-1]:
        picked.append(steps[-1])
    if max_frames is not None and len(picked) > max_frames:
        at = np.unique(np.linspace(0, len(picked) - 1, max_frames).round().astype(int))
        picked = [picked[i] for i in at]
    return picked


def _frame_at(reader: RunReader, step: int) -> Frame:
    """The run as it was at `step`; a run that starts later (a fork) shows its first frame."""
    try:
        return reader.frame_at_step(step)
    except KeyError:
        return reader.frame(0)


# ---- drawing helpers -----------------------------------------------------------------------------


def _d_cmap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("ganscope_d", D_SCALE)


def _d_surface(ax, frame):
    """D's grid over the data plane as an image under the samples (2-D and projected n-D)."""
    (ex0, ex1), (ey0, ey1) = frame.meta["d_extent"]
    image = ax.imshow(frame.value("d_grid"), origin="lower", cmap=_d_cmap(),
                      extent=(ex0, ex1, ey0, ey1), interpolation="bilinear", aspect="auto",
                      zorder=0)
    image.set_clim(*_d_limits(frame))
    return image


def _d_limits(f: Frame) -> tuple[float, float]:
    """Colour limits of the D surface: [0, 1] for a probability, symmetric about 0 for a critic
    (the same rule as draw.js)."""
    if f.meta.get("d_probabilistic"):
        return 0.0, 1.0
    lo, hi = f.ranges.get("d_grid", (-1.0, 1.0))
    m = _nice_ceil(max(abs(lo), abs(hi)))
    return -m, m


def _nice_ceil(x: float) -> float:
    """The next of 1, 2, 2.5, 5 x 10^k at or above x: a critic's colour scale then changes only
    now and then, so the colour bar (drawn once, see Animation) rarely needs a redraw."""
    if not np.isfinite(x) or x <= 1e-6:
        return 1e-6 if np.isfinite(x) else 1.0
    e = 10.0 ** math.floor(math.log10(x))
    return next(k * e for k in (1, 2, 2.5, 5, 10) if k * e >= x * (1 - 1e-9))


def _style_axes(ax, grid: bool = False) -> None:
    ax.tick_params(labelsize=FONT["tick"], colors=MUTED, length=3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#c9ccd3")
    if grid:
        ax.grid(True, color="#eceef2", lw=0.8)


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


# ---- one run's picture, by frame kind ------------------------------------------------------------


class _Body:
    """Draws one kind of frame into a rectangle of a subfigure; `update` changes data only.

    Artists that change per frame are registered with `_anim` (matplotlib's animated flag): the
    rest (axes, ticks, legends, colour bars) is drawn once and blitted. `static_key` names the
    state the static layer depends on (a critic's colour range); when it changes, it is redrawn.
    """

    size: tuple[float, float] = (5.6, 6.6)  # inches of a cell at DPI, title and caption included

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


class _Body2D(_Body):
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
        _style_axes(ax)
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
        self.fake = self._anim(ax.scatter([], [], s=9, c=FAKE, alpha=0.85, lw=0, zorder=3,
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
            self.heat.set_clim(*_d_limits(f))
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


class _Body1D(_Body):
    """Goodfellow's picture: real density, fake histogram, D(x) on its own axis, and the lines
    from each z quantile to the x that G sends it to."""

    size = (7.4, 6.4)

    def __init__(self, sub, first, last, rect, cell_in):
        from matplotlib.collections import LineCollection

        l, b, w, h = rect
        lo, hi = first.meta["x_range"]
        self.lo, self.hi = lo, hi
        self.top = top = sub.add_axes((l + 0.10 * w, b + 0.40 * h, 0.78 * w, 0.52 * h))
        self.bottom = bot = sub.add_axes((l + 0.10 * w, b + 0.02 * h, 0.78 * w, 0.27 * h))
        for ax in (top, bot):
            ax.set_xlim(lo, hi)
            _style_axes(ax)
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
        self._ylim: tuple = ()

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
                m = _nice_ceil(float(np.nanmax(np.abs(c))) * 1.05)
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


class _BodyND(_Body):
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
        _style_axes(ax)
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
        self.fake = self._anim(ax.scatter([], [], s=7, c=FAKE, alpha=0.8, lw=0, zorder=3,
                                          label="fake"))
        ax.legend(loc="upper right", frameon=True, framealpha=0.8, fontsize=FONT["tick"],
                  markerscale=2.2, handletextpad=0.2)
        # KS bars and norm histogram, right
        self.ks = sub.add_axes((l + 0.71 * w, b + 0.68 * h, 0.27 * w, 0.24 * h))
        _style_axes(self.ks)
        self.ks.set_title("KS per dimension", fontsize=FONT["label"], color=INK, loc="left")
        self.ks_bars = [self._anim(b) for b in
                        self.ks.bar(np.arange(dim), np.zeros(dim), width=0.8, color="#9aa0a6")]
        self.ks.set_xlim(-0.6, dim - 0.4)
        self.ks.set_ylim(0, 1)
        self.norm = sub.add_axes((l + 0.71 * w, b + 0.36 * h, 0.27 * w, 0.22 * h))
        _style_axes(self.norm)
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
            _style_axes(mx)
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
            self.heat.set_clim(*_d_limits(f))
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


BODIES: dict[str, type[_Body]] = {"1d": _Body1D, "2d": _Body2D, "nd": _BodyND}


# ---- a cell: title, body, event caption ----------------------------------------------------------


def _metric_line(f: Frame) -> str:
    """'step 1,240 · modes 3/8 · high quality 62%': the step and the key metrics of a frame."""
    s = f.scalars
    parts = [f"step {f.step:,}"]
    total = s.get("modes_total")
    if total and np.isfinite(total) and total > 1 and np.isfinite(s.get("modes", math.nan)):
        parts.append(f"modes {int(s['modes'])}/{int(total)}")
    for key, label, fmt in TITLE_METRICS:
        if len(parts) >= 4:
            break
        v = s.get(key)
        if v is not None and isinstance(v, int | float) and np.isfinite(v):
            if key == "d_real" and not f.meta.get("d_probabilistic"):
                continue
            parts.append(f"{label} {fmt(v)}")
    state = f.meta.get("state")
    if state in ("diverged", "failed"):
        parts.append(state.upper())
    return " · ".join(parts)


class _Cell:
    """One run's column: its label and metrics on top, its body, its latest events below."""

    def __init__(self, sub, label: str, kind: str, first: Frame, last: Frame,
                 events: list[dict], cell_in: tuple[float, float]):
        self.sub = sub
        sub.set_facecolor("white")
        self.events = [e for e in events if e["kind"] not in SKIP_EVENTS]
        self.title = sub.text(0.04, 0.975, label, fontsize=FONT["title"], weight="bold",
                              color=INK, va="top", ha="left")
        self.metrics = sub.text(0.04, 0.935, "", fontsize=FONT["sub"], color=INK, va="top",
                                ha="left", animated=True)
        # the newest event (up to two lines) above the one before it (one line, muted)
        self.newest = sub.text(0.04, 0.058, "", fontsize=FONT["caption"], color=ALERT,
                               va="bottom", ha="left", linespacing=1.2, animated=True)
        self.older = sub.text(0.04, 0.012, "", fontsize=FONT["caption"] - 1, color=MUTED,
                              va="bottom", ha="left", animated=True)
        # characters per caption line: bold DejaVu Sans averages about 0.66 em per character
        self.wrap = max(24, int(cell_in[0] * 0.92 * 72 / (FONT["caption"] * 0.66)))
        self.body = BODIES[kind](sub, first, last, (0.0, 0.17, 1.0, 0.71), cell_in)
        self.kind = kind
        # drawn per frame on top of the blitted background, lowest first
        self.animated = sorted(self.body.animated, key=lambda a: a.get_zorder()) + \
            [self.metrics, self.newest, self.older]
        self.fresh_until: dict[int, int] = {}  # event index -> last frame index it is highlighted
        self.shown = 0  # events already shown

    def update(self, f: Frame, i: int) -> None:
        self.metrics.set_text(_metric_line(f))
        self.body.update(f)
        fired = [k for k, e in enumerate(self.events) if e["step"] <= f.step]
        for k in fired[self.shown:]:
            self.fresh_until[k] = i + FRESH_FRAMES - 1
        self.shown = max(self.shown, len(fired))
        newest = self._event_text(fired[-1]) if fired else ""
        fresh = bool(fired) and self.fresh_until.get(fired[-1], -1) >= i
        lines = textwrap.wrap(newest, self.wrap)
        if len(lines) > 2:
            lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), self.wrap, placeholder="…")]
        self.newest.set_text(("▲ " if fresh else "") + "\n".join(lines))
        self.newest.set_color(ALERT if fresh else INK)
        self.newest.set_fontweight("bold" if fresh else "normal")
        older = self._event_text(fired[-2]) if len(fired) > 1 else ""
        self.older.set_text(textwrap.shorten(older, int(self.wrap * 1.1), placeholder="…"))

    def _event_text(self, k: int) -> str:
        e = self.events[k]
        return e["message"] or f"{e['kind'].replace('_', ' ')} at step {e['step']:,}"


# ---- the animation -------------------------------------------------------------------------------


@dataclass
class _Source:
    reader: RunReader
    label: str
    kind: str


def _open(paths: Sequence[Path | str], labels: Sequence[str] | None) -> list[_Source]:
    if not paths:
        raise ExportError("no recording given")
    if len(paths) > MAX_RUNS:
        raise ExportError(f"at most {MAX_RUNS} recordings side by side, got {len(paths)}")
    if labels is not None and len(labels) != len(paths):
        raise ExportError(f"{len(labels)} labels for {len(paths)} recordings")
    out: list[_Source] = []
    try:
        for k, p in enumerate(paths):
            try:
                reader = RunReader(p)
            except FileNotFoundError:
                raise ExportError(f"{p}: no such recording") from None
            except RecordingError as e:
                raise ExportError(str(e)) from None
            out.append(_Source(reader, "", ""))
            if len(reader) == 0:
                raise ExportError(f"{Path(p).name}: the recording holds no frame yet")
            out[-1].kind = reader.frame(0).kind
            out[-1].label = labels[k] if labels else reader.run_id
    except BaseException:
        for s in out:
            s.reader.close()
        raise
    return out


class Animation:
    """The figure of one export: build once, then `render(steps)` yields RGB frames (H, W, 3)."""

    def __init__(self, sources: list[_Source], size: tuple[int, int] | float | None = None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.sources = sources
        widths = [BODIES[s.kind].size[0] for s in sources]
        height = max(BODIES[s.kind].size[1] for s in sources)
        width = sum(widths)
        dpi = DPI
        if isinstance(size, int | float):  # the native layout scaled, e.g. 0.8
            if not 0.2 <= size <= 4:
                raise ExportError(f"scale {size} out of range (0.2 to 4)")
            size = (round(width * DPI * size / 2) * 2, round(height * DPI * size / 2) * 2)
        if size is not None:  # same layout, scaled: type grows with the picture
            w_px, h_px = size
            if w_px < 160 or h_px < 120 or w_px > 4096 or h_px > 4096:
                raise ExportError(f"size {w_px}x{h_px} out of range (160x120 to 4096x4096)")
            dpi = w_px / width
            height = h_px / dpi
        self.pixels = (round(width * dpi), round(height * dpi)) if size is None else size
        self.fig = Figure(figsize=(width, height), dpi=dpi, facecolor="white")
        self.canvas = FigureCanvasAgg(self.fig)
        subs = self.fig.subfigures(1, len(sources), width_ratios=widths, wspace=0)
        subs = np.atleast_1d(subs)
        self.cells = []
        self._background, self._key = None, None
        for sub, src, w in zip(subs, sources, widths, strict=True):
            r = src.reader
            cell = _Cell(sub, src.label, src.kind, r.frame(0), r.frame(len(r) - 1), r.events(),
                         (w, height))
            self.cells.append(cell)

    def steps(self, every: int = 1, max_frames: int | None = None) -> list[int]:
        return plan_steps([s.reader.steps for s in self.sources], every, max_frames)

    def draw(self, step: int, i: int = 0) -> np.ndarray:
        """The picture at `step` (frame number i of the animation, for event highlighting).
        Axes, ticks, legends and colour bars are drawn once and blitted back; only the animated
        artists are drawn per frame, which halves the cost of a frame."""
        for cell, src in zip(self.cells, self.sources, strict=True):
            cell.update(_frame_at(src.reader, step), i)
        key = tuple(cell.body.static_key() for cell in self.cells)
        if self._background is None or key != self._key:
            self.canvas.draw()  # everything not animated
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._key = key
        else:
            self.canvas.restore_region(self._background)
        for cell in self.cells:
            for artist in cell.animated:
                self.fig.draw_artist(artist)
        rgb = np.asarray(self.canvas.buffer_rgba())[..., :3]
        return _fit_pixels(rgb, self.pixels)

    def render(self, steps: Sequence[int]) -> Iterator[np.ndarray]:
        for i, step in enumerate(steps):
            yield self.draw(step, i)


def _fit_pixels(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crop or pad (white) to exactly (width, height): figure sizes in inches round to a pixel."""
    w, h = size
    out = np.full((h, w, 3), 255, np.uint8)
    hh, ww = min(h, rgb.shape[0]), min(w, rgb.shape[1])
    out[:hh, :ww] = rgb[:hh, :ww]
    return out


# ---- writers -------------------------------------------------------------------------------------


def _palette_from(first: np.ndarray):
    """One palette for the whole GIF: the style's own colours exactly (white, ink, real, fake,
    the alert red of an event caption, ...), so text and samples keep their colour even when
    they first appear later, plus median-cut colours of the first frame and of the D and
    viridis ramps for the rest (antialiasing, the D surface)."""
    from matplotlib import colormaps
    from PIL import Image

    named = ["#ffffff", INK, MUTED, ALERT, REAL, FAKE, GRID, ARROW, MAP, "#9aa0a6", "#c9ccd3"]
    exact = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in named], np.uint8)
    ramps = np.concatenate([_d_cmap()(np.linspace(0, 1, 32))[:, :3],
                            colormaps["viridis"](np.linspace(0, 1, 16))[:, :3]])
    ramps = (ramps * 255).astype(np.uint8)
    strip = np.repeat(np.repeat(ramps[None], 8, axis=0), 8, axis=1)  # (8, 8 * n, 3)
    w = first.shape[1]
    pad = np.full((8, w, 3), 255, np.uint8)
    pad[:, : min(w, strip.shape[1])] = strip[:, :w]
    sheet = Image.fromarray(np.concatenate([first, pad]))
    rest = GIF_COLOURS - len(exact)
    fitted = sheet.quantize(colors=rest, method=Image.Quantize.MEDIANCUT,
                            dither=Image.Dither.NONE).getpalette()[: 3 * rest]
    pal = Image.new("P", (1, 1))
    pal.putpalette(exact.ravel().tolist() + fitted)
    return pal


def _write_gif(frames: Iterator[np.ndarray], out: Path, fps: float) -> int:
    from PIL import Image

    images, palette = [], None
    for rgb in frames:
        if palette is None:
            palette = _palette_from(rgb)
        images.append(Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE))
    if not images:
        return 0
    duration = max(20, round(1000 / fps))
    durations = [duration] * len(images)
    durations[-1] = max(duration, 1500)  # hold the end before the loop starts again
    images[0].save(out, save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return len(images)


def _write_mp4(frames: Iterator[np.ndarray], out: Path, fps: float) -> int:
    import imageio_ffmpeg

    writer = None
    n = 0
    try:
        for rgb in frames:
            h, w = rgb.shape[:2]
            if writer is None:
                # yuv420p (what every player reads) needs even sides: pad with white.
                size = (w + w % 2, h + h % 2)
                writer = imageio_ffmpeg.write_frames(
                    str(out), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                    quality=7, macro_block_size=1, ffmpeg_log_level="error")
                writer.send(None)
            if rgb.shape[1] != size[0] or rgb.shape[0] != size[1]:
                rgb = _fit_pixels(rgb, size)
            writer.send(np.ascontiguousarray(rgb))
            n += 1
    finally:
        if writer is not None:
            writer.close()
    return n


WRITERS: dict[str, Callable[[Iterator[np.ndarray], Path, float], int]] = {
    ".gif": _write_gif, ".mp4": _write_mp4}


# ---- public API ----------------------------------------------------------------------------------


def export_animation(paths: list[Path | str] | Path | str, out: Path | str, every: int = 1,
                     fps: int = 10, max_frames: int | None = None,
                     labels: list[str] | None = None,
                     size: tuple[int, int] | float | None = None) -> int:
    """Write an animated GIF or an MP4 (by `out`'s suffix) of one recording, or of 2-4 side by
    side with their frames aligned by training step. `size` is (width, height) in pixels or a
    scale of the native layout (560x660 per 2-D panel at 1.0). Returns the number of frames written.
    Raises ExportError (a ValueError) naming a bad path, suffix or empty recording."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in WRITERS:
        raise ExportError(f"{out.name}: unknown export format {suffix or '(none)'!r}; "
                          f"use {' or '.join(FORMATS)}")
    if not 0 < fps <= 60:
        raise ExportError(f"fps must be between 1 and 60, got {fps}")
    if isinstance(paths, str | Path):
        paths = [paths]
    sources = _open(list(paths), labels)
    try:
        anim = Animation(sources, size)
        steps = anim.steps(every, max_frames)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.part{suffix}")  # a reader never sees half a file
        try:
            n = WRITERS[suffix](anim.render(steps), tmp, float(fps))
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return n
    finally:
        for s in sources:
            s.reader.close()


def render_png(path: Path | str, out: Path | str, step: int | None = None,
               size: tuple[int, int] | float | None = None) -> int:
    """One frame of a recording as a PNG: the last one, or the run as it was at `step`.
    Returns the step drawn."""
    from PIL import Image

    sources = _open([path], None)
    try:
        anim = Animation(sources, size)
        reader = sources[0].reader
        at = int(reader.steps[-1]) if step is None else int(_frame_at(reader, step).step)
        # events up to the step are shown, the ones of the frame's own step highlighted
        Image.fromarray(anim.draw(at)).save(out)
        return at
    finally:
        for s in sources:
            s.reader.close()
