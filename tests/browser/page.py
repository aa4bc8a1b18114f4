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


def set_viewport(driver, w: int, h: int) -> None:
    """The page's viewport, not the window, at w x h (a projector in full screen). The window is
    sized, then corrected by what the viewport lacks: on a busy machine a resize lands a moment
    after the call returns, and a difference read too early sized the window wrong."""
    window = [w, h]
    for _ in range(4):
        driver.set_window_size(*window)
        try:
            wait_js(driver, f"return outerWidth === {window[0]} && outerHeight === {window[1]}",
                    5, "the window resized")
        except AssertionError:
            continue
        iw, ih = driver.execute_script("return [innerWidth, innerHeight]")
        if (iw, ih) == (w, h):
            return
        window = [window[0] + w - iw, window[1] + h - ih]
    sizes = driver.execute_script("return [outerWidth, outerHeight, innerWidth, innerHeight]")
    raise AssertionError(f"no {w}x{h} viewport: window and viewport are {sizes}, asked for "
                         f"a window of {window}")


# Every visible side chart drawn since window._gsMark (they are drawn one at a time, in turn).
_REDRAWN_JS = """
const c = GS.chartClock, shown = Object.keys(c.drawnAt).filter(function (k) {
  return document.getElementById(k === 'timeline' ? k : 'chart-' + k).offsetParent !== null;
});
return shown.length >= AT_LEAST &&
       shown.every(function (k) { return c.drawnAt[k] > window._gsMark; });
"""


def wait_charts_redrawn(driver, at_least: int, timeout: float = 60.0) -> None:
    """Waits until every visible side chart (at least `at_least` of them) has been drawn again
    from now on: what they show then is the page as it is, not a chart left from before."""
    driver.execute_script("window._gsMark = performance.now()")
    wait_js(driver, _REDRAWN_JS.replace("AT_LEAST", str(int(at_least))), timeout,
            f"{at_least} side charts redrawn")
