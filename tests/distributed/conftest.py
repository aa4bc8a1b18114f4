"""Distributed-backend fixtures: a real redis-server on a free port of 127.0.0.1, real Celery
workers and real web processes (`Stack`), each stopped by its PID after the test; `Tab` is a
page's socket."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.stream import decode_envelope
from gancore.frames import decode
from tests.servers import AppServer, Client, run_of
from tests.services import CeleryWorker, RedisServer


@pytest.fixture
def redis_server(tmp_path):
    """A server of the test's own: a test may kill or restart it."""
    srv = RedisServer(tmp_path / "redis")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def redis_module(tmp_path_factory):
    """One server for a module's tests; each test should use keys of its own."""
    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    yield srv
    srv.stop()


class Tab:
    """A page's socket, as assets/stream.js uses it: watch runs, then pull one envelope at a
    time. `pull` collects states, steps, row steps and frames for the tests to read."""

    def __init__(self, server: AppServer, client: Client):
        import simple_websocket

        self.ws = simple_websocket.Client.connect(server.url.replace("http", "ws") + "/ws",
                                                  headers={"Cookie": client.cookie_header()})

    def watch(self, *run_ids: str) -> None:
        self.ws.send(json.dumps({"op": "watch", "runs": list(run_ids)}))

    def pull(self, run_id: str, seconds: float, until=None) -> dict:  # noqa: ANN001
        """Envelopes for `seconds` (or until `until(entry)` holds): what the page would see."""
        seen: dict = {"states": [], "messages": [], "frames": [], "rows": [], "entries": []}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.ws.send("next")
            msg = self.ws.receive(timeout=10)
            if msg is None:
                break
            for entry, frame, rows in decode_envelope(msg):
                if entry["run"] != run_id:
                    continue
                seen["entries"].append((time.monotonic(), entry))
                seen["states"].append(entry["state"])
                seen["messages"].append(entry.get("message", ""))
                if rows is not None:
                    seen["rows"].extend(rows[:, 0].astype(int).tolist())
                if frame is not None:
                    seen["frames"].append(decode(frame).step)
                if until is not None and until(entry):
                    return seen
        return seen

    def close(self) -> None:
        self.ws.close()


class Stack:
    """redis-server, a Celery worker and web processes, all real, on free ports of 127.0.0.1."""

    def __init__(self, root: Path, slots: int = 2, web: int = 1, env: dict | None = None):
        self.root = root
        self.runs = root / "runs"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(root / "redis")
        self.workers = [CeleryWorker(self.redis.url, self.runs, slots=slots)]
        self.env = env or {}
        self.webs = [self.web() for _ in range(web)]
        for w in self.workers:
            w.wait_ready()

    def web(self, *args: str) -> AppServer:
        return AppServer(self.runs, "--redis", self.redis.url, *args, env=self.env)

    def add_worker(self, slots: int = 2, name: str | None = None) -> CeleryWorker:
        w = CeleryWorker(self.redis.url, self.runs, slots=slots, name=name)
        self.workers.append(w)
        w.wait_ready()
        return w

    def end_runs(self, run_ids: list[str]) -> None:
        """Stop these runs now, wherever they train (as their idle stop would, later): the next
        test of a shared stack finds the worker slots free."""
        from app.backends.redis import RedisBackend

        backend = RedisBackend(self.redis.url, self.runs)
        try:
            for run_id in run_ids:
                backend.stop(run_id)
        finally:
            backend.close()

    def stop(self) -> None:
        for w in self.webs:
            w.stop()
        for k in self.workers:
            k.stop()
        self.redis.stop()


@pytest.fixture
def stack(tmp_path):
    """A class's servers of the test's own: it may kill or restart any of them."""
    s = Stack(tmp_path)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def class_stack(tmp_path_factory):
    """One stack for a module whose tests leave it as they found it (each in a browser session
    of its own, its runs ended after it, see `end_runs`): nothing killed, nothing restarted."""
    s = Stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


def open_preset(client: Client, preset: str = "ring8-reference", play: bool = True) -> str:
    """The run a play page of `preset` starts, as a browser opens it; its id."""
    status, answer = client.open_preset(preset, play=play)
    assert status == 200 and run_of(answer), answer
    return str(run_of(answer))


def runs_of(client: Client) -> dict[str, dict]:
    """The session's runs as /api/runs lists them, by id."""
    status, _, body = client.get("/api/runs")
    assert status == 200
    return {r["run_id"]: r for r in json.loads(body)}


def press(client: Client, run_id: str, button: str) -> str:
    """Click one of the play page's buttons ("play" toggles play/pause, "step-d" steps D) as
    the page does; returns the notice it answers with ("" for none)."""
    run = {"run": run_id, "config": runs_of(client)[run_id]["config"]}
    state = [{"id": "run", "property": "data", "value": run}]
    if button == "play":
        inputs = [{"id": "play", "property": "n_clicks", "value": 1}]
    else:
        inputs = [{"id": b, "property": "n_clicks", "value": 1 if b == button else None}
                  for b in ("step-d", "step-g", "step-both")]
    status, answer = client.call(("notice.children",), inputs, state,
                                 trigger=json.dumps(inputs[0]["id"]))
    assert status in (200, 204), answer
    return json.dumps(answer) if status == 200 else ""
