"""Real-browser fixtures: the app server as a subprocess on a free port, headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage "
                "--disable-background-networking --disable-component-update --disable-sync "
                "--no-first-run --use-angle=swiftshader --enable-unsafe-swiftshader "
                "--window-size=1920,1080").split()
# Tests watch what a user sees, not how fast it is drawn (bench/ measures that): a capped tab
# leaves the 2-core box free to answer clicks, so a test's waits measure the app, not the load.
TEST_TAB_FPS = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python -m app` in a subprocess: real sockets, real worker processes."""

    def __init__(self, runs_dir: Path, *args: str, tab_fps: float = TEST_TAB_FPS):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A run whose page was left pauses after 3 s, not 15: the next test's runs get the CPU.
        env = {"GANSCOPE_IDLE_PAUSE_S": "3", **os.environ, "PYTHONPATH": str(ROOT),
               "GANSCOPE_MAX_TAB_FPS": str(tab_fps)}
        self.log = open(runs_dir.parent / f"server-{self.port}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(self.port), "--runs-dir", str(runs_dir),
             *args], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/api/runs", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"app server exited with {self.proc.returncode}") from None
                time.sleep(0.2)
        raise RuntimeError("app server did not answer within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def chromium_available():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        why = "chromium/chromedriver missing: run `make browser` (tools/ensure_chromium.sh)"
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
