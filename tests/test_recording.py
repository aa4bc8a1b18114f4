"""Recordings: frames round-trip exactly, read while written, survive SIGKILL, stay small."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from gancore.frames import Frame, quantize
from gancore.store.reader import RunReader, validate_recording
from gancore.store.recording import (
    FORMAT_VERSION,
    MAX_FRAME_ARRAY_BYTES,
    MAX_FRAME_BYTES,
    MAX_LINKS,
    Recorder,
    RecordingError,
)

ROOT = Path(__file__).resolve().parent.parent
WRITER = Path(__file__).with_name("_recording_writer.py")
CONFIG = json.dumps({"target": {"name": "ring", "modes": 8}, "train": {"seed": 1}})
COLUMNS = ["step", "d_loss", "g_loss"]


def _load_writer():
    """The kill-test writer as a module, to rebuild the frames it wrote."""
    spec = importlib.util.spec_from_file_location("_recording_writer", WRITER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- frames built by hand ------------------------------------------------------------------------


def frame_2d(k: int, rng: np.random.Generator) -> Frame:
    """A 2-D frame shaped like the probes' (1500 samples, 64x64 grid, 20x20 latent grid)."""
    q, r = quantize(rng.random((64, 64)), None, None)
    f = Frame("2d", 100 * k,
              {"d_loss": 1.25 - 0.1 * k, "g_loss": math.nan if k == 2 else 0.5, "modes": k},
              {"bounds": [[-2.0, 2.0], [-1.5, 1.5]], "latent_shape": [20, 20],
               "d_probabilistic": True})
    f.arrays["real"] = rng.standard_normal((1500, 2)).astype(np.float16)
    f.arrays["fake"] = rng.standard_normal((1500, 2)).astype(np.float32)
    f.arrays["d_grid"], f.ranges["d_grid"] = q, r
    f.arrays["latent_mapped"] = rng.standard_normal((400, 2)).astype(np.float16)
    return f


def frame_1d(k: int, rng: np.random.Generator) -> Frame:
    """A 1-D frame: densities, D's curve and the z -> x mapping lines."""
    f = Frame("1d", 7 * k, {"d_loss": float(k), "reverse_kl": math.nan},
              {"x_range": [-4.0, 4.0], "d_probabilistic": False})
    f.arrays["real_density"] = rng.random(256).astype(np.float32)
    f.arrays["fake_hist"] = rng.random(80).astype(np.float32)
    f.arrays["d_curve"] = rng.standard_normal(256).astype(np.float32)
    f.arrays["map_z"] = np.sort(rng.standard_normal(120)).astype(np.float32)
    f.arrays["map_x"] = rng.standard_normal(120).astype(np.float32)
    f.arrays["fake"] = rng.standard_normal((1500, 1)).astype(np.float32)
    return f


