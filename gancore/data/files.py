"""Load a user's data file (CSV, .npy or HDF5) into a checked (N, dim) float32 array.

Every rejection is a `DataFileError` (gancore.data.checks) whose one-line message starts with
the file's base name; the readers live in gancore.data.readers.
"""

from __future__ import annotations

import os
import stat
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
from gancore.data.readers import read_csv, read_hdf5, read_npy


def load_points(path: str | os.PathLike[str], dataset: str | None = None, *,
                max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS, max_dim: int = MAX_DIM,
                expected_dim: int | None = None, max_values: int = MAX_VALUES) -> np.ndarray:
    """Read and check a data file on disk; `dataset` only matters for HDF5 (default `/data`).

    Returns a C-contiguous float32 array of shape (N, dim); 1-D data becomes (N, 1).
    """
    path = os.fspath(path)
    name = base_name(path)
    limits = FileLimits(max_bytes, max_rows, max_dim, expected_dim, max_values)
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
    check_size(name, st.st_size, max_bytes)
    try:
        return _load(kind, name, path, dataset, limits)
    except OSError as e:
        raise DataFileError(f"{name}: cannot read the file ({e.strerror or e})") from None


class _LimitArgs(TypedDict, total=False):
    """The keyword limits of `load_points`, as `load_bytes` takes them."""

    max_bytes: int
    max_rows: int
    max_dim: int
    expected_dim: int | None
    max_values: int


def load_bytes(data: bytes, filename: str, dataset: str | None = None,
               **limits: Unpack[_LimitArgs]) -> np.ndarray:
    """Check a browser upload exactly like `load_points`, with the format taken from `filename`.

    Parsed from memory, so nothing the user sends is ever written to the server's disk.
    `limits` are the keyword limits of `load_points` (max_bytes, max_rows, ...).
    """
    name = upload_name(filename)
    lim = FileLimits(limits.pop("max_bytes", MAX_FILE_BYTES), limits.pop("max_rows", MAX_ROWS),
                  limits.pop("max_dim", MAX_DIM), limits.pop("expected_dim", None),
                  limits.pop("max_values", MAX_VALUES))
    if limits:
        raise TypeError(f"load_bytes: unknown limit(s) {', '.join(sorted(limits))}")
    kind = file_kind(name)
    check_size(name, len(data), lim.max_bytes)
    return _load(kind, name, bytes(data), dataset, lim)


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


def _load(kind: str, name: str, source: str | bytes, dataset: str | None,
          limits: FileLimits) -> np.ndarray:
    """Read with the format's reader, then run the checks every format shares."""
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
    check_values(name, arr, row_lines)
    return np.ascontiguousarray(arr, dtype=np.float32)
