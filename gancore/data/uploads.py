"""Data files a dashboard user uploaded: the names the server issues for them, and where a run's
worker finds them. A config from the web names an upload by such a name, never by a path; the
worker resolves it inside the uploads folder the dashboard gave it. The CLI takes real paths."""

from __future__ import annotations

import re
from pathlib import Path

from gancore.data.files import DataFileError

UPLOAD_NAME_RE = re.compile(r"^upload-[0-9a-f]{16}\.npy$")

_uploads_dir: Path | None = None  # set once per worker process by the dashboard's run spec


def is_upload_name(data_path: str | None) -> bool:
    return data_path is not None and UPLOAD_NAME_RE.match(data_path) is not None


def set_uploads_dir(folder: str | Path | None) -> None:
    """Where this process finds uploads (a worker of the dashboard; the CLI never sets it)."""
    global _uploads_dir
    _uploads_dir = Path(folder) if folder else None


def resolve(data_path: str) -> str:
    """The file to open for a config's data_path: an upload name inside the uploads folder, any
    other text as the path it is (the CLI's --data)."""
    if not is_upload_name(data_path) or _uploads_dir is None:
        return data_path
    path = _uploads_dir / data_path
    if not path.is_file():
        raise DataFileError(f"{data_path}: the uploaded file is no longer on the server; "
                            "upload it again")
    return str(path)
