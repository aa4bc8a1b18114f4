"""A watched run's engine side: the user's networks with fixed probes, the phenomenon detectors
and a recording, as `gancore.run.session.Session` has them for a native run, minus the training.

No pacing and no networking here (gancore.watch.watcher decides when to look, gancore.watch.link
sends). Every look at the networks runs inside `_looking`: the user's random streams kept, eval
mode, no autograd except the probes' own input gradients.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from gancore.config import RunConfig
from gancore.frames import STAT_COLUMNS, Frame
from gancore.observe.detectors import Monitor, divergence_event
from gancore.observe.probes import Probes
from gancore.run.session import disk_nearly_full
from gancore.store.recording import Recorder, storage_cause
from gancore.watch.nets import WatchedNets, evaluating, has_lazy, trainable, weights_finite
from gancore.watch.rng import kept_rng
from gancore.watch.sources import WatchedData

if TYPE_CHECKING:
    from gancore.train.trainer import Trainer

D_REAL, D_FAKE = STAT_COLUMNS.index("d_real"), STAT_COLUMNS.index("d_fake")
PROBE_SEED_OFFSET = 104729  # the real batch D is measured on: its own generator, never the user's
D_PROBE = 500  # samples D(real) and D(fake) are measured on: a mean needs no more


class WatchedRun:
    """The probes, detectors and recording of one watched run. `user_nets` are the user's own
    G and D (for eval mode and weights); `nets` wraps them as the probes call them."""

    def __init__(self, cfg: RunConfig, target: WatchedData, nets: WatchedNets, z: np.ndarray,
                 user_nets: tuple[Any, Any], run_id: str, record_path: Path | None,
                 watched: dict[str, str]):
        self.cfg, self.target, self.nets, self.run_id = cfg, target, nets, run_id
        self.user_nets = user_nets
        self.params = [p for n in user_nets for p in trainable(n)]
        self.watched = watched  # the real networks in words: the config cannot say
        n = cfg.frames.samples
        self.probes = Probes(cfg, target, z=torch.from_numpy(np.ascontiguousarray(z[:n])))
        gen = torch.Generator().manual_seed(cfg.train.seed + PROBE_SEED_OFFSET)
        m = min(n, D_PROBE)
        self._real = target.sample_conditional(m, gen) if target.cond_dim else \
            (target.sample(m, gen), None)
        self.state, self.message = "running", ""
        self.events: list[dict] = []
        self.monitor = Monitor()
        self.metrics: dict[str, float] = {}
        self.d_means = (float("nan"), float("nan"))  # D(real), D(fake) at the last check
        self._check_rows: list[np.ndarray] = []
        self._unrecorded: list[np.ndarray] = []
        self.last_row = np.full(len(STAT_COLUMNS), np.nan)
        self.recorder: Recorder | None = None
        self.record_path = record_path
        self.recorded_step = -1

    @property
    def step(self) -> int:
        return self.nets.step_count

    @property
    def ready(self) -> bool:
        """Whether the networks can be looked at: lazy layers initialise on the user's first
        forward pass, from the user's random stream, and a probe must not be that pass."""
        return not has_lazy(*self.user_nets)

    @contextmanager
    def _looking(self) -> Iterator[None]:
        with ExitStack() as stack:
            stack.enter_context(kept_rng())  # a network that draws noise in eval mode too
            stack.enter_context(evaluating(*self.user_nets))
            stack.enter_context(torch.no_grad())
            yield

    def verify(self) -> None:
        """Fail at `watch()`, not minutes later, when G or D do not fit the data: G must give
        (n, dim) and D one value per sample."""
        z, c = self.probes.z[:2], None if self.probes.cond is None else self.probes.cond[:2]
        with self._looking():
            fake = self.nets.G(z, c)
            out = self.nets.D(self.target.x[:2], c)
        if fake.shape != (2, self.target.dim):
            raise ValueError(f"G gives samples of shape {tuple(fake.shape[1:])}, but the data "
                             f"has {self.target.dim} columns")
        if out.shape != (2, 1):
            raise ValueError(f"D gives {out.shape[1]} values per sample; it should give one")

    # ---- scalar rows ----------------------------------------------------------------------
    def add_rows(self, rows: np.ndarray, nonfinite_at: int | None = None) -> None:
        """Take the steps since the last call (R, len(STAT_COLUMNS)). D(real) and D(fake) the user
        did not give are the last check's measurement. `nonfinite_at`: the first step whose
        reported loss was NaN or infinite; it ends the run as diverged (the user's loop goes on:
        watching only stops looking)."""
        if not len(rows):
            return
        for col, value in ((D_REAL, self.d_means[0]), (D_FAKE, self.d_means[1])):
            rows[np.isnan(rows[:, col]), col] = value
        self._check_rows.append(rows)
        self._unrecorded.append(rows)
        self.last_row = rows[-1]
        if nonfinite_at is not None and self.state == "running":
            self._diverge(nonfinite_at, "loss")

    def _diverge(self, step: int, what: str) -> None:
        self.state, self.message = "diverged", f"diverged at step {step:,}"
        e = divergence_event(step, what)
        self.add_event(e.kind, e.message, step)

    def add_event(self, kind: str, message: str, step: int | None = None) -> None:
        event: dict[str, Any] = {"step": self.step if step is None else step, "kind": kind,
                                 "message": message}
        self.events.append(event)
        if self.recorder is not None:
            self.recorder.add_event(event["step"], kind, message)

    # ---- looks at the networks ---------------------------------------------------------------
    def check(self) -> list[dict]:
        """Measure the run and feed the detectors, as Session.check does for a native run."""
        rows = np.concatenate(self._check_rows) if self._check_rows else \
            np.empty((0, len(STAT_COLUMNS)))
        self._check_rows = []
        with self._looking():
            self.d_means = self._measure_d()
            snap = self.probes.snapshot(self._as_trainer(), rows)
        snap.d_real = snap.d_real if np.isfinite(snap.d_real) else self.d_means[0]
        snap.d_fake = snap.d_fake if np.isfinite(snap.d_fake) else self.d_means[1]
        self.metrics = snap.metrics
        fired = [e.as_dict() for e in self.monitor.observe(snap)]
        for e in fired:
            self.add_event(e["kind"], e["message"], e["step"])
        return fired

    def _measure_d(self) -> tuple[float, float]:
        """D's mean output on the fixed real batch and on G's samples of the fixed noise
        (probabilities for a log loss, raw scores for a critic): the D(real)/D(fake) curves when
        the user's step does not report them."""
        x, c = self._real
        z, zc = self.probes.z[:len(x)], None if self.probes.cond is None else \
            self.probes.cond[:len(x)]
        out_real, out_fake = self.nets.D(x, c), self.nets.D(self.nets.G(z, zc), zc)
        if self.nets.loss.probabilistic:
            out_real, out_fake = torch.sigmoid(out_real), torch.sigmoid(out_fake)
        return float(out_real.mean()), float(out_fake.mean())

    def frame(self) -> Frame:
        """A picture of the networks now, with the run's metrics, events and state, as a native
        run's frames carry them."""
        if self.state == "running" and not weights_finite(self.params):
            self._diverge(self.step, "weights")
        with self._looking():
            f = self.probes.frame(self._as_trainer(), None)
        f.scalars.update({k: float(v) for k, v in zip(STAT_COLUMNS[1:], self.last_row[1:],
                                                      strict=True)})
        f.scalars = {**self.metrics, **f.scalars}
        f.meta.update(state=self.state, message=self.message, run_id=self.run_id,
                      events=[e for e in self.events if e["kind"] != "edit"][-50:],
                      watched=self.watched)
        return f

    def _as_trainer(self) -> Trainer:
        # The probes read G, D, loss, adagan and step_count of a Trainer; WatchedNets has those.
        return cast("Trainer", self.nets)

    # ---- recording ----------------------------------------------------------------------------
    def record(self, frame: Frame) -> None:
        """Append the rows so far and this frame to the recording (started by the first one). A
        write that fails stops the recording, with an event that says why; the run goes on."""
        if self.record_path is None:
            return
        try:
            if disk_nearly_full(self.record_path.parent):  # HDF5 may crash on a full disk
                raise OSError(errno.ENOSPC, "No space left on device")
            if self.recorder is None:
                self.recorder = Recorder(self.record_path, self.cfg.to_json(), STAT_COLUMNS,
                                         run_id=self.run_id, label=self.watched["name"])
                for e in self.events:
                    self.recorder.add_event(e["step"], e["kind"], e["message"])
            if self._unrecorded:
                self.recorder.append_scalars(np.concatenate(self._unrecorded))
                self._unrecorded = []
            self.recorder.append_frame(frame)
            self.recorded_step = frame.step
        except OSError as e:
            self._stop_recording(e)

    def _stop_recording(self, e: OSError) -> None:
        recorder, self.recorder, self.record_path = self.recorder, None, None
        self.add_event("recording", f"{storage_cause(e)}: the recording stopped at step "
                                    f"{self.step:,}")
        if recorder is not None:
            try:
                recorder.close()
            except Exception:  # noqa: BLE001 - the file is as complete as it can be
                pass

    def close(self) -> Path | None:
        """Flush and close the recording; a run that never trained a step leaves no file."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        try:
            if self._unrecorded:
                recorder.append_scalars(np.concatenate(self._unrecorded))
                self._unrecorded = []
            recorder.close()
        except OSError:
            return None
        if self.step == 0:
            recorder.path.unlink(missing_ok=True)
            return None
        return recorder.path

