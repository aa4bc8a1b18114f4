"""Every feature of the pages on the distributed backend (issue 18), as on the local one: live
edits, restart fields, fork beside, compare in lock-step (also across two web processes),
presenter, recordings, replay while recording, exports, and the play page in headless Chromium.
One stack (redis-server, a Celery worker with two slots, a web process; a second one for the
last test) serves the module; each test is a browser session of its own whose runs are ended
after it."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from app.lockstep import IDLE_S
from gancore.frames import decode
from gancore.store.reader import open_recording
from gancore.teach.presets import PRESETS
from tests.browser import conftest as browser_conftest
from tests.browser.page import open_page, painted, step_is, wait_js
from tests.browser.page import run_of as page_run
from tests.distributed.conftest import Stack, Tab, open_preset, press, runs_of
from tests.helpers import wait_for
from tests.servers import Client, run_of, worker_pid

pytestmark = pytest.mark.distributed

PAIR = "ring8-reference,ring8-vanilla-collapse"


class Visitor:
    """One browser session on the module's stack: its HTTP client and its pages' sockets."""

    def __init__(self, stack: Stack):
        self.stack, self.web = stack, stack.webs[0]
        self.client = Client(self.web.url)
        self.tabs: list[Tab] = []

    def tab(self, *run_ids: str) -> Tab:
        tab = Tab(self.web, self.client)
        tab.watch(*run_ids)
        self.tabs.append(tab)
        return tab

    def training(self, steps: int = 50) -> tuple[str, Tab]:
        """A ring8-reference run opened and played as its page does, its page's socket
        watching it, past `steps` steps."""
        run_id = open_preset(self.client)
        tab = self.tab(run_id)
        seen = tab.pull(run_id, 30, until=lambda e: e["state"] == "running" and e["step"] > steps)
        assert seen["states"][-1] == "running", seen["states"][-3:]
        return run_id, tab

    def apply(self, run_id: str, changes: dict) -> dict:
        """Type into the play page's form fields: its apply callback's response."""
        run = {"run": run_id, "config": runs_of(self.client)[run_id]["config"]}
        values = [{"id": {"path": p.replace(".", "__"), "type": "field"}, "property": "value",
                   "value": v} for p, v in changes.items()]
        status, answer = self.client.call(
            ("run.data", '"type":"field"}.value', "field-error"), [values],
            [{"id": "run", "property": "data", "value": run},
             {"id": "notice", "property": "children", "value": None}], fields=list(changes))
        assert status == 200, answer
        return answer["response"]

    def leave(self) -> None:
        for tab in self.tabs:
            tab.close()
        self.stack.end_runs(list(runs_of(self.client)))


@pytest.fixture
def visitor(class_stack):
    v = Visitor(class_stack)
    yield v
    v.leave()


def _notice(response: dict) -> str:
    return json.dumps(response["notice"]["children"])


def test_feat001_a_live_edit_reaches_the_running_run(visitor):
    run_id, tab = visitor.training()
    at = runs_of(visitor.client)[run_id]["step"]
    response = visitor.apply(run_id, {"opt_d.lr": 0.0002})
    assert "Applied live" in _notice(response) and "opt_d.lr" in _notice(response)
    assert response["run"]["data"]["run"] == run_id  # the same run, no restart
    seen = tab.pull(run_id, 10, until=lambda e: e["step"] > at + 100)
    assert seen["states"][-1] == "running" and seen["frames"][-1] > at, seen["states"][-3:]
    row = runs_of(visitor.client)[run_id]
    assert json.loads(row["config"])["opt_d"]["lr"] == 0.0002
    assert row["step"] > at


def test_feat002_a_restart_field_makes_a_child_in_the_same_worker_slot(visitor):
    stack = visitor.stack
    parent, tab = visitor.training()
    pid = worker_pid(stack.runs, parent)
    assert pid in stack.workers[0].pool_pids()
    response = visitor.apply(parent, {"latent.dim": 3})
    child = response["run"]["data"]
    assert child["run"] != parent and child["parent"] == parent, child
    assert child["fork_step"] > 50
    assert "Restarted from step 0" in _notice(response) and "(latent.dim)" in _notice(response)
    # The child trains in the pool process that trained its parent: no new placement.
    assert worker_pid(stack.runs, child["run"]) == pid
    tab.watch(child["run"])  # what the page's GS.setRun does with the new run
    seen = tab.pull(child["run"], 20, until=lambda e: e["state"] == "running" and e["step"] > 20)
    assert seen["states"][-1] == "running" and seen["frames"], seen["states"][-3:]
    runs = runs_of(visitor.client)
    assert json.loads(runs[child["run"]]["config"])["latent"]["dim"] == 3
    assert runs[parent]["state"] == "stopped"
    assert runs[parent]["message"] == f"replaced by run {child['run']}"
    with open_recording(stack.runs / f"{child['run']}.h5") as rec:  # the library's "child of"
        assert (rec.parent_run, rec.fork_step) == (parent, child["fork_step"])


def test_feat003_fork_beside_starts_a_child_from_the_parents_weights(visitor):
    client = visitor.client
    parent, _ = visitor.training()
    run = {"run": parent, "config": runs_of(client)[parent]["config"]}
    status, answer = client.call(
        ("fork-go.data",), [{"id": "fork", "property": "n_clicks", "value": 1},
                            {"id": "fork-change", "property": "n_submit", "value": 0}],
        [{"id": "fork-change", "property": "value", "value": "opt_d.lr=0.0002"},
         {"id": "run", "property": "data", "value": run}], trigger='"fork"')
    assert status == 200, answer
    url = answer["response"]["fork-go"]["data"]
    assert url.startswith(f"/compare?runs={parent},"), answer
    child = url.rsplit(",", 1)[1]
    rows = runs_of(client)
    assert rows[child]["parent"] == parent and rows[child]["fork_step"] > 50
    assert json.loads(rows[child]["config"])["opt_d"]["lr"] == 0.0002
    assert rows[parent]["state"] == "running"  # the parent goes on
    # The compare page opens on both: the child's first picture is its parent's at the fork,
    # then the parent, which was training, goes on in lock-step with its child.
    page = visitor.tab(parent, child)
    seen = page.pull(child, 30, until=lambda e: e["frame"] is not None)
    assert seen["frames"] and seen["frames"][0] == rows[child]["fork_step"], seen["states"][-3:]
    response = _compare(client, {"runs": [parent, child], "presets": "", "cfgs": "",
                                 "play": False, "seed": None, "speed": 0})
    store = response["cmp-runs"]["data"]
    assert store["playing"] and [p["run"] for p in store["runs"]] == [parent, child], response
    page.pull(child, 30, until=lambda e: e["step"] > rows[parent]["step"] + 50)
    line = _group_button(client, "play", store)  # pause all: the child caught up
    assert line.startswith("all at step "), line


def _compare(client: Client, ask: dict) -> dict:
    """The compare page's opening callback: its runs' store."""
    status, _, _ = client.get("/compare")
    assert status == 200
    status, answer = client.call(("cmp-runs.data", "cmp-same-seed.value"),
                                 [{"id": "cmp-ask", "property": "data", "value": ask}],
                                 trigger="cmp-ask")
    assert status == 200, answer
    return answer["response"]


def _group_button(client: Client, button: str, store: dict, count: int = 10) -> str:
    """"Play all"/"Pause all" or "Step all" on the compare page: the group's status line."""
    trigger, setting = (("cmp-play", {"id": "cmp-speed", "property": "value", "value": 0})
                        if button == "play" else
                        ("cmp-step-all", {"id": "cmp-step-count", "property": "value",
                                          "value": count}))
    status, answer = client.call(
        ("cmp-group.children",), [{"id": trigger, "property": "n_clicks", "value": 1}],
        [setting, {"id": "cmp-runs", "property": "data", "value": store}],
        trigger=json.dumps(trigger))
    assert status == 200, answer
    assert not answer["response"]["cmp-notice"]["children"], answer
    return answer["response"]["cmp-group"]["children"]


