"""Load a user's data file (CSV, .npy or HDF5) into a checked (N, dim) float32 array.

Every rejection is a `DataFileError` whose one-line message starts with the file's base name.
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from array import array
from typing import Any, BinaryIO, NamedTuple, NoReturn

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

_FORMATS = {".csv": "csv", ".txt": "csv", ".npy": "npy", ".h5": "hdf5", ".hdf5": "hdf5"}
_ACCEPTED = ", ".join(_FORMATS)
_HDF5_SUFFIXES = (".h5", ".hdf5")
_MAX_LISTED = 10  # datasets named in a "no dataset" message before it is cut short


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


class _Limits(NamedTuple):
    max_bytes: int
    max_rows: int
    max_dim: int
    expected_dim: int | None
    max_values: int = MAX_VALUES


def load_points(path: str | os.PathLike[str], dataset: str | None = None, *,
                max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS, max_dim: int = MAX_DIM,
                expected_dim: int | None = None, max_values: int = MAX_VALUES) -> np.ndarray:
    """Read and check a data file on disk; `dataset` only matters for HDF5 (default `/data`).

    Returns a C-contiguous float32 array of shape (N, dim); 1-D data becomes (N, 1).
    """
    path = os.fspath(path)
    name = _base_name(path)
    limits = _Limits(max_bytes, max_rows, max_dim, expected_dim, max_values)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataFileError(f"{name}: file not found ({path})") from None
    except OSError as e:
        raise DataFileError(f"{name}: cannot access the file ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataFileError(f"{name}: not a regular file")
    kind = _kind(name)
    # Checked before a single byte is read, so an oversized file costs nothing.
    _check_size(name, st.st_size, max_bytes)
    try:
        return _load(kind, name, path, dataset, limits)
    except OSError as e:
        raise DataFileError(f"{name}: cannot read the file ({e.strerror or e})") from None


def load_bytes(data: bytes, filename: str, dataset: str | None = None,
               **limits: int | None) -> np.ndarray:
    """Check a browser upload exactly like `load_points`, with the format taken from `filename`.

    Parsed from memory, so nothing the user sends is ever written to the server's disk.
    `limits` are the keyword limits of `load_points` (max_bytes, max_rows, ...).
    """
    name = upload_name(filename)
    lim = _Limits(limits.pop("max_bytes", MAX_FILE_BYTES), limits.pop("max_rows", MAX_ROWS),
                  limits.pop("max_dim", MAX_DIM), limits.pop("expected_dim", None),
                  limits.pop("max_values", MAX_VALUES))
    if limits:
        raise TypeError(f"load_bytes: unknown limit(s) {', '.join(sorted(limits))}")
    kind = _kind(name)
    _check_size(name, len(data), lim.max_bytes)
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
    if not is_drive and (dataset.startswith("/") or file.lower().endswith(_HDF5_SUFFIXES)):
        return file, dataset or None
    return spec, None


# --- shared checks -------------------------------------------------------------------------------


def _base_name(path: str) -> str:
    return os.path.basename(path.rstrip("/\\")) or path


def _kind(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    if ext not in _FORMATS:
        what = f"'{ext}'" if ext else "(no extension)"
        raise DataFileError(f"{name}: unknown file type {what}; accepted: {_ACCEPTED}")
    return _FORMATS[ext]


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise DataFileError(f"{name}: file is {_human(size)}, larger than the "
                            f"{_human(max_bytes)} limit")
    if size == 0:
        raise DataFileError(f"{name}: file is empty")


def _human(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MB"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _check_dtype(name: str, dtype: np.dtype, source: str) -> None:
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


def _check_shape(name: str, shape: tuple[int, ...], limits: _Limits) -> None:
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
        raise _too_large(name, f"{rows:,} rows x {cols:,} columns = {rows * cols:,} values",
                         limits)
    if rows < 2:
        raise DataFileError(f"{name}: has only 1 row; at least 2 are needed to train on")
    if limits.expected_dim is not None and cols != limits.expected_dim:
        raise DataFileError(f"{name}: has {_plural(cols, 'column')}, "
                            f"expected {limits.expected_dim}")


def _too_large(name: str, what: str, limits: _Limits) -> DataFileError:
    """The one message for a file past the MAX_VALUES budget (see there for why)."""
    return DataFileError(f"{name}: too large when decompressed: {what}, more than the limit of "
                         f"{limits.max_values:,} values ({_human(4 * limits.max_values)} as "
                         "float32)")


def _check_values(name: str, arr: np.ndarray, row_lines: array | None) -> None:
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
            problems.append(f"{_plural(int(nan.sum()), 'NaN value')}, first in {where(nan)}")
        inf = np.isinf(arr)
        if inf.any():
            problems.append(f"{_plural(int(inf.sum()), 'infinite value')}, first in {where(inf)}")
        if problems:
            raise DataFileError(f"{name}: " + "; ".join(problems))
        big = np.abs(arr) > MAX_ABS_VALUE
    else:
        # No abs() on integers: abs(int64 min) overflows back to a negative number.
        big = (arr > MAX_ABS_VALUE) | (arr < -MAX_ABS_VALUE)
    if big.any():
        row = int(big.any(axis=1).argmax())
        value = arr[row, int(big[row].argmax())]
        raise DataFileError(f"{name}: {_plural(int(big.sum()), 'value')} larger than "
                            f"{MAX_ABS_VALUE:g} in magnitude, first in {where(big)} ({value:g}); "
                            "rescale the data")


def _load(kind: str, name: str, source: str | bytes, dataset: str | None,
          limits: _Limits) -> np.ndarray:
    """Read with the format's reader, then run the checks every format shares."""
    row_lines = None
    if kind == "csv":
        arr, row_lines = _read_csv(name, source, limits)
    elif kind == "npy":
        arr = _read_npy(name, source, limits)
    else:
        arr = _read_hdf5(name, source, dataset or DEFAULT_DATASET, limits)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    _check_shape(name, arr.shape, limits)
    _check_values(name, arr, row_lines)
    return np.ascontiguousarray(arr, dtype=np.float32)


