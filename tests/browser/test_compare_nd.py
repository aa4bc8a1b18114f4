"""The compare page with n-D runs, in a real headless Chromium: each run's marginals, KS bars,
correlation matrices and norm histogram painted side by side on shared scales, readable at
1920x1080 and 1024x768 (screenshots in test-artifacts/compare-nd-*.png)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import make_driver, screenshot
from tests.browser.page import severe_errors, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.scenario]

# Two 100-D gaussian runs: collapsed noise beside minibatch discrimination (the lesson's pair).
PAIR = ("gaussgan-100d", "gaussgan-100d-minibatch")
PANELS = ("marg", "ks", "corr", "norm")

# What each run's panels hold, read from the plots' own data (Plotly's div.data) and axes.
PANEL_STATE = """
return GS.cmp.runs.map(c => {
  const get = k => document.getElementById('cmp-' + k + '-' + c.index);
  const data = k => (get(k) && get(k).data) || [];
  const axis = (k, a) => { const d = get(k); return d && d._fullLayout && d._fullLayout[a] &&
                           d._fullLayout[a].range.map(Number); };
  const marg = data('marg'), ks = data('ks'), corr = data('corr'), norm = data('norm');
  return {
    run: c.id, step: c.frame ? c.frame.step : -1,
    drawn: ['marg', 'ks', 'corr', 'norm'].map(k => get(k) ? +(get(k).dataset.step || -1) : -2),
    marg_traces: marg.length,
    marg_points: marg.length ? marg[0].y.length : 0,
    marg_dims: (get('marg') && get('marg').layout.annotations || []).map(a => a.text.split(' ')[0]),
    ks_bars: ks.length ? ks[0].y.length : 0,
    ks_max: ks.length ? Math.max(...ks[0].y) : 0,
    ks_bars_y: ks.length ? Array.from(ks[0].y) : [],
    ks_range: axis('ks', 'yaxis'),
    corr_rows: corr.map(t => t.z.length), corr_cols: corr.map(t => t.z[0].length),
    corr_types: corr.map(t => t.type),
    norm_points: norm.map(t => t.y.length),
    norm_range: axis('norm', 'xaxis'), norm_yrange: axis('norm', 'yaxis'),
    types: [...marg, ...ks, ...corr, ...norm].map(t => t.type),
  };
});
"""


def nd_panels_painted(driver, n: int, timeout: float = 240.0) -> list[dict]:
    """Waits until every run has a frame and its four panels show that frame."""
    wait_js(driver, f"return window.GS && GS.cmp && GS.cmp.runs.length === {n} && "
                    f"GS.cmp.runs.every(c => c.frame && c.frame.kind === 'nd')", timeout,
            f"a frame of each of the {n} n-D runs")
    wait_js(driver, "return GS.cmp.runs.every(c => ['marg','ks','corr','norm'].every(k => {"
                    "  const d = document.getElementById('cmp-' + k + '-' + c.index);"
                    "  return d && d.data && d.data.length &&"
                    "         +d.dataset.step === c.frame.step; }))",
            timeout, "every run's statistics panels painted from its newest frame")
    wait_js(driver, "return !GS.cmp.statsDue()", timeout, "the panels on the newest shared scales")
    return driver.execute_script(PANEL_STATE)


def show_statistics(driver) -> None:
    """Scrolls so the first run's statistics panels are at the top of the window."""
    driver.execute_script(
        "document.querySelector('.cmp-nd-caption').scrollIntoView({block: 'start'})")


