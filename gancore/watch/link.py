"""The client side of the watch link (the protocol: docs/watch.md, "The link"): a background
thread that registers the run with a dashboard and posts its scalar rows and newest frame.

The training loop only ever calls `offer`, which appends under a lock and returns: the thread
sends, on one keep-alive connection (stdlib http.client; gancore imports no web stack). Frames
are pictures of "now", so only the newest waiting one is sent and older ones are dropped; rows
are the run's history, so every one is sent, in order (at most MAX_HELD_ROWS are held while the
dashboard is away; the oldest go first beyond that). An unreachable dashboard costs the training
nothing: the thread retries every RETRY_S and the script trains and records on.
"""

from __future__ import annotations

import http.client
import json
import struct
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np

from gancore.frames import STAT_COLUMNS, Frame, encode
from gancore.watch_headers import KEY_HEADER, STEP_HEADER, VIEWERS_HEADER

RETRY_S = 3.0  # between attempts to reach a dashboard that did not answer
KEEPALIVE_S = 5.0  # a post at least this often, so the dashboard knows the script lives
TIMEOUT_S = 10.0
ROWS_PER_POST = 50_000  # 2.8 MB of rows: well inside the 8 MB body budget, beside a frame
MAX_HELD_ROWS = 2_000_000  # 112 MB: rows kept for a dashboard that is away
END_WAIT_S = 5.0


class Refused(Exception):
    """The dashboard answered, and said no in a way retrying cannot fix (bad token, bad run)."""


