"""The distributed backend with its real parts: redis-server, a Celery worker with two pool
processes, and web processes started with --redis. A run is opened as the play page opens it and
watched over the page's socket; faults are real kill -9s and a real Redis restart."""

from __future__ import annotations

import json
import threading
import time

import pytest

from gancore.store.reader import open_recording
from tests.distributed.conftest import Tab, open_preset, press, runs_of
from tests.helpers import wait_for
from tests.servers import Client, run_of

pytestmark = pytest.mark.distributed

DETECT_S = 3.0  # a fault is on the page within this long (the bound)


def _training(web, client: Client, past_step: int) -> tuple[str, Tab]:  # noqa: ANN001
    """A run opened as the play page opens it, watched until it trains past `past_step`."""
    run_id = open_preset(client)
    tab = Tab(web, client)
    tab.watch(run_id)
    tab.pull(run_id, 10, until=lambda e: e["state"] == "running" and e["step"] > past_step)
    return run_id, tab


def test_dist001_a_run_trains_on_a_celery_worker_and_streams_to_its_page(stack):
    web = stack.webs[0]
    client = Client(web.url)
    opened = time.monotonic()
    run_id = open_preset(client)
    tab = Tab(web, client)
    tab.watch(run_id)
    seen = tab.pull(run_id, 6.0)
    first = next(t for t, e in seen["entries"] if e["state"] == "running") - opened
    assert first < 10, f"first running envelope after {first:.1f} s"
    assert len(seen["frames"]) >= 10, seen["states"][-5:]
    assert seen["frames"] == sorted(seen["frames"]), "frames went back in time"
    rows = seen["rows"]
    assert rows and rows == list(range(rows[0], rows[0] + len(rows))), "a loss-curve step was lost"
    # The run trains in a pool process of the Celery worker, not in the web process.
    holders = stack.workers[0].pool_pids()
    assert holders, "the worker has no pool processes"


def test_dist002_commands_pause_step_and_resume_through_redis(stack):
    web = stack.webs[0]
    client = Client(web.url)
    run_id, tab = _training(web, client, past_step=50)
    press(client, run_id, "play")  # pause
    seen = tab.pull(run_id, 5, until=lambda e: e["state"] == "paused")
    assert seen["states"][-1] == "paused"
    step = runs_of(client)[run_id]["step"]
    time.sleep(1.0)
    assert runs_of(client)[run_id]["step"] == step, "a paused run trained on"
    press(client, run_id, "step-d")
    wait_for(lambda: runs_of(client)[run_id]["step"] == step + 1, 5, "one D step")
    press(client, run_id, "play")  # play again
    seen = tab.pull(run_id, 5, until=lambda e: e["state"] == "running" and e["step"] > step + 20)
    assert seen["states"][-1] == "running"


def test_dist003_a_killed_pool_process_is_reported_lost_and_resumes_as_a_new_attempt(stack):
    web = stack.webs[0]
    client = Client(web.url)
    run_id = open_preset(client)
    tab = Tab(web, client)
    tab.watch(run_id)
    # Long enough for a checkpoint (every 5 s while training, and at every pause).
    tab.pull(run_id, 10, until=lambda e: e["state"] == "running" and e["step"] > 100)
    press(client, run_id, "play")  # a pause writes a checkpoint
    tab.pull(run_id, 5, until=lambda e: e["state"] == "paused")
    time.sleep(1.0)
    press(client, run_id, "play")
    tab.pull(run_id, 5, until=lambda e: e["state"] == "running")
    pid = _training_pool_process(stack, run_id)
    stack.workers[0].kill_pool_process(pid)
    killed = time.monotonic()
    seen = tab.pull(run_id, 10, until=lambda e: e["state"] == "lost")
    detected = seen["entries"][-1][0] - killed
    assert seen["states"][-1] == "lost", seen["states"][-3:]
    print(f"kill -9 of the pool process: lost after {detected:.2f} s")
    assert detected <= DETECT_S
    message = seen["messages"][-1]
    assert message.startswith("lost at step") and "resume" in message, message
    with open_recording(stack.runs / f"{run_id}.h5") as rec:  # readable up to its last frame
        assert len(rec) >= 1
    lost_step = seen["entries"][-1][1]["step"]
    press(client, run_id, "play")  # resume: attempt 2 from the checkpoint, never silently
    seen = tab.pull(run_id, 30, until=lambda e: e["state"] == "running" and e["attempt"] == 2
                    and e["step"] > 0)
    entry = seen["entries"][-1][1]
    assert entry["attempt"] == 2 and entry["state"] == "running", entry
    assert entry["step"] > 50, "attempt 2 started from step 0, not from its checkpoint"
    assert entry["step"] <= lost_step + 5000
    assert (stack.runs / f"{run_id}-attempt2.h5").exists()


