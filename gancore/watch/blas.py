"""numpy's BLAS on one thread while a watch looks, and as it was while the user's loop trains.

OpenBLAS's worker threads spin for a while after each call before they sleep. A look's numpy
work (the projection, correlation matrices) woke them, and on a two-core laptop they then spun
against the training loop's own torch threads: the 6-D example trained 24% slower watched, of
which its looks' own share of the wall clock is at most 8% (bench/watch_overhead.py measures
it). One thread for the look's few small matrices costs the look almost nothing.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def one_blas_thread() -> AbstractContextManager:
    """A context in which numpy's (and any other loaded) BLAS runs on one thread; the libraries
    are found once, at the first look, when everything the loop uses is loaded."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
