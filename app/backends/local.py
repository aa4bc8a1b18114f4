"""The embedded backend: one spawned worker process per run on this machine, plus warm spare
processes, so a new run starts without paying for a spawn and a torch import."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

import numpy as np

from app.cpushare import CpuShare
from app.limits import UnknownRun
from gancore.config import RunConfig
from gancore.run.worker import DEAD_AFTER_S, STARTUP_S, CommandError, RunSpec, WorkerHandle
from gancore.vocabulary import FINISHED

STEPPING_WINDOW_S = 4.0  # a paused run whose step moved this recently is being stepped


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
        training = [pid for h in handles if h.alive and (
            h.state == "running" or (h.state == "starting" and h.spec.autoplay)
            or moved.get(h.run_id, False)) and (pid := h.process.pid) is not None]  # started
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

    def history(self, run_id: str, before_step: int) -> list[tuple[int, dict[str, float]]]:
        handle = self._handles.get(run_id)
        return [] if handle is None else handle.mailbox.history(before_step)

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

    def pictures(self, run_ids: list[str]) -> dict[str, tuple[int, bytes]]:
        """{run id: (sequence number, newest frame)} of the runs that have made one, read
        without becoming any run's reader (the class view glances; it does not watch)."""
        out = {}
        for run_id in run_ids:
            handle = self._handles.get(run_id)
            got = None if handle is None else handle.mailbox.peek()
            if got is not None:
                out[run_id] = got
        return out

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