def test_dist004_a_killed_worker_is_reported_lost_and_another_worker_resumes_it(stack):
    web = stack.webs[0]
    client = Client(web.url)
    run_id, tab = _training(web, client, past_step=50)
    stack.workers[0].kill_all()
    killed = time.monotonic()
    seen = tab.pull(run_id, 10, until=lambda e: e["state"] == "lost")
    detected = seen["entries"][-1][0] - killed
    print(f"kill -9 of the whole worker: lost after {detected:.2f} s")
    assert seen["states"][-1] == "lost" and detected <= DETECT_S
    stack.add_worker()
    press(client, run_id, "play")
    seen = tab.pull(run_id, 30, until=lambda e: e["state"] == "running" and e["attempt"] == 2)
    assert seen["entries"][-1][1]["attempt"] == 2


def test_dist007_a_worker_asked_to_stop_hands_its_runs_back_from_where_they_stopped(stack):
    """SIGTERM, as `docker compose stop` sends it: the run saves its state and is lost at once,
    and another worker resumes it from that step, not from an older checkpoint."""
    web = stack.webs[0]
    client = Client(web.url)
    run_id, tab = _training(web, client, past_step=200)
    worker = stack.workers.pop(0)
    asked = time.monotonic()
    stopping = threading.Thread(target=worker.stop)
    stopping.start()
    seen = tab.pull(run_id, 10, until=lambda e: e["state"] == "lost")
    assert seen["states"][-1] == "lost", seen["states"][-3:]
    lost = seen["entries"][-1][1]
    print(f"SIGTERM to the worker: lost after {seen['entries'][-1][0] - asked:.2f} s, "
          f"message {lost['message']!r}")
    stopping.join()
    assert time.monotonic() - asked < 8, "the worker's shutdown waited for its run"
    checkpoint = int(lost["message"].split("step-")[1].split(" ")[0].replace(",", ""))
    assert checkpoint >= lost["step"] - 50, (checkpoint, lost["step"])
    stack.add_worker(name=worker.name)  # restarted under its name, it takes runs again
    press(client, run_id, "play")
    seen = tab.pull(run_id, 30, until=lambda e: e["state"] == "running" and e["attempt"] == 2)
    assert seen["entries"][-1][1]["step"] >= checkpoint


def test_dist005_a_redis_restart_says_reconnecting_and_the_run_carries_on(stack):
    web = stack.webs[0]
    client = Client(web.url)
    run_id, tab = _training(web, client, past_step=50)
    restart = threading.Thread(target=stack.redis.restart, kwargs={"down_s": 2.0})
    restart.start()  # the page keeps pulling meanwhile, as a browser would
    seen = tab.pull(run_id, 6)
    restart.join()
    assert "reconnecting" in seen["states"], seen["states"][-10:]
    # Back: the worker wrote its keys again, the page's pump found them; no reload.
    later = tab.pull(run_id, 15, until=lambda e: e["state"] == "running")
    assert later["states"][-1] == "running", later["states"][-5:]
    after = tab.pull(run_id, 4)
    assert len(after["frames"]) >= 3, "frames did not come back after the restart"


def test_dist006_two_web_processes_share_runs_sessions_and_limits(stack):
    a, b = stack.webs[0], stack.web()
    stack.webs.append(b)
    client = Client(a.url)
    run_id = open_preset(client)
    # The same browser (its cookie) on the other process: same session, same runs.
    other = Client(b.url)
    other.jar, other.opener = client.jar, client.opener  # cookies are per host, not per port
    assert run_id in runs_of(other), "process B does not know process A's run"
    tab = Tab(b, other)
    tab.watch(run_id)
    seen = tab.pull(run_id, 8, until=lambda e: e["state"] == "running" and e["step"] > 20)
    assert seen["frames"], "process B delivered no frame of a run started through A"
    press(other, run_id, "play")  # pause through B
    assert tab.pull(run_id, 5, until=lambda e: e["state"] == "paused")["states"][-1] == "paused"
    # The session's share (2 runs) holds across processes: a third run is refused.
    second = open_preset(other, play=False)
    Tab(a, client).watch(second)
    status, answer = client.open_preset("ring8-reference", play=False)
    assert run_of(answer) is None and "limit reached" in json.dumps(answer), answer


def _training_pool_process(stack, run_id: str) -> int:
    """The pool process that trains the run: it holds the run's recording open."""
    from tests.servers import worker_pid

    pid = worker_pid(stack.runs, run_id)
    assert pid in stack.workers[0].pool_pids()
    return pid
