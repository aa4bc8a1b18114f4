"""Every page still works under the Content-Security-Policy the server sends: no violation in
headless Chromium's console (nor reported to the page), and the plots are drawn, live over the
WebSocket (connect-src 'self') and as WebGL (the 3-D surface of D, script-src without eval)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import make_driver
from tests.browser.page import open_page, painted, run_of, sample_pixels, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.scenario]

# Registered before any page script runs (DevTools injects it, so the page's CSP does not apply
# to it): the page's own record of every violation, whatever the console keeps.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});
"""


@pytest.fixture(scope="module")
def driver(chromium_available):
    d = make_driver()
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_VIOLATIONS})
    yield d
    d.quit()


def assert_no_violation(driver, page: str) -> None:
    console = [e["message"] for e in driver.get_log("browser")
               if "Content Security Policy" in e["message"]]
    reported = driver.execute_script("return window.__csp || []")
    assert console == [] and reported == [], (page, console, reported)


def test_sh001_play_page_draws_live_and_in_3d_under_the_csp(driver, server):
    open_page(driver, server, "?preset=ring8-reference&play=1")  # a frame came over /ws
    wait_js(driver, f"return GS.stats.painted > {painted(driver) + 3}", 60, "live repaints")
    assert driver.execute_script("return document.querySelector('#plot-2d .main-svg') !== null")
    assert sample_pixels(driver, "plot-2d") > 0
    driver.execute_script("document.querySelector('#view-mode-2d input[value=surface]').click()")
    wait_js(driver, "const d = document.getElementById('plot-surface');"
                    "return d && d._fullData && d._fullData[0] && d._fullData[0].type === 'surface'"
                    " && d.querySelector('.gl-container canvas')", 60, "the 3-D surface")
    assert_no_violation(driver, "play")


def test_sh002_compare_library_lessons_and_replay_draw_under_the_csp(driver, server):
    run = run_of(driver) or ""
    driver.get(f"{server.url}/compare?presets=ring8-vanilla-collapse,ring8-unrolled")
    wait_js(driver, "return window.GS && GS.cmp && GS.cmp.runs.length === 2 && "
                    "GS.cmp.runs.every(c => c.drawn >= 1)", 150, "both compare runs drawn")
    assert_no_violation(driver, "compare")
    driver.get(f"{server.url}/library")
    wait_js(driver, "return document.querySelector('#lib-table tr[data-rec]')", 30,
            "a recording in the library")
    assert_no_violation(driver, "library")
    driver.get(f"{server.url}/lessons")
    wait_js(driver, "return document.querySelector('#lesson-list .lesson-card')", 30, "lessons")
    assert_no_violation(driver, "lessons")
    assert run, "the play page's run (test_sh001) is needed for the replay"
    driver.get(f"{server.url}/replay?rec={run}.h5")
    wait_js(driver, "return window.GS && GS.replay && GS.replay.ready", 30, "the replay page")
    wait_js(driver, "const d = document.getElementById('replay-frame-0');"
                    "return d && d.querySelector('.main-svg')", 30, "the replayed frame")
    assert_no_violation(driver, "replay")
