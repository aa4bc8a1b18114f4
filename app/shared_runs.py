"""The run registry when several web processes serve one class (app.backends.redis): runs,
ownership, each session's share and the queue live in Redis, so any process serves any tab and
a limit holds across all of them (one Lua script admits a run: count and reserve in one step).

What differs from the local registry (app.runs.RunRegistry, whose rules it keeps otherwise):
the machine's size is the number of worker slots, so a run that finds them all taken waits in
Celery's queue (its place read from the queue set); idle runs pause and stop themselves, since
their worker sees every process's tabs; a lost run resumes, when its owner asks, as a new
attempt from its last checkpoint.
"""

from __future__ import annotations

import builtins
import json
import threading
import time
from pathlib import Path
from typing import Any

from app.backends.redis import LIVE, RedisBackend
from app.groups import RedisGroupBoard
from app.limits import LimitError, Limits, ServerFull, UnknownRun, owner_tag
from app.run_record import NEVER_WATCHED_GRACE_S, Run, ordinal
from app.runs import MAX_QUEUE, ROOM_WAIT_S, RunRegistry
from gancore.config import RunConfig
from gancore.run import redis_keys as rk
from gancore.run.placement import checkpoint_name
from gancore.run.worker import CommandError, RunSpec

CACHE_S = 1.0  # a run record read from Redis is trusted this long in one process
SWEEP_EVERY_S = 60.0  # uploads and fork hand-offs are kept for 10 minutes anyway
PLACE_WAIT_S = 8.0  # a run that must not queue (compare, fork beside) waits this long for a slot
RECONNECT_GRACE_S = 10.0  # after a Redis restart, a run's worker has this long to report again

# Admit a run for a session, atomically across web processes. KEYS: the session's set, the
# queue, the new run's status, the owner's runs, all runs, the new run's record. A member counts
# while it is queued, or its worker beats in a state that holds a slot; others leave the set.
# The lists of runs keep the newest 200 of a session and 10,000 overall (records expire anyway).
_ADMIT = """
local live = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local st = redis.call('HGET', ARGV[5] .. id .. ':status', 'state')
  local beating = redis.call('EXISTS', ARGV[5] .. id .. ':hb') == 1
  if st == 'queued' or (beating and (st == 'starting' or st == 'running' or st == 'paused'
      or st == 'done' or st == 'diverged')) then
    live = live + 1
  else
    redis.call('SREM', KEYS[1], id)
  end
end
if live >= tonumber(ARGV[1]) then return {'session', live} end
local waiting = redis.call('ZCARD', KEYS[2])
if waiting >= tonumber(ARGV[2]) then return {'queue', waiting} end
redis.call('SADD', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], 'state', 'queued', 'message', '', 'step', ARGV[8],
           'attempt', ARGV[9], 'autoplay', ARGV[10])
redis.call('EXPIRE', KEYS[3], ARGV[7])
redis.call('SET', KEYS[6], ARGV[6], 'EX', ARGV[7])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -201)
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -10001)
return {'ok', live + 1}
"""


