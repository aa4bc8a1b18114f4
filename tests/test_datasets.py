"""Data files: good ones load as (N, dim) float32, bad ones fail with a one-line message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from gancore.data.files import DataFileError, load_bytes, load_points, parse_path_spec

POINTS = np.array([[0.0, 1.0], [2.5, -3.0], [4.0, 5.0]])


def _check_points(arr: np.ndarray, expected: np.ndarray = POINTS) -> None:
    assert arr.dtype == np.float32
    assert arr.flags.c_contiguous
    np.testing.assert_allclose(arr, expected)


# --- writers for the files under test ------------------------------------------------------------


def text(content: str) -> Callable[[Path], None]:
    return lambda p: p.write_text(content)


def npy(arr: np.ndarray, allow_pickle: bool = False) -> Callable[[Path], None]:
    return lambda p: np.save(p, arr, allow_pickle=allow_pickle)


def h5(**datasets: np.ndarray) -> Callable[[Path], None]:
    """Write datasets to an HDF5 file; "grp__x" stands for "/grp/x" (keywords cannot hold "/")."""
    def write(p: Path) -> None:
        with h5py.File(p, "w") as f:
            for key, arr in datasets.items():
                f[key.replace("__", "/")] = arr
    return write


def h5_external_storage(p: Path) -> None:
    # Raw data kept in another file: an upload must not be able to point HDF5 at server files.
    raw = p.with_name("raw.bin")
    raw.write_bytes(np.zeros(6).tobytes())
    with h5py.File(p, "w") as f:
        f.create_dataset("data", shape=(3, 2), dtype="f8", external=[(str(raw), 0, 48)])


def h5_big_chunks(p: Path) -> None:
    # 20 values in chunks of 2,000: HDF5 inflates a whole chunk to read any part of it.
    with h5py.File(p, "w") as f:
        f.create_dataset("data", data=np.ones((10, 2)), maxshape=(None, 2), chunks=(1000, 2),
                         compression="gzip")


# --- good files ----------------------------------------------------------------------------------


def test_csv_without_header(tmp_path: Path) -> None:
    path = tmp_path / "pts.csv"
    path.write_text("0,1\n2.5,-3\n4,5\n")
    _check_points(load_points(path))


def test_csv_with_header_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "pts.txt"
    path.write_text("# exported points\nx, y\r\n0, 1\n\n2.5,-3\n# middle\n4,5")
    _check_points(load_points(path, expected_dim=2))


def test_npy_2d_and_1d(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", POINTS.astype(np.float64))
    _check_points(load_points(tmp_path / "a.npy"))
    np.save(tmp_path / "b.npy", np.arange(4, dtype=np.int16))
    _check_points(load_points(tmp_path / "b.npy"), np.arange(4.0).reshape(4, 1))


def test_npy_fortran_order_comes_back_c_contiguous(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.asfortranarray(POINTS))
    _check_points(load_points(tmp_path / "f.npy"))


def test_h5_default_dataset(tmp_path: Path) -> None:
    h5(data=POINTS)(tmp_path / "pts.h5")
    _check_points(load_points(tmp_path / "pts.h5"))


def test_h5_custom_dataset_from_path_spec(tmp_path: Path) -> None:
    h5(grp__pts=POINTS, other=np.zeros((2, 2)))(tmp_path / "pts.hdf5")
    path, dataset = parse_path_spec(f"{tmp_path}/pts.hdf5:/grp/pts")
    assert (path, dataset) == (f"{tmp_path}/pts.hdf5", "/grp/pts")
    _check_points(load_points(path, dataset))


def test_load_bytes_csv_upload() -> None:
    arr = load_bytes(b"x,y\n0,1\n2.5,-3\n4,5\n", r"C:\Users\me\pts.CSV")
    _check_points(arr)


def test_load_bytes_npy_and_h5_uploads(tmp_path: Path) -> None:
    npy(POINTS)(tmp_path / "a.npy")
    _check_points(load_bytes((tmp_path / "a.npy").read_bytes(), "a.npy"))
    h5(pts=POINTS)(tmp_path / "a.h5")
    _check_points(load_bytes((tmp_path / "a.h5").read_bytes(), "a.h5", dataset="pts"))


def test_load_bytes_applies_limits() -> None:
    with pytest.raises(DataFileError, match=r"^big\.csv: .*larger than"):
        load_bytes(b"1,2\n3,4\n", "big.csv", max_bytes=4)
    with pytest.raises(DataFileError, match="expected 3"):
        load_bytes(b"1,2\n3,4\n", "d.csv", expected_dim=3)


@pytest.mark.parametrize("content", [
    "1,2\n3,4\n", "x,y\n1,2\n3,4", "# c\n\nx , y\n1, 2 # note\n 3 ,4 \n", "a\n1\n2\n",
    "1,2\r\n3,4\r\n", ",x,y\n0,1,2\n1,3,4\n", "1,2\n   \n3,4\n", "1_0,2\n3,4\n",
])
def test_csv_fast_path_agrees_with_careful_parser(content: str) -> None:
    # The C-parser shortcut may decline a file, but must never read one differently.
    from gancore.data import readers
    from gancore.data.checks import FileLimits

    limits = FileLimits(1 << 20, 100, 8, None)
    lines = content.replace("\r\n", "\n").split("\n")
    careful, _ = readers._csv_careful("f.csv", lines, limits)
    fast = readers._csv_fast(lines, limits)
    assert fast is None or np.array_equal(fast, careful)


@pytest.mark.parametrize(("spec", "expected"), [
    ("x.csv", ("x.csv", None)),
    ("file.h5:/grp/data", ("file.h5", "/grp/data")),
    ("file.HDF5:data", ("file.HDF5", "data")),
    ("dir/file.npy:/x", ("dir/file.npy", "/x")),
    ("file.h5:", ("file.h5", None)),
    ("weird:name.csv", ("weird:name.csv", None)),
    (r"C:\data\x.csv", (r"C:\data\x.csv", None)),
    ("C:/data/x.csv", ("C:/data/x.csv", None)),
    ("C:/data/x.h5:/pts", ("C:/data/x.h5", "/pts")),
])
def test_parse_path_spec(spec: str, expected: tuple[str, str | None]) -> None:
    assert parse_path_spec(spec) == expected


# --- the malformed corpus ------------------------------------------------------------------------

CORPUS = [
    # id, file name, writer (None: file not created), load_points limits, keyword in the message
    ("empty", "e.csv", text(""), {}, "empty"),
    ("only-header", "h.csv", text("x,y\n# nothing else\n"), {}, "no data rows"),
    ("ragged", "r.csv", text("1,2\n3,4\n5\n"), {}, "line 3 has 1 column, expected 2"),
    ("non-numeric", "t.txt", text("Dear reader,\nthis is not data.\n"), {}, "non-numeric"),
    ("bad-value", "v.csv", text("1,2\n3,abc\n"), {}, "'abc' on line 2, column 2"),
    ("empty-value", "ev.csv", text("1,2\n3,\n"), {}, "empty value on line 2"),
    ("space-separated", "s.txt", text("1 2\n3 4\n"), {}, "separated by commas"),
    ("binary-as-csv", "b.csv", lambda p: p.write_bytes(b"\xff\xfe\x00\x01" * 8), {}, "UTF-8"),
    ("nan", "n.csv", text("1,2\nnan,4\n5,nan\n"), {}, "2 NaN values, first in row 1 (line 2)"),
    ("inf", "i.npy", npy(np.array([[1.0, 2.0], [3.0, 4.0], [np.inf, 0.0]])), {},
     "1 infinite value, first in row 2"),
    ("huge", "g.csv", text("1,2\n3,2e7\n"), {}, "larger than 1e+06"),
    ("wrong-dim", "w.csv", text("1,2,3\n4,5,6\n"), {"expected_dim": 2},
     "has 3 columns, expected 2"),
    ("pickled", "p.npy", npy(np.array([1, "a", None], dtype=object), allow_pickle=True), {},
     "pickled"),
    ("strings-npy", "u.npy", npy(np.array([["a", "b"], ["c", "d"]])), {}, "text"),
    ("complex", "c.npy", npy(np.ones((3, 2), dtype=complex)), {}, "complex"),
    ("not-npy", "fake.npy", text("1,2\n3,4\n"), {}, "not a .npy file"),
    ("truncated-npy", "tr.npy", lambda p: p.write_bytes(_npy_bytes(p)[:-16]), {}, "truncated"),
    ("ndim3", "d3.npy", npy(np.zeros((2, 3, 4))), {}, "3 dimensions"),
    ("zero-columns", "z.npy", npy(np.zeros((3, 0))), {}, "zero columns"),
    ("no-rows", "nr.npy", npy(np.zeros((0, 2))), {}, "no rows"),
    ("one-row", "o.csv", text("1,2\n"), {}, "at least 2"),
    ("too-many-columns", "m.npy", npy(np.zeros((4, 5))), {"max_dim": 4},
     "5 columns, more than the limit of 4"),
    ("too-many-columns-csv", "m.csv", text("1,2,3\n"), {"max_dim": 2}, "more than the limit"),
    ("too-many-rows", "tm.npy", npy(np.zeros((5, 2))), {"max_rows": 4}, "5 rows"),
    ("too-many-rows-csv", "tm.csv", text("1\n2\n3\n"), {"max_rows": 2}, "more than 2 rows"),
    ("h5-no-dataset", "x.h5", h5(foo=POINTS, grp__bar=POINTS), {},
     "no dataset '/data' (found: /foo, /grp/bar)"),
    ("h5-group", "gr.h5", h5(data__inner=POINTS), {}, "is a group"),
    ("h5-compound", "cp.h5", h5(data=np.zeros(3, dtype=[("a", "f4"), ("b", "i4")])), {},
     "compound"),
    ("h5-external-storage", "ext.h5", h5_external_storage, {}, "outside this file"),
    ("too-many-values-npy", "tv.npy", npy(np.zeros((4, 3))), {"max_values": 11},
     "too large when decompressed: 4 rows x 3 columns = 12 values, more than the limit of 11"),
    ("too-many-values-csv", "tv.csv", text("1,2,3\n" * 4), {"max_values": 11},
     "too large when decompressed: 12 values by line 4"),
    ("too-many-values-h5", "tv.h5", h5(data=np.zeros((4, 3))), {"max_values": 11},
     "too large when decompressed: 4 rows x 3 columns"),
    ("h5-big-chunks", "bc.h5", h5_big_chunks, {"max_values": 1000},
     "dataset '/data' is stored in chunks of 2,000 values"),
    ("not-h5", "n.h5", text("1,2\n3,4\n"), {}, "not a valid HDF5 file"),
    ("oversize", "big.csv", text("1,2\n" * 10), {"max_bytes": 16}, "larger than the 16 bytes"),
    ("unknown-extension", "d.json", text("[[1, 2]]"), {}, "accepted: .csv"),
    ("missing", "gone.csv", None, {}, "not found"),
]


def _npy_bytes(p: Path) -> bytes:
    np.save(p, POINTS)
    return p.read_bytes()


@pytest.mark.parametrize(("filename", "write", "limits", "keyword"),
                         [case[1:] for case in CORPUS], ids=[case[0] for case in CORPUS])
def test_malformed_file_is_refused(tmp_path: Path, filename: str,
                                   write: Callable[[Path], None] | None, limits: dict,
                                   keyword: str) -> None:
    path = tmp_path / filename
    if write is not None:
        write(path)
    with pytest.raises(DataFileError) as err:
        load_points(path, **limits)
    message = str(err.value)
    assert message.startswith(f"{filename}: ")
    assert keyword in message
    assert "\n" not in message


def test_hdf5_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    """1,000,000 x 256 float64 that was never written: a few KB of file, 2 GB once read (every
    value the fill value). The shape alone refuses it, so nothing is read."""
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", (1_000_000, 256), "f8", chunks=(4096, 256))
    assert path.stat().st_size < 100_000
    with pytest.raises(DataFileError, match=r"^bomb\.h5: too large when decompressed: "
                       r"1,000,000 rows x 256 columns = 256,000,000 values, more than the limit "
                       r"of 16,777,216 values \(64\.0 MB as float32\)$"):
        load_bytes(path.read_bytes(), "bomb.h5")
