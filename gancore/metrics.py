"""Sample-quality metrics, pure numpy/scipy: mode coverage, divergences, two-sample statistics.

Mode metrics follow the VEEGAN/PacGAN protocol: a generated sample is "high quality" when it lies
within 3 standard deviations of its nearest mode centre, and that mode counts as captured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ModeCoverage:
    modes_captured: int
    high_quality: float  # share of samples within 3 std of their nearest mode
    reverse_kl: float  # KL(generated mode histogram || true mode weights)
    counts: np.ndarray  # high-quality samples per mode


def mode_coverage(samples: np.ndarray, centres: np.ndarray, stds: np.ndarray,
                  weights: np.ndarray, min_count: int = 1) -> ModeCoverage:
    """Which modes the samples hit. A mode is captured when at least `min_count` high-quality
    samples land on it. Reverse KL is over the high-quality samples' mode histogram; a model
    with no high-quality sample gets KL = log(1 / min weight), the worst single-mode value."""
    x = samples[:, : centres.shape[1]]
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1)  # (N, K)
    nearest = d2.argmin(1)
    dist = np.sqrt(d2[np.arange(len(x)), nearest])
    good = dist <= 3 * stds[nearest]
    counts = np.bincount(nearest[good], minlength=len(centres))
    hq = float(good.mean()) if len(x) else 0.0
    if counts.sum() == 0:
        rkl = float(np.log(1.0 / weights.min()))
    else:
        p = counts / counts.sum()
        nz = p > 0
        rkl = float((p[nz] * np.log(p[nz] / weights[nz])).sum())
    return ModeCoverage(int((counts >= min_count).sum()), hq, rkl, counts)


def ks_per_dim(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample KS statistic and asymptotic p-value for each coordinate, vectorised."""
    n, m = len(real), len(fake)
    r, f = np.sort(real, axis=0), np.sort(fake, axis=0)
    both = np.concatenate([r, f], axis=0)  # (n + m, dim): ECDF differences peak at data points
    stat = np.empty(real.shape[1])
    for j in range(real.shape[1]):
        cdf_r = np.searchsorted(r[:, j], both[:, j], side="right") / n
        cdf_f = np.searchsorted(f[:, j], both[:, j], side="right") / m
        stat[j] = np.abs(cdf_r - cdf_f).max()
    # scipy's asymptotic two-sided p-value: the one-sample KS law at the effective size.
    p = stats.kstwo.sf(stat, np.round(n * m / (n + m)))
    return stat, np.clip(p, 0.0, 1.0)


def correlation(x: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix; constant coordinates get zero correlation, not NaN."""
    xc = x - x.mean(0)
    s = np.sqrt((xc**2).sum(0))
    s[s == 0] = np.inf
    return (xc.T @ xc) / np.outer(s, s)


def density_histogram(x: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Histogram normalised to a density over [lo, hi] (samples outside are counted out)."""
    h, _ = np.histogram(x, bins=bins, range=(lo, hi))
    width = (hi - lo) / bins
    return (h / max(len(x), 1) / width).astype(np.float32)


def grid_divergences(real: np.ndarray, fake: np.ndarray, bounds: np.ndarray,
                     bins: int = 50, eps: float = 1e-10) -> tuple[float, float]:
    """KL(real || fake) and JS(real, fake) between histograms on one grid over `bounds`.

    Both histograms keep every sample (points outside the grid are clipped onto its edge cells,
    so no real point is silently dropped) and are normalised to sum to 1. `eps` keeps KL finite
    where the fake histogram is empty; JS is bounded by log 2 without it.
    """
    edges = [np.linspace(lo, hi, bins + 1) for lo, hi in bounds]

    def hist(x: np.ndarray) -> np.ndarray:
        clipped = np.clip(x, bounds[:, 0], bounds[:, 1])
        h, _ = np.histogramdd(clipped, bins=edges)
        return h.ravel() / max(h.sum(), 1)

    p, q = hist(real), hist(fake)
    kl = float(np.sum(p * (np.log(p + eps) - np.log(q + eps))))
    m = 0.5 * (p + q)

    def _kl(a: np.ndarray, b: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))

    return kl, 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def wasserstein_1d(real: np.ndarray, fake: np.ndarray) -> float:
    """Earth mover's distance between two 1-D samples."""
    return float(stats.wasserstein_distance(np.ravel(real), np.ravel(fake)))


def energy_distance(real: np.ndarray, fake: np.ndarray, max_n: int = 1000) -> float:
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (zero iff the distributions match), on at most
    `max_n` points of each sample so the pairwise cost stays bounded in n-D."""
    x, y = real[:max_n].astype(np.float64), fake[:max_n].astype(np.float64)

    def mean_dist(a: np.ndarray, b: np.ndarray) -> float:
        d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
        return float(np.sqrt(np.maximum(d2, 0)).mean())

    return 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


def bimodality(x: np.ndarray) -> np.ndarray:
    """Sarle's bimodality coefficient of each column, (skew^2 + 1) / kurtosis; above 5/9 (the
    value of a uniform distribution) suggests two modes. A gaussian scores 1/3."""
    x = np.atleast_2d(x.T).T
    n = len(x)
    g = stats.skew(x, axis=0, bias=False)
    k = stats.kurtosis(x, axis=0, bias=False)  # excess kurtosis
    return (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def norm_ks(real: np.ndarray, fake: np.ndarray) -> float:
    """KS statistic between the Euclidean-norm distributions (gaussGAN's whole-vector check)."""
    return float(stats.ks_2samp(np.linalg.norm(real, axis=1), np.linalg.norm(fake, axis=1))
                 .statistic)
