"""The play page's side charts in a real Chromium, fed known data: the mode count is drawn
smoothed (a flickering count gives a steady line inside a min-max band), and the timeline names
every event kind that fired, however many there are.
"""

from __future__ import annotations

import random
import re

import pytest

from tests.browser.conftest import screenshot
from tests.browser.page import open_page, set_viewport, step_is, wait_charts_redrawn, wait_js

pytestmark = pytest.mark.browser

# A chart div of a projector-ish size on the page, drawn by GS.modesChart from a series of
# (step, modes) rows; returns the SVG path of each trace and the axis' pixel positions of
# counts 2 and 8.
MODES_JS = """
const counts = arguments[0], present = arguments[1];
document.body.classList.toggle('present', present);
let div = document.getElementById('test-modes');
if (div) div.remove();
div = document.createElement('div');
div.id = 'test-modes';
div.style.cssText = 'position:absolute;left:0;top:0;width:520px;height:260px;' +
                    'background:#fff;z-index:99';
document.body.appendChild(div);
const s = new GS.Series();
counts.forEach(function (c, i) { s.push(i * 50, {modes: c}); });
GS.modesChart(div, s, 8, 'test', {xEnd: counts.length * 50});
const ya = div._fullLayout.yaxis;
return {paths: Array.from(div.querySelectorAll('.scatterlayer .trace')).map(function (t, i) {
          const p = t.querySelector('path.js-line'), f = t.querySelector('path.js-fill');
          return {name: div._fullData[i].name, line: p ? p.getAttribute('d') : '',
                  fill: f ? f.getAttribute('d') : ''};
        }),
        y2: ya.l2p(2), y8: ya.l2p(8),
        title: div.querySelector('.gtitle').textContent,
        legend: Array.from(div.querySelectorAll('.legendtext'))
                  .map(function (e) { return e.textContent; })};
"""


