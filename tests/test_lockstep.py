"""Runs trained together (app.lockstep) and forks beside their parent, real worker processes."""

import time

import pytest

from app import lockstep
from app.backends.local import LocalBackend
from app.limits import LimitError, Limits
from app.runs import RunRegistry
from gancore.store.reader import RunReader
from tests.helpers import SMALL, wait_for

SMALL = SMALL.with_changes({"frames.record_every": 10})


@pytest.fixture
def registry(tmp_path):
    reg = RunRegistry(tmp_path / "runs", Limits(per_session=2, per_compare=3, total=3),
                      LocalBackend(spare=False))
    yield reg
    reg.close()


def newest_step(reg, run_id):
    from gancore.frames import decode

    got = None
    deadline = time.monotonic() + 90
    while got is None and time.monotonic() < deadline:
        got = reg.newest(run_id)
        time.sleep(0.02)
    return decode(got[0]).step


def test_ls001_group_plays_pauses_and_steps_at_equal_steps(registry):
    a = registry.start("alice", SMALL, allowance=3)
    b = registry.start("alice", SMALL.with_changes({"remedies.unrolled_steps": 3}), allowance=3)
    short = registry.start("alice", SMALL.with_changes({"max_steps": 20}), allowance=3)
    ids = [a.run_id, b.run_id, short.run_id]
    for r in ids:
        registry.watch(r)  # as the compare page's socket does; unwatched groups pause
    g = lockstep.group(registry, "alice", ids)
    g.play()
    wait_for(lambda: min(g.steps.get(a.run_id, 0), g.steps.get(b.run_id, 0)) > 40, 180)
    steps = g.pause()
    assert not g.playing
    # the run that finished left the group where it stopped; the others went on together
    assert "done" in g.dropped[short.run_id] and g.steps[short.run_id] == 20
    assert set(steps) == {a.run_id, b.run_id}
    assert steps[a.run_id] == steps[b.run_id] > 40
    # what the page is shown agrees: each run's newest frame is at that step, and it stays there
    for r in (a, b):
        assert newest_step(registry, r.run_id) == steps[a.run_id]
        assert registry.status(r.run_id)["state"] == "paused"
    after = g.step(7)
    assert after == {a.run_id: steps[a.run_id] + 7, b.run_id: steps[a.run_id] + 7}
    with pytest.raises(PermissionError, match="another browser session"):
        lockstep.group(registry, "bob", ids).step(1)
    lockstep.release("alice", ids)


@pytest.mark.scenario
def test_ls002_fork_beside_keeps_the_parent_and_levels_with_it(registry):
    parent = registry.start("alice", SMALL, autoplay=True)
    registry.watch(parent.run_id)  # its play page
    wait_for(lambda: registry.status(parent.run_id)["step"] > 30)
    child = registry.fork_beside("alice", parent.run_id, SMALL.with_changes({"opt_d.lr": 2e-4}))
    assert child.parent == parent.run_id and child.fork_step > 30
    assert child.config.opt_d.lr == 2e-4
    registry.watch(child.run_id)  # the compare page
    # the parent goes on training as it was; the child starts paused at the fork step
    at_fork = registry.status(parent.run_id)["step"]
    wait_for(lambda: registry.status(parent.run_id)["step"] > at_fork + 20)
    assert registry.status(parent.run_id)["state"] == "running"
    assert newest_step(registry, child.run_id) == child.fork_step
    # together: the child catches up with the parent, then both move by the same amount
    g = lockstep.group(registry, "alice", [parent.run_id, child.run_id])
    steps = g.step(5)
    assert steps[parent.run_id] == steps[child.run_id] > at_fork + 20
    # the third run of this session passes the per-session limit of 2
    with pytest.raises(LimitError, match="at most 2"):
        registry.fork_beside("alice", parent.run_id, SMALL.with_changes({"opt_d.lr": 3e-4}))
    lockstep.release("alice", [parent.run_id, child.run_id])
    registry.stop("alice", child.run_id)
    with RunReader(child.record_path) as rec:
        assert rec.parent_run == parent.run_id and rec.fork_step == child.fork_step
        assert any(e["kind"] == "fork" for e in rec.events())
    # the weights handed to the child are not left behind in runs/forks
    assert list((registry.runs_dir / "forks").glob("*.pt"))
    registry.close()
    assert not list((registry.runs_dir / "forks").glob("*.pt"))
