"""What the browser tests read from and wait for on ganscope's pages, written once.

Waits poll a JavaScript expression; when one times out, the error quotes every notice, banner and
status line the page shows, so a failure in CI says what the user would have seen.
"""

from __future__ import annotations

import os
import time

from selenium.webdriver.support.ui import WebDriverWait

# The page's own words about its state, from whichever page is open.
PAGE_STATE_JS = """
const ids = ['status', 'notice', 'banner', 'draw-notice', 'event-feed', 'cmp-notice', 'cmp-group',
             'lib-notice', 'replay-notice'];
const shown = {};
ids.forEach(i => {
  const e = document.getElementById(i);
  if (e && e.textContent) shown[i] = e.textContent;
});
if (window.GS && GS.cmp) {
  shown.compare_runs = GS.cmp.runs.map(c => [c.id, c.drawn, c.step, c.state]);
}
return shown;
"""

STEP_JS = ("const b = document.querySelector('#status [data-stat=step] b');"
           "return b ? parseInt(b.textContent.replace(/,/g, '')) : -1;")


def wait_js(driver, script: str, timeout: float = 30.0, what: str = ""):
    """Wait until the script returns something truthy; return it. With GANSCOPE_TEST_TIMING set,
    each wait prints how long it took (where a slow browser test spends its time)."""
    t0 = time.monotonic()
    try:
        got = WebDriverWait(driver, timeout, poll_frequency=0.1).until(
            lambda d: d.execute_script(script))
        if os.environ.get("GANSCOPE_TEST_TIMING"):
            print(f"\n  waited {time.monotonic() - t0:5.1f} s for {what or script[:60]}")
        return got
    except Exception:
        state = driver.execute_script(PAGE_STATE_JS)
        raise AssertionError(f"timed out waiting for {what or script}; page: {state}") from None


def step_of(driver) -> int:
    """The step the play page's status bar shows (-1 before the first status)."""
    return driver.execute_script(STEP_JS)


def step_is(test: str) -> str:
    """JavaScript that is true when the shown step passes `test` (e.g. '> 20')."""
    return STEP_JS.replace("return b ? parseInt", "return b && parseInt").replace(
        " : -1;", f" {test};")


def severe_errors(driver) -> list[str]:
    """Console errors since the test began (conftest drains the log before each test)."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def run_of(driver) -> str:
    return driver.execute_script("return window.GS && GS.view && GS.view.run")


def painted(driver) -> int:
    return driver.execute_script("return (window.GS && GS.stats) ? GS.stats.painted : 0")


SAMPLE_PIXELS_JS = """
const d = document.getElementById(arguments[0]), cv = d && d._gsSamples;
if (!cv || !cv.isConnected || !cv.width) return 0;
const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
let n = 0;
for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n += 1;
return n;
"""


def sample_pixels(driver, div_id: str) -> int:
    """Pixels the sample layer (the canvas draw.js paints the samples on) covers in a plot."""
    return driver.execute_script(SAMPLE_PIXELS_JS, div_id)


def open_page(driver, server, query: str = "") -> None:
    driver.get(server.url + "/" + query)
    wait_js(driver, "return window.GS && GS.view && GS.view.run && GS.stats.painted > 0",
            60, "the first frame to be painted")
