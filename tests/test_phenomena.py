"""Detectors on crafted histories: each fires on its phenomenon, once, and not on a healthy run."""

import numpy as np
import pytest

from gancore.observe.detectors import (
    WARMUP_STEPS,
    ModeCollapse,
    ModeHopping,
    Monitor,
    NonConvergence,
    Snapshot,
    Stuck,
    Swaying,
)


def snap(i: int, **kw) -> Snapshot:
    base = dict(step=WARMUP_STEPS + 50 * i, d_loss=1.3, g_loss=0.7, d_real=0.5, d_fake=0.5,
                g_grad_norm=1.0, probabilistic=True, moved=0.02, off_data=0.0,
                centroid_gap=0.05, mode_counts=np.full(8, 200), high_quality=0.9,
                mode_near=None, d_at_modes=np.full(8, 0.5), d_off_data=0.05, n_samples=1600)
    base.update(kw)
    return Snapshot(**base)


def events_of(snaps) -> list:
    m = Monitor()
    return [e for s in snaps for e in m.observe(s)]


def collapsed(mode: int) -> np.ndarray:
    counts = np.zeros(8, int)
    counts[mode] = 1400
    return counts


def test_a_healthy_history_fires_nothing():
    rng = np.random.default_rng(0)
    snaps = [snap(i, mode_counts=rng.integers(150, 250, 8), moved=rng.uniform(0.01, 0.06))
             for i in range(100)]
    assert events_of(snaps) == []


def test_nothing_fires_during_warm_up():
    snaps = [snap(i - 20, mode_counts=collapsed(i % 2 * 4), moved=0.5) for i in range(16)]
    assert events_of(snaps) == []


def test_mode_collapse_fires_once_with_its_step_and_mode_count():
    snaps = [snap(i, mode_counts=collapsed(2)) for i in range(30)]
    events = events_of(snaps)
    assert [e.kind for e in events] == ["mode_collapse"]
    assert events[0].message == f"mode collapse at step {WARMUP_STEPS + 150:,}: 1 of 8 modes"


def test_mode_collapse_fires_again_only_after_recovery():
    snaps = ([snap(i, mode_counts=collapsed(2)) for i in range(10)]
             + [snap(i) for i in range(10, 25)]
             + [snap(i, mode_counts=collapsed(5)) for i in range(25, 35)])
    assert [e.kind for e in events_of(snaps)] == ["mode_collapse", "mode_collapse"]


def test_mode_collapse_in_nd_reads_bimodality_and_spread():
    bim = [snap(i, mode_counts=None, metrics={"bimodal_dims_real": 2, "bimodal_dims_fake": 0})
           for i in range(5)]
    assert "2 of 2 bimodal coordinates come out unimodal" in events_of(bim)[0].message
    spread = [snap(i, mode_counts=None, metrics={"variance_ratio": 0.01}) for i in range(5)]
    assert "1% of the data's variance" in events_of(spread)[0].message


