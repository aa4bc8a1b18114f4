"""Load a user's data file (CSV, .npy or HDF5) into a checked (N, dim) float32 array, and, for a
conditional run, each row's condition beside it (gancore.data.conditions says where it is kept).

Every rejection is a `DataFileError` (gancore.data.checks) whose one-line message starts with
the file's base name; the readers live in gancore.data.readers.
"""

from __future__ import annotations

import os
import stat
from array import array
from typing import TypedDict, Unpack

import numpy as np

from gancore.data.checks import (
    DEFAULT_DATASET,
    HDF5_SUFFIXES,
    MAX_DIM,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_VALUES,
    DataFileError,
    FileLimits,
    base_name,
    check_shape,
    check_size,
    check_values,
    file_kind,
)
from gancore.data.conditions import condition_columns, is_dataset_spec
from gancore.data.readers import read_csv, read_hdf5, read_npy


class _LimitArgs(TypedDict, total=False):
    """The keyword limits of `load_points`, as `load_bytes` takes them."""

    max_bytes: int
    max_rows: int
    max_dim: int
    expected_dim: int | None
    max_values: int


def load_points(path: str | os.PathLike[str], dataset: str | None = None, *,
                max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS, max_dim: int = MAX_DIM,
                expected_dim: int | None = None, max_values: int = MAX_VALUES) -> np.ndarray:
    """Read and check a data file on disk; `dataset` only matters for HDF5 (default `/data`).

    Returns a C-contiguous float32 array of shape (N, dim); 1-D data becomes (N, 1).
    """
    limits = FileLimits(max_bytes, max_rows, max_dim, expected_dim, max_values)
    return _from_disk(path, dataset, None, limits)[0]


def load_conditional(path: str | os.PathLike[str], dataset: str | None, cond: str | None,
                     **limits: Unpack[_LimitArgs]) -> tuple[np.ndarray, np.ndarray | None]:
    """Like `load_points`, with each row's condition: (x (N, dim), c (N, cond_dim)), rows
    matched. `cond` names condition columns ("6:10") or an HDF5 dataset ("/cond"); the data is
    the other columns, or `dataset`. Without `cond`, c is None. `expected_dim` counts x only."""
    return _from_disk(path, dataset, cond, _limits(limits))


