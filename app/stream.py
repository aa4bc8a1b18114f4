"""One WebSocket per tab (`/ws`) carrying the newest frame of every run the tab shows.

Flow control is client pull: the tab sends the text ``next`` when it starts drawing a frame, and
the server answers with one binary message holding, for each watched run, its newest frame (if a
new one exists), every scalar row since the last delivered frame, and the run's status. When no
run has anything new the server waits (at most WAIT_S) before answering with status only, so a
paused run costs one small message a second, never a busy loop.

Client -> server (text):
    {"op": "watch", "runs": ["<run id>", ...]}   which runs this tab shows (replaces the list)
    next                                          send me the next envelope
    {"op": "next", "frames": ["<run id>", ...]}   the same, with new frames of these runs only:
                                                  the others get status alone and keep their
                                                  newest frame and rows for a later answer (the
                                                  compare page's focus draws one run at full
                                                  rate and the rest less often)

Server -> client (binary), the envelope; all integers little-endian:
    uint32 H                 byte length of the JSON header (padded with spaces so 4+H is a
                             multiple of 8)
    H bytes  UTF-8 JSON      {"v": 1, "t": server wall time, "runs": [entry, ...]}
    blocks                   raw bytes; each block starts at an 8-aligned offset counted from the
                             first byte after the header (byte 4+H of the message)
  entry = {"run": id, "state": "running"|"paused"|"diverged"|"done"|"failed"|"stopped",
           "message": str, "step": int, "steps_per_s": float, "attempt": int,
           "columns": [STAT_COLUMNS], "rows": [offset, count] or null (float64, count x columns),
           "frame": [offset, length] or null (one gancore frame, see gancore/frames.py),
           "history": [[step, {metric: value}], ...] (only beside the first frame a tab gets
                      of a run: the metrics of the frames before it, so a page that opens
                      late or on an ended run draws its metric charts from the start),
           "error": str (only for runs that cannot be watched)}
"""

from __future__ import annotations

import json
import os
import struct
import time
from typing import Any

import numpy as np
from flask_sock import Sock

from app import runs
from app.limits import UnknownRun
from app.session import session_id
from gancore.frames import STAT_COLUMNS, metrics_of

ENVELOPE_VERSION = 1
WAIT_S = 1.0  # longest wait for a new frame before a status-only answer
POLL_S = 0.004  # per-run wait slice when a tab watches several runs
MAX_WATCH = 8
SILENT_S = 20.0  # no message from the tab for this long: the socket is closed
MAX_MESSAGE_BYTES = 64 * 1024  # a tab sends "next" or a watch list of MAX_WATCH ids
REASK_S = 2.0  # a tab still without a picture of a watched run asks its worker again


def max_tab_fps() -> float:
    """Frames per second one tab may receive at most (0 = no cap beyond each run's frames.fps).

    GANSCOPE_MAX_TAB_FPS lets whoever serves a class (or a test suite) keep a small box
    responsive: a tab draws at most this often, whatever its runs produce."""
    try:
        return max(0.0, float(os.environ.get("GANSCOPE_MAX_TAB_FPS", "0") or 0))
    except ValueError:
        return 0.0


def _pad8(n: int) -> int:
    return (-n) % 8


# One run's part of a message: (status dict, frame bytes or None, rows or None).
Entry = tuple[dict[str, Any], bytes | None, np.ndarray | None]


def encode_envelope(entries: list[Entry]) -> bytes:
    """[(status dict, frame bytes or None, rows or None)] -> one binary message."""
    blocks: list[bytes] = []
    offset = 0
    heads = []
    for status, frame, rows in entries:
        head = dict(status)
        head["columns"] = STAT_COLUMNS
        head["rows"] = head["frame"] = None
        if rows is not None and rows.size:
            data = np.ascontiguousarray(rows, dtype="<f8").tobytes()
            head["rows"] = [offset, int(rows.shape[0])]
            blocks.append(data + b"\0" * _pad8(len(data)))
            offset += len(data) + _pad8(len(data))
        if frame is not None:
            head["frame"] = [offset, len(frame)]
            blocks.append(frame + b"\0" * _pad8(len(frame)))
            offset += len(frame) + _pad8(len(frame))
        heads.append(head)
    header = json.dumps({"v": ENVELOPE_VERSION, "t": time.time(), "runs": heads},
                        separators=(",", ":"), allow_nan=False).encode()
    header += b" " * _pad8(4 + len(header))
    return struct.pack("<I", len(header)) + header + b"".join(blocks)


