"""Download routes for a run the browser can see: its animation (GIF or MP4, rendered from its
recording so far), its config as JSON, its scalars and metrics as CSV, and an animation of 2-4
runs side by side.

    GET /export/run/<run_id>/<what>        what: gif | mp4 | config | csv
    GET /export/compare/<what>?runs=A,B    what: gif | mp4; 2-4 run ids
    optional query: every=k, fps=n, max_frames=n (animations)

Only run ids the registry knows are served, so a path never comes from the URL; seeing a run is
the same right as watching it (`/?run=ID`). Animations are drawn by `python -m gancore export` in
a child process at low priority, one at a time: matplotlib holds the GIL for seconds, which in
the web process would stall every tab's frame stream.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response, request

from app import runs
from app.limits import UnknownRun
from app.run_record import Run

ROOT = Path(__file__).resolve().parents[1]
ANIMATIONS = {"gif": ("image/gif", ".gif"), "mp4": ("video/mp4", ".mp4")}
MAX_FRAMES = 60  # a page export: enough to tell the story in a few seconds of rendering
DEFAULT_FPS = 8
RENDER_TIMEOUT_S = 180
QUEUE_WAIT_S = 60
_render_slot = threading.BoundedSemaphore(1)


class ExportRefused(Exception):
    """A request that cannot be served; `status` is the HTTP status, the message says why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _error(message: str, status: int) -> Response:
    return Response(message, status=status, mimetype="text/plain")


def _attachment(data: bytes, mimetype: str, filename: str) -> Response:
    resp = Response(data, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"  # a run's export grows while it trains
    return resp


def _run(run_id: str) -> Run:
    try:
        return runs.registry().get(run_id)
    except UnknownRun:
        raise ExportRefused(f"no run '{run_id[:80]}' on this server", 404) from None


def _recording(run: Run) -> Path:
    path = Path(run.record_path)
    if not path.is_file():
        raise ExportRefused(f"run {run.run_id} has no recording yet: it records its first "
                            f"frame when its worker starts; try again in a moment", 409)
    return path


def _label(run: Run) -> str:
    """A panel title that fits: the preset (or 'custom run') and the run id's random tail."""
    return f"{run.preset or 'custom run'} · {run.run_id.rsplit('-', 1)[-1]}"


def _int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ExportRefused(f"{name} must be a whole number, got {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise ExportRefused(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def render(paths: list[Path], labels: list[str], suffix: str) -> bytes:
    """Run `python -m gancore export` on the recordings and return the file's bytes."""
    every = _int_arg("every", 1, 1, 10_000)
    fps = _int_arg("fps", DEFAULT_FPS, 1, 30)
    frames = _int_arg("max_frames", MAX_FRAMES, 2, 200)
    if not _render_slot.acquire(timeout=QUEUE_WAIT_S):
        raise ExportRefused("another export is being rendered; try again in a minute", 503)
    try:
        with tempfile.TemporaryDirectory(prefix="ganscope-export-") as tmp:
            out = Path(tmp) / f"export{suffix}"
            cmd = [sys.executable, "-m", "gancore", "export", *map(str, paths),
                   f"--{suffix[1:]}", str(out), "--every", str(every), "--fps", str(fps),
                   "--max-frames", str(frames)]
            for label in labels:
                cmd += ["--label", label]
            nice = shutil.which("nice")
            if nice:  # training and the frame stream come first
                cmd = [nice, "-n", "10", *cmd]
            env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
            try:
                done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                      timeout=RENDER_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise ExportRefused(f"rendering took longer than {RENDER_TIMEOUT_S} s; ask for "
                                    f"fewer frames (max_frames)", 504) from None
            if done.returncode != 0:
                lines = done.stderr.strip().splitlines() or ["the renderer stopped"]
                message = lines[-1].removeprefix("error: ")
                raise ExportRefused(f"export failed: {message}",
                                    409 if done.returncode == 2 else 500)
            return out.read_bytes()
    finally:
        _render_slot.release()


def run_animation(run_id: str, what: str) -> Response:
    mimetype, suffix = ANIMATIONS[what]
    run = _run(run_id)
    data = render([_recording(run)], [_label(run)], suffix)
    return _attachment(data, mimetype, f"ganscope-{run.run_id}{suffix}")


def run_config(run_id: str, _what: str) -> Response:
    run = _run(run_id)
    text = json.dumps(json.loads(run.config.to_json()), indent=2) + "\n"
    return _attachment(text.encode(), "application/json", f"ganscope-{run.run_id}-config.json")


def run_scalars(run_id: str, _what: str) -> Response:
    """Every recorded training step's scalars (losses, D means, gradient norms) and, at the
    recorded frames' steps, the metrics they carried, as CSV (gancore.store.table): a header
    naming every column, empty cells where a value was not measured."""
    from gancore.store.reader import RunReader
    from gancore.store.recording import RecordingError
    from gancore.store.table import step_table

    run = _run(run_id)
    try:
        with RunReader(_recording(run)) as reader:
            columns, rows = step_table(reader)
    except RecordingError as e:
        raise ExportRefused(f"run {run.run_id}: {e}", 409) from None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if not math.isfinite(v) else
                    (int(v) if k == 0 else repr(float(v))) for k, v in enumerate(row)])
    return _attachment(buf.getvalue().encode(), "text/csv", f"ganscope-{run.run_id}-scalars.csv")


RUN_EXPORTS: dict[str, Callable[[str, str], Response]] = {
    "gif": run_animation, "mp4": run_animation, "config": run_config, "csv": run_scalars}


def compare_animation(what: str) -> Response:
    mimetype, suffix = ANIMATIONS[what]
    ids = [r.strip() for r in request.args.get("runs", "").split(",") if r.strip()]
    if not 2 <= len(ids) <= 4:
        raise ExportRefused(f"a comparison needs 2 to 4 run ids in runs=A,B; got {len(ids)}")
    if len(set(ids)) != len(ids):
        raise ExportRefused("a comparison lists each run once")
    chosen = [_run(i) for i in ids]
    paths = [_recording(r) for r in chosen]
    data = render(paths, [_label(r) for r in chosen], suffix)
    return _attachment(data, mimetype, f"ganscope-compare-{len(ids)}-runs{suffix}")


def register(server: Flask) -> None:
    @server.get("/export/run/<run_id>/<what>")
    def export_run(run_id: str, what: str):
        if what not in RUN_EXPORTS:
            return _error(f"unknown export '{what[:20]}': choose one of "
                          f"{', '.join(RUN_EXPORTS)}", 404)
        try:
            return RUN_EXPORTS[what](run_id, what)
        except ExportRefused as e:
            return _error(str(e), e.status)

    @server.get("/export/compare/<what>")
    def export_compare(what: str):
        if what not in ANIMATIONS:
            return _error(f"unknown export '{what[:20]}': choose gif or mp4", 404)
        try:
            return compare_animation(what)
        except ExportRefused as e:
            return _error(str(e), e.status)
