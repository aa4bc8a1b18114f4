"""Soak: one live run with a headless browser attached for 30 minutes (not in CI). Resident memory
of the web process and of the run's worker is sampled every 30 s; both must stay within 50 MB of
their value after the first minute.

    .venv/bin/python -m bench.soak.py [--minutes 30] [--preset ring8-reference]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.browser.conftest import AppServer, make_driver

LIMIT_MB = 50.0


def rss_mb(pid: int) -> float:
    """Resident set size from /proc (no psutil needed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--preset", default="ring8-reference")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    args = ap.parse_args()
    # `kill` (SIGTERM) skipped the cleanup below and left the app server and its worker running
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = AppServer(Path(tempfile.mkdtemp(prefix="gs-soak-")) / "runs", tab_fps=0)
    driver = make_driver()
    samples = []
    try:
        driver.get(f"{server.url}/?preset={args.preset}&play=1")
        deadline = time.monotonic() + 60
        while not driver.execute_script("return window.GS && GS.stats.painted > 0"):
            if time.monotonic() > deadline:
                raise RuntimeError("no frame painted within 60 s")
            time.sleep(0.2)
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.minutes * 60:
            runs = json.loads(driver.execute_script(
                "return await (await fetch('/api/runs')).text()"))
            run = next(r for r in runs if r["alive"])
            painted = driver.execute_script("return GS.stats.painted")
            s = {"t_min": (time.monotonic() - t0) / 60, "web_mb": rss_mb(server.proc.pid),
                 "worker_mb": rss_mb(run["pid"]), "step": run["step"], "painted": painted,
                 "state": run["state"]}
            samples.append(s)
            print(f"{s['t_min']:6.1f} min  web {s['web_mb']:7.1f} MB  worker "
                  f"{s['worker_mb']:7.1f} MB  step {s['step']:>9,}  painted {painted:>7,}  "
                  f"{s['state']}", flush=True)
            time.sleep(args.every)
    finally:
        driver.quit()
        server.stop()
    base = next((s for s in samples if s["t_min"] >= 1.0), samples[0])
    ok = True
    for key in ("web_mb", "worker_mb"):
        growth = max(s[key] for s in samples) - base[key]
        good = growth <= LIMIT_MB
        ok &= good
        print(f"{key}: {base[key]:.1f} MB after 1 min, max growth {growth:+.1f} MB "
              f"({'ok' if good else 'over'} the {LIMIT_MB:.0f} MB limit)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
