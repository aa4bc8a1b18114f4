"""A run's worker process: real spawned processes, real pipes, real recordings."""

import os
import signal
import time

import numpy as np
import pytest

from gancore.config import RunConfig
from gancore.frames import MAX_METRIC_NAME, MAX_METRICS, Frame, decode, encode
from gancore.run.mailbox import Mailbox
from gancore.run.worker import CommandError, RunSpec, WorkerHandle
from gancore.store.reader import RunReader

SMALL = RunConfig().with_changes({"generator.hidden": [32, 32], "discriminator.hidden": [32, 32],
                                  "train.batch_size": 64, "frames.record_every": 20})


def next_frame(handle: WorkerHandle, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = handle.mailbox.take()
        if got is not None:
            return decode(got[0]), got[1]
        handle.mailbox.wait(0.1)
    raise AssertionError(f"no frame within {timeout}s (state {handle.state}: {handle.message})")


@pytest.fixture
def worker(tmp_path):
    handles = []

    def start(cfg: RunConfig = SMALL, autoplay: bool = False, run_id: str = "r1"):
        h = WorkerHandle(RunSpec(run_id, cfg.to_json(), str(tmp_path / f"{run_id}.h5"),
                                 autoplay=autoplay))
        handles.append(h)
        return h

    yield start
    for h in handles:
        h.stop()


def test_mailbox_keeps_newest_frame_and_every_row():
    box = Mailbox()
    box.put(b"one", np.array([[1.0, 0.1]]))
    box.put(b"two", np.array([[2.0, 0.2], [3.0, 0.3]]))
    frame, rows = box.take()
    assert frame == b"two"
    assert rows[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert box.take() is None
    assert box.frames_dropped == 1


def test_mailbox_keeps_the_whole_runs_metrics_thinned_evenly():
    """A run of 5,000 frames leaves at most HISTORY_KEPT entries of metrics that still span it
    from the start, evenly; bytes that are not a frame and a non-finite value leave no trace."""
    box = Mailbox()
    box.put(b"not a frame", np.zeros((0, 0)))
    for step in range(0, 50_000, 10):
        scalars = {"modes": float(step % 9), "js": float("nan") if step == 20 else 0.5}
        box.put(encode(Frame("2d", step, scalars)), np.zeros((0, 0)))
    history = box.history(before_step=49_990)
    steps = [s for s, _ in history]
    assert Mailbox.HISTORY_KEPT // 2 <= len(history) <= Mailbox.HISTORY_KEPT
    assert steps[0] == 0 and steps[-1] >= 49_000 and len(set(np.diff(steps))) == 1
    assert all(s < 49_990 for s in steps)
    assert history[1][1]["modes"] == float(steps[1] % 9)
    assert all("js" in m for s, m in history if s != 20) and "js" not in dict(history).get(20, {})
    box.reset()
    assert box.history(before_step=10**9) == []


def test_mailbox_history_keeps_a_bounded_number_of_metrics_per_frame():
    """A watched script's frame with 10,000 scalars and a megabyte-long name (a hostile or
    buggy script) costs the history at most MAX_METRICS short entries a frame."""
    box = Mailbox()
    scalars = {f"m{i}": float(i) for i in range(10_000)} | {"x" * 2**20: 1.0}
    box.put(encode(Frame("2d", 5, scalars)), np.zeros((0, 0)))
    (step, metrics), = box.history(before_step=10)
    assert step == 5 and len(metrics) == MAX_METRICS
    assert all(len(k) <= MAX_METRIC_NAME for k in metrics)


def test_play_pause_step_update_stop(worker, tmp_path):
    h = worker()
    f, _ = next_frame(h)
    assert f.step == 0 and h.wait_state(("paused",)) == "paused"

    h.call("resume")
    seen = set()
    rows_total = 0
    while len(seen) < 3:
        f, rows = next_frame(h)
        seen.add(f.step)
        rows_total += len(rows)
    assert max(seen) > 0

    h.call("pause")
    f, _ = next_frame(h)
    paused_at = f.step
    time.sleep(0.6)  # more than a heartbeat: the worker reports its step while paused
    assert h.step == paused_at, "the run trained while paused"
    result = h.call("step", which="d", n=1)
    assert result["step"] == paused_at + 1
    f, rows = next_frame(h)
    assert f.step == paused_at + 1

    new = SMALL.with_changes({"opt_d.lr": 1e-4})
    result = h.call("update", config=new.to_json())
    assert result == {"changed": ["opt_d.lr"], "step": paused_at + 1}

    with pytest.raises(CommandError, match="latent.dim"):
        h.call("update", config=SMALL.with_changes({"latent.dim": 5}).to_json())
    with pytest.raises(CommandError, match="unknown command"):
        h.call("explode")
    assert h.call("step", n=3)["step"] == paused_at + 4  # the run survived the bad commands
    h.stop()
    assert not h.alive
    with RunReader(tmp_path / "r1.h5") as rec:
        kinds = [e["kind"] for e in rec.events()]
        assert "edit" in kinds
        assert rec.scalars()[1].shape[0] == paused_at + 4  # one row per step, none lost


def test_restart_builds_a_child_run_in_the_same_process(worker, tmp_path):
    h = worker(autoplay=True)
    next_frame(h)
    pid = h.process.pid
    child = SMALL.with_changes({"latent.dim": 3})
    h.call("restart", config=child.to_json(), run_id="r2", parent="r1", fork_step=h.step,
           record_path=str(tmp_path / "r2.h5"))
    f, _ = next_frame(h)
    deadline = time.monotonic() + 20
    while f.meta["run_id"] != "r2" and time.monotonic() < deadline:
        f, _ = next_frame(h)
    assert f.meta["run_id"] == "r2" and h.process.pid == pid
    h.call("pause")
    with RunReader(tmp_path / "r2.h5") as rec:
        assert rec.parent_run == "r1" and rec.fork_step >= 0


def test_killed_worker_is_reported_failed_and_keeps_its_recording(worker, tmp_path):
    h = worker(autoplay=True)
    deadline = time.monotonic() + 30
    while h.step < 60 and time.monotonic() < deadline:
        next_frame(h)
    os.kill(h.process.pid, signal.SIGKILL)
    assert h.wait_state(("failed",), timeout=10) == "failed"
    assert "died" in h.message
    with pytest.raises((RuntimeError, TimeoutError)):
        h.call("pause", timeout=2)
    with RunReader(tmp_path / "r1.h5") as rec:
        assert len(rec) >= 2  # step 0 and at least one recorded frame at step 20
        assert rec.frame(len(rec) - 1).step > 0


def test_invalid_config_fails_the_run_with_its_reason(worker):
    h = worker(SMALL.with_changes({"target.name": "file",
                                   "target.data_path": "/nonexistent/data.csv"}))
    assert h.wait_state(("failed",), timeout=30) == "failed"
    assert "data.csv" in h.message and "not found" in h.message


def test_mailbox_readers_keep_their_own_positions():
    """A spectator reading a run takes nothing from its owner: each reader gets the newest frame
    it has not seen and every row since its own last read."""
    box = Mailbox()
    box.put(b"one", np.array([[1.0, 0.1]]))
    assert box.take("owner")[0] == b"one"
    box.put(b"two", np.array([[2.0, 0.2]]))
    assert box.take("spectator")[0] == b"two"  # a newcomer: the newest frame, recent rows
    for _ in range(5):
        box.put(b"more", np.array([[9.0, 0.9]]))
        assert box.take("spectator")[0] == b"more"
    frame, rows = box.take("owner")
    assert frame == b"more" and rows[:, 0].tolist() == [2.0] + [9.0] * 5
    assert box.take("owner") is None and not box.wait(0.01, "owner")
    box.forget("spectator")
    box.reset()  # a new run in the same process: the old run's picture is not shown
    assert box.take("owner") is None and box.take("newcomer") is None
