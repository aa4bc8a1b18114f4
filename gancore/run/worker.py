"""A run's process: commands in, newest frame out, recording as it goes.

`WorkerHandle` (in the caller) spawns `worker_main` (in a fresh process: never fork after torch is
imported) and talks to it over one duplex pipe:
    caller -> worker  {"id": n, "op": "pause"|"resume"|"step"|"update"|"restart"|"checkpoint"|
                       "frame"|"stop", ...}
    worker -> caller  ("ack", id, ok, error, result) | ("frame", bytes, rows) | ("rows", rows) |
                      ("status", state, message, step) | ("heartbeat", step, steps_per_s)
The same loop trains a distributed run, with `gancore.run.redis_link.RedisLink` in the pipe's place
(there "rows" carries the scalar rows of a run nobody watches, which makes no pictures).
Frames land in a `Mailbox` (gancore.run.mailbox) that keeps only the newest picture and the
scalar rows its readers have not read, each reader at its own position: a slow reader sees fewer
frames, never older ones, and no point of a loss curve is lost.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait as mp_wait
from typing import TYPE_CHECKING

from gancore.heap import HeapTrimmer
from gancore.run.mailbox import Mailbox
from gancore.vocabulary import FINISHED

if TYPE_CHECKING:
    from gancore.run.session import Session  # imported in the worker process only (torch)

HEARTBEAT_S = 0.5
DEAD_AFTER_S = 10.0  # no heartbeat for this long while the process lives: reported as stuck
# A new process imports torch and builds its run before it answers anything: on a busy 2-core
# box that alone can take tens of seconds, so a command sent meanwhile may wait this much longer.
STARTUP_S = 120.0
# One step command trains at most this many steps: it holds the worker (and in a comparison every
# worker of the group) until done, and 10^9 steps asked by a forged request kept four cores busy.
MAX_STEP_COMMAND = 100_000
STEP_CHUNK = 200  # steps of a step command between two heartbeats


@dataclass
class RunSpec:
    """What a worker needs to start a run (plain data: it crosses the process boundary)."""

    run_id: str
    config_json: str
    record_path: str | None = None
    parent: str | None = None
    fork_step: int | None = None
    autoplay: bool = False
    init_from: str | None = None  # a fork beside its parent: the parent's saved trainer state
    uploads_dir: str | None = None  # where the dashboard keeps uploads (gancore.data.uploads)
    owner_tag: str = ""  # stored in the recording: which browser session may delete it


# ---- the worker process ------------------------------------------------------------------------

def worker_main(conn, spec: RunSpec) -> None:
    """Entry point of the spawned process."""
    import torch

    torch.set_num_threads(1)  # one core per run; the web process and other runs need the rest
    _Loop(conn, spec).run()
    # The run is closed, its recording flushed and shut. Skip the interpreter's teardown: with
    # torch loaded it took 0.6-1.7 s here, during which a stopped run still held its core.
    sys.stdout.flush()
    sys.stderr.flush()
    conn.close()
    os._exit(0)


class _Loop:
    def __init__(self, conn, spec: RunSpec):
        self.conn = conn
        self.session: Session | None = None  # made by _start, replaced by a restart
        self.spec = spec
        self.stop = False
        self.next_frame_at = 0.0
        self.frame_requested = True
        self.steps_at_beat, self.last_beat = 0, time.monotonic()
        self.steps_per_s = 0.0
        self.heap = HeapTrimmer()

    @property
    def current(self) -> Session:
        """The run's session, which `_start` makes before the loop reads it."""
        if self.session is None:
            raise RuntimeError("the run has no session before _start")
        return self.session

    def run(self) -> None:
        from gancore.config import RunConfig

        try:
            self._start(RunConfig.from_json(self.spec.config_json), self.spec)
        except Exception as e:  # noqa: BLE001 - a run that cannot start reports why and ends
            self._send(("status", "failed", f"could not start: {e}", 0))
            return
        if self.spec.autoplay:
            self.current.state = "running"
        self._status()
        while not self.stop:
            self._beat()
            running = self.current.state == "running"
            if self.conn.poll(0 if running else 0.05):
                self._handle(self.conn.recv())
                continue
            if running:
                self._train_until_frame()
            elif self.frame_requested:
                self._emit_frame()
        self.current.close()

    def _start(self, cfg, spec: RunSpec) -> None:
        from gancore.data.uploads import set_uploads_dir
        from gancore.run.session import Session

        set_uploads_dir(spec.uploads_dir)
        if self.session is not None:
            self.session.close()
        self.session = Session(cfg, spec.run_id, spec.record_path, spec.parent, spec.fork_step,
                               spec.init_from, owner=spec.owner_tag)
        self.frame_requested = True

    def _train_until_frame(self) -> None:
        """Train until a frame is due (by steps or by wall clock), then send it. A command that
        arrives meanwhile is handled first; training never waits for drawing."""
        s = self.current
        spf = s.cfg.frames.steps_per_frame
        if spf:
            # Slow motion: frames.fps caps the frame rate here too, so 1 step per frame at
            # 5 fps is 5 steps/s. Waiting in poll() keeps commands answered at once.
            wait = self.next_frame_at - time.monotonic()
            if wait > 0:
                self.conn.poll(min(wait, 0.05))
                return
            s.train(spf)
        else:
            s.train(1)
            while time.monotonic() < self.next_frame_at and s.state == "running" \
                    and not self.conn.poll(0):
                s.train(1)
            if time.monotonic() < self.next_frame_at and not s.finished:
                return
        self._emit_frame()
        if s.finished:
            self._status()

    def _emit_frame(self) -> None:
        from gancore.frames import encode

        s = self.current
        began = time.monotonic()
        if self._watched():
            f = s.frame()
            f.scalars["steps_per_s"] = self.steps_per_s
            f.meta["sent_at"] = time.time()
            omit = ("fake",) if f.kind == "nd" else ()
            self._send(("frame", encode(f, omit), s.take_rows()))
        else:  # nobody watches: no picture, but every scalar row goes out and divergence counts
            s.guard_weights()
            self._send(("rows", s.take_rows()))
        # A fixed cadence from the time this frame was due: counting the period from the end of
        # the send stretched it by the frame's own making (25 fps came out at 18 under load).
        # When frames fall behind, training still gets twice as long as the frame took (and at
        # least a quarter period), so pictures never take more than a third of the core: a 100-D
        # frame takes 45 ms, and at 25 fps it had left training 5 steps/s.
        now = time.monotonic()
        interval = 1.0 / s.cfg.frames.fps
        self.next_frame_at = max(self.next_frame_at + interval,
                                 now + max(0.25 * interval, 2 * (now - began)))
        self.frame_requested = False

    def _beat(self) -> None:
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_S:
            step = self.current.step
            self.steps_per_s = (step - self.steps_at_beat) / (now - self.last_beat)
            self.steps_at_beat, self.last_beat = step, now
            self._send(("heartbeat", step, self.steps_per_s))
            self.heap.maybe_trim()
            self._after_beat()

    def _watched(self) -> bool:
        """Whether a page watches, so frames are worth making (the pipe's reader always is)."""
        return True

    def _after_beat(self) -> None:
        """Once per heartbeat: a subclass's periodic duties (the distributed loop's
        idle pause and checkpoints)."""

    def _status(self) -> None:
        s = self.current
        self._send(("status", s.state, s.message, s.step))

    def _send(self, msg) -> None:
        try:
            self.conn.send(msg)
        except (BrokenPipeError, EOFError, OSError):
            self.stop = True  # the caller is gone: nothing left to train for

    def _handle(self, cmd: dict) -> None:
        op = cmd.get("op")
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            self._send(("ack", cmd.get("id"), False, f"unknown command {op!r}", None))
            return
        try:
            self._send(("ack", cmd.get("id"), True, "", handler(cmd)))
        except Exception as e:  # noqa: BLE001 - the command fails, the run goes on
            self._send(("ack", cmd.get("id"), False, str(e) or type(e).__name__, None))
        self._status()

    # ---- commands ----------------------------------------------------------------------------
    def _op_pause(self, cmd):
        if not self.session.finished:
            self.session.state = "paused"
        self.frame_requested = True

    def _op_resume(self, cmd):
        if self.session.finished:
            raise ValueError(f"run is {self.session.state}: {self.session.message}")
        self.session.state = "running"
        self.next_frame_at = 0.0

    def _op_step(self, cmd):
        """Slow motion: n steps of one half ("d", "g") or both, then a frame."""
        which = cmd.get("which", "both")
        if which not in ("both", "d", "g"):
            raise ValueError(f"step: 'which' must be both, d or g, not {which!r}")
        if self.session.finished:
            raise ValueError(f"run is {self.session.state}: {self.session.message}")
        n = int(cmd.get("n", 1))
        if not 0 <= n <= MAX_STEP_COMMAND:
            raise ValueError(f"step: n must be between 0 and {MAX_STEP_COMMAND:,}, not {n:,}")
        self.session.state = "paused"
        left = n
        while left > 0 and not self.session.finished:
            # In chunks, beating between them: a long step command is not a stuck loop.
            left -= max(1, self.session.train(min(left, STEP_CHUNK), which))
            self._beat()
        self._emit_frame()
        return {"step": self.session.step}

    def _op_update(self, cmd):
        from gancore.config import RunConfig

        new = RunConfig.from_json(cmd["config"])
        changed = self.session.update(new)  # RestartRequired -> failed ack naming the fields
        self.frame_requested = True
        return {"changed": changed, "step": self.session.step}

    def _op_restart(self, cmd):
        """Rebuild the session in this process as a child run (saves a process spawn)."""
        from gancore.config import RunConfig

        cfg = RunConfig.from_json(cmd["config"])
        spec = RunSpec(cmd["run_id"], cmd["config"], cmd.get("record_path"),
                       cmd.get("parent"), cmd.get("fork_step"), init_from=cmd.get("init_from"),
                       uploads_dir=cmd.get("uploads_dir"), owner_tag=cmd.get("owner_tag", ""))
        was_running = self.session.state == "running"
        self._start(cfg, spec)
        self.spec = spec
        if was_running or cmd.get("play"):
            self.session.state = "running"
        return {"run_id": spec.run_id}

    def _op_checkpoint(self, cmd):
        """Save the trainer's state for a fork beside this run; the run keeps its state."""
        from gancore.train.checkpoint import save_state

        return {"step": save_state(self.session.trainer, cmd["path"]),
                "state": self.session.state}

    def _op_frame(self, cmd):
        self.frame_requested = True

    def _op_stop(self, cmd):
        self.stop = True

    def _op_crash(self, cmd):
        """Test hook: ends the process abruptly, as a segfault or the OOM killer would."""
        os._exit(3)


