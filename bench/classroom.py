"""A class on this machine, the distributed backend beside the local one in one run (issue 18):
students who open a run and watch it while two slots serve them in turn, the web tier alone
with recorded frames replayed into Redis, and one run's painted frame rate in Chromium.

    .venv/bin/python -m bench.classroom [--students 30] [--watch 8] [--viewers 10,20,40]
                                        [--seconds 12] [--quick]

1. Students: each its own browser session (tests.servers.Client) opens PRESET with play and
   pulls envelopes over a page's socket (tests.distributed.conftest.Tab), watches `--watch` s
   after its first frame and leaves; its run gives the slot to the queue. Against redis-server
   + one Celery worker (2 slots) + one web process, and the local backend with 2 slots.
2. Web tier: producers (bench.classroom_parts._produce, real RedisLinks) replay recorded frames
   at 25 fps into runs the shared registry admitted; spectators pull them through one web
   process. Latency = receive time - the frame's meta.sent_at (stamped at send).
3. Browser: bench.browser_fps.measure_live on the play page, local and Redis backends.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

from bench.browser_fps import make_driver, measure_live, wait_js
from bench.classroom_parts import (
    PRESET,
    class_figures,
    cpu_seconds,
    measure_tier,
    recorded_frames,
    run_class,
)
from tests.distributed.conftest import Stack
from tests.servers import AppServer, worker_processes

NO_CAP = {"GANSCOPE_MAX_TAB_FPS": "0"}  # the page's default: no cap beyond the run's 25 fps
GOAL_RATIO, GOAL_ADDED_MS, GOAL_BROWSER_RATIO, GOAL_PAINT_MS = 0.95, 50.0, 0.9, 150.0


def browser_live(url: str, seconds: float) -> dict:
    """Painted fps and step-to-paint latency of the play page of PRESET (headless Chromium,
    --disable-gpu), measured as bench.browser_fps measures its live view."""
    driver = make_driver()
    try:
        driver.get(f"{url}/?preset={PRESET}&play=1")
        wait_js(driver, "return window.GS && GS.stats.painted > 5", 120)
        time.sleep(2)
        return measure_live(driver, seconds)
    finally:
        driver.get("about:blank")
        driver.quit()


def wait_warm(pids, timeout: float = 120.0) -> float:  # noqa: ANN001 - () -> list[int]
    """Wait for warm workers (the local backend's spares, the Celery pool; each imports torch
    as it starts) to settle, so the class meets a server that has been up a while. Settled:
    at least two, and under 0.05 s of CPU between them in the last second. Returns the wait."""
    t0, last = time.monotonic(), -1.0
    while time.monotonic() - t0 < timeout:
        try:
            now_pids = pids()
            used = sum(cpu_seconds(p) for p in now_pids)
        except OSError:  # a process that ended while we looked
            now_pids, used = [], -1.0
        if len(now_pids) >= 2 and last >= 0 and used - last < 0.05:
            break
        last = used
        time.sleep(1.0)
    return time.monotonic() - t0


def end_runs(redis_url: str, runs_dir: Path, run_ids: list[str]) -> None:
    """Stop the class's runs (their pages are gone; no queue makes them give way at once):
    the browser's run then has the worker slots to itself, as on the local backend."""
    from app.backends.redis import RedisBackend

    backend = RedisBackend(redis_url, runs_dir)
    try:
        for run_id in run_ids:
            backend.stop(run_id)
    finally:
        backend.close()


def print_class(name: str, results: list[dict], f: dict) -> None:
    firsts = " ".join(("-" if r["first_s"] is None else f"{r['first_s']:.1f}")
                      + ("q" if r["queued_s"] is not None else "")
                      + ("*" if r["at_once"] else "") for r in results)
    print(f"  {name}: {f['students']} students in {f['wall_s']:.0f} s; {f['watched']} watched "
          f"a run, {f['queued']} saw a queue place (p50 {f['queued_p50']:.2f} s, p95 "
          f"{f['queued_p95']:.2f} s after opening; first shown: {f['places'][:2]} ... "
          f"{f['places'][-1:]}); errors "
          f"{f['errors']} ({f['with_error']} students){f['error_texts'] or ''}")
    print(f"    open -> first frame: at once ({f['once_n']}, {f['once_queued']} of them shown a "
          f"queue place while placed) p50 {f['once_p50']:.2f} s, p95 "
          f"{f['once_p95']:.2f} s; all p50 {f['all_p50']:.1f} s, p95 {f['all_p95']:.1f} s, "
          f"max {f['max_first']:.1f} s; open callback p95 {f['open_p95']:.2f} s")
    print(f"    per student by arrival (s; q: saw a queue place, *: a seat was free): "
          f"{firsts}", flush=True)


