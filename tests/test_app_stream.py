"""The frame stream: the envelope codec and what one tab receives from a real run."""

import time

import numpy as np
import pytest

from app.backends.local import LocalBackend
from app.limits import Limits
from app.runs import RunRegistry
from app.stream import TabStream, decode_envelope, encode_envelope
from gancore.frames import STAT_COLUMNS, decode
from tests.test_app_runs import SMALL


def test_st001_envelope_round_trip_keeps_rows_frames_and_alignment():
    rows = np.arange(21, dtype=np.float64).reshape(3, 7)
    rows[1, 2] = np.nan  # a half step leaves the other half's loss NaN
    frame = b"abcdefg"  # 7 bytes: the next block must still start 8-aligned
    msg = encode_envelope([({"run": "a", "state": "running"}, frame, rows),
                           ({"run": "b", "state": "paused"}, None, None),
                           ({"run": "c", "state": "running"}, b"xyz", rows[:1])])
    (n,) = np.frombuffer(msg[:4], "<u4")
    assert (4 + n) % 8 == 0
    out = decode_envelope(msg)
    assert [e["run"] for e, _, _ in out] == ["a", "b", "c"]
    assert out[0][1] == frame and out[2][1] == b"xyz"
    np.testing.assert_array_equal(out[0][2], rows)
    assert out[1][1] is None and out[1][2] is None
    assert out[0][0]["columns"] == STAT_COLUMNS
    assert all(e["rows"] is None or e["rows"][0] % 8 == 0 for e, _, _ in out)


@pytest.fixture
def registry(tmp_path):
    reg = RunRegistry(tmp_path / "runs", Limits(), LocalBackend(spare=False))
    yield reg
    reg.close()


def test_st002_tab_gets_newest_frame_and_every_row(registry):
    run = registry.start("alice", SMALL, autoplay=True)
    tab = TabStream(registry)
    tab.watch([run.run_id])
    assert registry.get(run.run_id).watchers == 1
    steps = []
    deadline = time.monotonic() + 30
    frame_steps = []
    while time.monotonic() < deadline and len(frame_steps) < 5:
        (entry, frame, rows), = decode_envelope(tab.next_message())
        if rows is not None:
            steps.extend(rows[:, 0].astype(int).tolist())
        if frame is not None:
            f = decode(frame)
            frame_steps.append(f.step)
            assert f.kind == "2d" and f.meta["run_id"] == run.run_id
        assert entry["run"] == run.run_id
    assert frame_steps == sorted(frame_steps) and len(frame_steps) == 5
    assert steps == list(range(steps[0], steps[0] + len(steps)))  # no row lost
    tab.close()
    assert registry.get(run.run_id).watchers == 0


def test_st003_paused_run_answer_waits_briefly_then_status_only(registry):
    run = registry.start("alice", SMALL)
    tab = TabStream(registry)
    tab.watch([run.run_id])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the first frame of the paused run
        if decode_envelope(tab.next_message(0.5))[0][1] is not None:
            break
    t = time.monotonic()
    (entry, frame, _), = decode_envelope(tab.next_message(0.3))
    assert frame is None and entry["state"] == "paused"
    assert 0.25 <= time.monotonic() - t < 2.0  # waited, bounded, no busy loop


def test_st004_tab_frame_cap_spaces_frames_and_keeps_every_row(registry):
    """GANSCOPE_MAX_TAB_FPS: a capped tab gets frames no closer than 1/cap apart, and the rows
    in between still all arrive (the cap thins pictures, never data)."""
    run = registry.start("alice", SMALL, autoplay=True)
    tab = TabStream(registry, max_fps=4.0)
    tab.watch([run.run_id])
    times, steps = [], []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(times) < 5:
        (_, frame, rows), = decode_envelope(tab.next_message())
        if rows is not None:
            steps.extend(rows[:, 0].astype(int).tolist())
        if frame is not None:
            times.append(time.monotonic())
    tab.close()
    assert len(times) == 5
    gaps = np.diff(times)
    assert gaps.min() >= 0.24, gaps  # 4 fps: at least 250 ms apart (timer slack 10 ms)
    assert steps == list(range(steps[0], steps[0] + len(steps)))


def test_st005_a_tab_that_opens_late_gets_the_metrics_of_the_frames_before_its_first(registry):
    """A page opened on a run that has trained for a while (a reload, a late join, an ended
    run) draws its metric charts from the run's start: its first frame comes with the metrics
    of the frames before it, oldest first; later answers bring none."""
    run = registry.start("alice", SMALL, autoplay=True)
    first = TabStream(registry)  # the page that was open from the start
    first.watch([run.run_id])
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(seen) < 8:
        (_, frame, _), = decode_envelope(first.next_message())
        if frame is not None:
            seen.append(decode(frame).step)
    assert len(seen) == 8, seen
    late = TabStream(registry)
    late.watch([run.run_id])
    history, frame_step = None, None
    while time.monotonic() < deadline and frame_step is None:
        (entry, frame, _), = decode_envelope(late.next_message())
        if frame is not None:
            history, frame_step = entry.get("history"), decode(frame).step
    assert frame_step is not None and history, "the late tab's first frame came without history"
    steps = [step for step, _ in history]
    assert steps == sorted(steps) and steps[-1] < frame_step
    assert steps[0] <= seen[1], (steps[:3], seen[:3])  # it reaches back to the run's start
    assert all({"modes", "high_quality"} <= set(m) for _, m in history), history[0]
    later = None
    while time.monotonic() < deadline and later is None:
        (entry, frame, _), = decode_envelope(late.next_message())
        if frame is not None:
            later = entry
    assert later is not None and "history" not in later
    late.close()
    first.close()
