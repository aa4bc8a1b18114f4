"""What the class view (/class) shows of every student's live run: one summary per run (preset,
step, state, newest detector event) with a small picture made from the run's newest frame, all in
one JSON answer that a teacher's page polls twice a second (`/api/class`).

Runs are read through the registry the pages use (`live`, `status`, `pictures`), on either
backend. Glancing is not watching: the pictures are peeked (no reader position, no member in a
run's viewers set), so the teacher's page neither keeps a run from idling nor takes a slot.

The picture, per frame kind, every array quantised to uint8 and sent as base64:
    "points" (2-D, and n-D on its projection plane): {"bounds": [[x0, x1], [y0, y1]],
        "real": x,y byte pairs (REAL_POINTS at most), "fake": pairs (FAKE_POINTS at most),
        "d": D_CELLS x D_CELLS codes, rows bottom to top, or null; "d_probabilistic": bool}
        A point outside the bounds sits on the edge it left by.
    "curves" (1-D): {"x_range": [lo, hi], "real": CURVE_BINS density codes, "fake": CURVE_BINS
        histogram codes (both on one scale), "d": CURVE_BINS codes of D(x) or null,
        "d_probabilistic": bool}
Measured (`python -m bench.class_view`, 2-core box under load ~20): a summary is 0.5-1.6 KB,
so 30 runs answer in ~36 KB (73 KB/s per teacher tab at two polls a second); a new picture costs
0.4-0.9 ms (decode included), and unchanged frames reuse the last one. A server-side PNG of the
same run through the export path (gancore.render, matplotlib) took 760 ms: 30 runs twice a
second would need tens of cores, so the browser draws (assets/classview.js).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from flask import Flask, Response

from app import class_access
from app.limits import UnknownRun
from app.watched_runs import is_watched
from gancore.frames import Frame, decode
from gancore.teach.presets import preset_of
from gancore.vocabulary import EVENTS

if TYPE_CHECKING:
    from app.run_record import Run
    from app.runs import RunRegistry

SUMMARY_VERSION = 1
REAL_POINTS = 120  # enough to show where the data is on a 200 px canvas
FAKE_POINTS = 240  # the samples are what a teacher looks at: twice the real ones
D_CELLS = 16  # D's surface as 16 x 16 cells: its shape, not its detail
CURVE_BINS = 64
RUN_BYTES = 3_000  # the budget of one run's summary in the answer (a test holds it)
MAX_RUNS = 60  # two classes of 30; more are counted in "more", not drawn
ANSWER_BYTES = MAX_RUNS * RUN_BYTES + 1_000
CACHE_S = 0.4  # one answer serves every teacher tab that asks within this long
MESSAGE_CHARS = 160
# What a run does is a phenomenon; these kinds are bookkeeping, not findings.
NOT_DETECTED = frozenset({"fork", "edit", "recording"})
# An absolute path in a message (a worker's error may name a file): never shown.
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[\w.~-]+[\\/])+[\w.~-]*")


@dataclass(frozen=True)
class RunSummary:
    """One run as the class view shows it. `student` is a short tag of the owner's browser
    session (a hash: the session id itself would let its holder act as the student)."""

    run: str
    student: str
    preset: str  # the preset's name, or "custom" once the config is no preset's
    kind: str  # "1d", "2d" or "nd"
    state: str
    message: str
    step: int
    steps_per_s: float
    event: dict[str, Any] | None  # {"step", "kind", "label", "message"}: the newest finding
    picture: dict[str, Any] | None


def student_tag(owner: str) -> str:
    return hashlib.sha256(f"class-view:{owner}".encode()).hexdigest()[:4]


def preset_name(config_json: str) -> str:
    """The preset a config is exactly, or "custom": a preset the student changed no longer
    shows what its name promises."""
    return preset_of(config_json) or "custom"


def without_paths(text: str) -> str:
    return _PATH.sub("…", text)[:MESSAGE_CHARS]


# ---- pictures ---------------------------------------------------------------------------------

def _b64(codes: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(codes, dtype=np.uint8).tobytes()).decode()


def _every(n_have: int, n_want: int) -> np.ndarray:
    """Evenly spread indices (no random draw: the same frame gives the same picture)."""
    return np.linspace(0, n_have - 1, min(n_have, n_want)).round().astype(int)


def _point_codes(points: np.ndarray, bounds: np.ndarray, n: int) -> str:
    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] < 2:
        return ""
    pts = np.asarray(points[_every(len(points), n), :2], dtype=np.float64)
    lo, hi = bounds[:, 0], bounds[:, 1]
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.clip(np.rint((pts - lo) / span * 255.0), 0, 255)
    q = np.nan_to_num(q, nan=0.0)
    return _b64(q.ravel())


def _grid_codes(frame: Frame) -> str | None:
    if "d_grid" not in frame.arrays:
        return None
    grid = np.asarray(frame.arrays["d_grid"])
    rows, cols = _every(grid.shape[0], D_CELLS), _every(grid.shape[1], D_CELLS)
    return _b64(grid[np.ix_(rows, cols)].astype(np.uint8))


def _resample(values: np.ndarray, n: int) -> np.ndarray:
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        return np.zeros(n)
    return np.interp(np.linspace(0, v.size - 1, n), np.arange(v.size), v)


def _points_picture(frame: Frame, real: str, fake: str, bounds_key: str) -> dict[str, Any]:
    bounds = np.asarray(frame.meta[bounds_key], dtype=np.float64).reshape(-1, 2)[:2]
    return {"kind": "points", "bounds": bounds.round(4).tolist(),
            "real": _point_codes(frame.value(real), bounds, REAL_POINTS)
            if real in frame.arrays else "",
            "fake": _point_codes(frame.value(fake), bounds, FAKE_POINTS)
            if fake in frame.arrays else "",
            "d": _grid_codes(frame),
            "d_probabilistic": bool(frame.meta.get("d_probabilistic", False))}


def _curves_picture(frame: Frame) -> dict[str, Any]:
    real = _resample(frame.value("real_density"), CURVE_BINS) \
        if "real_density" in frame.arrays else np.zeros(CURVE_BINS)
    fake = _resample(frame.value("fake_hist"), CURVE_BINS) \
        if "fake_hist" in frame.arrays else np.zeros(CURVE_BINS)
    top = max(float(real.max()), float(fake.max()), 1e-12)
    d = None
    probabilistic = bool(frame.meta.get("d_probabilistic", False))
    if "d_curve" in frame.arrays:
        dv = _resample(frame.value("d_curve"), CURVE_BINS)
        lo, hi = (0.0, 1.0) if probabilistic else (float(dv.min()), float(dv.max()))
        d = _b64(np.rint(np.clip((dv - lo) / (hi - lo if hi > lo else 1.0), 0, 1) * 255))
    return {"kind": "curves", "x_range": [round(float(x), 4) for x in frame.meta["x_range"]],
            "real": _b64(np.rint(np.clip(real / top, 0, 1) * 255)),
            "fake": _b64(np.rint(np.clip(fake / top, 0, 1) * 255)),
            "d": d, "d_probabilistic": probabilistic}


def picture(frame: Frame) -> dict[str, Any] | None:
    """The small picture of one frame (see the module docstring); None for a frame that lacks
    what its kind needs."""
    try:
        if frame.kind == "1d":
            return _curves_picture(frame)
        if frame.kind == "2d":
            return _points_picture(frame, "real", "fake", "bounds")
        return _points_picture(frame, "proj_real", "proj_fake", "plane_bounds")
    except (KeyError, ValueError, TypeError):
        return None


def newest_event(frame: Frame) -> dict[str, Any] | None:
    """The newest detector event the frame carries (its run's last 50 events)."""
    for e in reversed(frame.meta.get("events") or []):
        kind = e.get("kind")
        if kind in EVENTS and kind not in NOT_DETECTED:
            return {"step": int(e.get("step", 0)), "kind": kind, "label": EVENTS[kind].label,
                    "message": without_paths(str(e.get("message", "")))}
    return None


# ---- the answer ---------------------------------------------------------------------------------

class ClassView:
    """Builds the class view's answer from a registry; keeps each run's picture until its
    worker makes a new frame, and the whole answer for CACHE_S."""

    def __init__(self, registry: RunRegistry):
        self.registry = registry
        self._pictures: dict[str, tuple[int, dict[str, Any] | None, dict[str, Any] | None]] = {}
        self._presets: dict[str, tuple[str, str]] = {}  # run id -> (config JSON, name)
        self._lock = threading.Lock()
        self._answer: tuple[float, bytes] | None = None

    def summaries(self) -> tuple[list[RunSummary], int]:
        """The live runs' summaries, grouped by student (in the order students started), and
        how many more runs there were than MAX_RUNS."""
        runs = self.registry.live()
        first: dict[str, float] = {}
        for r in runs:
            first.setdefault(r.owner, r.created)
        runs.sort(key=lambda r: (first[r.owner], r.created))
        shown, more = runs[:MAX_RUNS], max(0, len(runs) - MAX_RUNS)
        frames = self.registry.pictures([r.run_id for r in shown])
        out = []
        for r in shown:
            try:
                status = self.registry.status(r.run_id)
            except UnknownRun:
                continue
            pic, event = self._picture_of(r.run_id, frames.get(r.run_id))
            out.append(RunSummary(
                run=r.run_id, student=student_tag(r.owner), preset=self._preset(r),
                kind=r.kind, state=str(status["state"]),
                message=without_paths(str(status.get("message") or "")),
                step=int(status.get("step") or 0),
                steps_per_s=round(float(status.get("steps_per_s") or 0.0), 1),
                event=event, picture=pic))
        live_ids = {r.run_id for r in runs}
        for gone in self._pictures.keys() - live_ids:
            del self._pictures[gone]
        for gone in self._presets.keys() - live_ids:
            del self._presets[gone]
        return out, more

    def _preset(self, run: Run) -> str:
        if is_watched(run):  # a researcher's own script: its label says whose
            return f"{run.script} (own script)"
        text = run.config.to_json()
        known = self._presets.get(run.run_id)
        if known is None or known[0] != text:
            known = (text, preset_name(text))
            self._presets[run.run_id] = known
        return known[1]

    def _picture_of(self, run_id: str, got: tuple[int, bytes] | None
                    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        kept = self._pictures.get(run_id)
        if got is None:
            return (kept[1], kept[2]) if kept else (None, None)
        seq, blob = got
        if kept is not None and kept[0] == seq:
            return kept[1], kept[2]
        try:
            frame = decode(blob)
        except (ValueError, KeyError):
            return (kept[1], kept[2]) if kept else (None, None)
        pic, event = picture(frame), newest_event(frame)
        self._pictures[run_id] = (seq, pic, event)
        return pic, event

    def answer(self) -> bytes:
        """The JSON answer of /api/class, made at most once every CACHE_S."""
        with self._lock:
            now = time.monotonic()
            if self._answer is not None and now - self._answer[0] < CACHE_S:
                return self._answer[1]
            summaries, more = self.summaries()
            body = json.dumps({"v": SUMMARY_VERSION, "t": round(time.time(), 3),
                               "runs": [asdict(s) for s in summaries], "more": more},
                              separators=(",", ":"), allow_nan=False).encode()
            self._answer = (now, body)
            return body


def register(server: Flask, registry_getter: Any = None) -> None:
    """Add GET /api/class and the teacher check on the class view's paths (app.class_access)
    to the Flask server."""
    from app import runs

    getter = registry_getter or runs.registry
    class_access.install(server)
    views: dict[int, ClassView] = {}

    @server.get("/api/class")
    def api_class():
        refused = class_access.teacher_refusal()
        if refused is not None:  # the path check ran first; this is a second lock
            return refused
        registry = getter()
        view = views.get(id(registry))
        if view is None:
            views.clear()
            view = views[id(registry)] = ClassView(registry)
        response = Response(view.answer(), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response