def assert_same_frame(got: Frame, want: Frame) -> None:
    assert (got.kind, got.step, got.meta) == (want.kind, want.step, want.meta)
    assert got.scalars.keys() == want.scalars.keys()
    for name, value in want.scalars.items():
        if math.isnan(value):
            assert math.isnan(got.scalars[name])
        else:
            assert got.scalars[name] == value and type(got.scalars[name]) is type(value)
    assert list(got.arrays) == list(want.arrays)
    for name, a in want.arrays.items():
        assert got.arrays[name].dtype == a.dtype, name
        assert got.arrays[name].shape == a.shape, name
        assert np.array_equal(got.arrays[name], a), name
    assert got.ranges == want.ranges


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [frame_2d, frame_1d])
def test_write_close_read_back(tmp_path, make):
    rng = np.random.default_rng(0)
    frames = [make(k, rng) for k in range(5)]
    fixed = "real" if make is frame_2d else "real_density"
    frames[3].arrays[fixed] = frames[2].arrays[fixed].copy()  # unchanged: stored once
    rows = rng.standard_normal((40, 3))
    rows[5, 1] = np.nan
    path = tmp_path / "run.h5"
    with Recorder(path, CONFIG, COLUMNS, parent="parent-run", fork_step=1200,
                  run_id="abc") as rec:
        rec.add_event(0, "edit", "opt_d.lr 0.001 -> 0.0001")  # before the first frame: buffered
        rec.append_scalars(rows[:10])
        for k, f in enumerate(frames):
            rec.append_frame(f)
            if k == 1:
                rec.append_scalars(rows[10:])
                rec.add_event(f.step, "mode_collapse", "mode collapse at step 1,240: 3 of 8 modes")
        assert rec.frames_written == 5
    rec.close()  # idempotent

    with RunReader(path) as run:
        assert len(run) == 5
        assert (run.config_json, run.parent_run, run.fork_step, run.run_id) == (
            CONFIG, "parent-run", 1200, "abc")
        assert run.steps.dtype == np.int64
        assert run.steps.tolist() == [f.step for f in frames]
        for i, f in enumerate(frames):
            assert_same_frame(run.frame(i), f)
        assert_same_frame(run.frame(-1), frames[-1])
        assert_same_frame(run.frame_at_step(frames[2].step + 1), frames[2])
        with pytest.raises(KeyError):
            run.frame_at_step(-1)
        with pytest.raises(IndexError):
            run.frame(5)
        columns, got = run.scalars()
        assert columns == COLUMNS
        assert got.dtype == np.float64 and np.array_equal(got, rows, equal_nan=True)
        assert run.events() == [
            {"step": 0, "kind": "edit", "message": "opt_d.lr 0.001 -> 0.0001"},
            {"step": frames[1].step, "kind": "mode_collapse",
             "message": "mode collapse at step 1,240: 3 of 8 modes"}]
    with h5py.File(path, "r") as h:  # the documented layout, seen without RunReader
        assert h.attrs["format_version"] == FORMAT_VERSION
        assert h["frames/samples"].shape == (5, *frames[0].arrays["fake"].shape)
        assert h["frames/samples"].dtype == np.float32
        assert list(h["scalars"].attrs["columns"]) == COLUMNS
        header = json.loads(bytes(h["frames/header"][3]).rstrip(b"\0"))
        assert header["arrays"][fixed] == 2 and header["arrays"]["fake"] == 3


def test_no_parent_and_no_frames(tmp_path):
    path = tmp_path / "empty-run.h5"
    with Recorder(path, CONFIG, COLUMNS) as rec:
        rec.append_scalars(np.zeros((2, 3)))
        rec.add_event(5, "diverged", "é" * 150)  # 300 bytes: cut to 200, between characters
    with RunReader(path) as run:
        assert (len(run), run.parent_run, run.fork_step, run.run_id) == (0, None, None, "empty-run")
        assert run.scalars()[1].shape == (2, 3)
        assert run.events() == [{"step": 5, "kind": "diverged", "message": "é" * 100}]
    with pytest.raises(FileExistsError):
        Recorder(path, CONFIG, COLUMNS)  # a recording is never overwritten


def test_changed_and_new_arrays_are_skipped_with_one_event(tmp_path):
    rng = np.random.default_rng(1)
    frames = [frame_2d(k, rng) for k in range(4)]
    frames[1].arrays["d_grid"] = np.zeros((32, 32), np.uint8)  # shape changed
    frames[2].arrays["d_grid"] = np.zeros((16, 16), np.uint8)  # again: no second event
    frames[2].arrays["extra"] = np.zeros(3, np.float32)  # not in the first frame
    del frames[3].arrays["latent_mapped"]  # missing from one frame
    path = tmp_path / "run.h5"
    with Recorder(path, CONFIG, COLUMNS) as rec:
        for f in frames:
            rec.append_frame(f)
    with RunReader(path) as run:
        assert len(run) == 4
        assert "d_grid" not in run.frame(1).arrays and "d_grid" not in run.frame(1).ranges
        assert "extra" not in run.frame(2).arrays
        assert_same_frame(run.frame(3), frames[3])
        messages = [e["message"] for e in run.events() if e["kind"] == "recording"]
    assert len(messages) == 2
    assert any("array d_grid changed shape" in m and m.endswith("not recorded") for m in messages)
    assert any("array extra" in m for m in messages)


def test_read_while_writing(tmp_path):
    rng = np.random.default_rng(2)
    path = tmp_path / "live.h5"
    with Recorder(path, CONFIG, COLUMNS) as rec:
        rec.append_frame(frame_2d(0, rng))
        with RunReader(path) as run:
            assert len(run) == 1
            for k in range(1, 4):
                rec.append_scalars(np.full((5, 3), float(k)))
                rec.add_event(100 * k, "edit", f"edit {k}")
                rec.append_frame(frame_2d(k, rng))
                run.refresh()
                assert len(run) == k + 1
                assert run.frame(k).step == 100 * k
                assert run.scalars()[1].shape == (5 * k, 3)
                assert len(run.events()) == k


