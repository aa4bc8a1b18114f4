"""Training yields to drawing when the machine is full: once the running workers would take every
core, each runs at a lower CPU priority, so the browser that draws them keeps its share.

Why: four runs on one page of a 2-core machine left the browser a fifth of the CPU and it painted
0.70 of one run's frames per second; at nice 5 the same page painted more than one run does. A
single run is left alone: there the worker's frames are what the page waits for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

YIELD_NICE = 5  # CFS weight 335 against the browser's 1,024: training still gets most spare time


def cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def should_yield(running: int, n_cores: int | None = None) -> bool:
    """True when the running workers alone would fill every core."""
    return running >= max(1, n_cores if n_cores is not None else cores())


def set_process_nice(pid: int, nice: int) -> bool:
    """Set the nice value of every thread of `pid` (on Linux a nice value belongs to a thread,
    and setpriority on a pid reaches only its main thread). Returns False where the system
    refuses: lowering a nice value again needs privileges most users lack, and a process may
    have ended meanwhile."""
    tasks = Path(f"/proc/{pid}/task")
    try:
        tids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]
    except OSError:
        return False
    ok = True
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except (PermissionError, ProcessLookupError, OSError):
            ok = False
    return ok


class CpuShare:
    """Keeps the workers' nice values in line with how many of them are training."""

    def __init__(self, n_cores: int | None = None):
        self.n_cores = n_cores or cores()
        self._nice: dict[int, int] = {}  # pid -> the nice value we last set

    def balance(self, running_pids: Iterable[int]) -> int:
        """Give every running worker the nice value the current load calls for; returns it."""
        pids = list(running_pids)
        want = YIELD_NICE if should_yield(len(pids), self.n_cores) else 0
        for pid in pids:
            if self._nice.get(pid, 0) != want and set_process_nice(pid, want):
                self._nice[pid] = want
        for pid in list(self._nice):  # forget processes that ended
            if pid not in pids and not Path(f"/proc/{pid}").exists():
                del self._nice[pid]
        return want
