"""The remedy presets tell their story under their seeds: beside the plain GAN that collapses,
each remedy keeps the modes (scored like the mode-coverage table: 2,500 samples, modes with a
sample within 3 std of the centre). Trained in two real processes, as the table's runs are."""

from __future__ import annotations

import pytest

from tests.helpers import on_both_cores

# preset -> (steps, modes the preset must end with at least / at most), listed longest first
# (seconds on one core in the comments) so the two processes finish together. Measured under the
# presets' seeds: ring8-unrolled 7 at 500, 750 and 1,000; ring8-wgan-gp 8 from step 500 on;
# grid25-vanilla 0-1 of 25 at 1,000-2,000 steps; grid25-pacgan 12 at 1,000 and 16 at 2,000. The
# collapse preset and its remedy (the mode-collapse lesson) are held to their lesson's
# declarations in tests/test_lessons_period.py.
STORIES = {
    "ring8-unrolled": (1000, 6, None),  # 42 s
    "ring8-wgan-gp": (1000, 7, None),  # 23 s
    "grid25-vanilla": (2000, None, 5),  # 17 s
    "grid25-pacgan": (2000, 12, None),  # 14 s
}


def train_and_score(job: tuple[str, int]) -> tuple[str, int, float]:
    from gancore.teach import modebench
    from gancore.teach.presets import get_preset
    from gancore.train.trainer import Trainer

    name, steps = job
    cfg = get_preset(name).config()
    trainer = Trainer(cfg)
    for _ in range(steps):
        trainer.step()
    cov = modebench.score(trainer, cfg.train.seed)
    return name, cov.modes_captured, cov.high_quality


@pytest.fixture(scope="module")
def modes() -> dict[str, tuple[int, float]]:
    jobs = [(name, steps) for name, (steps, _, _) in STORIES.items()]
    return {name: (m, hq) for name, m, hq in on_both_cores(train_and_score, jobs)}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STORIES))
def test_preset_covers_the_modes_its_sentence_promises(modes, name):
    _, at_least, at_most = STORIES[name]
    got, hq = modes[name]
    if at_least is not None:
        assert got >= at_least, f"{name}: {got} modes ({100 * hq:.1f}% high quality)"
    if at_most is not None:
        assert got <= at_most, f"{name}: {got} modes ({100 * hq:.1f}% high quality)"
