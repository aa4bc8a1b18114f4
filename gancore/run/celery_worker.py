"""A worker machine's side of the distributed backend: the Celery task that trains one run in a
pool process, talking to the web tier only through Redis (gancore.run.redis_link).

Start one per machine with `gancore worker --redis URL --runs-dir DIR --slots N` (or
`celery -A gancore.run.celery_worker worker`, GANSCOPE_REDIS_URL and GANSCOPE_RUNS_DIR set).
`--runs-dir` is the runs folder the web tier shares with every worker (a volume): recordings,
uploads and checkpoints are found there by name. A worker machine needs gancore, torch, celery
and redis; not dash, plotly or flask.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from celery.signals import celeryd_after_setup, worker_process_init, worker_shutting_down

from gancore.run import redis_keys as rk
from gancore.run.placement import TASK_NAME, checkpoint_name, make_celery, redis_url
from gancore.run.worker import RunSpec, _Loop
from gancore.vocabulary import FINISHED

# A lost run resumes from at most this much training ago. A small run's state saves in a few
# milliseconds; at 20 s a run killed 12 s after it started resumed from step 0.
CHECKPOINT_EVERY_S = 5.0
WAITED_S = 2.0  # a run that took longer than this to leave the queue waited for a slot

app = make_celery(redis_url() or "redis://127.0.0.1:6379/0")


@celeryd_after_setup.connect
def _undrain(sender: Any = None, **_: Any) -> None:
    """A worker that starts under the name of one that was stopped takes runs again."""
    import redis

    try:
        redis.Redis.from_url(app.conf.broker_url, socket_timeout=5).delete(
            rk.key(f"draining:{sender}"))
    except redis.exceptions.RedisError:
        pass


@worker_shutting_down.connect
def _drain(sender: Any = None, **_: Any) -> None:
    """The worker was asked to stop (SIGTERM, `docker compose stop`): its runs save their state
    and end within a heartbeat, reported lost, so their owners resume them on another worker at
    once from where they stopped. A warm shutdown waited for runs that never end by themselves
    (killed after compose's 10 s, from an older checkpoint)."""
    import redis

    try:
        redis.Redis.from_url(app.conf.broker_url, socket_timeout=5).set(
            rk.key(f"draining:{sender}"), 1, ex=3600)
    except redis.exceptions.RedisError:
        pass  # its runs end with the worker, reported lost by their heartbeats


@worker_process_init.connect
def _warm(**_: Any) -> None:
    """Each pool process imports torch and the engine once, when the worker starts: a run
    placed on it starts at once (the local backend keeps warm spares for the same reason)."""
    import torch

    import gancore.run.session  # noqa: F401 - the import is the point

    torch.set_num_threads(1)  # one core per run slot


def runs_dir() -> Path:
    return Path(os.environ.get("GANSCOPE_RUNS_DIR", "runs")).resolve()


def checkpoint_path(folder: Path, run_id: str) -> Path:
    return folder / checkpoint_name(run_id)


@app.task(name=TASK_NAME, bind=True)
def train_run(self: Any, spec: dict, attempt: int = 1, idle_pause_s: float = 15.0,
              idle_stop_s: float = 120.0) -> None:
    """Train one run until it is stopped, finishes, or its pages leave it. `spec` names files
    relative to the shared runs folder (record, init_from); nothing else crosses."""
    import redis

    from gancore.run.redis_link import RedisLink

    client = redis.Redis.from_url(app.conf.broker_url, socket_timeout=10,
                                  socket_connect_timeout=5, health_check_interval=5)
    run_id = spec["run_id"]
    latest = _take_from_queue(client, run_id)
    if latest is None:
        return  # stopped or replaced while it waited: nothing to train
    spec = {**spec, **latest}
    folder = runs_dir()
    local = RunSpec(run_id, spec["config_json"],
                    _inside(folder, spec.get("record_path")), spec.get("parent"),
                    spec.get("fork_step"), autoplay=bool(spec.get("autoplay")),
                    init_from=_inside(folder, spec.get("init_from")),
                    uploads_dir=str(folder / "uploads"), owner_tag=spec.get("owner_tag", ""))
    link = RedisLink(client, run_id, attempt, worker=f"{socket.gethostname()}:{os.getpid()}",
                     idle_pause_s=idle_pause_s, idle_stop_s=idle_stop_s)
    link.send(("status", "starting", "", int(spec.get("fork_step") or 0)))
    link.beat(0, 0.0, ttl_ms=rk.STARTUP_TTL_MS)
    loop = _DistributedLoop(link, local, checkpoint_path(folder, run_id),
                            draining=rk.key(f"draining:{self.request.hostname}"))
    loop.run()
    if loop.drained:  # its worker is shutting down: the run is lost, resumable at once
        return
    if link.state not in FINISHED:  # stopped by its owner: it says so, and beats no more
        link.send(("status", "stopped", "stopped", loop.current.step if loop.session else 0))


def _take_from_queue(client: Any, run_id: str) -> dict | None:
    """Leave the queue. Returns what changed while the run waited (its config after live edits,
    play or pause), or None when it was stopped meanwhile."""
    import json

    import redis

    try:
        p = client.pipeline(transaction=True)
        p.zscore(rk.key("queue"), run_id)
        p.zrem(rk.key("queue"), run_id)
        p.hmget(rk.run_key(run_id, "status"), ["state", "autoplay"])
        p.get(rk.run_key(run_id, "meta"))
        asked, _, (state, autoplay), meta = p.execute()
        now = time.time()
        if asked is not None and now - float(asked) > WAITED_S:
            # The queue's estimate is how often a run that waited got a slot: runs placed on
            # free slots as a class arrives say how fast students came, not how fast slots free
            # (the first estimates read "28th in line, about 25 s" for a 145-s wait).
            client.rpush(rk.key("started"), now)
            client.ltrim(rk.key("started"), -20, -1)
    except redis.exceptions.RedisError:
        return {}
    if (state or b"").decode() == "stopped":
        return None
    latest: dict[str, Any] = {}
    if autoplay is not None:
        latest["autoplay"] = autoplay == b"1"
    if meta is not None:
        latest["config_json"] = json.loads(meta)["config"]
    return latest


def _inside(folder: Path, name: str | None) -> str | None:
    """A file the web tier named relative to the shared runs folder, refused if it leaves it."""
    if not name:
        return None
    path = (folder / name).resolve()
    if not path.is_relative_to(folder):
        raise ValueError(f"{name!r} is outside the runs folder")
    return str(path)


class _DistributedLoop(_Loop):
    """The worker loop with the duties a remote run has beyond a local one: it makes frames only
    while a page watches, pauses and stops itself when its owner's pages leave (the web tier may
    be several processes, none of which owns the run), and saves its state now and then, so a
    run whose machine dies can be resumed from there."""

    def __init__(self, link: Any, spec: RunSpec, checkpoint: Path, draining: str = ""):
        super().__init__(link, spec)
        self.link = link
        self.checkpoint = checkpoint
        self.draining = draining  # the key that says this run's worker is shutting down
        self.drained = False
        self.saved_at = time.monotonic()
        self.saved_step = -1

    def _op_restart(self, cmd: dict) -> dict:
        """A restart field changed: the new run takes this slot, its files found in the shared
        runs folder, and the link moves to the new run's keys (the old run reads "replaced")."""
        folder = runs_dir()
        cmd = {**cmd, "record_path": _inside(folder, cmd.get("record_path")),
               "init_from": _inside(folder, cmd.get("init_from")),
               "uploads_dir": str(folder / "uploads")}
        result = super()._op_restart(cmd)
        self._send(("status", "stopped", f"replaced by run {cmd['run_id']}", self.current.step))
        self.link.rebind(cmd["run_id"])
        self.checkpoint = checkpoint_path(folder, cmd["run_id"])
        self.saved_step = -1
        self._status()  # the new run's status exists before its sender hears the answer
        self.link.beat(self.current.step, 0.0)
        return result

    def _op_checkpoint(self, cmd: dict) -> dict:
        return super()._op_checkpoint({**cmd, "path": _inside(runs_dir(), cmd["path"])})

    def _watched(self) -> bool:
        return bool(self.link.watched())

    def _after_beat(self) -> None:
        s = self.current
        if self.draining and self.link.flag(self.draining):
            self._drain()
            return
        idle = self.link.idle()
        if idle in ("stop", "give way"):
            why = "no page was watching it" if idle == "stop" else \
                "its page was closed while others waited for a slot"
            self._send(("status", "stopped", f"stopped: {why}", s.step))
            self.stop = True
            return
        if idle == "pause" and s.state == "running":
            s.state = "paused"
            self._status()
        now = time.monotonic()
        if s.step != self.saved_step and (now - self.saved_at > CHECKPOINT_EVERY_S
                                          or s.state != "running"):
            self._save_checkpoint()

    def _drain(self) -> None:
        """Save the run's state and end, leaving it lost (no heartbeat, its status not final):
        its page says so at once and play resumes it from this very step."""
        self._save_checkpoint()
        self.link.end_heartbeat()
        self.drained = self.stop = True

    def _save_checkpoint(self) -> None:
        from gancore.train.checkpoint import save_state

        s = self.current
        try:
            self.saved_step = save_state(s.trainer, self.checkpoint)
            self.saved_at = time.monotonic()
            self.link.r.hset(rk.run_key(s.run_id, "status"), "checkpoint_step", self.saved_step)
        except Exception:  # noqa: BLE001 - a missed checkpoint only makes a resume older
            self.saved_at = time.monotonic()