def viewport(driver, width: int, height: int) -> None:
    """The page's viewport exactly this size (a window's size includes what is not page)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


@pytest.fixture
def small_window(chromium_available):
    d = make_driver()
    viewport(d, 1024, 768)
    yield d
    d.quit()


@pytest.fixture
def wide_browser(browser):
    """The shared browser with a 1920x1080 viewport, given back as it was (a later test sizes
    its window: an override left behind pins the viewport)."""
    viewport(browser, 1920, 1080)
    try:
        yield browser
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_cnd001_nd_runs_show_their_statistics_side_by_side_on_shared_scales(wide_browser, server):
    browser = wide_browser
    browser.get(f"{server.url}/compare?presets={','.join(PAIR)}")
    nd_panels_painted(browser, 2)  # paused at step 0
    browser.execute_script("document.getElementById('cmp-step-all').click()")  # by 10
    wait_js(browser, "return GS.cmp.runs.every(c => c.frame && c.frame.step >= 10)", 120,
            "both runs stepped")
    state = nd_panels_painted(browser, 2)
    for run in state:
        assert run["marg_traces"] == 16 and run["marg_points"] > 10, run  # 8 dims, real + fake
        assert run["ks_bars"] == 100 and 0 < run["ks_max"] <= 1, run
        assert run["corr_rows"] == [100, 100] and run["corr_cols"] == [100, 100], run
        assert all(p > 10 for p in run["norm_points"]) and len(run["norm_points"]) == 2, run
        # SVG traces only: the page's WebGL contexts are few (about 8, two per GL plot)
        assert set(run["types"]) <= {"scatter", "bar", "heatmap"}, run["types"]
    first, second = state
    # the same scales in both runs: one KS axis, one norm axis, the same 8 dimensions
    assert first["ks_range"] == second["ks_range"] and first["ks_range"][1] <= 1
    assert max(first["ks_max"], second["ks_max"]) <= first["ks_range"][1]
    assert first["norm_range"] == second["norm_range"]
    assert first["norm_yrange"] == second["norm_yrange"]
    assert first["marg_dims"] == second["marg_dims"] and len(first["marg_dims"]) == 8
    assert first["ks_bars_y"] != second["ks_bars_y"]  # each run's own statistics
    assert browser.execute_script("return document.querySelectorAll('canvas.gl-canvas').length")\
        == 0
    screenshot(browser, "compare-nd-1920x1080-top")
    show_statistics(browser)
    screenshot(browser, "compare-nd-1920x1080")
    assert not severe_errors(browser)


def test_cnd002_nd_panels_stay_readable_in_a_small_window(small_window, server):
    d = small_window
    d.get(f"{server.url}/compare?presets=bimodal-6d-wgan-gp,bimodal-6d-gan&play=1&speed=25")
    # while the runs train, every panel follows its run's frames
    wait_js(d, "return window.GS && GS.cmp && GS.cmp.runs.length === 2 && GS.cmp.runs.every("
               "c => ['marg','ks','corr','norm'].every(k => { "
               "const e = document.getElementById('cmp-' + k + '-' + c.index);"
               "return e && +e.dataset.step >= 300; }))",
            240, "every panel redrawn from a frame past step 300")
    d.execute_script("document.getElementById('cmp-play').click()")  # pause all
    wait_js(d, "return document.getElementById('cmp-group').textContent.startsWith('all at')",
            60, "the runs paused together")
    state = nd_panels_painted(d, 2)
    for run in state:
        assert run["marg_traces"] == 12, run  # 6 dims: all of them, real and fake
        assert run["ks_bars"] == 6 and run["corr_rows"] == [6, 6], run
    # no panel wider than its cell, no cell wider than the window: nothing clipped sideways
    boxes = d.execute_script("""
        return [...document.querySelectorAll('.cmp-stat, .cmp-cell')].map(e => {
          const r = e.getBoundingClientRect(); return [e.id, r.left, r.right]; });""")
    width = d.execute_script("return document.documentElement.clientWidth")
    assert all(left >= 0 and right <= width for _, left, right in boxes), boxes
    # every title and tick label inside its own panel
    outside = d.execute_script("""
        const out = [];
        document.querySelectorAll('.cmp-stat').forEach(p => {
          const b = p.getBoundingClientRect();
          p.querySelectorAll('.gtitle, .xtick text, .ytick text, .annotation-text').forEach(t => {
            const r = t.getBoundingClientRect();
            if (r.width && (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 ||
                            r.bottom > b.bottom + 1)) out.push(p.id + ': ' + t.textContent);
          });
        });
        return out;""")
    assert not outside, outside
    screenshot(d, "compare-nd-1024x768-top")
    show_statistics(d)
    screenshot(d, "compare-nd-1024x768")
    assert not severe_errors(d)


# The server's answer with the page's grid of cells held back until every run's first frame has
# come (a loaded server answers in seconds; the stream starts without waiting for it).
CELLS_AFTER_FRAMES_JS = """
(function () {
  const fetch0 = window.fetch;
  window.fetch = function (url, opts) {
    const answer = fetch0.apply(this, arguments);
    const body = opts && typeof opts.body === 'string' ? opts.body : '';
    if (body.indexOf('cmp-grid.children') < 0) return answer;
    return answer.then(function (r) {
      return new Promise(function (done) {
        const t0 = Date.now();
        let framedAt = 0;  // and a second more: the statistics' first turn comes and goes too
        (function hold() {
          const C = window.GS && GS.cmp;
          const framed = !!(C && C.runs.length && C.runs.every(function (c) { return c.frame; }));
          if (framed && !framedAt) framedAt = Date.now();
          if ((framedAt && Date.now() - framedAt > 1000) || Date.now() - t0 > 60000) {
            window._gsCellsAfterFrames = framed;
            done(r);
          } else setTimeout(hold, 50);
        })();
      });
    });
  };
})();
"""


def test_cnd003_frames_that_come_before_their_cells_are_drawn_when_the_cells_appear(server):
    d = make_driver()
    try:
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                          {"source": CELLS_AFTER_FRAMES_JS})
        d.get(f"{server.url}/compare?presets={','.join(PAIR)}")  # paused: one frame per run
        assert wait_js(d, "return window._gsCellsAfterFrames !== undefined && "
                          "document.getElementById('cmp-view-1') && window._gsCellsAfterFrames",
                       90, "the cells, after both runs' first frames")
        nd_panels_painted(d, 2, timeout=60)
        wait_js(d, "return GS.cmp.runs.every(c => { const v = document.getElementById("
                   "'cmp-view-' + c.index); return v && v.data && v.data.length; })", 30,
                "both runs' projections drawn")
        assert not severe_errors(d)
    finally:
        d.quit()
