"""The dashboard's runs: who owns each one, how many may train, and the worker process behind it.

`RunRegistry` (ownership, limits, run history) sits on a small `Backend` interface (start, restart,
command, newest frame, status, stop). `LocalBackend` runs one spawned worker process per run and
keeps warm spare processes, so a new run starts without paying for a spawn and a torch import.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.cpushare import CpuShare
from gancore.config import RunConfig, data_dim, needs_restart
from gancore.worker import DEAD_AFTER_S, STARTUP_S, CommandError, RunSpec, WorkerHandle

FINISHED = ("diverged", "done", "failed", "stopped")
# A fork's child reads its parent's checkpoint at start-up (within STARTUP_S); then it is litter.
FORK_HANDOFF_TTL_S = max(600.0, 2 * STARTUP_S)
STEPPING_WINDOW_S = 4.0  # a paused run whose step moved this recently is being stepped
ROOM_WAIT_S = 4.0  # how long a new run waits for the runs of a page that was just left
NEVER_WATCHED_GRACE_S = 30.0  # a new run's page may take this long to first watch it


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


# ---- backends ------------------------------------------------

class Backend(Protocol):
    """What a run placement needs to offer; a distributed backend implements the same calls."""

    def start(self, spec: RunSpec) -> None: ...
    def restart(self, old_id: str, spec: RunSpec, play: bool) -> None: ...
    def command(self, run_id: str, op: str, **args: Any) -> Any: ...
    def newest(self, run_id: str) -> tuple[bytes, np.ndarray] | None: ...
    def wait(self, run_id: str, timeout: float) -> bool: ...
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
                            init_from=spec.init_from)
                handle.mailbox.take()  # the spare's own picture, sent before the restart
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
                    play=play)
        handle.mailbox.take()
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

    def newest(self, run_id: str) -> tuple[bytes, np.ndarray] | None:
        handle = self._handles.get(run_id)
        return None if handle is None else handle.mailbox.take()

    def wait(self, run_id: str, timeout: float) -> bool:
        handle = self._handles.get(run_id)
        if handle is None:
            time.sleep(timeout)
            return False
        return handle.mailbox.wait(timeout)

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
    """Whether a running run nobody watches should be paused. One never watched belongs to a page
    still loading: on a busy machine its socket attached more than the 3 s idle pause of the
    browser tests after a `play=1` run started, and the page found its run paused at step 16."""
    grace = idle_pause_s if _watched_once(run) else max(idle_pause_s, NEVER_WATCHED_GRACE_S)
    return run.watchers == 0 and now - max(run.last_watched, run.created) > grace


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
    watchers: int = 0
    last_watched: float = field(default_factory=time.monotonic)
    ended: str | None = None  # why the run no longer has a process ("restarted as child ...")
    attempt: int = 1  # a dead run is reported failed, never silently restarted

    @property
    def kind(self) -> str:
        dim = data_dim(self.config)
        return "1d" if dim == 1 else "2d" if dim == 2 else "nd"


class RunRegistry:
    """Runs by id with their owner (a browser session id); limits per session and overall."""

    def __init__(self, runs_dir: str | Path = "runs", limits: Limits | None = None,
                 backend: LocalBackend | None = None):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or Limits()
        self.backend = backend or LocalBackend()
        self._runs: dict[str, Run] = {}
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

    def list(self, owner: str | None = None) -> list[dict[str, Any]]:
        return [{"run_id": r.run_id, "owner_is_you": r.owner == owner, "parent": r.parent,
                 "fork_step": r.fork_step, "preset": r.preset, "kind": r.kind,
                 "watchers": r.watchers, "config": r.config.to_json(),
                 **self.status(r.run_id)} for r in list(self._runs.values())]

    def status(self, run_id: str) -> dict[str, Any]:
        run = self.get(run_id)
        if not self.backend.has(run_id):
            return {"state": "stopped" if run.ended else "starting",
                    "message": run.ended or "", "step": 0,
                    "steps_per_s": 0.0, "alive": False, "pid": None}
        return self.backend.status(run_id)

    def newest(self, run_id: str) -> tuple[bytes, np.ndarray] | None:
        return self.backend.newest(run_id)

    def wait(self, run_id: str, timeout: float) -> bool:
        return self.backend.wait(run_id, timeout)

    # ---- lifecycle -------------------------------------------------------------------------
    def _new_id(self) -> str:
        return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)

    def start(self, owner: str, cfg: RunConfig, *, autoplay: bool = False,
              preset: str | None = None, allowance: int | None = None,
              parent: str | None = None, fork_step: int | None = None,
              init_from: str | None = None) -> Run:
        """A new run in its own process; LimitError when the session or the machine is full.
        `allowance` replaces the per-session limit (the compare page asks for per_compare)."""
        self._wait_for_room(owner, allowance)
        with self._lock:
            self._check_limits(owner, allowance)
            run = Run(self._new_id(), owner, cfg, "", parent=parent, fork_step=fork_step,
                      preset=preset)
            run.record_path = str(self.runs_dir / f"{run.run_id}.h5")
            self._runs[run.run_id] = run
        try:
            self.backend.start(RunSpec(run.run_id, cfg.to_json(), run.record_path, parent,
                                       fork_step, autoplay=autoplay, init_from=init_from))
        except Exception:
            with self._lock:
                self._runs.pop(run.run_id, None)
            raise
        return run

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
                              for r in self.active())
                if not closing or now >= deadline:
                    raise
            time.sleep(0.2)

    def _check_limits(self, owner: str, allowance: int | None = None) -> None:
        per_session = self.limits.per_session if allowance is None else allowance
        mine = self.active(owner)
        if len(mine) >= per_session or len(self.active()) >= self.limits.total:
            # Tabs that were closed or reloaded free their runs (a run younger than a few
            # seconds may belong to a tab whose socket is still connecting).
            now = time.monotonic()
            for r in mine:
                if r.watchers == 0 and now - r.last_watched > 0.5 and _page_gone(r, now):
                    r.ended = r.ended or "stopped: its page was closed"
                    self.backend.stop(r.run_id)
            mine = self.active(owner)
        if len(mine) >= per_session:
            raise LimitError(f"limit reached: this browser session already runs {len(mine)} "
                             f"run(s) (at most {per_session}); stop or close one first")
        total = self.active()
        if len(total) >= self.limits.total:
            # A full machine takes back runs whose page was closed (any session's): the idle
            # reaper would stop them later anyway, and a reloaded page starts its own runs
            # again. Runs younger than a few seconds may belong to a page still connecting.
            now = time.monotonic()
            for r in total:
                if r.watchers == 0 and now - r.last_watched > 2.0 and _page_gone(r, now):
                    r.ended = r.ended or "stopped: no page was watching it"
                    self.backend.stop(r.run_id)
            total = self.active()
        if len(total) >= self.limits.total:
            raise LimitError(f"the server is full: {len(total)} runs are training (at most "
                             f"{self.limits.total} on this machine); try again later")

    def replace(self, owner: str, run_id: str, cfg: RunConfig, *, parent: str | None = None,
                fork_step: int | None = None, autoplay: bool = False,
                preset: str | None = None) -> Run:
        """A new run in the old run's process: a child (restart fields changed) when `parent` is
        given, a fresh run (reset, new preset) otherwise. The old run keeps its recording."""
        old = self._owned(owner, run_id)
        if not self.backend.alive(run_id):  # stopped or crashed: the new run needs a process
            self.backend.stop(run_id)
            return self.start(owner, cfg, autoplay=autoplay, preset=preset)
        new = Run(self._new_id(), owner, cfg, "", parent=parent, fork_step=fork_step,
                  preset=preset)
        new.record_path = str(self.runs_dir / f"{new.run_id}.h5")
        with self._lock:
            self._runs[new.run_id] = new
        try:
            self.backend.restart(run_id, RunSpec(new.run_id, cfg.to_json(), new.record_path,
                                                 parent, fork_step), play=autoplay)
        except Exception:
            with self._lock:
                self._runs.pop(new.run_id, None)
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
        with self._lock:
            self._check_limits(owner)
        path = self.runs_dir / "forks" / f"{run_id}-{secrets.token_hex(3)}.pt"
        saved = self.backend.command(run_id, "checkpoint", path=str(path))
        return self.start(owner, cfg, autoplay=False, preset=parent.preset, parent=run_id,
                          fork_step=int(saved["step"]), init_from=str(path))

    def apply(self, owner: str, run_id: str, cfg: RunConfig) -> tuple[Run, list[str], list[str]]:
        """A changed config: live fields go to the running run; restart fields fork a child.
        Returns (the run now shown, live fields changed, restart fields that forced a child)."""
        run = self._owned(owner, run_id)
        restart = needs_restart(run.config, cfg)
        if data_dim(cfg) != data_dim(run.config) or (
                cfg.train.conditional and cfg.target.name != run.config.target.name):
            restart = restart or ["target.name"]
        if restart:
            return self.fork(owner, run_id, cfg), [], restart
        result = self.command(owner, run_id, "update", config=cfg.to_json())
        run.config = cfg
        return run, list(result.get("changed", [])), []

    def command(self, owner: str, run_id: str, op: str, **args: Any) -> Any:
        """Send a command to an owned run and wait for its ack (CommandError with the reason)."""
        self._owned(owner, run_id)
        return self.backend.command(run_id, op, **args)

    def stop(self, owner: str, run_id: str) -> None:
        run = self._owned(owner, run_id)
        run.ended = run.ended or "stopped"
        self.backend.stop(run_id)

    def _owned(self, owner: str, run_id: str) -> Run:
        run = self.get(run_id)
        if run.owner != owner:
            raise PermissionError("this run belongs to another browser session: you can watch "
                                  "it, but only its owner can pause, change or stop it")
        return run

    # ---- watchers and idle runs -------------------------------------------------------------
    def watch(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.watchers += 1
            run.last_watched = time.monotonic()
            self.request_picture(run_id)

    def request_picture(self, run_id: str) -> None:
        """A watcher needs a picture now, also of a paused run (whose last frame went to the
        page that watched it before: a fork's parent, a shared link). A paused worker answers
        within one poll (50 ms); running and starting ones send frames anyway."""
        if self._runs.get(run_id) is None or not self.backend.has(run_id):
            return
        try:
            if self.backend.status(run_id)["state"] == "paused":
                self.backend.command(run_id, "frame")
        except (CommandError, UnknownRun, TimeoutError, RuntimeError):
            pass

    def unwatch(self, run_id: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            run.watchers = max(0, run.watchers - 1)
            run.last_watched = time.monotonic()

    def _reap(self, runs: list[Run], grace: float) -> None:
        now = time.monotonic()
        for r in runs:
            if r.watchers == 0 and now - max(r.last_watched, r.created) > grace:
                r.ended = r.ended or "stopped: no page was watching it"
                self.backend.stop(r.run_id)

    def _reap_loop(self) -> None:
        while not self._closed.wait(2.0):
            self.backend.share_cores()
            active = self.active()
            self._reap(active, self.limits.idle_stop_s)
            self._drop_fork_handoffs(FORK_HANDOFF_TTL_S)
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
    def save_upload(self, data: bytes, filename: str) -> tuple[str, int, int]:
        """Check an uploaded data file and store it as a plain .npy under a generated name.
        Returns (path, rows, columns); raises DataFileError naming what is wrong."""
        from gancore.datasets import load_bytes

        arr = load_bytes(data, filename, max_bytes=self.limits.upload_bytes)
        folder = self.runs_dir / "uploads"
        folder.mkdir(exist_ok=True)
        path = folder / f"upload-{secrets.token_hex(6)}.npy"
        np.save(path, arr, allow_pickle=False)
        return str(path), int(arr.shape[0]), int(arr.shape[1])

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
