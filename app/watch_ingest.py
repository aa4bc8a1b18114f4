"""The routes a researcher's own training script posts to (the watch link; gancore.watch is the
client). Scripts, not browsers, call them: every answer is JSON, every body has a budget.

    POST /api/watch               JSON {"v": 1, "name", "config": RunConfig JSON text,
                                  "steps_per_s"?} (<= START_BYTES)
                                  -> 200 {"run", "key", "page"}
    POST /api/watch/<run>/frame   header X-Ganscope-Key, optional X-Ganscope-Step; binary body
                                  (<= FRAME_BYTES): uint32 n_rows, uint32 n_cols (little-endian),
                                  n_rows x n_cols float64 LE (columns gancore.frames.STAT_COLUMNS),
                                  then zero or more bytes: one frame of gancore.frames.encode
                                  -> 204, header X-Ganscope-Viewers: pages showing the run now
    POST /api/watch/<run>/end     header X-Ganscope-Key; JSON {"state": done|failed|diverged|
                                  stopped, "message"} (<= END_BYTES) -> 204
    Refusals: {"error": "<what is wrong>"} with 400 (malformed), 401 (token), 403 (wrong key, or
    a browser page of another origin), 404 (unknown run), 409 (run ended), 413 (too large),
    429 (the dashboard's watched runs are at their limit).

Who may post: the same checks as every request (app.security: Host, Origin, and the token when
the server has one, here as `Authorization: Bearer <token>`), answered in JSON; then each run's
own write key, compared in constant time. A frame is decoded (gancore.frames.decode) and must be
of the run's kind before any reader sees it.
"""

from __future__ import annotations

import json
import math
import re
import struct
from typing import Any

import numpy as np
from flask import Flask, Response, request

from app import security
from app.watched_runs import END_STATES, MESSAGE_CHARS, NAME_CHARS, WatchRefused, WatchStore
from gancore.frames import STAT_COLUMNS, Frame, decode
from gancore.watch_headers import KEY_HEADER, STEP_HEADER, VIEWERS_HEADER

