"""The C heap of a long-lived worker: one malloc arena for all its threads, and freed pages
handed back to the system now and then. Both are glibc calls and no-ops elsewhere.

Why: a live run makes and drops tens of megabytes of arrays a second. glibc keeps freed pages for
reuse, and a second thread gets an arena of its own; together a worker's resident memory crept up
by about 50 MB in its first minutes (bench/soak.py) before it levelled off.
"""

from __future__ import annotations

import ctypes
import time

M_ARENA_MAX = -8  # glibc's mallopt() parameter number
TRIM_EVERY_S = 10.0


def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


_LIBC = _libc()


def one_malloc_arena() -> None:
    """Keep every thread's allocations in the process's one malloc arena. With a second arena the
    frame helper thread's tensors fragmented it: a loop of 1,200 frames grew by 32 MB, with one
    arena by 5 MB. Call before the second thread starts."""
    try:
        _LIBC.mallopt(M_ARENA_MAX, 1)
    except AttributeError:
        pass


class HeapTrimmer:
    """Returns freed heap pages to the system at most every `every_s` seconds (malloc_trim).
    It takes a few milliseconds on a worker's heap, so it runs between frames, not per frame."""

    def __init__(self, every_s: float = TRIM_EVERY_S):
        self.every_s = every_s
        self.last = time.monotonic()

    def maybe_trim(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.every_s:
            return False
        self.last = now
        try:
            _LIBC.malloc_trim(0)
        except AttributeError:
            return False
        return True