def test_feat004_the_compare_page_trains_its_runs_in_lock_step(visitor):
    client = visitor.client
    response = _compare(client, {"runs": [], "presets": PAIR, "cfgs": "", "play": True,
                                 "seed": None, "speed": 0})
    store = response["cmp-runs"]["data"]
    a, b = (p["run"] for p in store["runs"])
    assert store["playing"], response
    tab = visitor.tab(a, b)
    tab.pull(a, 30, until=lambda e: e["step"] > 100)
    line = _group_button(client, "play", store)  # pause all
    assert line.startswith("all at step "), line
    at = int(line.removeprefix("all at step ").replace(",", ""))
    assert at > 100
    rows = runs_of(client)
    assert [rows[r]["step"] for r in (a, b)] == [at, at]
    assert _group_button(client, "step", store, 10) == f"all at step {at + 10:,}"
    # What the page draws agrees (a new page of each: a paused run draws it a picture).
    frames = {r: visitor.tab(r).pull(r, 10, until=lambda e: e["frame"] is not None)["frames"]
              for r in (a, b)}
    assert {r: f[-1] for r, f in frames.items() if f} == {a: at + 10, b: at + 10}


def test_feat005_the_library_replays_a_recording_its_worker_still_writes(visitor):
    client = visitor.client
    run_id, tab = visitor.training(steps=300)
    name = runs_of(client)[run_id]["recording"]
    status, answer = client.call(
        ("_pages_content.children",),
        [{"id": "_pages_location", "property": "pathname", "value": "/library"},
         {"id": "_pages_location", "property": "search", "value": ""}])
    assert status == 200
    assert f"live: run {run_id} is running" in json.dumps(answer)
    index = _replay_index(client, name)
    assert index["live"] == {"run": run_id, "state": "running"}
    steps = index["frame_steps"]
    assert len(steps) >= 2, steps
    status, headers, body = client.get(f"/api/replay/{quote(name)}/frame?step={steps[-1]}")
    assert status == 200 and int(headers["X-Frame-Step"]) == steps[-1]
    assert decode(body).step == steps[-1]
    # Replay while recording: the index follows the file as the worker writes on.
    tab.pull(run_id, 15, until=lambda e: e["step"] > steps[-1] + 300)
    wait_for(lambda: _replay_index(client, name)["frame_steps"][-1] > steps[-1], 20,
             "newer frames in the replay index")
    status, _, body = client.get(f"/api/recordings/{quote(name)}")
    assert status == 200 and body[:8] == b"\x89HDF\r\n\x1a\n"


