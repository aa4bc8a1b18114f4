"""Reading a recording (layout: gancore.store.recording): `RunReader` for a file finished, still
being written, or left by a killed writer; `open_recording`, which fails fast on damaged files;
and `validate_recording`, the full check of a file from elsewhere (no links out of the file, no
frame larger than the layout allows)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gancore.frames import Frame
from gancore.store.recording import (
    FORMAT_VERSION,
    MAX_FRAME_ARRAY_BYTES,
    MAX_FRAME_BYTES,
    MAX_LINKS,
    MAX_TABLE_ROW_BYTES,
    MAX_TABLE_UNSTORED_BYTES,
    RecordingError,
)


class RunReader:
    """Reads a recording, finished, still being written, or left behind by a killed writer.

    Opening refuses (RecordingError) a file that reads other files or whose datasets could
    decode to more than the layout allows (MAX_FRAME_BYTES and the bounds beside it): checked
    from metadata alone, so every later read is bounded."""

    def __init__(self, path, swmr: bool = True):
        self.path = Path(path)
        name = self.path.name
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such recording")
        if not h5py.is_hdf5(self.path):
            raise RecordingError(f"{name}: not an HDF5 file")
        try:
            # SWMR by default: a file whose writer died keeps its SWMR-write flag, which plain
            # 'r' refuses; SWMR reading is also what lets refresh() see new frames. swmr=False
            # is for a closed file from elsewhere: SWMR reading retries a damaged read for
            # minutes, plain reading fails at once (validate_recording).
            self._f = h5py.File(self.path, "r", swmr=swmr)
        except OSError as e:
            raise RecordingError(f"{name}: HDF5 file cannot be opened "
                                 f"({_unplaced(e, self.path)})") from None
        try:
            # Links first: anything else would resolve them, and open the files they name.
            _check_self_contained(self._f, name)
            self._validate(name)
            _check_sizes(self._f, name)
            self._load(name)
        except BaseException:
            self._f.close()
            raise
        self.refresh()

    def _validate(self, name: str) -> None:
        """Refuse anything that is not a version-1 recording, naming what is missing. /frames/step
        comes first: "missing /frames/step" is the clearest word for some other HDF5 file."""
        if not isinstance(self._f.get("frames/step"), h5py.Dataset):
            raise RecordingError(f"{name}: not a ganscope recording (missing /frames/step)")
        attrs = self._f.attrs
        for key in ("format_version", "config"):
            if key not in attrs:
                raise RecordingError(f"{name}: not a ganscope recording (missing attribute {key})")
        version = attrs["format_version"]
        if np.ndim(version) != 0 or version != FORMAT_VERSION:
            raise RecordingError(f"{name}: recording format_version {version} is not supported "
                                 f"(this ganscope reads {FORMAT_VERSION})")
        for path in ("frames/header", "scalars", "events"):
            if not isinstance(self._f.get(path), h5py.Dataset):
                raise RecordingError(f"{name}: damaged ganscope recording (missing /{path})")

    def _load(self, name: str) -> None:
        """Root attributes and dataset handles; SWMR means no dataset appears later."""
        attrs = self._f.attrs
        self.config_json = _text(attrs["config"])
        self.parent_run: str | None = _text(attrs.get("parent_run", "")) or None
        fork = int(attrs.get("fork_step", -1))
        self.fork_step: int | None = None if fork < 0 else fork
        self.run_id = _text(attrs.get("run_id", self.path.stem))
        self.created = _text(attrs.get("created", ""))
        self.owner = _text(attrs.get("owner", ""))
        self.label = _text(attrs.get("label", ""))
        frames = self._f["frames"]
        self._step, self._header = frames["step"], frames["header"]
        self._scalars, self._events = self._f["scalars"], self._f["events"]
        self._arrays: dict[str, tuple[h5py.Dataset, h5py.Dataset | None]] = {}
        for key, ds in frames.items():
            if key in ("step", "header") or key.endswith("_range"):
                continue
            array = "fake" if key == "samples" else key
            rds = frames.get(f"{array}_range")
            self._arrays[array] = (ds, rds)
        self._n = 0
        self.steps = np.zeros(0, np.int64)

    def refresh(self) -> None:
        """Re-read dataset extents so frames flushed since opening become visible."""
        datasets = [self._step, self._header, self._scalars, self._events]
        for ds, rds in self._arrays.values():
            datasets += [ds] if rds is None else [ds, rds]
        for ds in datasets:
            ds.refresh()
        # A frame is complete when every per-frame dataset has its row and its header row (the
        # writer's last write) is not fill: this trims a frame a killed writer left half-written.
        per_frame = [self._step, self._header, *datasets[4:]]  # not the scalar/event tables
        n = min(d.shape[0] for d in per_frame)
        while n > 0 and self._header[n - 1, 0] == 0:
            n -= 1
        self._n = n
        self.steps = np.asarray(self._step[:n], dtype=np.int64)

    def __len__(self) -> int:
        return self._n

    def frame(self, i: int) -> Frame:
        """Frame i rebuilt as written: kind, step, scalars, meta, arrays (dtype, shape), ranges."""
        if not -self._n <= i < self._n:
            raise IndexError(f"{self.path.name}: frame {i} out of range ({self._n} frames)")
        i %= self._n
        header = self.header(i)
        scalars = {k: math.nan if v is None else v for k, v in header["scalars"].items()}
        arrays, ranges = {}, {}
        for name, row in header["arrays"].items():
            ds, rds = self._arrays[name]
            arrays[name] = ds[row]
            if rds is not None:
                lo, hi = rds[row]
                if np.isfinite(lo) and np.isfinite(hi):
                    ranges[name] = (float(lo), float(hi))
        return Frame(header["kind"], int(self.steps[i]), scalars, header["meta"], arrays, ranges)

    def header(self, i: int) -> dict:
        """Frame i's header row (kind, scalars, meta, array rows) without reading its arrays."""
        return json.loads(bytes(self._header[i]).rstrip(b"\0"))

    def frame_at_step(self, step: int) -> Frame:
        """The last frame whose step is <= `step` (what the run looked like at that step);
        KeyError when every frame is later."""
        at = np.flatnonzero(self.steps <= step)
        if len(at) == 0:
            raise KeyError(f"{self.path.name}: no frame at or before step {step}")
        return self.frame(int(at[-1]))

    def scalars(self) -> tuple[list[str], np.ndarray]:
        """Column names and the (S, C) float64 scalar rows."""
        columns = [_text(c) for c in self._scalars.attrs["columns"]]
        return columns, np.asarray(self._scalars[:], dtype=np.float64)

    def events(self) -> list[dict]:
        """[{"step", "kind", "message"}] in the order they were added."""
        out = []
        for row in self._events[:]:
            if row["kind"]:  # an empty kind is a row a killed writer extended but never wrote
                out.append({"step": int(row["step"]), "kind": _text(row["kind"]),
                            "message": _text(row["message"])})
        return out

    def close(self) -> None:
        """Close the file; safe to call twice."""
        self._f.close()

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_self_contained(f: h5py.File, name: str) -> None:
    """Refuse a recording that reads another file (an external link, a dataset with external
    raw storage, a virtual dataset): replaying it would serve that file's data. Soft links are
    refused too: the writer makes none, and an alias would be read as a second array."""
    links: list[tuple[str, Any]] = []

    def collect(path: str, link: Any) -> bool | None:
        links.append((path, link))
        return True if len(links) > MAX_LINKS else None  # stop early: not a recording

    f.visititems_links(collect)
    if len(links) > MAX_LINKS:
        raise RecordingError(f"{name}: holds more than {MAX_LINKS:,} objects; not a ganscope "
                             "recording")
    for path, link in links:
        if isinstance(link, h5py.ExternalLink):
            raise RecordingError(f"{name}: /{path} is an external link to another file; "
                                 "recordings must hold their own data")
        if isinstance(link, h5py.SoftLink):
            raise RecordingError(f"{name}: /{path} is a soft link; recordings hold their "
                                 "datasets themselves")
    for path, _ in links:  # only hard links are left: getting an object opens no other file
        ds = f.get(path)
        if not isinstance(ds, h5py.Dataset):
            continue
        if ds.is_virtual:
            raise RecordingError(f"{name}: /{path} is a virtual dataset mapping other files; "
                                 "recordings must hold their own data")
        if ds.external:
            raise RecordingError(f"{name}: /{path} keeps its data in external files; "
                                 "recordings must hold their own data")


