"""A run in one object: trainer + probes + recorder, with live edits and divergence handling.

The worker process drives a Session; the CLI drives one directly. No networking here.
"""

from __future__ import annotations

import errno
import math
import shutil
from pathlib import Path

import numpy as np
import torch

from gancore.config import RunConfig, changed_paths, get_path, restart_fields
from gancore.data.targets import build_target
from gancore.frames import STAT_COLUMNS, Frame
from gancore.observe.detectors import Monitor, divergence_event
from gancore.observe.probes import Probes
from gancore.store.recording import Recorder, storage_cause
from gancore.train.checkpoint import load_state
from gancore.train.trainer import StepStats
from gancore.train.vae import make_trainer
from gancore.vocabulary import SESSION_ENDS, SESSION_STATES

STATES = SESSION_STATES


class RestartRequired(Exception):
    """The change touches restart fields; the caller starts a child run instead."""

    def __init__(self, fields: list[str]):
        super().__init__(f"restart needed: {', '.join(fields)} cannot change while the run "
                         "trains; start a child run")
        self.fields = fields


class Session:
    """Trains, makes frames, records; stops itself as "diverged at step N" on non-finite values."""

    def __init__(self, cfg: RunConfig, run_id: str = "run", record_path: str | Path | None = None,
                 parent: str | None = None, fork_step: int | None = None,
                 init_from: str | Path | None = None, owner: str = ""):
        self.cfg, self.run_id = cfg, run_id
        self.parent, self.fork_step = parent, fork_step
        self.trainer = make_trainer(cfg)
        # A fork beside its parent starts from the parent's saved state (what still fits).
        self.inherited = load_state(self.trainer, init_from) if init_from else ""
        self.probes = Probes(cfg, self.trainer.target)
        self.state = "paused"
        self.message = ""
        self.events: list[dict] = []
        self.last_stats: StepStats | None = None
        self._rows: list[list[float]] = []  # scalar rows not yet handed to a frame consumer
        self._unrecorded: list[list[float]] = []  # scalar rows not yet in the recording
        self._check_rows: list[list[float]] = []  # scalar rows since the last metric check
        self.monitor = Monitor()
        self.metrics: dict[str, float] = {}  # latest snapshot metrics, carried by every frame
        self.recorder = None
        self.check()  # step 0: the baseline the detectors compare the first moves against
        if record_path is not None:
            try:
                self.recorder = Recorder(record_path, cfg.to_json(), STAT_COLUMNS,
                                         parent=parent, fork_step=fork_step, run_id=run_id,
                                         owner=owner)
            except OSError as e:
                raise RecordingUnavailable(storage_problem(e, 0, "could not start")) from None
            self._record_frame()
        if self.inherited:
            self.add_event("fork", f"forked from {parent or 'its parent'}: {self.inherited}")

    @property
    def step(self) -> int:
        return self.trainer.step_count

    @property
    def finished(self) -> bool:
        return self.state in SESSION_ENDS

    # ---- training ---------------------------------------------------------------------------
    def train(self, n: int, which: str = "both") -> int:
        """Up to n steps; fewer when the run diverges or reaches max_steps. Returns steps run."""
        done = 0
        every = self.cfg.frames.record_every
        for _ in range(n):
            if self.finished:
                break
            stats = self.trainer.step(which)
            self.last_stats = stats
            row = stats.as_row()
            self._rows.append(row)
            self._unrecorded.append(row)
            self._check_rows.append(row)
            done += 1
            if not stats.finite():
                self._diverge("loss")
                break
            if self.step % self.cfg.frames.metrics_every == 0:
                self.check()
            if self.recorder is not None and self.step % every == 0:
                self._record_frame()
            if self.cfg.max_steps and self.step >= self.cfg.max_steps:
                self.state = "done"
                self.message = f"finished at step {self.step:,}"
                self._record_frame()
        return done

    def weights_finite(self) -> bool:
        params = [*self.trainer.g_params, *self.trainer.d_params]
        return bool(torch.isfinite(torch.stack(torch._foreach_norm(params))).all())

    def guard_weights(self) -> None:
        """A run whose weights went non-finite stops as diverged (checked at frame cadence)."""
        if not self.finished and not self.weights_finite():
            self._diverge("weights")

    def _diverge(self, what: str) -> None:
        self.state = "diverged"
        self.message = f"diverged at step {self.step:,}"
        event = divergence_event(self.step, what)
        self.add_event(event.kind, event.message)
        self._record_frame()

    def check(self) -> list[dict]:
        """Measure the run, feed the phenomenon detectors, keep their events."""
        rows = np.asarray(self._check_rows, dtype=np.float64).reshape(-1, len(STAT_COLUMNS))
        self._check_rows = []
        snap = self.probes.snapshot(self.trainer, rows)
        self.metrics = snap.metrics
        fired = [e.as_dict() for e in self.monitor.observe(snap)]
        for e in fired:
            self.add_event(e["kind"], e["message"])
        return fired

    # ---- frames -------------------------------------------------------------------------------
    def frame(self) -> Frame:
        """A picture of the run now, with its run id, state and message in the scalars/meta."""
        self.guard_weights()
        f = self._decorated_frame()
        f.meta["run_id"] = self.run_id
        f.meta["message"] = self.message
        return f

    def _decorated_frame(self) -> Frame:
        """A frame with the latest snapshot metrics and the run's events (what the timeline
        marks); the frame's own cheap metrics win over older snapshot values."""
        f = self.probes.frame(self.trainer, self.last_stats)
        f.scalars = {**self.metrics, **f.scalars}
        f.meta["state"] = self.state
        f.meta["events"] = [e for e in self.events if e["kind"] != "edit"][-50:]
        return f

    def take_rows(self) -> np.ndarray:
        """Scalar rows since the last call: every step's losses, none dropped."""
        rows = np.asarray(self._rows, dtype=np.float64).reshape(-1, len(STAT_COLUMNS))
        self._rows = []
        return rows

    def _record_frame(self) -> None:
        if self.recorder is None:
            return
        try:
            if disk_nearly_full(self.recorder.path.parent):
                raise OSError(errno.ENOSPC, "No space left on device")
            if self._unrecorded:
                self.recorder.append_scalars(np.asarray(self._unrecorded, dtype=np.float64))
                self._unrecorded = []
            self.recorder.append_frame(self._decorated_frame())
        except OSError as e:
            self._storage_failed(e)

    def _storage_failed(self, e: OSError) -> None:
        """The recording cannot grow (disk full, folder gone or read-only): the run stops as
        failed with a message that says so, and what was recorded stays readable. The writer is
        dropped without another write: HDF5 after a failed write took a worker down with
        SIGSEGV."""
        self.state = "failed"
        self.message = storage_problem(e, self.step)
        self.events.append({"step": self.step, "kind": "recording", "message": self.message})
        recorder, self.recorder = self.recorder, None
        try:
            if recorder is not None:
                recorder.close()
        except Exception:  # noqa: BLE001 - the file is already as complete as it can be
            pass

    # ---- edits --------------------------------------------------------------------------------
    def update(self, new: RunConfig) -> list[str]:
        """Apply a config whose changes are all live; returns the changed fields. Raises
        RestartRequired (and changes nothing) when a restart field changed."""
        restart = restart_fields(self.cfg, new)
        if restart:
            raise RestartRequired(restart)
        changed = changed_paths(self.cfg, new)
        if not changed:
            return []
        old = self.cfg
        target = None
        if any(p.startswith("target.") for p in changed):
            target = build_target(new)  # ValueError names the bad parameter; nothing changed yet
        self.trainer.apply_live(new, target)
        self.cfg = new
        if target is not None or "frames.projection" in changed:
            self.probes = Probes(new, self.trainer.target)
        for p in changed:
            self.add_event("edit", f"{p}: {_short(get_path(old.model_dump(), p))} -> "
                                   f"{_short(get_path(new.model_dump(), p))}")
        if self.state == "done" and (not new.max_steps or self.step < new.max_steps):
            self.state, self.message = "paused", ""
        return changed

    def add_event(self, kind: str, message: str) -> None:
        event = {"step": self.step, "kind": kind, "message": message}
        self.events.append(event)
        if self.recorder is not None:
            self.recorder.add_event(self.step, kind, message)

    def close(self) -> None:
        """Flush and close the recording. A run that never trained a step leaves none: every
        page visit starts a run, and the library filled with 0-step files (72 in 45 minutes)."""
        if self.recorder is None:
            return
        if self._unrecorded:
            self._record_frame()
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return  # the last write failed and stopped the recording
        try:
            recorder.close()
        except OSError:
            return
        if self.step == 0:
            recorder.path.unlink(missing_ok=True)


class RecordingUnavailable(OSError):
    """The run's recording cannot be created (disk full, runs folder not writable)."""


# Below this much free space a recording stops before it writes (a frame of the largest run is
# a few MB; HDF5 that runs out of space mid-write can crash the process instead of raising).
MIN_FREE_BYTES = 8 * 1024 * 1024


def disk_nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < MIN_FREE_BYTES
    except OSError:
        return False  # the write itself will say what is wrong


def storage_problem(e: OSError, step: int, what: str = "stopped") -> str:
    """One line for a failed recording write that names the cause and never a server path."""
    return f"{storage_cause(e)}: the recording {what} at step {step:,}"


def _short(v) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:g}"
    text = str(v)
    return text if len(text) <= 40 else text[:37] + "..."