class SharedRunRegistry(RunRegistry):
    """Runs in Redis, shared by every web process; see the module docstring."""

    backend: RedisBackend

    def __init__(self, runs_dir: str | Path, limits: Limits, backend: RedisBackend):
        super().__init__(runs_dir, limits, backend)
        self.r: Any = backend.r
        self._admit = self.r.register_script(_ADMIT)
        self._read_at: dict[str, float] = {}
        self._missing_since: dict[str, float] = {}  # runs Redis forgot (restarted), since when
        self._swept_at = float("-inf")
        self.groups = RedisGroupBoard(self.r, backend.errors)

    # ---- run records -----------------------------------------------------------------------
    def _record(self, run: Run) -> str:
        return json.dumps({
            "run_id": run.run_id, "owner": run.owner, "config": run.config.to_json(),
            "record": Path(run.record_path).name if run.record_path else None,
            "parent": run.parent, "fork_step": run.fork_step, "preset": run.preset,
            "created": time.time() - (time.monotonic() - run.created), "ended": run.ended,
            "attempt": run.attempt, "autoplay": run.autoplay, "init_from": run.init_from})

    def _save(self, run: Run) -> None:
        self.r.set(rk.run_key(run.run_id, "meta"), self._record(run), ex=rk.RUN_TTL_S)
        self._runs[run.run_id] = run
        self._read_at[run.run_id] = time.monotonic()

    def _load(self, run_id: str) -> Run | None:
        try:
            raw = self.r.get(rk.run_key(run_id, "meta"))
        except self.backend.errors:
            return self._runs.get(run_id)  # Redis restarting: what this process knew
        if raw is None:
            cached = self._runs.get(run_id)
            if cached is not None:  # Redis restarted without it: what this process knew
                self._republish(cached)
            return cached
        d = json.loads(raw)
        run = Run(d["run_id"], d["owner"], RunConfig.from_json(d["config"]),
                  str(self.runs_dir / d["record"]) if d.get("record") else "",
                  parent=d.get("parent"), fork_step=d.get("fork_step"), preset=d.get("preset"),
                  created=time.monotonic() - (time.time() - float(d["created"])),
                  ended=d.get("ended"), attempt=int(d.get("attempt", 1)),
                  autoplay=bool(d.get("autoplay")), init_from=d.get("init_from"))
        old = self._runs.get(run_id)
        if old is not None:  # what this process counts of its own tabs stays
            run.watchers, run.spectators, run.last_watched = \
                old.watchers, old.spectators, old.last_watched
        self._runs[run_id] = run
        self._read_at[run_id] = time.monotonic()
        return run

    def _republish(self, run: Run) -> None:
        """Write a run's record back after Redis restarted without it (nothing persists there):
        each web process knows the runs its tabs showed, and the worker writes its status and
        heartbeat back itself, so the run carries on where it was."""
        created = time.time() - (time.monotonic() - run.created)
        try:
            p = self.r.pipeline(transaction=False)
            p.set(rk.run_key(run.run_id, "meta"), self._record(run), ex=rk.RUN_TTL_S, nx=True)
            p.zadd(rk.key(f"owned:{run.owner}"), {run.run_id: created}, nx=True)
            p.zadd(rk.key("runs"), {run.run_id: created}, nx=True)
            if not run.ended:
                p.sadd(rk.key(f"session:{run.owner}"), run.run_id)
            p.execute()
        except self.backend.errors:
            pass
        self._read_at[run.run_id] = time.monotonic()

    def get(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None or time.monotonic() - self._read_at.get(run_id, 0.0) > CACHE_S:
            run = self._load(run_id)
        if run is None:
            raise UnknownRun(f"no run {run_id!r}")
        run.queued = self._state(run_id) == "queued"
        return run

    def _state(self, run_id: str) -> str:
        try:
            return self.backend.status(run_id)["state"]
        except UnknownRun:
            return "unknown"

    def runs(self) -> builtins.list[Run]:
        """The runs started lately by any process (the newest 500)."""
        try:
            ids = [i.decode() for i in self.r.zrevrange(rk.key("runs"), 0, 499)]
        except self.backend.errors:
            return list(self._runs.values())
        return [run for i in ids if (run := self._safe_get(i)) is not None]

    def _safe_get(self, run_id: str) -> Run | None:
        try:
            return self.get(run_id)
        except UnknownRun:
            return None

    def _session_runs(self, owner: str) -> builtins.list[Run]:
        ids = [i.decode() for i in self.r.zrevrange(rk.key(f"owned:{owner}"), 0, 199)]
        return [run for i in ids if (run := self._safe_get(i)) is not None]

    def active(self, owner: str | None = None) -> builtins.list[Run]:
        runs = self._session_runs(owner) if owner is not None else self.runs()
        return [r for r in runs if self.backend.alive(r.run_id)]

    def live(self) -> builtins.list[Run]:
        """Every process's queued or beating runs, oldest first (RedisBackend.live_ids)."""
        runs = [r for i in self.backend.live_ids() if (r := self._safe_get(i)) and not r.ended]
        return sorted(runs, key=lambda r: r.created)

    def holding(self, owner: str | None = None) -> builtins.list[Run]:
        runs = self._session_runs(owner) if owner is not None else self.runs()
        return [r for r in runs if self._state(r.run_id) == "queued"
                or (self._state(r.run_id) in LIVE and self.backend.alive(r.run_id))]

    def list(self, owner: str) -> builtins.list[dict[str, Any]]:
        self._runs.update({r.run_id: r for r in self._session_runs(owner)})
        return [row for row in super().list(owner)
                if row["run_id"] in {r.run_id for r in self._session_runs(owner)}]

    # ---- status and the queue ----------------------------------------------------------------
    def status(self, run_id: str) -> dict[str, Any]:
        run = self.get(run_id)
        try:
            status = self.backend.status(run_id)
        except UnknownRun:
            if run.ended:
                return {"state": "stopped", "message": run.ended, "step": 0,
                        "steps_per_s": 0.0, "alive": False, "pid": None, "attempt": run.attempt}
            # Known here, unknown to Redis: it restarted, and the worker writes the run's status
            # back at its next heartbeat. One that stays silent is lost (its worker died too).
            first = self._missing_since.setdefault(run_id, time.monotonic())
            if time.monotonic() - first > RECONNECT_GRACE_S:
                self.r.hsetnx(rk.run_key(run_id, "status"), "state", "running")
                self.r.hsetnx(rk.run_key(run_id, "status"), "attempt", run.attempt)
                return self.backend.status(run_id)
            return {"state": "reconnecting", "message": "waiting for the run's worker to report",
                    "step": 0, "steps_per_s": 0.0, "alive": False, "pid": None,
                    "attempt": run.attempt}
        if status["state"] == "queued":
            status["message"] = self._queue_words_of(run_id)
        return status

    def queue_place(self, run_id: str) -> int | None:
        rank = self.r.zrank(rk.key("queue"), run_id)
        return None if rank is None else int(rank) + 1

    def _queue_words_of(self, run_id: str) -> str:
        """"3rd in line, about 20 s": the estimate from how often queued runs started lately."""
        place = self.queue_place(run_id)
        if place is None:
            return "starting"
        words = f"{ordinal(place)} in line"
        now = time.time()
        starts = sorted(float(t) for t in self.r.lrange(rk.key("started"), 0, -1))
        recent = [t for t in starts if now - t < 600]
        if len(recent) >= 2:
            every = (recent[-1] - recent[0]) / (len(recent) - 1)
            words += f", about {max(5, round(place * every / 5) * 5):.0f} s"
        return words

    def _admit_queued(self) -> None:
        """Celery starts queued runs as slots free; nothing to do here."""

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self, owner: str, cfg: RunConfig, *, autoplay: bool = False,
              preset: str | None = None, allowance: int | None = None,
              parent: str | None = None, fork_step: int | None = None,
              init_from: str | None = None, queue: bool = True) -> Run:
        """Admit (one atomic step in Redis) and place the run: it waits in the queue until a
        worker slot is free. LimitError when the session has its share, ServerFull when the
        queue is full."""
        self.uploads.check_config(owner, cfg)
        run = self._new_run(owner, cfg, parent=parent, fork_step=fork_step, preset=preset,
                            autoplay=autoplay, init_from=init_from)
        self._admit_run(run, allowance)
        self._place(run)
        if not queue and not self._left_queue(run.run_id, PLACE_WAIT_S):
            # A comparison's runs move in lock-step, and a fork beside trains beside its parent:
            # neither may wait behind a class. Refused, as the local registry refuses on a full
            # machine (the web tier does not count the workers' slots; a free one takes a run
            # within a second).
            self._release(run, "stopped: every worker slot was taken")
            raise ServerFull("every worker slot of the class is taken: try again when a run "
                             "ends (a comparison or a fork beside does not wait in the queue)")
        return run

    def _left_queue(self, run_id: str, within: float) -> bool:
        """Whether a worker took the run (it left the queue) within `within` seconds."""
        deadline = time.monotonic() + within
        while self._state(run_id) == "queued":
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _admit_run(self, run: Run, allowance: int | None, attempt: int = 1) -> None:
        per_session = self.limits.per_session if allowance is None else allowance
        deadline = time.monotonic() + ROOM_WAIT_S
        while True:
            verdict, count = self._admit(
                keys=[rk.key(f"session:{run.owner}"), rk.key("queue"),
                      rk.run_key(run.run_id, "status"), rk.key(f"owned:{run.owner}"),
                      rk.key("runs"), rk.run_key(run.run_id, "meta")],
                args=[per_session, MAX_QUEUE, run.run_id, time.time(), f"{rk.prefix()}:run:",
                      self._record(run), rk.RUN_TTL_S, run.fork_step or 0, attempt,
                      int(run.autoplay)])
            verdict = verdict.decode() if isinstance(verdict, bytes) else verdict
            if verdict == "ok":
                self._runs[run.run_id] = run
                self._read_at[run.run_id] = time.monotonic()
                return
            if verdict == "queue":
                raise ServerFull(f"the server is full and {count} runs are waiting for a slot; "
                                 "try again in a few minutes")
            # The session's share is taken: runs whose page was closed give theirs back (a
            # reloaded page's old runs), for up to ROOM_WAIT_S while their sockets close.
            if not self._take_back_unwatched(run.owner) and time.monotonic() > deadline:
                raise LimitError(f"limit reached: this browser session already has {count} "
                                 f"run(s) (at most {per_session}); stop or close one first")
            time.sleep(0.2)

    def _take_back_unwatched(self, owner: str) -> bool:
        """Stop this session's runs that no page watches (no viewer left in the run's set, and
        the run old enough for its page to have attached). True when one was stopped."""
        took = False
        now = time.time()
        for run in self.holding(owner):
            # A closed page takes itself out of the set; the window only covers a web process
            # that died (a short one took a busy process's stalled renewal for a closed page).
            viewers = self.r.zcount(rk.run_key(run.run_id, "viewers"), now - rk.VIEWER_TTL_S,
                                    "+inf")
            watched = self.r.hget(rk.run_key(run.run_id, "status"), "watched_at")
            age = time.monotonic() - run.created
            if viewers == 0 and age > (5.0 if watched else NEVER_WATCHED_GRACE_S):
                self._release(run, "stopped: its page was closed")
                took = True
        return took

    def _place(self, run: Run, attempt: int = 1) -> None:
        try:
            self.backend.start(RunSpec(run.run_id, run.config.to_json(), run.record_path,
                                       run.parent, run.fork_step, autoplay=run.autoplay,
                                       init_from=run.init_from,
                                       uploads_dir=str(self.uploads.folder),
                                       owner_tag=owner_tag(run.owner)), attempt=attempt)
        except Exception:
            self.backend.mark(run.run_id, "failed", "could not be placed on a worker")
            raise

    def _release(self, run: Run, why: str) -> None:
        run.ended = run.ended or why
        self._save(run)
        self.backend.stop(run.run_id)
        self.r.srem(rk.key(f"session:{run.owner}"), run.run_id)

    def replace(self, owner: str, run_id: str, cfg: RunConfig, *, parent: str | None = None,
                fork_step: int | None = None, autoplay: bool = False,
                preset: str | None = None) -> Run:
        """A new run in the old run's worker slot (a child when `parent` is given); a queued or
        stopped old run gives its place up and the new one is admitted afresh."""
        old = self._owned(owner, run_id)
        self.uploads.check_config(owner, cfg)
        if self._state(run_id) not in LIVE or not self.backend.alive(run_id):
            self._release(old, "replaced")
            return self.start(owner, cfg, autoplay=autoplay, preset=preset)
        new = self._new_run(owner, cfg, parent=parent, fork_step=fork_step, preset=preset,
                            autoplay=autoplay)
        self.backend.restart(run_id, RunSpec(new.run_id, cfg.to_json(), new.record_path,
                                             parent, fork_step, owner_tag=owner_tag(owner)),
                             play=autoplay)
        old.ended = f"replaced by run {new.run_id}"
        self._save(old)
        self._save(new)
        now = time.time()
        p = self.r.pipeline(transaction=True)
        p.srem(rk.key(f"session:{owner}"), run_id)
        p.sadd(rk.key(f"session:{owner}"), new.run_id)
        p.zadd(rk.key(f"owned:{owner}"), {new.run_id: now})
        p.zadd(rk.key("runs"), {new.run_id: now})
        p.execute()
        return new

    def apply(self, owner: str, run_id: str,
              cfg: RunConfig) -> tuple[Run, builtins.list[str], builtins.list[str]]:
        run, live, restart = super().apply(owner, run_id, cfg)
        if not restart:
            self._save(run)
        return run, live, restart

    def command(self, owner: str, run_id: str, op: str, **args: Any) -> Any:
        """As the local registry; a queued run remembers play and pause for its start, and play
        on a lost run resumes it from its last checkpoint as a new attempt."""
        run = self._owned(owner, run_id)
        state = self._state(run_id)
        if state == "queued" and op in ("pause", "resume"):
            self.r.hset(rk.run_key(run_id, "status"), "autoplay", int(op == "resume"))
            return {}
        if state == "queued" and not self._left_queue(run_id, PLACE_WAIT_S):
            # Every run passes through the queue; with a free slot a worker takes it at once.
            raise CommandError(f"the run is waiting for a free slot "
                               f"({self._queue_words_of(run_id)})")
        if state == "lost" and op == "resume":
            return self.resume(run)
        return self.backend.command(run_id, op, **args)

    def resume(self, run: Run) -> dict[str, Any]:
        """A lost run continues as attempt N+1 from its last checkpoint, in a new recording that
        names the lost attempt as its parent (the old one stays readable as it was)."""
        status = self.backend.status(run.run_id)
        ckpt = self.runs_dir / checkpoint_name(run.run_id)
        run.attempt = status["attempt"] + 1
        run.init_from = str(ckpt) if ckpt.is_file() else None
        run.fork_step = status["checkpoint_step"] if run.init_from else 0
        run.parent = run.run_id
        run.autoplay = True
        run.record_path = str(self.runs_dir / f"{run.run_id}-attempt{run.attempt}.h5")
        self._admit_run(run, None, attempt=run.attempt)
        self._save(run)
        self._place(run, attempt=run.attempt)
        return {"attempt": run.attempt, "step": run.fork_step}

    def fork_beside(self, owner: str, run_id: str, cfg: RunConfig) -> Run:
        self._owned(owner, run_id)
        return super().fork_beside(owner, run_id, cfg)

    def _check_limits(self, owner: str, allowance: int | None = None) -> None:
        """A look before a fork beside saves its checkpoint (start() admits it for real)."""
        per_session = self.limits.per_session if allowance is None else allowance
        if len(self.holding(owner)) >= per_session:
            raise LimitError(f"limit reached: this browser session already has "
                             f"{len(self.holding(owner))} run(s) (at most {per_session}); stop "
                             "or close one first")

    # ---- watching ----------------------------------------------------------------------------
    def watch(self, run_id: str, viewer: str | None = None, reader: object = None) -> None:
        try:
            run = self.get(run_id)
        except UnknownRun:
            return
        owner = viewer is None or viewer == run.owner
        self.backend.watch(run_id, reader if reader is not None else object(), owner)
        if owner:
            self.r.hsetnx(rk.run_key(run_id, "status"), "watched_at", time.time())
        super().watch(run_id, viewer)

    def watched_within(self, run_id: str, seconds: float) -> bool:
        """Every web process's pages count: their members in the run's viewers set, which each
        process's pump renews every second (and the worker prunes after VIEWER_TTL_S)."""
        try:
            members = self.r.zrangebyscore(rk.run_key(run_id, "viewers"), time.time() - seconds,
                                           "+inf")
        except self.backend.errors:
            members = []
        return any(m.startswith(b"o:") for m in members) or \
            super().watched_within(run_id, seconds)

    def request_picture(self, run_id: str) -> None:
        if self._state(run_id) == "paused":
            threading.Thread(target=self._ask_frame, args=(run_id,), daemon=True).start()

    def _ask_frame(self, run_id: str) -> None:
        try:
            self.backend.call(run_id, "frame", {}, timeout=5)
        except (CommandError, UnknownRun, TimeoutError, RuntimeError):
            pass

    def _reap_once(self) -> None:
        """Workers pause and stop their idle runs themselves (they see every process's tabs);
        here only the fork hand-offs and uploads no run uses are swept, once a minute (it reads
        every recent run's record: every process, every 2 s, would load Redis with a class)."""
        from app.watching import FORK_HANDOFF_TTL_S

        if time.monotonic() - self._swept_at < SWEEP_EVERY_S:
            return
        self._swept_at = time.monotonic()
        self._drop_fork_handoffs(FORK_HANDOFF_TTL_S)
        self.uploads.sweep({r.config.target.data_path for r in self.holding()
                            if r.config.target.data_path})
