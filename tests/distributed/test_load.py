"""A class's load on the distributed backend (`make test-load`): 30 students, each a session of
its own with a page's socket, against one worker machine with 2 slots on this 2-core box. Every
student either watches a training run or sees its place in the queue, and nobody gets an error.
The figures (time to first frame, median and p95, side by side with the local backend) are
bench/classroom.py's; this holds the behaviour."""

from __future__ import annotations

import re
import statistics
import threading
import time

import pytest

from tests.distributed.conftest import Tab
from tests.servers import Client, run_of

STUDENTS = 30
pytestmark = [pytest.mark.load, pytest.mark.distributed]


def _student(url: str, web, out: dict) -> None:  # noqa: ANN001
    began = time.monotonic()
    try:
        client = Client(url)
        status, answer = client.open_preset("ring8-reference", play=True)
        run_id = run_of(answer)
        if status != 200 or run_id is None:
            out["error"] = f"open: {status} {str(answer)[:200]}"
            return
        tab = Tab(web, client)
        tab.watch(run_id)
        # Every run is queued until a worker takes it (a moment, with a free slot): the page
        # either starts drawing within ten seconds or keeps showing a place in the queue.
        seen = tab.pull(run_id, 10, until=lambda e: (e["state"] == "running" and e["frame"])
                        or e.get("error"))
        last = seen["entries"][-1][1] if seen["entries"] else {}
        out["place_s"] = next((t - began for t, e in seen["entries"]
                               if e["state"] == "queued" and "in line" in e["message"]), None)
        out["state"], out["message"] = last.get("state"), last.get("message", "")
        out["error"] = last.get("error")
        out["after_s"] = time.monotonic() - began
        out["tab"] = tab  # kept open: the page stays, its run keeps its slot or its place
    except Exception as e:  # noqa: BLE001 - any failure is an error the student would see
        out["error"] = f"{type(e).__name__}: {e}"


def test_load001_thirty_students_on_two_slots_train_or_see_their_place(stack):
    web = stack.webs[0]
    results: list[dict] = [{} for _ in range(STUDENTS)]
    threads = []
    for i in range(STUDENTS):  # arriving over about three seconds
        t = threading.Thread(target=_student, args=(web.url, web, results[i]))
        t.start()
        threads.append(t)
        time.sleep(0.1)
    for t in threads:
        t.join(90)
    errors = [r.get("error") for r in results if r.get("error")]
    assert errors == [], errors[:5]
    training = [r for r in results if r.get("state") == "running"]
    waiting = [r for r in results if r.get("state") == "queued"]
    assert len(training) + len(waiting) == STUDENTS, [r.get("state") for r in results]
    assert len(training) == 2, "two worker slots: two runs train"
    for r in waiting:
        assert re.match(r"\d+(st|nd|rd|th) in line", r["message"]), r["message"]
    places = sorted(int(re.match(r"\d+", r["message"]).group()) for r in waiting)
    # Nobody leaves and nobody else asks: the places are 1st to 28th, each once.
    assert places == list(range(1, len(waiting) + 1)), places
    first = [r["after_s"] for r in training]
    shown = [r["place_s"] for r in waiting]
    assert None not in shown
    print(f"first frame of the two training runs: {statistics.median(first):.2f} s median; "
          f"queue place shown after {statistics.median(shown):.2f} s median, "
          f"{max(shown):.2f} s at most")
    assert max(first) < 15
    for r in results:
        r["tab"].close()
