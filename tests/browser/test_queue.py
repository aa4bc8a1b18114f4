"""The fifth student on a full server: the page says the run waits and its place in line, and
the run starts by itself when a slot frees (another student closes a page)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import make_driver, screenshot
from tests.browser.page import wait_js
from tests.servers import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.scenario]


@pytest.fixture
def one_slot(tmp_path, chromium_available):
    srv = AppServer(tmp_path / "runs", "--no-spare", "--max-runs", "1")
    yield srv
    srv.stop()


def test_qu001_a_queued_run_shows_its_place_and_starts_when_a_slot_frees(one_slot):
    first, second = make_driver(), make_driver()
    try:
        first.get(one_slot.url + "/?preset=ring8-reference&play=1")
        wait_js(first, "return document.querySelector('#status .state-running')", 60,
                "the first student's run trains")
        second.get(one_slot.url + "/?preset=goodfellow-1d&play=1")
        banner = wait_js(second, "const b = document.getElementById('banner');"
                                 "return b && b.textContent.includes('1st in line') && "
                                 "b.textContent", 60, "the queue's banner")
        assert "server is full" in banner and "starts by itself" in banner
        assert second.find_element("css selector", "#status .state-queued").text == "waiting"
        screenshot(second, "play-queued")
        first.get("about:blank")  # the first student closes the page: its slot frees
        wait_js(second, "return document.querySelector('#status .state-running')", 60,
                "the queued run starts by itself")
        wait_js(second, "const b = document.getElementById('banner');"
                        "return b && !b.textContent", 20, "the banner cleared")
    finally:
        first.quit()
        second.quit()