def decode_envelope(buf: bytes) -> list[tuple[dict[str, Any], bytes | None, np.ndarray | None]]:
    """The inverse of `encode_envelope` (tests and benchmarks; the browser has its own)."""
    (n,) = struct.unpack_from("<I", buf, 0)
    header = json.loads(buf[4:4 + n])
    if header.get("v") != ENVELOPE_VERSION:
        raise ValueError(f"unsupported envelope version {header.get('v')!r}")
    base = 4 + n
    out = []
    for e in header["runs"]:
        rows = frame = None
        if e.get("rows"):
            off, count = e["rows"]
            rows = np.frombuffer(buf, "<f8", count * len(e["columns"]), base + off)
            rows = rows.reshape(count, len(e["columns"]))
        if e.get("frame"):
            off, length = e["frame"]
            frame = bytes(buf[base + off: base + off + length])
        out.append((e, frame, rows))
    return out


class TabStream:
    """What one tab watches and what it was last told; builds each answer to ``next``.

    The tab reads every run from its own position in the run's mailbox (this object is the
    reader key), so other tabs watching the same run take nothing from it. `session` is the
    tab's browser session: only the owner's tabs keep a run from being idle-paused."""

    def __init__(self, registry: runs.RunRegistry, max_fps: float = 0.0,
                 session: str | None = None):
        self.registry = registry
        self.session = session
        self.watching: list[str] = []
        self.min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self.last_frame_at = 0.0
        self.pictured: set[str] = set()  # runs this tab has been sent a frame of
        self.asked_at: dict[str, float] = {}

    def watch(self, run_ids: list[str]) -> None:
        run_ids = list(dict.fromkeys(str(r)[:64] for r in run_ids[:MAX_WATCH]))
        for r in self.watching:
            if r not in run_ids:
                self.registry.unwatch(r, self.session)
                self.registry.forget_reader(r, self)
        for r in run_ids:
            if r not in self.watching:
                self.registry.watch(r, self.session, reader=self)
        self.watching = run_ids

    def close(self) -> None:
        self.watch([])

    def _wait_for_frames(self, wait_s: float, ids: list[str]) -> None:
        deadline = time.monotonic() + wait_s
        if not ids:
            time.sleep(min(wait_s, 0.25))
            return
        while time.monotonic() < deadline:
            if len(ids) == 1:
                if self.registry.wait(ids[0], max(0.0, deadline - time.monotonic()), self):
                    return
                continue
            for r in ids:
                if self.registry.wait(r, POLL_S, self):
                    return

    def _ask_for_missing_pictures(self, wanted: list[str]) -> None:
        """A paused run's frame is taken by whichever tab asks first: when a page is left for
        another (a fork opening beside its parent), the old tab's socket can take the picture
        meant for the new one. A tab without a picture of a run asks again every 2 s."""
        now = time.monotonic()
        for r in wanted:
            if r not in self.pictured and now - self.asked_at.get(r, now) > REASK_S:
                self.registry.request_picture(r)
                self.asked_at[r] = now
            self.asked_at.setdefault(r, now)

    def _add_history(self, head: dict[str, Any], run_id: str, frame: bytes) -> None:
        shown = metrics_of(frame)
        history = self.registry.history(run_id, shown[0]) if shown is not None else []
        if history:
            head["history"] = [[step, metrics] for step, metrics in history]

    def next_message(self, wait_s: float = WAIT_S, frames: set[str] | None = None) -> bytes:
        """Newest frame and rows of every watched run (of the runs in `frames`, when given);
        waits (bounded) while nothing is new."""
        wanted = [r for r in self.watching if frames is None or r in frames]
        self._ask_for_missing_pictures(wanted)
        early = self.last_frame_at + self.min_interval - time.monotonic()
        if early > 0:
            time.sleep(min(early, wait_s))
        self._wait_for_frames(wait_s, wanted)
        entries: list[Entry] = []
        for r in list(self.watching):
            try:
                status = self.registry.status(r)
                run = self.registry.get(r)
            except UnknownRun as e:
                entries.append(({"run": r, "state": "unknown", "message": str(e), "step": 0,
                                 "steps_per_s": 0.0, "error": str(e)}, None, None))
                continue
            got = self.registry.newest(r, self) if r in wanted else None
            frame, rows = got if got is not None else (None, None)
            head = {"run": r, "state": status["state"], "message": status["message"],
                    "step": status["step"], "steps_per_s": status["steps_per_s"],
                    "attempt": run.attempt, "parent": run.parent, "fork_step": run.fork_step}
            if frame is not None and r not in self.pictured:
                self._add_history(head, r, frame)
            entries.append((head, frame, rows))
        if any(frame is not None for _, frame, _ in entries):
            self.last_frame_at = time.monotonic()
        self.pictured.update(e["run"] for e, frame, _ in entries if frame is not None)
        return encode_envelope(entries)


