"""The class view on the distributed backend: runs started through two separate web processes
(real redis-server, real Celery worker) are listed, with their pictures, by /api/class on either
process; the teacher's look adds no member to any run's viewers set."""

from __future__ import annotations

import json
import time

import pytest
import redis

from gancore.run import redis_keys as rk
from tests.distributed.conftest import Stack, Tab, open_preset
from tests.servers import Client

pytestmark = pytest.mark.distributed


def test_dist_cv001_both_web_processes_list_the_runs_started_from_either(tmp_path):
    stack = Stack(tmp_path, slots=2, web=2)
    try:
        first, second = stack.webs
        students = [Client(first.url), Client(second.url)]
        presets = ["ring8-reference", "sway-1d"]
        run_ids = [open_preset(s, p) for s, p in zip(students, presets, strict=True)]
        # Each student's page watches its own run (a run nobody watches makes no frames here).
        tabs = [Tab(web, s) for web, s in zip(stack.webs, students, strict=True)]
        for tab, run_id in zip(tabs, run_ids, strict=True):
            tab.watch(run_id)
        teachers = [Client(first.url), Client(second.url)]

        def listed_everywhere() -> list[dict] | None:
            for tab, run_id in zip(tabs, run_ids, strict=True):
                tab.pull(run_id, 0.5)
            answers = []
            for teacher in teachers:
                status, _, body = teacher.get("/api/class")
                assert status == 200, body
                rows = {r["run"]: r for r in json.loads(body)["runs"]}
                if not all(r in rows and rows[r]["picture"] and rows[r]["step"] > 0
                           and rows[r]["state"] == "running" for r in run_ids):
                    return None
                answers.append(rows)
            return answers

        deadline = time.monotonic() + 120
        answers = listed_everywhere()
        while answers is None and time.monotonic() < deadline:
            answers = listed_everywhere()
        assert answers, "a run started on one web process is missing from the other's list"
        for rows in answers:
            assert [rows[r]["preset"] for r in run_ids] == presets
            assert rows[run_ids[0]]["picture"]["kind"] == "points"
            assert rows[run_ids[1]]["picture"]["kind"] == "curves"
            assert rows[run_ids[0]]["student"] != rows[run_ids[1]]["student"]
        # The teacher glanced and did not watch: only the students' own pages are viewers.
        r = redis.Redis.from_url(stack.redis.url)
        for run_id in run_ids:
            members = [m.decode() for m in r.zrange(rk.run_key(run_id, "viewers"), 0, -1)]
            assert members and all(m.startswith("o:") for m in members), members
        for tab in tabs:
            tab.close()
        stack.end_runs(run_ids)

        def left() -> bool:
            status, _, body = teachers[0].get("/api/class")
            return status == 200 and not {r["run"] for r in json.loads(body)["runs"]} & \
                set(run_ids)

        deadline = time.monotonic() + 20
        while not left() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left(), "runs that ended stay on the class view"
    finally:
        stack.stop()
