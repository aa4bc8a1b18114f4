"""Metrics against closed forms and scipy's reference implementations."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from gancore.config import RunConfig
from gancore.data.targets import build_target
from gancore.observe import metrics


def ring_target():
    return build_target(RunConfig())  # ring of 8, radius 2, std 0.02


def test_perfect_generator_captures_every_mode_with_the_closed_form_quality():
    target = ring_target()
    modes = target.modes()
    x = target.sample(2500, torch.Generator().manual_seed(0)).numpy()
    cov = metrics.mode_coverage(x, modes.centres, modes.stds, modes.weights)
    assert cov.modes_captured == 8
    # P(|x - mu| <= 3 sigma) for an isotropic 2-D gaussian: the chi distribution with 2 dof
    # gives 1 - exp(-9/2) = 98.9% (the familiar 99.7% is the 1-D value, tested below).
    expected = 1 - math.exp(-4.5)
    assert cov.high_quality == pytest.approx(expected, abs=3 * math.sqrt(expected / 2500))
    assert cov.reverse_kl < 0.01


def test_one_dimensional_high_quality_is_the_three_sigma_rule():
    x = np.random.default_rng(0).normal(0, 1, (20000, 1))
    cov = metrics.mode_coverage(x, np.array([[0.0]]), np.array([1.0]), np.array([1.0]))
    assert cov.high_quality == pytest.approx(0.9973, abs=0.002)


def test_collapsed_generator_scores_one_mode_and_log_k_reverse_kl():
    modes = ring_target().modes()
    x = modes.centres[3] + np.random.default_rng(1).normal(0, 0.02, (2500, 2))
    cov = metrics.mode_coverage(x, modes.centres, modes.stds, modes.weights)
    assert cov.modes_captured == 1
    assert cov.reverse_kl == pytest.approx(math.log(8), abs=1e-9)


def test_generator_off_the_data_has_no_high_quality_sample():
    modes = ring_target().modes()
    cov = metrics.mode_coverage(np.zeros((100, 2)), modes.centres, modes.stds, modes.weights)
    assert (cov.modes_captured, cov.high_quality) == (0, 0.0)


def test_grid_kl_matches_the_gaussian_closed_form():
    rng = np.random.default_rng(2)
    m1, s1, m2, s2 = 0.0, 1.0, 0.5, 1.2
    real = rng.normal(m1, s1, (200_000, 1))
    fake = rng.normal(m2, s2, (200_000, 1))
    closed = math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    kl, js = metrics.grid_divergences(real, fake, np.array([[-6.0, 6.0]]), bins=200)
    assert kl == pytest.approx(closed, rel=0.05)
    assert 0 < js < math.log(2)


def test_grid_js_is_zero_for_equal_and_log2_for_disjoint_samples():
    x = np.random.default_rng(3).uniform(-1, 1, (5000, 2))
    assert metrics.grid_divergences(x, x, np.array([[-1.0, 1], [-1, 1]]))[1] == 0
    far = x + 10
    b = np.array([[-1.0, 11], [-1, 11]])
    assert metrics.grid_divergences(x, far, b)[1] == pytest.approx(math.log(2))


def test_grid_divergences_keep_points_outside_the_grid():
    """GAN Lab's version lost real points; here every sample counts (clipped to the edge)."""
    inside = np.zeros((100, 1))
    outside = np.full((100, 1), 50.0)
    kl, js = metrics.grid_divergences(outside, inside, np.array([[-1.0, 1.0]]))
    assert js == pytest.approx(math.log(2))


def test_ks_per_dim_matches_scipy():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(700, 5))
    fake = rng.normal(0.2, 1.3, size=(900, 5))
    stat, p = metrics.ks_per_dim(real, fake)
    for j in range(5):
        ref = stats.ks_2samp(real[:, j], fake[:, j], method="asymp")
        assert stat[j] == pytest.approx(ref.statistic, abs=1e-12)
        assert p[j] == pytest.approx(ref.pvalue, rel=0.05, abs=1e-6)


def test_ks_per_dim_matches_scipy_with_ties():
    """A collapsed generator repeats values: the statistic is read only where a run of equal
    values ends, as scipy does."""
    rng = np.random.default_rng(6)
    real = np.round(rng.normal(size=(300, 4)), 1)
    fake = np.round(rng.normal(0.3, 1.0, size=(400, 4)), 1)
    fake[:200, 0] = 0.5  # half the samples on one value
    stat, _ = metrics.ks_per_dim(real, fake)
    for j in range(4):
        assert stat[j] == pytest.approx(stats.ks_2samp(real[:, j], fake[:, j]).statistic,
                                        abs=1e-12)


def test_column_density_histograms_match_one_histogram_per_column():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(500, 6)) * np.arange(1, 7)
    lo, hi = x.min(0) + 0.3, x.max(0) - 0.2  # some samples fall outside and are counted out
    x[0] = hi  # the closed right edge lands in the last bin
    got = metrics.column_density_histograms(x, lo, hi, 30)
    want = np.stack([metrics.density_histogram(x[:, j], lo[j], hi[j], 30) for j in range(6)])
    assert got.shape == (6, 30)
    np.testing.assert_array_equal(got, want)


def test_wasserstein_and_energy_match_scipy():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(400, 1)), rng.normal(1.0, 1, size=(400, 1))
    assert metrics.wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a[:, 0],
                                                                                   b[:, 0]))
    # scipy's energy_distance is the square root of the statistic computed here
    assert metrics.energy_distance(a, b) == pytest.approx(
        stats.energy_distance(a[:, 0], b[:, 0]) ** 2, rel=1e-6)
    assert metrics.energy_distance(a, a) == pytest.approx(0, abs=1e-9)


def test_bimodality_separates_one_hump_from_two():
    rng = np.random.default_rng(6)
    one = rng.normal(size=(3000, 1))
    two = np.concatenate([rng.normal(-3, 0.5, (1500, 1)), rng.normal(3, 0.5, (1500, 1))])
    assert metrics.bimodality(one)[0] < 5 / 9 < metrics.bimodality(two)[0]


def test_correlation_matches_numpy_and_tolerates_constant_columns():
    x = np.random.default_rng(7).normal(size=(500, 4))
    x[:, 3] = 1.0
    c = metrics.correlation(x)
    assert np.allclose(c[:3, :3], np.corrcoef(x[:, :3].T))
    assert np.all(np.isfinite(c)) and c[3, 3] == 0


def test_norm_ks_flags_a_shrunken_sample():
    rng = np.random.default_rng(8)
    real = rng.normal(size=(1000, 100))
    assert metrics.norm_ks(real, rng.normal(size=(1000, 100))) < 0.1
    assert metrics.norm_ks(real, 0.5 * rng.normal(size=(1000, 100))) > 0.9
