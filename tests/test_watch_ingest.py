"""The watch link's dashboard side (app.watch_ingest, app.watched_runs) against a real server on
127.0.0.1: a script's start, frame and end posts over http.client, with frames a real 2-D
gancore Session made. A watched run reaches the stream route and the class view like a native
run, its recording lands in the runs folder, every bad post is refused with its status and a
reason, and a script that falls silent leaves a run marked failed.
"""

from __future__ import annotations

import http.client
import json
import struct
import threading
import time
from typing import Any

import numpy as np
import pytest
import simple_websocket

from app.stream import decode_envelope
from gancore.frames import STAT_COLUMNS, decode, encode
from gancore.store.library import summarize
from gancore.store.reader import open_recording
from gancore.teach.presets import PRESETS
from tests.helpers import wait_for
from tests.servers import AppServer

SILENT_S = 4.0  # the test server's WATCH_SILENT_S (30 s in use)
PRESET = "ring8-reference"  # a 2-D run
CHUNK = 20  # training steps per posted frame
TOKEN = "watch-test-token"


def make_frames(n: int = 6, preset: str = PRESET) -> tuple[str, list[tuple[np.ndarray, bytes]]]:
    """(config JSON, [(the rows of CHUNK steps, the encoded frame after them)] * n): what a
    watched script posts, made by a real Session of a seeded preset."""
    from gancore.run.session import Session

    cfg = PRESETS[preset].config().with_changes({"frames.record_every": 100})
    session = Session(cfg, "watched")
    out = []
    for _ in range(n):
        session.train(CHUNK)
        out.append((session.take_rows(), encode(session.frame())))
    return cfg.to_json(), out


@pytest.fixture(scope="module")
def made() -> tuple[str, list[tuple[np.ndarray, bytes]]]:
    return make_frames()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("watch") / "runs", "--no-spare",
                    env={"GANSCOPE_WATCH_SILENT_S": str(SILENT_S)})
    yield srv
    srv.stop()


class Script:
    """What a training script does over the watch link: plain http.client posts."""

    def __init__(self, srv: AppServer, headers: dict[str, str] | None = None):
        self.srv, self.headers = srv, headers or {}
        self.run = self.key = ""
        self.viewers: str | None = None  # the last reply's X-Ganscope-Viewers

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None
             ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers={**self.headers, **(headers or {})})
            resp = conn.getresponse()
            data = resp.read()
            self.viewers = resp.getheader("X-Ganscope-Viewers")
        finally:
            conn.close()
        if resp.getheader("Content-Type", "").startswith("application/json"):
            return resp.status, json.loads(data)
        return resp.status, data

    def start(self, config: str, name: str = "alice", **extra: Any) -> tuple[int, Any]:
        status, answer = self.post("/api/watch", json.dumps(
            {"v": 1, "name": name, "config": config, **extra}).encode(),
            {"Content-Type": "application/json"})
        if status == 200:
            self.run, self.key = answer["run"], answer["key"]
        return status, answer

    def frame(self, rows: np.ndarray, frame: bytes = b"", key: str | None = None,
              n_cols: int | None = None, **headers: str) -> tuple[int, Any]:
        body = struct.pack("<II", len(rows), n_cols or len(STAT_COLUMNS)) + \
            np.ascontiguousarray(rows, "<f8").tobytes() + frame
        return self.post(f"/api/watch/{self.run}/frame", body,
                         {"X-Ganscope-Key": self.key if key is None else key, **headers})

    def end(self, state: str = "done", message: str = "finished") -> tuple[int, Any]:
        return self.post(f"/api/watch/{self.run}/end",
                         json.dumps({"state": state, "message": message}).encode(),
                         {"X-Ganscope-Key": self.key})


def started_on(first: AppServer, second: AppServer, config: str, name: str
               ) -> tuple[Script, Script]:
    """One watched run started on `first`, and a second Script posting to it through `second`."""
    script = Script(first)
    assert script.start(config, name=name)[0] == 200
    other = Script(second)
    other.run, other.key = script.run, script.key
    return script, other