# --- readers -------------------------------------------------------------------------------------


def _read_csv(name: str, source: str | bytes,
              limits: _Limits) -> tuple[np.ndarray, array | None]:
    """Read comma-separated numbers; also returns each row's line number when it was tracked."""
    if isinstance(source, str):
        with open(source, "rb") as fp:
            # Bounded read: the file may have grown since its size was checked.
            raw = fp.read(limits.max_bytes + 1)
        _check_size(name, len(raw), limits.max_bytes)
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


def _csv_fast(lines: list[str], limits: _Limits) -> np.ndarray | None:
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


def _csv_careful(name: str, lines: list[str], limits: _Limits) -> tuple[np.ndarray, array]:
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
            raise DataFileError(f"{name}: line {lineno} has {_plural(len(fields), 'column')}, "
                                f"expected {ncols} (as on line {first_line})")
        row_lines.append(lineno)
        if len(row_lines) > limits.max_rows:
            raise DataFileError(f"{name}: has more than {limits.max_rows:,} rows, the limit")
        if len(values) > limits.max_values:
            raise _too_large(name, f"{len(values):,} values by line {lineno}", limits)
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


def _read_npy(name: str, source: str | bytes, limits: _Limits) -> np.ndarray:
    """Vet the .npy header (dtype, shape, size) before loading, never unpickling anything."""
    with (open(source, "rb") if isinstance(source, str) else io.BytesIO(source)) as fp:
        shape, dtype = _npy_header(name, fp)
        _check_dtype(name, dtype, "npy")
        _check_shape(name, shape, limits)
        # A forged header could declare terabytes; numpy would allocate them before reading.
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        have = _remaining(fp)
        if need > have:
            raise DataFileError(f"{name}: truncated: the header declares {_human(need)} of data "
                                f"but the file holds {_human(have)}")
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


def _read_hdf5(name: str, source: str | bytes, dataset: str, limits: _Limits) -> np.ndarray:
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
        _check_dtype(name, ds.dtype, "hdf5")
        if ds.shape is None:
            raise DataFileError(f"{name}: dataset '{key}' is empty")
        _check_shape(name, ds.shape, limits)
        # HDF5 inflates whole chunks, and a chunk may be far larger than the dataset it holds.
        chunk = math.prod(ds.chunks or ())
        if chunk > limits.max_values:
            raise _too_large(name, f"dataset '{key}' is stored in chunks of {chunk:,} values",
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
    more = f", ... and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return ", ".join(names[:_MAX_LISTED]) + more