class Link:
    """A watched run's connection to one dashboard. `resolve` returns the dashboard's base URL
    (it may start one, so it runs on the link's thread); `say` prints a line for the user."""

    def __init__(self, resolve: Callable[[], str], name: str, config_json: str,
                 token: str | None = None, say: Callable[[str], None] = print):
        self._resolve, self.name, self.config_json = resolve, name, config_json
        self.token, self._say = token, say
        self.base: str | None = None
        self.run: str | None = None
        self.page_url: str | None = None
        self.page_ready = threading.Event()
        self._key = ""
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._rows: list[np.ndarray] = []
        self._frame: Frame | None = None
        self._ending: tuple[str, str] | None = None
        self._refused = False
        self._said: set[str] = set()
        self.frames_sent = 0
        # Pages open on the run, as the dashboard's last reply to a post said (its
        # X-Ganscope-Viewers header; None until one said): the watcher spends the live frame
        # share only while a page paints, and the low one for the class view's thumbnails.
        self.viewers: int | None = None
        self._thread = threading.Thread(target=self._loop, name="ganscope-watch-link",
                                        daemon=True)
        self._thread.start()

    @property
    def live(self) -> bool:
        """Whether a dashboard takes frames now (the watcher makes them only then)."""
        return self.run is not None and not self._refused

    @property
    def painting(self) -> bool:
        """Whether a page shows the run now: taking frames, and the dashboard's last reply
        counted a viewer (a dashboard too old to count them counts as one)."""
        return self.live and (self.viewers is None or self.viewers > 0)

    # ---- the training thread's side ------------------------------------------------------
    def offer(self, rows: np.ndarray, frame: Frame | None = None) -> None:
        """Queue rows (all kept) and a frame (replacing one not yet sent); never blocks."""
        with self._lock:
            if self._ending is not None:
                return
            if len(rows):
                self._rows.append(rows)
                self._trim()
            if frame is not None:
                # Step-to-paint starts here, where the training loop hands the frame over: the
                # time it waits for the thread counts too.
                frame.meta["sent_at"] = time.time()
                self._frame = frame
        if frame is not None:
            self._wake.set()

    def end(self, state: str, message: str, wait: bool = True) -> None:
        """Send what is waiting, then end the run on the dashboard (later offers are ignored);
        `wait`: until that is done, or END_WAIT_S + TIMEOUT_S at most."""
        with self._lock:
            if self._ending is None:
                self._ending = (state, message[:300])
        self._wake.set()
        if wait:
            self._thread.join(END_WAIT_S + TIMEOUT_S)

    def _trim(self) -> None:
        held = sum(len(r) for r in self._rows)
        while held > MAX_HELD_ROWS and len(self._rows) > 1:
            held -= len(self._rows.pop(0))

    # ---- the link's thread ------------------------------------------------------------------
    def _loop(self) -> None:
        retry_at = 0.0
        while True:
            wait = KEEPALIVE_S if self.run or self._refused else \
                max(0.0, retry_at - time.monotonic())
            self._wake.wait(min(wait, KEEPALIVE_S))
            self._wake.clear()
            ending = self._ending
            if self._refused:
                if ending:
                    return
                continue
            try:
                if self.run is None:
                    if time.monotonic() < retry_at and not ending:
                        continue
                    self._register()
                self._send_waiting()
                if ending:
                    self._post_end(*ending)
                    return
            except Refused as e:
                self._refused = True
                self._say_once("refused", f"ganscope: {e}; training and recording go on")
            except (OSError, http.client.HTTPException, ValueError) as e:
                self._drop_connection()
                if ending:
                    return  # the script is closing: do not hold it up for an absent dashboard
                retry_at = time.monotonic() + RETRY_S
                where = self.base or "the dashboard"
                self._say_once("away", f"ganscope: no answer from {where} ({_why(e)}); training "
                                       f"and recording go on, retrying every {RETRY_S:g} s")

    def _register(self) -> None:
        if self.base is None:
            try:
                self.base = self._resolve().rstrip("/")
            except OSError as e:  # no dashboard could be started: trying again would not help
                raise Refused(f"no dashboard to show the run ({e})") from None
        body = json.dumps({"v": 1, "name": self.name, "config": self.config_json}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status, reply, _ = self._request("/api/watch", body, headers)
        if status != 200:
            raise _refusal(status, reply, retry=status == 429 or status >= 500)
        try:
            answer = json.loads(reply)
            self.run, self._key = str(answer["run"]), str(answer["key"])
            page = str(answer.get("page") or f"/?run={self.run}")
        except (KeyError, TypeError, AttributeError):
            raise ValueError("the dashboard's answer is not a watch registration") from None
        if self.token:
            page += ("&" if "?" in page else "?") + urlencode({"token": self.token})
        self.page_url = self.base + page
        self.page_ready.set()
        self._said.discard("away")
        self._say(f"ganscope: watching '{self.name}' live at {self.page_url}")

    def _send_waiting(self) -> None:
        """Post every waiting row and the newest frame; on a failure the rows go back first in
        line (and the frame, unless a newer one came meanwhile)."""
        with self._lock:
            rows = np.concatenate(self._rows) if self._rows else \
                np.empty((0, len(STAT_COLUMNS)))
            frame, self._rows, self._frame = self._frame, [], None
        sent = 0
        try:
            while True:
                chunk = rows[sent:sent + ROWS_PER_POST]
                last = sent + len(chunk) >= len(rows)
                self._post_frame(chunk, frame if last else None)
                sent += len(chunk)
                if last:
                    return
        except BaseException:
            with self._lock:
                if sent < len(rows):
                    self._rows.insert(0, rows[sent:])
                if self._frame is None:
                    self._frame = frame
            raise

    def _post_frame(self, rows: np.ndarray, frame: Frame | None) -> None:
        body = struct.pack("<II", len(rows), len(STAT_COLUMNS)) + \
            np.ascontiguousarray(rows, dtype="<f8").tobytes()
        headers = {"Content-Type": "application/octet-stream", KEY_HEADER: self._key}
        if frame is not None:
            body += encode(frame)  # meta["sent_at"] set by offer: the page measures from it
            headers[STEP_HEADER] = str(int(frame.step))
        status, reply, viewers = self._request(f"/api/watch/{self.run}/frame", body, headers)
        if status in (404, 409):  # the dashboard restarted, or ended the run: start anew
            self._say(f"ganscope: the dashboard no longer has run {self.run} "
                      f"({_message(reply)}); registering again")
            self.run = None
            self.page_ready.clear()
            self._register()
            self._post_frame(rows, frame)
        elif status == 413 and frame is not None:
            self._say_once("large", "ganscope: a frame was over the dashboard's size budget; "
                                    "sending rows without it")
            self._post_frame(rows, None)
        elif status in (401, 403):
            raise Refused(f"the dashboard refused this run's frames ({_message(reply)})")
        elif status >= 500:
            raise ValueError(f"HTTP {status}")
        elif status != 204:
            self._say_once(f"http{status}", f"ganscope: the dashboard rejected a post "
                                            f"(HTTP {status}: {_message(reply)})")
        else:
            self.viewers = viewers
            if frame is not None:
                self.frames_sent += 1

    def _post_end(self, state: str, message: str) -> None:
        if self.run is None:
            return
        body = json.dumps({"state": state, "message": message}).encode()
        self._request(f"/api/watch/{self.run}/end", body,
                      {"Content-Type": "application/json", KEY_HEADER: self._key})
        self._drop_connection()

    def _request(self, path: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, bytes, int | None]:
        """One POST on the kept-alive connection; a connection the server closed meanwhile is
        opened again once. Returns the status, the body and the viewer count the reply gave."""
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                return response.status, response.read(), _viewers(response)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop_connection()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            assert self.base is not None  # resolved before the first request
            url = urlsplit(self.base)
            cls = http.client.HTTPSConnection if url.scheme == "https" else \
                http.client.HTTPConnection
            self._conn = cls(url.hostname or "127.0.0.1", url.port, timeout=TIMEOUT_S)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _say_once(self, key: str, line: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self._say(line)


def _viewers(response: http.client.HTTPResponse) -> int | None:
    """The page count a dashboard's reply carries, None when it carries none (or garbage)."""
    raw = response.getheader(VIEWERS_HEADER)
    try:
        return max(0, int(raw)) if raw is not None else None
    except ValueError:
        return None


def token_of(url: str) -> str | None:
    """The access token in a dashboard link (`...?token=...`), if any."""
    values = parse_qs(urlsplit(url).query).get("token")
    return values[0] if values else None


def base_of(url: str) -> str:
    """The dashboard's origin (scheme://host:port) of a link to any of its pages."""
    u = urlsplit(url if "://" in url else f"http://{url}")
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"dashboard: not an http(s) address: {url!r}")
    return f"{u.scheme}://{u.netloc}"


def _message(reply: bytes) -> str:
    try:
        return str(json.loads(reply).get("error", ""))[:200] or "no reason given"
    except (ValueError, AttributeError):
        return "no reason given"


def _refusal(status: int, reply: bytes, retry: bool) -> Exception:
    text = f"HTTP {status}: {_message(reply)}"
    return ValueError(text) if retry else Refused(f"the dashboard refused this run ({text})")


def _why(e: BaseException) -> str:
    return str(e) or type(e).__name__
