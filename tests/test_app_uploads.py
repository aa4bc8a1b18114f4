"""Data uploads parsed in a child process: the array arrives at `dest`, a refusal comes back as
its one-line message, time and memory are limited, and a failure leaves nothing on disk."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from app.uploads import parse_upload
from gancore.data.files import DataFileError, load_bytes
from tests.servers import ROOT

LIMIT = 50 * 2**20


@pytest.fixture
def uploads(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


def test_upload_is_parsed_into_dest_and_nothing_else(uploads):
    parsed = parse_upload(b"x,y\n0,1\n2.5,-3\n4,5\n", "C:\\data\\pts.csv", uploads / "a.npy",
                          max_bytes=LIMIT)
    assert parsed == (3, 2, 0)  # rows, data columns, no condition columns
    arr = np.load(uploads / "a.npy", allow_pickle=False)
    assert arr.dtype == np.float32 and arr.tolist() == [[0, 1], [2.5, -3], [4, 5]]
    assert [p.name for p in uploads.iterdir()] == ["a.npy"]


def test_refusal_is_the_readers_one_line_message(uploads):
    data = b"1,2\nnan,4\n5,6\n"
    with pytest.raises(DataFileError) as err:
        parse_upload(data, "/home/me/n.csv", uploads / "a.npy", max_bytes=LIMIT)
    with pytest.raises(DataFileError) as direct:
        load_bytes(data, "n.csv")
    assert str(err.value) == str(direct.value)
    assert list(uploads.iterdir()) == []
    with pytest.raises(DataFileError, match=r"^big\.csv: file is .* larger than the 4 bytes"):
        parse_upload(data, "big.csv", uploads / "a.npy", max_bytes=4)


@pytest.fixture(scope="module")
def wide_csv() -> bytes:
    """32 MB of CSV, 65,536 rows x 256 columns: legal, and 0.46 GB of address space to parse."""
    return (",".join(["0"] * 256) + "\n").encode() * 65_536


def test_a_reader_past_its_time_is_stopped(uploads, wide_csv):
    with pytest.raises(DataFileError, match=r"^w\.csv: took longer than 0\.05 s to read$"):
        parse_upload(wide_csv, "w.csv", uploads / "a.npy", max_bytes=LIMIT, timeout_s=0.05)
    assert list(uploads.iterdir()) == []


def test_a_reader_past_its_memory_is_stopped(uploads, wide_csv):
    with pytest.raises(DataFileError, match=r"^w\.csv: ran out of its memory budget \(200 MB\)"):
        parse_upload(wide_csv, "w.csv", uploads / "a.npy", max_bytes=LIMIT,
                     memory_bytes=200 * 2**20)
    assert list(uploads.iterdir()) == []


def test_the_child_loads_no_web_or_tensor_stack():
    """What the child imports: a torch import alone would take most of its memory budget."""
    code = ("import sys, app.limited, app.uploads, gancore.data.files, h5py, numpy; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'dash', 'flask'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"