def _check_sizes(f: h5py.File, name: str) -> None:
    """Refuse datasets larger per read than the layout allows (MAX_FRAME_ARRAY_BYTES and the
    bounds beside it), from their shapes, before a byte of data is read."""
    frame = 0
    for key, ds in f["frames"].items():
        path = f"/frames/{key}"
        if not isinstance(ds, h5py.Dataset) or ds.ndim == 0:
            raise RecordingError(f"{name}: {path} is not a per-frame dataset")
        if key == "step" or key.endswith("_range"):
            _check_table(name, path, ds)
            continue
        row = _row_bytes(ds)
        if row > MAX_FRAME_ARRAY_BYTES:
            raise RecordingError(f"{name}: {path} holds {_mb(row)} per frame, more than the "
                                 f"{_mb(MAX_FRAME_ARRAY_BYTES)} a frame array may hold")
        _check_dataset(name, path, ds)
        frame += row
    if frame > MAX_FRAME_BYTES:
        raise RecordingError(f"{name}: a frame holds {_mb(frame)}, more than the "
                             f"{_mb(MAX_FRAME_BYTES)} a frame may hold")
    for key in ("scalars", "events"):
        _check_table(name, f"/{key}", f[key])


def _check_dataset(name: str, path: str, ds: h5py.Dataset) -> None:
    """What every dataset of the layout shares: fixed-size values, chunks HDF5 may inflate."""
    if ds.dtype.hasobject:
        raise RecordingError(f"{name}: {path} holds variable-length data; recordings hold "
                             "fixed-size values")
    chunk = math.prod(ds.chunks or ()) * ds.dtype.itemsize
    if chunk > MAX_FRAME_ARRAY_BYTES:  # HDF5 inflates a whole chunk to read one row of it
        raise RecordingError(f"{name}: {path} is stored in chunks of {_mb(chunk)}, more than "
                             f"the {_mb(MAX_FRAME_ARRAY_BYTES)} a recording's chunks hold")


