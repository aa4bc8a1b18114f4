"""The names a run can choose from, with their docs: target distributions and GAN losses.

Torch-free, so the config, the form and the web process read the options without importing the
engine; gancore.data.targets and gancore.train.losses attach the code to these names (a test
holds the keys equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TargetChoice:
    """A target's fixed dimension (None = target.dim), a one-line description, its family (how
    the form groups it) and the parameter values the form switches to with it."""

    fixed_dim: int | None
    doc: str
    family: str
    defaults: dict[str, Any] = field(default_factory=dict)


TARGETS: dict[str, TargetChoice] = {
    # 1-D
    "gaussian_1d": TargetChoice(1, "1-D gaussian N(mean, std^2)", "1-D", {"mean": 2.0, "std": 0.5}),
    "mixture_1d": TargetChoice(
        1, "1-D mixture of gaussians (positions, widths, weights)", "1-D",
        {"modes": 2, "spacing": 4.0, "std": 0.5}),
    "uniform_1d": TargetChoice(1, "1-D uniform on [-limit, limit]", "1-D", {"limit": 1.0}),
    # 2-D
    "ring": TargetChoice(
        2, "ring of gaussian modes (radius, std)", "2-D",
        {"modes": 8, "radius": 2.0, "std": 0.02}),
    "grid": TargetChoice(
        2, "5x5 grid of gaussian modes (spacing, std)", "2-D",
        {"spacing": 2.0, "std": 0.05}),
    "circle": TargetChoice(2, "uniform on a circle", "2-D", {"radius": 1.0}),
    "two_points": TargetChoice(2, "two points (+-1, 0)", "2-D", {"std": 0.01}),
    "four_points": TargetChoice(2, "four points (+-1, 0), (0, +-1)", "2-D", {"std": 0.01}),
    "five_clusters": TargetChoice(2, "five gaussian clusters", "2-D", {"std": 0.2}),
    "ganlab_line": TargetChoice(2, "GAN Lab's line", "2-D", {"std": 0.02}),
    "ganlab_two_gaussians": TargetChoice(2, "GAN Lab's two gaussians", "2-D", {"std": 0.15}),
    "ganlab_ring": TargetChoice(
        2, "GAN Lab's ring (a noisy continuous ring)", "2-D",
        {"radius": 0.6, "std": 0.04}),
    "ganlab_blobs": TargetChoice(2, "GAN Lab's three disjoint blobs", "2-D", {"std": 0.08}),
    "two_moons": TargetChoice(2, "two interleaved moons", "2-D", {"std": 0.05}),
    "spiral": TargetChoice(2, "a spiral arm", "2-D", {"std": 0.03}),
    "swiss_roll": TargetChoice(2, "2-D swiss roll", "2-D", {"std": 0.03}),
    "sequential": TargetChoice(
        2, "ring modes shown one at a time, switching every N steps (catastrophic forgetting)",
        "2-D",
        {"modes": 4, "radius": 2.0, "std": 0.05, "switch_every": 500}),
    "points": TargetChoice(2, "a user point set (draw it on the page)", "2-D", {"std": 0.02}),
    # n-D
    "gaussian_nd": TargetChoice(
        None, "n-D gaussian with block covariance", "n-D",
        {"dim": 10, "std": 1.0, "mean": 0.0}),
    "truncated_nd": TargetChoice(
        None, "n-D truncated gaussian (within +-limit)", "n-D",
        {"dim": 10, "std": 1.0, "limit": 1.5}),
    "cauchy_nd": TargetChoice(None, "n-D Cauchy (heavy tails)", "n-D", {"dim": 10, "std": 1.0}),
    "uniform_nd": TargetChoice(None, "n-D uniform box", "n-D", {"dim": 10, "limit": 1.0}),
    "bimodal_6d": TargetChoice(
        6, "correlated 6-D set, coordinates 0-1 bimodal, with a 4-D condition", "n-D"),
    # data
    "file": TargetChoice(None, "rows of a CSV, .npy or HDF5 file", "data"),
}

# The GAN objectives (gancore.train.losses implements each; RunConfig's loss.name lists them).
LOSSES: dict[str, str] = {
    "minimax": "original minimax log loss (saturating G)",
    "non_saturating": "log loss, non-saturating G",
    "least_squares": "least squares (LSGAN)",
    "hinge": "hinge loss",
    "wgan": "WGAN critic with weight clipping",
    "wgan_gp": "WGAN critic with gradient penalty",
}
