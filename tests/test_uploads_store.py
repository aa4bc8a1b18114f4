"""The upload store's owners live beside the files, so every web process serving a class (they
share the runs folder) knows whose upload a config names; the sweep keeps what runs use."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest

from app.uploads_store import KEEP_UNUSED_S, PER_SESSION, DataPathRefused, UploadStore
from gancore.config import RunConfig


def _npy(rows: int = 200) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(0).normal(size=(rows, 2)).astype(np.float32))
    return buf.getvalue()


def _uses(name: str) -> RunConfig:
    cfg = RunConfig().model_dump()
    cfg["target"].update(name="file", data_path=name, dim=2)
    return RunConfig.model_validate(cfg)


def test_upl001_an_upload_through_one_process_is_its_sessions_in_another(tmp_path):
    one, two = UploadStore(tmp_path, 10**7), UploadStore(tmp_path, 10**7)  # two web processes
    name, rows, cols, cond_cols = one.save(_npy(), "points.npy", "session-a")
    assert (rows, cols, cond_cols) == (200, 2, 0)
    two.check_config("session-a", _uses(name))  # no refusal
    with pytest.raises(DataPathRefused):
        two.check_config("session-b", _uses(name))
    assert "session-a" not in (tmp_path / ".owners" / name).read_text()  # a hash, not the id


def test_upl002_the_sweep_keeps_uploads_in_use_and_a_sessions_newest(tmp_path):
    store = UploadStore(tmp_path, 10**7)
    names = [store.save(_npy(), f"p{i}.npy", "session-a")[0] for i in range(PER_SESSION + 2)]
    for i, name in enumerate(names):  # oldest first
        os.utime(tmp_path / name, (time.time() - 100 + i, time.time() - 100 + i))
    store.sweep(in_use={names[0]})
    left = sorted(p.name for p in tmp_path.glob("upload-*.npy"))
    assert left == sorted([names[0], *names[-PER_SESSION:]])
    old = time.time() - KEEP_UNUSED_S - 5
    for name in left:
        os.utime(tmp_path / name, (old, old))
    UploadStore(tmp_path, 10**7).sweep(in_use={names[0]})  # another process sweeps
    assert [p.name for p in tmp_path.glob("upload-*.npy")] == [names[0]]
    assert not (tmp_path / ".owners" / names[-1]).exists()
