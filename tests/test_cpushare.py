"""Training workers yield CPU to the page once they would fill every core: real worker
processes, their nice values read back from the kernel."""

import os
from pathlib import Path

import pytest

from app.cpushare import YIELD_NICE, CpuShare, should_yield
from app.runs import Limits, LocalBackend, RunRegistry
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
    assert registry.backend.share_cores() == 0
    if os.geteuid() == 0:  # raising a priority again needs the privilege to do so
        assert thread_nices(pid_a) == {0}
