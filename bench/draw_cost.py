"""What one 2-D frame costs to draw in the browser: GS.draw2d timed on frames captured from a
live run, on a bare page (plotly.js and our scripts only), in headless Chromium.

    .venv/bin/python -m bench.draw_cost.py [--draws 150] [--rounds 2]

Variants, alternated in one browser so they share the machine's state:
  d-image    the page's way: the D surface as a layout image (assets/draw.js dImage)
  d-heatmap  the same frames with D as a Plotly heatmap trace (what the page drew before)
  no-d       samples and arrows only: the floor under both
Times are the synchronous JavaScript of each call (Plotly.react included); the browser's own
painting comes after and is not counted.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
from pathlib import Path

from bench import browser_fps
from tests.browser.conftest import AppServer, make_driver

PRESET = "ring8-reference"

TIME_DRAWS = """
const done = arguments[arguments.length - 1];
const bufs = arguments[0].map(function (b64) {
  const s = atob(b64), u = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i);
  return u.buffer;
});
const variant = arguments[1], n = arguments[2];
const div = document.getElementById('p');
const frames = bufs.map(function (b) { return GS.decodeEnvelope(b)[0].frame; });
if (variant === 'd-heatmap') {
  // Put the surface back as a heatmap trace: the layout image out, GS.dHeatmap's trace in.
  const react = Plotly.react;
  Plotly.react = function (d, data, layout, config) {
    const heat = GS.dHeatmap(d);
    if (heat) {
      heat.showscale = false;
      data = [heat].concat(data);
      layout.images = (layout.images || []).filter(function (im) { return im.name !== 'gs-d'; });
    }
    return react(d, data, layout, config);
  };
}
const layers = variant === 'no-d' ? ['real', 'fake', 'grad'] : ['real', 'fake', 'd', 'grad'];
const times = [];
let k = 0;
function tick() {
  const t = performance.now();
  GS.draw2d(div, frames[k++ % frames.length], layers, 'bench', false);
  times.push(performance.now() - t);
  if (times.length < n) { requestAnimationFrame(tick); return; }
  times.sort(function (a, b) { return a - b; });
  done([times[times.length >> 1], times[Math.floor(0.9 * times.length)]]);
}
requestAnimationFrame(tick);
"""


def time_variant(driver, base: str, plotly_src: str, size, envelopes, variant: str,
                 draws: int) -> tuple[float, float]:
    browser_fps.open_bare_page(driver, base, plotly_src, size)
    driver.set_script_timeout(300)
    median, p90 = driver.execute_async_script(TIME_DRAWS, envelopes, variant, draws)
    return median, p90


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("GANSCOPE_IDLE_PAUSE_S", "3600")
    server = AppServer(Path(tempfile.mkdtemp(prefix="gs-bench-")) / "runs", tab_fps=0)
    driver = make_driver()
    results: dict[str, list[tuple[float, float]]] = {}
    try:
        driver.get(f"{server.url}/?preset={PRESET}&play=1")
        browser_fps.wait_js(driver, "return window.GS && GS.stats.painted > 5")
        envelopes = browser_fps.capture_envelopes(driver)
        plotly_src, size = browser_fps.plotly_and_size(driver)
        runs = browser_fps.api_runs(driver)
        driver.get("about:blank")
        for r in runs:  # the timing has the machine to itself
            if r["alive"] and r.get("pid"):
                os.kill(r["pid"], signal.SIGKILL)
        for _ in range(args.rounds):
            for variant in ("d-image", "d-heatmap", "no-d"):
                results.setdefault(variant, []).append(time_variant(
                    driver, server.url, plotly_src, size, envelopes, variant, args.draws))
    finally:
        driver.quit()
        server.stop()
    print(f"GS.draw2d on {len(envelopes)} captured {PRESET} frames, {args.draws} draws per round, "
          f"plot {size[0]}x{size[1]} px")
    for variant, rows in results.items():
        cells = ", ".join(f"median {m:.1f} ms (p90 {p:.1f})" for m, p in rows)
        print(f"  {variant:9s}  {cells}")
    image = statistics.median(m for m, _ in results["d-image"])
    heat = statistics.median(m for m, _ in results["d-heatmap"])
    print(f"d-heatmap / d-image, medians over rounds: {heat:.1f} / {image:.1f} ms "
          f"= {heat / image:.2f}")


if __name__ == "__main__":
    main()
