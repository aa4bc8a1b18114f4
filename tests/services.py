"""Real services for the distributed-backend tests: redis-server and a Celery worker, each a
subprocess on 127.0.0.1 that a fixture starts on a free port and stops by its PID, so a test can
also kill them the way a crash or a pulled cable would."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.servers import ROOT, free_port

NO_REDIS = "redis-server not installed (make services)"


def require_redis() -> str:
    """redis-server's path; a missing one skips the test, or fails it under `make test`, which
    installed it (GANSCOPE_REQUIRE_SERVICES=1): there a skip would hide a broken install."""
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("GANSCOPE_REQUIRE_SERVICES"):
            pytest.fail(NO_REDIS)
        pytest.skip(NO_REDIS)
    return path


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): [state, ppid, ...]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


class RedisServer:
    """redis-server on 127.0.0.1 without persistence: a restart loses every key, as a real
    restart of such a server does. Its log goes to `workdir/redis-PORT.log`."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = self.workdir / f"redis-{self.port}.log"
        self._start()

    def _start(self) -> None:
        server = require_redis()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()/kill()
        self.proc = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1",
             "--protected-mode", "yes", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--daemonize", "no"],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_for_ping(timeout=20.0)
        except RuntimeError:
            self.kill()
            raise

    def _wait_for_ping(self, timeout: float) -> None:
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}: "
                                       f"{self.output()[-2000:]}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"redis-server did not answer within {timeout:.0f} s: "
                           f"{self.output()[-2000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")  # the child writes the file directly

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; a stopped server's PID is gone (reaped)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-command, as on a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()

    def restart(self, down_s: float = 0.0) -> None:
        """kill -9, `down_s` seconds down, then a fresh empty server on the same port (redis sets
        SO_REUSEADDR, so the port is free at once). Clients must reconnect."""
        self.kill()
        time.sleep(down_s)
        self._start()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far."""
        utime, stime = _stat(self.proc.pid)[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")


class CeleryWorker:
    """`gancore worker` (a Celery worker) in a session of its own, so the main process and its
    prefork pool can be killed together by process group. The constructor starts it;
    `wait_ready()` waits for Celery's "NAME@host ready." line in its log. `name` restarts a
    worker under the name of one that was stopped."""

    def __init__(self, redis_url: str, runs_dir: Path, slots: int = 2,
                 env: dict[str, str] | None = None, name: str | None = None):
        self.runs_dir = Path(runs_dir)
        # A name of its own per worker: several workers on one host must not share a node name.
        self.name = name or f"ganscope-{secrets.token_hex(4)}"
        self.log_path = self.runs_dir.parent / f"{self.name}-{secrets.token_hex(2)}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed by stop()/kill_all()
        full_env = {**os.environ, "GANSCOPE_REDIS_URL": redis_url,
                    "GANSCOPE_RUNS_DIR": str(self.runs_dir), "PYTHONPATH": str(ROOT),
                    **(env or {})}
        self.proc = subprocess.Popen(
            # The command a class's worker machine runs (docker-compose.yml's worker).
            [sys.executable, "-m", "gancore", "worker", "--redis", redis_url, "--runs-dir",
             str(self.runs_dir), "--slots", str(slots), "--name", f"{self.name}@%h"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(f"{self.name}@" in line and "ready." in line
                   for line in self.output().splitlines()):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.proc.returncode}: "
                                   f"{self.output()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready within {timeout:.0f} s: "
                           f"{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")  # the child writes the file directly

    def pool_pids(self) -> list[int]:
        """The live pool processes (children of the main process; zombies left out)."""
        pids = set()
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids.update(int(p) for p in (task / "children").read_text().split())
            except OSError:
                continue  # a thread that ended while we looked
        alive = []
        for pid in sorted(pids):
            try:
                if _stat(pid)[0] != "Z":
                    alive.append(pid)
            except OSError:
                continue
        return alive

    def kill_pool_process(self, pid: int) -> None:
        """SIGKILL one pool process, as the kernel's OOM killer would."""
        if pid not in self.pool_pids():
            raise ValueError(f"{pid} is not a pool process of worker {self.proc.pid}")
        os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL the whole worker at once, as a machine that loses power."""
        self._signal_group(signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        """Celery's warm shutdown (SIGTERM), then SIGKILL for whatever is left after 10 s. The
        SIGTERM goes to the main process alone, as `docker compose stop` sends it: Celery stops
        its own pool, while a SIGTERM to the pool processes would kill their tasks outright."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)  # pool processes the main one left behind
        self.proc.wait(10)
        self.log.close()

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass  # the whole group has exited already
