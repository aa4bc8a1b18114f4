"""The recordings library on real files: upload validation
(gancore.store.reader.validate_recording and `python -m gancore validate`), the listing, the
replay frames and routes, delete and upload.

The recording is made by a real seeded run: sway-1d fires its "swaying" event at step 50, and
frames are recorded every 30 steps, so the frame at or before the event is the one of step 30.
"""

from __future__ import annotations

import json
import shutil
import time

import h5py
import numpy as np
import pytest

from app.backends.local import LocalBackend
from app.limits import Limits
from app.recordings import NoRecording, RecordingRefused, Recordings, sanitise
from app.runs import RunRegistry
from gancore import cli
from gancore.config import RunConfig
from gancore.frames import decode
from gancore.store.reader import RunReader, validate_recording
from gancore.store.recording import Recorder, RecordingError
from gancore.teach.presets import PRESETS

STEPS, EVERY, EVENT_STEP = 120, 30, 50


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from gancore.run.session import Session

    path = tmp_path_factory.mktemp("rec") / "sway.h5"
    cfg = PRESETS["sway-1d"].config().with_changes({"frames.record_every": EVERY})
    session = Session(cfg, run_id="sway", record_path=path)
    session.state = "running"
    session.train(STEPS)
    session.close()
    assert [(e["step"], e["kind"]) for e in session.events] == [(EVENT_STEP, "swaying")]
    return path


@pytest.fixture
def registry(tmp_path):
    reg = RunRegistry(tmp_path / "runs", Limits(upload_bytes=2_000_000), LocalBackend(spare=False))
    yield reg
    reg.close()


def copy(src, tmp_path, name="copy.h5"):
    dst = tmp_path / name
    shutil.copyfile(src, dst)
    return dst


# ---- validation ---------------------------------------------------------------------------------

def test_lib001_validation_accepts_a_real_recording(recording):
    validate_recording(recording)  # no exception: every frame reads back and encodes


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("step,d_loss\n1,0.5\n"), "not an HDF5 file"),
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: h5py.File(p, "w").create_dataset("data", data=np.zeros((4, 2))),
     r"not a ganscope recording \(missing /frames/step\)"),
])
def test_lib002_validation_refuses_other_files_by_name(tmp_path, make, message):
    path = tmp_path / "upload.h5"
    make(path)
    with pytest.raises(RecordingError, match=f"^upload.h5: {message}"):
        validate_recording(path)


def test_lib003_validation_names_the_missing_dataset(recording, tmp_path):
    path = copy(recording, tmp_path)
    with h5py.File(path, "a") as f:
        del f["frames/header"]
    with pytest.raises(RecordingError, match=r"missing /frames/header"):
        validate_recording(path)


def test_lib004_validation_refuses_another_format_version(recording, tmp_path):
    path = copy(recording, tmp_path)
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 2
    with pytest.raises(RecordingError, match=r"format_version 2 is not supported"):
        validate_recording(path)


@pytest.mark.parametrize("keep", [0.5, 0.999, 40])
def test_lib005_validation_refuses_a_truncated_file_at_once(recording, tmp_path, keep):
    data = recording.read_bytes()
    n = int(len(data) * keep) if keep < 1 else keep
    path = tmp_path / "cut.h5"
    path.write_bytes(data[:n])
    start = time.monotonic()
    with pytest.raises(RecordingError, match=r"^cut.h5: truncated file"):
        validate_recording(path)
    assert time.monotonic() - start < 5  # SWMR reading of such a file retries for minutes


def test_lib006_validation_refuses_damaged_bytes_quickly(recording, tmp_path):
    data = bytearray(recording.read_bytes())
    rng = np.random.default_rng(0)
    for i in rng.integers(4096, len(data), 40):  # past the superblock and root group
        data[i] ^= 0xFF
    path = tmp_path / "damaged.h5"
    path.write_bytes(bytes(data))
    start = time.monotonic()
    with pytest.raises(RecordingError, match=r"^damaged.h5: "):
        validate_recording(path)
    assert time.monotonic() - start < 5


def test_lib007_validation_refuses_a_recording_without_frames(tmp_path):
    path = tmp_path / "empty-run.h5"
    Recorder(path, RunConfig().to_json(), ["step", "d_loss"]).close()
    with pytest.raises(RecordingError, match=r"holds no complete frame"):
        validate_recording(path)


