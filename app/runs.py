"""The dashboard's runs: who owns each one, how many may train, and the worker process behind it.

`RunRegistry` (ownership, limits, run history) sits on a small `Backend` interface (start, restart,
command, newest frame, status, stop). `LocalBackend` runs one spawned worker process per run and
keeps warm spare processes, so a new run starts without paying for a spawn and a torch import.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.cpushare import CpuShare
from gancore.config import RunConfig, changed_paths, data_dim, needs_restart
from gancore.run.worker import DEAD_AFTER_S, STARTUP_S, CommandError, RunSpec, WorkerHandle

FINISHED = ("diverged", "done", "failed", "stopped")
# A fork's child reads its parent's checkpoint at start-up (within STARTUP_S); then it is litter.
FORK_HANDOFF_TTL_S = max(600.0, 2 * STARTUP_S)
STEPPING_WINDOW_S = 4.0  # a paused run whose step moved this recently is being stepped
ROOM_WAIT_S = 4.0  # how long a new run waits for the runs of a page that was just left
NEVER_WATCHED_GRACE_S = 30.0  # a new run's page may take this long to first watch it
MAX_QUEUE = 64  # runs waiting for a slot at most: two classes of 30, each waiting once


def owner_tag(session: str) -> str:
    """What a recording stores of the session that owns it: a hash, so a downloaded recording
    does not give away the session id (which would let its holder act as that session)."""
    return hashlib.sha256(session.encode()).hexdigest()[:32]


class LimitError(RuntimeError):
    """Starting another run would pass a per-session or overall limit; the message says which."""


class UnknownRun(LookupError):
    """No run with this id (it never existed, or its process is gone)."""


@dataclass
class Limits:
    """Safe defaults for a 2-core machine; `from_env` reads GANSCOPE_MAX_RUNS(_PER_SESSION)."""

    per_session: int = 2
    # The compare page may start up to this many runs for one session: they train in lock-step
    # (none runs ahead of the slowest), and `total` still caps the machine at 4 single-thread
    # workers, two per core on a 2-core box.
    per_compare: int = 4
    total: int = 4
    idle_pause_s: float = 15.0  # a running run nobody watches is paused after this long...
    idle_stop_s: float = 120.0  # ...and stopped after this long (its recording stays)
    upload_bytes: int = 50 * 1024 * 1024

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        lim = cls()
        env = {"per_session": "GANSCOPE_MAX_RUNS_PER_SESSION", "total": "GANSCOPE_MAX_RUNS",
               "per_compare": "GANSCOPE_MAX_COMPARE_RUNS",
               "idle_pause_s": "GANSCOPE_IDLE_PAUSE_S", "idle_stop_s": "GANSCOPE_IDLE_STOP_S"}
        for name, var in env.items():
            if os.environ.get(var):
                setattr(lim, name, type(getattr(lim, name))(os.environ[var]))
        for name, value in overrides.items():
            if value is not None:
                setattr(lim, name, value)
        return lim

    @classmethod
    def for_serving(cls, wide: bool, **overrides: Any) -> Limits:
        """The limits for how the server is bound. On loopback its one user may compare up to
        per_compare runs. Serving a class (bound wider), a comparison counts against the
        session's share like any run, so one student cannot hold every slot of the machine
        (per_session 2 of total 4 on a 2-core box); GANSCOPE_MAX_COMPARE_RUNS still decides."""
        lim = cls.from_env(**overrides)
        if wide and not os.environ.get("GANSCOPE_MAX_COMPARE_RUNS") \
                and overrides.get("per_compare") is None:
            lim.per_compare = min(lim.per_compare, lim.per_session)
        return lim


# ---- backends ------------------------------------------------

class Backend(Protocol):
    """What a run placement needs to offer; a distributed backend implements the same calls."""

    def start(self, spec: RunSpec) -> None: ...
    def restart(self, old_id: str, spec: RunSpec, play: bool) -> None: ...
    def command(self, run_id: str, op: str, **args: Any) -> Any: ...
    def newest(self, run_id: str, reader: object) -> tuple[bytes, np.ndarray] | None: ...
    def wait(self, run_id: str, timeout: float, reader: object) -> bool: ...
    def forget(self, run_id: str, reader: object) -> None: ...
    def status(self, run_id: str) -> dict[str, Any]: ...
    def has(self, run_id: str) -> bool: ...
    def alive(self, run_id: str) -> bool: ...
    def stop(self, run_id: str) -> None: ...
    def share_cores(self) -> int: ...
    def close(self) -> None: ...


class LocalBackend:
    """One spawned worker process per run, plus warm spares waiting for their first config."""

    # Two, so that both runs of a comparison start warm: with one, the second run's process
    # still had to import torch (both runs drawn 6.4-7.7 s after a compare link was opened in
    # headless Chromium; with two, 2.2-3.4 s).
    SPARES = 2

    def __init__(self, spare: bool = True, cpu: CpuShare | None = None):
        self._handles: dict[str, WorkerHandle] = {}
        self._lock = threading.Lock()
        self._use_spare = spare
        self._spares: list[WorkerHandle] = []
        self._closed = False
        self._cpu = cpu or CpuShare()
        self._steps_seen: dict[str, tuple[int, float]] = {}  # run id -> (step, when it moved)
        if spare:
            self._refill_spare()

    def _refill_spare(self) -> None:
        while self._use_spare and not self._closed and len(self._spares) < self.SPARES:
            # A spare trains nothing and records nothing until a run takes it over.
            self._spares.append(WorkerHandle(RunSpec(f"spare-{secrets.token_hex(3)}",
                                                     RunConfig().to_json())))

    def _take_spare(self) -> WorkerHandle | None:
        """A warm spare that has started, or None. One still importing torch is left for a later
        run: taking it made start() wait for it (a compare page's second run held the page for
        5 s), while a fresh process starts just as soon and start() returns at once."""
        while True:
            with self._lock:
                spare = next((h for h in self._spares
                              if not (h.state == "starting" and h.alive)), None)
                if spare is None:
                    return None
                self._spares.remove(spare)
            if spare.alive and spare.state != "failed":
                return spare
            spare.stop(timeout=1)  # a spare that died is dropped; the refill replaces it

    def start(self, spec: RunSpec) -> None:
        handle = self._take_spare()
        if handle is not None:
            try:
                handle.call("restart", config=spec.config_json, run_id=spec.run_id,
                            record_path=spec.record_path, parent=spec.parent,
                            fork_step=spec.fork_step, play=spec.autoplay,
                            init_from=spec.init_from, uploads_dir=spec.uploads_dir,
                            owner_tag=spec.owner_tag)
                handle.mailbox.reset()  # the spare's own picture, sent before the restart
                handle.state = "running" if spec.autoplay else "paused"
            except (CommandError, TimeoutError, RuntimeError):
                handle.stop(timeout=1)
                handle = None
        if handle is None:
            handle = WorkerHandle(spec)
        handle.spec = spec
        with self._lock:
            self._handles[spec.run_id] = handle
        self.share_cores()
        threading.Thread(target=self._refill_spare_locked, daemon=True).start()

    def _refill_spare_locked(self) -> None:
        with self._lock:
            self._refill_spare()

    def restart(self, old_id: str, spec: RunSpec, play: bool) -> None:
        """The new run takes over the old run's process (no spawn); the old recording stays."""
        handle = self._handle(old_id)
        handle.call("restart", config=spec.config_json, run_id=spec.run_id,
                    record_path=spec.record_path, parent=spec.parent, fork_step=spec.fork_step,
                    play=play, uploads_dir=spec.uploads_dir, owner_tag=spec.owner_tag)
        handle.mailbox.reset()  # the old run's frames and rows are not the new run's
        handle.spec = spec
        with self._lock:
            self._handles.pop(old_id, None)
            self._handles[spec.run_id] = handle

    def share_cores(self) -> int:
        """Training workers yield to the page once they would fill every core (app/cpushare.py);
        returns the nice value they run at now. A worker trains when it plays freely or when its
        step moved in the last few seconds: the compare page steps its runs while they stay
        paused."""
        now = time.monotonic()
        with self._lock:
            handles = list(self._handles.values())
            for h in handles:
                seen = self._steps_seen.get(h.run_id)
                if seen is None:  # first look: nothing has moved yet
                    self._steps_seen[h.run_id] = (h.step, float("-inf"))
                elif seen[0] != h.step:
                    self._steps_seen[h.run_id] = (h.step, now)
            for run_id in self._steps_seen.keys() - self._handles.keys():
                del self._steps_seen[run_id]
            moved = {r: now - t < STEPPING_WINDOW_S for r, (_, t) in self._steps_seen.items()}
        training = [h.process.pid for h in handles if h.alive and (
            h.state == "running" or (h.state == "starting" and h.spec.autoplay)
            or moved.get(h.run_id, False))]
        return self._cpu.balance(training)

    def _handle(self, run_id: str) -> WorkerHandle:
        try:
            return self._handles[run_id]
        except KeyError:
            raise UnknownRun(f"run {run_id} has no worker (it was stopped or replaced)") from None

    def has(self, run_id: str) -> bool:
        return run_id in self._handles

    def alive(self, run_id: str) -> bool:
        handle = self._handles.get(run_id)
        return handle is not None and handle.alive

    def command(self, run_id: str, op: str, **args: Any) -> Any:
        handle = self._handle(run_id)
        if not handle.alive:
            raise CommandError(f"run is {handle.state}: {handle.message}")
        result = handle.call(op, **args)
        if op == "step" and isinstance(result, dict) and "step" in result:
            handle.step = int(result["step"])  # at once, not at the next heartbeat
        return result

    def newest(self, run_id: str, reader: object) -> tuple[bytes, np.ndarray] | None:
        handle = self._handles.get(run_id)
        return None if handle is None else handle.mailbox.take(reader)

    def wait(self, run_id: str, timeout: float, reader: object) -> bool:
        handle = self._handles.get(run_id)
        if handle is None:
            time.sleep(timeout)
            return False
        return handle.mailbox.wait(timeout, reader)

    def forget(self, run_id: str, reader: object) -> None:
        handle = self._handles.get(run_id)
        if handle is not None:
            handle.mailbox.forget(reader)

    def status(self, run_id: str) -> dict[str, Any]:
        h = self._handle(run_id)
        state, message = h.state, h.message
        # A process that has not spoken yet is still importing torch and building its run, which
        # takes many seconds on a busy 2-core box: it gets STARTUP_S before it counts as stuck.
        quiet_limit = STARTUP_S if state == "starting" else DEAD_AFTER_S
        if h.alive and state not in FINISHED and time.monotonic() - h.last_seen > quiet_limit:
            state, message = "failed", f"worker stopped answering ({quiet_limit:.0f} s)"
        return {"state": state, "message": message, "step": int(h.step),
                "steps_per_s": float(h.steps_per_s), "pid": h.process.pid, "alive": h.alive}

    def stop(self, run_id: str) -> None:
        with self._lock:
            handle = self._handles.pop(run_id, None)
        if handle is not None:
            handle.stop()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            handles = list(self._handles.values())
            self._handles.clear()
            spares, self._spares = self._spares, []
        for h in handles + spares:
            h.stop(timeout=2)


