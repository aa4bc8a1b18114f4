"""The classroom in a real headless Chromium: the lessons page and the lesson bar with its event
feed, presenter mode and its keys, and a target drawn on the canvas that trains.

Shares the session's app server and browser with the other browser tests; each test leaves the
window at its usual size.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from gancore.teach.lessons import LESSONS
from tests.browser.conftest import screenshot
from tests.browser.page import step_is, step_of, wait_js

pytestmark = pytest.mark.browser

# On-screen height of the main 2-D plot in pixels: its square data area is bounded by it.
VISIBLE_HEIGHT_JS = ("(function () { const r = document.getElementById('plot-2d')"
                     ".getBoundingClientRect(); return Math.max(0, Math.min(r.bottom, "
                     "innerHeight) - Math.max(r.top, 0)); })()")


def wait_first_frame(driver) -> None:
    wait_js(driver, "return window.GS && GS.view && GS.view.run && GS.view.frame", 60,
            "the first frame")


def press(driver, *keys) -> None:
    """Keys as a user types them, to whatever has the focus (the page body here)."""
    ActionChains(driver).send_keys(*keys).perform()


@pytest.fixture
def window(browser):
    """A projector-sized window for the test, the usual size afterwards."""
    browser.set_window_size(1280, 720)
    yield browser
    browser.set_window_size(1920, 1080)


@pytest.mark.scenario
def test_cls001_lessons_page_opens_a_lesson_whose_events_read_as_sentences(window, server):
    browser = window
    browser.get(server.url + "/lessons")
    cards = wait_js(browser, "return document.querySelectorAll('.lesson-card').length === "
                             f"{len(LESSONS)} && document.querySelectorAll('.lesson-card')", 30,
                    "one card per lesson")
    assert len(cards) == len(LESSONS)
    for lesson in LESSONS.values():
        card = browser.find_element(By.ID, f"lesson-{lesson.slug}")
        assert lesson.title in card.text
        link = card.find_element(By.CLASS_NAME, "open-compare").get_attribute("href")
        assert link.endswith(f"/compare?presets={lesson.problem},{lesson.remedy}&play=1")
    screenshot(browser, "classroom-lessons")

    # One click: the swaying lesson's problem plays on the play page, with the lesson above it.
    lesson = LESSONS["swaying"]
    browser.find_element(By.ID, "lesson-swaying").find_element(By.CLASS_NAME, "open-play").click()
    wait_first_frame(browser)
    assert f"preset={lesson.problem}" in browser.current_url
    assert "lesson=swaying" in browser.current_url  # kept when the page rewrites its URL
    bar = browser.find_element(By.ID, "lesson-bar")
    assert lesson.title in bar.text and "Showing the problem" in bar.text
    # The detector's event appears as a sentence with its step, as it fires.
    text = wait_js(browser, "const e = document.querySelector('#event-feed .kind-swaying');"
                            "return e && e.textContent", 60, "the swaying event in the feed")
    assert "swaying at step" in text and "data scales off" in text
    screenshot(browser, "classroom-lesson-swaying")

    # "Show the remedy" swaps the run for the remedy preset (paused first: the busy 2-core box
    # answers faster when nothing trains).
    browser.find_element(By.CLASS_NAME, "lesson-title").click()  # focus on the page
    press(browser, Keys.SPACE)
    wait_js(browser, "return document.body.dataset.state === 'paused'", 30, "paused")
    problem_run = browser.execute_script("return GS.view.run")
    browser.find_element(By.ID, "lesson-switch").click()
    wait_js(browser, f"return GS.view.run !== '{problem_run}' && GS.view.frame && "
                     "GS.view.frame.meta.run_id === GS.view.run", 60, "the remedy's frames")
    wait_js(browser, "return document.getElementById('lesson-showing').textContent"
                     ".includes('remedy')", 20, "the bar to say it shows the remedy")
    assert lesson.remedy in browser.find_element(By.ID, "preset").text
    assert browser.find_element(By.ID, "lesson-switch").text.startswith("◀ Back")
    assert f"preset={lesson.remedy}" in browser.current_url


def test_cls002_presenter_mode_hides_controls_and_keys_drive_the_run(window, server):
    browser = window
    browser.get(server.url + "/?preset=ring8-reference")
    wait_first_frame(browser)
    panel = browser.find_element(By.CLASS_NAME, "panel")
    assert panel.is_displayed()
    normal_px = browser.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('.watch')).fontSize)")
    step_px = browser.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('#status b')).fontSize)")
    seen = browser.execute_script('return ' + VISIBLE_HEIGHT_JS)

    browser.find_element(By.ID, "present-toggle").click()
    wait_js(browser, "return document.body.classList.contains('present')", 20, "presenter mode")
    assert "present=1" in browser.current_url
    assert not panel.is_displayed()
    for hidden in ("step-d", "step-g"):
        assert not browser.find_element(By.ID, hidden).is_displayed()
    assert browser.find_element(By.ID, "play").is_displayed()
    assert browser.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('.watch')).fontSize)") \
        >= normal_px * 1.3
    assert browser.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('#status b')).fontSize)") \
        > step_px
    # the main plot is wholly on screen and taller on screen than before
    wait_js(browser, f"return {VISIBLE_HEIGHT_JS} > {seen * 1.2}", 20,
            "the plot to take the room of the panel")
    assert browser.execute_script(
        "return document.getElementById('plot-2d').getBoundingClientRect().bottom <= innerHeight")
    # it fits the projector: nothing scrolls
    assert browser.execute_script(
        "return document.documentElement.scrollHeight <= innerHeight + 2")
    screenshot(browser, "classroom-presenter")

    browser.find_element(By.CLASS_NAME, "watch").click()  # focus on the page, not a button
    start = step_of(browser)
    press(browser, Keys.ARROW_RIGHT)
    wait_js(browser, step_is(f"> {start}"), 45,
            "right arrow to step")
    assert browser.execute_script("return document.body.dataset.state") != "running"

    press(browser, Keys.SPACE)
    wait_js(browser, "return document.body.dataset.state === 'running'", 45, "space to play")
    press(browser, Keys.SPACE)
    wait_js(browser, "return document.body.dataset.state === 'paused'", 45, "space to pause")

    run = browser.execute_script("return GS.view.run")
    press(browser, "r")
    wait_js(browser, f"return GS.view.run && GS.view.run !== '{run}'", 60, "R to reset")
    wait_js(browser, step_is("=== 0"), 60, "step 0")

    press(browser, Keys.ESCAPE)
    wait_js(browser, "return !document.body.classList.contains('present')", 20, "Esc to leave")
    assert panel.is_displayed()
    assert "present=1" not in browser.current_url


# Where the test clicks, in data coordinates: a tight cluster in the upper right quadrant.
CLUSTER = [(1.0 + 0.2 * (i % 4), 1.0 + 0.25 * (i // 4)) for i in range(12)]


def _click_points(driver, canvas, points) -> None:
    scale = canvas.size["width"] / 5.0  # the canvas spans -2.5..2.5
    chain = ActionChains(driver)
    for x, y in points:
        chain.move_to_element_with_offset(canvas, int(x * scale), int(-y * scale)).click()
    chain.perform()


def test_cls003_a_drawn_target_trains(browser, server):
    browser.get(server.url + "/draw")
    canvas = wait_js(browser, "return document.getElementById('draw-canvas')", 30, "the canvas")
    browser.execute_script("GS.clearDrawn()")  # a drawing kept from an earlier visit goes
    _click_points(browser, canvas, CLUSTER[:3])
    wait_js(browser, "return document.getElementById('draw-count').textContent === '3 points'",
            10, "three points counted")
    browser.find_element(By.ID, "draw-train").click()
    refusal = wait_js(browser, "return document.getElementById('draw-notice').textContent", 20,
                      "the refusal")
    assert "at least 8 points" in refusal and "you have 3" in refusal
    assert "/draw" in browser.current_url

    browser.find_element(By.ID, "draw-undo").click()  # undo removes the last point...
    wait_js(browser, "return document.getElementById('draw-count').textContent === '2 points'",
            10, "undo")
    _click_points(browser, canvas, CLUSTER[2:])  # ...then ten more: twelve in all
    wait_js(browser, "return document.getElementById('draw-count').textContent === '12 points'",
            10, "twelve points counted")
    drawn = browser.execute_script("return GS.drawnPoints()")
    for (x, y), (dx, dy) in zip(CLUSTER, drawn, strict=True):
        assert abs(x - dx) < 0.03 and abs(y - dy) < 0.03
    screenshot(browser, "classroom-draw")

    browser.find_element(By.ID, "draw-train").click()
    wait_js(browser, "return location.pathname === '/' && window.GS && GS.view && "
                     "GS.view.frame && GS.view.frame.step > 0", 60, "the run to train")
    wait_js(browser, step_is("> 20"), 60, "steps")
    # The real samples on the plot are the drawn points, each with its small spread.
    real = browser.execute_script("return Array.from(GS.view.frame.arrays.real)")
    xs, ys = real[0::2], real[1::2]
    assert len(xs) > 100
    assert 0.8 < min(xs) and max(xs) < 1.8 and 0.8 < min(ys) and max(ys) < 1.7, \
        (min(xs), max(xs), min(ys), max(ys))
    assert "cfg=" in browser.current_url  # the drawing is in the run's URL
    screenshot(browser, "classroom-drawn-run")
