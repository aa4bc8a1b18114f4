"""Parse a data upload (CSV, .npy, HDF5) in a child process with memory and time limits.

`gancore.data.files` refuses a file past its size budget from the header, before anything is
inflated; the child is the second wall, for what a crafted file can still make a C library do
(a 2 MB gzip-compressed HDF5 file took the web process to 5-9 GB when it was parsed there).

Protocol: the parent writes the upload's bytes to a hidden temporary file beside `dest` and runs
`python -m app.limited MEMORY app.uploads JOB` (app/limited.py), JOB being JSON
{"src", "name", "out", "dataset", "cond", "max_bytes"}. The child writes the checked float32
array to "out" as .npy and prints one JSON line: {"rows": R, "cols": C, "cond_cols": K}, or
{"error": MESSAGE} with a DataFileError's one-line message. With a condition ("cond": columns
"6:10" or an HDF5 dataset "/cond", gancore.data.conditions), the array holds the C data columns
first and the K condition columns after them, whatever the file's own order: a stored upload's
condition is always its columns C:C+K. The parent moves "out" to `dest`; after any failure it
leaves nothing on disk.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

from app.limited import EXIT_OUT_OF_MEMORY, MEMORY_BYTES, run_limited
from gancore.data.files import DataFileError, upload_name

TIMEOUT_S = 30.0


class ParsedUpload(NamedTuple):
    """An upload's shape as stored: rows, data columns, and condition columns after them."""

    rows: int
    cols: int
    cond_cols: int = 0


def parse_upload(data: bytes, filename: str, dest: Path, *, max_bytes: int,
                 dataset: str | None = None, cond: str | None = None,
                 timeout_s: float = TIMEOUT_S, memory_bytes: int = MEMORY_BYTES) -> ParsedUpload:
    """Check an uploaded data file in a child process and write it to `dest` as a float32 .npy
    (data columns, then any condition columns `cond` names). Raises DataFileError whose message
    starts with the file's base name; then neither `dest` nor any temporary file exists. `dest`'s
    folder must exist; OSError when it cannot be written (a full disk is the caller's to word)."""
    dest = Path(dest)
    name = upload_name(filename)
    token = secrets.token_hex(8)
    src = dest.parent / f".{token}.upload"
    out = dest.parent / f".{token}.npy.part"
    job = {"src": str(src), "name": name, "out": str(out), "dataset": dataset,
           "cond": (cond or "").strip() or None, "max_bytes": int(max_bytes)}
    try:
        with open(src, "xb") as fh:
            fh.write(data)
        answer = _run_child(job, timeout_s, memory_bytes)
        out.replace(dest)
        return ParsedUpload(answer["rows"], answer["cols"], answer.get("cond_cols", 0))
    finally:
        src.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


def _run_child(job: dict[str, Any], timeout_s: float, memory_bytes: int) -> dict[str, Any]:
    """The child's answer {"rows", "cols"}; DataFileError for its refusal or its failure. Its
    stderr is never shown: a traceback would name server paths."""
    name = job["name"]
    try:
        done = run_limited("app.uploads", [json.dumps(job)], memory_bytes=memory_bytes,
                           timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise DataFileError(f"{name}: took longer than {timeout_s:g} s to read") from None
    if done.returncode == EXIT_OUT_OF_MEMORY:
        raise DataFileError(f"{name}: ran out of its memory budget ({memory_bytes / 2**20:.0f} "
                            "MB) while being read") from None
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        answer = {}
    if "error" in answer:
        raise DataFileError(str(answer["error"]))
    if done.returncode != 0 or not {"rows", "cols"} <= answer.keys():
        raise DataFileError(f"{name}: could not be read (the reader stopped with exit status "
                            f"{done.returncode})")
    return answer


def _child(job: dict[str, Any]) -> dict[str, Any]:
    """In the child: read, check, and save the array; a refusal is an answer, not a crash."""
    import numpy as np

    from gancore.data.files import load_conditional_bytes

    with open(job["src"], "rb") as fh:
        data = fh.read(job["max_bytes"] + 1)  # one byte more tells "too large"
    try:
        x, c = load_conditional_bytes(data, job["name"], job["dataset"], job.get("cond"),
                                      max_bytes=job["max_bytes"])
    except DataFileError as e:
        return {"error": str(e)}
    with open(job["out"], "xb") as fh:
        np.save(fh, x if c is None else np.hstack([x, c]))
    return {"rows": int(x.shape[0]), "cols": int(x.shape[1]),
            "cond_cols": 0 if c is None else int(c.shape[1])}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))), flush=True)
