"""The live dashboard in a real headless Chromium: what a user sees and can do on the play page.

One app server (real worker processes, real WebSocket) and one browser session are shared by the
tests of this module, which run in order like a user's visit.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import screenshot
from tests.browser.page import (
    open_page,
    painted,
    run_of,
    sample_pixels,
    severe_errors,
    step_of,
    wait_js,
)
from tests.servers import worker_pid

pytestmark = pytest.mark.browser


def notice(driver) -> str:
    return driver.execute_script("return document.getElementById('notice').textContent")


def field_input(driver, path: str):
    key = path.replace(".", "__")
    return driver.find_element(By.CSS_SELECTOR, f"[id='{{\"path\":\"{key}\",\"type\":\"field\"}}']")


def type_into(driver, path: str, text: str) -> None:
    el = field_input(driver, path)
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(text, Keys.ENTER)


def test_br001_page_loads_without_console_errors(browser, server):
    open_page(browser, server)
    wait_js(browser, "return document.querySelector('#status .state-paused')", 20, "paused state")
    assert step_of(browser) == 0
    assert "ring8-reference" in browser.find_element(By.ID, "preset").text
    assert browser.execute_script("return document.querySelector('#plot-2d .main-svg') !== null")
    assert severe_errors(browser) == []


def test_br002_play_advances_step_counter_and_plots(browser, server):
    before_paint = painted(browser)
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.SPACE)  # space bar plays
    wait_js(browser, "return document.querySelector('#status .state-running')", 20, "running")
    wait_js(browser, "const b = document.querySelector('#status [data-stat=step] b');"
                     "return b && parseInt(b.textContent.replace(/,/g, '')) > 30", 60, "steps")
    # the steps outrun the frames (hundreds of steps/s), so the plots get time to repaint
    wait_js(browser, f"return GS.stats.painted > {before_paint + 3}", 30, "four repaints")
    # 1,500 real and 1,500 fake dots on the sample layer, over the D surface (a layout image
    # Plotly draws under the plot area: one pixel per grid cell)
    d_images = browser.execute_script(
        "return Array.from(document.querySelectorAll('#plot-2d .imagelayer image'))"
        ".map(function (im) { return (im.getAttribute('href') || '').slice(0, 22); })")
    assert d_images == ["data:image/png;base64,"]
    assert sample_pixels(browser, "plot-2d") > 2000
    # the charts, drawn in idle time after the sample view, show the losses of the steps so far
    wait_js(browser, "const d = document.getElementById('chart-loss');"
                     "return d && d._fullData && d._fullData[0] && d._fullData[0].x.length > 3",
            30, "the loss chart")
    assert "?preset=ring8-reference" in browser.current_url
    screenshot(browser, "play-2d-ring8")


def test_br003_live_loss_change_keeps_the_step(browser, server):
    run = run_of(browser)
    step_before = step_of(browser)
    type_into(browser, "opt_d.lr", "0.0002")
    wait_js(browser, "return document.getElementById('notice').textContent"
                     ".includes('Applied live')", 30, "the live change")
    assert "learning rate of D" in notice(browser)  # the field in words
    wait_js(browser, f"const b = document.querySelector('#status [data-stat=step] b');"
                     f"return b && parseInt(b.textContent.replace(/,/g, '')) > {step_before}",
            30, "frames after the change")
    assert run_of(browser) == run  # same run, no reset
    assert step_of(browser) > step_before
    assert "cfg=" in browser.current_url  # the URL now carries the changed config


def test_br004_invalid_field_is_marked_and_nothing_sent(browser, server):
    run = run_of(browser)
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.SPACE)  # paused: a busy 2-core box types slowly while it draws
    wait_js(browser, "return document.querySelector('#status .state-paused')", 30, "paused")
    type_into(browser, "train.batch_size", "0")
    wait_js(browser, "return document.querySelector('.field.invalid')", 20, "invalid mark")
    text = browser.execute_script("return document.querySelector('.field.invalid').textContent")
    assert "greater than or equal to 1" in text
    assert run_of(browser) == run
    type_into(browser, "train.batch_size", "256")
    wait_js(browser, "return !document.querySelector('.field.invalid')", 20, "mark cleared")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.SPACE)
    wait_js(browser, "return document.querySelector('#status .state-running')", 30, "running")


def test_br005_architecture_change_restarts_as_child_run(browser, server):
    parent = run_of(browser)
    browser.find_element(By.XPATH, "//summary[text()='Generator G']").click()
    type_into(browser, "generator.hidden", "64, 64")
    wait_js(browser, f"return GS.view.run && GS.view.run !== '{parent}'", 60, "a child run")
    wait_js(browser, "return document.getElementById('run-label').textContent"
                     ".includes('child of')", 20, "the child label")
    assert parent in browser.find_element(By.ID, "run-label").text
    assert "child run" in notice(browser)
    runs = json.loads(browser.execute_script(
        "return await (await fetch('/api/runs')).text()"))
    child = next(r for r in runs if r["run_id"] == run_of(browser))
    assert child["parent"] == parent
    # still training: the child keeps playing, and the status bar shows the child's own steps
    wait_js(browser, "const s = document.getElementById('status');"
                     "const b = s.querySelector('[data-stat=step] b');"
                     "return s.dataset.run === GS.view.run && b && "
                     "parseInt(b.textContent.replace(/,/g, '')) > 5", 60, "child steps")


def test_br006_bad_upload_shows_error_while_run_continues(browser, server, tmp_path):
    bad = tmp_path / "ragged.csv"
    bad.write_text("1,2\n3,4\n5\n")
    run = run_of(browser)
    assert browser.execute_script("return document.getElementById('status').dataset.run") == run
    step_before = step_of(browser)
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(bad))
    wait_js(browser, "return document.getElementById('notice').textContent"
                     ".includes('Upload refused')", 30, "the upload error")
    assert "ragged.csv" in notice(browser) and "line 3" in notice(browser)
    assert "ragged.csv" in browser.find_element(By.ID, "upload-info").text
    wait_js(browser, f"const b = document.querySelector('#status [data-stat=step] b');"
                     f"return b && parseInt(b.textContent.replace(/,/g, '')) > {step_before}",
            30, "the run to go on")
    assert run_of(browser) == run
    assert severe_errors(browser) == []


@pytest.mark.parametrize("preset, plot, name", [
    ("goodfellow-1d", "plot-1d", "play-1d-goodfellow"),
    ("gaussgan-100d", "plot-proj", "play-nd-gaussgan100"),
])
def test_br007_presets_draw_their_views(browser, server, preset, plot, name):
    open_page(browser, server, f"?preset={preset}&play=1")
    wait_js(browser, f"const d = document.getElementById('{plot}');"
                     "return d && d._fullData && d.offsetParent !== null && "
                     # the projection's traces are its D picture (a layout image) and dots
                     "(d._fullData.length >= 1 || d._fullLayout.images.length >= 1)",
            60, f"{plot} drawn")
    wait_js(browser, "const b = document.querySelector('#status [data-stat=step] b');"
                     "return b && parseInt(b.textContent.replace(/,/g, '')) > 20", 90, "steps")
    if preset == "gaussgan-100d":
        assert sample_pixels(browser, plot) > 2000  # the projected real and fake dots
        for div in ("plot-marg", "plot-corr", "plot-ks", "plot-norm"):
            wait_js(browser, f"const d = document.getElementById('{div}');"
                             "return d && d._fullData && d._fullData.length > 0", 30, div)
    else:
        # the z -> x mapping: one line per z quantile from the z axis up to the x axis
        n = browser.execute_script("return document.getElementById('plot-1d')._fullData"
                                   ".filter(t => t.name === 'z → x')[0].x.length")
        assert n >= 100 * 3
    # every legend shows its colour swatches (a page rule once hid Plotly's g.layers on 1-D and
    # n-D pages, which left bare names with no line to match them to)
    legends = (plot, "chart-loss") if preset == "goodfellow-1d" else ("chart-loss",)
    for div in legends:
        wait_js(browser, f"return document.querySelector('#{div} .legend .traces')", 30,
                f"{div}'s legend")
        widths = browser.execute_script(
            f"return Array.from(document.querySelectorAll('#{div} .legend .legendlines path'))"
            ".map(p => p.getBoundingClientRect().width)")
        assert widths and min(widths) > 10, (div, widths)
    screenshot(browser, name)
    assert severe_errors(browser) == []


@pytest.mark.scenario
def test_br008_second_session_cannot_control_the_run(browser, second_browser, server):
    open_page(browser, server, "?preset=ring8-reference&play=1")
    wait_js(browser, "return document.querySelector('#status .state-running')", 30, "running")
    run = run_of(browser)
    second_browser.get(f"{server.url}/?run={run}")
    wait_js(second_browser, f"return window.GS && GS.view.run === '{run}' && GS.stats.painted > 1",
            60, "the shared run's frames")
    assert "another browser session" in notice(second_browser)
    second_browser.find_element(By.ID, "play").click()
    wait_js(second_browser, "return document.getElementById('notice').textContent"
                            ".includes('only its owner')", 30, "the refusal")
    step_before = step_of(browser)
    wait_js(browser, f"const b = document.querySelector('#status [data-stat=step] b');"
                     f"return b && parseInt(b.textContent.replace(/,/g, '')) > {step_before}"
                     " && document.querySelector('#status .state-running')", 30, "still running")


def test_br009_killed_worker_marks_run_failed(browser, server):
    run = run_of(browser)
    os.kill(worker_pid(server.runs_dir, run), signal.SIGKILL)  # /api/runs shows no pids
    wait_js(browser, "return document.querySelector('#status .state-failed')", 30, "failed")
    banner = browser.find_element(By.ID, "banner").text
    assert "Run failed" in banner and "worker process died" in banner
    screenshot(browser, "play-failed")
