"""How many students one worker core holds: k students, each training a run of their own on one
worker machine with k slots (Celery pool processes), each run watched by its page's socket (a
WebSocket client pulling as assets/stream.js does). Per k: each run's training speed (steps/s)
and the frames its page receives per second, with the web tier and Redis on the same box.

    .venv/bin/python -m bench.worker_core [--students 2 4 6 8] [--seconds 15]

A student is held at a pace when every run trains at least that many steps/s and every page
gets at least MIN_FPS frames/s; the bench prints, for each pace of PACES, the most students per
core it holds (docs/serving.md quotes them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from tests.distributed.conftest import Stack, Tab
from tests.servers import Client, run_of

MIN_FPS = 10.0
PACES = {  # steps/s per run -> what it means in a class
    100.0: "full speed (four times GAN Lab's 24.5 it/s in a browser)",
    50.0: "a class period's 30,000 steps in 10 minutes",
    25.0: "GAN Lab's pace",
}
PRESET = "ring8-reference"


def _watch(stack: Stack, seconds: float, out: dict) -> None:
    web = stack.webs[0]
    client = Client(web.url)
    status, answer = client.open_preset(PRESET, play=True)
    run_id = run_of(answer)
    if status != 200 or run_id is None:
        out["error"] = f"open: {status}"
        return
    tab = Tab(web, client)
    tab.watch(run_id)
    tab.pull(run_id, 30, until=lambda e: e["state"] == "running" and e["frame"])
    began = time.monotonic()
    seen = tab.pull(run_id, seconds)
    took = time.monotonic() - began
    steps = [e["step"] for _, e in seen["entries"] if e["state"] == "running"]
    out["fps"] = len(seen["frames"]) / took
    out["steps_per_s"] = (steps[-1] - steps[0]) / took if len(steps) > 1 else 0.0
    out["state"] = seen["states"][-1] if seen["states"] else None
    tab.close()


def measure(students: int, seconds: float) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), slots=students, env={"GANSCOPE_MAX_TAB_FPS": "0"})
        try:
            results: list[dict] = [{} for _ in range(students)]
            threads = [threading.Thread(target=_watch, args=(stack, seconds, r))
                       for r in results]
            for t in threads:
                t.start()
            for t in threads:
                t.join(seconds + 90)
            return results
        finally:
            stack.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--students", type=int, nargs="+", default=[2, 4, 6, 8])
    p.add_argument("--seconds", type=float, default=15.0)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; each student's run: preset {PRESET}, its page uncapped")
    print("students  per core  steps/s per run (min / median)  frames/s per page (min / median)"
          "  held at")
    best = dict.fromkeys(PACES, 0.0)
    for k in args.students:
        rows = measure(k, args.seconds)
        bad = [r for r in rows if "error" in r or r.get("state") != "running"]
        sps = [r.get("steps_per_s", 0.0) for r in rows]
        fps = [r.get("fps", 0.0) for r in rows]
        held = [pace for pace in PACES
                if not bad and min(sps) >= pace and min(fps) >= MIN_FPS]
        for pace in held:
            best[pace] = max(best[pace], k / cores)
        print(f"{k:8d}  {k / cores:8.1f}  {min(sps):14.0f} / {statistics.median(sps):6.0f}"
              f"  {min(fps):17.1f} / {statistics.median(fps):5.1f}  "
              + (", ".join(f">= {p:.0f} steps/s" for p in held) or "-")
              + (f"  ({len(bad)} not running)" if bad else ""))
    for pace, words in PACES.items():
        print(f"students a worker core holds at >= {pace:.0f} steps/s and >= {MIN_FPS:.0f} "
              f"frames/s each ({words}): {best[pace]:.1f}")


if __name__ == "__main__":
    main()
