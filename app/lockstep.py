"""Runs that train together: played, paused and stepped in equal chunks so their steps stay equal.

A `Lockstep` group drives its runs with the workers' `step` command instead of letting each one
train freely: every tick asks each run for the same number of steps (all at once, one thread per
run) and waits for all of them, so the fastest never runs ahead of the slowest. A pause lands
between two ticks, so after it every run stands at the same step. Runs that start at different
steps (a child made from an earlier checkpoint) first catch up to the furthest one.

Each tick's chunk is the compare page's "steps per frame", or, at full speed, adapted so a tick
takes about one frame interval (training is not slowed by a frame per few steps).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.limits import UnknownRun
from app.runs import RunRegistry
from gancore.run.worker import CommandError

TICK_FPS = 12.0  # frames per second of a full-speed group (4 plots to draw per frame)
MAX_CHUNK = 2000
CATCH_UP_MAX = 500  # steps a lagging run may take per tick while the others wait
CALL_TIMEOUT = 60.0
START_S = 120.0  # how long a new run's worker may take to answer at all (spawn + torch import)
IDLE_S = 15.0  # nobody watching any of the runs this long: the group pauses


class Lockstep:
    """A group of runs of one owner, advanced together."""

    def __init__(self, registry: RunRegistry, owner: str, run_ids: list[str]):
        self.registry, self.owner = registry, owner
        self.run_ids = list(run_ids)
        self.steps: dict[str, int] = {}
        self.dropped: dict[str, str] = {}  # run -> why it no longer moves with the group
        self.chunk = 0  # steps per tick; 0 = adapt to the frame interval
        self._auto = 5
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(run_ids)),
                                        thread_name_prefix="lockstep")
        self._busy = threading.Lock()  # one group action at a time (the play loop holds it)
        self._starting = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Any web process may answer the page's next click: the registry's board says whether
        # the group plays in another one, and carries a pause there.
        self.board, self.key = registry.groups, f"{owner}:{','.join(self.run_ids)}"

    # ---- state --------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._thread is not None and self._thread.is_alive() or self.board.held(self.key)

    @property
    def live(self) -> list[str]:
        return [r for r in self.run_ids if r not in self.dropped]

    def describe(self) -> dict[str, Any]:
        return {"state": "playing" if self.playing else "paused", "steps": dict(self.steps),
                "dropped": dict(self.dropped)}

    # ---- commands to every run at once ---------------------------------------------------------
    def _step_all(self, counts: dict[str, int]) -> None:
        """Step each run by its count in parallel; wait for all. A run that refuses (finished,
        stopped, gone) leaves the group with the reason; the others go on."""
        def one(run_id: str, n: int) -> int:
            deadline = time.monotonic() + START_S
            while True:
                try:
                    result = self.registry.command(self.owner, run_id, "step", which="both", n=n)
                    return int(result["step"])
                except TimeoutError:
                    # A worker still starting on a busy machine answers late; a 0-step step is
                    # harmless to repeat, a real one is not.
                    if n or time.monotonic() > deadline or \
                            not self.registry.alive(run_id):
                        raise
                except CommandError:
                    # The distributed backend places every run through its queue: a run not
                    # yet on its worker (a few seconds, when a slot is free) is still starting.
                    if n or time.monotonic() > deadline or \
                            self.registry.status(run_id)["state"] not in ("queued", "starting"):
                        raise
                    time.sleep(0.2)

        futures = {r: self._pool.submit(one, r, n) for r, n in counts.items()}
        for r, fut in futures.items():
            try:
                self.steps[r] = fut.result(timeout=START_S + CALL_TIMEOUT)
            except (CommandError, UnknownRun, TimeoutError, RuntimeError) as e:
                self.dropped[r] = str(e) or type(e).__name__

    def sync(self) -> None:
        """Pause every run where it stands and learn its exact step (a 0-step step does both)."""
        self._step_all({r: 0 for r in self.live})

    def _lagging(self) -> dict[str, int]:
        top = max((self.steps[r] for r in self.live), default=0)
        return {r: min(top - self.steps[r], CATCH_UP_MAX) for r in self.live
                if self.steps[r] < top}

    def level(self) -> None:
        """Bring lagging runs up to the furthest one."""
        while lag := self._lagging():
            self._step_all(lag)

    # ---- what the page asks for ---------------------------------------------------------------
    def check_owner(self) -> None:
        for r in self.run_ids:
            if self.registry.get(r).owner != self.owner:
                raise PermissionError("these runs belong to another browser session: you can "
                                      "watch them, but only their owner can play or step them")

    def step(self, n: int) -> dict[str, int]:
        """Pause, level, then advance every run by n; returns each run's step."""
        self.check_owner()
        self.pause()
        with self._busy:
            self.sync()
            self.level()
            if n > 0:
                self._step_all({r: n for r in self.live})
        return {r: self.steps[r] for r in self.live}

    def play(self) -> None:
        self.check_owner()
        with self._starting:
            if self.playing:
                return
            self.board.hold(self.key)
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, daemon=True,
                                            name=f"lockstep-{self.run_ids[0]}")
            self._thread.start()

    def pause(self) -> dict[str, int]:
        """Stop after the current tick; every run then stands at the same step. A group that
        plays in another web process stops there, and its steps are read here."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(CALL_TIMEOUT)
        if self.board.held(self.key):
            self.board.stop(self.key, CALL_TIMEOUT)
            with self._busy:
                self.sync()
        return {r: self.steps.get(r, 0) for r in self.live}

    def close(self) -> None:
        self.pause()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- the play loop --------------------------------------------------------------------------
    def _watched(self, since: float) -> bool:
        """Some page watches a run, or did lately (a page gets IDLE_S after the group starts
        to open its socket: starting runs on a busy machine can take longer than that)."""
        now = time.monotonic()
        if now - since < IDLE_S:
            return True
        return any(self.registry.watched_within(r, IDLE_S) for r in self.live)

    def _loop(self) -> None:
        with self._busy:
            self.sync()
            since = time.monotonic()
            while not self._stop.is_set() and self.live and self._watched(since) and \
                    self.board.hold(self.key):
                started = time.monotonic()
                lag = self._lagging()
                if lag:
                    self._step_all(lag)
                    continue
                n = self.chunk or self._auto
                self._step_all({r: n for r in self.live})
                took = time.monotonic() - started
                frame_s = 1.0 / TICK_FPS
                if not self.chunk:  # full speed: about one frame interval of training per tick
                    ratio = min(2.0, max(0.5, frame_s / max(took, 1e-3)))
                    self._auto = int(min(MAX_CHUNK, max(1, round(self._auto * ratio))))
                self._stop.wait(max(0.0, frame_s - took))
            self._stop.set()
            self.board.release(self.key)


# ---- groups by owner and runs ----------------------------------------------------------------

_groups: dict[tuple[str, tuple[str, ...]], Lockstep] = {}
_lock = threading.Lock()


def group(registry: RunRegistry, owner: str, run_ids: list[str]) -> Lockstep:
    """The group of exactly these runs for this owner (made on first use). Groups whose runs
    have all finished are dropped."""
    key = (owner, tuple(run_ids))
    with _lock:
        for k, old in list(_groups.items()):
            if k != key and not old.playing and not any(
                    registry.alive(r) for r in old.run_ids):
                old.close()
                del _groups[k]
        g = _groups.get(key)
        if g is None or g.registry is not registry:
            g = _groups[key] = Lockstep(registry, owner, run_ids)
        return g


def release(owner: str, run_ids: list[str]) -> None:
    """Stop and forget a group (its runs were replaced)."""
    with _lock:
        g = _groups.pop((owner, tuple(run_ids)), None)
    if g is not None:
        g.close()
