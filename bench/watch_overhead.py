"""What watching costs a researcher's own training loop: examples/cgan_6d_bimodal.py's steps/s
with its five `# ganscope` lines and without them (goal: watched / plain >= 0.9), then the same
script streaming into a dashboard whose page is open in headless Chromium: painted frames/s and
step-to-paint latency on the page (goals: >= 10 fps, p95 <= 250 ms) and the steps/s meanwhile.

    .venv/bin/python -m bench.watch_overhead [--steps 3000] [--repeats 5] [--seconds 15]

Part 1 runs the plain and the watched script in turns (a different seed each pair, both with
the same seed), each a whole `train()` call, the watch's start and close included; it records
(the default) and has no dashboard, so it makes frames at the recording's cadence only. The
ratio is of the medians. A third script in each turn posts to a dashboard with no page open
(frames for the class view at the low share; the dashboard process shares the cores).
Part 2 trains in a thread of this process while the page paints, so
training, the dashboard and Chromium share the machine as on a laptop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import torch

from bench.browser_fps import wait_js
from gancore.watch.link import Link
from tests.browser.conftest import make_driver
from tests.servers import AppServer
from tests.test_examples import load, unwatched
from tests.test_watch_ingest import class_runs

EXAMPLE = "cgan_6d_bimodal"


def timed(train, steps: int, seed: int, **kw) -> float:
    """Steps/s of one whole `train()` call."""
    t0 = time.perf_counter()
    train(steps, seed=seed, **kw)
    return steps / (time.perf_counter() - t0)


def side_by_side(steps: int, repeats: int, dashboard: str | None
                 ) -> tuple[list[float], list[float], list[float]]:
    """Steps/s of the plain script, the watched one recording only, and (with `dashboard`) the
    watched one posting to a dashboard where no page is open, in turns."""
    plain = load(EXAMPLE, unwatched(EXAMPLE))
    watched = load(EXAMPLE)
    timed(plain.train, 100, 0)  # warm both paths (first-call allocations, imports)
    timed(watched.train, 100, 0, dashboard=None)
    rates_plain, rates_watched, rates_unseen = [], [], []
    for seed in range(repeats):
        rates_plain.append(timed(plain.train, steps, seed))
        rates_watched.append(timed(watched.train, steps, seed, dashboard=None))
        if dashboard is not None:
            rates_unseen.append(timed(watched.train, steps, seed, dashboard=dashboard))
    return rates_plain, rates_watched, rates_unseen


def count_offered_frames() -> list[float]:
    """Times at which the watch handed a frame to its link (what the page could paint at most)."""
    offered: list[float] = []
    offer = Link.offer

    def counting(self, rows, frame=None):
        if frame is not None:
            offered.append(time.monotonic())
        return offer(self, rows, frame)

    Link.offer = counting  # type: ignore[method-assign]
    return offered


def live(seconds: float, rate: float, runs_dir: Path) -> dict:
    """Train the watched script into a dashboard with its page open; measure the page."""
    offered = count_offered_frames()
    server = AppServer(runs_dir, "--no-spare", tab_fps=0)  # no test cap on frames a tab
    driver = make_driver()
    example = load(EXAMPLE)
    steps = int(rate * (seconds + 40))  # enough to outlast the page's start and the window
    trainer = threading.Thread(target=example.train, args=(steps,),
                               kwargs={"dashboard": server.url}, daemon=True)
    try:
        trainer.start()
        deadline = time.monotonic() + 60
        while not class_runs(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        (run_id,) = class_runs(server)
        driver.get(f"{server.url}/?run={run_id}")
        wait_js(driver, "return window.GS && GS.stats.painted > 5", 60)
        time.sleep(2)
        driver.execute_script("GS.stats.painted = 0; GS.stats.latencies = [];")
        step0, t0 = class_runs(server)[run_id]["step"], time.monotonic()
        time.sleep(seconds)
        out = driver.execute_script(
            "return {painted: GS.stats.painted, lat: GS.stats.latencies.slice()}")
        dt = time.monotonic() - t0
        step1 = class_runs(server)[run_id]["step"]
        trainer.join(steps / max(rate, 1.0) + 120)
    finally:
        driver.quit()
        server.stop()
    lat = sorted(out["lat"]) or [float("nan")]
    return {"fps": out["painted"] / dt, "p50_ms": 1000 * lat[len(lat) // 2],
            "p95_ms": 1000 * lat[min(len(lat) - 1, int(0.95 * len(lat)))],
            "steps_per_s": (step1 - step0) / dt, "paints": out["painted"],
            "offered_fps": sum(t0 <= t <= t0 + dt for t in offered) / dt}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--train-threads", type=int, default=0,
                    help="torch threads for the training loop (0: torch's default, one a core)")
    ap.add_argument("--live-only", action="store_true", help="only the page's part (the speed "
                    "goal's part is skipped; its plain rate is measured in 2 short calls)")
    args = ap.parse_args()
    if args.live_only:
        args.repeats, args.steps = 2, 600
    if args.train_threads:
        torch.set_num_threads(args.train_threads)
    folder = Path(tempfile.mkdtemp(prefix="gs-watch-bench-"))
    os.chdir(folder)  # the watched script records into ./ganscope-runs, as a user's would
    quiet = None if args.live_only else AppServer(folder / "quiet-runs", "--no-spare")
    try:
        plain, watched, unseen = side_by_side(args.steps, args.repeats,
                                              quiet.url if quiet else None)
    finally:
        if quiet is not None:
            quiet.stop()
    p, w = statistics.median(plain), statistics.median(watched)
    print(f"{EXAMPLE}, {args.steps} steps a call, {args.repeats} calls each, in turns:")
    print(f"  plain    steps/s median {p:7.1f}  ({', '.join(f'{r:.0f}' for r in plain)})")
    print(f"  watched  steps/s median {w:7.1f}  ({', '.join(f'{r:.0f}' for r in watched)})")
    print(f"  watched / plain = {w / p:.3f}  (goal >= 0.9)")
    if unseen:
        u = statistics.median(unseen)
        print(f"  into a dashboard with no page open: median {u:7.1f}  "
              f"({', '.join(f'{r:.0f}' for r in unseen)}) = {u / p:.3f} of plain")
    page = live(args.seconds, w, folder / "dashboard-runs")
    print(f"live into a dashboard, its page open in headless Chromium ({args.seconds:g} s):")
    print(f"  painted {page['fps']:.1f} fps (goal >= 10), step-to-paint p50 {page['p50_ms']:.0f} "
          f"ms, p95 {page['p95_ms']:.0f} ms (goal <= 250), {page['paints']} paints; the script "
          f"made {page['offered_fps']:.1f} frames/s for it")
    print(f"  training meanwhile {page['steps_per_s']:.1f} steps/s = {page['steps_per_s'] / p:.3f}"
          f" of plain (the page and the dashboard share the 2 cores)")


if __name__ == "__main__":
    main()
