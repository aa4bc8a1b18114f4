"""The run registry with real worker processes: ownership, limits, live edits, child runs,
dead workers and uploads."""

import os
import signal

import pytest

from app.backends.local import LocalBackend
from app.limits import LimitError, Limits
from app.runs import RunRegistry
from gancore.config import ConfigError
from gancore.data.files import DataFileError
from tests.helpers import SMALL, wait_for


@pytest.fixture
def registry(tmp_path):
    reg = RunRegistry(tmp_path / "runs", Limits(per_session=2, total=3), LocalBackend(spare=False))
    yield reg
    reg.close()


def test_ra001_owner_controls_others_cannot(registry):
    run = registry.start("alice", SMALL, autoplay=True)
    wait_for(lambda: registry.status(run.run_id)["step"] > 0)
    with pytest.raises(PermissionError, match="another browser session"):
        registry.command("bob", run.run_id, "pause")
    with pytest.raises(PermissionError):
        registry.apply("bob", run.run_id, SMALL.with_changes({"opt_d.lr": 1e-4}))
    with pytest.raises(PermissionError):
        registry.stop("bob", run.run_id)
    assert registry.status(run.run_id)["state"] == "running"
    registry.command("alice", run.run_id, "pause")
    wait_for(lambda: registry.status(run.run_id)["state"] == "paused")


def test_ra002_limits_per_session_and_overall(registry):
    registry.start("alice", SMALL)
    registry.start("alice", SMALL)
    with pytest.raises(LimitError, match="at most 2"):
        registry.start("alice", SMALL)
    registry.start("bob", SMALL)
    with pytest.raises(LimitError, match="server is full"):
        registry.start("carol", SMALL, queue=False)
    waiting = registry.start("carol", SMALL)  # a play page waits in line instead
    assert registry.status(waiting.run_id)["state"] == "queued"
    assert len(registry.active()) == 3


def test_ra003_live_change_keeps_step_restart_field_forks_child(registry):
    run = registry.start("alice", SMALL, autoplay=True)
    wait_for(lambda: registry.status(run.run_id)["step"] > 20)
    lr = SMALL.with_changes({"opt_d.lr": 2e-4})
    same, live, restart = registry.apply("alice", run.run_id, lr)
    assert same.run_id == run.run_id and live == ["opt_d.lr"] and restart == []
    assert registry.status(run.run_id)["step"] > 20  # not reset
    child, live, restart = registry.apply(
        "alice", run.run_id, same.config.with_changes({"generator.hidden": [24]}))
    assert restart == ["generator.hidden"]
    assert child.parent == run.run_id and child.fork_step > 20
    assert registry.status(run.run_id)["state"] == "stopped"  # the parent keeps its record
    assert os.path.exists(run.record_path)
    wait_for(lambda: registry.status(child.run_id)["state"] == "running")


def test_ra004_killed_worker_is_reported_failed(registry):
    run = registry.start("alice", SMALL, autoplay=True)
    wait_for(lambda: registry.status(run.run_id)["step"] > 0)
    os.kill(registry.status(run.run_id)["pid"], signal.SIGKILL)
    wait_for(lambda: registry.status(run.run_id)["state"] == "failed", 10)
    assert "worker process died" in registry.status(run.run_id)["message"]
    assert registry.active("alice") == []  # a dead run no longer counts against the limit


def test_ra005_upload_checked_and_saved_for_its_session_only(registry):
    with pytest.raises(DataFileError, match="line 3"):
        registry.save_upload(b"1,2\n3,4\n5\n", "bad.csv", "alice")
    name, rows, cols, _ = registry.save_upload(b"1,2,3\n4,5,6\n7,8,9\n", "good.csv", "alice")
    assert name.endswith(".npy") and "/" not in name and (rows, cols) == (3, 3)
    cfg = SMALL.with_changes({"target.name": "file", "target.data_path": name, "target.dim": 3})
    with pytest.raises(ConfigError, match="uploaded in this browser session"):
        registry.start("bob", cfg)  # another session's upload (a share link of alice's run)
    run = registry.start("alice", cfg)
    wait_for(lambda: registry.newest(run.run_id) is not None)
    assert registry.status(run.run_id)["state"] == "paused"


