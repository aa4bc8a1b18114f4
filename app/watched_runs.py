"""Runs that a researcher's own training script streams into this dashboard (gancore.watch, over
the routes of app.watch_ingest): per run its Mailbox (what tabs read), its write key, its state
and last post, and the dashboard's own recording of it in the runs folder.

A watched run is watch-only: no browser session owns it, so every page is a spectator and every
control that would act on it is refused with `WatchOnly`. `WatchedRegistry` is the run registry
with the watched runs routed in: the stream route, the play page and the class view ask the
registry as for any run (get, status, newest, wait, live, pictures) and get the watched store's
answer for a watched id. The posts are the scripts' business; the dashboard trains nothing and
opens no path a script names.
"""

from __future__ import annotations

import builtins
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeGuard

import numpy as np

from app.limits import Limits
from app.run_record import Run
from app.runs import RunRegistry
from app.watch_recording import WatchRecording
from gancore.config import ConfigError, RunConfig
from gancore.frames import Frame
from gancore.run.mailbox import Mailbox
from gancore.watch_headers import KEY_HEADER

WATCH_SILENT_S = 30.0  # a script that stopped posting this long without /end: "failed"
MAX_WATCHED = 8  # watched runs posting at once (they cost this process memory, not a CPU)
ENDED_KEPT = 32  # ended watched runs kept for their pages (and 409s); older ones are dropped
NAME_CHARS = 80
MESSAGE_CHARS = 300
END_STATES = ("done", "failed", "diverged", "stopped")
RATE_WINDOW_S = 1.0  # steps/s is measured over posts at least this far apart
RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}")  # what `new_run_id` makes
WATCH_OWNER = "watch-script:"  # a watched run's owner: no browser session id looks like it


def new_run_id() -> str:
    """A run id as the registry makes them (time, then 6 random hex digits): `RUN_ID`."""
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def silent_after_s() -> float:
    """WATCH_SILENT_S, or GANSCOPE_WATCH_SILENT_S (a test waits seconds, not half a minute)."""
    try:
        return max(0.5, float(os.environ.get("GANSCOPE_WATCH_SILENT_S") or WATCH_SILENT_S))
    except ValueError:
        return WATCH_SILENT_S


def max_watched() -> int:
    try:
        return max(1, int(os.environ.get("GANSCOPE_MAX_WATCHED") or MAX_WATCHED))
    except ValueError:
        return MAX_WATCHED


class WatchRefused(Exception):
    """A post the dashboard refuses: `status` is the HTTP status, the text says why in words a
    script's author can act on (no server paths)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def check_key(given: str | None, expected: str) -> None:
    """A post's run key against the one its registration answered (in constant time), for both
    backends' stores: WatchRefused 403 when it is wrong or missing."""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise WatchRefused(403, f"wrong or missing {KEY_HEADER} for this run: use the key that "
                                "POST /api/watch answered")


class WatchOnly(PermissionError):
    """A control (pause, step, edit, fork, stop) asked of a run its own script trains."""


@dataclass(eq=False)
class ScriptRun(Run):
    """A watched run as the pages know it: `script` is the name its script gave."""

    script: str = ""


def watch_only_words(run: ScriptRun) -> str:
    """What a page opening a watched run says of it."""
    return (f"watch-only: trained by {run.script}'s own script; this page shows what the "
            "script sends.")


def refused_words(run: ScriptRun) -> str:
    """The answer to a control (pause, step, edit, fork, reset) asked of a watched run."""
    return (f"watch-only: {run.script}'s own script trains this run, so pause, step, edits "
            "and forks act in that script, not from this page.")


def is_watched(run: Run) -> TypeGuard[ScriptRun]:
    return isinstance(run, ScriptRun)


