"""Detectors of GAN phenomena over a run's history of snapshots, each emitting dated events.

A `Snapshot` is taken every `frames.metrics_every` steps from the run's fixed probes (so the same
seed gives the same events). Each detector states its definition and thresholds in its
docstring (docs/detectors.md repeats them), fires once when its condition starts, and re-arms only
after the condition has cleared for 10 snapshots, so one episode gives one event. Detectors
judge from step 1,000 (the first steps of any GAN look like every pathology at once), except
swaying and stuck, which are early-training phenomena and are judged from step 200.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from gancore.vocabulary import EventKind

WARMUP_STEPS = 1000  # the first steps of any GAN look like everything; judge after them
ON_DATA = 0.3  # share of the samples near some mode for "the generator is on the data"


HELD_SHARE = 0.1  # of a mode's fair share of the samples near some mode: the mode is held


def modes_held(counts: np.ndarray) -> int:
    """Modes holding at least 10% of their fair share of the samples near some mode. This is
    "modes" everywhere a class reads it: the frame title (modes 3/8), the metrics chart and the
    mode-collapse event. A stray sample or two on a mode does not count (with "any sample" the
    healthy baseline's count flickered between 2 and 8 from frame to frame)."""
    total = counts.sum()
    if total == 0:
        return 0
    return int((counts >= max(1.0, HELD_SHARE * total / len(counts))).sum())


@dataclass
class Snapshot:
    """What the detectors look at, measured at one step."""

    step: int
    d_loss: float
    g_loss: float
    d_real: float  # mean D output on real data (probability for log losses)
    d_fake: float
    g_grad_norm: float
    probabilistic: bool
    moved: float  # mean distance fixed-z samples moved since the last snapshot / data scale
    off_data: float | None  # share of fakes far from every real probe point (<= 3-D targets)
    centroid_gap: float  # |mean(fake) - mean(real)| / data scale
    mode_counts: np.ndarray | None = None  # high-quality fakes per mode
    mode_near: np.ndarray | None = None  # fakes near each mode centre (Probes.mode_measures)
    high_quality: float | None = None
    d_at_modes: np.ndarray | None = None  # D output (probability) at each mode centre
    d_off_data: float | None = None  # mean D output on view cells far from the data
    shown_mode: int | None = None  # the mode real batches come from (sequential targets)
    n_samples: int = 0
    metrics: dict = field(default_factory=dict)

    def captured(self) -> int | None:
        """The modes held (`modes_held`) by the samples near a mode (within a quarter of the
        data scale of its centre, or 3 of its standard deviations if wider; high-quality counts
        where that is unknown)."""
        counts = self.mode_near if self.mode_near is not None else self.mode_counts
        return None if counts is None else modes_held(counts)

    @property
    def near_share(self) -> float | None:
        """Share of the samples near some mode (the high-quality share where unknown)."""
        if self.mode_near is None:
            return self.high_quality
        return float(self.mode_near.sum() / max(self.n_samples, 1))


@dataclass(frozen=True)
class Event:
    step: int
    kind: EventKind  # each kind's labels and timeline marker: gancore/vocabulary.py EVENTS
    message: str

    def as_dict(self) -> dict:
        return {"step": self.step, "kind": self.kind, "message": self.message}


class Detector:
    """Fires when `condition` holds for `patience` snapshots in a row; re-arms after it has been
    false for `rearm` snapshots in a row."""

    kind: EventKind  # each detector names its own
    patience = 4
    rearm = 10
    warmup = WARMUP_STEPS

    def __init__(self) -> None:
        self.armed = True
        self._true_run = 0
        self._false_run = 0

    def condition(self, history: deque[Snapshot]) -> bool:
        raise NotImplementedError

    def message(self, history: deque[Snapshot]) -> str:
        raise NotImplementedError

    def observe(self, history: deque[Snapshot]) -> Event | None:
        now = history[-1]
        if now.step < self.warmup:
            return None
        if self.condition(history):
            self._true_run += 1
            self._false_run = 0
        else:
            self._false_run += 1
            self._true_run = 0
            if self._false_run >= self.rearm:
                self.armed = True
            return None
        if self.armed and self._true_run >= self.patience:
            self.armed = False
            return Event(now.step, self.kind, self.message(history))
        return None


class ModeCollapse(Detector):
    """Mode collapse, in one of three forms:
    - modes: at most half of the target's modes are held (`modes_held`: at least 10% of their
      fair share of the samples near a mode, within a quarter of the data scale of its centre
      or 3 of its standard deviations if wider; the count the frame title shows) in every snapshot
      where at least 30% of all samples are near one (the generator is on the data, just not
      all of it; the same test as mode hopping's), with at least 4 such snapshots among the
      last 8. Snapshots with the samples
      in transit between modes neither count nor break the run: a collapsed generator that
      hops from mode to mode spends a few snapshots between modes, and is collapsed all along;
    - bimodal coordinates (n-D): a coordinate whose real marginal is bimodal (Sarle's
      coefficient > 5/9) comes out unimodal in the samples, 4 snapshots in a row; the target's
      modes then count as one (the title's "modes 1/2"), whatever share sits near each centre;
    - spread (n-D): the samples' total variance is under a quarter of the data's, 4 snapshots
      in a row."""

    kind = "mode_collapse"
    patience = 1  # the forms below carry their own persistence
    window = 8  # snapshots the modes form looks back over
    persistence = 4  # snapshots a form must hold for

    @staticmethod
    def _has_modes(s: Snapshot) -> bool:
        return s.mode_counts is not None and s.mode_counts.shape[0] >= 2 and \
            s.metrics.get("bimodal_dims_real") is None

    def _modes_form(self, history) -> str | None:
        on_data = [s for s in list(history)[-self.window:] if s.near_share >= ON_DATA]
        if len(on_data) < self.persistence:
            return None
        k = len(history[-1].mode_counts)
        captured = [s.captured() for s in on_data]
        if max(captured) <= max(1, k // 2):
            return f"{captured[-1]} of {k} modes"
        return None

    def _form_of(self, history) -> str | None:
        if self._has_modes(history[-1]):
            return self._modes_form(history)
        recent = list(history)[-self.persistence:]
        forms = [self._form(s) for s in recent]
        return forms[-1] if len(recent) == self.persistence and all(forms) else None

    def _form(self, s: Snapshot) -> str | None:
        real_b, fake_b = s.metrics.get("bimodal_dims_real"), s.metrics.get("bimodal_dims_fake")
        if real_b and fake_b is not None and fake_b < real_b:
            held = "" if s.mode_counts is None else \
                f"{s.metrics.get('modes', 1):.0f} of {len(s.mode_counts)} modes: "
            return f"{held}{real_b - fake_b} of {real_b} bimodal coordinates come out unimodal"
        ratio = s.metrics.get("variance_ratio")
        if ratio is not None and ratio < 0.25:
            return f"the samples span {ratio:.0%} of the data's variance"
        return None

    def condition(self, history):
        return self._form_of(history) is not None

    def message(self, history):
        return f"mode collapse at step {history[-1].step:,}: {self._form_of(history)}"


class ModeHopping(Detector):
    """Mode hopping: the generator's main mode (the one holding a majority of the samples near
    a mode, with at least 30% of all samples near one) changes
    at least 3 times within the last 12 snapshots while fewer than all modes are covered.
    Snapshots without a main mode do not count."""

    kind = "mode_hopping"
    patience = 1
    window = 12

    def _dominant(self, history):
        out = []
        for s in list(history)[-self.window:]:
            counts = s.mode_near if s.mode_near is not None else s.mode_counts
            if counts is None or s.near_share < ON_DATA:
                continue  # a main mode only counts when the samples are on the data
            share = counts / counts.sum()
            if share.max() > 0.5:
                out.append(int(np.argmax(share)))
        return out

    def condition(self, history):
        s = history[-1]
        if s.mode_counts is None or s.captured() >= len(s.mode_counts):
            return False
        dom = self._dominant(history)
        return sum(a != b for a, b in zip(dom, dom[1:], strict=False)) >= 3

    def message(self, history):
        dom = self._dominant(history)
        hops = sum(a != b for a, b in zip(dom, dom[1:], strict=False))
        span = history[-1].step - list(history)[-len(dom)].step
        return (f"mode hopping at step {history[-1].step:,}: the generator's main mode changed "
                f"{hops} times in {span:,} steps")


class NonConvergence(Detector):
    """Non-convergence: the samples of the fixed noise batch keep moving: over the last 20
    snapshots, the median distance they moved between two snapshots exceeds 10% of the data's
    scale (a settled GAN moves by 2-5%)."""

    kind = "non_convergence"
    patience = 1
    window = 20
    threshold = 0.1

    def _median_move(self, history) -> float | None:
        recent = [s.moved for s in list(history)[-self.window:] if s.step >= self.warmup]
        return float(np.median(recent)) if len(recent) >= self.window else None

    def condition(self, history):
        moved = self._median_move(history)
        return moved is not None and moved > self.threshold

    def message(self, history):
        return (f"non-convergence at step {history[-1].step:,}: samples keep moving "
                f"({self._median_move(history):.0%} of the data scale per check)")


class Swaying(Detector):
    """Swaying: the fake centroid moves away from the data: its distance from the real centroid
    is at least 2 data scales larger than the smallest it was over the previous 4 snapshots,
    with most fakes (>= 50%) off the data. Swaying happens at the very start of training, when
    D's first slopes can point away from the data, so this detector judges from the first
    snapshot on (the run's step-0 snapshot is the baseline)."""

    kind = "swaying"
    patience = 1
    warmup = 0

    def condition(self, history):
        recent = list(history)[-5:]
        now = recent[-1]
        if len(recent) < 2 or now.off_data is None or now.off_data < 0.5:
            return False
        return now.centroid_gap - min(s.centroid_gap for s in recent[:-1]) >= 2.0

    def message(self, history):
        s = history[-1]
        return (f"swaying at step {s.step:,}: the samples moved away from the data "
                f"({s.centroid_gap:.1f} data scales off)")


class Stuck(Detector):
    """Stuck: at least 90% of the fakes are off the data, D rejects them with near certainty
    (mean D(fake) < 0.02) and G's gradient has all but vanished (norm < 1e-3), for 6 snapshots
    in a row. Only for log losses, whose saturation is what leaves G without a gradient.
    Judged from step 200."""

    kind = "stuck"
    patience = 6
    warmup = 200

    def condition(self, history):
        s = history[-1]
        return (s.probabilistic and s.off_data is not None and s.off_data >= 0.9
                and s.d_fake < 0.02 and s.g_grad_norm < 1e-3)

    def message(self, history):
        return (f"stuck at step {history[-1].step:,}: D saturated outside the data and G gets "
                "no gradient back")


class Forgetting(Detector):
    """Catastrophic forgetting of D, in one of three forms (log losses only):
    - at a mode the generator has left (no fake within a quarter of the data scale of its
      centre for the last 3 snapshots), D's output rises back from <= 0.25 to >= 0.5 within the
      last 10 snapshots: D no longer remembers the fakes it pushed away from there;
    - D's mean output on data-free regions rises back from <= 0.2 to >= 0.5 within the last 10
      snapshots, with no data and no fakes there to teach it otherwise;
    - with data shown one mode at a time, D's output on a mode it was shown within the last 20
      snapshots falls from >= 0.4 to <= 0.15 once the data has moved on: D forgot real data.
    That last form can hold for a whole lesson (each mode forgotten in turn, so it never clears);
    it is flagged again, for another mode than the last flagged one, every `repeat_steps`, so the
    timeline shows the forgetting going on instead of one mark at its start."""

    kind = "catastrophic_forgetting"
    patience = 1
    window = 10
    repeat_steps = 2000

    def __init__(self) -> None:
        super().__init__()
        self._last_step: int | None = None
        self._last_mode: int | None = None

    def observe(self, history):
        now = history[-1]
        if not self.armed and self._last_step is not None \
                and now.step - self._last_step >= self.repeat_steps:
            real = self._forgotten_real_mode(history)
            if real is not None and real[0] != self._last_mode:
                self.armed = True
        event = super().observe(history)
        if event is not None:
            real = self._forgotten_real_mode(history)
            self._last_step, self._last_mode = now.step, None if real is None else real[0]
        return event

    def _risen_mode(self, history):
        recent = [h for h in list(history)[-self.window:] if h.d_at_modes is not None
                  and h.mode_near is not None]
        if len(recent) < 4:
            return None
        low = np.min([h.d_at_modes for h in recent[:-1]], axis=0)
        left = np.all([h.mode_near == 0 for h in recent[-3:]], axis=0)
        hits = np.flatnonzero(left & (low <= 0.25) & (recent[-1].d_at_modes >= 0.5))
        if not len(hits):
            return None
        k = int(hits[0])
        return k, float(low[k]), float(recent[-1].d_at_modes[k])

    def _rising_gaps(self, history):
        vals = [h.d_off_data for h in list(history)[-self.window:] if h.d_off_data is not None]
        if len(vals) < 2 or min(vals[:-1]) > 0.2 or vals[-1] < 0.5:
            return None
        return min(vals[:-1]), vals[-1]

    def _forgotten_real_mode(self, history):
        recent = [h for h in list(history)[-20:] if h.d_at_modes is not None
                  and h.shown_mode is not None]
        if len(recent) < 2:
            return None
        now = recent[-1]
        for k in sorted({h.shown_mode for h in recent} - {now.shown_mode}):
            peak = max(h.d_at_modes[k] for h in recent if h.shown_mode == k)
            if peak >= 0.4 and now.d_at_modes[k] <= 0.15:
                return k, float(peak), float(now.d_at_modes[k])
        return None

    def condition(self, history):
        if not history[-1].probabilistic:
            return False
        return (self._risen_mode(history) is not None or self._rising_gaps(history) is not None
                or self._forgotten_real_mode(history) is not None)

    def message(self, history):
        step = history[-1].step
        real = self._forgotten_real_mode(history)
        if real is not None:
            k, before, after = real
            return (f"catastrophic forgetting at step {step:,}: D forgot that mode {k + 1} is "
                    f"real once the data moved on (D {before:.2f} -> {after:.2f})")
        mode = self._risen_mode(history)
        if mode is not None:
            k, before, after = mode
            return (f"catastrophic forgetting at step {step:,}: D's output on mode {k + 1}, which "
                    f"the generator left, rose back from {before:.2f} to {after:.2f}")
        lo, hi = self._rising_gaps(history)
        return (f"catastrophic forgetting at step {step:,}: D's output between the modes rose "
                f"back from {lo:.2f} to {hi:.2f}")


DETECTORS = (ModeCollapse, ModeHopping, NonConvergence, Swaying, Stuck, Forgetting)


class Monitor:
    """Keeps a run's recent snapshots and runs every detector on each new one."""

    def __init__(self, history: int = 200):
        self.history: deque[Snapshot] = deque(maxlen=history)
        self.detectors = [d() for d in DETECTORS]

    def observe(self, snapshot: Snapshot) -> list[Event]:
        self.history.append(snapshot)
        return [e for d in self.detectors if (e := d.observe(self.history)) is not None]


def divergence_event(step: int, what: str) -> Event:
    """Divergence: a non-finite loss (checked every step) or weight (checked every frame)."""
    return Event(step, "divergence", f"diverged at step {step:,}: non-finite {what}")
