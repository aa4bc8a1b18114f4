"""A class period of training: what each lesson must show over it, and the routine that checks.

A class period is `PERIOD_STEPS` training steps, or `PERIOD_SECONDS` of training for a preset
slower than `SLOW_STEPS_PER_S`: a run stops at whichever comes first (on a busy machine a fast
preset can be cut short too; the figure table shows the steps each run reached, and the checks
judge what it reached). `train_period` trains a preset (any seed) through the same
`Session` the live app drives, so its probes, metrics and detectors are the ones a class sees;
it keeps a `Checkpoint` of the metrics every `CHECK_EVERY` steps and every detector event.

Expectations format (each `Lesson.period` is a `LessonPeriod`): per side, a tuple of checks,
each a small frozen record that `judge` can evaluate against a `PeriodRun`:

- `Each(metric, low, high, start)`: at every checkpoint from `start` on, `low <= value <= high`
  (`None` = unbounded). Metric names are `Checkpoint.values` keys: `modes` and `modes_total`
  (the frame title's count, gancore.observe.probes), `high_quality`, `near` (share of the samples
  within a quarter data scale of a mode), `off_data`, `centroid_gap`, `moved`, `d_real`,
  `d_fake`, `d_spread` (max - min of D where the data or the fakes are, 1-D/2-D log losses),
  `ks_mean`, `variance_ratio`, `bimodal_dims_fake`, `js`, ...
- `Mostly(metric, low, high, start, share)`: the same bound on at least `share` of the
  checkpoints from `start` (for measures that flicker: a hopping generator passes through).
- `EventsEvery(kinds, window, start)`: an event of one of `kinds` in every `window`-step window
  from `start` to the period's end (the phenomenon keeps being flagged, not once at the start).
- `EventsBy(kinds, by)`: an event of one of `kinds` by step `by` (a lasting phenomenon is
  flagged once, when it starts: a detector re-arms only after its condition has cleared; pair it
  with an `Each` bound that shows it lasts).
- `NoEvents(kinds, start)`: none of `kinds` from `start` on (an empty `kinds` means any
  phenomenon kind).

A check applies to the short version (the first `SHORT_STEPS`) only where its span fits: a
window check needs one whole window, a bound needs a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

PERIOD_STEPS = 30_000
PERIOD_SECONDS = 600.0
SLOW_STEPS_PER_S = 50.0
CHECK_EVERY = 1000
SHORT_STEPS = 3000
# Event kinds that are not phenomena: a live edit, a fork, a recording that stopped.
_NOT_PHENOMENA = {"edit", "fork", "recording"}


@dataclass
class Checkpoint:
    step: int
    values: dict[str, float]


@dataclass
class PeriodRun:
    preset: str
    seed: int
    steps: int
    seconds: float
    state: str
    checkpoints: list[Checkpoint] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def values(self, metric: str, start: int) -> list[tuple[int, float]]:
        return [(c.step, c.values[metric]) for c in self.checkpoints
                if c.step >= start and metric in c.values]

    def event_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.events:
            out[e["kind"]] = out.get(e["kind"], 0) + 1
        return out


# ---- checks ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Each:
    metric: str
    low: float | None = None
    high: float | None = None
    start: int = 1000

    def describe(self) -> str:
        return f"{_bound(self.metric, self.low, self.high)} at every checkpoint from step " \
               f"{self.start:,}"

    def failures(self, run: PeriodRun) -> list[str]:
        vals = run.values(self.metric, self.start)
        if not vals:
            return [] if not _reaches(run, self.start) else [f"no {self.metric} measured"]
        bad = [(s, v) for s, v in vals if not _within(v, self.low, self.high)]
        return [f"{self.metric} = {v:.3g} at step {s:,}" for s, v in bad[:4]]


@dataclass(frozen=True)
class Mostly:
    metric: str
    low: float | None = None
    high: float | None = None
    start: int = 1000
    share: float = 0.8

    def describe(self) -> str:
        return f"{_bound(self.metric, self.low, self.high)} at {self.share:.0%} of the " \
               f"checkpoints from step {self.start:,}"

    def failures(self, run: PeriodRun) -> list[str]:
        vals = run.values(self.metric, self.start)
        if not vals:
            return [] if not _reaches(run, self.start) else [f"no {self.metric} measured"]
        good = sum(_within(v, self.low, self.high) for _, v in vals)
        if good >= self.share * len(vals):
            return []
        return [f"{self.metric} within bounds at {good} of {len(vals)} checkpoints "
                f"(values {', '.join(f'{v:.3g}' for _, v in vals[:12])})"]


@dataclass(frozen=True)
class EventsEvery:
    kinds: tuple[str, ...]
    window: int = 5000
    start: int = 1000

    def describe(self) -> str:
        return f"{' or '.join(self.kinds)} in every {self.window:,}-step window from step " \
               f"{self.start:,}"

    def failures(self, run: PeriodRun) -> list[str]:
        steps = sorted(e["step"] for e in run.events if e["kind"] in self.kinds)
        out = []
        lo = self.start
        while lo + self.window <= run.steps:
            if not any(lo <= s < lo + self.window for s in steps):
                out.append(f"no {'/'.join(self.kinds)} event in steps {lo:,}-{lo + self.window:,}")
            lo += self.window
        # the tail shorter than a window: judged when it is at least half a window long
        if run.steps - lo >= self.window // 2 and lo > self.start and \
                not any(s >= lo for s in steps):
            out.append(f"no {'/'.join(self.kinds)} event after step {lo:,}")
        return out


@dataclass(frozen=True)
class EventsBy:
    kinds: tuple[str, ...]
    by: int = 3000

    def describe(self) -> str:
        return f"{' or '.join(self.kinds)} by step {self.by:,}"

    def failures(self, run: PeriodRun) -> list[str]:
        if run.steps < self.by or any(e["kind"] in self.kinds and e["step"] <= self.by
                                      for e in run.events):
            return []
        return [f"no {'/'.join(self.kinds)} event by step {self.by:,}"]


@dataclass(frozen=True)
class NoEvents:
    kinds: tuple[str, ...] = ()
    start: int = 1000

    def describe(self) -> str:
        what = " or ".join(self.kinds) if self.kinds else "phenomenon"
        return f"no {what} event from step {self.start:,}"

    def failures(self, run: PeriodRun) -> list[str]:
        return [f"{e['kind']} at step {e['step']:,}: {e['message']}" for e in run.events
                if e["step"] >= self.start and e["kind"] not in _NOT_PHENOMENA
                and (not self.kinds or e["kind"] in self.kinds)]


Check = Each | Mostly | EventsEvery | EventsBy | NoEvents


@dataclass(frozen=True)
class LessonPeriod:
    """What a lesson's two presets must show over a class period."""

    problem: tuple[Check, ...]
    remedy: tuple[Check, ...]


