"""Viewers do not harm owners: 19 spectators on real sockets while the owner's socket still gets
every scalar row, and a spectator's open tab does not keep a stranger's run training."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import simple_websocket

from app.stream import decode_envelope
from gancore.frames import decode
from tests.helpers import wait_for
from tests.servers import Client, run_of

SPECTATORS = 19


def _socket(server, client: Client) -> simple_websocket.Client:
    return simple_websocket.Client.connect(server.url.replace("http", "ws") + "/ws",
                                           headers={"Cookie": client.cookie_header()})


def _read(ws: simple_websocket.Client, run_id: str, seconds: float, out: dict) -> None:
    """Pull envelopes as a page does for `seconds`; collect the run's row steps and frames."""
    ws.send(json.dumps({"op": "watch", "runs": [run_id]}))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ws.send("next")
        msg = ws.receive(timeout=10)
        if msg is None:
            break
        for entry, frame, rows in decode_envelope(msg):
            if entry["run"] != run_id:
                continue
            if rows is not None:
                out["steps"].extend(rows[:, 0].astype(int).tolist())
            if frame is not None:
                out["frames"].append(decode(frame).step)


def _owner_run(server, client: Client) -> str:
    status, answer = client.open_preset("ring8-reference", play=True)
    assert status == 200 and run_of(answer), answer
    return run_of(answer)


def _training(client: Client, run_id: str) -> bool:
    _, _, body = client.get("/api/runs")
    return any(r["run_id"] == run_id and r["step"] > 0 for r in json.loads(body))


@pytest.mark.scenario
def test_sec_view001_owner_gets_every_row_with_nineteen_spectators(fresh_server):
    server = fresh_server()
    owner = Client(server.url)
    run_id = _owner_run(server, owner)
    # The 8 s of watching start once the run trains: a fresh server's first run imports torch,
    # which took most of those 8 s on a busy box (the owner saw 38 steps).
    wait_for(lambda: _training(owner, run_id), 60, "the owner's run to train")
    spectators = [Client(server.url) for _ in range(SPECTATORS)]
    for s in spectators:
        s.get(f"/?run={run_id}")  # a share link: a session cookie of its own
    sockets = [_socket(server, c) for c in [owner, *spectators]]
    seen = [{"steps": [], "frames": []} for _ in sockets]
    threads = [threading.Thread(target=_read, args=(ws, run_id, 8.0, out))
               for ws, out in zip(sockets, seen, strict=True)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for ws in sockets:
            ws.close()
    mine = seen[0]
    steps = np.array(mine["steps"])
    assert len(steps) > 100, f"the owner saw {len(steps)} steps"
    assert (np.diff(steps) == 1).all(), "the owner's loss curve lost steps"
    # Twenty sockets on a 2-core box: frames thin out for everyone (the test server caps a tab
    # at 5 frames/s), but nobody's pictures are taken by another: the owner still sees its run
    # move, as often as a typical spectator.
    counts = sorted(len(s["frames"]) for s in seen[1:])
    assert len(mine["frames"]) >= 8 and len(mine["frames"]) >= counts[len(counts) // 2] // 2, \
        (len(mine["frames"]), counts)
    assert counts[0] >= 4, counts


def test_sec_view002_a_spectator_does_not_keep_a_strangers_run_training(fresh_server):
    server = fresh_server()
    owner = Client(server.url)
    run_id = _owner_run(server, owner)
    spectator = Client(server.url)
    spectator.get(f"/?run={run_id}")
    own_ws, spy_ws = _socket(server, owner), _socket(server, spectator)
    try:
        for ws in (own_ws, spy_ws):
            ws.send(json.dumps({"op": "watch", "runs": [run_id]}))
            ws.send("next")
            ws.receive(timeout=10)
        own_ws.close()  # the owner's page is closed; the stranger's stays open
        stop = threading.Event()

        def keep_watching():
            while not stop.is_set():
                spy_ws.send("next")
                spy_ws.receive(timeout=10)

        t = threading.Thread(target=keep_watching, daemon=True)
        t.start()

        def state() -> str:
            runs = json.loads(owner.get("/api/runs")[2])
            return next(r["state"] for r in runs if r["run_id"] == run_id)

        # the test server pauses a run its owner does not watch after 3 s (reaper every 2 s)
        wait_for(lambda: state() == "paused", 20, "the unwatched run paused")
        stop.set()
        t.join(15)
    finally:
        spy_ws.close()
