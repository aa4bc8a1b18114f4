"""The look of an export: the page's colours and D's colour scale (gancore.vocabulary, which
assets/ reads too), type sizes, pixel density and the axes' styling that every body shares."""

from __future__ import annotations

import math

import numpy as np

from gancore.frames import Frame
from gancore.vocabulary import D_SCALE, MUTED

DPI = 100

FONT = {"title": 15, "sub": 12.5, "label": 11.5, "tick": 10, "caption": 11.5}


def d_cmap():
    """D's diverging colour map: pink (fake) through white to green (real), as on the page."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("ganscope_d", D_SCALE)


def d_limits(f: Frame) -> tuple[float, float]:
    """Colour limits of the D surface: [0, 1] for a probability, symmetric about 0 for a critic
    (the same rule as draw.js)."""
    if f.meta.get("d_probabilistic"):
        return 0.0, 1.0
    lo, hi = f.ranges.get("d_grid", (-1.0, 1.0))
    m = nice_ceil(max(abs(lo), abs(hi)))
    return -m, m


def nice_ceil(x: float) -> float:
    """The next of 1, 2, 2.5, 5 x 10^k at or above x: a critic's colour scale then changes only
    now and then, so the colour bar (drawn once, see animation.Animation) rarely needs a redraw."""
    if not np.isfinite(x) or x <= 1e-6:
        return 1e-6 if np.isfinite(x) else 1.0
    e = 10.0 ** math.floor(math.log10(x))
    return next(k * e for k in (1, 2, 2.5, 5, 10) if k * e >= x * (1 - 1e-9))


def style_axes(ax, grid: bool = False) -> None:
    ax.tick_params(labelsize=FONT["tick"], colors=MUTED, length=3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#c9ccd3")
    if grid:
        ax.grid(True, color="#eceef2", lw=0.8)


def fit_pixels(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crop or pad (white) to exactly (width, height): figure sizes in inches round to a pixel."""
    w, h = size
    out = np.full((h, w, 3), 255, np.uint8)
    hh, ww = min(h, rgb.shape[0]), min(w, rgb.shape[1])
    out[:hh, :ww] = rgb[:hh, :ww]
    return out
