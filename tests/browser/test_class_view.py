"""The class view (/class) in a real headless Chromium: six students, each a browser session of
its own that opened a run as the play page does, and a teacher on a token server. The teacher's
page refuses without the token, then shows six live cards (preset or "custom", a step that moves,
the newest detector event, a drawn thumbnail), fits them on a projector's screen at 1920x1080 and
1024x768 (screenshots kept in test-artifacts/), and a click shows the run large in presenter mode.

A server of its own (six runs, a token); the browser is a fresh profile (its own cookies).
"""

from __future__ import annotations

import base64
import json

import pytest
from selenium.webdriver.common.by import By

from gancore.teach.presets import PRESETS
from tests.browser.conftest import make_driver, screenshot
from tests.browser.page import wait_js
from tests.servers import AppServer, Client, run_of

pytestmark = [pytest.mark.browser, pytest.mark.scenario]

TOKEN = "class-view-token"
PRESET_RUNS = ("ring8-reference", "ring8-vanilla-collapse", "sway-1d", "goodfellow-1d",
               "bimodal-6d-gan")
CUSTOM_FROM = "four-points-oscillation"  # the sixth student changed its seed: no preset now

PINK_PX_JS = """
function pinkPixels(canvas) {  // the generated samples' pink, #d1306b
  if (!canvas.width || !canvas.height) return 0;
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i] > 150 && px[i + 1] < 120 && px[i + 2] > 60 && px[i + 2] < 170) n++;
  }
  return n;
}
"""

CARDS_JS = PINK_PX_JS + """
return Array.from(document.querySelectorAll('#class-grid .class-card')).map(function (c) {
  const r = c.getBoundingClientRect();
  const fake = pinkPixels(c.querySelector('canvas'));
  const preset = c.querySelector('.class-preset');
  const small = Array.from(c.querySelectorAll('.class-student, .class-preset, .class-line span, '
                                              + '.class-event'))
    .map(function (e) { return parseFloat(getComputedStyle(e).fontSize); })
    .filter(function (s) { return s < 16; }).length;
  return {run: c.dataset.run, href: c.getAttribute('href'),
          preset: c.querySelector('.class-preset').textContent,
          state: c.querySelector('.class-state').textContent,
          step: parseInt(c.querySelector('.class-step').textContent.replace(/[^0-9]/g, '')),
          event: c.querySelector('.class-event').textContent,
          has_event: c.querySelector('.class-event').classList.contains('has-event'),
          top: r.top, bottom: r.bottom, left: r.left, right: r.right, fake_px: fake,
          small_text: small, preset_clipped: preset.scrollWidth > preset.clientWidth};
});
"""


@pytest.fixture(scope="module")
def classroom(tmp_path_factory, chromium_available):
    """A token server with six students' runs (long idle pause: the students are at their
    desks), and the run ids by preset ("custom" for the sixth)."""
    srv = AppServer(tmp_path_factory.mktemp("class") / "runs", "--no-spare", "--max-runs", "6",
                    "--token", TOKEN, env={"GANSCOPE_IDLE_PAUSE_S": "600"})
    runs: dict[str, str] = {}
    try:
        for preset in PRESET_RUNS:
            student = Client(srv.url, headers={"Authorization": f"Bearer {TOKEN}"})
            status, answer = student.open_preset(preset, play=True)
            assert status == 200 and run_of(answer), answer
            runs[preset] = str(run_of(answer))
        student = Client(srv.url, headers={"Authorization": f"Bearer {TOKEN}"})
        changed = PRESETS[CUSTOM_FROM].config().with_changes({"train.seed": 7}).to_json()
        status, answer = student.open_run(changed, play=True, preset=CUSTOM_FROM)
        assert status == 200 and run_of(answer), answer
        runs["custom"] = str(run_of(answer))
        yield srv, runs
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def teacher(chromium_available):
    driver = make_driver()
    yield driver
    driver.quit()


def cards(driver) -> list[dict]:
    return driver.execute_script(CARDS_JS)


def test_cv001_without_the_token_the_class_view_refuses(classroom, teacher):
    srv, _ = classroom
    teacher.get(srv.url + "/class")
    body = teacher.find_element(By.TAG_NAME, "body").text
    assert "token" in body
    assert not teacher.find_elements(By.ID, "class-grid")
    teacher.get(srv.url + "/api/class")
    assert "runs" not in teacher.find_element(By.TAG_NAME, "body").text


