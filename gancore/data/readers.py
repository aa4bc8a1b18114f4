"""The format readers of user data files (CSV, .npy, HDF5): each vets what it can from the
header first (gancore.data.checks), never unpickles, and never follows a link out of the file."""

from __future__ import annotations

import io
import math
import warnings
from array import array
from typing import Any, BinaryIO, NoReturn

import numpy as np

from gancore.data.checks import (
    MAX_ABS_VALUE,
    MAX_LISTED,
    DataFileError,
    FileLimits,
    check_dtype,
    check_shape,
    check_size,
    human,
    plural,
    too_large,
)


def read_csv(name: str, source: str | bytes,
              limits: FileLimits) -> tuple[np.ndarray, array | None]:
    """Read comma-separated numbers; also returns each row's line number when it was tracked."""
    if isinstance(source, str):
        with open(source, "rb") as fp:
            # Bounded read: the file may have grown since its size was checked.
            raw = fp.read(limits.max_bytes + 1)
        check_size(name, len(raw), limits.max_bytes)
    else:
        raw = source
    try:
        text = raw.decode("utf-8-sig")  # -sig: spreadsheet exports often start with a BOM
    except UnicodeDecodeError as e:
        raise DataFileError(f"{name}: not a UTF-8 text file (undecodable byte at offset "
                            f"{e.start})") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    arr = _csv_fast(lines, limits)
    if arr is not None:
        return arr, None
    return _csv_careful(name, lines, limits)