def _replay_index(client: Client, name: str) -> dict:
    status, _, body = client.get(f"/api/replay/{quote(name)}/index")
    assert status == 200, body[:200]
    return json.loads(body)


def test_feat006_a_run_on_a_worker_exports_its_config_scalars_and_animation(visitor):
    client = visitor.client
    run_id, _ = visitor.training(steps=300)
    status, headers, body = client.get(f"/export/run/{run_id}/config")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    assert json.loads(body) == json.loads(runs_of(client)[run_id]["config"])
    status, _, body = client.get(f"/export/run/{run_id}/csv")
    assert status == 200
    lines = body.decode().splitlines()
    assert lines[0].startswith("step,") and len(lines) > 100
    steps = [int(line.split(",", 1)[0]) for line in lines[1:]]
    assert steps == sorted(steps)
    status, headers, body = client.get(f"/export/run/{run_id}/gif?max_frames=3", timeout=200)
    assert status == 200, body[:300]
    assert body[:4] == b"GIF8" and headers["Content-Type"] == "image/gif"


def test_feat007_presenter_mode_is_the_play_page_with_its_socket(visitor):
    """Presenter mode is drawn by the browser (assets/classroom.js) over the same page, socket
    and callbacks: its page loads, its run streams, and its keys' play/pause reach the run."""
    client = visitor.client
    status, _, page = client.get("/?preset=ring8-reference&play=1&present=1")
    assert status == 200 and b"classroom.js" in page
    status, answer = client.open_run(PRESETS["ring8-reference"].config().to_json(), play=True,
                                     preset="ring8-reference")
    run_id = run_of(answer)
    assert run_id, answer
    tab = visitor.tab(run_id)
    tab.pull(run_id, 30, until=lambda e: e["state"] == "running" and e["step"] > 50)
    press(client, run_id, "play")  # the space bar in presenter mode
    seen = tab.pull(run_id, 5, until=lambda e: e["state"] == "paused")
    assert seen["states"][-1] == "paused" and seen["frames"]


@pytest.fixture
def browser(chromium_available, class_stack):
    """A Chromium of the test's own (its own session); its page's run is ended after it."""
    driver = browser_conftest.make_driver()
    yield driver
    run_id = page_run(driver)
    driver.quit()
    if run_id:
        class_stack.end_runs([run_id])


chromium_available = browser_conftest.chromium_available  # the browser tests' own fixture


@pytest.mark.browser
def test_feat008_the_play_page_paints_frames_in_chromium(visitor, browser):
    open_page(browser, visitor.web, "?preset=ring8-reference&play=1")
    wait_js(browser, "return document.querySelector('#status .state-running')", 30, "running")
    wait_js(browser, step_is("> 100"), 30, "steps")
    first = painted(browser)
    wait_js(browser, step_is("> 300"), 30, "more steps")
    wait_js(browser, f"return GS.stats.painted > {first + 3}", 30, "four more repaints")


@pytest.fixture(scope="module")
def second_web(class_stack):
    """Another web process of the module's class, on its own port."""
    web = class_stack.web()
    class_stack.webs.append(web)  # stopped with the stack
    return web


def test_feat009_a_compare_page_whose_clicks_and_socket_reach_two_web_processes(visitor,
                                                                                 second_web):
    """With several web processes, any of them may answer a click or hold the page's socket:
    the group plays on while its page watches through another process, and "Pause all" sent
    through another process pauses it there."""
    client = visitor.client
    other = Client(second_web.url)
    other.jar, other.opener = client.jar, client.opener  # the same browser
    store = _compare(client, {"runs": [], "presets": PAIR, "cfgs": "", "play": True,
                              "seed": None, "speed": 0})["cmp-runs"]["data"]
    a, b = (p["run"] for p in store["runs"])
    tab = Tab(second_web, other)
    visitor.tabs.append(tab)
    tab.watch(a, b)
    tab.pull(a, 30, until=lambda e: e["step"] > 0)
    start = time.monotonic()
    seen = tab.pull(a, IDLE_S + 5)  # past the grace a group gives its page to connect
    late = [e["step"] for t, e in seen["entries"] if t - start > IDLE_S + 1]
    assert late and late[-1] > late[0] + 50, "the group stopped: it saw no page watching"
    line = _group_button(other, "play", store)  # "Pause all", through the other process
    assert line.startswith("all at step "), line
    at = int(line.removeprefix("all at step ").replace(",", ""))
    time.sleep(1.0)
    assert [runs_of(client)[r]["step"] for r in (a, b)] == [at, at], "the group played on"
