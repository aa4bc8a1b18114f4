"""Training workers yield CPU to the page once they would fill every core: real worker
processes, their nice values read back from the kernel."""

import os
from pathlib import Path

import pytest

from app.backends.local import LocalBackend
from app.cpushare import YIELD_NICE, CpuShare, should_yield
from app.limits import Limits
from app.runs import RunRegistry
from tests.helpers import SMALL, wait_for

TWO_CORES = 2


def thread_nices(pid: int) -> set[int]:
    """The nice value of every thread of a process (each thread has its own on Linux)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return {os.getpriority(os.PRIO_PROCESS, int(t.name)) for t in tasks}


@pytest.fixture
def registry(tmp_path):
    backend = LocalBackend(spare=False, cpu=CpuShare(n_cores=TWO_CORES))
    reg = RunRegistry(tmp_path / "runs", Limits(per_session=3, total=3), backend)
    yield reg
    reg.close()


def test_cs001_yield_only_when_the_workers_fill_the_cores():
    assert not should_yield(0, 2) and not should_yield(1, 2)
    assert should_yield(2, 2) and should_yield(4, 2)
    assert should_yield(1, 1)  # one core: the page would otherwise wait for every frame


def test_cs002_second_training_run_on_two_cores_lowers_both_priorities(registry):
    a = registry.start("alice", SMALL, autoplay=True)
    registry.watch(a.run_id)  # a page shows it (an unwatched run would pause by itself)
    wait_for(lambda: registry.status(a.run_id)["step"] > 0, what="run a trains")
    pid_a = registry.status(a.run_id)["pid"]
    assert registry.backend.share_cores() == 0
    assert thread_nices(pid_a) == {0}  # one run: its frames are what the page waits for

    b = registry.start("alice", SMALL, autoplay=True)
    registry.watch(b.run_id)
    wait_for(lambda: registry.status(b.run_id)["state"] == "running", what="run b trains")
    pid_b = registry.status(b.run_id)["pid"]
    assert registry.backend.share_cores() == YIELD_NICE
    assert thread_nices(pid_a) == {YIELD_NICE} and thread_nices(pid_b) == {YIELD_NICE}
    # both keep training at the lower priority
    step_a = registry.status(a.run_id)["step"]
    wait_for(lambda: registry.status(a.run_id)["step"] > step_a + 10, what="run a trains on")

    registry.command("alice", b.run_id, "pause")
    wait_for(lambda: registry.status(b.run_id)["state"] == "paused", what="run b pauses")
    # b's last steps still count for a few seconds (a stepped run is paused in between steps)
    wait_for(lambda: registry.backend.share_cores() == 0, 20, "one training run again")
    if os.geteuid() == 0:  # raising a priority again needs the privilege to do so
        assert thread_nices(pid_a) == {0}


def test_cs003_runs_stepped_together_count_as_training(registry):
    """The compare page trains its runs with step commands while they stay paused."""
    runs = [registry.start("alice", SMALL) for _ in range(2)]
    for r in runs:
        registry.watch(r.run_id)
        wait_for(lambda r=r: registry.status(r.run_id)["state"] == "paused", what="paused")
    registry.backend.share_cores()  # the steps it has seen so far
    for r in runs:
        registry.command("alice", r.run_id, "step", which="both", n=50)
    assert registry.backend.share_cores() == YIELD_NICE
    assert thread_nices(registry.status(runs[0].run_id)["pid"]) == {YIELD_NICE}
    # no step since: they wait and take no CPU, so they give up their low priority
    wait_for(lambda: registry.backend.share_cores() == 0, 20, "the stepping to end")
