"""Small things several test modules need: a quick run config, a polling wait and a way to
train several seeded runs on both cores."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator

from gancore.config import RunConfig

# A run that trains and makes frames quickly: tiny networks, small batches, a coarse D grid.
SMALL = RunConfig().with_changes({"generator.hidden": [16], "discriminator.hidden": [16],
                                  "train.batch_size": 32, "frames.samples": 100,
                                  "frames.d_grid": 16})

# One small run of each frame kind (changes to the default config), for the frame tests.
FRAME_KINDS = {
    "2d": {},
    "1d": {"target.name": "mixture_1d", "target.modes": 2, "target.spacing": 4.0,
           "target.std": 0.5, "latent.dim": 1},
    "nd": {"target.name": "gaussian_nd", "target.dim": 8, "target.std": 1.0, "latent.dim": 4},
}
FRAME_NETS = {"generator.hidden": [32, 32], "discriminator.hidden": [32, 32],
              "train.batch_size": 64}


def wait_for(cond, timeout: float = 90.0, what: str = "condition") -> bool:
    """Poll `cond` every 50 ms until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout:.0f} s")


def _one_intra_op_thread() -> None:
    import torch

    torch.set_num_threads(1)  # as a run's worker trains; two such processes fill two cores


def on_both_cores(job: Callable, args: Iterable) -> Iterator:
    """`job(a)` for each of `args` in two spawned processes (a fresh torch each, one intra-op
    thread), handed out one at a time in the order given, so list the longest first. Results
    come as they finish; `job` must be importable (a module-level function)."""
    with mp.get_context("spawn").Pool(2, initializer=_one_intra_op_thread) as pool:
        yield from pool.imap_unordered(job, list(args), chunksize=1)