def _csv_fast(lines: list[str], limits: FileLimits) -> np.ndarray | None:
    """Parse a clean file with numpy's C parser (about 4x faster than ours).

    Returns None for anything unusual, so that `_csv_careful` gives the verdict and the message;
    numpy accepts a subset of what `_csv_careful` accepts, so both agree on every clean file.
    """
    first = next((i for i, line in enumerate(lines) if _content(line)), None)
    if first is None:
        return None
    fields = _content(lines[first]).split(",")
    if len(fields) > limits.max_dim:
        return None
    has_header = not any(_is_number(f) for f in fields)
    # Never parse past the row or value budget: one row more than allowed tells "too many".
    max_rows = min(limits.max_rows, limits.max_values // len(fields))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns about input without data rows
        try:
            arr = np.loadtxt(lines[first + has_header:], dtype=np.float64, delimiter=",",
                             comments="#", ndmin=2, max_rows=max_rows + 1)
        except ValueError:
            return None
    rows, cols = arr.shape
    if not 0 < rows <= max_rows or cols != len(fields):
        return None
    # Bad values go the careful way too, so their message can name the file line.
    if not np.isfinite(arr).all() or np.abs(arr).max() > MAX_ABS_VALUE:
        return None
    return arr


def _csv_careful(name: str, lines: list[str], limits: FileLimits) -> tuple[np.ndarray, array]:
    """Parse line by line, so that every error names its line and value."""
    values = array("d")
    row_lines = array("q")
    ncols = first_line = 0
    for lineno, line in enumerate(lines, 1):
        content = _content(line)
        if not content:
            continue
        fields = content.split(",")
        if not ncols:
            ncols, first_line = len(fields), lineno
            if ncols > limits.max_dim:
                raise DataFileError(f"{name}: has {ncols:,} columns, more than the limit of "
                                    f"{limits.max_dim:,}")
            if not any(_is_number(f) for f in fields):
                continue  # a header row of column names
        try:
            values.extend(map(float, fields))  # float() itself ignores surrounding blanks
        except ValueError:
            # Before the column count: for prose or a binary dump "non-numeric" is the real news.
            _raise_bad_field(name, lineno, fields)
        if len(fields) != ncols:
            raise DataFileError(f"{name}: line {lineno} has {plural(len(fields), 'column')}, "
                                f"expected {ncols} (as on line {first_line})")
        row_lines.append(lineno)
        if len(row_lines) > limits.max_rows:
            raise DataFileError(f"{name}: has more than {limits.max_rows:,} rows, the limit")
        if len(values) > limits.max_values:
            raise too_large(name, f"{len(values):,} values by line {lineno}", limits)
    if not row_lines:
        raise DataFileError(f"{name}: no data rows (only blank lines, comments or a header)")
    return np.frombuffer(values, dtype=np.float64).reshape(-1, ncols), row_lines


def _content(line: str) -> str:
    """A line without its `#` comment and surrounding blanks; empty for lines to skip."""
    return line.split("#", 1)[0].strip()


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _raise_bad_field(name: str, lineno: int, fields: list[str]) -> NoReturn:
    for col, field in enumerate(fields, 1):
        if _is_number(field):
            continue
        value = field.strip()
        if not value:
            raise DataFileError(f"{name}: empty value on line {lineno}, column {col}")
        shown = value if len(value) <= 40 else value[:37] + "..."
        # Space- or tab-separated numbers are the commonest way to end up here.
        hint = "; values must be separated by commas" if len(value.split()) > 1 else ""
        raise DataFileError(f"{name}: non-numeric value {shown!r} on line {lineno}, "
                            f"column {col}{hint}")
    # Unreachable: the caller's float() failed on one of these fields, and so does _is_number's.
    raise AssertionError(f"{name}: line {lineno} has no bad field")


def read_npy(name: str, source: str | bytes, limits: FileLimits) -> np.ndarray:
    """Vet the .npy header (dtype, shape, size) before loading, never unpickling anything."""
    with (open(source, "rb") if isinstance(source, str) else io.BytesIO(source)) as fp:
        shape, dtype = _npy_header(name, fp)
        check_dtype(name, dtype, "npy")
        check_shape(name, shape, limits)
        # A forged header could declare terabytes; numpy would allocate them before reading.
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        have = _remaining(fp)
        if need > have:
            raise DataFileError(f"{name}: truncated: the header declares {human(need)} of data "
                                f"but the file holds {human(have)}")
        fp.seek(0)
        try:
            return np.load(fp, allow_pickle=False)
        except ValueError as e:
            raise DataFileError(f"{name}: not a valid .npy file ({e})") from None


def _npy_header(name: str, fp: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
    except ValueError:
        raise DataFileError(f"{name}: not a .npy file (no NumPy header)") from None
    readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    if version not in readers:
        raise DataFileError(f"{name}: unsupported .npy format version {version[0]}.{version[1]}")
    try:
        shape, _fortran, dtype = readers[version](fp)
    except (ValueError, SyntaxError, TypeError) as e:
        raise DataFileError(f"{name}: not a valid .npy file (bad header: {e})") from None
    return shape, dtype


def _remaining(fp: BinaryIO) -> int:
    here = fp.tell()
    end = fp.seek(0, io.SEEK_END)
    fp.seek(here)
    return end - here


def read_hdf5(name: str, source: str | bytes, dataset: str, limits: FileLimits) -> np.ndarray:
    """Read one dataset, refusing anything that would make HDF5 read other files on the server."""
    import h5py  # imported here: only HDF5 users should pay for loading it

    key = dataset if dataset.startswith("/") else "/" + dataset
    try:
        f = h5py.File(source if isinstance(source, str) else io.BytesIO(source), "r")
    except OSError:
        raise DataFileError(f"{name}: not a valid HDF5 file") from None
    with f:
        try:
            ds = f.get(key)
        except (KeyError, OSError, ValueError):  # e.g. a dangling external link
            ds = None
        if not isinstance(ds, h5py.Dataset):
            found = _list_datasets(f, h5py.Dataset)
            if isinstance(ds, h5py.Group):
                raise DataFileError(f"{name}: '{key}' is a group, not a dataset (found: {found})")
            raise DataFileError(f"{name}: no dataset '{key}' (found: {found})")
        # External links, external raw storage and virtual datasets all point at other files;
        # for uploads that would let a user read files from the server's disk.
        if ds.file != f or ds.external is not None or ds.is_virtual:
            raise DataFileError(f"{name}: dataset '{key}' refers to data outside this file "
                                "(external link, external storage or virtual dataset)")
        check_dtype(name, ds.dtype, "hdf5")
        if ds.shape is None:
            raise DataFileError(f"{name}: dataset '{key}' is empty")
        check_shape(name, ds.shape, limits)
        # HDF5 inflates whole chunks, and a chunk may be far larger than the dataset it holds.
        chunk = math.prod(ds.chunks or ())
        if chunk > limits.max_values:
            raise too_large(name, f"dataset '{key}' is stored in chunks of {chunk:,} values",
                             limits)
        try:
            return ds[()]
        except (OSError, ValueError) as e:
            raise DataFileError(f"{name}: cannot read dataset '{key}' ({e})") from None


def _list_datasets(f: Any, dataset_type: type) -> str:
    """Name the datasets a file does have, so a wrong path is easy to fix."""
    names: list[str] = []
    f.visititems(lambda n, obj: names.append("/" + n) if isinstance(obj, dataset_type) else None)
    if not names:
        return "no datasets"
    more = f", ... and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return ", ".join(names[:MAX_LISTED]) + more
