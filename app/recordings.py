"""The recordings in the app's runs directory: list, download, delete (never a training run's),
upload (validated), and the replay routes.

    GET    /api/recordings/<name>                 the .h5 file, as a download
    GET    /api/replay/<name>/index               JSON: frame steps, curves, metrics, events
    GET    /api/replay/<name>/frame?step=N        one binary frame: the recording's last frame
                                                  at or before step N (X-Frame-Step says which)

Replay frames travel over plain HTTP rather than the tab's WebSocket (app/stream.py). A replay is
random access driven by the page: scrub, jump to an event, play at a chosen speed. Each request
names the frame it wants, is independent of the others and can be cached by the browser; the
socket's protocol is "the newest frame the server has", made for frames a worker produces on its
own clock, and a replay source inside it would need its own seek and pacing commands. The bytes
are the same: `gancore.frames.encode` of the recorded Frame, decoded by assets/frame.js and drawn
by assets/draw.js exactly as a live frame.

Only names matching NAME_RE inside the runs directory are ever opened, so a path never comes from
the URL. Uploaded files are checked by `python -m gancore validate` in a child process with a
memory limit and a timeout (app/limited.py): HDF5 is a C library, and a crafted file must not
hang, crash or swell the web server.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Flask, Response, request, send_file

from app import runs
from app.limited import EXIT_OUT_OF_MEMORY, run_limited
from app.limits import UnknownRun, owner_tag
from app.run_record import Run
from gancore.frames import encode
from gancore.store.library import replay_index, summarize
from gancore.store.reader import RunReader, open_recording
from gancore.store.recording import RecordingError, storage_cause
from gancore.teach.presets import preset_of

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.h5$")
VALIDATE_TIMEOUT_S = 60.0
MAX_OPEN_READERS = 8
MAX_STEP = 2**63 - 1  # a replay frame request's step: /frames/step is int64
INCOMING = ".incoming"  # uploads wait here until validated; the listing never looks inside
OWNERS = ".owners"  # one small file per uploaded recording: its owner tag


class RecordingRefused(ValueError):
    """An action on a recording that cannot be done; the message says why, in one line."""


class NoRecording(LookupError):
    """No recording of this name in the runs directory."""


def sanitise(filename: str) -> str:
    """A safe file name for an upload: its base name, letters, digits, '-' and '_' only, .h5."""
    base = re.split(r"[\\/]", filename or "")[-1]
    stem = re.sub(r"\.(h5|hdf5|hdf|he5)$", "", base, flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:60] or "upload"
    return f"{stem}.h5"


def state_words(state: str) -> str:
    """A live run's state for a sentence: "running", "paused", or "open (failed)"."""
    return state if state in ("starting", "running", "paused") else f"open ({state})"


