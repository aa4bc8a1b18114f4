"""What a browser session and the machine may hold: the limits, the errors that say a limit was
reached, and the owner tag a recording keeps of its session."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any


def owner_tag(session: str) -> str:
    """What a recording stores of the session that owns it: a hash, so a downloaded recording
    does not give away the session id (which would let its holder act as that session)."""
    return hashlib.sha256(session.encode()).hexdigest()[:32]


class LimitError(RuntimeError):
    """Starting another run would pass a per-session or overall limit; the message says which."""


class UnknownRun(LookupError):
    """No run with this id (it never existed, or its process is gone)."""


@dataclass
class Limits:
    """Safe defaults for a 2-core machine; `from_env` reads GANSCOPE_MAX_RUNS(_PER_SESSION)."""

    per_session: int = 2
    # The compare page may start up to this many runs for one session: they train in lock-step
    # (none runs ahead of the slowest), and `total` still caps the machine at 4 single-thread
    # workers, two per core on a 2-core box.
    per_compare: int = 4
    total: int = 4
    idle_pause_s: float = 15.0  # a running run nobody watches is paused after this long...
    idle_stop_s: float = 120.0  # ...and stopped after this long (its recording stays)
    upload_bytes: int = 50 * 1024 * 1024

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        lim = cls()
        env = {"per_session": "GANSCOPE_MAX_RUNS_PER_SESSION", "total": "GANSCOPE_MAX_RUNS",
               "per_compare": "GANSCOPE_MAX_COMPARE_RUNS",
               "idle_pause_s": "GANSCOPE_IDLE_PAUSE_S", "idle_stop_s": "GANSCOPE_IDLE_STOP_S"}
        for name, var in env.items():
            if os.environ.get(var):
                setattr(lim, name, type(getattr(lim, name))(os.environ[var]))
        for name, value in overrides.items():
            if value is not None:
                setattr(lim, name, value)
        return lim

    @classmethod
    def for_serving(cls, wide: bool, **overrides: Any) -> Limits:
        """The limits for how the server is bound. On loopback its one user may compare up to
        per_compare runs. Serving a class (bound wider), a comparison counts against the
        session's share like any run, so one student cannot hold every slot of the machine
        (per_session 2 of total 4 on a 2-core box); GANSCOPE_MAX_COMPARE_RUNS still decides."""
        lim = cls.from_env(**overrides)
        if wide and not os.environ.get("GANSCOPE_MAX_COMPARE_RUNS") \
                and overrides.get("per_compare") is None:
            lim.per_compare = min(lim.per_compare, lim.per_session)
        return lim


class ServerFull(LimitError):
    """Every slot of the machine is taken (a run may wait in the queue instead)."""