def _within(v: float, low: float | None, high: float | None) -> bool:
    return (low is None or v >= low) and (high is None or v <= high)


def _bound(metric: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} <= {metric} <= {high:g}"
    return f"{metric} >= {low:g}" if low is not None else f"{metric} <= {high:g}"


def _reaches(run: PeriodRun, step: int) -> bool:
    return run.steps >= step


def judge(run: PeriodRun, checks: Iterable[Check]) -> list[str]:
    """Every way the run falls short of the checks (empty: it shows what it must)."""
    return [f"{run.preset} seed {run.seed}: {c.describe()}: {f}" for c in checks
            for f in c.failures(run)]


# ---- training --------------------------------------------------------------------------------
def checkpoint_values(session) -> dict[str, float]:
    """The metrics a class sees at this step: the frame's scalars (mode count as in its title)
    and the latest detector snapshot's measures."""
    snap = session.monitor.history[-1]
    vals: dict[str, float] = {k: float(v) for k, v in snap.metrics.items()
                              if isinstance(v, int | float)}
    for name in ("off_data", "centroid_gap", "moved", "d_real", "d_fake", "g_grad_norm"):
        v = getattr(snap, name)
        if v is not None:
            vals[name] = float(v)
    if snap.mode_counts is not None:
        vals["modes_total"] = float(len(snap.mode_counts))
    if snap.near_share is not None:
        vals["near"] = float(snap.near_share)
    picture = session.frame()  # what the page shows now: its title's mode count, KS, the fakes
    frame = picture.scalars
    vals.update({k: float(frame[k]) for k in ("modes", "high_quality", "ks_mean", "corr_dist")
                 if k in frame})
    trainer, probes = session.trainer, session.probes
    if snap.probabilistic and trainer.D is not None and probes.kind in ("1d", "2d"):
        d = probes.d_values(trainer.D, probes.d_inputs, True)
        occupied = _occupied(probes.d_inputs.numpy(), probes.real(picture.step),
                             picture.value("fake"))
        if occupied.any():
            vals["d_spread"] = float(d[occupied].max() - d[occupied].min())
    return vals