class WatchedRun:
    """One watched run in this process: what its script posted, for the tabs (mailbox) and the
    dashboard's recording."""

    def __init__(self, record: ScriptRun, key: str, recording: WatchRecording | None,
                 steps_per_s: float):
        self.record, self.key, self.recording = record, key, recording
        self.mailbox = Mailbox()
        self.lock = threading.Lock()
        self.state, self.message = "running", ""
        self.step = 0
        self.steps_per_s = steps_per_s
        self.last_post = time.monotonic()
        self.ended_at: float | None = None
        self._rate_from = (self.last_post, 0)
        self._pending: list[np.ndarray] = []  # rows that wait for the next frame (Mailbox.put)
        self._last_frame: tuple[bytes, Frame] | None = None

    @property
    def ended(self) -> bool:
        return self.state in END_STATES

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def kind(self) -> str:
        return self.record.kind

    def status(self) -> dict[str, Any]:
        message = self.message
        if not message and self.recording is not None and self.recording.problem:
            message = f"not recorded: {self.recording.problem}"[:MESSAGE_CHARS]
        return {"state": self.state, "message": message, "step": self.step,
                "steps_per_s": round(self.steps_per_s, 2), "alive": False, "pid": None,
                "attempt": 1}

    def post(self, rows: np.ndarray, frame: tuple[bytes, Frame] | None,
             step: int | None) -> int:
        """Rows since the previous post and, when given, the newest frame (already checked).
        Returns how many pages show the run now (the script paints faster while any does)."""
        with self.lock:
            if self.ended:
                raise WatchRefused(409, f"this run has ended ({self.state}); start a new one "
                                        "with POST /api/watch")
            now = time.monotonic()
            self.last_post = now
            newest = newest_step(rows, frame, step, self.step)
            self.steps_per_s, self._rate_from = measured_rate(
                self.steps_per_s, self._rate_from, now, newest)
            self.step = max(self.step, newest)
            if len(rows):
                self._pending.append(rows)
                if self.recording is not None:
                    self.recording.rows(rows)
            if frame is not None:
                self._last_frame = frame
                self._publish(frame[0])
                if self.recording is not None:
                    self.recording.frame(frame[1])
            return self.record.watchers + self.record.spectators

    def _publish(self, frame_bytes: bytes) -> None:
        rows = np.concatenate(self._pending) if self._pending else np.zeros((0, 0))
        self._pending = []
        self.mailbox.put(frame_bytes, rows)

    def end(self, state: str, message: str) -> None:
        with self.lock:
            if self.ended:
                raise WatchRefused(409, f"this run has ended already ({self.state})")
            self._finish(state, message)

    def fail_if_silent(self, now: float, silent_s: float) -> None:
        with self.lock:
            if not self.ended and now - self.last_post > silent_s:
                self._finish("failed", silent_words(self.step))

    def _finish(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.ended_at = time.monotonic()
        self.record.ended = message or state
        if self._last_frame is not None and self._pending:
            self._publish(self._last_frame[0])  # the rows after the last frame reach the charts
        if self.recording is not None:
            self.recording.finish(self._last_frame[1] if self._last_frame else None,
                                  self.step, state, message)


def silent_words(step: int) -> str:
    return f"the training script stopped sending (last step {step})"


def newest_step(rows: np.ndarray, frame: tuple[bytes, Frame] | None, step: int | None,
                before: int) -> int:
    """The step a post brings the run to: the step header, else its last row's, else its
    frame's."""
    if step is not None:
        return step
    if len(rows):
        return int(rows[-1, 0])
    return frame[1].step if frame is not None else before


def measured_rate(rate: float, since: tuple[float, int], now: float, step: int
                  ) -> tuple[float, tuple[float, int]]:
    """Steps/s over posts at least RATE_WINDOW_S apart, smoothed: (rate, new window start)."""
    at, at_step = since
    if now - at < RATE_WINDOW_S or step < at_step:
        return rate, since
    measured = (step - at_step) / (now - at)
    return (measured if rate <= 0 else 0.5 * (rate + measured)), (now, step)


class WatchedHandle(Protocol):
    """What the watch routes need of one watched run, in this process or through Redis."""

    key: str
    state: str

    @property
    def ended(self) -> bool: ...
    @property
    def run_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    def post(self, rows: np.ndarray, frame: tuple[bytes, Frame] | None,
             step: int | None) -> int: ...  # pages showing the run now
    def end(self, state: str, message: str) -> None: ...


class WatchStore(Protocol):
    """The watched runs as the watch routes use them (WatchedRuns; app.watched_shared)."""

    def start(self, name: str, config_json: str, steps_per_s: float = 0.0) -> WatchedHandle: ...
    def authorized(self, run_id: str, key: str | None) -> WatchedHandle: ...


def new_recording(record: ScriptRun) -> WatchRecording:
    """The dashboard's recording of a new watched run; WatchRefused when none can be made."""
    try:
        return WatchRecording(record.record_path, record.config.to_json(), record.run_id,
                              record.config.frames.record_every, label=record.script)
    except OSError:
        raise WatchRefused(507, "the dashboard cannot write this run's recording (its runs "
                                "folder is full or read-only)") from None


class WatchedRuns:
    """Every watched run of this web process, by id; starts them within MAX_WATCHED at once
    (checked and taken under one lock) and fails the silent ones (`expire_silent`)."""

    def __init__(self, runs_dir: str | Path, max_runs: int | None = None,
                 silent_s: float | None = None):
        self.runs_dir = Path(runs_dir)
        self.max_runs = max_runs or max_watched()
        self.silent_s = silent_s or silent_after_s()
        self._runs: dict[str, WatchedRun] = {}
        self._lock = threading.Lock()

    def find(self, run_id: str) -> WatchedRun | None:
        return self._runs.get(run_id)

    def live(self) -> list[WatchedRun]:
        return [w for w in list(self._runs.values()) if not w.ended]

    def start(self, name: str, config_json: str, steps_per_s: float = 0.0) -> WatchedRun:
        """A new watched run, its recording made in the runs folder. WatchRefused: a bad
        config (400) or the dashboard already shows its MAX_WATCHED (429)."""
        try:
            cfg = RunConfig.from_json(config_json)
        except ConfigError as e:
            raise WatchRefused(400, f"config: {e}") from None
        with self._lock:  # the check and the reservation in one step
            self._drop_old_ended()
            if len(self.live()) >= self.max_runs:
                raise WatchRefused(429, f"this dashboard already shows {self.max_runs} watched "
                                        "runs (its most at once); end one, or try again when "
                                        "one finishes")
            run_id = new_run_id()
            record = ScriptRun(run_id, WATCH_OWNER + run_id, cfg,
                               str(self.runs_dir / f"{run_id}.h5"), script=name)
            watched = WatchedRun(record, secrets.token_urlsafe(32),
                                 new_recording(record), steps_per_s)
            self._runs[run_id] = watched
        return watched

    def authorized(self, run_id: str, key: str | None) -> WatchedRun:
        """The run a post names, if its key is right: WatchRefused 404 or 403 otherwise."""
        watched = self._runs.get(run_id) if RUN_ID.fullmatch(run_id) else None
        if watched is None:
            raise WatchRefused(404, f"no watched run {run_id[:64]!r} on this dashboard (it "
                                    "was never started here, or ended long ago)")
        check_key(key, watched.key)
        return watched

    def expire_silent(self) -> None:
        now = time.monotonic()
        for w in self.live():
            w.fail_if_silent(now, self.silent_s)

    def _drop_old_ended(self) -> None:
        ended = sorted((w for w in self._runs.values() if w.ended),
                       key=lambda w: w.ended_at or 0.0)
        for w in ended[:max(0, len(ended) - ENDED_KEPT)]:
            del self._runs[w.record.run_id]

    def close(self) -> None:
        for w in list(self._runs.values()):
            with w.lock:
                if not w.ended:
                    w._finish("stopped", "the dashboard was shut down")


class WatchedRegistry(RunRegistry):
    """The run registry with the watched runs routed in (see the module docstring): a watched
    id is answered by `watched`, any other by the registry as before."""

    def __init__(self, runs_dir: str | Path, limits: Limits, backend: Any,
                 watched: WatchedRuns):
        self.watched = watched  # before the registry's reaper thread can ask for it
        super().__init__(runs_dir, limits, backend)

    def get(self, run_id: str) -> Run:
        w = self.watched.find(run_id)
        return w.record if w is not None else super().get(run_id)

    def status(self, run_id: str) -> dict[str, Any]:
        w = self.watched.find(run_id)
        return w.status() if w is not None else super().status(run_id)

    def newest(self, run_id: str, reader: object = "default") -> tuple[bytes, np.ndarray] | None:
        w = self.watched.find(run_id)
        return w.mailbox.take(reader) if w is not None else super().newest(run_id, reader)

    def history(self, run_id: str, before_step: int
                ) -> builtins.list[tuple[int, dict[str, float]]]:
        w = self.watched.find(run_id)
        return w.mailbox.history(before_step) if w is not None else \
            super().history(run_id, before_step)

    def wait(self, run_id: str, timeout: float, reader: object = "default") -> bool:
        w = self.watched.find(run_id)
        return w.mailbox.wait(timeout, reader) if w is not None else \
            super().wait(run_id, timeout, reader)

    def forget_reader(self, run_id: str, reader: object) -> None:
        w = self.watched.find(run_id)
        if w is not None:
            w.mailbox.forget(reader)
        else:
            super().forget_reader(run_id, reader)

    def watch(self, run_id: str, viewer: str | None = None, reader: object = None) -> None:
        w = self.watched.find(run_id)
        if w is not None:
            w.record.spectators += 1  # nobody's page keeps a script's run going
        else:
            super().watch(run_id, viewer, reader)

    def unwatch(self, run_id: str, viewer: str | None = None) -> None:
        w = self.watched.find(run_id)
        if w is not None:
            w.record.spectators = max(0, w.record.spectators - 1)
        else:
            super().unwatch(run_id, viewer)

    def request_picture(self, run_id: str) -> None:
        if self.watched.find(run_id) is None:  # a script sends its pictures by itself
            super().request_picture(run_id)

    def live(self) -> builtins.list[Run]:
        runs = super().live() + [w.record for w in self.watched.live()]
        return sorted(runs, key=lambda r: r.created)

    def pictures(self, run_ids: builtins.list[str]) -> dict[str, tuple[int, bytes]]:
        out = super().pictures([r for r in run_ids if self.watched.find(r) is None])
        for r in run_ids:
            w = self.watched.find(r)
            if w is not None and (peeked := w.mailbox.peek()) is not None:
                out[r] = peeked
        return out

    def _owned(self, owner: str, run_id: str) -> Run:
        w = self.watched.find(run_id)
        if w is not None:
            raise WatchOnly(refused_words(w.record))
        return super()._owned(owner, run_id)

    def _reap_once(self) -> None:
        self.watched.expire_silent()
        super()._reap_once()

    def close(self) -> None:
        self.watched.close()
        super().close()
