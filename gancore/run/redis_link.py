"""The worker's end of a distributed run: its traffic in Redis keys (gancore.run.redis_keys), in
the shape of the pipe the local backend uses (poll, recv, send), so the same worker loop
(gancore.run.worker) trains a run on either backend.

Redis may restart under a running run (its keys lost with it): every call here survives a
refused connection, the loop trains on, and each heartbeat writes the run's status and heartbeat
again and recreates its command group, so pages find the run again when Redis is back.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

import numpy as np

from gancore.run import redis_keys as rk
from gancore.vocabulary import FINISHED

GROUP = "worker"
# A running loop looks for commands at most this often: one round trip each, so at 0.02 s the
# look alone was 50 Redis commands a second per run; a command now waits 50 ms at most.
POLL_EVERY_S = 0.05
NEVER_WATCHED_GRACE_S = 30.0  # a new run's page may take this long to first watch it
# A run nobody has watched for this long, while runs wait in the queue, gives its slot up (the
# local registry's rule for a full machine).
CLOSED_PAGE_S = 2.5


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RedisLink:
    """Commands in (a consumer group on the run's command stream, acknowledged once handled),
    frames, rows, status and heartbeat out. `watching` tells the loop whether any page watches:
    a run nobody watches makes no frames (its rows still go out and its recording still grows).
    """

    def __init__(self, client: Any, run_id: str, attempt: int, worker: str = "",
                 idle_pause_s: float = 15.0, idle_stop_s: float = 120.0):
        self.r = client
        self.run_id, self.attempt, self.worker = run_id, attempt, worker
        self.keys = {p: rk.run_key(run_id, p)
                     for p in ("frame", "rows", "cmd", "status", "hb", "viewers")}
        self.consumer = f"attempt-{attempt}"
        self._pending: deque[tuple[str, dict]] = deque()  # (stream entry id, command)
        # command id -> (the run it was sent to, its stream entry id), until its ack
        self._entry_of: dict[Any, tuple[str, str | None]] = {}
        self._next_look = 0.0
        self._seq = 0
        self._errors = _redis_errors()
        self.redis_ok = True
        self.outage = False  # Redis was unreachable since the last good heartbeat
        self.waiting = 0  # runs in the class's queue at the last heartbeat
        self.idle_pause_s, self.idle_stop_s = idle_pause_s, idle_stop_s
        self.started = time.monotonic()
        self.owner_seen = float("-inf")  # when an owner's page last watched (monotonic)
        self.anyone_seen = float("-inf")
        self._last_status: dict[str, Any] = {"state": "starting", "message": ""}
        self._held_ack: tuple | None = None
        self._ensure_group(fresh=True)

    # ---- robustness --------------------------------------------------------------------------
    def _call(self, fn, *args, **kw):  # noqa: ANN001, ANN202
        """One Redis call; None when Redis cannot be reached (the loop trains on meanwhile)."""
        try:
            out = fn(*args, **kw)
        except self._errors:
            self._down()
            return None
        self.redis_ok = True
        return out

    def _down(self) -> None:
        """Redis cannot be reached: noted, so its return is noticed (see `beat`)."""
        self.redis_ok = False
        self.outage = True

    def _ensure_group(self, fresh: bool = False) -> None:
        """The command group, from now on: a new attempt does not replay commands sent to the
        attempt that was lost (their senders were told it failed)."""
        import redis

        try:
            self.r.xgroup_create(self.keys["cmd"], GROUP, id="$", mkstream=True)
        except redis.exceptions.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
            if fresh:
                self.r.xgroup_setid(self.keys["cmd"], GROUP, id="$")
        except self._errors:
            self._down()

    # ---- the pipe's shape ----------------------------------------------------------------------
    def poll(self, timeout: float = 0.0) -> bool:
        """Whether a command waits; looks in Redis at most every POLL_EVERY_S unless asked to
        wait (`timeout` > 0, a paused loop), then blocks that long."""
        import redis

        if self._pending:
            return True
        now = time.monotonic()
        if timeout <= 0 and now < self._next_look:
            return False
        self._next_look = now + POLL_EVERY_S
        block = max(1, int(timeout * 1000)) if timeout > 0 else None
        try:
            got = self.r.xreadgroup(GROUP, self.consumer, {self.keys["cmd"]: ">"}, count=16,
                                    block=block)
            self.redis_ok = True
        except redis.exceptions.ResponseError:  # NOGROUP: Redis restarted without our keys
            self._ensure_group()
            return False
        except self._errors:
            self._down()
            if timeout > 0:
                time.sleep(min(timeout, 0.2))
            return False
        for _stream, entries in got or []:
            for entry_id, fields in entries:
                self._pending.append((_text(entry_id), _command(fields)))
        return bool(self._pending)

    def recv(self) -> dict:
        entry_id, cmd = self._pending.popleft()
        self._entry_of[cmd.get("id")] = (self.run_id, entry_id)
        return cmd

    def rebind(self, run_id: str) -> None:
        """The worker's session became a new run (a restart field changed): from now on its
        traffic goes through the new run's keys. The answer to the restart command itself still
        goes to the old run's, where its sender waits."""
        self.run_id = run_id
        self.keys = {p: rk.run_key(run_id, p) for p in self.keys}
        self._pending.clear()
        self._seq = 0
        self._ensure_group(fresh=True)

    def send(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "frame":
            self._frame(msg[1], msg[2])
        elif kind == "rows":
            self._rows(msg[1])
        elif kind == "heartbeat":
            self.beat(int(msg[1]), float(msg[2]))
        elif kind == "status":
            self._status(state=msg[1], message=msg[2], step=int(msg[3]))
        elif kind == "ack":
            # Held until the status that follows every command (worker._Loop._handle), and
            # written after it: whoever hears the answer reads the run's new state.
            self._held_ack = msg[1:]

    # ---- what goes out -----------------------------------------------------------------------
    def _frame(self, frame: bytes, rows: np.ndarray) -> None:
        # Two commands in one round trip, no MULTI: a reader learns of the frame from its rows
        # entry, which this connection writes after the frame (5.7 commands a frame before).
        self._seq += 1
        p = self.r.pipeline(transaction=False)
        p.set(self.keys["frame"], rk.newest_frame(self._seq, frame), ex=rk.RUN_TTL_S)
        self._add_rows(p, rows)
        self._call(p.execute)

    def _rows(self, rows: np.ndarray) -> None:
        if len(rows):
            p = self.r.pipeline(transaction=False)
            self._add_rows(p, rows)
            self._call(p.execute)

    def _add_rows(self, p: Any, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype="<f8")
        p.xadd(self.keys["rows"], {"seq": self._seq, "n": int(rows.shape[0]),
                                   "rows": rows.tobytes()},
               maxlen=rk.ROWS_STREAM_MAX, approximate=True)  # its expiry is set at each beat

    def beat(self, step: int, steps_per_s: float, ttl_ms: int = rk.HEARTBEAT_TTL_MS) -> None:
        """The heartbeat, written by the training loop itself: a stuck loop stops beating. It
        also rewrites the status (after a Redis restart the run's keys come back within one beat)
        and reads who watches."""
        now = time.time()
        p = self.r.pipeline(transaction=False)
        p.set(self.keys["hb"], step, px=ttl_ms)
        p.hset(self.keys["status"], mapping={**self._last_status, "step": step,
                                             "steps_per_s": steps_per_s,
                                             "attempt": self.attempt, "worker": self.worker})
        p.expire(self.keys["status"], rk.RUN_TTL_S)
        p.expire(self.keys["rows"], rk.RUN_TTL_S)
        p.zremrangebyscore(self.keys["viewers"], "-inf", now - rk.VIEWER_TTL_S)
        p.zcard(rk.key("queue"))
        # A page that closes takes itself out (app.backends.redis.forget); one whose process
        # died stops being renewed. A window as short as CLOSED_PAGE_S let a web process stalled
        # for a moment under load look like a closed page.
        p.zrange(self.keys["viewers"], 0, -1)
        out = self._call(p.execute)
        if out is None:
            return
        self.waiting = int(out[-2])
        viewers = [_text(v) for v in out[-1]]
        mono = time.monotonic()
        if self.outage:  # Redis is back: pages get the idle grace again to say they still watch
            self.outage = False
            self.owner_seen = max(self.owner_seen, mono) if self.owner_seen > self.started \
                else self.owner_seen
            self.anyone_seen = mono
        if viewers:
            self.anyone_seen = mono
        if any(v.startswith("o:") for v in viewers):
            self.owner_seen = mono
        if out[1]:  # fields were added: the status hash was gone, Redis restarted without it
            self._ensure_group()

    def _status(self, **fields: Any) -> None:
        self._last_status = {"state": fields["state"], "message": fields["message"]}
        p = self.r.pipeline(transaction=False)
        p.hset(self.keys["status"], mapping={**fields, "attempt": self.attempt,
                                             "worker": self.worker})
        p.expire(self.keys["status"], rk.RUN_TTL_S)
        if fields.get("state") in FINISHED:
            p.delete(self.keys["hb"])
        self._call(p.execute)
        if self._held_ack is not None:
            held, self._held_ack = self._held_ack, None
            self._ack(*held)

    def _ack(self, cmd_id: Any, ok: bool, error: str, result: Any) -> None:
        run_id, entry = self._entry_of.pop(cmd_id, (self.run_id, None))
        p = self.r.pipeline(transaction=True)
        key = rk.ack_key(run_id, cmd_id)
        p.rpush(key, json.dumps({"ok": ok, "error": error, "result": result}, default=_plain))
        p.expire(key, rk.ACK_TTL_S)
        if entry is not None:
            p.xack(rk.run_key(run_id, "cmd"), GROUP, entry)
        self._call(p.execute)

    # ---- what the loop asks ------------------------------------------------------------------
    def flag(self, key: str) -> bool:
        """Whether a key exists (False while Redis cannot say)."""
        return bool(self._call(self.r.exists, key))

    def end_heartbeat(self) -> None:
        """The run ends without a final status: it reads as lost at once (its worker is going)."""
        self._call(self.r.delete, self.keys["hb"])

    @property
    def state(self) -> str:
        """The state this link last wrote."""
        return str(self._last_status["state"])

    def watched(self) -> bool:
        """Whether any page watched within the viewer window (read at each heartbeat)."""
        return time.monotonic() - self.anyone_seen < rk.VIEWER_TTL_S + 1.0

    def idle(self) -> str | None:
        """"pause" when its owner's pages have left it for idle_pause_s, "stop" after
        idle_stop_s, "give way" after CLOSED_PAGE_S when runs wait for a slot; a run never
        watched gets NEVER_WATCHED_GRACE_S first. Spectators do not
        count: a stranger's open tab must not keep a run training. Redis unreachable: None (a
        page cannot say it watches)."""
        if not self.redis_ok:
            return None
        last = max(self.owner_seen, self.started)
        quiet = time.monotonic() - last
        grace = 0.0 if self.owner_seen > self.started else NEVER_WATCHED_GRACE_S
        if quiet > max(self.idle_stop_s, grace):
            return "stop"
        if self.waiting and quiet > max(CLOSED_PAGE_S, grace):
            return "give way"  # its page was closed and others wait for a slot
        if quiet > max(self.idle_pause_s, grace):
            return "pause"
        return None


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _command(fields: dict) -> dict:
    """A stream entry -> the loop's command dict {"id", "op", ...args}."""
    f = {_text(k): v for k, v in fields.items()}
    try:
        args = json.loads(f.get("args", b"{}"))
    except ValueError:
        args = {}
    if not isinstance(args, dict):
        args = {}
    cmd_id = _text(f.get("id", b""))
    return {**args, "id": int(cmd_id) if cmd_id.isdigit() else cmd_id,
            "op": _text(f.get("op", b""))}


def _plain(v: Any) -> Any:
    """JSON for what a command returns: numpy numbers become Python numbers."""
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON")
