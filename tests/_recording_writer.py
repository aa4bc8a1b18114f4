"""A recording writer for tests/test_recording.py to kill with SIGKILL.

Usage: python tests/_recording_writer.py PATH
Appends frames (each with its scalar rows) and prints the number of frames written after every
flush. It never finishes on its own within a test; it stops after MAX_FRAMES, or when its stdout
closes, so a test that dies without killing it leaves no writer filling the disk.
"""

from __future__ import annotations

import sys

import numpy as np

from gancore.frames import Frame, quantize
from gancore.store.recording import Recorder

MAX_FRAMES = 5000
STEPS_PER_FRAME = 10
COLUMNS = ["step", "d_loss", "g_loss"]
CONFIG_JSON = '{"target": {"name": "ring"}, "train": {"seed": 3}}'


def make_frame(k: int) -> Frame:
    """Frame k, a pure function of k, so the test can rebuild what the writer wrote."""
    rng = np.random.default_rng(k)
    fake = (np.linspace(-2, 2, 3000).reshape(1500, 2) + 0.01 * rng.standard_normal((1500, 2)))
    g = np.linspace(-1, 1, 32)
    q, r = quantize(np.add.outer(g, g) * (1 + k), None, None)
    f = Frame("2d", k * STEPS_PER_FRAME, {"d_loss": 1.0 / (k + 1), "g_loss": float(k)},
              {"bounds": [[-2, 2], [-2, 2]]})
    f.arrays.update(fake=fake.astype(np.float32), real=np.ones((1500, 2), np.float16), d_grid=q)
    f.ranges["d_grid"] = r
    return f


def scalar_rows(k: int) -> np.ndarray:
    """The STEPS_PER_FRAME scalar rows recorded just before frame k."""
    steps = np.arange(k * STEPS_PER_FRAME, (k + 1) * STEPS_PER_FRAME, dtype=np.float64)
    return np.stack([steps, 1.0 / (steps + 1), steps * 0.5], axis=1)


def main(path: str) -> None:
    rec = Recorder(path, CONFIG_JSON, COLUMNS, run_id="killed")
    rec.add_event(0, "start", "writer started")
    for k in range(MAX_FRAMES):
        rec.append_scalars(scalar_rows(k))
        if k % 5 == 0:
            rec.add_event(k * STEPS_PER_FRAME, "tick", f"frame {k}")
        rec.append_frame(make_frame(k))
        print(rec.frames_written, flush=True)  # BrokenPipeError ends us if the test has gone
    rec.close()


if __name__ == "__main__":
    main(sys.argv[1])
