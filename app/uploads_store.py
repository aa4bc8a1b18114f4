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
from typing import Any, NamedTuple

from app.limits import owner_tag
from app.uploads import parse_upload
from gancore.config import ConfigError, RunConfig
from gancore.data.files import DataFileError, upload_name
from gancore.data.uploads import is_upload_name
from gancore.store.recording import storage_cause

KEEP_UNUSED_S = 600.0  # an upload no run uses is deleted after this long
PER_SESSION = 3  # uploads a session keeps at most (the oldest unused one goes first)


class DataPathRefused(ConfigError):
    """A config names a data file this session did not upload here."""


class SavedUpload(NamedTuple):
    """A stored upload: the name a config uses, rows, data columns and the condition columns
    stored after them (app.uploads)."""

    name: str
    rows: int
    cols: int
    cond_cols: int = 0

    def config_changes(self) -> dict[str, Any]:
        """The run's changes to train on it: the file target, its dimension and, with a
        condition, a conditional run reading the stored condition columns."""
        cond = f"{self.cols}:{self.cols + self.cond_cols}" if self.cond_cols else None
        return {"target.name": "file", "target.data_path": self.name, "target.dim": self.cols,
                "target.data_cond": cond, "train.conditional": bool(self.cond_cols)}

    def describe(self, filename: str) -> str:
        """'pts.csv: 2,000 rows × 6 columns, conditioned on 4 more' for the page."""
        text = f"{upload_name(filename)}: {self.rows:,} rows × {self.cols} columns"
        return text + (f", conditioned on {self.cond_cols} more" if self.cond_cols else "")


class UploadStore:
    """Uploads in one folder, by issued name, each with its owner in a side file
    (`.owners/<name>`: the owner tag, app.limits.owner_tag). On disk, not in memory: several web
    processes serving one class (app.shared_runs) share the runs folder, and a tab may upload
    through one process and start its run through another."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = Path(folder)
        self.owners = self.folder / ".owners"
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def save(self, data: bytes, filename: str, owner: str,
             cond: str | None = None) -> SavedUpload:
        """Parse an upload in a child process (app.uploads) and keep it for `owner`; `cond` names
        its condition (columns "6:10" or an HDF5 dataset "/cond"). DataFileError names what is
        wrong."""
        name = f"upload-{secrets.token_hex(8)}.npy"
        try:
            self.owners.mkdir(parents=True, exist_ok=True)
            parsed = parse_upload(data, filename, self.folder / name, max_bytes=self.max_bytes,
                                  cond=cond)
            (self.owners / name).write_text(owner_tag(owner))
        except OSError as e:  # a full or read-only runs folder: say so, no HTTP 500
            (self.folder / name).unlink(missing_ok=True)
            raise DataFileError(f"{upload_name(filename)}: the server cannot store it: "
                                f"{storage_cause(e)}") from None
        return SavedUpload(name, *parsed)

    def _owner_of(self, name: str) -> str | None:
        try:
            return (self.owners / name).read_text().strip() or None
        except OSError:
            return None

    def check_config(self, owner: str, cfg: RunConfig) -> None:
        """Refuse a config whose data file is not an upload of this session."""
        path = cfg.target.data_path
        if path is None:
            return
        mine = is_upload_name(path) and (self.folder / path).is_file() and \
            self._owner_of(path) == owner_tag(owner)
        if not mine:
            raise DataPathRefused(
                "target.data_path: this server trains only on data files uploaded in this "
                "browser session; upload the file on the play page")

    def sweep(self, in_use: set[str]) -> None:
        """Delete uploads no run uses: past KEEP_UNUSED_S, or beyond a session's PER_SESSION
        newest; files without an owner (left by an older server) go after KEEP_UNUSED_S too."""
        wall = time.time()
        with self._lock:
            try:
                present = [e for e in os.scandir(self.folder) if e.is_file()]
            except OSError:
                return
            by_owner: dict[str | None, list[tuple[float, str]]] = {}
            for entry in present:
                by_owner.setdefault(self._owner_of(entry.name), []).append(
                    (_mtime(entry), entry.name))
            doomed = {name for items in by_owner.values() for at, name in items
                      if name not in in_use and wall - at > KEEP_UNUSED_S}
            for owner, items in by_owner.items():
                if owner is not None:
                    items.sort(reverse=True)
                    doomed |= {name for _, name in items[PER_SESSION:] if name not in in_use}
            for name in doomed:
                for path in (self.folder / name, self.owners / name):
                    try:
                        path.unlink()
                    except OSError:
                        pass  # gone already, or not ours to delete: the next sweep tries again


def _mtime(entry: os.DirEntry) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:
        return time.time()
