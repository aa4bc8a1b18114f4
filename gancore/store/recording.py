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
                            session that made the run, so only it may delete the file),
                            label str (optional; "" = none: the name a researcher's own
                            script gave its watched run, gancore.watch)
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
                 run_id: str | None = None, owner: str = "", label: str = ""):
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
        attrs["label"] = label  # a watched script's name for its run: the library shows it
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
        row = _header_row(payload)
        assert row is not None  # kind and array names alone: a few hundred bytes
        return row