def test_ra010_a_full_machine_queues_a_new_student_at_once(registry):
    """Other students' pages watching their runs are no page being left: the newcomer's run
    goes to the queue without the few seconds' wait meant for a reloaded page."""
    import time

    for who in ("alice", "bob", "carol"):
        run = registry.start(who, SMALL)
        registry.watch(run.run_id, who)
        run.created -= 10
    began = time.monotonic()
    waiting = registry.start("dave", SMALL)
    assert registry.status(waiting.run_id)["state"] == "queued"
    assert time.monotonic() - began < 1.0


def test_ra006_unwatched_runs_are_freed_for_a_new_page(registry):
    a = registry.start("alice", SMALL)
    registry.start("alice", SMALL)
    for r in registry.active("alice"):  # both pages were opened a while ago and then closed
        registry.watch(r.run_id)
        registry.unwatch(r.run_id)
        r.created -= 10
        r.last_watched -= 9
    c = registry.start("alice", SMALL)
    assert registry.status(a.run_id)["state"] == "stopped"
    assert c.run_id in [r.run_id for r in registry.active("alice")]


def test_ra007_a_run_its_page_has_not_watched_yet_keeps_its_room(registry):
    """A comparison starts its runs one by one and watches them together once all exist: on a
    busy machine the first may be many seconds old by then, and must not be taken back."""
    a = registry.start("alice", SMALL)
    registry.start("alice", SMALL)
    registry.get(a.run_id).created -= 10
    registry.get(a.run_id).last_watched -= 10
    with pytest.raises(LimitError, match="at most 2"):
        registry.start("alice", SMALL)
    assert registry.status(a.run_id)["state"] != "stopped"


def test_ra008_idle_runs_pause_but_not_before_their_page_first_watches(tmp_path):
    """A run its page left is paused after the idle time; one whose page has not attached yet
    (a slow page load of a play=1 link) keeps training."""
    reg = RunRegistry(tmp_path / "runs", Limits(idle_pause_s=1.0), LocalBackend(spare=False))
    try:
        left = reg.start("alice", SMALL, autoplay=True)
        loading = reg.start("bob", SMALL, autoplay=True)
        wait_for(lambda: all(reg.status(r.run_id)["step"] > 0 for r in (left, loading)))
        reg.watch(left.run_id)
        reg.unwatch(left.run_id)
        wait_for(lambda: reg.status(left.run_id)["state"] == "paused", timeout=15)
        assert reg.status(loading.run_id)["state"] == "running"
        step = reg.status(loading.run_id)["step"]
        wait_for(lambda: reg.status(loading.run_id)["step"] > step)
    finally:
        reg.close()


def test_ra009_both_runs_of_a_comparison_start_in_warm_spares(tmp_path):
    """A comparison opens two runs at once: both take a spare process that has already imported
    torch (no new spawn), and the backend warms new spares for the next page."""
    from gancore.run.worker import RunSpec

    backend = LocalBackend(spare=True)
    try:
        wait_for(lambda: len(backend._spares) == LocalBackend.SPARES and all(
            h.state != "starting" for h in backend._spares), timeout=120, what="spares warm")
        warm = {h.process.pid for h in backend._spares}
        for name in ("left", "right"):
            backend.start(RunSpec(name, SMALL.to_json(), autoplay=True))
        assert {backend._handle(n).process.pid for n in ("left", "right")} == warm
        for name in ("left", "right"):
            wait_for(lambda n=name: backend.status(n)["step"] > 0, what=f"{name} trains")
        wait_for(lambda: len(backend._spares) == LocalBackend.SPARES, what="spares refilled")
        assert not warm & {h.process.pid for h in backend._spares}
    finally:
        backend.close()
