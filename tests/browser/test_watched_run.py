"""A run trained by a researcher's own script, watched in a real headless Chromium: the script
(here a thread posting frames a real 2-D gancore Session made, over http.client as
gancore.watch does) streams into a running dashboard; the play page paints it like a native run
with the watch-only notice and answers its controls with words, the class view lists it with
a drawn thumbnail, and once it ends the library lists its recording. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import threading

import pytest
from selenium.webdriver.common.by import By

from tests.browser.conftest import screenshot
from tests.browser.page import sample_pixels, severe_errors, wait_js
from tests.servers import AppServer
from tests.test_watch_ingest import Script, make_frames

pytestmark = pytest.mark.browser

NAME = "dana"
POST_EVERY_S = 0.25


@pytest.fixture(scope="module")
def watched(tmp_path_factory, chromium_available):
    """A dashboard and a script posting a 2-D run into it until the module's tests are done:
    40 frames four a second, then rows-only posts each second (the script is alive, between
    frames). Yields (server, script)."""
    srv = AppServer(tmp_path_factory.mktemp("watched") / "runs", "--no-spare")
    config, chunks = make_frames(40)
    script = Script(srv)
    status, answer = script.start(config, name=NAME)
    assert status == 200, answer
    done = threading.Event()

    def post() -> None:
        for rows, frame in chunks:
            if done.wait(POST_EVERY_S):
                return
            if script.frame(rows, frame)[0] != 204:
                return  # the page then stops moving: the tests say so
        while not done.wait(1.0):
            if script.frame(chunks[-1][0][:0])[0] != 204:
                return  # ended by the last test

    poster = threading.Thread(target=post, daemon=True)
    poster.start()
    try:
        yield srv, script
    finally:
        done.set()
        poster.join(10)
        srv.stop()


def notice(driver) -> str:
    return driver.execute_script("return document.getElementById('notice').textContent")


def test_wr001_the_play_page_paints_a_watched_run_and_answers_its_controls_in_words(
        browser, watched):
    srv, script = watched
    browser.get(f"{srv.url}/?run={script.run}")
    wait_js(browser, f"return window.GS && GS.view && GS.view.run === '{script.run}' && "
                     "GS.stats.painted > 2", 60, "the watched run's frames painted")
    assert f"watch-only: trained by {NAME}'s own script" in notice(browser)
    assert f"watch-only: {NAME}'s script" in browser.find_element(By.ID, "run-label").text
    wait_js(browser, "return document.querySelector('#status .state-running')", 20,
            "the running state")
    assert sample_pixels(browser, "plot-2d") > 2000  # real and generated dots on the canvas
    d_images = browser.execute_script(
        "return document.querySelectorAll('#plot-2d .imagelayer image').length")
    assert d_images == 1  # D's surface under the dots
    wait_js(browser, "const d = document.getElementById('chart-loss');"
                     "return d && d._fullData && d._fullData[0] && d._fullData[0].x.length > 20",
            30, "the loss chart from the posted rows")
    browser.find_element(By.ID, "play").click()  # a control that would act on the run
    wait_js(browser, "const n = document.querySelector('#notice .notice');"
                     "return n && n.textContent.includes('not from this page')", 20,
            "the answer to play")
    assert "info" in browser.find_element(By.CSS_SELECTOR, "#notice .notice").get_attribute(
        "class"), "a watch-only run's control was answered as an error"
    assert f"?run={script.run}" in browser.current_url
    assert severe_errors(browser) == []
    screenshot(browser, "watched-run-play")


def test_wr002_the_class_view_lists_the_watched_run_with_its_picture(browser, watched):
    srv, script = watched
    browser.get(srv.url + "/class")
    card = f".class-card[data-run=\"{script.run}\"]"
    wait_js(browser, f"return document.querySelector('{card} canvas')", 30, "the run's card")
    assert browser.find_element(By.CSS_SELECTOR, f"{card} .class-preset").text == \
        f"{NAME} (own script)"
    fake = wait_js(browser, f"""
        const canvas = document.querySelector('{card} canvas');
        if (!canvas.width) return 0;
        const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) {{  // the generated samples' pink, #d1306b
          if (px[i] > 150 && px[i + 1] < 120 && px[i + 2] > 60 && px[i + 2] < 170) n++;
        }}
        return n > 20 && n;""", 30, "generated samples drawn on the card")
    assert fake
    screenshot(browser, "watched-run-class")


def test_wr003_an_ended_watched_run_is_in_the_library(browser, watched):
    srv, script = watched
    assert script.end("done", "finished by its script")[0] == 204
    browser.get(srv.url + "/library")
    row = f"tr[data-rec='{script.run}.h5']"
    wait_js(browser, f"return document.querySelector(\"{row}\")", 30, "the recording's row")
    text = browser.find_element(By.CSS_SELECTOR, row).text
    assert "ring (2-D)" in text or "(2-D)" in text, text
    assert severe_errors(browser) == []