# ---- the registry ------------------------------------------------

def _page_gone(run: Run, now: float) -> bool:
    """Whether an unwatched run's page has gone, so a new run may take its room. A run that was
    watched and is a few seconds old: yes. One never watched belongs to a page still loading (a
    comparison starts its runs one after another and watches them together) until it is
    NEVER_WATCHED_GRACE_S old."""
    return now - run.created > (5.0 if _watched_once(run) else NEVER_WATCHED_GRACE_S)


def _watched_once(run: Run) -> bool:
    return run.last_watched > run.created + 0.05


def _idle_for_pause(run: Run, now: float, idle_pause_s: float) -> bool:
    """Whether a running run its owner does not watch should be paused. One never watched belongs
    to a page still loading: on a busy machine its socket attached more than the 3 s idle pause
    of the browser tests after a `play=1` run started, and the page found its run paused at
    step 16. Spectators do not count: a stranger's open tab must not keep a run training."""
    grace = idle_pause_s if _watched_once(run) else max(idle_pause_s, NEVER_WATCHED_GRACE_S)
    return run.watchers == 0 and now - max(run.last_watched, run.created) > grace


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class Run:
    """One run as the page knows it. A run whose process moved on to a child keeps this record."""

    run_id: str
    owner: str
    config: RunConfig
    record_path: str
    parent: str | None = None
    fork_step: int | None = None
    preset: str | None = None
    created: float = field(default_factory=time.monotonic)
    watchers: int = 0  # the owner's pages watching it: they keep it from being idle-paused
    spectators: int = 0  # other sessions' pages watching it (a shared link)
    last_watched: float = field(default_factory=time.monotonic)
    ended: str | None = None  # why the run no longer has a process ("restarted as child ...")
    attempt: int = 1  # a dead run is reported failed, never silently restarted
    slot: bool = False  # holds one of the machine's run slots (reserved before its start)
    queued: bool = False  # waits for a slot; starts when one frees up
    autoplay: bool = False
    init_from: str | None = None

    @property
    def kind(self) -> str:
        dim = data_dim(self.config)
        return "1d" if dim == 1 else "2d" if dim == 2 else "nd"


