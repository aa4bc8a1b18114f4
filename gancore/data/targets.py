"""Target distributions and latent priors, in a registry that also feeds the UI options.

Every target samples with the run's own `torch.Generator`, knows its dimension and view bounds,
and gives mode centres/widths/weights where it has modes and a density where it is known.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from gancore.choices import TARGETS as CHOICES

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from gancore.config import LatentConfig, RunConfig, TargetConfig


@dataclass(frozen=True)
class Modes:
    """Mode centres (K, dim), per-mode isotropic stds (K,) and weights (K,) summing to 1."""

    centres: np.ndarray
    stds: np.ndarray
    weights: np.ndarray


class Target:
    """A distribution to learn. Subclasses fill `dim` and implement `_sample`."""

    dim: int = 2
    cond_dim: int = 0
    time_varying: bool = False  # the real batch depends on the training step

    def sample(self, n: int, gen: torch.Generator, step: int = 0) -> torch.Tensor:
        """(n, dim) float32 samples, drawn with the run's generator."""
        return self._sample(n, gen, step)

    def sample_conditional(self, n: int, gen: torch.Generator,
                           step: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (n, dim), c (n, cond_dim)) for conditional targets."""
        raise NotImplementedError(f"{type(self).__name__} has no condition vector")

    def _sample(self, n: int, gen: torch.Generator, step: int) -> torch.Tensor:
        raise NotImplementedError

    def modes(self) -> Modes | None:
        return None

    def density(self, points: np.ndarray) -> np.ndarray | None:
        """The true density at (M, dim) points, or None where it is not known in closed form."""
        return None

    def bounds(self) -> np.ndarray:
        """(dim, 2) view range per coordinate: where pictures of this target are drawn."""
        x = self.sample(4000, torch.Generator().manual_seed(12345)).numpy()
        lo, hi = np.quantile(x, 0.005, axis=0), np.quantile(x, 0.995, axis=0)
        return _pad(lo, hi)


def _pad(lo: np.ndarray, hi: np.ndarray, frac: float = 0.25) -> np.ndarray:
    """Symmetric margins around [lo, hi]; 2-D views get a square box so circles stay round."""
    span = np.maximum(hi - lo, 1e-3)
    lo, hi = lo - frac * span, hi + frac * span
    if lo.shape[0] == 2:
        centre, half = (lo + hi) / 2, float(np.max(hi - lo)) / 2
        lo, hi = centre - half, centre + half
    return np.stack([lo, hi], axis=1).astype(np.float64)


class Mixture(Target):
    """Isotropic gaussian mixture; the shape behind rings, grids, point sets and 1-D mixtures."""

    def __init__(self, centres: ArrayLike, stds: ArrayLike, weights: ArrayLike | None = None):
        centres = np.atleast_2d(np.asarray(centres, dtype=np.float64))
        k = centres.shape[0]
        weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
        if weights.shape != (k,) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError("target.weights: one non-negative weight per mode, not all zero")
        stds = np.broadcast_to(np.asarray(stds, np.float64), (k,)).copy()
        if np.any(stds <= 0):
            raise ValueError("target.widths: every mode width must be positive")
        self.dim = centres.shape[1]
        self._modes = Modes(centres, stds, weights / weights.sum())
        self._centres = torch.tensor(centres, dtype=torch.float32)  # (K, dim)
        self._stds = torch.tensor(stds, dtype=torch.float32)[:, None]  # (K, 1)
        self._uniform = bool(np.allclose(weights, weights[0]))
        self._probs = torch.tensor(self._modes.weights, dtype=torch.float32)

    def _indices(self, n: int, gen: torch.Generator, step: int) -> torch.Tensor:
        k = self._centres.shape[0]
        if self._uniform:
            return torch.randint(k, (n,), generator=gen)
        return torch.multinomial(self._probs, n, replacement=True, generator=gen)

    def _sample(self, n: int, gen: torch.Generator, step: int) -> torch.Tensor:
        idx = self._indices(n, gen, step)  # (n,)
        noise = torch.randn(n, self.dim, generator=gen)  # (n, dim)
        return self._centres[idx] + noise * self._stds[idx]

    def modes(self) -> Modes:
        return self._modes

    def density(self, points: np.ndarray) -> np.ndarray:
        m = self._modes
        d2 = ((points[:, None, :] - m.centres[None]) ** 2).sum(-1)  # (M, K)
        norm = (2 * math.pi * m.stds**2) ** (-self.dim / 2)
        return (m.weights * norm * np.exp(-d2 / (2 * m.stds**2))).sum(-1)

    def bounds(self) -> np.ndarray:
        m = self._modes
        lo = (m.centres - 3 * m.stds[:, None]).min(0)
        hi = (m.centres + 3 * m.stds[:, None]).max(0)
        return _pad(lo, hi)


class SequentialModes(Mixture):
    """Each real batch comes from one mode, moving on every `switch_every` steps (forgetting)."""

    time_varying = True

    def __init__(self, centres: ArrayLike, stds: ArrayLike, switch_every: int):
        super().__init__(centres, stds)
        self.switch_every = switch_every

    def active_mode(self, step: int) -> int:
        return (step // self.switch_every) % self._centres.shape[0]

    def _indices(self, n: int, gen: torch.Generator, step: int) -> torch.Tensor:
        return torch.full((n,), self.active_mode(step), dtype=torch.long)


class Uniform(Target):
    """Uniform on the box [-limit, limit]^dim."""

    def __init__(self, dim: int, limit: float):
        self.dim, self.limit = dim, limit

    def _sample(self, n, gen, step):
        return (torch.rand(n, self.dim, generator=gen) * 2 - 1) * self.limit

    def density(self, points):
        inside = np.all(np.abs(points) <= self.limit, axis=1)
        return inside / (2 * self.limit) ** self.dim

    def bounds(self):
        return _pad(np.full(self.dim, -self.limit), np.full(self.dim, self.limit))


class Gaussian(Target):
    """N(mean, Sigma) with a block covariance: variance std^2, correlation `offdiag` in blocks."""

    def __init__(self, dim: int, mean: float, std: float, offdiag: float = 0.0, block: int = 1):
        self.dim = dim
        cov = np.eye(dim)
        for start in range(0, dim, block):
            stop = min(start + block, dim)
            cov[start:stop, start:stop] = offdiag
            np.fill_diagonal(cov[start:stop, start:stop], 1.0)
        self.cov = cov * std**2
        self.mean = np.full(dim, mean)
        try:
            chol = np.linalg.cholesky(self.cov)
        except np.linalg.LinAlgError:
            raise ValueError("target.offdiag: the block covariance is not positive definite "
                             "for this block size; use a smaller |offdiag|") from None
        self._chol = torch.tensor(chol, dtype=torch.float32)
        self._mean = torch.tensor(self.mean, dtype=torch.float32)

    def _sample(self, n, gen, step):
        return self._mean + torch.randn(n, self.dim, generator=gen) @ self._chol.T

    def density(self, points):
        from scipy.stats import multivariate_normal

        return multivariate_normal(self.mean, self.cov).pdf(points).reshape(len(points))

    def bounds(self):
        s = np.sqrt(np.diag(self.cov))
        return _pad(self.mean - 3 * s, self.mean + 3 * s, 0.1)


class TruncatedGaussian(Target):
    """Standard-normal coordinates scaled by std, each kept within +-limit (resampled)."""

    def __init__(self, dim: int, std: float, limit: float):
        self.dim, self.std, self.limit = dim, std, limit

    def _sample(self, n, gen, step):
        # Inverse-CDF sampling keeps it one pass and deterministic for the generator.
        a = self.limit / self.std
        lo = 0.5 * (1 + math.erf(-a / math.sqrt(2)))
        u = lo + (1 - 2 * lo) * torch.rand(n, self.dim, generator=gen, dtype=torch.float64)
        x = math.sqrt(2) * torch.erfinv(2 * u - 1) * self.std
        return x.float()

    def bounds(self):
        return _pad(np.full(self.dim, -self.limit), np.full(self.dim, self.limit), 0.1)


class Cauchy(Target):
    """Independent Cauchy coordinates with scale std (heavy tails: views clip to quantiles)."""

    def __init__(self, dim: int, std: float):
        self.dim, self.std = dim, std

    def _sample(self, n, gen, step):
        u = torch.rand(n, self.dim, generator=gen, dtype=torch.float64)
        return (self.std * torch.tan(math.pi * (u - 0.5))).float()

    def bounds(self):
        q = self.std * math.tan(math.pi * 0.45)
        return _pad(np.full(self.dim, -q), np.full(self.dim, q), 0.0)


class Curve(Target):
    """Points along a parametric curve t -> (x, y), t uniform, plus isotropic noise."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], noise: float, lo: float = 0.0,
                 hi: float = 1.0):
        self.dim, self.fn, self.noise, self.lo, self.hi = 2, fn, noise, lo, hi

    def _sample(self, n, gen, step):
        t = torch.rand(n, generator=gen)
        if (self.lo, self.hi) != (0.0, 1.0):  # 0 + 1 * t is t, bit for bit: two ops saved
            t = self.lo + (self.hi - self.lo) * t
        return self.fn(t) + self.noise * torch.randn(n, 2, generator=gen)


