"""Forms and notices in a real Chromium: several bad fields at once on the play page, and the
draw page's refusal once the drawing changes. Each notice must describe the page as it is now."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import screenshot
from tests.browser.page import wait_js

pytestmark = pytest.mark.browser

NOTICE_JS = "return document.getElementById('notice').textContent"


def field_input(driver, path: str):
    key = path.replace(".", "__")
    return driver.find_element(By.CSS_SELECTOR, f"[id='{{\"path\":\"{key}\",\"type\":\"field\"}}']")


def row_js(path: str) -> str:
    key = path.replace(".", "__")
    return f"document.getElementById('{{\"path\":\"{key}\",\"type\":\"field-row\"}}')"


def type_into(driver, path: str, text: str) -> None:
    el = field_input(driver, path)
    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(text, Keys.ENTER)


def section(driver, title: str):
    return driver.find_element(By.XPATH, f"//details[summary[text()='{title}']]")


@pytest.mark.scenario
def test_fb001_two_bad_fields_marked_in_sight_the_good_change_applied_then_cleared(browser,
                                                                                   server):
    browser.get(server.url + "/?preset=ring8-reference")
    wait_js(browser, "return window.GS && GS.view && GS.view.run", 60, "the run")
    latent = section(browser, "Latent noise")
    assert latent.get_attribute("open") is None  # collapsed until asked
    latent.find_element(By.TAG_NAME, "summary").click()
    type_into(browser, "latent.dim", "0")
    wait_js(browser, f"return {row_js('latent.dim')}.classList.contains('invalid')", 20,
            "the latent dimension marked")
    latent.find_element(By.TAG_NAME, "summary").click()  # folded away, still wrong
    type_into(browser, "opt_d.lr", "-1")
    wait_js(browser, f"return {row_js('opt_d.lr')}.classList.contains('invalid')", 20,
            "the learning rate of D marked")
    type_into(browser, "opt_g.lr", "0.0004")  # a good change beside the two bad ones
    wait_js(browser, NOTICE_JS + ".includes('Applied live')", 20, "the good change applied")
    words = browser.execute_script(NOTICE_JS)
    assert "learning rate of G" in words and "Not applied" in words
    assert "learning rate of D" in words and "latent dimension" in words
    for path in ("latent.dim", "opt_d.lr"):  # both marked, both where the user can see them
        assert browser.execute_script(f"return {row_js(path)}.classList.contains('invalid')")
        assert field_input(browser, path).is_displayed(), path
    assert section(browser, "Latent noise").get_attribute("open") is not None
    runs = browser.execute_script("return await (await fetch('/api/runs')).json()")
    mine = next(r for r in runs if r["run_id"] == browser.execute_script("return GS.view.run"))
    config = json.loads(mine["config"])
    assert config["opt_g"]["lr"] == 0.0004 and config["opt_d"]["lr"] == 0.001  # -1 refused
    screenshot(browser, "forms-two-bad-fields")

    type_into(browser, "latent.dim", "2")
    type_into(browser, "opt_d.lr", "0.0005")
    wait_js(browser, "return !document.querySelector('.field.invalid') && !(" +
            NOTICE_JS.removeprefix("return ") + ").includes('Not applied')", 20,
            "the marks and the refusal gone once fixed")


CLUSTER = [(-1.0, 1.0), (-0.9, 1.1), (-1.1, 0.9), (1.0, -1.0), (1.1, -0.9)]


def test_fb002_the_draw_refusal_goes_when_the_drawing_changes(browser, server):
    browser.get(server.url + "/draw")
    canvas = wait_js(browser, "return document.getElementById('draw-canvas')", 30, "the canvas")
    browser.execute_script("GS.clearDrawn()")
    scale = canvas.size["width"] / 5.0  # the canvas spans -2.5..2.5

    def click(points):
        chain = ActionChains(browser)
        for x, y in points:
            chain.move_to_element_with_offset(canvas, int(x * scale), int(-y * scale)).click()
        chain.perform()

    click(CLUSTER[:3])
    browser.find_element(By.ID, "draw-train").click()
    wait_js(browser, "return document.getElementById('draw-notice').textContent"
                     ".includes('you have 3')", 20, "the refusal")
    click(CLUSTER[3:])
    wait_js(browser, "return document.getElementById('draw-count').textContent === '5 points'",
            10, "five points counted")
    wait_js(browser, "return !document.getElementById('draw-notice').textContent", 10,
            "the refusal about three points gone")
