"""The distributed backend: Celery places each run on a free worker slot of any machine, and the
run's traffic goes through Redis keys (gancore.run.redis_keys). Any number of web processes use
it at once; each keeps, per run it shows, one reader of the run's frames (a pump thread) that
fills a local Mailbox, so 40 tabs on one run cost one Redis read per frame, not 40.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.limits import UnknownRun
from gancore.run import redis_keys as rk
from gancore.run.mailbox import Mailbox
from gancore.run.placement import TASK_NAME, make_celery
from gancore.run.worker import STARTUP_S, CommandError, RunSpec
from gancore.vocabulary import FINISHED

STATUS_FRESH_S = 0.1  # a run's status is read from Redis at most this often per web process
PUMP_IDLE_S = 10.0  # a pump with no local reader for this long ends
LIVE = ("starting", "running", "paused", "done", "diverged")  # states a worker still holds


class RedisUnavailable(RuntimeError):
    """Redis cannot be reached (restarting, or the network): pages say "reconnecting"."""


class RedisBackend:
    """Runs on Celery workers, traffic through Redis. `runs_dir` is the runs folder shared with
    every worker: specs name files relative to it, so a worker finds them under its own mount."""

    def __init__(self, url: str, runs_dir: str | Path, idle_pause_s: float = 15.0,
                 idle_stop_s: float = 120.0):
        import redis

        self.url = url
        # Any: redis-py types every call as sync-or-async; this client is sync.
        self.r: Any = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2,
                                      health_check_interval=5, retry_on_timeout=False)
        self.errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self.celery = make_celery(url)
        self.runs_dir = Path(runs_dir).resolve()
        self.idle_pause_s, self.idle_stop_s = idle_pause_s, idle_stop_s
        self._lock = threading.Lock()
        self._pumps: dict[str, _Pump] = {}
        self._viewers: dict[str, dict[object, str]] = {}  # run -> {reader: viewer member}
        self._ids = itertools.count(1)
        self._closed = False
        self._status: dict[str, tuple[float, dict[str, Any]]] = {}  # run -> (read at, status)

    # ---- placing runs ------------------------------------------------------------------------
    def wire_spec(self, spec: RunSpec) -> dict[str, Any]:
        """A RunSpec as a worker reads it: files by their name inside the shared runs folder."""
        return {"run_id": spec.run_id, "config_json": spec.config_json,
                "record_path": self._relative(spec.record_path), "parent": spec.parent,
                "fork_step": spec.fork_step, "autoplay": spec.autoplay,
                "init_from": self._relative(spec.init_from), "owner_tag": spec.owner_tag}

    def _relative(self, path: str | None) -> str | None:
        if not path:
            return None
        p = Path(path).resolve()
        if not p.is_relative_to(self.runs_dir):
            raise ValueError("a run's files live in the runs folder")
        return str(p.relative_to(self.runs_dir))

    def start(self, spec: RunSpec, attempt: int = 1) -> None:
        """Queue the run for the first free worker slot. The caller (the shared registry) has
        admitted it: its status says "queued" and it has its place in the queue."""
        self.celery.send_task(TASK_NAME, args=[self.wire_spec(spec), attempt, self.idle_pause_s,
                                               self.idle_stop_s])

    def restart(self, old_id: str, spec: RunSpec, play: bool) -> None:
        """The new run takes over the old run's worker slot (no new placement): the worker
        rebuilds its session and moves to the new run's keys."""
        wire = self.wire_spec(spec)
        self.call(old_id, "restart", {"config": spec.config_json, "run_id": spec.run_id,
                                      "record_path": wire["record_path"], "parent": spec.parent,
                                      "fork_step": spec.fork_step, "play": play,
                                      "owner_tag": spec.owner_tag})

    # ---- commands ----------------------------------------------------------------------------
    def command(self, run_id: str, op: str, **args: Any) -> Any:
        return self.call(run_id, op, args)

    def call(self, run_id: str, op: str, args: dict[str, Any], timeout: float = 30.0) -> Any:
        """Add a command to the run's stream and wait for the worker's acknowledgement. A run
        whose heartbeat stopped fails at once with the reason, not after the timeout."""
        if op == "checkpoint" and "path" in args:
            args["path"] = self._relative(args["path"])
        try:
            cmd_id = self.r.incr(rk.run_key(run_id, "cmdseq"))
            self.r.expire(rk.run_key(run_id, "cmdseq"), rk.RUN_TTL_S)
            self.r.xadd(rk.run_key(run_id, "cmd"), {"id": cmd_id, "op": op,
                                                    "args": json.dumps(args)},
                        maxlen=1000, approximate=True)
        except self.errors:
            raise CommandError("the run store (Redis) cannot be reached: reconnecting") from None
        status = self.status(run_id)
        if status["state"] == "starting":
            timeout += STARTUP_S
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self.r.blpop([rk.ack_key(run_id, cmd_id)], timeout=1)
            except self.errors:
                got = None
                time.sleep(0.5)
            if got is not None:
                self._forget_status(run_id)  # the command changed it: the next read is fresh
                answer = json.loads(got[1])
                if not answer["ok"]:
                    raise CommandError(answer["error"])
                return answer["result"]
            status = self.status(run_id)
            if status["state"] in ("lost", "failed", "stopped") or not status["alive"] and \
                    status["state"] not in ("starting", "queued", "reconnecting"):
                raise CommandError(f"run is {status['state']}: {status['message']}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id}: no answer to {op!r} ({status['state']})")

    # ---- frames ------------------------------------------------------------------------------
    def watch(self, run_id: str, reader: object, owner: bool) -> None:
        """A page reads this run: its member in the run's viewers set (refreshed by the pump)
        tells the worker someone watches, and whether it is the owner's page."""
        member = f"{'o' if owner else 's'}:{id(self)}:{next(self._ids)}"
        with self._lock:
            self._viewers.setdefault(run_id, {})[reader] = member
        self._pump(run_id).touch_viewers()

    def _pump(self, run_id: str) -> _Pump:
        with self._lock:
            pump = self._pumps.get(run_id)
            if pump is None or not pump.alive:
                pump = self._pumps[run_id] = _Pump(self, run_id)
            return pump

    def viewer_members(self, run_id: str) -> list[str]:
        with self._lock:
            return list(self._viewers.get(run_id, {}).values())

    def newest(self, run_id: str, reader: object) -> tuple[bytes, np.ndarray] | None:
        return self._pump(run_id).mailbox.take(reader)

    def history(self, run_id: str, before_step: int) -> list[tuple[int, dict[str, float]]]:
        """What this process's pump has seen of the run (it starts with the run's first page
        in this process)."""
        return self._pump(run_id).mailbox.history(before_step)

    def wait(self, run_id: str, timeout: float, reader: object) -> bool:
        return self._pump(run_id).mailbox.wait(timeout, reader)

    def forget(self, run_id: str, reader: object) -> None:
        with self._lock:
            member = self._viewers.get(run_id, {}).pop(reader, None)
            pump = self._pumps.get(run_id)
        if pump is not None:
            pump.mailbox.forget(reader)
        if member is not None:
            try:
                self.r.zrem(rk.run_key(run_id, "viewers"), member)
            except self.errors:
                pass

    def live_ids(self, newest: int = 500) -> list[str]:
        """The ids of the runs (of the newest `newest` any web process started) that are queued
        or whose worker still beats: the class view's list. Sifted by state and heartbeat in one
        round trip, so a class that restarted its runs many times does not cost a read of every
        old run's record on each look. Empty while Redis cannot be reached."""
        try:
            ids = [i.decode() for i in self.r.zrevrange(rk.key("runs"), 0, newest - 1)]
            p = self.r.pipeline(transaction=False)
            for i in ids:
                p.hget(rk.run_key(i, "status"), "state")
                p.exists(rk.run_key(i, "hb"))
            out = p.execute()
        except self.errors:
            return []
        return [i for i, state, beating in zip(ids, out[0::2], out[1::2], strict=True)
                if state == b"queued" or (beating and (state or b"").decode() in LIVE)]

    def pictures(self, run_ids: list[str]) -> dict[str, tuple[int, bytes]]:
        """{run id: (sequence number, newest frame)} from the runs' frame keys, all in one round
        trip, without a pump or a member in any viewers set: the class view glances at every
        run and must not count as anyone watching (a run nobody watches makes no new frames,
        so its last picture stays)."""
        if not run_ids:
            return {}
        try:
            p = self.r.pipeline(transaction=False)
            for run_id in run_ids:
                p.get(rk.run_key(run_id, "frame"))
            blobs = p.execute()
        except self.errors:
            return {}
        read = {run_id: rk.read_newest_frame(blob)
                for run_id, blob in zip(run_ids, blobs, strict=True) if blob is not None}
        return {run_id: got for run_id, got in read.items() if got is not None}

    # ---- status ------------------------------------------------------------------------------
    def status(self, run_id: str) -> dict[str, Any]:
        """The worker's status, with "lost at step N" for a run whose heartbeat expired while it
        was neither queued nor over, and "reconnecting" while Redis cannot be reached. Read at
        most every STATUS_FRESH_S per run and process: every tab's every envelope asks for it
        (40 tabs at 25 frames/s were 1,000 reads a second of the same hash)."""
        now = time.monotonic()
        cached = self._status.get(run_id)
        if cached is not None and now - cached[0] < STATUS_FRESH_S:
            return dict(cached[1])
        status = self._read_status(run_id)
        self._status[run_id] = (now, status)
        return dict(status)

    def _forget_status(self, run_id: str) -> None:
        self._status.pop(run_id, None)

    def _read_status(self, run_id: str) -> dict[str, Any]:
        try:
            p = self.r.pipeline(transaction=False)
            p.hgetall(rk.run_key(run_id, "status"))
            p.exists(rk.run_key(run_id, "hb"))
            raw, beating = p.execute()
        except self.errors:
            return {"state": "reconnecting", "message": "the run store is restarting: "
                    "reconnecting", "step": 0, "steps_per_s": 0.0, "alive": False, "pid": None,
                    "attempt": 1}
        if not raw:
            raise UnknownRun(f"run {run_id} has no worker (it was stopped or replaced)")
        s = {k.decode(): v.decode() for k, v in raw.items()}
        state, message = s.get("state", "starting"), s.get("message", "")
        step = int(s.get("step", 0) or 0)
        if state not in (*FINISHED, "queued", "lost") and not beating:
            ckpt = s.get("checkpoint_step")
            where = f"its step-{int(ckpt):,} checkpoint" if ckpt else "step 0"
            state, message = "lost", (f"lost at step {step:,}: its worker stopped. Press play "
                                      f"to resume from {where} as attempt "
                                      f"{int(s.get('attempt', 1)) + 1}")
        return {"state": state, "message": message, "step": step,
                "steps_per_s": float(s.get("steps_per_s", 0.0) or 0.0),
                "alive": bool(beating) and state not in FINISHED, "pid": None,
                "attempt": int(s.get("attempt", 1) or 1),
                "checkpoint_step": int(s["checkpoint_step"]) if s.get("checkpoint_step")
                else None}

    def has(self, run_id: str) -> bool:
        try:
            return bool(self.r.exists(rk.run_key(run_id, "status")))
        except self.errors:
            return True  # unknown: do not give its slot away while Redis restarts

    def alive(self, run_id: str) -> bool:
        try:
            return bool(self.r.exists(rk.run_key(run_id, "hb")))
        except self.errors:
            return True

    def stop(self, run_id: str) -> None:
        """Stop a run wherever it is: a queued one never starts, a training one ends its loop."""
        try:
            state = (self.r.hget(rk.run_key(run_id, "status"), "state") or b"").decode()
        except self.errors:
            return
        if state in ("queued", "lost", ""):
            self.mark(run_id, "stopped", "stopped")
            return
        if state not in FINISHED and self.alive(run_id):
            try:
                self.call(run_id, "stop", {}, timeout=5)
            except (CommandError, TimeoutError):
                pass
        self.mark(run_id, "stopped", "stopped")

    def mark(self, run_id: str, state: str, message: str) -> None:
        self._forget_status(run_id)
        try:
            p = self.r.pipeline(transaction=True)
            p.hset(rk.run_key(run_id, "status"), mapping={"state": state, "message": message})
            p.zrem(rk.key("queue"), run_id)
            p.delete(rk.run_key(run_id, "hb"))
            p.execute()
        except self.errors:
            pass

    def share_cores(self) -> int:
        return 0  # workers run on their own machines, one run per pool process

    def close(self) -> None:
        self._closed = True
        with self._lock:
            pumps = list(self._pumps.values())
        for p in pumps:
            p.stop()


