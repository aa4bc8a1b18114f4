"""The site's navigation bar and the 404 page in a real Chromium: every page reaches every other,
the page shown is marked, presenter mode hides the bar, and an unknown address says so."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import screenshot
from tests.browser.page import wait_js

pytestmark = pytest.mark.browser

LINKS = [("Play", "/"), ("Compare", "/compare"), ("Lessons", "/lessons"), ("Draw", "/draw"),
         ("Library", "/library"), ("Class", "/class")]
UNKNOWN = "/no-such-page"
# What each page shows once it is there (an element of its own, by CSS selector).
LANDMARK = {"/": "#play", "/compare": "#cmp-grid", "/lessons": "#lesson-list",
            "/draw": "#draw-canvas", "/library": "#lib-table", "/class": ".class-page",
            UNKNOWN: ".not-found"}
BAR_JS = """
const bar = document.getElementById('site-nav');
if (!bar || !document.querySelector(arguments[0])) return null;
return Array.from(bar.querySelectorAll('a')).map(a => [a.textContent, a.getAttribute('href'),
  a.classList.contains('current'), a.getBoundingClientRect().height > 0]);
"""


def _wait_bar(driver, path: str, marked: str | None):
    """The bar's links as [label, href, marked, shown] once the page at `path` has rendered and
    the link `marked` (if any) carries the mark."""
    script = ("const f = function() {" + BAR_JS + "};"
              "const l = f(arguments[0]);"
              "if (!l) return null;"
              "return (arguments[1] === null || l.some(x => x[2] && x[0] === arguments[1]))"
              " ? l : null;")
    try:
        return WebDriverWait(driver, 30, poll_frequency=0.1).until(
            lambda d: d.execute_script(script, LANDMARK[path], marked))
    except Exception:
        raise AssertionError(f"no navigation bar (or no mark on {marked}) on {path}") from None


@pytest.fixture(scope="module", autouse=True)
def own_session(browser, server):
    """This module clicks through every page; the play and compare pages it leaves before their
    runs are first watched hold those runs for app.run_record.NEVER_WATCHED_GRACE_S. A session
    of its own keeps them from counting against the next module's share."""
    browser.get(server.url + UNKNOWN)  # cookies are cleared for the page's origin
    browser.delete_all_cookies()
    yield
    browser.get(server.url + UNKNOWN)
    browser.delete_all_cookies()


@pytest.mark.scenario
def test_nav001_every_page_has_the_six_links_each_opens_its_page_marked(browser, server):
    """From the 404 page, through the bar's links one by one: each page shows the six links,
    all visible, its own marked (none on the 404 page)."""
    browser.get(server.url + UNKNOWN)
    here = UNKNOWN
    for label, href in [(None, UNKNOWN), *LINKS]:
        if label is not None:
            browser.find_element(By.ID, f"nav-{label.lower()}").click()
            wait_js(browser, f"return location.pathname === '{href}'", 30, f"the {label} page")
            here = href
        links = _wait_bar(browser, here, label)
        assert [(lb, h) for lb, h, _, _ in links] == LINKS, here
        assert all(shown for *_, shown in links), here
        assert [lb for lb, _, current, _ in links if current] == ([label] if label else []), here


def test_nav002_an_unknown_address_shows_the_404_page_with_the_links(browser, server):
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(server.url + UNKNOWN, timeout=10)
    assert answer.value.code == 404
    browser.get(server.url + UNKNOWN)
    _wait_bar(browser, UNKNOWN, None)
    page = browser.find_element(By.CSS_SELECTOR, ".not-found")
    assert "There is no page here" in page.text
    wait_js(browser, f"return document.getElementById('not-found-path').textContent === "
                     f"'{UNKNOWN}'", 10, "the address echoed")
    listed = [(a.text, a.get_attribute("pathname"))
              for a in page.find_elements(By.CSS_SELECTOR, ".nf-links a")]
    assert listed == LINKS
    screenshot(browser, "navigation-404")
    page.find_element(By.LINK_TEXT, "Lessons").click()
    wait_js(browser, "return document.querySelector('#lesson-list')", 30, "the lessons page")
    assert browser.title == "ganscope · lessons"


@pytest.mark.scenario
def test_nav003_presenter_mode_hides_the_bar_and_the_play_page_fits_the_window(browser, server):
    # A session of its own: nav001 left the play and compare pages before their runs were first
    # watched, and the session's limit banner ("already has 2 runs") made this page too tall.
    browser.get(server.url + UNKNOWN)
    browser.delete_all_cookies()
    browser.get(server.url + "/?present=1")
    wait_js(browser, "return document.body.classList.contains('present') && "
                     "document.getElementById('site-nav')", 30, "presenter mode")
    assert not browser.find_element(By.ID, "site-nav").is_displayed()
    browser.find_element(By.ID, "present-toggle").click()  # leave: the bar is back
    wait_js(browser, "return !document.body.classList.contains('present')", 10, "normal mode")
    assert browser.find_element(By.ID, "site-nav").is_displayed()
    # the bar takes its height from the page: the play page still fits one 1920x1080 screen
    wait_js(browser, "return document.querySelector('.play') && "
                     "document.documentElement.scrollHeight <= window.innerHeight + 1", 10,
            "the play page within the window")
    screenshot(browser, "navigation-play")