def print_tier(t: dict) -> None:
    print(f"  {t['runs']:3d} runs, {t['viewers']:2d} viewers: {t['delivered_fps']:6.0f} "
          f"frames/s delivered (runs made {t['produced_fps']:.1f} fps each); delivered/produced "
          f"min {t['ratio_min']:.3f} p50 {t['ratio_p50']:.3f}; added latency p50 "
          f"{t['lat_p50']:.1f} ms p95 {t['lat_p95']:.1f} ms; web {100 * t['web_core']:.0f}% of "
          f"a core ({100 * t['web_core_per_viewer']:.2f}% per viewer); Redis "
          f"{100 * t['redis_core']:.1f}% ({100 * t['redis_core_per_run']:.3f}% per run); "
          f"{t['redis_calls']:.0f} Redis commands/s, {t['hgetall_per_frame']:.1f} status reads "
          f"(HGETALL) per frame delivered; producer {100 * t['producer_core']:.0f}%, viewers "
          f"{100 * t['viewers_core']:.0f}%; "
          f"errors {t['errors']}{t['error_texts'] or ''}", flush=True)


def heading(text: str) -> None:
    """A part's title with the machine's load at its start (other work on the box shows)."""
    print(f"{text} [load {os.getloadavg()[0]:.2f}]", flush=True)


def row(measure: str, local: str, redis: str, goal: str = "", met: bool | None = None) -> None:
    verdict = "" if met is None else ("met" if met else "NOT met")
    print(f"  {measure:<50} {local:>11} {redis:>11}  {goal:<14} {verdict}")


