"""The README's "Watch your own GAN" path end to end: examples/cgan_6d_bimodal.py run as a
researcher runs it (its own process, `--dashboard` pointing at a running dashboard), the run
listed in the class view while it trains, its play page painting the 6-D view (marginals, KS
bars) in a real headless Chromium, the script ending with a recording the library lists.
Screenshot: test-artifacts/watched-example-6d.png.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import screenshot
from tests.browser.page import severe_errors, wait_js
from tests.helpers import wait_for
from tests.servers import AppServer
from tests.test_watch_ingest import class_runs

pytestmark = [pytest.mark.browser, pytest.mark.scenario]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cgan_6d_bimodal.py"
STEPS = 2500


def test_wx001_the_6d_example_shows_live_on_the_page_and_lands_in_the_library(
        browser, tmp_path):
    srv = AppServer(tmp_path / "runs", "--no-spare")
    script = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--steps", str(STEPS), "--dashboard", srv.url],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: class_runs(srv), 60, "the script's run in the class view")
        (run_id, entry), = class_runs(srv).items()
        assert entry["preset"] == "cgan-6d-bimodal (own script)"
        browser.set_window_size(1920, 1080)
        browser.get(f"{srv.url}/?run={run_id}")
        wait_js(browser, f"return window.GS && GS.view && GS.view.run === '{run_id}' && "
                         "GS.stats.painted > 3", 60, "the watched 6-D run painted")
        for plot in ("plot-marg", "plot-ks", "plot-corr", "plot-norm"):
            wait_js(browser, f"const d = document.getElementById('{plot}');"
                             "return d && d._fullData && d._fullData.length > 0", 30,
                    f"the {plot} panel drawn")
        bars = browser.execute_script(
            "return document.getElementById('plot-ks')._fullData[0].y.length")
        assert bars == 6, "one KS bar per coordinate"
        assert "watch-only" in browser.find_element(By.ID, "notice").text
        # the form shows the script's run, not the default preset's
        assert browser.execute_script("return document.getElementById('preset').textContent"
                                      ).find("ring8") < 0
        assert "cgan-6d-bimodal's own GAN, trained by its own script" in \
            browser.find_element(By.ID, "preset-watch").text
        # (the series grow in place: the drawn x range says how far a chart was last drawn)
        wait_js(browser, "const d = document.getElementById('chart-loss');"
                         "return d && d._fullLayout && d._fullLayout.xaxis.range[1] > 500", 60,
                "the loss chart drawn from 500 steps of posted rows")
        screenshot(browser, "watched-example-6d")
        assert severe_errors(browser) == []
        out, _ = script.communicate(timeout=300)
        assert script.returncode == 0, out
        assert f"watching 'cgan-6d-bimodal' live at {srv.url}/?run={run_id}" in out, out
        assert f"recorded {STEPS:,} steps" in out, out
        # opened after the end, the page draws the last frame whole: every panel, the charts
        browser.get(f"{srv.url}/?run={run_id}")
        wait_js(browser, "return ['plot-proj', 'plot-marg', 'plot-ks', 'plot-corr', 'plot-norm', "
                         "'chart-loss'].every(id => { const d = document.getElementById(id); "
                         "return d && d._fullData && d._fullData.length > 0; })", 30,
                "every panel of the ended run drawn")
        wait_js(browser, "return ['chart-d', 'chart-grad', 'chart-modes', 'chart-metrics', "
                         "'timeline'].every(id => { const d = document.getElementById(id); "
                         "return d && d._fullLayout; })", 30, "every chart of the ended run")
        # and its metric charts from the run's start, not only from the one frame it was sent
        for chart in ("chart-modes", "chart-metrics"):
            first = browser.execute_script(
                f"const d = document.getElementById('{chart}');"
                "const xs = d._fullData.filter(t => t.x && t.x.length > 5).map(t => t.x[0]);"
                "return xs.length ? Math.min(...xs) : null")
            assert first is not None and first < 500, (chart, first)
        events = browser.execute_script(
            "return document.getElementById('timeline')._fullData.map(t => t.name)")
        assert "mode collapse" in events, events  # the example's collapse, on the timeline
        screenshot(browser, "watched-example-6d-ended")
        browser.get(srv.url + "/library")
        row = f"tr[data-rec='{run_id}.h5']"
        wait_js(browser, f"return document.querySelector(\"{row}\")", 30,
                "the dashboard's recording of the run in the library")
        assert "own script cgan-6d-bimodal" in browser.find_element(By.CSS_SELECTOR, row).text
    finally:
        if script.poll() is None:
            script.kill()
            script.wait(10)
        srv.stop()
