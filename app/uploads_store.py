"""The data files visitors uploaded: stored under names the server issues, each owned by the
session that uploaded it, and deleted once no run uses them.

This is the one gate between a config from the web (a share link, a form, a client store) and
the server's disk: a config may name a data file only by an upload name this session was given.
A share link that named `/some/dir/payroll.csv` streamed that file's rows to the page before.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path

from app.uploads import parse_upload
from gancore.config import ConfigError, RunConfig
from gancore.data.files import DataFileError, upload_name
from gancore.data.uploads import is_upload_name
from gancore.store.recording import storage_cause

KEEP_UNUSED_S = 600.0  # an upload no run uses is deleted after this long
PER_SESSION = 3  # uploads a session keeps at most (the oldest unused one goes first)


class DataPathRefused(ConfigError):
    """A config names a data file this session did not upload here."""


class UploadStore:
    """Uploads in one folder, by issued name, with their owners."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._owners: dict[str, tuple[str, float]] = {}  # name -> (session, stored at)
        self._lock = threading.Lock()

    def save(self, data: bytes, filename: str, owner: str) -> tuple[str, int, int]:
        """Parse an upload in a child process (app.uploads) and keep it for `owner`: returns the
        name a config uses, rows and columns. DataFileError names what is wrong."""
        name = f"upload-{secrets.token_hex(8)}.npy"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            rows, cols = parse_upload(data, filename, self.folder / name,
                                      max_bytes=self.max_bytes)
        except OSError as e:  # a full or read-only runs folder: say so, no HTTP 500
            raise DataFileError(f"{upload_name(filename)}: the server cannot store it: "
                                f"{storage_cause(e)}") from None
        with self._lock:
            self._owners[name] = (owner, time.monotonic())
        return name, rows, cols

    def check_config(self, owner: str, cfg: RunConfig) -> None:
        """Refuse a config whose data file is not an upload of this session."""
        path = cfg.target.data_path
        if path is None:
            return
        with self._lock:
            mine = is_upload_name(path) and self._owners.get(path, ("",))[0] == owner
        if not mine:
            raise DataPathRefused(
                "target.data_path: this server trains only on data files uploaded in this "
                "browser session; upload the file on the play page")

    def sweep(self, in_use: set[str]) -> None:
        """Delete uploads no run uses: past KEEP_UNUSED_S, or beyond a session's PER_SESSION
        newest; files left by an earlier server process (no owner known) go too."""
        now = time.monotonic()
        with self._lock:
            by_owner: dict[str, list[tuple[float, str]]] = {}
            for name, (owner, at) in self._owners.items():
                by_owner.setdefault(owner, []).append((at, name))
            doomed = {name for name, (_, at) in self._owners.items()
                      if name not in in_use and now - at > KEEP_UNUSED_S}
            for items in by_owner.values():
                items.sort(reverse=True)
                doomed |= {name for _, name in items[PER_SESSION:] if name not in in_use}
            for name in doomed:
                self._owners.pop(name, None)
            known = set(self._owners)
        try:
            present = list(os.scandir(self.folder))
        except OSError:
            return
        wall = time.time()
        for entry in present:
            stale = entry.name not in known and entry.name not in in_use and \
                wall - _mtime(entry) > KEEP_UNUSED_S
            if entry.name in doomed or stale:
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass  # gone already, or not ours to delete: the next sweep tries again


def _mtime(entry: os.DirEntry) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:
        return time.time()
