"""D evaluated over many points (the surface grid, the mode centres) in chunks, on the calling
thread and this process's one frame-helper thread together (gancore.observe.probes uses both)."""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from gancore.heap import one_malloc_arena

GRID_CHUNK = 1024  # rows per D evaluation: keeps activations in cache (3x faster than 4096)


class SurfaceJob:
    """D evaluated over many points in chunks that any number of threads can take in turn
    (`itertools.count` hands each chunk out once: its next() is atomic under the GIL)."""

    def __init__(self, D: torch.nn.Module, x: torch.Tensor, packing: int, cond_dim: int | None):
        self.D, self.x = D, x
        self.pack, self.cond_dim = packing, cond_dim
        # Minibatch discrimination compares every pair in a batch: smaller chunks bound memory.
        self.chunk = GRID_CHUNK if D.mbd is None else 256
        self.starts = range(0, len(x), self.chunk)
        self.out: list[torch.Tensor | None] = [None] * len(self.starts)
        self._next = itertools.count()

    def drain(self) -> None:
        with torch.inference_mode():  # thread-local, so every thread enters it itself
            for i in self._next:
                if i >= len(self.starts):
                    return
                self.out[i] = self._evaluate(self.x[self.starts[i]:self.starts[i] + self.chunk])

    def _evaluate(self, xi: torch.Tensor) -> torch.Tensor:
        ci = None if self.cond_dim is None else torch.zeros(len(xi), self.cond_dim)
        if self.pack > 1:
            xi = xi.repeat_interleave(self.pack, 0)
            ci = None if ci is None else ci.repeat_interleave(self.pack, 0)
        return self.D(xi, ci)

    def values(self, probabilistic: bool) -> np.ndarray:
        chunks = [t for t in self.out if t is not None]
        assert len(chunks) == len(self.out), "values() before every chunk was drained"
        out = torch.cat(chunks)
        return (torch.sigmoid(out) if probabilistic else out).numpy()


_helper: tuple[int, ThreadPoolExecutor] | None = None


def frame_helper() -> ThreadPoolExecutor:
    """This process's frame helper thread. Keyed by pid: a forked child inherits the executor
    object but not its thread, and would wait on it forever. The thread sets its own intra-op
    threads to one: OpenMP's thread count is per thread, and left at its default the helper's
    matrix products spawned a team of their own that spun against the caller (no speed-up)."""
    global _helper
    if _helper is None or _helper[0] != os.getpid():
        one_malloc_arena()
        pool = ThreadPoolExecutor(1, thread_name_prefix="frame-surface",
                                  initializer=torch.set_num_threads, initargs=(1,))
        _helper = (os.getpid(), pool)
    return _helper[1]
