"""The run registry: who owns each run, how many may train, the queue for a full machine, and
who watches what. It sits on the `Backend` interface (app.backends): start, restart, command,
newest frame, status, stop; `app.backends.local` runs one spawned worker process per run.
"""

from __future__ import annotations

import builtins
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.backends import Backend
from app.backends.local import LocalBackend
from app.groups import GroupBoard
from app.limits import LimitError, Limits, ServerFull, UnknownRun, owner_tag
from app.run_record import Run, ordinal, page_gone, watched_once
from app.watching import Watching
from gancore.config import RunConfig, changed_paths, restart_fields
from gancore.run.worker import CommandError, RunSpec

if TYPE_CHECKING:
    from app.uploads_store import SavedUpload

ROOM_WAIT_S = 4.0  # how long a new run waits for the runs of a page that was just left
MAX_QUEUE = 64  # runs waiting for a slot at most: two classes of 30, each waiting once

class RunRegistry(Watching):
    """Runs by id with their owner (a browser session id); limits per session and overall.

    Admission is one step under one lock: a run reserves its slot (`Run.slot`) before its
    process starts, so concurrent starts never pass the limits (12 simultaneous starts from one
    session gave 7 runs when the check and the registration were apart). A run that finds the
    machine full waits in a first-come queue whose place its page shows; it starts when a slot
    frees. Data files are opened only when this server stored them for the same session
    (`uploads`): a config from a link, a form or a client store never names a server path.
    """

    def __init__(self, runs_dir: str | Path = "runs", limits: Limits | None = None,
                 backend: Backend | None = None):
        from app.uploads_store import UploadStore

        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()
        self.backend = backend or LocalBackend()
        self.uploads = UploadStore(self.runs_dir / "uploads", self.limits.upload_bytes)
        self._runs: dict[str, Run] = {}
        self._queue: list[str] = []  # run ids waiting for a slot, first come first
        self._released: list[float] = []  # when slots freed lately (the queue's estimate)
        self.groups = GroupBoard()  # compare pages' groups playing (app.lockstep)
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, daemon=True)
        self._reaper.start()

    # ---- queries -------------------------------------------------------------------------
    def get(self, run_id: str) -> Run:
        try:
            return self._runs[run_id]
        except KeyError:
            raise UnknownRun(f"no run {run_id!r}") from None

    def runs(self) -> list[Run]:
        """Every run this registry has started, with or without a process now."""
        return list(self._runs.values())

    def active(self, owner: str | None = None) -> list[Run]:
        """Runs that hold a worker process (and so a share of the CPU)."""
        return [r for r in list(self._runs.values()) if self.backend.alive(r.run_id)
                and (owner is None or r.owner == owner)]

    def alive(self, run_id: str) -> bool:
        """Whether the run's process is up (it may be paused, finished or starting)."""
        return self.backend.alive(run_id)

    def holding(self, owner: str | None = None) -> list[Run]:
        """Runs that hold a slot: started, starting, or reserved a moment before their start.
        A slot whose process died is given back here."""
        out = []
        for r in list(self._runs.values()):
            if r.slot and self.backend.has(r.run_id) and not self.backend.alive(r.run_id):
                self._free_slot(r)
            if r.slot and (owner is None or r.owner == owner):
                out.append(r)
        return out

    # Below this method, `list` in an annotation names it (class scope): they say builtins.list.
    def list(self, owner: str) -> list[dict[str, Any]]:
        """This session's runs, as `/api/runs` shows them: no process ids, no server paths, and
        nothing of other sessions' runs."""
        out = []
        for r in list(self._runs.values()):
            if r.owner != owner:
                continue
            status = {k: v for k, v in self.status(r.run_id).items() if k != "pid"}
            out.append({"run_id": r.run_id, "owner_is_you": True, "parent": r.parent,
                        "fork_step": r.fork_step, "preset": r.preset, "kind": r.kind,
                        "watchers": r.watchers, "spectators": r.spectators,
                        "config": r.config.to_json(),
                        "recording": Path(r.record_path).name if r.record_path else None,
                        **status})
        return out

    def live(self) -> builtins.list[Run]:
        """Every session's runs that hold a slot or wait for one, oldest first: the class view's
        list (app.class_summary). Whoever asks is no reader and no watcher of them."""
        with self._lock:
            runs = [r for r in self._runs.values() if not r.ended and (r.slot or r.queued)]
        return sorted(runs, key=lambda r: r.created)

    def pictures(self, run_ids: builtins.list[str]) -> dict[str, tuple[int, bytes]]:
        """{run id: (sequence number, newest frame)}, peeked (see `Backend.pictures`)."""
        return self.backend.pictures(run_ids)

    def status(self, run_id: str) -> dict[str, Any]:
        run = self.get(run_id)
        if run.queued:
            return {"state": "queued", "message": self._queue_words(run), "step": 0,
                    "steps_per_s": 0.0, "alive": False, "pid": None}
        if not self.backend.has(run_id):
            return {"state": "stopped" if run.ended else "starting",
                    "message": run.ended or "", "step": 0,
                    "steps_per_s": 0.0, "alive": False, "pid": None}
        return self.backend.status(run_id)

    def newest(self, run_id: str, reader: object = "default") -> tuple[bytes, np.ndarray] | None:
        """The newest frame `reader` has not seen, with every row since its last read."""
        return self.backend.newest(run_id, reader)

    def history(self, run_id: str, before_step: int
                ) -> builtins.list[tuple[int, dict[str, float]]]:
        """The metrics of the run's frames before `before_step`, for a page that joins late."""
        return self.backend.history(run_id, before_step)

    def wait(self, run_id: str, timeout: float, reader: object = "default") -> bool:
        return self.backend.wait(run_id, timeout, reader)

    def forget_reader(self, run_id: str, reader: object) -> None:
        self.backend.forget(run_id, reader)

    # ---- the queue -------------------------------------------------------------------------
    def queue_place(self, run_id: str) -> int | None:
        with self._lock:
            return self._queue.index(run_id) + 1 if run_id in self._queue else None

    def _queue_words(self, run: Run) -> str:
        """"2nd in line, about 40 s": the estimate from how often slots freed lately."""
        place = self.queue_place(run.run_id)
        if place is None:
            return "starting"
        words = f"{ordinal(place)} in line"
        now = time.monotonic()
        recent = [t for t in self._released if now - t < 600]
        if len(recent) >= 2:
            every = (recent[-1] - recent[0]) / (len(recent) - 1)
            words += f", about {max(5, round(place * every / 5) * 5):.0f} s"
        return words

    def _admit_queued(self) -> None:
        """Start queued runs while slots are free, first come first; drop the queued runs whose
        page was closed."""
        starting = []
        now = time.monotonic()
        with self._lock:
            for run_id in list(self._queue):
                run = self._runs.get(run_id)
                if run is None or run.ended or (
                        run.watchers == 0 and now - run.last_watched > 5.0
                        and page_gone(run, now)):
                    self._queue.remove(run_id)
                    if run is not None:
                        run.queued = False
                        run.ended = run.ended or "left the queue: its page was closed"
            if self._queue and len(self.holding()) >= self.limits.total:
                self._take_back_closed(self.holding(), 2.0, "stopped: no page was watching it")
            while self._queue and len(self.holding()) < self.limits.total:
                run = self._runs[self._queue.pop(0)]
                run.queued, run.slot = False, True
                run.created = time.monotonic()  # its page-load grace starts now
                starting.append(run)
        for run in starting:
            self._launch(run)

    # ---- lifecycle -------------------------------------------------------------------------
    def _new_id(self) -> str:
        return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)

    def _new_run(self, owner: str, cfg: RunConfig, **kw: Any) -> Run:
        run = Run(self._new_id(), owner, cfg, "", **kw)
        run.record_path = str(self.runs_dir / f"{run.run_id}.h5")
        return run

    def start(self, owner: str, cfg: RunConfig, *, autoplay: bool = False,
              preset: str | None = None, allowance: int | None = None,
              parent: str | None = None, fork_step: int | None = None,
              init_from: str | None = None, queue: bool = True) -> Run:
        """A new run in its own process. LimitError when the session has its share already;
        when the machine is full the run waits in the queue (ServerFull if `queue` is False).
        `allowance` replaces the per-session limit (the compare page asks for per_compare)."""
        self.uploads.check_config(owner, cfg)
        try:
            self._wait_for_room(owner, allowance)
        except ServerFull:
            if not queue:
                raise
        with self._lock:  # the reservation: check and take the slot in one step
            try:
                self._check_limits(owner, allowance)
                full = False
            except ServerFull:
                if not queue:
                    raise
                full = True
            if full and len(self._queue) >= MAX_QUEUE:  # new sessions are free to make
                raise ServerFull(f"the server is full and {len(self._queue)} runs are waiting "
                                 "for a slot; try again in a few minutes")
            run = self._new_run(owner, cfg, parent=parent, fork_step=fork_step, preset=preset,
                                autoplay=autoplay, init_from=init_from)
            run.slot, run.queued = not full, full
            self._runs[run.run_id] = run
            if full:
                self._queue.append(run.run_id)
        if not full:
            self._launch(run)
        return run

    def _launch(self, run: Run) -> None:
        """Start the process of a run that holds a slot; a start that fails frees it."""
        try:
            self.backend.start(RunSpec(run.run_id, run.config.to_json(), run.record_path,
                                       run.parent, run.fork_step, autoplay=run.autoplay,
                                       init_from=run.init_from,
                                       uploads_dir=str(self.uploads.folder),
                                       owner_tag=owner_tag(run.owner)))
        except Exception:
            with self._lock:
                self._runs.pop(run.run_id, None)
                self._free_slot(run)
            raise

    def _free_slot(self, run: Run) -> None:
        if run.slot:
            run.slot = False
            self._released = [*self._released[-9:], time.monotonic()]

    def _release(self, run: Run, why: str) -> None:
        """End a run's process (its recording stays) and give its slot to the queue."""
        run.ended = run.ended or why
        with self._lock:
            self._free_slot(run)
            if run.run_id in self._queue:
                self._queue.remove(run.run_id)
                run.queued = False
        self.backend.stop(run.run_id)
        if self._queue:
            threading.Thread(target=self._admit_queued, daemon=True).start()

    def _wait_for_room(self, owner: str, allowance: int | None) -> None:
        """A page that was just left frees its runs when its socket closes, which can take a
        moment longer than the next page (in the same tab) takes to ask for a run: while a run
        that a page watches, or watched a moment ago, holds the room, retry for a few seconds."""
        deadline = time.monotonic() + ROOM_WAIT_S
        while True:
            try:
                with self._lock:
                    self._check_limits(owner, allowance)
                return
            except LimitError:
                # Room may come from this session's own page being left (its socket still open
                # a moment: watchers > 0), or from any page left a moment ago. Other students'
                # pages watching their runs free nothing: a full class queued each newcomer
                # only after the whole wait (4 s per open, a web thread held meanwhile).
                now = time.monotonic()
                closing = any(watched_once(r) and (
                    (r.owner == owner and r.watchers > 0)
                    or (r.watchers == 0 and now - r.last_watched < 2.5))
                    for r in self.holding())
                if not closing or now >= deadline:
                    raise
            time.sleep(0.2)

    def _mine(self, owner: str) -> builtins.list[Run]:
        """What counts against a session's share: its runs holding a slot and its queued runs."""
        return self.holding(owner) + [
            self._runs[q] for q in self._queue if self._runs[q].owner == owner]

    def _check_limits(self, owner: str, allowance: int | None = None) -> None:
        """Raise LimitError (the session's share) or ServerFull (the machine); the caller holds
        the lock when it acts on the answer."""
        per_session = self.limits.per_session if allowance is None else allowance
        mine = self._mine(owner)
        if len(mine) >= per_session or len(self.holding()) >= self.limits.total:
            # Tabs that were closed or reloaded free their runs (a run younger than a few
            # seconds may belong to a tab whose socket is still connecting).
            self._take_back_closed(mine, 0.5, "stopped: its page was closed")
            mine = self._mine(owner)
        if len(mine) >= per_session:
            raise LimitError(f"limit reached: this browser session already has {len(mine)} "
                             f"run(s) (at most {per_session}); stop or close one first")
        total = self.holding()
        if len(total) >= self.limits.total:
            # A full machine takes back runs whose page was closed (any session's): the idle
            # reaper would stop them later anyway, and a reloaded page starts its own runs
            # again. Runs younger than a few seconds may belong to a page still connecting.
            self._take_back_closed(total, 2.0, "stopped: no page was watching it")
            total = self.holding()
        if len(total) >= self.limits.total or (self._queue and allowance is None):
            raise ServerFull(f"the server is full: {len(total)} runs are training (at most "
                             f"{self.limits.total} on this machine)")

    def _take_back_closed(self, runs: builtins.list[Run], quiet_s: float, why: str) -> None:
        """Stop the runs whose page was closed (their owner's pages stopped watching more than
        `quiet_s` ago, see `page_gone`): a full machine or a full session needs their room."""
        now = time.monotonic()
        for r in runs:
            if r.watchers == 0 and now - r.last_watched > quiet_s and page_gone(r, now):
                self._release(r, why)

    def replace(self, owner: str, run_id: str, cfg: RunConfig, *, parent: str | None = None,
                fork_step: int | None = None, autoplay: bool = False,
                preset: str | None = None) -> Run:
        """A new run in the old run's process: a child (restart fields changed) when `parent` is
        given, a fresh run (reset, new preset) otherwise. The old run keeps its recording; the
        new one takes over its slot (or its place in the queue)."""
        old = self._owned(owner, run_id)
        self.uploads.check_config(owner, cfg)
        new = self._new_run(owner, cfg, parent=parent, fork_step=fork_step, preset=preset,
                            autoplay=autoplay)
        with self._lock:
            if old.queued:  # not started yet: the new config waits in its place
                new.queued = True
                self._queue[self._queue.index(run_id)] = new.run_id
                old.queued, old.ended = False, f"replaced by run {new.run_id}"
                self._runs[new.run_id] = new
                return new
            in_process = old.slot and self.backend.alive(run_id)
        if not in_process:  # stopped or crashed: the new run needs a process of its own
            if old.slot:
                self._release(old, f"replaced by run {new.run_id}")
            return self.start(owner, cfg, autoplay=autoplay, preset=preset)
        with self._lock:
            self._runs[new.run_id] = new
            old.slot, new.slot = False, True  # the slot moves with the process
        try:
            self.backend.restart(run_id, RunSpec(new.run_id, cfg.to_json(), new.record_path,
                                                 parent, fork_step,
                                                 uploads_dir=str(self.uploads.folder),
                                                 owner_tag=owner_tag(owner)),
                                 play=autoplay)
        except Exception:
            with self._lock:
                self._runs.pop(new.run_id, None)
                new.slot = False
                old.slot = self.backend.has(run_id)
            raise
        old.ended = f"replaced by run {new.run_id}"
        return new

    def fork(self, owner: str, run_id: str, cfg: RunConfig) -> Run:
        """Restart fields changed: a child run that records its parent and the step it forked at."""
        step = self.status(run_id)["step"]
        return self.replace(owner, run_id, cfg, parent=run_id, fork_step=step,
                            preset=self.get(run_id).preset)

    def fork_beside(self, owner: str, run_id: str, cfg: RunConfig) -> Run:
        """A child of a run in a new process, from the parent's weights at its current step (as
        far as they fit the child's config); the parent keeps running or stays paused."""
        parent = self._owned(owner, run_id)
        self.uploads.check_config(owner, cfg)
        with self._lock:
            self._check_limits(owner)
        path = self.runs_dir / "forks" / f"{run_id}-{secrets.token_hex(3)}.pt"
        saved = self.backend.command(run_id, "checkpoint", path=str(path))
        return self.start(owner, cfg, autoplay=False, preset=parent.preset, parent=run_id,
                          fork_step=int(saved["step"]), init_from=str(path), queue=False)

    def apply(self, owner: str, run_id: str,
              cfg: RunConfig) -> tuple[Run, builtins.list[str], builtins.list[str]]:
        """A changed config: live fields go to the running run; restart fields fork a child.
        Returns (the run now shown, live fields changed, restart fields that forced a child)."""
        run = self._owned(owner, run_id)
        self.uploads.check_config(owner, cfg)
        restart = restart_fields(run.config, cfg)
        if restart:
            return self.fork(owner, run_id, cfg), [], restart
        if run.queued:  # not started yet: it will start with the new config
            changed = changed_paths(run.config, cfg)
            run.config = cfg
            return run, changed, []
        result = self.command(owner, run_id, "update", config=cfg.to_json())
        run.config = cfg
        return run, list(result.get("changed", [])), []

    def command(self, owner: str, run_id: str, op: str, **args: Any) -> Any:
        """Send a command to an owned run and wait for its ack (CommandError with the reason).
        A queued run only remembers play and pause for its start."""
        run = self._owned(owner, run_id)
        if run.queued:
            if op in ("pause", "resume"):
                run.autoplay = op == "resume"
                return {}
            raise CommandError(f"the run is waiting for a free slot ({self._queue_words(run)})")
        return self.backend.command(run_id, op, **args)

    def stop(self, owner: str, run_id: str) -> None:
        self._release(self._owned(owner, run_id), "stopped")

    def _owned(self, owner: str, run_id: str) -> Run:
        run = self.get(run_id)
        if run.owner != owner:
            raise PermissionError("this run belongs to another browser session: you can watch "
                                  "it, but only its owner can pause, change or stop it")
        return run

    # ---- uploads ---------------------------------------------------------------------------
    def save_upload(self, data: bytes, filename: str, owner: str,
                    cond: str | None = None) -> SavedUpload:
        """Check an uploaded data file (in a child process) and store it for this session, with
        the condition `cond` names (columns or an HDF5 dataset). Returns the name a config uses,
        rows and columns; raises DataFileError naming what is wrong."""
        return self.uploads.save(data, filename, owner, cond)

    def close(self) -> None:
        self._closed.set()
        self.backend.close()
        self._drop_fork_handoffs(older_than_s=0.0)


# The registry the pages and the stream route use; `app.main.create_app` sets it.
_registry: RunRegistry | None = None


def set_registry(registry: RunRegistry | None) -> None:
    global _registry
    _registry = registry


def registry() -> RunRegistry:
    if _registry is None:
        raise RuntimeError("no run registry: create the app with app.main.create_app()")
    return _registry