class ServerFull(LimitError):
    """Every slot of the machine is taken (a run may wait in the queue instead)."""


class RunRegistry:
    """Runs by id with their owner (a browser session id); limits per session and overall.

    Admission is one step under one lock: a run reserves its slot (`Run.slot`) before its
    process starts, so concurrent starts never pass the limits (12 simultaneous starts from one
    session gave 7 runs when the check and the registration were apart). A run that finds the
    machine full waits in a first-come queue whose place its page shows; it starts when a slot
    frees. Data files are opened only when this server stored them for the same session
    (`uploads`): a config from a link, a form or a client store never names a server path.
    """

    def __init__(self, runs_dir: str | Path = "runs", limits: Limits | None = None,
                 backend: LocalBackend | None = None):
        from app.uploads_store import UploadStore

        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()
        self.backend = backend or LocalBackend()
        self.uploads = UploadStore(self.runs_dir / "uploads", self.limits.upload_bytes)
        self._runs: dict[str, Run] = {}
        self._queue: list[str] = []  # run ids waiting for a slot, first come first
        self._released: list[float] = []  # when slots freed lately (the queue's estimate)
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
                        and _page_gone(run, now)):
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
                now = time.monotonic()
                closing = any(_watched_once(r) and
                              (r.watchers > 0 or now - r.last_watched < 2.5)
                              for r in self.holding())
                if not closing or now >= deadline:
                    raise
            time.sleep(0.2)

    def _mine(self, owner: str) -> list[Run]:
        """What counts against a session's share: its runs holding a slot and its queued runs."""
        return [r for r in self.holding(owner)] + [
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

    def _take_back_closed(self, runs: list[Run], quiet_s: float, why: str) -> None:
        """Stop the runs whose page was closed (their owner's pages stopped watching more than
        `quiet_s` ago, see `_page_gone`): a full machine or a full session needs their room."""
        now = time.monotonic()
        for r in runs:
            if r.watchers == 0 and now - r.last_watched > quiet_s and _page_gone(r, now):
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

    def apply(self, owner: str, run_id: str, cfg: RunConfig) -> tuple[Run, list[str], list[str]]:
        """A changed config: live fields go to the running run; restart fields fork a child.
        Returns (the run now shown, live fields changed, restart fields that forced a child)."""
        run = self._owned(owner, run_id)
        self.uploads.check_config(owner, cfg)
        restart = needs_restart(run.config, cfg)
        if data_dim(cfg) != data_dim(run.config) or (
                cfg.train.conditional and cfg.target.name != run.config.target.name):
            restart = restart or ["target.name"]
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

    # ---- watchers and idle runs -------------------------------------------------------------
    def watch(self, run_id: str, viewer: str | None = None) -> None:
        """A page started watching a run: its owner's (`viewer` None or the owner) or a
        spectator's. Only the owner's pages keep a run from being paused and stopped."""
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
                           {self._runs[q].config.target.data_path for q in list(self._queue)
                            if q in self._runs and self._runs[q].config.target.data_path})
        now = time.monotonic()
        for r in active:
            if _idle_for_pause(r, now, self.limits.idle_pause_s) and \
                    self.backend.alive(r.run_id):
                try:
                    if self.backend.status(r.run_id)["state"] == "running":
                        self.backend.command(r.run_id, "pause")
                except (CommandError, UnknownRun, TimeoutError, RuntimeError):
                    pass

    # ---- uploads ---------------------------------------------------------------------------
    def save_upload(self, data: bytes, filename: str, owner: str) -> tuple[str, int, int]:
        """Check an uploaded data file (in a child process) and store it for this session.
        Returns (the name a config uses, rows, columns); raises DataFileError naming what is
        wrong."""
        return self.uploads.save(data, filename, owner)

    def close(self) -> None:
        self._closed.set()
        self.backend.close()
        self._drop_fork_handoffs(older_than_s=0.0)

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


# The registry the pages and the stream route use; `app.main.create_app` sets it.
_registry: RunRegistry | None = None


def set_registry(registry: RunRegistry | None) -> None:
    global _registry
    _registry = registry


def registry() -> RunRegistry:
    if _registry is None:
        raise RuntimeError("no run registry: create the app with app.main.create_app()")
    return _registry
