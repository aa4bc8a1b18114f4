"""How much training a run keeps while it streams live frames, measured side by side in one run.

For each preset: steps/s of a bare `Trainer` (no frames), then of a real worker process playing
the run at the page's default frame cap, reading every frame from its mailbox as the dashboard
does. The worker should keep most of the bare rate: DESIGN.md says training is never throttled
by drawing. Frame making costs 2-15 ms in 1-D and 2-D but 45 ms at 100-D, where the worker once
spent nearly all its time on pictures (5 steps/s of 50).

Usage: python -m bench.worker_share [--seconds 10] [--rounds 3] [--json] [PRESET ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from gancore.frames import encode
from gancore.run.session import Session
from gancore.run.worker import RunSpec, WorkerHandle
from gancore.teach.presets import get_preset
from gancore.train.trainer import Trainer

PRESETS = ("ring8-reference", "ganlab-ring", "bimodal-6d-wgan-gp", "gaussgan-100d")


def bare_steps_per_s(name: str, seconds: float) -> float:
    trainer = Trainer(get_preset(name).config())
    for _ in range(20):  # warm up
        trainer.step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
        n += 1
    return n / (time.perf_counter() - t0)


def frame_ms(name: str, frames: int = 15) -> float:
    session = Session(get_preset(name).config())
    session.train(5)
    times = []
    for _ in range(frames):
        session.train(1)
        t0 = time.perf_counter()
        encode(session.frame())
        times.append(time.perf_counter() - t0)
    session.close()
    return 1000 * statistics.median(times)


def worker_rates(name: str, seconds: float) -> tuple[float, float]:
    """(steps/s, frames/s) of a worker playing the preset while a reader takes every frame."""
    cfg = get_preset(name).config()
    handle = WorkerHandle(RunSpec(f"bench-{name}", cfg.to_json(), autoplay=True))
    try:
        if handle.wait_state(("running",), timeout=120) != "running":
            raise RuntimeError(f"{name}: worker did not start ({handle.state} {handle.message})")
        deadline = time.monotonic() + 60
        while handle.step < 20:  # past the first steps' warm-up
            if handle.state != "running" or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: no 20 steps ({handle.state} {handle.message})")
            time.sleep(0.05)
        handle.mailbox.take()
        step0, t0, frames = handle.step, time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            if handle.mailbox.wait(0.2) and handle.mailbox.take() is not None:
                frames += 1
        elapsed = time.perf_counter() - t0
        return (handle.step - step0) / elapsed, frames / elapsed
    finally:
        handle.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("presets", nargs="*", default=list(PRESETS))
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians reported")
    ap.add_argument("--json", action="store_true", help="print one JSON line per preset")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as a run's worker does
    for name in args.presets:
        bare, live, fps = [], [], []
        for _ in range(args.rounds):
            bare.append(bare_steps_per_s(name, args.seconds))
            steps, frames = worker_rates(name, args.seconds)
            live.append(steps)
            fps.append(frames)
        row = {"preset": name, "frame_ms_median": round(frame_ms(name), 1),
               "bare_steps_per_s": round(statistics.median(bare), 1),
               "worker_steps_per_s": round(statistics.median(live), 1),
               "worker_frames_per_s": round(statistics.median(fps), 1)}
        row["training_share"] = round(row["worker_steps_per_s"] / row["bare_steps_per_s"], 2)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(f"{name:20s} frame {row['frame_ms_median']:5.1f} ms   "
                  f"bare {row['bare_steps_per_s']:6.1f} steps/s   "
                  f"worker {row['worker_steps_per_s']:6.1f} steps/s "
                  f"at {row['worker_frames_per_s']:4.1f} frames/s   "
                  f"share {row['training_share']:.2f}", flush=True)


if __name__ == "__main__":
    main()