# ---- the caller's side ---------------------------------------------------------------------------

class WorkerHandle:
    """Spawns a run's process and tracks it: state, heartbeat, acks, newest frame."""

    _ctx = mp.get_context("spawn")

    def __init__(self, spec: RunSpec):
        self.spec = spec
        self.mailbox = Mailbox()
        self.state, self.message, self.step = "starting", "", 0
        self.steps_per_s = 0.0
        self.last_seen = time.monotonic()
        self._ids = itertools.count(1)
        self._acks: dict[int, tuple] = {}
        self._ack_cv = threading.Condition()
        self._send_lock = threading.Lock()
        self._conn, child = self._ctx.Pipe(duplex=True)
        self.process = self._ctx.Process(target=worker_main, args=(child, spec), daemon=True,
                                         name=f"ganscope-{spec.run_id}")
        self.process.start()
        child.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def run_id(self) -> str:
        return self.spec.run_id

    def _read(self) -> None:
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                break
            kind = msg[0]
            self.last_seen = time.monotonic()
            if kind == "frame":
                self.mailbox.put(msg[1], msg[2])
            elif kind == "heartbeat":
                self.step, self.steps_per_s = msg[1], msg[2]
            elif kind == "status":
                self.state, self.message, self.step = msg[1], msg[2], msg[3]
            elif kind == "ack":
                with self._ack_cv:
                    self._acks[msg[1]] = msg[2:]
                    self._ack_cv.notify_all()
        self.process.join(timeout=5)
        if self.state not in FINISHED:
            code = self.process.exitcode
            self.state = "failed"
            self.message = f"worker process died (exit code {code})" if code else \
                "worker process ended"
        with self._ack_cv:
            self._ack_cv.notify_all()

    def send(self, op: str, **args) -> int:
        cmd_id = next(self._ids)
        with self._send_lock:
            try:
                self._conn.send({"id": cmd_id, "op": op, **args})
            except (BrokenPipeError, OSError):
                raise RuntimeError(f"run {self.run_id} is not running ({self.state})") from None
        return cmd_id

    def call(self, op: str, timeout: float = 30.0, **args):
        """Send a command and wait for its acknowledgement; raises with the worker's reason."""
        cmd_id = self.send(op, **args)
        if self.state == "starting":
            timeout += STARTUP_S
        deadline = time.monotonic() + timeout
        with self._ack_cv:
            while cmd_id not in self._acks:
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise TimeoutError(f"run {self.run_id}: no answer to {op!r} ({self.state})")
                self._ack_cv.wait(left)
            ok, error, result = self._acks.pop(cmd_id)
        if not ok:
            raise CommandError(error)
        return result

    @property
    def alive(self) -> bool:
        """Whether the process still runs, read from its sentinel (closed when it exits). Not
        `is_alive()`: that reaps the process, and the reader thread reaps it too; the thread whose
        waitpid loses the race read "still running" for a process that had exited."""
        return not mp_wait([self.process.sentinel], 0)

    def stop(self, timeout: float = 5.0) -> None:
        if self.alive:
            try:
                self.send("stop")
            except RuntimeError:
                pass
            mp_wait([self.process.sentinel], timeout)
        if self.alive:
            self.process.kill()
            mp_wait([self.process.sentinel], timeout)
        if self.state not in ("failed",):
            self.state = "stopped"

    def wait_state(self, states: tuple[str, ...], timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while self.state not in states and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.state


class CommandError(RuntimeError):
    """A command the worker refused; the message says why."""


