"""gancore.watch's link to a dashboard (the client of the watch protocol), against a small
stdlib HTTP server that follows the protocol and keeps what it was sent: every row arrives once
and in order, frames decode, the run ends with its state, a dashboard that comes up late still
gets the whole run, and one that holds a post does not hold up training.

The dashboard's own side (app/watch_ingest.py) is tested in tests/test_watch_ingest.py; this
double lets a test switch the dashboard off and on and hold a request open."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import gancore.watch as gw
from gancore.config import RunConfig
from gancore.frames import STAT_COLUMNS, decode
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]

FRAMES = {"samples": 200, "d_grid": 16, "record_every": 25, "metrics_every": 25}


class Dashboard:
    """The server side of the protocol, reduced to what a client can observe."""

    def __init__(self, port: int = 0, token: str | None = None):
        self.token = token
        self.registrations: list[dict] = []
        self.rows: list[np.ndarray] = []
        self.frames: list = []
        self.ended: list[dict] = []
        self.keys_seen: set[str] = set()
        self.hold = threading.Event()  # set: frame posts wait until `release` is set
        self.release = threading.Event()
        self.held = threading.Event()  # a frame post is being held now
        self.viewers: int | None = None  # set: frame replies say this many pages are open
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the dashboard's server does

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, reply = double.answer(self.path, self.headers, body)
                data = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                if double.viewers is not None and self.path.endswith("/frame"):
                    self.send_header("X-Ganscope-Viewers", str(double.viewers))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict | None]:
        if path == "/api/watch":
            if self.token and headers.get("Authorization") != f"Bearer {self.token}":
                return 401, {"error": "this ganscope server needs its token"}
            self.registrations.append(json.loads(body))
            return 200, {"run": "r1", "key": "k1", "page": "/?run=r1"}
        self.keys_seen.add(headers.get("X-Ganscope-Key"))
        if path == "/api/watch/r1/frame":
            if self.hold.is_set():
                self.held.set()
                self.release.wait(30)
            n, cols = struct.unpack_from("<II", body)
            assert cols == len(STAT_COLUMNS)
            self.rows.append(np.frombuffer(body, "<f8", n * cols, 8).reshape(n, cols))
            rest = body[8 + 8 * n * cols:]
            if rest:
                self.frames.append(decode(rest))
            return 204, None
        if path == "/api/watch/r1/end":
            self.ended.append(json.loads(body))
            return 204, None
        return 404, {"error": "unknown run"}

    def steps(self) -> list[int]:
        return [int(s) for r in self.rows for s in r[:, 0]]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dashboard():
    d = Dashboard(token="sesame")
    yield d
    d.close()


def _watch(url, lines, tmp_path, **kw):
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    D = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
    w = gw.watch(G, D, data=np.random.default_rng(0).normal(size=(500, 2)),
                 noise=lambda n: torch.randn(n, 4), name="linked", dashboard=url,
                 record=tmp_path / "linked.h5", frames=FRAMES, say=lines.append, **kw)
    return w, G


def _train(w, G, steps: int) -> None:
    for _ in range(steps):
        loss = G(torch.randn(128, 4)).square().mean()  # a training step's worth of work
        loss.backward()
        w.step(loss, loss)


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_wl001_rows_and_frames_reach_the_dashboard_and_the_run_ends(dashboard, tmp_path):
    lines: list[str] = []
    w, G = _watch(f"{dashboard.url}/?token=sesame", lines, tmp_path)
    _wait(lambda: w.page_url is not None)
    _train(w, G, 300)
    w.close()
    (reg,) = dashboard.registrations
    assert reg["v"] == 1 and reg["name"] == "linked"
    assert RunConfig.from_json(reg["config"]).target.dim == 2
    assert dashboard.steps() == list(range(1, 301))  # every row once, in order
    assert dashboard.keys_seen == {"k1"}
    assert dashboard.frames and all(f.kind == "2d" for f in dashboard.frames)
    assert dashboard.frames[-1].step == 300 and dashboard.frames[-1].meta["state"] == "done"
    steps = [f.step for f in dashboard.frames]
    assert steps == sorted(steps)
    assert dashboard.ended == [{"state": "done", "message": "finished at step 300"}]
    page = f"{dashboard.url}/?run=r1&token=sesame"
    assert f"ganscope: watching 'linked' live at {page}" in lines
    assert w.show().src == page  # an IPython IFrame of the page (the notebook: nb001)


def test_wl007_without_ipython_show_gives_the_pages_address():
    """A script run where IPython is not installed: `show` returns the address to open (the
    import fails for real, in a fresh interpreter that has IPython's name blocked)."""
    code = ("import sys\n"
            "sys.modules['IPython'] = None  # as if it were not installed\n"
            "from gancore.watch.dashboard import notebook_view\n"
            "print(repr(notebook_view('http://127.0.0.1:8050/?run=r1')), notebook_view(None))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip() == "'http://127.0.0.1:8050/?run=r1' None", out


def test_wl002_a_dashboard_that_comes_up_late_gets_every_row(tmp_path):
    port = free_port()
    lines: list[str] = []
    w, G = _watch(f"http://127.0.0.1:{port}", lines, tmp_path)
    _train(w, G, 100)
    assert any("no answer from" in line for line in lines)
    late = Dashboard(port)
    try:
        while not late.registrations:  # the link retries every few seconds meanwhile
            _train(w, G, 10)
        _train(w, G, 50)
        w.close()
        assert late.steps() == list(range(1, w.step_count + 1))
        assert late.ended[0]["state"] == "done"
    finally:
        late.close()
    assert w.path is not None and w.path.exists()  # recorded all along


def test_wl003_a_dashboard_holding_a_post_does_not_hold_up_training(dashboard, tmp_path):
    lines: list[str] = []
    w, G = _watch(f"{dashboard.url}/?token=sesame", lines, tmp_path)
    dashboard.hold.set()
    while not dashboard.held.is_set():
        _train(w, G, 5)
    held_at = w.step_count
    _train(w, G, 300)  # the link's thread waits on the dashboard; the loop does not
    assert dashboard.held.is_set() and not dashboard.release.is_set()
    dashboard.hold.clear()
    dashboard.release.set()
    w.close()
    assert w.step_count == held_at + 300
    assert dashboard.steps() == list(range(1, w.step_count + 1))  # rows are never dropped


def test_wl004_auto_finds_the_dashboard_in_ganscope_url_and_a_wrong_token_is_refused_once(
        dashboard, tmp_path, monkeypatch):
    monkeypatch.setenv("GANSCOPE_URL", dashboard.url)
    monkeypatch.setenv("GANSCOPE_TOKEN", "not-it")
    lines: list[str] = []
    w, G = _watch("auto", lines, tmp_path)
    _wait(lambda: any("refused" in line for line in lines))
    _train(w, G, 50)
    w.close()
    assert [line for line in lines if "refused" in line] == [
        "ganscope: the dashboard refused this run (HTTP 401: this ganscope server needs its "
        "token); training and recording go on"]
    assert w.path is not None and w.path.exists()


def test_wl005_auto_starts_a_dashboard_when_none_answers_and_the_run_shows_on_it(
        tmp_path, monkeypatch):
    """No GANSCOPE_URL and nothing on the default address: the watch starts a real dashboard
    (`python -m app`) in the background, on a free port here, registers the run there, and the
    dashboard serves the run's page; the test stops that process by its PID."""
    import http.client
    import os

    from gancore.watch import dashboard as finding

    monkeypatch.delenv("GANSCOPE_URL", raising=False)
    monkeypatch.delenv("GANSCOPE_TOKEN", raising=False)
    monkeypatch.setattr(finding, "DEFAULT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(finding, "_port_free", lambda port: False)  # not 8050: a free port
    before = len(finding._started)
    lines: list[str] = []
    try:
        w, G = _watch("auto", lines, tmp_path)
        _wait(lambda: w.page_url is not None, 120)
        (proc,) = finding._started[before:]
        assert any(f"started a dashboard at {w.page_url.split('/?')[0]}" in line
                   and f"process {proc.pid}" in line for line in lines), lines
        _train(w, G, 60)
        w.close()
        base, run_id = w.page_url.split("/?run=")
        conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)
        conn.request("GET", f"/?run={run_id}")
        page = conn.getresponse()
        assert page.status == 200 and b"ganscope" in page.read().lower()
        conn.close()
        assert proc.poll() is None, "the dashboard outlives the watch"
        runs_dir = tmp_path / "dashboard"  # beside the recording: its log and its own recording
        assert (runs_dir / "dashboard.log").exists()
        _wait(lambda: (runs_dir / f"{run_id}.h5").exists(), 30)
    finally:
        for proc in finding._started[before:]:
            proc.kill()
            proc.wait(10)
        os.environ.pop("GANSCOPE_URL", None)  # set by the start, for a notebook's next cell


def test_wl006_the_live_frame_share_is_spent_only_while_the_dashboard_counts_a_page(
        dashboard, tmp_path):
    """A dashboard with no page open on the run still takes frames (the class view's
    thumbnails) but the script paces them at the recording's low share; once the reply counts a
    page it paints at the live share. A dashboard that sends no count is taken as painting."""
    w, G = _watch(f"{dashboard.url}/?token=sesame", [], tmp_path)
    _wait(lambda: w.page_url is not None)
    link = w._link
    _train(w, G, 50)
    _wait(lambda: link.frames_sent > 0)
    assert link.viewers is None and link.painting  # an older dashboard: no count in its reply
    dashboard.viewers = 0
    sent = link.frames_sent
    while link.viewers != 0 or link.frames_sent < sent + 2:
        _train(w, G, 20)
    assert link.live and not link.painting
    dashboard.viewers = 2
    while link.viewers != 2:
        _train(w, G, 20)
    assert link.painting
    w.close()
