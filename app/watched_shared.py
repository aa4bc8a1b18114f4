"""Watched runs when several web processes serve a class through Redis (app.shared_runs). A
script's post may land on any process, so every post is written into the run's Redis keys the way
a worker writes its frames (gancore.run.redis_keys: status, heartbeat, newest frame, rows
stream): every process's pump, the class view and the library then see the run as any other. The
process that took the start keeps the run's recording: a thread of its own reads the rows stream,
whose entries also carry the frames due for recording, writes the HDF5 file, and marks the run
failed when its script falls silent.

Keys besides a worker's, under the same prefix:
    run:<id>:watch  hash  key (the write key), script (its name), kind, every (record_every),
                          fseq (newest frame's number), due_step (the last frame sent for
                          recording), posted_at (epoch s), rate_at, rate_step, rows_after (rows
                          posted since the newest frame: 1 or 0)
    watched         set   the watched runs posting now, for MAX_WATCHED across processes
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.backends.redis import RedisBackend
from app.limits import Limits
from app.run_record import Run
from app.shared_runs import SharedRunRegistry
from app.watch_recording import due
from app.watched_runs import (
    END_STATES,
    RUN_ID,
    WATCH_OWNER,
    ScriptRun,
    WatchOnly,
    WatchRefused,
    check_key,
    max_watched,
    measured_rate,
    new_recording,
    new_run_id,
    newest_step,
    refused_words,
    silent_after_s,
    silent_words,
)
from gancore.config import ConfigError, RunConfig
from gancore.frames import Frame, decode
from gancore.run import redis_keys as rk

HEARTBEAT_MARGIN_S = 10.0  # the heartbeat outlives the silence limit: the origin says "failed"
READ_BLOCK_MS = 1000
ORIGIN_FIRST_S = 4.0  # the process recording a silent run marks it failed; others after this

# Admit a watched run atomically across web processes: count the members still posting (running
# with a heartbeat), drop the rest, and take a place with the run's status and heartbeat in the
# same step (a member without a status would be dropped by the next count). KEYS: the watched
# set, the new run's status, its heartbeat. ARGV: max, key prefix of runs, run id, heartbeat ms,
# steps/s.
_ADMIT = """
local live = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local st = redis.call('HGET', ARGV[2] .. id .. ':status', 'state')
  if st == 'running' and redis.call('EXISTS', ARGV[2] .. id .. ':hb') == 1 then
    live = live + 1
  else
    redis.call('SREM', KEYS[1], id)
  end