def summary(cl: dict, cr: dict, tiers: list[dict], bl: dict, br: dict) -> None:
    print("\nSummary (local | redis)")
    row("", "local", "redis", "goal")
    row("students / errors", f"{cl['students']} / {cl['errors']}",
        f"{cr['students']} / {cr['errors']}", "0 errors", cl["errors"] == cr["errors"] == 0)
    row("students who watched / saw a queue place", f"{cl['watched']} / {cl['queued']}",
        f"{cr['watched']} / {cr['queued']}", "all watch",
        cl["watched"] == cl["students"] and cr["watched"] == cr["students"])
    for key, label in (("once", "at once"), ("all", "all")):
        row(f"open -> first frame p50 / p95, {label} (s)",
            f"{cl[key + '_p50']:.1f} / {cl[key + '_p95']:.1f}",
            f"{cr[key + '_p50']:.1f} / {cr[key + '_p95']:.1f}")
    row("open -> queue place shown p95 (s)", f"{cl['queued_p95']:.2f}", f"{cr['queued_p95']:.2f}")
    for t in tiers:
        at = f"tier {t['runs']} runs/{t['viewers']} viewers"
        big = t["viewers"] >= 40
        row(f"{at}: frames/s", "", f"{t['delivered_fps']:.0f}")
        row(f"{at}: delivered/produced min", "", f"{t['ratio_min']:.3f}",
            f">= {GOAL_RATIO} at 40" if big else "", t["ratio_min"] >= GOAL_RATIO if big else None)
        row(f"{at}: added latency p95 (ms)", "", f"{t['lat_p95']:.1f}", f"<= {GOAL_ADDED_MS:.0f}",
            t["lat_p95"] <= GOAL_ADDED_MS)
        row(f"{at}: web % core per viewer", "", f"{100 * t['web_core_per_viewer']:.2f}")
        row(f"{at}: Redis % core per run", "", f"{100 * t['redis_core_per_run']:.3f}",
            "~0.08 (study)")
    row("browser painted fps", f"{bl['fps']:.1f}", f"{br['fps']:.1f}")
    ratio = br["fps"] / bl["fps"] if bl["fps"] else float("nan")
    row("browser fps ratio redis/local", "", f"{ratio:.2f}", f">= {GOAL_BROWSER_RATIO}",
        ratio >= GOAL_BROWSER_RATIO)
    row("browser step-to-paint p95 (ms)", f"{bl['p95_ms']:.0f}", f"{br['p95_ms']:.0f}",
        f"<= {GOAL_PAINT_MS:.0f}", br["p95_ms"] <= GOAL_PAINT_MS)
    row("training steps/s while painted", f"{bl['steps_per_s']:.0f}", f"{br['steps_per_s']:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=30)
    ap.add_argument("--watch", type=float, default=8.0, help="s a student watches, then leaves")
    ap.add_argument("--arrive", type=float, default=5.0, help="students arrive over this many s")
    ap.add_argument("--viewers", default="10,20,40", help="web-tier rows: viewers per row")
    ap.add_argument("--viewers-per-run", type=int, default=2)
    ap.add_argument("--many-runs", type=int, default=100, help="runs of the many-runs row")
    ap.add_argument("--seconds", type=float, default=12.0, help="web-tier window per row")
    ap.add_argument("--browser-seconds", type=float, default=12.0)
    ap.add_argument("--fps", type=float, default=25.0, help="producers' frame rate")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 8 students, small rows")
    args = ap.parse_args()
    if args.quick:
        args.students, args.watch, args.viewers, args.many_runs = 8, 4.0, "10", 20
        args.seconds = args.browser_seconds = 5.0
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="gs-classroom-"))
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.students} students, "
          f"2 slots, {args.watch:.0f} s watching each; seed {args.seed}; files in {root}",
          flush=True)

    heading("\n1. A class (local backend: --max-runs 2 --max-runs-per-session 1)")
    (root / "local").mkdir()
    local = AppServer(root / "local" / "runs", "--max-runs", "2", "--max-runs-per-session", "1",
                      tab_fps=0)
    try:
        settled = wait_warm(lambda: worker_processes(local.proc.pid))
        print(f"  its warm spare workers settled after {settled:.0f} s", flush=True)
        results, wall = run_class(local, args.students, args.watch, args.arrive, args.seed)
        cl = class_figures(results, wall)
        print_class("local", results, cl)
        bl = browser_live(local.url, args.browser_seconds)
    finally:
        local.stop()
    heading("1. A class (Redis backend: redis-server, a Celery worker of 2 slots, 1 web process)")
    stack = Stack(root / "redis", slots=2, web=1, env=NO_CAP)
    try:
        settled = wait_warm(stack.workers[0].pool_pids)
        print(f"  its Celery pool processes settled after {settled:.0f} s", flush=True)
        results, wall = run_class(stack.webs[0], args.students, args.watch, args.arrive,
                                  args.seed)
        cr = class_figures(results, wall)
        print_class("redis", results, cr)
        end_runs(stack.redis.url, stack.runs, [r["run"] for r in results if r["run"]])
        br = browser_live(stack.webs[0].url, args.browser_seconds)
    finally:
        stack.stop()

    heading(f"\n2. The web tier alone: producers replay recorded frames at {args.fps:.0f} fps")
    frames = recorded_frames()
    print(f"  {len(frames)} recorded frames of {PRESET}, {len(frames[0][0]) / 1024:.1f} KiB each",
          flush=True)
    shapes = [(max(1, math.ceil(v / args.viewers_per_run)), v)
              for v in map(int, args.viewers.split(","))] + [(args.many_runs, 10)]
    tiers = []
    for i, (runs, viewers) in enumerate(shapes):
        tiers.append(measure_tier(root / f"tier-{i}", frames, runs, viewers, args.seconds,
                                  args.fps, args.seed + i))
        print_tier(tiers[-1])

    print("\n3. One run in headless Chromium")
    for name, b in (("local", bl), ("redis", br)):
        print(f"  {name}: {b['fps']:.1f} painted fps, step-to-paint p50 {b['p50_ms']:.0f} ms, "
              f"p95 {b['p95_ms']:.0f} ms, {b['steps_per_s']:.0f} steps/s")
    summary(cl, cr, tiers, bl, br)
    print(f"\nwall time {time.monotonic() - began:.0f} s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