class _Pump:
    """One web process's reader of one run: blocks on the run's rows stream (one entry per frame
    the worker made), fetches the newest frame when a new one exists, and puts it with every row
    since into a local Mailbox that this process's tabs read from their own positions. It also
    refreshes the run's viewers set for this process's tabs."""

    def __init__(self, backend: RedisBackend, run_id: str):
        self.b, self.run_id = backend, run_id
        self.mailbox = Mailbox()
        self.alive = True
        self._stop = threading.Event()
        self._last_reader = time.monotonic()
        self._touched = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"pump-{run_id}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def touch_viewers(self) -> None:
        members = self.b.viewer_members(self.run_id)
        self._touched = time.monotonic()
        if not members:
            return
        now = time.time()
        try:
            p = self.b.r.pipeline(transaction=False)
            p.zadd(rk.run_key(self.run_id, "viewers"), {m: now for m in members})
            p.expire(rk.run_key(self.run_id, "viewers"), rk.RUN_TTL_S)
            p.execute()
        except self.b.errors:
            pass

    def _run(self) -> None:
        r, key = self.b.r, rk.run_key(self.run_id, "rows")
        last_id, seen_seq = self._start_position(), 0
        rows: list[np.ndarray] = []
        while not self._stop.is_set() and not self.b._closed:
            if self.b.viewer_members(self.run_id):
                self._last_reader = time.monotonic()
            elif time.monotonic() - self._last_reader > PUMP_IDLE_S:
                break
            if time.monotonic() - self._touched > 1.0:
                self.touch_viewers()
            try:
                got = r.xread({key: last_id}, count=200, block=1000)
                newest_seq = seen_seq
                for _stream, entries in got or []:
                    for entry_id, f in entries:
                        last_id = entry_id
                        newest_seq = int(f[b"seq"])  # a new attempt counts from 1 again
                        n = int(f[b"n"])
                        if n:
                            rows.append(np.frombuffer(f[b"rows"], "<f8").reshape(n, -1))
                if newest_seq != seen_seq or (not got and seen_seq == 0):
                    blob = r.get(rk.run_key(self.run_id, "frame"))
                    newest = None if blob is None else rk.read_newest_frame(blob)
                    if newest is not None and newest[0] != seen_seq:
                        seen_seq = newest[0]
                        block = np.concatenate(rows) if rows else np.zeros((0, 0))
                        rows = []
                        self.mailbox.put(newest[1], block)
            except self.b.errors:
                self._stop.wait(0.5)  # Redis restarting: try again
        self.alive = False

    def _start_position(self) -> bytes | str:
        """Start at the stream's end, with the newest frame (fetched on the first pass)."""
        try:
            last = self.b.r.xrevrange(rk.run_key(self.run_id, "rows"), count=1)
        except self.b.errors:
            return "$"
        return last[0][0] if last else "0-0"