def _circle(radius: float) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(t: torch.Tensor) -> torch.Tensor:
        a = 2 * math.pi * t
        return radius * torch.stack([torch.cos(a), torch.sin(a)], 1)

    return fn


def _moons(t: torch.Tensor) -> torch.Tensor:
    # t in [0, 2): the first half draws the upper moon, the second the lower one, shifted.
    upper = t < 1
    a = math.pi * torch.where(upper, t, t - 1)
    x = torch.where(upper, torch.cos(a), 1 - torch.cos(a))
    y = torch.where(upper, torch.sin(a), 0.5 - torch.sin(a))
    return torch.stack([x - 0.5, y - 0.25], 1)


def _spiral(t: torch.Tensor) -> torch.Tensor:
    r = 0.2 + 1.6 * t
    a = 3 * math.pi * t
    return torch.stack([r * torch.cos(a), r * torch.sin(a)], 1)


def _swiss_roll(t: torch.Tensor) -> torch.Tensor:
    a = 1.5 * math.pi * (1 + 2 * t)
    return torch.stack([a * torch.cos(a), a * torch.sin(a)], 1) / 7.0


class Bimodal6D(Target):
    """6-D correlated data, conditional: coordinates 0-1 are bimodal (a hidden sign), 2-5 unimodal
    and driven by a 4-D condition vector. A WGAN-GP tends to learn 2-5 and blur 0-1 into one
    mode."""

    dim, cond_dim = 6, 4

    def __init__(self, separation: float = 1.5, std: float = 0.3):
        self.sep, self.std = separation, std
        mix = np.array([[0.8, 0.3, 0.0, 0.0], [0.2, 0.8, 0.3, 0.0],
                        [0.0, 0.3, 0.8, 0.2], [0.0, 0.0, 0.3, 0.8]])
        self._mix = torch.tensor(mix, dtype=torch.float32)  # (4, 4) condition -> coordinates 2-5

    def sample_conditional(self, n, gen, step=0):
        c = torch.randn(n, 4, generator=gen)  # (n, 4)
        sign = torch.randint(0, 2, (n, 1), generator=gen).float() * 2 - 1  # (n, 1)
        noise = torch.randn(n, 6, generator=gen)
        head = self.sep * sign + self.std * noise[:, :2]  # (n, 2) both follow the same sign
        tail = c @ self._mix.T + 0.3 * sign + 0.3 * noise[:, 2:]  # (n, 4)
        return torch.cat([head, tail], 1), c

    def _sample(self, n, gen, step):
        return self.sample_conditional(n, gen, step)[0]

    def modes(self) -> Modes:
        # The two modes, judged on the bimodal pair (0, 1) only.
        centres = np.array([[-self.sep, -self.sep], [self.sep, self.sep]])
        return Modes(centres, np.full(2, self.std), np.full(2, 0.5))


