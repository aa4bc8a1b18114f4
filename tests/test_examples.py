"""The examples in examples/: a researcher's own training scripts, watched with the lines marked
`# ganscope`. They run as they are (no dashboard here: the live path is tested in
tests/browser/test_watched_example.py), record a recording ganscope reads back, and show what
their docstrings promise."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from gancore.store.reader import open_recording

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MARK = "# ganscope"


def load(name: str, source: str | None = None) -> ModuleType:
    """An example as a module; `source` replaces its text (the unwatched version)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__file__ = str(path)
    sys.modules[name] = module  # dataclasses and torch.compile look modules up by name
    exec(compile(source if source is not None else path.read_text(), str(path), "exec"),
         module.__dict__)
    return module


def unwatched(name: str) -> str:
    """The example with every line marked `# ganscope` deleted: the script as it was."""
    lines = (EXAMPLES / f"{name}.py").read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.rstrip().endswith(MARK))


def recording_of(folder: Path):
    found = sorted((folder / "ganscope-runs").glob("*.h5"))
    assert len(found) == 1, found
    return open_recording(found[0])


@pytest.mark.parametrize("name", ["cgan_6d_bimodal", "gauss_100d_hdf5"])
def test_ex001_watching_takes_at_most_five_added_lines(name):
    marked = [line for line in (EXAMPLES / f"{name}.py").read_text().splitlines()
              if line.rstrip().endswith(MARK)]
    assert 1 <= len(marked) <= 5, marked
    assert "gancore" not in unwatched(name)


def test_ex002_the_6d_example_records_its_collapse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    example = load("cgan_6d_bimodal")
    example.train(3000, seed=0, dashboard=None)
    with recording_of(tmp_path) as rec:
        columns, rows = rec.scalars()
        assert rows[-1, columns.index("step")] == 3000
        assert np.isfinite(rows[:, columns.index("g_loss")]).all()
        last = rec.frame(len(rec) - 1)
        assert last.kind == "nd" and last.arrays["ks_stat"].shape == (6,)
        assert last.scalars["bimodal_dims_real"] == 2
        assert last.scalars["bimodal_dims_fake"] < 2
        events = rec.events()
    collapse = [e for e in events if e["kind"] == "mode_collapse"]
    assert collapse and "bimodal coordinates come out unimodal" in collapse[0]["message"], events


def test_ex003_the_100d_example_reads_a_pytables_file_and_records_its_measures(tmp_path,
                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    example = load("gauss_100d_hdf5")
    data = tmp_path / "gauss100.h5"
    example.write_pytables_like(data, n=4000)
    assert example.read_data(data).shape == (4000, 100)
    example.train(data, 300, seed=0, dashboard=None)
    with recording_of(tmp_path) as rec:
        columns, rows = rec.scalars()
        assert rows[-1, columns.index("step")] == 300
        last = rec.frame(len(rec) - 1)
        assert last.arrays["ks_stat"].shape == (100,)
        assert last.arrays["corr_fake"].shape == (100, 100)
        assert last.arrays["norm_fake"].size and last.arrays["norm_real"].size
        # the narrow noise's samples start far from the data: KS near its maximum
        assert last.scalars["ks_mean"] > 0.3
        assert last.scalars["variance_ratio"] < 0.25


def test_ex004_watching_leaves_the_example_s_weights_bit_identical(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    G1, D1 = load("cgan_6d_bimodal").train(200, seed=3, dashboard=None)
    G0, D0 = load("cgan_6d_bimodal", unwatched("cgan_6d_bimodal")).train(200, seed=3)
    for a, b in zip([*G1.parameters(), *D1.parameters()], [*G0.parameters(), *D0.parameters()],
                    strict=True):
        assert torch.equal(a, b)