end
if live >= tonumber(ARGV[1]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('HSET', KEYS[2], 'state', 'running', 'message', '', 'step', 0, 'steps_per_s', ARGV[5],
           'attempt', 1)
redis.call('SET', KEYS[3], 0, 'PX', ARGV[4])
return 1
"""


def _text(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


class SharedWatchedRun:
    """One watched run as a post finds it in Redis (any web process)."""

    def __init__(self, store: SharedWatchedRuns, run_id: str, watch: dict[str, str],
                 status: dict[str, str]):
        self.store, self.run_id = store, run_id
        self.key, self.kind = watch["key"], watch["kind"]
        self.watch, self.state = watch, status.get("state", "running")
        self.step = int(status.get("step", 0) or 0)
        self.steps_per_s = float(status.get("steps_per_s", 0.0) or 0.0)

    @property
    def ended(self) -> bool:
        return self.state in END_STATES

    def post(self, rows: np.ndarray, frame: tuple[bytes, Frame] | None,
             step: int | None) -> int:
        """As WatchedRun.post; the pages counted are every web process's (the run's viewers
        set, which each process's pump renews)."""
        if self.ended:
            raise WatchRefused(409, f"this run has ended ({self.state}); start a new one with "
                                    "POST /api/watch")
        r, w, now = self.store.r, self.watch, time.time()
        newest = newest_step(rows, frame, step, self.step)
        rate, (rate_at, rate_step) = measured_rate(
            self.steps_per_s, (float(w.get("rate_at", now)), int(w.get("rate_step", 0))),
            now, newest)
        entry: dict[str, Any] = {"n": len(rows), "rows": np.ascontiguousarray(rows, "<f8")
                                 .tobytes()}
        watch_fields: dict[str, Any] = {"posted_at": now, "rate_at": rate_at,
                                        "rate_step": rate_step, "rows_after": int(len(rows) > 0)}
        if frame is not None:
            entry["seq"] = r.hincrby(rk.run_key(self.run_id, "watch"), "fseq", 1)
            last_due = w.get("due_step")
            if due(frame[1].step, int(last_due) if last_due else None, int(w["every"])):
                entry["rec"] = frame[0]
                watch_fields["due_step"] = frame[1].step
            watch_fields["rows_after"] = 0
        else:
            entry["seq"] = int(w.get("fseq", 0))
        p = r.pipeline(transaction=True)
        p.xadd(rk.run_key(self.run_id, "rows"), entry, maxlen=rk.ROWS_STREAM_MAX,
               approximate=True)
        if frame is not None:
            p.set(rk.run_key(self.run_id, "frame"), rk.newest_frame(entry["seq"], frame[0]),
                  ex=rk.RUN_TTL_S)
        p.hset(rk.run_key(self.run_id, "status"),
               mapping={"step": max(self.step, newest), "steps_per_s": round(rate, 2)})
        p.hset(rk.run_key(self.run_id, "watch"), mapping=watch_fields)
        p.set(rk.run_key(self.run_id, "hb"), newest, px=self.store.heartbeat_ms)
        p.zcount(rk.run_key(self.run_id, "viewers"), now - rk.VIEWER_TTL_S, "+inf")
        return int(p.execute()[-1])

    def end(self, state: str, message: str) -> None:
        if self.ended:
            raise WatchRefused(409, f"this run has ended already ({self.state})")
        self.store.finish(self.run_id, state, message, self.watch.get("rows_after") == "1")


class SharedWatchedRuns:
    """The watched runs of a class in Redis (see the module docstring); this process records
    the ones it started."""

    def __init__(self, registry: SharedWatchedRegistry, max_runs: int | None = None,
                 silent_s: float | None = None):
        self.registry, self.r = registry, registry.r
        self.errors = registry.backend.errors
        self.max_runs = max_runs or max_watched()
        self.silent_s = silent_s or silent_after_s()
        self.heartbeat_ms = int((self.silent_s + HEARTBEAT_MARGIN_S) * 1000)
        self._admit = self.r.register_script(_ADMIT)
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, name: str, config_json: str, steps_per_s: float = 0.0) -> SharedWatchedRun:
        try:
            cfg = RunConfig.from_json(config_json)
        except ConfigError as e:
            raise WatchRefused(400, f"config: {e}") from None
        run_id = new_run_id()
        record = ScriptRun(run_id, WATCH_OWNER + run_id, cfg,
                           str(self.registry.runs_dir / f"{run_id}.h5"), script=name)
        status_key = rk.run_key(run_id, "status")
        if not self._admit(keys=[rk.key("watched"), status_key, rk.run_key(run_id, "hb")],
                           args=[self.max_runs, f"{rk.prefix()}:run:", run_id,
                                 self.heartbeat_ms, steps_per_s]):
            raise WatchRefused(429, f"this dashboard already shows {self.max_runs} watched "
                                    "runs (its most at once); end one, or try again when one "
                                    "finishes")
        try:
            recording = new_recording(record)
        except WatchRefused:
            self.r.srem(rk.key("watched"), run_id)
            self.r.delete(status_key, rk.run_key(run_id, "hb"))
            raise
        watch = {"key": secrets.token_urlsafe(32), "script": name, "kind": record.kind,
                 "every": max(1, cfg.frames.record_every), "fseq": 0,
                 "posted_at": time.time(), "rate_at": time.time(), "rate_step": 0}
        p = self.r.pipeline(transaction=True)
        p.hset(rk.run_key(run_id, "watch"), mapping=watch)
        for part in ("watch", "status"):
            p.expire(rk.run_key(run_id, part), rk.RUN_TTL_S)
        p.set(rk.run_key(run_id, "meta"), self.registry._record(record), ex=rk.RUN_TTL_S)
        p.zadd(rk.key("runs"), {run_id: time.time()})
        p.execute()
        thread = threading.Thread(target=self._record_loop, args=(run_id, recording),
                                  daemon=True, name=f"watch-record-{run_id}")
        self._threads.append(thread)
        thread.start()
        return SharedWatchedRun(self, run_id, {k: str(v) for k, v in watch.items()},
                                {"state": "running", "steps_per_s": str(steps_per_s)})

    def authorized(self, run_id: str, key: str | None) -> SharedWatchedRun:
        watch: dict[str, str] = {}
        status: dict[str, str] = {}
        if RUN_ID.fullmatch(run_id):  # no other text reaches a Redis key name
            p = self.r.pipeline(transaction=False)
            p.hgetall(rk.run_key(run_id, "watch"))
            p.hgetall(rk.run_key(run_id, "status"))
            watch, status = (_text(x) for x in p.execute())
        if not watch.get("key"):
            raise WatchRefused(404, f"no watched run {run_id[:64]!r} on this dashboard (it "
                                    "was never started here, or ended long ago)")
        check_key(key, watch["key"])
        return SharedWatchedRun(self, run_id, watch, status)

    def expire_silent(self) -> None:
        """Fail the silent runs whose recording process is gone (it fails its own first): any
        process's reaper, every 2 s, for the few runs in the watched set."""
        now = time.time()
        for raw in self.r.smembers(rk.key("watched")):
            run_id = raw.decode()
            posted = self.r.hget(rk.run_key(run_id, "watch"), "posted_at")
            if posted is None or now - float(posted) <= self.silent_s + ORIGIN_FIRST_S:
                continue
            status = _text(self.r.hgetall(rk.run_key(run_id, "status")))
            if status.get("state", "running") not in END_STATES:
                self.finish(run_id, "failed", silent_words(int(status.get("step", 0) or 0)),
                            False)

    def script_of(self, run_id: str) -> str:
        name = self.r.hget(rk.run_key(run_id, "watch"), "script")
        return name.decode() if name else "a researcher"

    def finish(self, run_id: str, state: str, message: str, rows_after: bool) -> None:
        """The run's final state for every process; rows posted after its newest frame are
        sent with that frame again, so the pages' charts get them."""
        p = self.r.pipeline(transaction=True)
        p.hset(rk.run_key(run_id, "status"), mapping={"state": state, "message": message})
        p.delete(rk.run_key(run_id, "hb"))
        p.srem(rk.key("watched"), run_id)
        p.execute()
        blob = self.r.get(rk.run_key(run_id, "frame"))
        newest = rk.read_newest_frame(blob) if blob else None
        if rows_after and newest is not None:
            seq = self.r.hincrby(rk.run_key(run_id, "watch"), "fseq", 1)
            p = self.r.pipeline(transaction=True)
            p.set(rk.run_key(run_id, "frame"), rk.newest_frame(seq, newest[1]), ex=rk.RUN_TTL_S)
            p.xadd(rk.run_key(run_id, "rows"), {"seq": seq, "n": 0, "rows": b""},
                   maxlen=rk.ROWS_STREAM_MAX, approximate=True)
            p.execute()

    # ---- the recording, in the process that took the start ----------------------------------
    def _record_loop(self, run_id: str, recording: Any) -> None:
        rows_key, last_id = rk.run_key(run_id, "rows"), "0-0"
        while not self._closed.is_set():
            try:
                last_id = self._record_entries(rows_key, last_id, recording, READ_BLOCK_MS)
                status = _text(self.r.hgetall(rk.run_key(run_id, "status")))
                state = status.get("state", "running")
                if state not in END_STATES:
                    posted = float(self.r.hget(rk.run_key(run_id, "watch"), "posted_at") or 0)
                    if time.time() - posted <= self.silent_s:
                        continue
                    state, status["message"] = "failed", silent_words(
                        int(status.get("step", 0) or 0))
                    self.finish(run_id, state, status["message"], False)
                self._record_entries(rows_key, last_id, recording, None)
                blob = self.r.get(rk.run_key(run_id, "frame"))
                newest = rk.read_newest_frame(blob) if blob else None
                recording.finish(decode(newest[1]) if newest else None,
                                 int(status.get("step", 0) or 0), state,
                                 status.get("message", ""))
                return
            except self.errors:
                self._closed.wait(0.5)  # Redis restarting: read again
        recording.close()

    def _record_entries(self, rows_key: str, last_id: Any, recording: Any,
                        block: int | None) -> Any:
        got = self.r.xread({rows_key: last_id}, count=200, block=block)
        for _stream, entries in got or []:
            for entry_id, f in entries:
                last_id = entry_id
                n = int(f[b"n"])
                if n:
                    recording.rows(np.frombuffer(f[b"rows"], "<f8").reshape(n, -1))
                if b"rec" in f:
                    recording.frame(decode(f[b"rec"]), force=True)
        return last_id

    def close(self) -> None:
        self._closed.set()