def test_cv002_six_students_appear_live_with_preset_step_and_event(classroom, teacher):
    srv, runs = classroom
    teacher.set_window_size(1920, 1080)
    teacher.get(f"{srv.url}/class?token={TOKEN}")
    assert "token=" not in teacher.current_url  # swapped for a cookie
    got = wait_js(teacher, "const c = document.querySelectorAll('#class-grid .class-card');"
                           "return c.length === 6 && Array.from(c).every(e => parseInt("
                           "e.querySelector('.class-step').textContent.replace(/[^0-9]/g, ''))"
                           " > 0);", 240, "six cards whose runs have taken a step")
    assert got
    first = {c["run"]: c for c in cards(teacher)}
    by_preset = {c["preset"]: c for c in first.values()}
    assert set(by_preset) == {*PRESET_RUNS, "custom"}
    assert {p: by_preset[p]["run"] for p in by_preset} == runs
    assert "students" in teacher.find_element(By.ID, "class-count").text

    # Every step moves on: the cards are refreshed, not drawn once.
    wait_js(teacher, f"""const before = {json.dumps({r: c["step"] for r, c in first.items()})};
            return Array.from(document.querySelectorAll('#class-grid .class-card')).every(
              c => parseInt(c.querySelector('.class-step').textContent.replace(/[^0-9]/g, ''))
                   > before[c.dataset.run]);""", 120, "every card's step to advance")

    # The newest detector event: the swaying lesson's run sways within its first hundred steps.
    wait_js(teacher, "const c = document.querySelector('.class-card[data-run=\"" +
            runs["sway-1d"] + "\"] .class-event'); return c && c.classList.contains("
            "'has-event') && c.textContent;", 120, "the sway-1d card's event")
    now = {c["preset"]: c for c in cards(teacher)}
    assert "at step" in now["sway-1d"]["event"]
    assert all(c["event"] for c in now.values())  # an event, or "no event yet"
    for preset in ("ring8-reference", "ring8-vanilla-collapse", "bimodal-6d-gan", "custom"):
        assert now[preset]["fake_px"] > 20, f"{preset}: no generated samples drawn"
    assert all(c["state"] == "running" for c in now.values()), now


@pytest.mark.parametrize("size", [(1920, 1080), (1024, 768)])
def test_cv003_six_cards_fit_a_projector_screen_with_readable_text(classroom, teacher, size):
    srv, _ = classroom
    teacher.set_window_size(*size)
    if "/class" not in teacher.current_url:
        teacher.get(srv.url + "/class")
    wait_js(teacher, "return document.querySelectorAll('#class-grid .class-card').length === 6",
            60, "six cards")
    wait_js(teacher, "return new Promise(r => setTimeout(() => r(true), 1200))", 10)
    width, height = teacher.execute_script("return [innerWidth, innerHeight]")
    shown = cards(teacher)
    for c in shown:
        assert c["top"] >= 0 and c["bottom"] <= height, f"{c['preset']} is off the screen"
        assert c["left"] >= 0 and c["right"] <= width, f"{c['preset']} is off the screen"
        assert c["small_text"] == 0, f"{c['preset']}: text under 16 px"
        assert not c["preset_clipped"], f"{c['preset']}: the preset's name is cut off"
    for a in shown:  # no two cards overlap
        for b in shown:
            if a is not b:
                assert (a["right"] <= b["left"] or b["right"] <= a["left"] or
                        a["bottom"] <= b["top"] or b["bottom"] <= a["top"]), (a, b)
    screenshot(teacher, f"class-view-6-students-{size[0]}x{size[1]}")
    teacher.set_window_size(1920, 1080)


def test_cv004_a_click_shows_the_run_large_in_presenter_mode(classroom, teacher):
    srv, runs = classroom
    teacher.set_window_size(1920, 1080)
    if "/class" not in teacher.current_url:
        teacher.get(srv.url + "/class")
    card = wait_js(teacher, "return document.querySelector('.class-card[data-run=\"" +
                   runs["ring8-reference"] + "\"]')", 60, "the ring8-reference card")
    card.click()
    wait_js(teacher, "return document.body.classList.contains('present') && "
                     "window.GS && GS.view && GS.view.frame", 90, "the run in presenter mode")
    assert f"run={runs['ring8-reference']}" in teacher.current_url
    width = teacher.execute_script("return document.getElementById('plot-2d')"
                                   ".getBoundingClientRect().width")
    assert width > 800, "the run is not shown large"
    screenshot(teacher, "class-view-click-presenter")
    teacher.back()
    wait_js(teacher, "return document.querySelectorAll('#class-grid .class-card').length === 6",
            60, "the class view again")


# A generator collapsed onto one spot: the spot where a run sways out of view is the plane's edge.
@pytest.mark.parametrize("where", [(128, 128), (255, 128)], ids=["middle", "edge"])
def test_cv005_a_collapsed_generator_still_shows_a_visible_dot(classroom, teacher, where):
    srv, _ = classroom
    teacher.set_window_size(1024, 768)
    teacher.get(f"{srv.url}/class?token={TOKEN}")
    wait_js(teacher, "return !!(window.GS && GS.drawClassPicture)", 30, "the class view's script")
    codes = base64.b64encode(bytes(where) * 240).decode()  # the 240 samples a card gets
    pink = teacher.execute_script(PINK_PX_JS + """
        const canvas = document.createElement('canvas');
        canvas.style.cssText = 'width: 240px; height: 180px; position: fixed; top: 0; left: 0';
        document.body.append(canvas);
        GS.drawClassPicture(canvas, {kind: 'points', bounds: [[0, 1], [0, 1]], real: '',
                                     fake: arguments[0], d: null});
        const n = pinkPixels(canvas);
        canvas.remove();
        return n;""", codes)
    # A dot 7 px across at least (the old dots of 1.7 px gave 3 pink pixels, 1 on the edge).
    assert pink >= 30, f"a collapsed generator's samples are {pink} pink pixels"
