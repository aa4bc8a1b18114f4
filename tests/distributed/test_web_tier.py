"""The web tier of a class: a queue when every worker slot is taken, and web processes that can
die (gunicorn's threaded workers behind one port) without a tab losing its runs."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.distributed.conftest import Stack, Tab
from tests.servers import AppServer, Client, run_of

pytestmark = pytest.mark.distributed


def _open(client: Client, play: bool = True) -> str:
    status, answer = client.open_preset("ring8-reference", play=play)
    assert status == 200 and run_of(answer), answer
    return run_of(answer)


def test_dist010_a_full_class_queues_a_run_with_its_place_and_starts_it_when_a_slot_frees(stack):
    """Two worker slots, three students: the third waits, sees its place, and starts as soon as
    one of the first two closes its page."""
    web = stack.webs[0]
    students = [Client(web.url) for _ in range(3)]
    tabs, run_ids = [], []
    for s in students:
        run_id = _open(s)
        tab = Tab(web, s)
        tab.watch(run_id)
        tabs.append(tab)
        run_ids.append(run_id)
        if len(run_ids) < 3:  # each of the first two takes a slot before the next asks
            tab.pull(run_id, 20, until=lambda e: e["state"] == "running")
    seen = tabs[2].pull(run_ids[2], 3)
    assert seen["states"][-1] == "queued", seen["states"][-3:]
    assert re.match(r"1st in line(, about \d+ s)?$", seen["messages"][-1]), seen["messages"][-1]
    tabs[0].close()  # the first student leaves: the run nobody watches gives its slot up
    started = tabs[2].pull(run_ids[2], 20, until=lambda e: e["state"] == "running")
    assert started["states"][-1] == "running", started["states"][-3:]
    assert tabs[1].pull(run_ids[1], 2)["states"][-1] == "running"  # the watched one trains on


def test_dist011_a_web_process_dies_and_the_tab_reconnects_to_another_with_its_runs(tmp_path):
    stack = Stack(tmp_path, web=0)
    try:
        web = AppServer(stack.runs, "--redis", stack.redis.url, "--web-processes", "2")
        stack.webs.append(web)
        client = Client(web.url)
        run_id = _open(client)
        tab = Tab(web, client)
        tab.watch(run_id)
        before = tab.pull(run_id, 15, until=lambda e: e["state"] == "running" and e["step"] > 50)
        assert before["frames"]
        serving = _process_serving(tab, web.proc.pid)
        os.kill(serving, signal.SIGKILL)
        killed = time.monotonic()
        # The page's socket closes; stream.js reconnects to the same address, where another
        # web process (or the one gunicorn starts in its place) answers.
        tab.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                tab = Tab(web, client)
                break
            except Exception:  # noqa: BLE001 - refused while gunicorn replaces the worker
                assert time.monotonic() < deadline, "no web process took the tab back"
                time.sleep(0.2)
        tab.watch(run_id)
        after = tab.pull(run_id, 15, until=lambda e: e["state"] == "running" and e["frame"])
        back = time.monotonic() - killed
        print(f"web process killed: frames again after {back:.2f} s")
        assert after["frames"], after["states"][-3:]
        assert max(after["frames"]) > max(before["frames"]), "the run did not carry on"
        assert _process_serving(tab, web.proc.pid) != serving
        status, _, body = client.get("/api/runs")
        assert status == 200 and run_id in {r["run_id"] for r in json.loads(body)}
    finally:
        stack.stop()


def _process_serving(tab: Tab, master: int) -> int:
    """The gunicorn worker (a child of `master`) holding this tab's socket: matched through the
    kernel's table of TCP connections (/proc/net/tcp) and the workers' open sockets."""
    client_port = tab.ws.sock.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == client_port:  # remote end is our client
            inode = fields[9]
    assert inode is not None, "the tab's connection is not in /proc/net/tcp"
    for pid in _children(master):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError("no web process holds the tab's socket")


def _children(ppid: int) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            after = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(after[1]) == ppid and after[0] != "Z":
            out.append(int(pid))
    return out


def test_dist012_a_comparison_is_refused_not_queued_when_every_slot_is_taken(stack):
    """Its runs move in lock-step: half of them waiting behind a class would hold the rest."""
    from tests.distributed.test_features import PAIR, _compare

    web = stack.webs[0]
    busy = [Client(web.url) for _ in range(2)]
    tabs = []
    for c in busy:
        run_id = _open(c)
        tab = Tab(web, c)
        tab.watch(run_id)
        tab.pull(run_id, 20, until=lambda e: e["state"] == "running")
        tabs.append(tab)
    late = Client(web.url)
    response = _compare(late, {"runs": [], "presets": PAIR, "cfgs": "", "play": True,
                               "seed": None, "speed": 0})
    assert "every worker slot of the class is taken" in json.dumps(response), response
    assert not (response["cmp-runs"]["data"] or {}).get("runs"), "a refused comparison ran"
    # Nothing of it stays in the queue: a student who asks next is first in line.
    nxt = Client(web.url)
    run_id = _open(nxt)
    tab = Tab(web, nxt)
    tab.watch(run_id)
    seen = tab.pull(run_id, 3)
    assert seen["states"][-1] == "queued" and seen["messages"][-1].startswith("1st in line")


def test_dist013_a_step_right_after_opening_waits_for_the_worker_to_take_the_run(stack):
    from tests.distributed.conftest import press, runs_of

    client = Client(stack.webs[0].url)
    run_id = _open(client, play=False)
    notice = press(client, run_id, "step-d")  # at once: the run may still be in the queue
    assert "waiting" not in notice, notice
    assert runs_of(client)[run_id]["step"] == 1
