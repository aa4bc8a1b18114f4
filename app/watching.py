"""Who watches each run, and what becomes of runs nobody watches: the part of the registry
(`app.runs.RunRegistry` mixes it in) that counts the owner's pages and the spectators', pauses a
run its owner left, stops it later, and runs the periodic pass (reaper) that also admits queued
runs and sweeps old uploads and fork hand-offs."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from app.limits import Limits, UnknownRun
from app.run_record import Run, idle_for_pause
from gancore.run.worker import STARTUP_S, CommandError

if TYPE_CHECKING:
    from app.backends import Backend
    from app.uploads_store import UploadStore  # imported where the registry makes one

# A fork's child reads its parent's checkpoint at start-up (within STARTUP_S); then it is litter.
FORK_HANDOFF_TTL_S = max(600.0, 2 * STARTUP_S)


class Watching:
    """Watchers and idle runs, for RunRegistry (which owns `_runs`, `backend`, `limits`,
    `runs_dir`, `uploads`, `_queue`, `_closed`, `_release`, `active`, `holding` and
    `_admit_queued`)."""

    # What this mixin reads of its host, declared for the type checker (annotations only: the
    # registry's __init__ sets them).
    runs_dir: Path
    limits: Limits
    backend: Backend
    uploads: UploadStore
    _runs: dict[str, Run]
    _queue: list[str]
    _closed: threading.Event

    if TYPE_CHECKING:  # the host's methods this mixin calls (RunRegistry defines them)
        def active(self, owner: str | None = None) -> list[Run]: ...
        def holding(self, owner: str | None = None) -> list[Run]: ...
        def _admit_queued(self) -> None: ...
        def _release(self, run: Run, why: str) -> None: ...

    def watch(self, run_id: str, viewer: str | None = None, reader: object = None) -> None:
        """A page started watching a run: its owner's (`viewer` None or the owner) or a
        spectator's. Only the owner's pages keep a run from being paused and stopped. `reader`
        is the tab's stream (a shared registry tells the run's worker about it)."""
        run = self._runs.get(run_id)
        if run is None:
            return
        if viewer is None or viewer == run.owner:
            run.watchers += 1
            run.last_watched = time.monotonic()
        else:
            run.spectators += 1
        self.request_picture(run_id)

    def request_picture(self, run_id: str) -> None:
        """A watcher needs a picture now, also of a paused run that has not made one yet. A
        paused worker answers within one poll (50 ms); running and starting ones send frames
        anyway."""
        if self._runs.get(run_id) is None or not self.backend.has(run_id):
            return
        try:
            if self.backend.status(run_id)["state"] == "paused":
                self.backend.command(run_id, "frame")
        except (CommandError, UnknownRun, TimeoutError, RuntimeError):
            pass

    def unwatch(self, run_id: str, viewer: str | None = None) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        if viewer is None or viewer == run.owner:
            run.watchers = max(0, run.watchers - 1)
            run.last_watched = time.monotonic()
        else:
            run.spectators = max(0, run.spectators - 1)

    def watched_within(self, run_id: str, seconds: float) -> bool:
        """Whether an owner's page watches the run, or did within `seconds`."""
        run = self._runs.get(run_id)
        return run is not None and (run.watchers > 0 or
                                    time.monotonic() - run.last_watched < seconds)

    def _reap(self, runs: list[Run], grace: float) -> None:
        now = time.monotonic()
        for r in runs:
            if r.watchers == 0 and now - max(r.last_watched, r.created) > grace:
                self._release(r, "stopped: no page was watching it")

    def _reap_loop(self) -> None:
        while not self._closed.wait(2.0):
            try:
                self._reap_once()
            except Exception:  # noqa: BLE001 - the reaper must outlive any one bad pass
                import traceback

                traceback.print_exc()

    def _reap_once(self) -> None:
        self.backend.share_cores()
        active = self.active()
        self._reap(active, self.limits.idle_stop_s)
        self._drop_fork_handoffs(FORK_HANDOFF_TTL_S)
        self.holding()  # gives back the slots of runs whose process died
        self._admit_queued()
        self.uploads.sweep({r.config.target.data_path for r in self.holding()
                            if r.config.target.data_path} |
                           {path for q in list(self._queue) if q in self._runs
                            and (path := self._runs[q].config.target.data_path)})
        now = time.monotonic()
        for r in active:
            if idle_for_pause(r, now, self.limits.idle_pause_s) and \
                    self.backend.alive(r.run_id):
                try:
                    if self.backend.status(r.run_id)["state"] == "running":
                        self.backend.command(r.run_id, "pause")
                except (CommandError, UnknownRun, TimeoutError, RuntimeError):
                    pass

    def _drop_fork_handoffs(self, older_than_s: float) -> None:
        """Delete fork checkpoints (runs/forks/*.pt) older than this. They are a hand-off: a
        child reads its parent's weights once, at start-up, and a reset starts it afresh."""
        now = time.time()
        for path in (self.runs_dir / "forks").glob("*.pt"):
            try:
                if now - path.stat().st_mtime >= older_than_s:
                    path.unlink()
            except OSError:
                pass  # already gone, or another process holds it: the next pass tries again
