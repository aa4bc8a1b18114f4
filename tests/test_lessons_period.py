"""Every classroom lesson holds for a class period: its problem preset shows the phenomenon and
its remedy shows the remedy, judged by the detectors and the metrics a class sees, from step 1,000
to the end of the period, on seeds 0, 1 and 2 (`make test-lessons`, marker "lessons"). The
expectations live on each lesson (`gancore.teach.lessons`, format in `gancore.teach.period`); the
run writes its figures to test-artifacts/lessons-period.md. The default suite keeps the first
3,000 steps of the same expectations on seed 0 for every lesson (where they apply by then).

The whole-period check asserts the lessons in `HELD`, the ones measured to hold over a period on
all three seeds; the others are skipped with the reason, and `gancore lessons-period --only SLUG
--seeds 0,1,2` runs any of them (a lesson joins `HELD` once that passes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gancore.teach import period
from gancore.teach.lessons import LESSONS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "test-artifacts" / "lessons-period.md"
SEEDS = (0, 1, 2)
SHORT_SEEDS = (0,)  # the default suite's short version: one seed keeps it near 2 minutes
SIDES = [(slug, side) for slug in LESSONS for side in ("problem", "remedy")]
# Measured over a whole period on seeds 0, 1 and 2 with `gancore lessons-period` (2026-12-07).
HELD = ("mode-collapse", "mode-hopping", "adagan", "forgetting", "gan-vs-vae", "bimodal-6d",
        "swaying", "goodfellow-1d", "gaussian-100d")
NOT_YET: dict[str, str] = {}
UNMEASURED = "not yet measured over a whole class period on seeds 0, 1 and 2"
# Seconds of a class period per preset on one core of the 2-core box, two processes training
# (mean of seeds 0-2 in `make test-lessons`, 2026-12-08; only for the order the two processes
# take the runs in, longest first). About 35 core-minutes a seed: 54 minutes of wall clock for
# the three seeds.
COST = {"gaussgan-100d-minibatch": 308, "gaussgan-100d": 200, "bimodal-6d-wgan-gp": 187,
        "forgetting-rehearsal-r1": 174, "bimodal-6d-gan": 153, "forgetting-sequential": 144,
        "four-points-settled": 141, "ring8-d-ahead": 134, "goodfellow-1d": 110,
        "ring8-adagan": 108, "ring8-vanilla-collapse": 107, "four-points-oscillation": 103,
        "ring8-vae": 97, "sway-1d-balanced": 53, "goodfellow-1d-settled": 53, "sway-1d": 49}


def _train(steps: int | None, seeds: tuple[int, ...],
           slugs: tuple[str, ...] = tuple(LESSONS)) -> list[period.PeriodRun]:
    presets = period.lesson_presets(LESSONS[slug] for slug in slugs)
    jobs = period.period_jobs(presets, seeds, steps, COST)
    return period.train_many(jobs, processes=2)


@pytest.fixture(scope="module")
def period_runs() -> list[period.PeriodRun]:
    runs = _train(None, SEEDS, HELD)
    table = period.figure_table(runs)
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(
        "# Lessons over a class period\n\nThe problem and remedy presets of the lessons "
        f"{', '.join(HELD)} trained for "
        f"a class period ({period.PERIOD_STEPS:,} steps, or {period.PERIOD_SECONDS / 60:.0f} "
        "minutes for a preset slower than 50 steps/s) on seeds "
        f"{', '.join(map(str, SEEDS))}; modes and high quality are the range over the "
        "checkpoints from step 1,000 (every 1,000 steps), events count the whole run.\n\n"
        f"{table}\n")
    print("\n" + table)
    return runs


# The lessons whose short version is the slowest (the 100-D remedy trains at about 105 steps/s,
# the others at 300-700): it runs with `make test-lessons`, which CI runs too, so the default
# suite stays under 15 minutes.
SLOW_START = ("gaussian-100d",)


def _short(slugs: tuple[str, ...]) -> list[period.PeriodRun]:
    runs = _train(period.SHORT_STEPS, SHORT_SEEDS, slugs)
    print("\n" + period.figure_table(runs))  # shown with -s or when a check fails
    return runs


@pytest.fixture(scope="module")
def short_runs() -> list[period.PeriodRun]:
    return _short(tuple(slug for slug in LESSONS if slug not in SLOW_START))


@pytest.fixture(scope="module")
def slow_short_runs() -> list[period.PeriodRun]:
    return _short(SLOW_START)


def _period_case(slug: str, side: str):
    if slug in HELD:
        return pytest.param(slug, side)
    return pytest.param(slug, side, marks=pytest.mark.skip(reason=NOT_YET.get(slug, UNMEASURED)))


@pytest.mark.lessons
@pytest.mark.timeout(5400)
@pytest.mark.parametrize("slug,side", [_period_case(slug, side) for slug, side in SIDES])
def test_lp001_each_lesson_holds_for_a_class_period(period_runs, slug, side):
    failures = period.lesson_failures(LESSONS[slug], side, period_runs)
    assert not failures, "\n".join(failures)


def _holds_over_the_first_steps(runs: list[period.PeriodRun], slug: str, side: str) -> None:
    mine = [r for r in runs if r.preset == getattr(LESSONS[slug], side)]
    assert mine and all(r.steps == period.SHORT_STEPS for r in mine), mine
    failures = period.lesson_failures(LESSONS[slug], side, runs)
    assert not failures, "\n".join(failures)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("slug,side", [(slug, side) for slug, side in SIDES
                                       if slug not in SLOW_START])
def test_lp002_each_lesson_holds_over_its_first_3000_steps(short_runs, slug, side):
    _holds_over_the_first_steps(short_runs, slug, side)


@pytest.mark.lessons
@pytest.mark.timeout(900)
@pytest.mark.parametrize("slug,side", [(slug, side) for slug, side in SIDES
                                       if slug in SLOW_START])
def test_lp006_a_slow_lesson_holds_over_its_first_3000_steps(slow_short_runs, slug, side):
    _holds_over_the_first_steps(slow_short_runs, slug, side)


@pytest.mark.parametrize("slug", sorted(LESSONS))
def test_lp003_each_lesson_declares_what_both_sides_show(slug):
    lesson = LESSONS[slug]
    assert lesson.period is not None, f"{slug}: declare Lesson.period (gancore.teach.period)"
    for side in ("problem", "remedy"):
        checks = getattr(lesson.period, side)
        assert checks, f"{slug}: nothing declared for the {side}"
        assert all(c.describe() for c in checks)
    watched = {k for c in lesson.period.problem if hasattr(c, "kinds") and
               not isinstance(c, period.NoEvents) for k in c.kinds}
    assert watched <= set(lesson.watch) or not lesson.watch, (watched, lesson.watch)


def test_lp004_the_checks_fail_a_run_that_does_not_show_the_phenomenon():
    """The judge is not a rubber stamp: a run whose mode count rose and whose events stopped
    fails a collapse expectation, and passes once it stays collapsed and flagged."""
    def run(modes: list[int], event_steps: list[int]) -> period.PeriodRun:
        r = period.PeriodRun("p", 0, 1000 * len(modes), 1.0, "done")
        r.checkpoints = [period.Checkpoint(1000 * (i + 1), {"modes": m})
                         for i, m in enumerate(modes)]
        r.events = [{"step": s, "kind": "mode_hopping", "message": ""} for s in event_steps]
        return r

    checks = (period.Each("modes", high=3), period.EventsEvery(("mode_hopping",), 5000))
    recovered = run([1, 2, 1, 6, 7, 8, 8, 8, 8, 8, 8], [1500])
    got = period.judge(recovered, checks)
    assert any("modes = 6 at step 4,000" in f for f in got)
    assert any("no mode_hopping event in steps 6,000-11,000" in f for f in got)
    assert period.judge(run([1, 2, 1, 2, 1, 1, 2, 1, 1, 2, 1], [1500, 6200]), checks) == []


def test_lp005_the_cli_names_bad_input_in_one_line(capsys):
    from gancore.cli import main

    assert main(["lessons-period", "--seeds", "zero"]) == 2
    assert main(["lessons-period", "--only", "no-such-lesson"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err), err
    assert "0,1,2" in err[0] and "mode-collapse" in err[1]