def class_runs(srv: AppServer) -> dict[str, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    conn.request("GET", "/api/class")
    body = conn.getresponse().read()
    conn.close()
    return {r["run"]: r for r in json.loads(body)["runs"]}


def stream_of(srv: AppServer, run_id: str, until_step: int, timeout: float = 30.0,
              pictured: threading.Event | None = None) -> tuple[list[int], list[int], dict]:
    """Watch a run through /ws as a page does: (frame steps, row steps, last status entry),
    once a frame of `until_step` arrived. `pictured` is set once the first frame arrived."""
    ws = simple_websocket.Client.connect(srv.url.replace("http", "ws") + "/ws")
    frames: list[int] = []
    rows: list[int] = []
    last: dict = {}
    try:
        ws.send(json.dumps({"op": "watch", "runs": [run_id]}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and until_step not in frames:
            ws.send("next")
            msg = ws.receive(timeout=10)
            for entry, frame, block in decode_envelope(msg):
                last = entry
                if block is not None:
                    rows.extend(block[:, 0].astype(int).tolist())
                if frame is not None:
                    frames.append(decode(frame).step)
                    if pictured is not None:
                        pictured.set()
    finally:
        ws.close()
    return frames, rows, last


def assert_clean(answer: Any, srv: AppServer) -> None:
    """A refusal says what is wrong, as JSON, and nothing of the server's insides."""
    assert isinstance(answer, dict) and set(answer) == {"error"}, answer
    text = answer["error"]
    assert text and "Traceback" not in text and str(srv.runs_dir) not in text
    assert "/work" not in text and ".py" not in text


def test_wi001_start_post_end_round_trip(server, made):
    config, chunks = made
    script = Script(server)
    status, answer = script.start(config, name="alice", steps_per_s=120.0)
    assert status == 200, answer
    assert answer["page"] == f"/?run={script.run}" and len(answer["key"]) >= 32
    # Rows alone first (a script between two frames), then rows with each frame.
    status, _ = script.frame(chunks[0][0][:5])
    assert status == 204
    status, _ = script.frame(chunks[0][0][5:], chunks[0][1])
    assert status == 204
    frames, rows, entry = stream_of(server, script.run, CHUNK)
    assert frames == [CHUNK] and rows == list(range(1, CHUNK + 1))
    assert entry["state"] == "running" and entry["step"] == CHUNK

    wait_for(lambda: script.run in class_runs(server), 10, "the run in the class view")
    listed = class_runs(server)[script.run]
    assert listed["preset"] == "alice (own script)" and listed["kind"] == "2d"
    assert listed["picture"]["kind"] == "points" and listed["picture"]["fake"]

    for rows_block, frame in chunks[1:]:
        assert script.frame(rows_block, frame, **{"X-Ganscope-Step": str(
            int(rows_block[-1, 0]))})[0] == 204
    last_step = CHUNK * len(chunks)
    frames, rows, entry = stream_of(server, script.run, last_step)
    assert frames[-1] == last_step and entry["step"] == last_step
    assert script.end("done", "finished at step 120")[0] == 204
    wait_for(lambda: script.run not in class_runs(server), 10, "the ended run to leave the list")
    _, _, entry = stream_of(server, script.run, -1, timeout=2)
    assert (entry["state"], entry["message"]) == ("done", "finished at step 120")
    status, answer = script.frame(chunks[0][0], chunks[0][1])
    assert status == 409 and "ended" in answer["error"]

    # The dashboard's own recording: every row, frames at the config's cadence (100 steps),
    # the first and the last; the library reads it.
    path = server.runs_dir / f"{script.run}.h5"
    with open_recording(path) as rec:
        assert list(rec.steps) == [CHUNK, 100, last_step]
        assert rec.label == "alice", "the library names the run as its script did"
        _, scalars = rec.scalars()
        assert scalars[:, 0].astype(int).tolist() == list(range(1, last_step + 1))
        np.testing.assert_array_equal(scalars, np.concatenate([c[0] for c in chunks]))
    assert summarize(path).steps == last_step
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("GET", f"/export/run/{script.run}/csv")  # exports read it as any run's
    resp = conn.getresponse()
    csv = resp.read().decode()
    conn.close()
    assert resp.status == 200 and csv.count("\n") >= last_step, csv[:300]


BAD = [  # (what, how to post it, status, words the answer must hold)
    ("wrong key", lambda s, c: s.frame(c[0], c[1], key="not-the-key"), 403, "X-Ganscope-Key"),
    ("no key", lambda s, c: s.frame(c[0], c[1], key=""), 403, "X-Ganscope-Key"),
    ("wrong n_cols", lambda s, c: s.frame(c[0][:, :5], n_cols=5), 400, "n_cols is 5"),
    ("short rows", lambda s, c: s.post(f"/api/watch/{s.run}/frame",
                                       struct.pack("<II", 50, 7) + b"\0" * 80,
                                       {"X-Ganscope-Key": s.key}), 400, "n_rows is 50"),
    ("short head", lambda s, c: s.post(f"/api/watch/{s.run}/frame", b"\1\0",
                                       {"X-Ganscope-Key": s.key}), 400, "8-byte head"),
    ("NaN step", lambda s, c: s.frame(np.where(np.arange(7) == 0, np.nan, c[0])), 400,
     "the training step"),
    ("negative step", lambda s, c: s.frame(np.where(np.arange(7) == 0, -3.0, c[0])), 400,
     "row 0's step is -3.0"),
    ("bad frame bytes", lambda s, c: s.frame(c[0], b"\x10\0\0\0{not a frame header}"), 400,
     "does not decode"),
    ("truncated frame", lambda s, c: s.frame(c[0], c[1][:len(c[1]) // 2]), 400,
     "does not decode"),
    ("frame of another kind", lambda s, c: s.frame(c[0], one_d(c[1])), 400, "'1d'"),
    ("bad step header", lambda s, c: s.frame(c[0], c[1], **{"X-Ganscope-Step": "soon"}), 400,
     "X-Ganscope-Step"),
    ("too large", lambda s, c: s.post(f"/api/watch/{s.run}/frame", b"\0" * (8 * 2**20 + 8),
                                      {"X-Ganscope-Key": s.key}), 413, "at most"),
    ("unknown run", lambda s, c: s.post("/api/watch/20990101-000000-abcdef/frame",
                                        struct.pack("<II", 0, 7), {"X-Ganscope-Key": s.key}),
     404, "no watched run"),
    ("odd run id", lambda s, c: s.post(f"/api/watch/{s.run}:status/frame",
                                       struct.pack("<II", 0, 7), {"X-Ganscope-Key": s.key}),
     404, "no watched run"),
    ("end bad state", lambda s, c: s.post(f"/api/watch/{s.run}/end", b'{"state": "won"}',
                                          {"X-Ganscope-Key": s.key}), 400, "state must be"),
    ("end not JSON", lambda s, c: s.post(f"/api/watch/{s.run}/end", b"done",
                                         {"X-Ganscope-Key": s.key}), 400, "not JSON"),
]


def one_d(frame: bytes) -> bytes:
    f = decode(frame)
    f.kind = "1d"
    return encode(f)


def test_wi002_each_bad_post_is_refused_with_its_reason_and_runs_keep_going(server, made):
    config, chunks = made
    victim, bystander = Script(server), Script(server)
    assert victim.start(config, name="victim")[0] == 200
    assert bystander.start(config, name="bystander")[0] == 200
    for i, (what, send, want, words) in enumerate(BAD):
        status, answer = send(victim, chunks[i % len(chunks)])
        assert status == want, (what, status, answer)
        assert_clean(answer, server)
        assert words in answer["error"], (what, answer)
        # Both runs still take posts: a refusal ends nothing.
        rows, frame = chunks[i % len(chunks)]
        assert bystander.frame(rows, frame)[0] == 204, what
    assert victim.frame(*chunks[-1])[0] == 204
    frames, _, entry = stream_of(server, victim.run, CHUNK * len(chunks))
    assert entry["state"] == "running"
    assert victim.end()[0] == 204 and bystander.end()[0] == 204


@pytest.mark.parametrize("body, words", [
    (b"{", "not JSON"),
    (b"[1]", "not a JSON object"),
    (json.dumps({"v": 2, "name": "x", "config": "{}"}).encode(), "v must be 1"),
    (json.dumps({"v": 1, "name": "", "config": "{}"}).encode(), "name"),
    (json.dumps({"v": 1, "name": "x" * 81, "config": "{}"}).encode(), "at most 80"),
    (json.dumps({"v": 1, "name": "x", "config": '{"train": {"batch_size": -3}}'}).encode(),
     "config: "),
    (json.dumps({"v": 1, "name": "x", "config": "{}", "steps_per_s": "fast"}).encode(),
     "steps_per_s"),
])
def test_wi003_a_bad_start_is_refused_with_its_reason(server, body, words):
    status, answer = Script(server).post("/api/watch", body)
    assert status == 400, answer
    assert_clean(answer, server)
    assert words in answer["error"], answer


def test_wi004_a_start_over_its_budget_is_refused_before_it_is_read(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/watch")
    conn.putheader("Content-Length", str(300 * 1024))
    conn.endheaders()
    conn.send(b"{")  # the rest never comes: the answer must not wait for it
    resp = conn.getresponse()
    assert resp.status == 413 and "at most" in json.loads(resp.read())["error"]
    conn.close()


def test_wi005_a_page_of_another_origin_cannot_post(server, made):
    config, _ = made
    status, answer = Script(server, {"Origin": "http://evil.example"}).start(config)
    assert status == 403 and "cross-origin" in answer["error"]


def test_wi006_a_script_that_falls_silent_leaves_a_failed_run(server, made):
    config, chunks = made
    script = Script(server)
    assert script.start(config, name="quiet")[0] == 200
    for rows, frame in chunks[:2]:
        assert script.frame(rows, frame)[0] == 204
    wait_for(lambda: script.run in class_runs(server), 10, "the run in the class view")
    t0 = time.monotonic()
    wait_for(lambda: script.run not in class_runs(server), timeout=SILENT_S + 20,
             what="the silent run to leave the class view")
    assert time.monotonic() - t0 >= SILENT_S - 1.0, "failed before the script was silent"
    _, _, entry = stream_of(server, script.run, -1, timeout=2)
    assert entry["state"] == "failed"
    assert entry["message"] == f"the training script stopped sending (last step {2 * CHUNK})"
    status, answer = script.frame(*chunks[2])
    assert status == 409 and "failed" in answer["error"]
    with open_recording(server.runs_dir / f"{script.run}.h5") as rec:
        assert list(rec.steps) == [CHUNK, 2 * CHUNK]
        assert any("stopped sending" in e["message"] for e in rec.events())


def test_wi007_the_play_page_and_stream_serve_a_watched_run_to_any_browser(server, made):
    config, chunks = made
    script = Script(server)
    assert script.start(config, name="carol")[0] == 200
    assert script.frame(*chunks[0])[0] == 204
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"/?run={script.run}")
    assert conn.getresponse().status == 200
    conn.close()
    # A diverging script's last rows: non-finite losses are taken as they are.
    rows = chunks[1][0][:3].copy()
    rows[1, 1], rows[2, 2] = np.inf, np.nan
    assert script.frame(rows)[0] == 204
    assert script.end("diverged", "loss went to inf at step 22")[0] == 204
    status, answer = script.end()
    assert status == 409, answer
    with open_recording(server.runs_dir / f"{script.run}.h5") as rec:
        _, scalars = rec.scalars()
        assert scalars[-2, 1] == np.inf and np.isnan(scalars[-1, 2])
        assert ("divergence", "loss went to inf at step 22") in \
            [(e["kind"], e["message"]) for e in rec.events()]


def test_wi014_a_frame_reply_counts_the_pages_showing_the_run(server, made):
    """The script paints at the live rate only while a page shows its run (gancore.watch's
    pacing): the reply to each post says how many pages do, and the count drops when the
    page goes."""
    config, chunks = made
    script = Script(server)
    assert script.start(config, name="dora")[0] == 200
    assert script.frame(*chunks[0])[0] == 204 and script.viewers == "0"
    ws = simple_websocket.Client.connect(server.url.replace("http", "ws") + "/ws")
    try:
        ws.send(json.dumps({"op": "watch", "runs": [script.run]}))
        wait_for(lambda: script.frame(chunks[1][0][:1])[0] == 204 and script.viewers == "1",
                 10, "the open page counted")
    finally:
        ws.close()
    wait_for(lambda: script.frame(chunks[1][0][:1])[0] == 204 and script.viewers == "0",
             10, "the closed page no longer counted")
    assert script.end()[0] == 204


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    srv = AppServer(tmp_path_factory.mktemp("watch-token") / "runs", "--no-spare",
                    "--token", TOKEN, env={"GANSCOPE_MAX_WATCHED": "3"})
    yield srv
    srv.stop()


def test_wi008_a_token_server_needs_the_token_then_the_key(token_server, made):
    config, chunks = made
    status, answer = Script(token_server).start(config)
    assert status == 401 and "token" in answer["error"]
    status, answer = Script(token_server, {"Authorization": "Bearer wrong"}).start(config)
    assert status == 401
    script = Script(token_server, {"Authorization": f"Bearer {TOKEN}"})
    assert script.start(config)[0] == 200
    assert script.frame(*chunks[0])[0] == 204
    assert script.frame(*chunks[1], key="guess")[0] == 403
    assert script.end()[0] == 204


def test_wi009_at_most_max_watched_runs_at_once_even_when_they_start_together(token_server,
                                                                            made):
    config, _ = made
    auth = {"Authorization": f"Bearer {TOKEN}"}
    scripts = [Script(token_server, auth) for _ in range(10)]
    answers: list[tuple[int, Any]] = []
    gate = threading.Barrier(len(scripts))

    def go(s: Script) -> None:
        gate.wait()
        answers.append(s.start(config))

    threads = [threading.Thread(target=go, args=(s,)) for s in scripts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(status for status, _ in answers) == [200] * 3 + [429] * 7
    refused = next(a for status, a in answers if status == 429)
    assert "3 watched runs" in refused["error"]
    started = [s for s in scripts if s.run]
    assert started[0].end()[0] == 204  # one ends: there is room for one more
    late = Script(token_server, auth)
    assert late.start(config)[0] == 200
    assert Script(token_server, auth).start(config)[0] == 429
    for s in [*started[1:], late]:
        assert s.end()[0] == 204


@pytest.fixture(scope="module")
def two_web_processes(tmp_path_factory):
    """Two web processes of one class (a real redis-server, one runs folder, no Celery worker:
    a watched run needs none): a script's posts may land on either."""
    from tests.services import RedisServer

    root = tmp_path_factory.mktemp("watch-redis")
    redis = RedisServer(root / "redis")
    env = {"GANSCOPE_WATCH_SILENT_S": str(SILENT_S)}
    webs: list[AppServer] = []

    def web() -> AppServer:
        webs.append(AppServer(root / "runs", "--redis", redis.url, env=env))
        return webs[-1]

    try:
        yield web(), web(), web
    finally:
        for web in webs:
            web.stop()
        redis.stop()


@pytest.mark.distributed
def test_wi011_through_redis_a_post_to_either_process_reaches_both(two_web_processes, made):
    config, chunks = made
    a, b, _ = two_web_processes
    script, other = started_on(a, b, config, "erin")
    assert script.frame(*chunks[0])[0] == 204
    last_step = CHUNK * len(chunks)
    # A page on B watches from the first frame on (a Redis pump reads from when it started);
    # the rest of the posts alternate between the processes: B, A, B, ...
    seen: dict[str, Any] = {}
    pictured = threading.Event()
    page = threading.Thread(target=lambda: seen.update(zip(
        ("frames", "rows", "entry"), stream_of(b, script.run, last_step, 40, pictured),
        strict=True)))
    page.start()
    assert pictured.wait(30), "B's page got no first picture"
    for i, (rows, frame) in enumerate(chunks[1:]):
        poster = other if i % 2 == 0 else script
        assert poster.frame(rows, frame)[0] == 204
        assert poster.viewers == "1", "either process's reply counts B's page"
    page.join(40)
    assert seen["frames"][0] == CHUNK and seen["frames"][-1] == last_step
    assert seen["rows"] == list(range(CHUNK + 1, last_step + 1)), "rows lost or doubled"
    assert other.frame(chunks[0][0], key="guess")[0] == 403
    frames, _, entry = stream_of(a, script.run, last_step)
    assert frames == [last_step] and entry["state"] == "running" and entry["step"] == last_step
    wait_for(lambda: script.run in class_runs(b), 10, "the run in B's class view")
    assert class_runs(b)[script.run]["preset"] == "erin (own script)"
    assert other.end("done", "finished on B")[0] == 204
    assert script.frame(*chunks[0])[0] == 409  # A knows it ended
    _, _, entry = stream_of(a, script.run, -1, timeout=2)
    assert (entry["state"], entry["message"]) == ("done", "finished on B")
    wait_for(lambda: script.run not in class_runs(a), 10, "the ended run to leave A's list")

    # A took the start, so A wrote the recording, from the posts both took.
    path = a.runs_dir / f"{script.run}.h5"

    def recorded() -> bool:
        try:
            with open_recording(path) as rec:
                return len(rec.steps) == 3 and len(rec.scalars()[1]) == last_step
        except (OSError, ValueError):
            return False

    wait_for(recorded, 20, "A's recording of every row and frame")
    with open_recording(path) as rec:
        assert list(rec.steps) == [CHUNK, 100, last_step]
        np.testing.assert_array_equal(rec.scalars()[1], np.concatenate([c[0] for c in chunks]))


@pytest.mark.distributed
def test_wi012_through_redis_a_silent_script_fails_its_run_everywhere(two_web_processes, made):
    config, chunks = made
    a, b, _ = two_web_processes
    script, other = started_on(a, b, config, "quiet")
    assert other.frame(*chunks[0])[0] == 204
    wait_for(lambda: script.run in class_runs(b), 10, "the run in B's class view")
    wait_for(lambda: script.run not in class_runs(b), SILENT_S + 20, "the silent run to go")
    _, _, entry = stream_of(b, script.run, -1, timeout=2)
    assert entry["state"] == "failed"
    assert entry["message"] == f"the training script stopped sending (last step {CHUNK})"
    assert other.frame(*chunks[1])[0] == 409


@pytest.mark.distributed
def test_wi013_through_redis_a_silent_run_fails_even_when_its_process_is_gone(
        two_web_processes, made):
    config, chunks = made
    _, b, web = two_web_processes
    origin = web()  # a third process takes the start, then dies with the run's recording
    script, other = started_on(origin, b, config, "orphan")
    assert other.frame(*chunks[0])[0] == 204
    origin.proc.kill()
    origin.proc.wait(10)
    wait_for(lambda: stream_of(b, script.run, -1, timeout=1)[2].get("state") == "failed",
             SILENT_S + 30, "B to mark the orphaned run failed")
    _, _, entry = stream_of(b, script.run, -1, timeout=1)
    assert entry["message"] == f"the training script stopped sending (last step {CHUNK})"