def register(server, registry_getter=runs.registry, max_message: int = MAX_MESSAGE_BYTES) -> Sock:
    """Add the `/ws` route to Dash's Flask server. A tab only ever sends ``next`` or a watch
    list of at most MAX_WATCH ids, so a message over `max_message` bytes is no tab's: the
    socket is closed (1009, message too big) as soon as that many bytes have arrived; the
    rest is never held (Werkzeug reads and drops whatever else the client sends)."""
    server.config.setdefault("SOCK_SERVER_OPTIONS", {})["max_message_size"] = max_message
    sock = Sock(server)

    @sock.route("/ws")
    def frames_socket(ws):  # noqa: ANN001 - flask-sock's WebSocket
        # The handshake carries the cookie: the tab's session decides whose pages keep a run
        # from idle pausing (watching itself needs no ownership).
        tab = TabStream(registry_getter(), max_tab_fps(), session=session_id())
        try:
            while True:
                # A tab answers every envelope at once; silence means it was frozen or closed
                # without a close frame, and a silent socket must not keep its runs watched.
                msg = _receive(ws, SILENT_S)
                if msg is None:
                    break
                if isinstance(msg, bytes):
                    msg = msg.decode("utf-8", "replace")
                if msg == "next":
                    ws.send(tab.next_message())
                elif msg.startswith("{"):
                    try:
                        data = json.loads(msg)
                    except ValueError:
                        continue
                    if data.get("op") == "watch" and isinstance(data.get("runs"), list):
                        tab.watch(data["runs"])
                    elif data.get("op") == "next":
                        frames = data.get("frames")
                        ws.send(tab.next_message(
                            frames=set(map(str, frames)) if isinstance(frames, list) else None))
        finally:
            tab.close()

    return sock


def _receive(ws, silent_s: float, recheck_s: float = 0.5):  # noqa: ANN001, ANN202
    """`ws.receive`, but a socket that simple_websocket closed by itself is noticed: when it
    refuses a too-big message it wakes a waiting receive *before* marking itself closed
    (simple-websocket 1.1), so `ws.receive(timeout=20)` slept on and held the refused
    connection open for 20 s. None after `silent_s` of silence or once the socket closed."""
    deadline = time.monotonic() + silent_s
    while ws.connected:
        msg = ws.receive(timeout=min(recheck_s, max(0.0, deadline - time.monotonic())))
        if msg is not None or time.monotonic() >= deadline:
            return msg
    return None