def _check_table(name: str, path: str, ds: h5py.Dataset) -> None:
    """A table is read whole: narrow rows, and on disk what it declares (MAX_TABLE_...)."""
    row = _row_bytes(ds)
    if row > MAX_TABLE_ROW_BYTES:
        raise RecordingError(f"{name}: {path} has rows of {row:,} bytes, more than the "
                             f"{MAX_TABLE_ROW_BYTES:,} a recording's table rows hold")
    _check_dataset(name, path, ds)
    unstored = ds.size * ds.dtype.itemsize - ds.id.get_storage_size()
    if unstored > MAX_TABLE_UNSTORED_BYTES:
        raise RecordingError(f"{name}: {path} declares {_mb(unstored)} more than it stores "
                             "(compressed or never written); recordings store tables as written")


def _unplaced(e: Exception, path: Path) -> str:
    """An error's text with the file's server path cut to its name (HDF5 quotes the path it
    opened): the message may reach a stranger who uploaded the file."""
    text = str(e)
    for place in {str(path.resolve()), str(path)}:
        text = text.replace(place, path.name)
    return text


def _row_bytes(ds: h5py.Dataset) -> int:
    """Bytes of one row (one frame, one table row) once read."""
    return math.prod(ds.shape[1:]) * ds.dtype.itemsize


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


