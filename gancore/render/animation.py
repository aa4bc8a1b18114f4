"""One export's figure over time: which training steps to draw, the runs side by side (each a
column with its title, body and event captions) and the RGB pictures drawn step by step."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gancore.frames import Frame
from gancore.render import ExportError
from gancore.render.bodies import BODIES
from gancore.render.style import DPI, FONT, fit_pixels
from gancore.store.reader import RunReader
from gancore.store.recording import RecordingError
from gancore.vocabulary import ALERT, INK, MUTED

MAX_RUNS = 4
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


def frame_at(reader: RunReader, step: int) -> Frame:
    """The run as it was at `step`; a run that starts later (a fork) shows its first frame."""
    try:
        return reader.frame_at_step(step)
    except KeyError:
        return reader.frame(0)


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
class Source:
    reader: RunReader
    label: str
    kind: str


def open_sources(paths: Sequence[Path | str], labels: Sequence[str] | None) -> list[Source]:
    if not paths:
        raise ExportError("no recording given")
    if len(paths) > MAX_RUNS:
        raise ExportError(f"at most {MAX_RUNS} recordings side by side, got {len(paths)}")
    if labels is not None and len(labels) != len(paths):
        raise ExportError(f"{len(labels)} labels for {len(paths)} recordings")
    out: list[Source] = []
    try:
        for k, p in enumerate(paths):
            try:
                reader = RunReader(p)
            except FileNotFoundError:
                raise ExportError(f"{p}: no such recording") from None
            except RecordingError as e:
                raise ExportError(str(e)) from None
            out.append(Source(reader, "", ""))
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
    """The figure of one export: build once, then `render(steps)` yields RGB frames (H, W, 3).

    Drawn on matplotlib's Agg canvas (no display, no pyplot state). Only the artists' data change
    per frame: a redraw then costs tens of milliseconds, not the few hundred that building a
    figure does, and nothing jumps between frames."""

    def __init__(self, sources: list[Source], size: tuple[int, int] | float | None = None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.sources = sources
        widths = [BODIES[s.kind].size[0] for s in sources]
        height = max(BODIES[s.kind].size[1] for s in sources)
        width = sum(widths)
        dpi: float = DPI
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
        made = self.fig.subfigures(1, len(sources), width_ratios=widths, wspace=0)
        subs = list(made) if isinstance(made, np.ndarray) else [made]  # one source: no array
        self.cells = []
        self._background = None
        self._key: tuple | None = None  # the cells' static_key when the background was drawn
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
            cell.update(frame_at(src.reader, step), i)
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
        return fit_pixels(rgb, self.pixels)

    def render(self, steps: Sequence[int]) -> Iterator[np.ndarray]:
        for i, step in enumerate(steps):
            yield self.draw(step, i)
