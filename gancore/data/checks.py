"""What a user's data file must satisfy, checked from its header before anything is read and on
its values after: the limits, the refusal (`DataFileError`) and the checks every format shares.
Every message is one line that starts with the file's base name."""

from __future__ import annotations

import os
from array import array
from typing import NamedTuple

import numpy as np

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_DIM = 256
# The decoded size, checked from the header before anything is read: rows and columns alone
# allow 256 million values, which a 2 MB gzip-compressed HDF5 file inflates to (2 GB as float64;
# it took the web process to 5-9 GB). 16 Mi values are 64 MB as float32, more than any 50 MB
# file of float32 holds (13 Mi) and above the 10-25 Mi a 50 MB CSV can hold at 2-5 characters a
# value; the generator and the page draw batches of thousands, never the whole file.
MAX_VALUES = 16 * 1024 * 1024
# Larger values blow up the discriminator's first layer and the plot ranges; users should rescale.
MAX_ABS_VALUE = 1e6
DEFAULT_DATASET = "/data"

FORMATS = {".csv": "csv", ".txt": "csv", ".npy": "npy", ".h5": "hdf5", ".hdf5": "hdf5"}
ACCEPTED = ", ".join(FORMATS)
HDF5_SUFFIXES = (".h5", ".hdf5")
MAX_LISTED = 10  # datasets named in a "no dataset" message before it is cut short


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


class FileLimits(NamedTuple):
    max_bytes: int
    max_rows: int
    max_dim: int
    expected_dim: int | None
    max_values: int = MAX_VALUES


def base_name(path: str) -> str:
    return os.path.basename(path.rstrip("/\\")) or path


def file_kind(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext not in FORMATS:
        what = f"'{ext}'" if ext else "(no extension)"
        raise DataFileError(f"{name}: unknown file type {what}; accepted: {ACCEPTED}")
    return FORMATS[ext]


def check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataFileError(f"{name}: file is {human(size)}, larger than the "
                            f"{human(max_bytes)} limit")
    if size == 0:
        raise DataFileError(f"{name}: file is empty")


def human(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MB"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def check_dtype(name: str, dtype: np.dtype, source: str) -> None:
    """Refuse anything that is not plain real numbers before its data is read."""
    kind = dtype.kind
    if kind in "biuf":
        return
    if dtype.hasobject or kind == "O":
        if source == "npy":
            raise DataFileError(f"{name}: contains pickled Python objects; only plain numeric "
                                "arrays are accepted")
        raise DataFileError(f"{name}: holds variable-length or object data; only plain numeric "
                            "arrays are accepted")
    if dtype.names:
        raise DataFileError(f"{name}: has a compound dtype (fields {', '.join(dtype.names)}); "
                            "only plain numeric arrays are accepted")
    if kind in "SUa":
        raise DataFileError(f"{name}: holds text ({dtype}), not numbers")
    if kind == "c":
        raise DataFileError(f"{name}: holds complex numbers; only real values are accepted")
    if kind in "Mm":
        raise DataFileError(f"{name}: holds dates or times ({dtype}), not numbers")
    raise DataFileError(f"{name}: has an unsupported dtype ({dtype}); only plain numeric arrays "
                        "are accepted")


def check_shape(name: str, shape: tuple[int, ...], limits: FileLimits) -> None:
    """Check the shape from the header alone, so a bad file is refused before it is loaded."""
    if len(shape) == 0:
        raise DataFileError(f"{name}: holds a single value, not rows of points")
    if len(shape) > 2:
        dims = "x".join(map(str, shape))
        raise DataFileError(f"{name}: has {len(shape)} dimensions (shape {dims}); expected "
                            "rows x columns")
    rows, cols = shape[0], (shape[1] if len(shape) == 2 else 1)
    if rows == 0:
        raise DataFileError(f"{name}: has no rows")
    if cols == 0:
        raise DataFileError(f"{name}: has zero columns")
    if cols > limits.max_dim:
        raise DataFileError(f"{name}: has {cols:,} columns, more than the limit of "
                            f"{limits.max_dim:,}")
    if rows > limits.max_rows:
        raise DataFileError(f"{name}: has {rows:,} rows, more than the limit of "
                            f"{limits.max_rows:,}")
    if rows * cols > limits.max_values:
        raise too_large(name, f"{rows:,} rows x {cols:,} columns = {rows * cols:,} values",
                         limits)
    if rows < 2:
        raise DataFileError(f"{name}: has only 1 row; at least 2 are needed to train on")
    if limits.expected_dim is not None and cols != limits.expected_dim:
        raise DataFileError(f"{name}: has {plural(cols, 'column')}, "
                            f"expected {limits.expected_dim}")


def too_large(name: str, what: str, limits: FileLimits) -> DataFileError:
    """The one message for a file past the MAX_VALUES budget (see there for why)."""
    return DataFileError(f"{name}: too large when decompressed: {what}, more than the limit of "
                         f"{limits.max_values:,} values ({human(4 * limits.max_values)} as "
                         "float32)")


def check_values(name: str, arr: np.ndarray, row_lines: array | None) -> None:
    """Refuse NaN, inf and huge values, which would turn the training losses into NaN."""

    def where(mask: np.ndarray) -> str:
        row = int(mask.any(axis=1).argmax())
        # CSV users think in file lines, array users in row indices; give both when we can.
        line = f" (line {row_lines[row]})" if row_lines is not None else ""
        return f"row {row}{line}"

    if arr.dtype.kind == "f":
        problems = []
        nan = np.isnan(arr)
        if nan.any():
            problems.append(f"{plural(int(nan.sum()), 'NaN value')}, first in {where(nan)}")
        inf = np.isinf(arr)
        if inf.any():
            problems.append(f"{plural(int(inf.sum()), 'infinite value')}, first in {where(inf)}")
        if problems:
            raise DataFileError(f"{name}: " + "; ".join(problems))
        big = np.abs(arr) > MAX_ABS_VALUE
    else:
        # No abs() on integers: abs(int64 min) overflows back to a negative number.
        big = (arr > MAX_ABS_VALUE) | (arr < -MAX_ABS_VALUE)
    if big.any():
        row = int(big.any(axis=1).argmax())
        value = arr[row, int(big[row].argmax())]
        raise DataFileError(f"{name}: {plural(int(big.sum()), 'value')} larger than "
                            f"{MAX_ABS_VALUE:g} in magnitude, first in {where(big)} ({value:g}); "
                            "rescale the data")
