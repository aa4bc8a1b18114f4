"""Run admission under concurrency: limits that hold, a visible queue, a share per session.

Each attack runs against a server of its own (it fills the machine on purpose), with real
worker processes counted in /proc.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.backends.local import LocalBackend
from app.limits import Limits
from app.runs import RunRegistry
from tests.helpers import SMALL, wait_for
from tests.servers import Client, run_of, worker_processes

LIGHT = "ring8-reference"


def _own_runs(client: Client) -> list[dict]:
    status, _, body = client.get("/api/runs")
    assert status == 200
    return json.loads(body)


def _holding(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["state"] in ("starting", "running", "paused")]


def _max_workers_while(server_pid: int, busy: threading.Event) -> int:
    """The most worker processes seen at once while `busy` is set (sampled every 20 ms)."""
    most = 0
    while busy.is_set():
        most = max(most, len(worker_processes(server_pid)))
        time.sleep(0.02)
    return max(most, len(worker_processes(server_pid)))


def _start_together(clients: list[Client], server_pid: int) -> tuple[list, int]:
    """Every client asks for a run at the same moment; returns the answers and the most
    workers that were alive at once meanwhile."""
    for c in clients:
        assert c.get("/?preset=" + LIGHT)[0] == 200  # each has its session cookie first
    barrier = threading.Barrier(len(clients))
    busy = threading.Event()
    busy.set()

    def one(c: Client):
        barrier.wait()
        return c.open_preset(LIGHT, play=False)

    with ThreadPoolExecutor(1) as watcher:
        peak = watcher.submit(_max_workers_while, server_pid, busy)
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(one, clients))
        time.sleep(1.0)  # starts that were let through would spawn by now
        busy.clear()
        return answers, peak.result()


def test_sec_adm001_twelve_simultaneous_starts_from_one_session_give_two_runs(fresh_server):
    srv = fresh_server()
    one_session = Client(srv.url)
    answers, peak = _start_together([one_session] * 12, srv.proc.pid)
    assert all(status == 200 for status, _ in answers), [s for s, _ in answers]
    started = {run_of(a) for _, a in answers if run_of(a)}
    held = _holding(_own_runs(one_session))
    assert len(held) <= 2, held
    assert peak <= 2, f"{peak} worker processes at once for one session (limit 2)"
    refused = [json.dumps(a) for _, a in answers if not run_of(a)]
    assert refused and all("at most 2" in r for r in refused), refused[:2]
    assert len(started) <= 2


def test_sec_adm002_twenty_four_starts_from_four_sessions_never_pass_the_machine(fresh_server):
    srv = fresh_server()
    sessions = [Client(srv.url) for _ in range(4)]
    answers, peak = _start_together([s for s in sessions for _ in range(6)], srv.proc.pid)
    assert all(status == 200 for status, _ in answers)
    assert peak <= 4, f"{peak} worker processes at once (at most 4 on this machine)"
    held = [r for s in sessions for r in _holding(_own_runs(s))]
    assert len(held) <= 4
    for s in sessions:
        mine = [r for r in _own_runs(s) if r["state"] != "stopped"]
        assert len(mine) <= 2, mine  # per session: holding or waiting


@pytest.mark.scenario
def test_sec_adm003_a_full_server_queues_the_next_run_and_starts_it_when_a_slot_frees(tmp_path):
    reg = RunRegistry(tmp_path / "runs", Limits(per_session=2, total=2),
                      LocalBackend(spare=False))
    try:
        a = reg.start("alice", SMALL)
        b = reg.start("bob", SMALL)
        c = reg.start("carol", SMALL, autoplay=True)
        d = reg.start("dave", SMALL)
        for r in (a, b, c, d):
            reg.watch(r.run_id)  # every page is open
        assert reg.status(c.run_id)["state"] == "queued"
        assert reg.status(c.run_id)["message"].startswith("1st in line")
        assert reg.status(d.run_id)["message"].startswith("2nd in line")
        assert len(reg.active()) == 2
        reg.stop("alice", a.run_id)
        wait_for(lambda: reg.status(c.run_id)["state"] == "running", 60, "carol's run started")
        assert reg.status(d.run_id)["message"].startswith("1st in line")
        wait_for(lambda: reg.status(c.run_id)["step"] > 0, 60, "carol's run trains")
        assert len(reg.active()) == 2
    finally:
        reg.close()


def test_sec_adm004_the_page_of_a_queued_run_says_its_place(fresh_server):
    srv = fresh_server("--max-runs", "1")
    first, second = Client(srv.url), Client(srv.url)
    assert run_of(first.open_preset(LIGHT)[1])
    status, answer = second.open_preset(LIGHT)
    assert status == 200 and run_of(answer)
    (queued,) = _own_runs(second)  # what the page's status bar and banner show
    assert queued["state"] == "queued" and queued["message"] == "1st in line"


def test_sec_adm005_serving_a_class_a_comparison_counts_against_the_session_share():
    wide = Limits.for_serving(wide=True)
    assert wide.per_compare == wide.per_session < wide.total
    desk = Limits.for_serving(wide=False)
    assert desk.per_compare == desk.total  # one trusted user may compare four runs


@pytest.mark.parametrize("count", [10**9, 1001, -1])
def test_sec_adm006_compare_step_counts_outside_the_menu_are_refused(server, count):
    client = Client(server.url)
    client.get("/compare?presets=" + LIGHT)
    store = {"runs": [{"run": "no-such-run"}], "share": "", "same_seed": False, "playing": False}
    status, answer = client.call(
        ("cmp-play.children", "cmp-group.children", "cmp-notice.children"),
        [{"id": "cmp-step", "property": "n_clicks", "value": 1}],
        [{"id": "cmp-step-n", "property": "value", "value": count},
         {"id": "cmp-runs", "property": "data", "value": store}], trigger="cmp-step")
    assert status == 200
    assert "step count must be one of" in json.dumps(answer)
