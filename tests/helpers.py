"""Small things several test modules need: a quick run config and a polling wait."""

from __future__ import annotations

import time

from gancore.config import RunConfig

# A run that trains and makes frames quickly: tiny networks, small batches, a coarse D grid.
SMALL = RunConfig().with_changes({"generator.hidden": [16], "discriminator.hidden": [16],
                                  "train.batch_size": 32, "frames.samples": 100,
                                  "frames.d_grid": 16})


def wait_for(cond, timeout: float = 90.0, what: str = "condition") -> bool:
    """Poll `cond` every 50 ms until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    raise AssertionError(f"{what} not met in {timeout:.0f} s")