def _from_disk(path: str | os.PathLike[str], dataset: str | None, cond: str | None,
               limits: FileLimits) -> tuple[np.ndarray, np.ndarray | None]:
    path = os.fspath(path)
    name = base_name(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataFileError(f"{name}: file not found ({path})") from None
    except OSError as e:
        raise DataFileError(f"{name}: cannot access the file ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataFileError(f"{name}: not a regular file")
    kind = file_kind(name)
    # Checked before a single byte is read, so an oversized file costs nothing.
    check_size(name, st.st_size, limits.max_bytes)
    try:
        return _load(kind, name, path, dataset, cond, limits)
    except OSError as e:
        raise DataFileError(f"{name}: cannot read the file ({e.strerror or e})") from None


def load_bytes(data: bytes, filename: str, dataset: str | None = None,
               **limits: Unpack[_LimitArgs]) -> np.ndarray:
    """Check a browser upload exactly like `load_points`, with the format taken from `filename`.

    Parsed from memory, so nothing the user sends is ever written to the server's disk.
    `limits` are the keyword limits of `load_points` (max_bytes, max_rows, ...).
    """
    return load_conditional_bytes(data, filename, dataset, None, **limits)[0]


def load_conditional_bytes(data: bytes, filename: str, dataset: str | None, cond: str | None,
                           **limits: Unpack[_LimitArgs]) -> tuple[np.ndarray, np.ndarray | None]:
    """`load_conditional` for a browser upload (see `load_bytes`)."""
    name = upload_name(filename)
    lim = _limits(limits)
    kind = file_kind(name)
    check_size(name, len(data), lim.max_bytes)
    return _load(kind, name, bytes(data), dataset, cond, lim)


def _limits(given: _LimitArgs) -> FileLimits:
    """The keyword limits, defaults filled in; TypeError for a misspelt one."""
    extra = set(given) - set(_LimitArgs.__annotations__)
    if extra:
        raise TypeError(f"unknown limit(s) {', '.join(sorted(extra))}")
    return FileLimits(given.get("max_bytes", MAX_FILE_BYTES), given.get("max_rows", MAX_ROWS),
                      given.get("max_dim", MAX_DIM), given.get("expected_dim"),
                      given.get("max_values", MAX_VALUES))


def upload_name(filename: str) -> str:
    """The name an upload's messages use: browsers may send a full client-side path, and only
    its last part means anything here."""
    return filename.replace("\\", "/").rsplit("/", 1)[-1] or "upload"


def parse_path_spec(spec: str) -> tuple[str, str | None]:
    """Split "file.h5:/grp/data" into ("file.h5", "/grp/data"); "x.csv" gives ("x.csv", None).

    Only the last ':' is considered, and only when what follows starts with '/' or what precedes
    ends in .h5/.hdf5; so "C:\\data\\x.csv" and "C:/data/x.csv" (Windows drives) stay whole.
    A dataset name containing ':' therefore cannot be given this way.
    """
    file, sep, dataset = spec.rpartition(":")
    if not sep:
        return spec, None
    is_drive = len(file) == 1 and file.isalpha()
    if not is_drive and (dataset.startswith("/") or file.lower().endswith(HDF5_SUFFIXES)):
        return file, dataset or None
    return spec, None


def _load(kind: str, name: str, source: str | bytes, dataset: str | None, cond: str | None,
          limits: FileLimits) -> tuple[np.ndarray, np.ndarray | None]:
    """Read with the format's reader, split off the condition, then run the shared checks."""
    cond = (cond or "").strip() or None  # a blank form field means no condition
    if cond is not None and is_dataset_spec(cond) and kind == "hdf5":
        return _load_hdf5_pair(name, source, dataset or DEFAULT_DATASET, cond, limits)
    whole = limits._replace(expected_dim=None) if cond is not None else limits
    arr, row_lines = _read(kind, name, source, dataset, whole)
    if cond is None:
        check_values(name, arr, row_lines)
        return _float32(arr), None
    cols = condition_columns(name, cond, arr.shape[1])
    taken = set(cols)
    x = arr[:, [i for i in range(arr.shape[1]) if i not in taken]]
    check_shape(name, x.shape, limits)  # the data columns against expected_dim
    check_values(name, x, row_lines)
    check_values(f"{name} (condition)", arr[:, cols], row_lines)
    return _float32(x), _float32(arr[:, cols])


def _load_hdf5_pair(name: str, source: str | bytes, dataset: str, key: str,
                    limits: FileLimits) -> tuple[np.ndarray, np.ndarray]:
    """The data and the condition (`key`, a dataset path) from two datasets of one HDF5 file,
    one row each per sample."""
    if key.rstrip("/") == ("/" + dataset.lstrip("/")).rstrip("/"):
        raise DataFileError(f"{name}: the condition dataset '{key}' is the data dataset itself; "
                            "name a dataset of its own")
    x, _ = _read("hdf5", name, source, dataset, limits)
    check_values(name, x, None)
    # The condition shares the file's decoded-size budget with the data.
    rest = limits._replace(expected_dim=None, max_values=max(limits.max_values - x.size, 0))
    c, _ = _read("hdf5", name, source, key, rest)
    if c.shape[0] != x.shape[0]:
        raise DataFileError(f"{name}: the condition '{key}' has {c.shape[0]:,} rows but the data "
                            f"'{dataset}' has {x.shape[0]:,}; each sample needs its condition row")
    check_values(f"{name} (condition {key})", c, None)
    return _float32(x), _float32(c)


def _read(kind: str, name: str, source: str | bytes, dataset: str | None,
          limits: FileLimits) -> tuple[np.ndarray, array | None]:
    """The format reader's (N, cols) array, shape checked, and each row's CSV line if known."""
    row_lines = None
    if kind == "csv":
        arr, row_lines = read_csv(name, source, limits)
    elif kind == "npy":
        arr = read_npy(name, source, limits)
    else:
        arr = read_hdf5(name, source, dataset or DEFAULT_DATASET, limits)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    check_shape(name, arr.shape, limits)
    return arr, row_lines


def _float32(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr, dtype=np.float32)