def test_mode_hopping_needs_the_main_mode_to_change_three_times():
    hops = [snap(i, mode_counts=collapsed([0, 3, 6, 1][i // 3 % 4])) for i in range(12)]
    kinds = [e.kind for e in events_of(hops)]
    assert "mode_hopping" in kinds
    steady = [snap(i, mode_counts=collapsed(0)) for i in range(12)]
    assert "mode_hopping" not in [e.kind for e in events_of(steady)]


def test_non_convergence_needs_twenty_checks_of_movement():
    assert [e.kind for e in events_of([snap(i, moved=0.3) for i in range(19)])] == []
    jerky = [snap(i, moved=0.3 if i % 3 else 0.02) for i in range(20)]  # a pause does not reset
    events = events_of(jerky)
    assert [e.kind for e in events] == ["non_convergence"]
    assert "30% of the data scale" in events[0].message
    calm = [snap(i, moved=0.3 if i % 3 == 0 else 0.02) for i in range(40)]  # mostly at rest
    assert events_of(calm) == []


def test_swaying_and_then_stuck():
    sway = [snap(i, off_data=0.9, centroid_gap=0.5 + 0.6 * i, mode_counts=np.zeros(8, int),
                 high_quality=0.0) for i in range(6)]
    stuck = [snap(i, off_data=1.0, centroid_gap=2.0, d_fake=0.001, g_grad_norm=1e-5,
                  mode_counts=np.zeros(8, int), high_quality=0.0) for i in range(6, 14)]
    kinds = [e.kind for e in events_of(sway + stuck)]
    assert kinds == ["swaying", "stuck"]


def test_stuck_ignores_critic_losses():
    stuck = [snap(i, off_data=1.0, d_fake=0.001, g_grad_norm=1e-5, probabilistic=False,
                  mode_counts=np.zeros(8, int), high_quality=0.0) for i in range(10)]
    assert "stuck" not in [e.kind for e in events_of(stuck)]


def test_forgetting_when_d_rises_back_on_a_mode_the_generator_left():
    near = np.full(8, 200)
    near[4] = 0
    d_low, d_high = np.full(8, 0.5), np.full(8, 0.5)
    d_low[4], d_high[4] = 0.1, 0.7
    snaps = [snap(i, mode_near=near, d_at_modes=d_low) for i in range(5)]
    snaps.append(snap(5, mode_near=near, d_at_modes=d_high))
    events = events_of(snaps)
    assert [e.kind for e in events] == ["catastrophic_forgetting"]
    assert "mode 5" in events[0].message and "0.10 to 0.70" in events[0].message


def test_forgetting_when_d_rises_between_the_modes():
    snaps = [snap(i, d_off_data=0.1) for i in range(5)] + [snap(5, d_off_data=0.6)]
    assert [e.kind for e in events_of(snaps)] == ["catastrophic_forgetting"]


@pytest.mark.parametrize("detector", [ModeCollapse, ModeHopping, NonConvergence, Swaying, Stuck])
def test_every_detector_documents_its_definition(detector):
    doc = detector.__doc__
    assert doc and any(ch.isdigit() for ch in doc), "definition must state its thresholds"


def test_forgetting_of_a_real_mode_no_longer_shown():
    d_shown, d_after = np.array([0.5, 0.4, 0.4, 0.4]), np.array([0.1, 0.5, 0.3, 0.3])
    snaps = [snap(i, shown_mode=0, d_at_modes=d_shown, mode_counts=None, mode_near=None)
             for i in range(5)]
    snaps += [snap(i, shown_mode=1, d_at_modes=d_after, mode_counts=None, mode_near=None)
              for i in range(5, 7)]
    events = events_of(snaps)
    assert [e.kind for e in events] == ["catastrophic_forgetting"]
    assert "forgot that mode 1 is real" in events[0].message


def test_forgetting_that_goes_on_is_flagged_again_for_each_further_mode():
    """Data shown one mode at a time, D forgetting each in turn for 12,000 steps: the condition
    never clears, yet the timeline must keep showing it (every 2,000-3,000 steps), each time
    naming the mode forgotten, not one mark at the start."""
    snaps = []
    for i in range(240):  # a snapshot every 50 steps; the data moves on every 500 steps
        shown = (i // 10) % 4
        d = np.full(4, 0.02)
        d[shown] = 0.5
        snaps.append(snap(i, shown_mode=shown, d_at_modes=d, mode_counts=None, mode_near=None))
    events = events_of(snaps)
    steps = [e.step for e in events]
    assert [e.kind for e in events] == ["catastrophic_forgetting"] * len(events)
    assert len(events) >= 5, steps
    assert all(b - a >= 2000 for a, b in zip(steps, steps[1:], strict=False)), steps
    assert max(b - a for a, b in zip(steps, steps[1:], strict=False)) <= 3000, steps
    modes = [e.message.split("mode ")[1].split()[0] for e in events]
    assert all(a != b for a, b in zip(modes, modes[1:], strict=False)), modes
