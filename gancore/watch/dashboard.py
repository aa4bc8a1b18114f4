"""Which dashboard a watch talks to, starting one when asked to, and the notebook view of it.

`dashboard="auto"` means: GANSCOPE_URL if set, else http://127.0.0.1:8050 if a ganscope answers
there, else a new dashboard (`python -m app`, the `ganscope` command) started in the background,
on port 8050 when it is free (so the next script finds it) or on a free port. It keeps running
after the script ends, so the run stays in its library and replay; the line it prints says how
to stop it. A dashboard started here is remembered in GANSCOPE_URL for later watches of the same
process (a notebook's next cell).
"""

from __future__ import annotations

import http.client
import importlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8050"
START_TIMEOUT_S = 90.0  # a cold start imports Dash and torch-free pages: ~5 s, more when busy
PROBE_TIMEOUT_S = 1.0
_started: list[subprocess.Popen] = []  # held, so the object's end does not warn "still running"


def answers(base: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a ganscope dashboard answers at `base`: its page, or its 401 asking for a token.
    Anything else listening there (another app on 8050) is not one."""
    u = urlsplit(base)
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = cls(u.hostname or "127.0.0.1", u.port, timeout=timeout)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read(4096)
        return response.status == 401 or (response.status == 200 and b"ganscope" in body.lower())
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(runs_dir: Path, say=print) -> str:
    """Start a dashboard in the background and wait until it answers; returns its address. Its
    output goes to <runs_dir>/dashboard.log. Raises OSError when it does not come up."""
    port = 8050 if _port_free(8050) else _free_port()
    base = f"http://127.0.0.1:{port}"
    runs_dir.mkdir(parents=True, exist_ok=True)
    log = open(runs_dir / "dashboard.log", "ab")  # noqa: SIM115 - the child keeps it open
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(port), "--runs-dir", str(runs_dir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)  # outlives the script, and its Ctrl-C
    finally:
        log.close()
    _started.append(proc)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise OSError(f"the dashboard exited at start (see {runs_dir / 'dashboard.log'})")
        if answers(base):
            os.environ["GANSCOPE_URL"] = base
            say(f"ganscope: started a dashboard at {base} (process {proc.pid}; it keeps running "
                f"after this script: `kill {proc.pid}` stops it)")
            return base
        time.sleep(0.25)
    raise OSError(f"the dashboard did not answer within {START_TIMEOUT_S:g} s")


def auto(runs_dir: Path, say=print) -> str:
    """The dashboard "auto" means (see the module docstring)."""
    env = os.environ.get("GANSCOPE_URL")
    if env:
        return env
    if answers(DEFAULT_URL):
        return DEFAULT_URL
    return start(runs_dir, say)


def notebook_view(url: str | None, width: str = "100%", height: int = 760) -> Any:
    """An IPython IFrame of the run's page for a notebook cell, or the address itself where
    IPython is not installed (or no page is known yet: None)."""
    if url is None:
        return None
    try:  # by name: IPython is optional, and gancore does not depend on it
        display = importlib.import_module("IPython.display")
    except ImportError:
        return url
    return display.IFrame(url, width=width, height=height)