class FileData(Target):
    """Rows of a user data file, drawn with replacement; with `cond`, each row's condition is
    drawn with it (the same indices), so the file serves a conditional run."""

    def __init__(self, data: np.ndarray, cond: np.ndarray | None = None):
        self.data = torch.tensor(data, dtype=torch.float32)  # (N, dim)
        self.dim = data.shape[1]
        self.cond = None if cond is None else torch.tensor(cond, dtype=torch.float32)  # (N, C)
        self.cond_dim = 0 if cond is None else cond.shape[1]

    def _rows(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randint(self.data.shape[0], (n,), generator=gen)  # (n,)

    def _sample(self, n, gen, step):
        return self.data[self._rows(n, gen)]

    def sample_conditional(self, n, gen, step=0):
        if self.cond is None:
            return super().sample_conditional(n, gen, step)
        idx = self._rows(n, gen)
        return self.data[idx], self.cond[idx]


# ---- the registry ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetSpec:
    """A registry entry: how to build the target, its fixed dimension (None = target.dim), the
    parameter values the form switches to with it, and a one-line description."""

    build: Callable[[TargetConfig], Target]
    fixed_dim: int | None
    doc: str
    family: str
    defaults: dict = field(default_factory=dict)


def _ring_centres(k: int, radius: float) -> np.ndarray:
    a = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(a), np.sin(a)], 1)


def _grid_centres(side: int, spacing: float) -> np.ndarray:
    c = (np.arange(side) - (side - 1) / 2) * spacing
    xx, yy = np.meshgrid(c, c)
    return np.stack([xx.ravel(), yy.ravel()], 1)