def test_survives_sigkill(tmp_path):
    writer = _load_writer()
    path = tmp_path / "killed.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        reported = 0
        for line in proc.stdout:
            reported = int(line)
            if reported >= 20:
                break
        assert reported >= 20, f"writer stopped early: {proc.stderr.read()}"
        with RunReader(path) as live:  # another process, mid-write: SWMR reading
            assert len(live) >= reported
            seen_live = len(live)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    with RunReader(path) as run:
        n = len(run)
        assert n >= max(reported, seen_live)
        assert run.config_json == writer.CONFIG_JSON and run.run_id == "killed"
        assert run.steps.tolist() == [k * writer.STEPS_PER_FRAME for k in range(n)]
        for k in range(n):
            f = run.frame(k)
            assert np.isfinite(f.arrays["fake"]).all()
            assert_same_frame(f, writer.make_frame(k))
        columns, rows = run.scalars()
        assert columns == writer.COLUMNS
        per = writer.STEPS_PER_FRAME
        assert len(rows) >= n * per and len(rows) % per == 0  # whole flushes only
        assert np.array_equal(rows, np.concatenate([writer.scalar_rows(k)
                                                    for k in range(len(rows) // per)]))
        events = run.events()
        assert events[0] == {"step": 0, "kind": "start", "message": "writer started"}
        ticks = [e["message"] for e in events[1:]]
        assert ticks == [f"frame {k}" for k in range(0, 5 * len(ticks), 5)]
        assert len(ticks) >= len(range(0, n, 5))  # every frame's event came with it


@pytest.mark.parametrize(("content", "problem"), [
    ("text", "not an HDF5 file"),
    ("empty", "not an HDF5 file"),
    ("hdf5", "not a ganscope recording (missing /frames/step)"),
    ("version", "format_version 2 is not supported"),
])
def test_invalid_files(tmp_path, content, problem):
    path = tmp_path / "x.h5"
    if content == "text":
        path.write_text("step,d_loss\n1,0.5\n")
    elif content == "empty":
        path.write_bytes(b"")
    else:
        with h5py.File(path, "w") as h:
            h.create_dataset("points", data=np.zeros((3, 2)))
            if content == "version":
                h.create_dataset("frames/step", data=np.zeros(0, np.int64))
                h.attrs["format_version"], h.attrs["config"] = 2, "{}"
    with pytest.raises(RecordingError) as err:
        RunReader(path)
    assert str(err.value).startswith("x.h5: ") and problem in str(err.value)


def test_size_per_frame(tmp_path):
    """Realistic 2-D frames: smooth samples drifting each frame, a fixed real batch, a smooth D
    surface, the latent map and gradient arrows."""
    rng = np.random.default_rng(3)
    centres = 2 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
    real = (centres[rng.integers(0, 8, 1500)] + 0.05 * rng.standard_normal((1500, 2)))
    z = rng.standard_normal((1500, 2))
    grid = np.linspace(-3, 3, 64)
    xx, yy = np.meshgrid(grid, grid)
    lat = np.stack(np.meshgrid(np.linspace(-2, 2, 20), np.linspace(-2, 2, 20)), -1).reshape(-1, 2)
    path = tmp_path / "size.h5"
    n = 50
    with Recorder(path, CONFIG, COLUMNS) as rec:
        for k in range(n):
            t = k / n
            f = Frame("2d", 100 * k, {"d_loss": 1.3 - t, "g_loss": 0.7 + t, "modes": 3},
                      {"bounds": [[-3, 3], [-3, 3]], "latent_shape": [20, 20]})
            f.arrays["real"] = real.astype(np.float16)
            f.arrays["fake"] = (z * (1.5 - t) + 2 * t * np.tanh(z)).astype(np.float32)
            d = 1 / (1 + np.exp(-(np.sin(xx * (1 + t)) + np.cos(yy) - t)))
            f.arrays["d_grid"], f.ranges["d_grid"] = quantize(d, 0.0, 1.0)
            f.arrays["latent_mapped"] = (np.tanh(lat) * (1 + t)).astype(np.float16)
            f.arrays["grad_arrows"] = (0.1 * np.tanh(z[:120]) * (1 - t)).astype(np.float16)
            rec.append_scalars(np.full((100, 3), t))
            rec.append_frame(f)
    per_frame = path.stat().st_size / n
    print(f"\nrecording size: {per_frame:.0f} bytes per 2-D frame ({n} frames, with scalars)")
    assert per_frame < 20_000


# --- what a reader refuses before reading --------------------------------------------------------


def test_largest_frame_is_accepted(tmp_path):
    """A frame of a run at every probe bound (n-D at MAX_DATA_DIM, 5000 samples, 256 x 256 D
    grid): what MAX_FRAME_ARRAY_BYTES and MAX_FRAME_BYTES are measured against."""
    from gancore.config import MAX_DATA_DIM, FrameConfig, RunConfig
    from gancore.run.session import Session

    def top(field: str) -> int:
        return next(m.le for m in FrameConfig.model_fields[field].metadata if hasattr(m, "le"))

    cfg = RunConfig().with_changes({
        "target.name": "gaussian_nd", "target.dim": MAX_DATA_DIM, "latent.dim": 4,
        "frames.samples": top("samples"), "frames.d_grid": top("d_grid"),
        "frames.latent_grid": top("latent_grid"), "generator.hidden": [16],
        "discriminator.hidden": [16], "train.batch_size": 64})
    path = tmp_path / "largest.h5"
    with Recorder(path, cfg.to_json(), COLUMNS) as rec:
        rec.append_frame(Session(cfg).frame())
    validate_recording(path)
    with h5py.File(path, "r") as h:
        rows = {k: math.prod(ds.shape[1:]) * ds.dtype.itemsize for k, ds in h["frames"].items()
                if k != "step" and not k.endswith("_range")}
    assert rows["samples"] == 5000 * MAX_DATA_DIM * 4 < MAX_FRAME_ARRAY_BYTES * 0.7
    assert sum(rows.values()) < MAX_FRAME_BYTES * 0.4


def _soft_link(f: h5py.File) -> None:
    f["frames/alias"] = h5py.SoftLink("/frames/samples")


def _wide_scalars(f: h5py.File) -> None:
    del f["scalars"]
    f.create_dataset("scalars", (4, 2000), "f8").attrs["columns"] = [f"c{i}" for i in range(2000)]


def _unstored_scalars(f: h5py.File) -> None:
    # 10 million rows declared, none written: 534 MB of fill values from a few KB of file.
    del f["scalars"]
    f.create_dataset("scalars", (10_000_000, 7), "f8", chunks=(1024, 7)).attrs["columns"] = \
        COLUMNS
    f["scalars"][:4] = 1.0


def _big_chunks(f: h5py.File) -> None:
    n = f["frames/real"].shape[0]
    del f["frames/real"]
    f["frames"].create_dataset("real", (n, 1500, 2), "f2", maxshape=(None, 1500, 2),
                               chunks=(2000, 1500, 2))


def _variable_length(f: h5py.File) -> None:
    f["frames"].create_dataset("notes", (f["frames/step"].shape[0],), h5py.string_dtype())


def _frame_over_the_bound(f: h5py.File) -> None:
    # Arrays each under MAX_FRAME_ARRAY_BYTES, together over MAX_FRAME_BYTES (never written).
    n = f["frames/step"].shape[0]
    for i in range(3):
        f["frames"].create_dataset(f"extra{i}", (n, 6 * 2**20), "u1", chunks=(1, 6 * 2**20))


def _many_objects(f: h5py.File) -> None:
    for i in range(MAX_LINKS):
        f.create_group(f"g{i}")


DAMAGES = [
    (_soft_link, "/frames/alias is a soft link"),
    (_wide_scalars, "/scalars has rows of 16,000 bytes, more than the 8,192"),
    (_unstored_scalars, "/scalars declares 534.0 MB more than it stores"),
    (_big_chunks, "/frames/real is stored in chunks of 11.4 MB"),
    (_variable_length, "/frames/notes holds variable-length data"),
    (_frame_over_the_bound, "a frame holds 18.0 MB, more than the 16.0 MB a frame may hold"),
    (_many_objects, f"holds more than {MAX_LINKS:,} objects"),
]


@pytest.mark.parametrize(("damage", "problem"), DAMAGES,
                         ids=[damage.__name__.strip("_") for damage, _ in DAMAGES])
def test_reader_refuses_what_the_layout_does_not_allow(tmp_path, damage, problem):
    path = tmp_path / "x.h5"
    with Recorder(path, CONFIG, COLUMNS) as rec:
        rng = np.random.default_rng(0)
        for k in range(2):
            rec.append_frame(frame_2d(k, rng))
    with h5py.File(path, "r+") as f:
        damage(f)
    with pytest.raises(RecordingError) as err:
        RunReader(path)
    assert str(err.value).startswith("x.h5: ") and problem in str(err.value)
