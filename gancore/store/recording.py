"""A run's recording: one HDF5 file, written by one `Recorder`, read by any number of `RunReader`s.

The writer uses HDF5's single-writer/multiple-reader (SWMR) mode, so a reader can follow a run
while it trains, and a writer killed with SIGKILL leaves a file that reads back up to its last
flushed frame. SWMR forbids creating datasets or attributes once it is on, so the per-array
datasets are created by the first `append_frame` (their shapes come from that frame) and SWMR is
switched on at the end of it; nothing is created after that.

Layout (format_version 1). F = frames, S = scalar rows, E = events. Every dataset is chunked and
resizable along axis 0 only (maxshape (None, ...)).

    /                       attrs: format_version int (1), config str (run config JSON),
                            parent_run str ("" = none), fork_step int (-1 = none), run_id str,
                            created str (ISO 8601, UTC), scalar_columns list[str],
                            owner str (optional; "" = none: the dashboard's tag of the browser
                            session that made the run, so only it may delete the file)
    /frames/step            int64 (F,)           training step of each frame
    /frames/header          uint8 (F, 8192)      per-frame UTF-8 JSON, zero-padded:
                                                 {"kind": "1d"|"2d"|"nd", "scalars": {..},
                                                  "meta": {..}, "arrays": {name: row}}
                                                 NaN and inf are stored as null (scalars read
                                                 back as NaN)
    /frames/samples         float32 (F, N, dim)  the frame's "fake" array
    /frames/<name>          (F, *shape)          every other frame array, in its own dtype
    /frames/<name>_range    float64 (F, 2)       (lo, hi) of a quantised array (one in
                                                 Frame.ranges); NaN in rows without a range
    /scalars                float64 (S, C)       one row per training step; attr columns
    /events                 compound (E,)        step int64, kind S32, message S200 (UTF-8,
                                                 cut to fit)

"arrays" in a frame's header lists the frame's arrays, in order, each with the row of
/frames/<name> (and <name>_range) that holds its value: the frame's own row, or an earlier row
when the value and range did not change (a fixed real batch is stored once, not per frame).
An array the frame lacks is not listed and its row is left as fill; so is one whose shape or
dtype differs from the first frame's, and an array the first frame did not have is not
recorded; each such array is reported once as a "recording" event. Array names "step",
"header", "samples" and names ending in "_range" belong to the layout and are not recorded.

Storage: arrays of 1 KiB or more per frame get one chunk per frame with shuffle + gzip level 1,
the header row one chunk per frame with gzip level 1; smaller arrays and the tables are
uncompressed, many rows per chunk.
The header row is the last thing written for a frame, so a reader ignores rows whose header is
still zero: they belong to a frame a killed writer did not finish.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from gancore.frames import Frame, _jsonable

FORMAT_VERSION = 1
# Fixed-size rows, not variable-length strings: those live in HDF5's global heap, outside the
# chunked data whose write ordering SWMR is designed around. An in-process test of vlen strings
# under SWMR worked with h5py 3.16, but a reader of a killed writer's file must not depend on it.
HEADER_BYTES = 8192
KIND_BYTES, MESSAGE_BYTES = 32, 200
EVENT_DTYPE = np.dtype([("step", "<i8"), ("kind", f"S{KIND_BYTES}"),
                        ("message", f"S{MESSAGE_BYTES}")])
CHUNK_BYTES = 8192  # uncompressed chunks are allocated whole, so a short run stays small
COMPRESS_MIN_BYTES = 1024  # below this per frame, gzip's own overhead outweighs its saving
# Measured on 2-D frames: levels 4-9 were under 1% smaller than 1 (float mantissas are noise).
GZIP_LEVEL = 1
_RESERVED = {"step", "header", "samples"}

# What a reader may decode, checked from the file's metadata when it opens, so that a small
# crafted file cannot make the upload check or a replay request inflate gigabytes (a 1.7 MB file
# served 400 MB per frame). The largest frame a run makes is n-D at the config bounds (5000
# samples, MAX_DATA_DIM 256, a 256 x 256 D grid): its /frames/samples row is 5000 x 256 float32
# = 5.1 MB, and with the D grid and two 256 x 256 correlation maps (64 KB each as uint8), the
# projections, marginals and the 8 KB header the frame is 5.4 MB (test_largest_frame_is_accepted
# writes one). Both bounds leave room above it.
MAX_FRAME_ARRAY_BYTES = 8 * 2**20  # one row of one /frames/* dataset; also any one chunk
MAX_FRAME_BYTES = 16 * 2**20  # one frame: a row of every /frames/* dataset together
# Tables are read whole (/scalars, /events, /frames/step, /frames/<name>_range) and their rows
# are narrow: 7 scalar columns are 56 bytes, an event 240.
MAX_TABLE_ROW_BYTES = 8192
# The writer stores tables uncompressed and writes every row it adds, so a table holds on disk
# what it holds in memory; a killed writer may leave one flush of rows declared but unwritten
# (at record_every's bound, a million scalar rows between two frames: 56 MB). Declared bytes
# beyond what is stored are compression or fill values: a bomb.
MAX_TABLE_UNSTORED_BYTES = 64 * 2**20
MAX_LINKS = 1024  # a recording has about 20 (two groups, a dataset per array and table)


class RecordingError(ValueError):
    """A file that is not a valid ganscope recording; the message names the file and the problem."""


def storage_cause(e: OSError) -> str:
    """Why a write to the runs folder failed, in words a user can act on and without the
    server's path ("disk full", "the runs folder is not writable"). h5py reports a failed write
    as an OSError whose text carries the errno."""
    import errno

    text = f"{e.strerror or ''} {e}".lower()
    if e.errno == errno.ENOSPC or "no space" in text or "errno = 28" in text:
        return "disk full"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or "permission denied" in text \
            or "read-only" in text:
        return "the runs folder is not writable"
    if isinstance(e, FileExistsError):
        return "a file of that name exists already"
    return f"the file could not be written ({e.strerror or type(e).__name__})"


# ---- helpers ------------------------------------------------------------------------------------


def _fit(text: str, size: int) -> bytes:
    """UTF-8 bytes of `text` cut to `size` without splitting a character (fixed-size strings)."""
    raw = text.encode()
    return raw if len(raw) <= size else raw[:size].decode(errors="ignore").encode()


def _grow(ds: h5py.Dataset, start: int, rows: int) -> slice:
    """Extend `ds` from `start` to `start + rows` rows and return the new rows' slice. The caller
    keeps the count: asking h5py for `ds.shape` costs more than the write of a small row."""
    ds.resize(start + rows, axis=0)
    return slice(start, start + rows)


def _rows_per_chunk(row_bytes: int) -> int:
    """Rows in an uncompressed chunk of about CHUNK_BYTES (at least 16, at most 1024)."""
    return max(16, min(1024, CHUNK_BYTES // max(row_bytes, 1)))


def _table(group: h5py.Group, name: str, shape: tuple[int, ...], dtype: Any,
           fill: Any = None) -> h5py.Dataset:
    """An empty, uncompressed, append-only table of rows of `shape`."""
    rows = _rows_per_chunk(np.dtype(dtype).itemsize * int(np.prod(shape)))
    return group.create_dataset(name, (0, *shape), maxshape=(None, *shape), dtype=dtype,
                                chunks=(rows, *shape), fillvalue=fill)


def _array_dataset(group: h5py.Group, name: str, a: np.ndarray) -> h5py.Dataset:
    """A per-frame dataset for array `a`: big arrays one compressed chunk per frame (written once,
    never rewritten), small ones many frames per uncompressed chunk (a chunk per frame would cost
    more in index and filter overhead than the data)."""
    if a.nbytes >= COMPRESS_MIN_BYTES:
        opts = {"chunks": (1, *a.shape), "compression": "gzip", "compression_opts": GZIP_LEVEL,
                "shuffle": True}
    else:
        opts = {"chunks": (_rows_per_chunk(a.nbytes), *a.shape)}
    return group.create_dataset(name, (0, *a.shape), maxshape=(None, *a.shape), dtype=a.dtype,
                                **opts)


def _header_row(payload: dict) -> np.ndarray | None:
    """The zero-padded JSON row for /frames/header, or None when it does not fit."""
    raw = json.dumps(_jsonable(payload), separators=(",", ":")).encode()
    if len(raw) > HEADER_BYTES:
        return None
    row = np.zeros(HEADER_BYTES, np.uint8)
    row[:len(raw)] = np.frombuffer(raw, np.uint8)
    return row


# ---- writer -------------------------------------------------------------------------------------


class Recorder:
    """Appends frames, scalar rows and events of one run to a new HDF5 file (the only writer)."""

    def __init__(self, path, config_json: str, scalar_columns: list[str],
                 parent: str | None = None, fork_step: int | None = None,
                 run_id: str | None = None, owner: str = ""):
        self.path = Path(path)
        if not scalar_columns:
            raise ValueError("Recorder needs at least one scalar column")
        if self.path.exists():  # a recording is never overwritten: that would lose a run
            raise FileExistsError(f"{self.path}: recording already exists")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns = [str(c) for c in scalar_columns]
        self.frames_written = 0
        self._scalar_buf: list[np.ndarray] = []
        self._event_buf: list[tuple[int, bytes, bytes]] = []
        self._arrays: dict[str, tuple[h5py.Dataset, h5py.Dataset | None]] = {}
        # name -> (row, value, range) of the last value written, to store unchanged values once
        self._last: dict[str, tuple[int, np.ndarray, tuple | None]] = {}
        self._n_scalars = self._n_events = 0
        self._shapes: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        self._reported: set[str] = set()  # problems already stored as an event, once each
        self._f = h5py.File(self.path, "w", libver="latest")  # SWMR needs the latest format
        attrs = self._f.attrs
        attrs["format_version"] = FORMAT_VERSION
        attrs["config"] = config_json
        attrs["parent_run"] = parent or ""
        attrs["fork_step"] = -1 if fork_step is None else int(fork_step)
        attrs["run_id"] = run_id if run_id is not None else self.path.stem
        attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        attrs["scalar_columns"] = self.columns
        attrs["owner"] = owner  # who may delete it: a tag the dashboard derives from a session
        frames = self._f.create_group("frames")
        self._step = _table(frames, "step", (), np.int64)
        self._header = frames.create_dataset(
            "header", (0, HEADER_BYTES), maxshape=(None, HEADER_BYTES), dtype=np.uint8,
            chunks=(1, HEADER_BYTES), compression="gzip", compression_opts=GZIP_LEVEL)
        self._scalars = _table(self._f, "scalars", (len(self.columns),), np.float64, np.nan)
        self._scalars.attrs["columns"] = self.columns
        self._events = _table(self._f, "events", (), EVENT_DTYPE)

    # -- public API --

    def append_frame(self, frame: Frame) -> None:
        """Append one frame (and the buffered scalars and events) and flush it to disk."""
        self._check_open()
        first = self.frames_written == 0
        if first:
            self._create_frame_datasets(frame)
        i = self.frames_written
        present: dict[str, int] = {}
        for name, (ds, rds) in self._arrays.items():
            ds.resize(i + 1, axis=0)  # every per-frame dataset keeps F rows: row i is frame i
            if rds is not None:
                rds.resize(i + 1, axis=0)
            row = self._store_array(frame, name, ds, rds, i)
            if row is not None:
                present[name] = row
        for name in frame.arrays.keys() - self._arrays.keys():
            self._report(frame.step, name, f"array {name} is not in the first frame")
        present = {name: present[name] for name in frame.arrays if name in present}  # its order
        self._step[_grow(self._step, i, 1)] = int(frame.step)
        self._header[_grow(self._header, i, 1)] = self._frame_header(frame, present)  # commit
        self.frames_written += 1
        if first:
            self._f.swmr_mode = True  # only now: SWMR forbids creating datasets after this
        self.flush()

    def append_scalars(self, rows: np.ndarray) -> None:
        """Buffer (R, C) scalar rows, one per training step; written at the next flush."""
        self._check_open()
        a = np.array(rows, dtype=np.float64, ndmin=2)  # a copy: callers may reuse their buffer
        if a.ndim != 2 or a.shape[1] != len(self.columns):
            raise ValueError(f"scalar rows must have shape (R, {len(self.columns)}), "
                             f"got {np.shape(rows)}")
        self._scalar_buf.append(a)

    def add_event(self, step: int, kind: str, message: str) -> None:
        """Buffer an event (e.g. "mode_collapse", "edit", "diverged"); written at the next flush.
        Kind and message are cut to 32 and 200 UTF-8 bytes."""
        self._check_open()
        if not kind:
            raise ValueError("event kind must not be empty")  # empty marks an unwritten row
        self._event_buf.append((int(step), _fit(kind, KIND_BYTES), _fit(message, MESSAGE_BYTES)))

    def flush(self) -> None:
        """Write buffered scalars and events and push everything to the file."""
        if self._f is None:
            return
        if self._scalar_buf:
            rows = np.concatenate(self._scalar_buf)
            self._scalars[_grow(self._scalars, self._n_scalars, len(rows))] = rows
            self._n_scalars += len(rows)
            self._scalar_buf.clear()
        if self._event_buf:
            events = np.array(self._event_buf, dtype=EVENT_DTYPE)
            self._events[_grow(self._events, self._n_events, len(events))] = events
            self._n_events += len(events)
            self._event_buf.clear()
        self._f.flush()

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        if self._f is None:
            return
        try:
            self.flush()
        finally:
            self._f.close()
            self._f = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals --

    def _check_open(self) -> None:
        if self._f is None:
            raise ValueError(f"{self.path}: recorder is closed")

    def _report(self, step: int, name: str, problem: str) -> None:
        """Store a "recording" event the first time an array cannot be recorded."""
        if name not in self._reported:
            self._reported.add(name)
            self.add_event(step, "recording", f"recording: {problem}; not recorded")

    def _create_frame_datasets(self, frame: Frame) -> None:
        """Create one dataset per array of the first frame; its shapes hold for the whole run."""
        fake = frame.arrays.get("fake")
        if fake is None or np.asarray(fake).ndim != 2 or np.asarray(fake).dtype != np.float32:
            raise ValueError("the first frame needs arrays['fake'] of shape (N, dim) float32")
        group = self._f["frames"]
        for name, arr in frame.arrays.items():
            a = np.asarray(arr)
            if name in _RESERVED or name.endswith("_range"):
                self._report(frame.step, name, f"array name {name} is reserved")
            elif a.dtype.kind not in "biuf" or a.size == 0:
                self._report(frame.step, name, f"array {name} ({a.dtype}, {a.shape}) unsupported")
            else:
                ds = _array_dataset(group, "samples" if name == "fake" else name, a)
                rds = (_table(group, f"{name}_range", (2,), np.float64, np.nan)
                       if name in frame.ranges else None)
                self._arrays[name] = (ds, rds)
                self._shapes[name] = (a.shape, a.dtype)

    def _store_array(self, frame: Frame, name: str, ds: h5py.Dataset,
                     rds: h5py.Dataset | None, i: int) -> int | None:
        """Write one array into row i and return the row that holds its value: an earlier row
        when the value and range are unchanged (a fixed real batch then costs nothing per frame),
        None (row left as fill) when the frame lacks the array or it no longer fits."""
        if name not in frame.arrays:
            return None
        a = np.asarray(frame.arrays[name])
        row_shape, dtype = self._shapes[name]
        if a.shape != row_shape:
            self._report(frame.step, name, f"array {name} changed shape {row_shape} -> {a.shape}")
            return None
        if a.dtype != dtype:
            self._report(frame.step, name, f"array {name} changed dtype {dtype} -> {a.dtype}")
            return None
        if name in frame.ranges and rds is None:
            self._report(frame.step, name, f"array {name} became quantised")
            return None
        rng = frame.ranges.get(name)
        last = self._last.get(name)
        if last is not None and last[2] == rng and np.array_equal(last[1], a):
            return last[0]
        ds[i] = a
        if rds is not None:
            rds[i] = (np.nan, np.nan) if rng is None else rng
        self._last[name] = (i, a.copy(), rng)
        return i

    def _frame_header(self, frame: Frame, present: dict[str, int]) -> np.ndarray:
        """The header row; meta (then scalars) are dropped, with an event, if it is too long."""
        payload = {"kind": frame.kind, "scalars": frame.scalars, "meta": frame.meta,
                   "arrays": present}
        for drop in ("meta", "scalars"):
            row = _header_row(payload)
            if row is not None:
                return row
            self._report(frame.step, f"header:{drop}", f"frame {drop} over {HEADER_BYTES} bytes")
            payload[drop] = {}
        return _header_row(payload)


# ---- reader -------------------------------------------------------------------------------------


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