def _mixture_1d(t: TargetConfig) -> Mixture:
    k = len(t.positions) if t.positions else t.modes
    pos = np.array(t.positions) if t.positions else (np.arange(k) - (k - 1) / 2) * t.spacing
    widths = np.array(t.widths) if t.widths else np.full(k, t.std)
    weights = np.array(t.weights) if t.weights else None
    if len(widths) != k or (weights is not None and len(weights) != k):
        raise ValueError(f"target.widths/weights: need one value per mode ({k})")
    return Mixture(pos[:, None], widths, weights)


def _mixture_weights(t: TargetConfig, k: int) -> np.ndarray | None:
    if t.weights is None:
        return None
    if len(t.weights) != k:
        raise ValueError(f"target.weights: need one weight per mode ({k}), got {len(t.weights)}")
    return np.array(t.weights)


def _file(t: TargetConfig) -> FileData:
    from gancore.data.files import load_conditional
    from gancore.data.uploads import resolve

    assert t.data_path is not None  # RunConfig requires it for the "file" target
    data, cond = load_conditional(resolve(t.data_path), t.data_dataset, t.data_cond)
    if data.shape[1] != t.dim:
        raise ValueError(f"target.dim: the data file has {data.shape[1]} data columns but the "
                         f"run expects dimension {t.dim}")
    return FileData(data, cond)


_BUILDERS: dict[str, Callable[[TargetConfig], Target]] = {
    "gaussian_1d": lambda t: Mixture([[t.mean]], [t.std]),
    "mixture_1d": _mixture_1d,
    "uniform_1d": lambda t: Uniform(1, t.limit),
    "ring": lambda t: Mixture(_ring_centres(t.modes, t.radius), t.std,
                              _mixture_weights(t, t.modes)),
    "grid": lambda t: Mixture(_grid_centres(5, t.spacing), t.std),
    "circle": lambda t: Curve(_circle(t.radius), 0.0),
    "two_points": lambda t: Mixture([[-1, 0], [1, 0]], t.std),
    "four_points": lambda t: Mixture([[-1, 0], [1, 0], [0, 1], [0, -1]], t.std),
    "five_clusters": lambda t: Mixture([[0.0, 0.0], [1.5, 1.5], [-1.5, 1.5], [1.5, -1.5],
                                        [-1.5, -1.5]], t.std),
    "ganlab_line": lambda t: Curve(lambda s: torch.stack([1.6 * s - 0.8, 1.0 * s - 0.5], 1),
                                   t.std),
    "ganlab_two_gaussians": lambda t: Mixture([[-0.45, -0.35], [0.45, 0.35]], [t.std, t.std * 0.7]),
    "ganlab_ring": lambda t: Curve(_circle(t.radius), t.std),
    "ganlab_blobs": lambda t: Mixture([[-0.6, -0.45], [0.6, -0.45], [0.0, 0.6]], t.std),
    "two_moons": lambda t: Curve(_moons, t.std, 0.0, 2.0),
    "spiral": lambda t: Curve(_spiral, t.std),
    "swiss_roll": lambda t: Curve(_swiss_roll, t.std),
    "sequential": lambda t: SequentialModes(_ring_centres(t.modes, t.radius), t.std,
                                            t.switch_every),
    "points": lambda t: Mixture(np.array(t.points, dtype=np.float64), t.std),
    "gaussian_nd": lambda t: Gaussian(t.dim, t.mean, t.std, t.offdiag, t.block),
    "truncated_nd": lambda t: TruncatedGaussian(t.dim, t.std, t.limit),
    "cauchy_nd": lambda t: Cauchy(t.dim, t.std),
    "uniform_nd": lambda t: Uniform(t.dim, t.limit),
    "bimodal_6d": lambda t: Bimodal6D(),
    "file": _file,
}

# The registry: each choice (gancore.choices: dimension, doc, family, defaults) with its builder.
TARGETS: dict[str, TargetSpec] = {
    name: TargetSpec(_BUILDERS[name], c.fixed_dim, c.doc, c.family, c.defaults)
    for name, c in CHOICES.items()}



def build_target(cfg: RunConfig) -> Target:
    """The target of a run. Bad parameters raise ValueError naming the field."""
    return TARGETS[cfg.target.name].build(cfg.target)


def sample_latent(n: int, latent: LatentConfig, gen: torch.Generator) -> torch.Tensor:
    """(n, latent.dim) noise from the run's prior."""
    if latent.distribution == "gaussian":
        z = torch.randn(n, latent.dim, generator=gen)
        return z if latent.scale == 1.0 else z.mul_(latent.scale)
    return torch.rand(n, latent.dim, generator=gen).mul_(2 * latent.scale).sub_(latent.scale)