def _text(value: Any) -> str:
    """h5py hands back str or bytes depending on how a string was stored; always str."""
    return value.decode(errors="replace") if isinstance(value, bytes | np.bytes_) else str(value)


# ---- validation of a file from elsewhere --------------------------------------------------------


def _stored_eof(path: Path) -> int | None:
    """The end-of-file address a version 2/3 superblock (what `Recorder` writes) stores, or None
    for other superblocks. Read by hand because SWMR reading skips HDF5's own truncation check
    and then retries reads past the end for minutes instead of failing."""
    with open(path, "rb") as fh:
        head = fh.read(48)
    if len(head) < 36 or head[:8] != b"\x89HDF\r\n\x1a\n" or head[8] not in (2, 3) \
            or head[9] != 8:  # signature at 0 (no user block), version, size of offsets
        return None
    return int.from_bytes(head[28:36], "little")  # after signature, 4 bytes, base, extension


def _writer_flagged(path: Path) -> bool:
    """True when the superblock says a writer has the file open (or died with it open): such a
    file opens only in SWMR mode."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) == 12 and head[8] in (2, 3) and head[11] != 0


def open_recording(path) -> RunReader:
    """A RunReader that fails fast on a damaged file instead of hanging: refuses an empty,
    non-HDF5 or truncated file by name, and reads in SWMR mode only when a writer holds the file
    (SWMR reading retries a failed read for minutes)."""
    p = Path(path)
    name = p.name
    if not p.is_file():
        raise RecordingError(f"{name}: no such file")
    size = p.stat().st_size
    if size == 0:
        raise RecordingError(f"{name}: empty file")
    if not h5py.is_hdf5(p):
        raise RecordingError(f"{name}: not an HDF5 file")
    stored = _stored_eof(p)
    if stored is None and size < 48:  # a signature and less than the smallest superblock
        stored = 48
    flagged = _writer_flagged(p)
    if stored is not None and stored > size:
        if flagged:
            raise RecordingError(f"{name}: incomplete file ({size:,} of {stored:,} bytes; its "
                                 "writer may still be creating it)")
        raise RecordingError(f"{name}: truncated file ({size:,} of {stored:,} bytes)")
    try:
        return RunReader(p, swmr=flagged)
    except RuntimeError as e:  # h5py's answer to some damaged superblocks
        raise RecordingError(f"{name}: damaged HDF5 file ({_unplaced(e, p)})") from None


def validate_recording(path) -> None:
    """Raise RecordingError naming the first problem unless `path` is a complete, replayable
    format-1 recording: an HDF5 file, not truncated, with the layout above, at least one frame,
    and every frame readable and encodable as a wire frame (gancore.frames.encode).

    It reads every frame once, so it belongs at the edge (an upload, `python -m gancore
    validate`), not in a request path. Run it in a child process with a time and a memory
    limit when the file comes from a stranger, as the dashboard does: a crafted HDF5 file can
    make the C library hang or crash."""
    from gancore.frames import encode

    name = Path(path).name
    try:
        with open_recording(path) as reader:
            if len(reader) == 0:
                raise RecordingError(f"{name}: the recording holds no complete frame")
            json.loads(reader.config_json)
            for i in range(len(reader)):
                frame = reader.frame(i)
                if frame.kind not in ("1d", "2d", "nd"):
                    raise RecordingError(f"{name}: frame {i} has unknown kind {frame.kind!r}")
                encode(frame)
            reader.scalars()
            reader.events()
    except RecordingError:
        raise
    except MemoryError:  # a checker run under a memory limit (app.limited) says so in one line
        raise RecordingError(f"{name}: needs more memory than the check may use") from None
    except (OSError, RuntimeError, KeyError, IndexError, TypeError, ValueError) as e:  # + JSON
        raise RecordingError(f"{name}: damaged recording ({type(e).__name__}: "
                             f"{_unplaced(e, Path(path))})") from None