def _validate_in_child(path: Path) -> None:
    """`python -m gancore validate PATH` in a child with a memory and a time limit
    (app.limited); RecordingRefused with its one-line message."""
    try:
        done = run_limited("gancore", ["validate", str(path)], timeout_s=VALIDATE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RecordingRefused(f"could not be read within {VALIDATE_TIMEOUT_S:.0f} s (a damaged "
                               "HDF5 file?)") from None
    if done.returncode == EXIT_OUT_OF_MEMORY:  # validate_recording names most shortages itself
        raise RecordingRefused("ran out of its memory budget while being checked")
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines() or [f"exit status {done.returncode}"]
        message = lines[-1].removeprefix("error: ")
        # The child names its temporary file; the user knows the file by its own name.
        raise RecordingRefused(message.removeprefix(f"{path.name}: "))


class Recordings:
    """The runs directory of a registry as a library of recordings."""

    def __init__(self, registry: runs.RunRegistry):
        self.registry = registry
        self.folder = Path(registry.runs_dir)
        self._lock = threading.Lock()
        self._summaries: dict[str, tuple[tuple, dict]] = {}
        self._readers: OrderedDict[str, tuple[tuple, RunReader]] = OrderedDict()
        self._indexes: dict[str, tuple[tuple, dict]] = {}

    # ---- names and state ---------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """The file of a recording name; NoRecording for anything else (paths, odd names)."""
        if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
            raise NoRecording(f"no recording named {name!r}")
        path = self.folder / name
        if not path.is_file():
            raise NoRecording(f"no recording named {name!r}")
        return path

    def live(self, name: str, active: list[Run] | None = None) -> dict[str, str] | None:
        """{"run", "state"} while a worker process still holds this recording open, else None.
        Any state counts: a paused or finished run can be resumed by a live edit, and a worker
        slow to start is reported "failed" by its heartbeat before it writes its first frame.
        `active` is registry.active() when the caller has it (on the Redis backend each call
        reads every run: a listing of 150 files took 6.2 s asking once per file)."""
        if active is None:
            active = self.registry.active()  # worker process alive
        run = self._run_recording(name, active)
        if run is None:
            return None
        try:
            return {"run": run.run_id, "state": self.registry.status(run.run_id)["state"]}
        except UnknownRun:
            return None

    def _run_recording(self, name: str, candidates: list[Run]) -> Run | None:
        """The run among `candidates` whose recording is this file."""
        target = (self.folder / name).resolve()
        for run in candidates:
            if run.record_path and Path(run.record_path).resolve() == target:
                return run
        return None

    @staticmethod
    def _stamp(path: Path) -> tuple:
        st = path.stat()
        return (st.st_mtime_ns, st.st_size)

    # ---- the listing -------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """Every .h5 file, newest first: {"name", "summary" | None, "error", "live", "named"}.
        A file that cannot be read (or has a name the routes refuse) still gets a row, with the
        reason."""
        files = [p for p in self.folder.glob("*.h5") if p.is_file()]
        files.sort(key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
        out: list[dict[str, Any]] = []
        active = self.registry.active()
        for p in files:
            if not NAME_RE.match(p.name) or ".." in p.name:
                out.append({"name": p.name, "summary": None, "live": None, "named": False,
                            "error": "its file name is not one the app serves (letters, digits, "
                                     "'.', '-', '_'); rename the file to replay it"})
                continue
            live = self.live(p.name, active)
            summary, error = None, ""
            try:
                summary = self.summary(p.name)
            except (RecordingError, OSError) as e:
                error = str(e)
                if live:  # its worker has the file open and has not written a frame yet
                    error = f"run {live['run']} is starting its recording"
            out.append({"name": p.name, "summary": summary, "error": error, "live": live,
                        "named": True})
        return out

    def summary(self, name: str) -> dict[str, Any]:
        path = self.path(name)
        stamp = self._stamp(path)
        cached = self._summaries.get(name)
        if cached and cached[0] == stamp:
            return cached[1]
        summary = summarize(path, preset_of=preset_of).as_dict()
        self._summaries[name] = (stamp, summary)
        return summary

    # ---- delete and upload -------------------------------------------------------------------
    def owner(self, name: str) -> str | None:
        """The owner tag (app.owner_tag) of a recording: the session of the run that wrote
        it, or of the session that uploaded it. Kept with the file (its `owner` attribute, or a
        side file for an upload, whose own attributes are the uploader's to forge), so it holds
        across server restarts. None for files from the CLI or from before owners were kept,
        which any session may delete."""
        run = self._run_recording(name, self.registry.runs())
        if run is not None:
            return owner_tag(run.owner)
        side = self._owner_file(name)
        try:
            return side.read_text().strip() or None
        except OSError:
            pass
        try:
            with open_recording(self.path(name)) as reader:
                return reader.owner or None
        except (RecordingError, OSError):
            return None

    def may_delete(self, name: str, session: str) -> bool:
        owner = self.owner(name)
        return owner is None or owner == owner_tag(session)

    def _owner_file(self, name: str) -> Path:
        return self.folder / OWNERS / name

    def delete(self, name: str, session: str | None = None) -> None:
        """Remove a recording. Refused while its run still trains (its worker writes to it), and
        to a `session` other than its owner (a class shares one server: nobody deletes a
        neighbour's run). `session` None is the app itself, or a test."""
        path = self.path(name)
        if session is not None and not self.may_delete(name, session):
            raise RecordingRefused(f"{name} belongs to another browser session: only the session "
                                   "that made or uploaded it can delete it")
        live = self.live(name)
        if live:
            raise RecordingRefused(
                f"{name} is the recording of run {live['run']}, which is still "
                f"{state_words(live['state'])}: a training run's recording cannot be deleted. "
                "Close its play page (the run stops when nobody watches it) and delete it then.")
        self._forget(name)
        path.unlink()
        self._owner_file(name).unlink(missing_ok=True)

    def save_upload(self, data: bytes, filename: str, session: str | None = None) -> str:
        """Store an uploaded recording under a new, safe name (never over an existing file) once
        `validate_recording` accepts it; returns the name. RecordingRefused says why not."""
        limit = self.registry.limits.upload_bytes
        shown = sanitise(filename)
        if not data:
            raise RecordingRefused("empty file")
        if len(data) > limit:
            raise RecordingRefused(f"{len(data) / 1e6:.1f} MB is over the upload limit of "
                                   f"{limit / 1e6:.0f} MB")
        incoming = self.folder / INCOMING
        tmp = incoming / f"{secrets.token_hex(8)}.h5"
        try:
            incoming.mkdir(exist_ok=True)
            with open(tmp, "xb") as fh:
                fh.write(data)
            _validate_in_child(tmp)
            return self._store(tmp, shown, session)
        except OSError as e:  # a full or read-only runs folder: say so, no HTTP 500
            raise RecordingRefused(f"the server cannot store it: {storage_cause(e)}") from None
        finally:
            tmp.unlink(missing_ok=True)

    def _store(self, tmp: Path, shown: str, session: str | None) -> str:
        """Link a validated upload under a free name, its owner in a side file first."""
        stem = shown[:-3]
        for n in range(1, 1000):
            name = shown if n == 1 else f"{stem}-{n}.h5"
            if (self.folder / name).exists():
                continue
            if session is not None:
                side = self._owner_file(name)
                side.parent.mkdir(exist_ok=True)
                side.write_text(owner_tag(session))
            try:
                os.link(tmp, self.folder / name)  # fails if the name exists: no overwrite
                return name
            except FileExistsError:
                continue
        raise RecordingRefused(f"too many recordings named {stem}")

    # ---- replay ------------------------------------------------------------------------------
    def _reader_locked(self, name: str) -> RunReader:
        """An open reader (the caller holds the lock), kept between requests and reopened when
        the file changed (a live recording grows)."""
        path = self.path(name)
        stamp = self._stamp(path)
        cached = self._readers.get(name)
        if cached and cached[0] == stamp:
            self._readers.move_to_end(name)
            return cached[1]
        if cached:
            self._readers.pop(name)[1].close()
        reader = open_recording(path)
        self._readers[name] = (stamp, reader)
        while len(self._readers) > MAX_OPEN_READERS:
            self._readers.popitem(last=False)[1][1].close()
        return reader

    def index(self, name: str) -> dict[str, Any]:
        """The replay index of a recording (gancore.store.library.replay_index), cached per
        version."""
        stamp = self._stamp(self.path(name))
        cached = self._indexes.get(name)
        if cached and cached[0] == stamp:
            return cached[1]
        with self._lock:
            index = replay_index(self._reader_locked(name))
        index["name"] = name
        self._indexes[name] = (stamp, index)
        return index

    def frame_bytes(self, name: str, step: int) -> tuple[bytes, int]:
        """The wire frame of the last recorded frame at or before `step`, and its step. Its size
        is bounded where the file is opened: RunReader refuses (RecordingError) a recording whose
        frames could be larger than gancore.store.recording.MAX_FRAME_BYTES, before reading one."""
        with self._lock:
            reader = self._reader_locked(name)
            frame = reader.frame_at_step(step)  # KeyError when every frame is later
            run_id = reader.run_id
        frame.meta["run_id"] = run_id
        frame.meta.setdefault("message", "")
        # As the worker sends it: n-D frames leave the raw samples out (the page draws the
        # projection and the marginals, never the raw n-D points).
        return encode(frame, ("fake",) if frame.kind == "nd" else ()), frame.step

    def _forget(self, name: str) -> None:
        with self._lock:
            cached = self._readers.pop(name, None)
            if cached:
                cached[1].close()
        self._summaries.pop(name, None)
        self._indexes.pop(name, None)

    def close(self) -> None:
        with self._lock:
            for _, reader in self._readers.values():
                reader.close()
            self._readers.clear()


_library: Recordings | None = None


def library() -> Recordings:
    """The library of the app's registry (made on first use)."""
    global _library
    reg = runs.registry()
    if _library is None or _library.registry is not reg:
        _library = Recordings(reg)
    return _library


def _text(message: str, status: int) -> Response:
    return Response(message, status=status, mimetype="text/plain")


def _unreplayable(name: str, e: Exception) -> Response:
    """422 with the reason a recording cannot be replayed: a RecordingError's own words (it
    names no path), else only the kind of failure (an OSError may carry a server path)."""
    reason = (str(e).removeprefix(f"{name}: ") if isinstance(e, RecordingError)
              else f"the file cannot be read ({type(e).__name__})")
    return _text(f"{name} cannot be replayed: {reason}", 422)


def register(server: Flask) -> None:
    """Add the download and replay routes to Dash's Flask server."""

    @server.get("/api/recordings/<name>")
    def recording_download(name: str):
        try:
            path = library().path(name)
        except NoRecording as e:
            return _text(str(e), 404)
        return send_file(path, mimetype="application/x-hdf5", as_attachment=True,
                         download_name=name, max_age=0)

    @server.get("/api/replay/<name>/index")
    def replay_index_route(name: str):
        try:
            index = library().index(name)
        except NoRecording as e:
            return _text(str(e), 404)
        except (RecordingError, OSError, RuntimeError, ValueError) as e:
            return _unreplayable(name, e)
        # a recording its run still writes: the replay page follows it as it grows
        index = {**index, "live": library().live(name)}
        return Response(json.dumps(index, allow_nan=False, separators=(",", ":")),
                        mimetype="application/json", headers={"Cache-Control": "no-store"})

    @server.get("/api/replay/<name>/frame")
    def replay_frame_route(name: str):
        try:
            step = int(request.args.get("step", "0"))
        except ValueError:
            step = -1
        if not 0 <= step <= MAX_STEP:
            return _text(f"step must be an integer from 0 to {MAX_STEP:,}", 400)
        try:
            data, at = library().frame_bytes(name, step)
        except NoRecording as e:
            return _text(str(e), 404)
        except KeyError:
            return _text(f"{name} has no frame at or before step {step:,}", 404)
        except (RecordingError, OSError, RuntimeError, ValueError) as e:
            return _unreplayable(name, e)
        return Response(data, mimetype="application/octet-stream",
                        headers={"X-Frame-Step": str(at), "Cache-Control": "no-cache"})