PROTOCOL_VERSION = 1
START_BYTES = 256 * 1024  # a config is a few KB; a data file's path or a long label at most
FRAME_BYTES = 8 * 2**20  # the largest n-D frame a config allows is about 5.4 MB
END_BYTES = 4096
PREFIX = "/api/watch"
_ROWS_HEAD = struct.Struct("<II")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def error(status: int, message: str) -> Response:
    response = Response(json.dumps({"error": message}) + "\n", status,
                        mimetype="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="ganscope"'
    return response


def read_body(budget: int) -> bytes:
    """The request body, refused (413) past `budget` bytes: by its Content-Length before any of
    it is read, else as soon as budget + 1 bytes arrived."""
    length = request.content_length
    if length is not None and length > budget:
        raise WatchRefused(413, f"the body is {length:,} bytes; this route takes at most "
                                f"{budget:,}")
    data = request.stream.read(budget + 1)
    if len(data) > budget:
        raise WatchRefused(413, f"the body is over {budget:,} bytes, the most this route takes")
    return data


def json_body(budget: int) -> dict[str, Any]:
    try:
        body = json.loads(read_body(budget))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WatchRefused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise WatchRefused(400, "the body is not a JSON object")
    return body


def start_fields(body: dict[str, Any]) -> tuple[str, str, float]:
    """(name, config JSON, steps/s) of a start post; WatchRefused 400 naming the bad field."""
    if body.get("v") != PROTOCOL_VERSION:
        raise WatchRefused(400, f"v must be {PROTOCOL_VERSION} (the watch link's version), "
                                f"got {body.get('v')!r:.40}")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise WatchRefused(400, "name must be a non-empty string (the run's label)")
    name = name.strip()
    if len(name) > NAME_CHARS or _CONTROL.search(name):
        raise WatchRefused(400, f"name must be at most {NAME_CHARS} printable characters")
    config = body.get("config")
    if isinstance(config, dict):
        config = json.dumps(config)
    if not isinstance(config, str):
        raise WatchRefused(400, "config must be the text of RunConfig.to_json()")
    rate = body.get("steps_per_s", 0.0)
    if rate is None:
        rate = 0.0
    if isinstance(rate, bool) or not isinstance(rate, int | float) or \
            not math.isfinite(rate) or rate < 0:
        raise WatchRefused(400, "steps_per_s must be a finite number >= 0")
    return name, config, float(rate)


def frame_post(body: bytes, kind: str) -> tuple[np.ndarray, tuple[bytes, Frame] | None]:
    """(rows, (frame bytes, decoded frame) or None) of a frame post; WatchRefused 400 naming
    what is malformed."""
    if len(body) < _ROWS_HEAD.size:
        raise WatchRefused(400, "the body is shorter than its 8-byte head (uint32 n_rows, "
                                "uint32 n_cols)")
    n_rows, n_cols = _ROWS_HEAD.unpack_from(body, 0)
    if n_cols != len(STAT_COLUMNS):
        raise WatchRefused(400, f"n_cols is {n_cols}; rows have {len(STAT_COLUMNS)} columns "
                                f"({', '.join(STAT_COLUMNS)})")
    end = _ROWS_HEAD.size + n_rows * n_cols * 8
    if end > len(body):
        raise WatchRefused(400, f"n_rows is {n_rows:,} but the body holds "
                                f"{(len(body) - _ROWS_HEAD.size) // (8 * n_cols):,} rows")
    rows = np.frombuffer(body, "<f8", n_rows * n_cols, _ROWS_HEAD.size).reshape(n_rows, n_cols)
    # A loss may be NaN or infinite (a run diverging: the worker's rows carry it the same way);
    # the step may not: the charts and the recording place every row by it.
    steps = rows[:, 0]
    bad = np.flatnonzero(~np.isfinite(steps) | (steps < 0) | (steps != np.floor(steps)))
    if len(bad):
        raise WatchRefused(400, f"row {bad[0]}'s step is {float(steps[bad[0]])}: the first column "
                                "is the training step, a whole number >= 0")
    rows = rows.astype(np.float64)  # native order, its own memory (the body is not kept)
    blob = body[end:]
    if not blob:
        return rows, None
    try:
        frame = decode(blob)
    except (ValueError, KeyError, TypeError, IndexError, OverflowError, AttributeError) as e:
        raise WatchRefused(400, f"the frame after the rows does not decode (gancore.frames): "
                                f"{str(e)[:200] or type(e).__name__}") from None
    if frame.kind != kind:
        raise WatchRefused(400, f"the frame is {frame.kind!r} but the run's config makes "
                                f"{kind!r} frames")
    if not isinstance(frame.step, int) or frame.step < 0:
        raise WatchRefused(400, "the frame's step must be an integer >= 0")
    return rows, (blob, frame)


def step_header() -> int | None:
    text = request.headers.get(STEP_HEADER)
    if text is None:
        return None
    try:
        step = int(text)
    except ValueError:
        raise WatchRefused(400, f"{STEP_HEADER} must be an integer") from None
    if step < 0:
        raise WatchRefused(400, f"{STEP_HEADER} must be >= 0")
    return step


def end_fields(body: dict[str, Any]) -> tuple[str, str]:
    state, message = body.get("state"), body.get("message", "")
    if state not in END_STATES:
        raise WatchRefused(400, f"state must be one of {', '.join(END_STATES)}")
    if message is None:
        message = ""
    if not isinstance(message, str) or len(message) > MESSAGE_CHARS:
        raise WatchRefused(400, f"message must be a string of at most {MESSAGE_CHARS} "
                                "characters")
    return state, _CONTROL.sub(" ", message)


def _checked_request() -> Response | None:
    """The server's own checks (Host, Origin, token) on the watch routes, refused in JSON; a
    page of another origin is refused here like any cross-origin POST."""
    if not request.path.startswith(PREFIX):
        return None
    refused = security.check_request()
    if refused is None:
        return None
    return error(refused.status_code, refused.get_data(as_text=True).strip())


def register(server: Flask, store_getter: Any) -> None:
    """Add the three routes to the Flask server; `store_getter()` is the WatchedRuns. Call after
    app.security.install: the JSON check must run before its text one."""
    server.before_request_funcs.setdefault(None, []).insert(0, _checked_request)

    def store() -> WatchStore:
        got = store_getter()
        if got is None:
            raise WatchRefused(503, "this dashboard does not take watched runs (it serves a "
                                    "class through Redis); start one with `ganscope` on this "
                                    "machine")
        return got

    def answer(work: Any) -> Response:
        try:
            return work()
        except WatchRefused as e:
            return error(e.status, str(e))
        except Exception as e:  # noqa: BLE001 - a script gets a reason, never a traceback
            server.logger.warning("watch post failed (%s)", type(e).__name__, exc_info=True)
            return error(500, f"the dashboard failed to take this post ({type(e).__name__})")

    @server.post(PREFIX)
    def watch_start():
        def work() -> Response:
            name, config, rate = start_fields(json_body(START_BYTES))
            watched = store().start(name, config, rate)
            run_id = watched.run_id
            return Response(json.dumps({"run": run_id, "key": watched.key,
                                        "page": f"/?run={run_id}"}),
                            200, mimetype="application/json")
        return answer(work)

    @server.post(PREFIX + "/<run_id>/frame")
    def watch_frame(run_id: str):
        def work() -> Response:
            watched = store().authorized(run_id, request.headers.get(KEY_HEADER))
            body = read_body(FRAME_BYTES)
            if watched.ended:
                raise WatchRefused(409, f"this run has ended ({watched.state}); start a new "
                                        "one with POST /api/watch")
            rows, frame = frame_post(body, watched.kind)
            viewers = watched.post(rows, frame, step_header())
            return Response(status=204, headers={VIEWERS_HEADER: str(viewers)})
        return answer(work)

    @server.post(PREFIX + "/<run_id>/end")
    def watch_end(run_id: str):
        def work() -> Response:
            watched = store().authorized(run_id, request.headers.get(KEY_HEADER))
            state, message = end_fields(json_body(END_BYTES))
            watched.end(state, message)
            return Response(status=204)
        return answer(work)