def path_ys(d: str) -> list[float]:
    """The y pixel of each vertex of an SVG path of M/L/H/V commands (Plotly's lines)."""
    ys: list[float] = []
    for cmd, args in re.findall(r"([MLHVZ])([^MLHVZ]*)", d):
        nums = [float(v) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?", args)]
        if cmd in "ML":
            ys.extend(nums[1::2])
        elif cmd == "V":
            ys.extend(nums)
        elif cmd == "H" and ys:
            ys.extend([ys[-1]] * len(nums))
    return ys


def flicker(n: int, seed: int = 7) -> list[int]:
    """A healthy run's mode count: mostly 7-8 modes a frame, often only 2-4 (a thin batch)."""
    rng = random.Random(seed)
    return [rng.choice([8, 8, 8, 7, 7, 2, 3, 4]) for _ in range(n)]


def test_ch001_flickering_mode_count_is_drawn_smoothed_inside_a_band(browser, server):
    open_page(browser, server, "?preset=ring8-reference")
    counts = flicker(120)
    got = browser.execute_script(MODES_JS, counts, False)
    screenshot(browser, "charts-modes-smoothed")
    by_name = {p["name"]: p for p in got["paths"]}
    median = next(p for n, p in by_name.items() if n.startswith("modes (median"))
    assert "median of 16 frames" in median["name"]
    assert any(n.startswith("min–max") for n in got["legend"]), got["legend"]
    six_modes_px = abs(got["y2"] - got["y8"])
    raw_jumps = [abs(a - b) for a, b in zip(counts, counts[1:], strict=False)]
    raw_px = sum(raw_jumps) / len(raw_jumps) * six_modes_px / 6
    ys = path_ys(median["line"])[32:]  # past the first window
    drawn_px = sum(abs(a - b) for a, b in zip(ys, ys[1:], strict=False)) / (len(ys) - 1)
    # the raw count jumps ~2.8 modes a frame on average; the drawn line a small fraction of that
    assert drawn_px < 0.2 * raw_px, (drawn_px, raw_px)
    # the band behind it spans the flicker: a filled area from 2 to 8 modes
    band = next(p for p in got["paths"] if p["fill"])
    band_ys = path_ys(band["fill"])
    assert min(band_ys) <= got["y8"] + 1 and max(band_ys) >= got["y2"] - 1
    assert re.search(r"now \d(\.5)? of 8", got["title"]), got["title"]


def test_ch002_timeline_names_every_event_kind_that_fired(browser, server):
    open_page(browser, server, "?preset=ring8-reference")
    browser.execute_script("""
        const kinds = ['mode_collapse', 'mode_hopping', 'non_convergence', 'divergence'];
        kinds.forEach(function (k, i) { GS.addEvent(100 * (i + 1), k, 'test event ' + k); });
        GS.addEvent(450, 'mode_collapse', 'again');
        GS.drawCharts(true);
    """)
    names = wait_js(browser, """
        const t = Array.from(document.querySelectorAll('#timeline .legendtext'))
          .map(e => e.textContent);
        return t.length >= 4 && t;""", 20, "the timeline's legend")
    labels = browser.execute_script(
        "return ['mode_collapse', 'mode_hopping', 'non_convergence', 'divergence']"
        ".map(k => GS.VOCAB.events[k].label)")
    assert sorted(names) == sorted(labels)
    # each name is on screen, none over another
    boxes = browser.execute_script("""
        return Array.from(document.querySelectorAll('#timeline .legendtext')).map(e => {
          const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; });""")
    for i, a in enumerate(boxes):
        assert a[2] - a[0] > 10
        for b in boxes[i + 1:]:
            assert min(a[2], b[2]) <= max(a[0], b[0]) or min(a[3], b[3]) <= max(a[1], b[1])
    # and every event's marker is inside the x range, though the paused run is at step 0
    lo, hi = browser.execute_script(
        "return document.getElementById('timeline')._fullLayout.xaxis.range")
    assert lo <= 100 and hi >= 450
    screenshot(browser, "charts-timeline-four-kinds")


# The page's run as the stream leaves it when the charts lag: rows up to step 500, while the
# status bar already says 800 (the steps outrun the charts, drawn in turn every second or more).
LAGGING_JS = """
const cols = ['step', 'd_loss', 'g_loss', 'd_real', 'd_fake', 'd_grad_norm', 'g_grad_norm'];
const rows = [];
for (let s = 10; s <= 500; s += 10) rows.push(s, 0.7, 1.1, 0.6, 0.4, 0.05, 0.02);
GS.addRows(new Float64Array(rows), cols);
for (let s = 50; s <= 500; s += 50) GS.view.metrics.push(s, {modes: 6, high_quality: 0.8, js: 0.2});
GS.addEvent(300, 'mode_hopping', 'test');
GS.stream.last[GS.view.run] = Object.assign({}, GS.stream.last[GS.view.run], {step: 800});
document.body.dataset.state = arguments[0];
GS.view.pace.perMs = 0.2;  // 200 steps/s
const out = {};
['loss', 'd', 'grad', 'modes', 'metrics', 'timeline'].forEach(function (name) {
  GS.drawChart(name);
});
document.querySelectorAll('.charts .chart').forEach(function (d) {
  out[d.id] = d._fullLayout.xaxis.range;
});
const b = document.querySelector('#status [data-stat=step] b');
if (b) b.textContent = '800';
return out;
"""


@pytest.mark.parametrize("state", ["paused", "running"])
def test_ch003_side_charts_x_range_reaches_the_step_shown(browser, server, state):
    open_page(browser, server, "?preset=ring8-reference")
    ranges = browser.execute_script(LAGGING_JS, state)
    assert set(ranges) == {"chart-loss", "chart-d", "chart-grad", "chart-modes", "chart-metrics",
                           "timeline"}
    for div, (lo, hi) in ranges.items():
        assert lo <= 10 and hi >= 800, f"#{div}: x range {lo}-{hi}, the page shows step 800"
        # a running run's charts look ahead to where the steps will be at the next drawing, but
        # never more than 15% of the span: the curves keep most of the width
        assert hi <= (800 if state == "paused" else 800 + 0.15 * 800) + 1, (div, hi)
    screenshot(browser, f"charts-x-range-{state}")


# Each visible side chart's plot area (Plotly's drag rectangle), its box and its id.
PLOT_AREAS_JS = """
return [...document.querySelectorAll('.charts .chart')].filter(c => c.offsetParent !== null)
  .map(c => { const d = c.querySelector('.nsewdrag');
              return [c.id, d ? d.getBoundingClientRect().height : 0]; });
"""
MIN_PLOT_PX = 40  # room for a curve to show its shape between two tick labels


@pytest.mark.scenario
@pytest.mark.parametrize("size,query", [
    ((1920, 1080), "?preset=ring8-vanilla-collapse&lesson=mode-collapse&play=1"),
    ((1280, 800), "?preset=ring8-reference&play=1"),
    ((1024, 768), "?preset=gaussgan-100d&play=1")])
def test_ch004_side_charts_keep_a_plot_area_with_the_lesson_bar_and_on_small_screens(
        browser, server, size, query):
    """With the lesson bar open at 1920x1080 the six side charts had plot areas of 2-6 px, and
    at 1280x800 (charts under the plot) of 9 px: titles, ticks and legends took their boxes.
    The page scrolls rather than crush them."""
    set_viewport(browser, *size)
    try:
        open_page(browser, server, query)
        wait_js(browser, step_is("> 100"), 60, "a hundred steps")
        wait_charts_redrawn(browser, 6)  # every chart drawn again, with curves of 100 steps
        areas = browser.execute_script(PLOT_AREAS_JS)
        assert len(areas) == 6, areas
        small = [(i, round(h)) for i, h in areas if h < MIN_PLOT_PX]
        assert not small, f"plot areas under {MIN_PLOT_PX} px at {size}: {small}"
        screenshot(browser, f"charts-plot-areas-{size[0]}x{size[1]}")
    finally:
        browser.set_window_size(1920, 1080)
