"""Real-browser fixtures: the app server as a subprocess on a free port, headless Chromium."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.servers import AppServer, free_port  # noqa: F401 - re-exported for tests

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage "
                "--disable-background-networking --disable-component-update --disable-sync "
                "--no-first-run --use-angle=swiftshader --enable-unsafe-swiftshader "
                "--window-size=1920,1080").split()


@pytest.fixture(scope="session")
def chromium_available():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        why = "chromium/chromedriver missing: run `make browser` (tools/ensure_debian.sh)"
        if os.environ.get("GANSCOPE_REQUIRE_BROWSER"):
            pytest.fail(why)  # `make test` installed them: a missing browser is an error there
        pytest.skip(why)


@pytest.fixture(scope="session")
def server(tmp_path_factory, chromium_available):
    runs_dir = tmp_path_factory.mktemp("app") / "runs"
    srv = AppServer(runs_dir)
    yield srv
    srv.stop()


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument("--user-data-dir=" + tempfile.mkdtemp(prefix="gs-chrome-"))
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    _LIVE_DRIVERS.append(driver)
    return driver


_LIVE_DRIVERS: list = []


@pytest.fixture(autouse=True)
def _fresh_console_log():
    """Each test reads only its own console messages: a shared browser's log is drained first,
    so an error an earlier test provoked on purpose (a refused export, a bad link) is not
    blamed on the next one."""
    for driver in list(_LIVE_DRIVERS):
        try:
            driver.get_log("browser")
        except Exception:  # noqa: BLE001 - a driver that has quit has no log to drain
            _LIVE_DRIVERS.remove(driver)
    yield


@pytest.fixture(scope="session")
def browser(chromium_available):
    """The first browser session (its own profile, so its own session cookie)."""
    d = make_driver()
    yield d
    d.quit()


@pytest.fixture
def second_browser(chromium_available):
    d = make_driver()
    yield d
    d.quit()


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