def test_lib008_cli_validate(recording, tmp_path, capsys):
    assert cli.main(["validate", str(recording)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["frames"] == STEPS // EVERY + 1 and out["last_frame_step"] == STEPS
    bad = tmp_path / "notes.h5"
    bad.write_text("hello")
    assert cli.main(["validate", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == "error: notes.h5: not an HDF5 file"


# ---- listing and replay -----------------------------------------------------------------------

def test_lib010_listing_reads_steps_metrics_and_events(recording, registry):
    shutil.copyfile(recording, registry.runs_dir / "sway.h5")
    (registry.runs_dir / "junk.h5").write_text("not a recording")
    shutil.copyfile(recording, registry.runs_dir / "my run.h5")
    lib = Recordings(registry)
    rows = {e["name"]: e for e in lib.entries()}
    assert set(rows) == {"sway.h5", "junk.h5", "my run.h5"}
    assert "rename the file" in rows["my run.h5"]["error"] and not rows["my run.h5"]["named"]
    assert rows["junk.h5"]["summary"] is None
    assert rows["junk.h5"]["error"] == "junk.h5: not an HDF5 file"
    s = rows["sway.h5"]["summary"]
    with RunReader(recording) as r:
        columns, scalars = r.scalars()
        last = r.frame(len(r) - 1)
    assert (s["steps"], s["frames"], s["kind"], s["target"], s["dim"]) == \
        (STEPS, STEPS // EVERY + 1, "1d", "gaussian_1d", 1)
    assert s["loss"] == PRESETS["sway-1d"].config().loss.name
    assert s["model"] == "gan" and s["remedies"] == []
    assert s["preset"] is None  # sway-1d with a changed record_every is no longer the preset
    assert s["final"]["d_loss"] == pytest.approx(scalars[-1, columns.index("d_loss")])
    assert s["final"]["wasserstein"] == pytest.approx(last.scalars["wasserstein"])
    assert s["events"] == 1 and s["first_events"][0]["step"] == EVENT_STEP
    assert s["first_events"][0]["kind"] == "swaying" and s["run_id"] == "sway"
    assert rows["sway.h5"]["live"] is None


def test_lib011_listing_names_a_preset_recording(tmp_path, registry):
    from gancore.run.session import Session

    cfg = PRESETS["two-points"].config()
    session = Session(cfg, run_id="tp", record_path=registry.runs_dir / "tp.h5")
    session.train(3)
    session.close()
    s = Recordings(registry).summary("tp.h5")
    assert s["preset"] == "two-points" and s["steps"] == 3 and s["modes_total"] == 2


def test_lib012_replay_sends_the_recorded_frame_at_or_before_the_step(recording, registry):
    shutil.copyfile(recording, registry.runs_dir / "sway.h5")
    lib = Recordings(registry)
    index = lib.index("sway.h5")
    assert index["frame_steps"] == list(range(0, STEPS + 1, EVERY))
    assert [e["step"] for e in index["events"]] == [EVENT_STEP]
    assert len(index["curves"]["d_loss"]) == STEPS and "wasserstein" in index["metrics"]
    data, at = lib.frame_bytes("sway.h5", EVENT_STEP)
    assert at == 30
    frame = decode(data)
    with RunReader(recording) as r:
        want = r.frame_at_step(EVENT_STEP)
    assert frame.step == 30 and frame.kind == "1d" and frame.meta["run_id"] == "sway"
    assert set(frame.arrays) == set(want.arrays)
    for name, a in want.arrays.items():
        np.testing.assert_array_equal(frame.arrays[name], a)
    with pytest.raises(KeyError):
        lib.frame_bytes("sway.h5", -1)


def test_lib013_routes_serve_frames_downloads_and_refuse_bad_names(recording, tmp_path_factory):
    from app import runs
    from app.main import create_app

    app = create_app(tmp_path_factory.mktemp("routes") / "runs", spare=False)
    try:
        shutil.copyfile(recording, runs.registry().runs_dir / "sway.h5")
        client = app.server.test_client()
        res = client.get(f"/api/replay/sway.h5/frame?step={EVENT_STEP}")
        assert res.status_code == 200 and res.headers["X-Frame-Step"] == "30"
        assert decode(res.data).step == 30
        res = client.get("/api/replay/sway.h5/index")
        assert res.status_code == 200 and res.json["frame_steps"][-1] == STEPS
        res = client.get("/api/recordings/sway.h5")
        assert res.status_code == 200 and res.data == recording.read_bytes()
        assert "attachment" in res.headers["Content-Disposition"]
        assert client.get("/api/replay/sway.h5/frame?step=x").status_code == 400
        res = client.get("/api/replay/nope.h5/frame?step=1")
        assert res.status_code == 404 and b"no recording named 'nope.h5'" in res.data
        assert client.get("/api/recordings/..%2Frec%2Fsway.h5").data != recording.read_bytes()
        assert client.get("/api/replay/sway.h5/frame?step=-5").status_code == 400  # no step -5
    finally:
        runs.registry().close()


# ---- upload and delete ------------------------------------------------------------------------

def test_lib020_upload_is_validated_sanitised_and_never_overwrites(recording, registry):
    lib = Recordings(registry)
    data = recording.read_bytes()
    assert lib.save_upload(data, "C:\\runs\\..\\my run (2).h5") == "my_run_2.h5"
    assert lib.save_upload(data, "../../my run (2).hdf5") == "my_run_2-2.h5"
    for name in ("my_run_2.h5", "my_run_2-2.h5"):
        assert (registry.runs_dir / name).read_bytes() == data
    before = sorted(p.name for p in registry.runs_dir.glob("*.h5"))
    with pytest.raises(RecordingRefused, match=r"^not an HDF5 file$"):
        lib.save_upload(b"step,loss\n1,2\n", "table.h5")
    with pytest.raises(RecordingRefused, match=r"^truncated file"):
        lib.save_upload(data[: len(data) // 2], "cut.h5")
    with pytest.raises(RecordingRefused, match=r"over the upload limit of 2 MB"):
        lib.save_upload(b"\0" * 2_000_001, "big.h5")
    assert sorted(p.name for p in registry.runs_dir.glob("*.h5")) == before
    assert not any((registry.runs_dir / ".incoming").iterdir())
    assert sanitise("") == "upload.h5" and sanitise("a.b.c.H5") == "a_b_c.h5"


def test_lib021_delete_refuses_a_training_run_and_removes_a_finished_one(registry):
    cfg = PRESETS["two-points"].config().with_changes({"frames.samples": 100})
    run = registry.start("alice", cfg, autoplay=True)
    lib = Recordings(registry)
    name = f"{run.run_id}.h5"
    deadline = time.monotonic() + 120  # a spawn and a torch import, on a shared machine
    while time.monotonic() < deadline and registry.status(run.run_id)["step"] == 0:
        time.sleep(0.1)  # the worker's session made the recording with its step-0 frame
    assert (registry.runs_dir / name).is_file()
    assert lib.live(name)["run"] == run.run_id
    with pytest.raises(RecordingRefused, match=f"run {run.run_id}, which is still "):
        lib.delete(name)
    assert (registry.runs_dir / name).is_file()
    registry.stop("alice", run.run_id)
    assert lib.live(name) is None
    # a class shares one server: another session may replay it, not delete it
    with pytest.raises(RecordingRefused, match="belongs to another browser session"):
        lib.delete(name, session="bob")
    assert (registry.runs_dir / name).is_file()
    lib.delete(name, session="alice")
    assert not (registry.runs_dir / name).exists()
    with pytest.raises(NoRecording):
        lib.delete(name)
    with pytest.raises(NoRecording):
        lib.delete("../" + name)


def test_lib030_the_navigation_bar_links_to_the_library():
    from app import ids
    from app.components.nav import bar

    links = [c for c in bar().children if getattr(c, "id", None) == ids.NAV_LIBRARY]
    assert len(links) == 1 and links[0].href == "/library"


def test_lib022_an_upload_is_deleted_only_by_the_session_that_uploaded_it(registry, recording):
    lib = Recordings(registry)
    name = lib.save_upload(recording.read_bytes(), "shared.h5", session="carol")
    with pytest.raises(RecordingRefused, match="belongs to another browser session"):
        lib.delete(name, session="dave")
    assert (registry.runs_dir / name).is_file()
    lib.delete(name, session="carol")
    assert not (registry.runs_dir / name).exists()
    # a file from before this app started has no known owner: any session may delete it
    old = copy(recording, registry.runs_dir, "from-last-week.h5")
    lib.delete(old.name, session="dave")
    assert not old.exists()
