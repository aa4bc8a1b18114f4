"""One run as the pages know it (`Run`), and the rules about its page: closed, watched once,
idle. Times are time.monotonic() seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gancore.config import RunConfig, data_dim
from gancore.frames import frame_kind

NEVER_WATCHED_GRACE_S = 30.0  # a new run's page may take this long to first watch it


def page_gone(run: Run, now: float) -> bool:
    """Whether an unwatched run's page has gone, so a new run may take its room. A run that was
    watched and is a few seconds old: yes. One never watched belongs to a page still loading (a
    comparison starts its runs one after another and watches them together) until it is
    NEVER_WATCHED_GRACE_S old."""
    return now - run.created > (5.0 if watched_once(run) else NEVER_WATCHED_GRACE_S)


def watched_once(run: Run) -> bool:
    return run.last_watched > run.created + 0.05


def idle_for_pause(run: Run, now: float, idle_pause_s: float) -> bool:
    """Whether a running run its owner does not watch should be paused. One never watched belongs
    to a page still loading: on a busy machine its socket attached more than the 3 s idle pause
    of the browser tests after a `play=1` run started, and the page found its run paused at
    step 16. Spectators do not count: a stranger's open tab must not keep a run training."""
    grace = idle_pause_s if watched_once(run) else max(idle_pause_s, NEVER_WATCHED_GRACE_S)
    return run.watchers == 0 and now - max(run.last_watched, run.created) > grace


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass
class Run:
    """One run as the page knows it. A run whose process moved on to a child keeps this record."""

    run_id: str
    owner: str
    config: RunConfig
    record_path: str
    parent: str | None = None
    fork_step: int | None = None
    preset: str | None = None
    created: float = field(default_factory=time.monotonic)
    watchers: int = 0  # the owner's pages watching it: they keep it from being idle-paused
    spectators: int = 0  # other sessions' pages watching it (a shared link)
    last_watched: float = field(default_factory=time.monotonic)
    ended: str | None = None  # why the run no longer has a process ("restarted as child ...")
    attempt: int = 1  # a dead run is reported failed, never silently restarted
    slot: bool = False  # holds one of the machine's run slots (reserved before its start)
    queued: bool = False  # waits for a slot; starts when one frees up
    autoplay: bool = False
    init_from: str | None = None

    @property
    def kind(self) -> str:
        return frame_kind(data_dim(self.config))
