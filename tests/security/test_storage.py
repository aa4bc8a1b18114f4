"""The runs folder under pressure: ownership that survives a restart, a full disk and a read-only
folder that give clear messages, and no litter of 0-step recordings. Real workers, real HDF5
files, a real (small) tmpfs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.backends.local import LocalBackend
from app.limits import Limits
from app.recordings import RecordingRefused, Recordings
from app.runs import RunRegistry
from gancore.data.files import DataFileError
from gancore.store.reader import open_recording
from tests.helpers import SMALL, wait_for


def _registry(runs_dir: Path, **limits) -> RunRegistry:
    return RunRegistry(runs_dir, Limits(**limits), LocalBackend(spare=False))


def _trained_run(reg: RunRegistry, owner: str, steps: int = 30, cfg=SMALL):
    run = reg.start(owner, cfg, autoplay=True)
    wait_for(lambda: reg.status(run.run_id)["step"] > steps, 90, "the run trains")
    reg.stop(owner, run.run_id)
    return run


def test_sec_store001_who_may_delete_a_recording_survives_a_restart(tmp_path):
    runs_dir = tmp_path / "runs"
    reg = _registry(runs_dir)
    try:
        run = _trained_run(reg, "alice-session")
        lib = Recordings(reg)
        upload = lib.save_upload(Path(run.record_path).read_bytes(), "shared.h5",
                                 session="carol-session")
    finally:
        reg.close()
    restarted = _registry(runs_dir)  # the server restarted: nothing of the old one in memory
    try:
        lib = Recordings(restarted)
        name = Path(run.record_path).name
        with pytest.raises(RecordingRefused, match="belongs to another browser session"):
            lib.delete(name, session="mallory-session")
        with pytest.raises(RecordingRefused, match="belongs to another browser session"):
            lib.delete(upload, session="mallory-session")
        lib.delete(name, session="alice-session")
        lib.delete(upload, session="carol-session")
        assert not (runs_dir / name).exists() and not (runs_dir / upload).exists()
    finally:
        restarted.close()


def test_sec_store002_a_run_that_never_trained_leaves_no_recording(tmp_path):
    reg = _registry(tmp_path / "runs")
    try:
        idle = reg.start("alice", SMALL)
        wait_for(lambda: Path(idle.record_path).exists(), 90, "the recording opened")
        wait_for(lambda: reg.status(idle.run_id)["state"] == "paused", 90, "the run is up")
        trained = _trained_run(reg, "alice")
        reg.stop("alice", idle.run_id)
        wait_for(lambda: not Path(idle.record_path).exists(), 20, "the 0-step file removed")
        assert Path(trained.record_path).exists()
    finally:
        reg.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MB tmpfs (root mounts it, as CI runs); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave_mb: float) -> None:
    free = os.statvfs(mount)
    size = free.f_bavail * free.f_frsize - int(leave_mb * 1024 * 1024)
    with open(mount / "ballast", "wb") as fh:
        fh.write(b"\1" * max(0, size))


@pytest.mark.scenario
def test_sec_store003_a_full_disk_stops_the_run_with_a_clear_message(small_disk):
    _fill(small_disk, leave_mb=12)
    reg = _registry(small_disk / "runs")
    big_frames = SMALL.with_changes({"frames.record_every": 1, "frames.samples": 5000,
                                     "frames.d_grid": 128})
    try:
        run = reg.start("alice", big_frames, autoplay=True)
        wait_for(lambda: reg.status(run.run_id)["state"] == "failed", 120, "the run stops")
        status = reg.status(run.run_id)
        assert status["message"].startswith("disk full: the recording stopped at step")
        assert str(small_disk) not in status["message"]
        with open_recording(run.record_path) as reader:  # readable up to its last frame
            assert len(reader) > 1 and reader.frame(len(reader) - 1).step > 0
        other = reg.start("bob", SMALL, autoplay=True)  # the server goes on
        wait_for(lambda: reg.status(other.run_id)["state"] in ("running", "failed"), 90)
    finally:
        reg.close()


def test_sec_store004_a_read_only_runs_folder_refuses_uploads_and_runs_clearly(small_disk):
    runs_dir = small_disk / "runs"
    reg = _registry(runs_dir)
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        with pytest.raises(DataFileError, match="the runs folder is not writable"):
            reg.save_upload(b"1,2\n3,4\n5,6\n", "points.csv", "alice")
        with pytest.raises(RecordingRefused, match="the runs folder is not writable"):
            Recordings(reg).save_upload(b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "x.h5", "alice")
        run = reg.start("alice", SMALL, autoplay=True)
        wait_for(lambda: reg.status(run.run_id)["state"] == "failed", 90, "the run refused")
        message = reg.status(run.run_id)["message"]
        assert "the runs folder is not writable" in message and str(runs_dir) not in message
    finally:
        reg.close()
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=False)