class SharedWatchedRegistry(SharedRunRegistry):
    """The shared registry, aware of watched runs: a watched run's record comes back as a
    ScriptRun (its script's name from Redis), and every control on it is refused as watch-only.
    Frames, status and the class view need nothing more: they read the keys the posts wrote."""

    def __init__(self, runs_dir: str | Path, limits: Limits, backend: RedisBackend):
        super().__init__(runs_dir, limits, backend)
        self.watched = SharedWatchedRuns(self)
        self._scripts: dict[str, str] = {}

    def get(self, run_id: str) -> Run:
        run = super().get(run_id)
        if run.owner.startswith(WATCH_OWNER) and not isinstance(run, ScriptRun):
            script = self._scripts.get(run_id) or self.watched.script_of(run_id)
            self._scripts[run_id] = script
            fields = {k: getattr(run, k) for k in Run.__dataclass_fields__}
            run = self._runs[run_id] = ScriptRun(**fields, script=script)
        return run

    def _owned(self, owner: str, run_id: str) -> Run:
        run = self.get(run_id)
        if isinstance(run, ScriptRun):
            raise WatchOnly(refused_words(run))
        return super()._owned(owner, run_id)

    def _reap_once(self) -> None:
        try:
            self.watched.expire_silent()
        except self.backend.errors:
            pass  # Redis restarting: the next pass
        super()._reap_once()

    def close(self) -> None:
        self.watched.close()
        super().close()