def _occupied(points: np.ndarray, real: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Which of D's view points lie where the data or the fakes are (inside the box of their
    1st-99th percentiles per axis). D's spread is judged there only: far from both, D's output
    is an extrapolation no loss ever shaped (a D near 1 at the plot's far edges says nothing
    about the chase a class is shown)."""
    both = np.concatenate([np.asarray(real, np.float64), np.asarray(fake, np.float64)])
    lo, hi = np.quantile(both, 0.01, axis=0), np.quantile(both, 0.99, axis=0)
    return np.all((points >= lo) & (points <= hi), axis=1)


def train_period(preset: str, seed: int, steps: int | None = None,
                 seconds: float | None = None, every: int = CHECK_EVERY,
                 changes: dict | None = None) -> PeriodRun:
    """Train `preset` with `train.seed = seed` (and any other `changes`) for `steps` (default:
    a class period) or until `seconds` of training have passed, checkpointing every `every`
    steps."""
    import torch

    from gancore.run.session import Session
    from gancore.teach.presets import get_preset

    torch.manual_seed(seed)  # nothing should draw from it; a stray draw stays reproducible
    cfg = get_preset(preset).config().with_changes({**(changes or {}), "train.seed": seed})
    session = Session(cfg, run_id=f"{preset}-seed{seed}")
    session.state = "running"
    limit = steps if steps is not None else PERIOD_STEPS
    run = PeriodRun(preset, seed, 0, 0.0, "running")
    start = time.perf_counter()
    while session.step < limit and not session.finished:
        session.train(min(every, limit - session.step))
        run.checkpoints.append(Checkpoint(session.step, checkpoint_values(session)))
        if seconds is not None and time.perf_counter() - start >= seconds:
            break
    run.seconds = time.perf_counter() - start
    run.steps, run.state = session.step, session.state
    run.events = [e for e in session.events if e["kind"] not in _NOT_PHENOMENA]
    return run


Job = tuple  # (preset, seed, steps, seconds[, changes]): `train_period`'s arguments


def period_job(job: Job) -> PeriodRun:
    """`train_period` for a pool (a spawned process; one torch thread, as a worker trains)."""
    import torch

    torch.set_num_threads(1)
    preset, seed, steps, seconds, *changes = job
    return train_period(preset, seed, steps, seconds, changes=changes[0] if changes else None)


def train_many(jobs: list[Job], processes: int = 2,
               progress: Callable[[PeriodRun], None] = lambda r: None) -> list[PeriodRun]:
    """Each job (preset, seed, steps, seconds) in `processes` spawned processes, in the order
    given (list the longest first so the processes end together)."""
    import multiprocessing as mp

    out = []
    with mp.get_context("spawn").Pool(processes) as pool:
        for run in pool.imap_unordered(period_job, jobs, chunksize=1):
            progress(run)
            out.append(run)
    return out


def figure_row(run: PeriodRun, start: int = 1000) -> dict[str, str]:
    """One line of the figure table: the range of the mode count and high-quality share over
    the checkpoints from `start`, and the events by kind."""
    def span(metric: str, fmt: str) -> str:
        vals = [v for _, v in run.values(metric, start)]
        if not vals:
            return "-"
        lo, hi = min(vals), max(vals)
        return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"

    total = run.checkpoints[-1].values.get("modes_total") if run.checkpoints else None
    modes = span("modes", "{:.0f}") + (f" of {total:.0f}" if total else "")
    last = run.checkpoints[-1].values if run.checkpoints else {}
    events = ", ".join(f"{k} {n}" for k, n in sorted(run.event_counts().items())) or "none"
    return {"preset": run.preset, "seed": str(run.seed), "steps": f"{run.steps:,}",
            "steps/s": f"{run.steps_per_s:.0f}",
            "modes": modes if run.values("modes", start) else "-",
            "final modes": f"{last['modes']:.0f}" if "modes" in last else "-",
            "high quality": span("high_quality", "{:.0%}"),
            "final hq": f"{last['high_quality']:.0%}" if "high_quality" in last else "-",
            "events": events}


def figure_table(runs: Iterable[PeriodRun], start: int = 1000) -> str:
    """The per-preset, per-seed figures as a Markdown table (ranges over the checkpoints from
    `start`; events over the whole run)."""
    rows = [figure_row(r, start) for r in sorted(runs, key=lambda r: (r.preset, r.seed))]
    if not rows:
        return ""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r[h] for h in head) + " |" for r in rows]
    return "\n".join(lines)


# ---- lessons ---------------------------------------------------------------------------------
def lesson_presets(lessons: Iterable) -> list[str]:
    """Each preset the lessons train, once (a preset shared by two lessons trains once)."""
    out: list[str] = []
    for lesson in lessons:
        for name in (lesson.problem, lesson.remedy):
            if name not in out:
                out.append(name)
    return out


def period_jobs(presets: Iterable[str], seeds: Iterable[int], steps: int | None = None,
                cost: dict[str, float] | None = None) -> list[Job]:
    """A class period (or the first `steps`) of each preset on each seed, the costliest first
    (`cost`: seconds per preset, for the order only) so two processes end together."""
    limit = PERIOD_STEPS if steps is None else steps
    jobs = [(p, s, limit, PERIOD_SECONDS) for p in presets for s in seeds]
    return sorted(jobs, key=lambda j: -(cost or {}).get(j[0], 0.0))


def lesson_failures(lesson, side: str, runs: Iterable[PeriodRun]) -> list[str]:
    """Every way the runs of a lesson's `side` ("problem" or "remedy") fall short of its
    declared period; a lesson without a declared period is itself a failure."""
    preset = getattr(lesson, side)
    if lesson.period is None:
        return [f"lesson {lesson.slug} declares no class-period expectations"]
    checks = getattr(lesson.period, side)
    mine = [r for r in runs if r.preset == preset]
    return [f for r in sorted(mine, key=lambda r: r.seed) for f in judge(r, checks)]
