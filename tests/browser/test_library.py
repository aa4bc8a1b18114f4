"""The recordings library and replay in a real headless Chromium, like a user's visit in order:
the recording of a CLI run is listed, opens, plays, jumps to its detector event, replays beside
another recording; a malformed upload is refused and the page keeps working.

The app server here has its own runs directory, filled beforehand by `python -m gancore train
--record` (sway-1d: its "swaying" event fires at step 50; frames every 30 steps) and a
two-points run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from gancore.store.reader import RunReader
from gancore.teach.presets import PRESETS
from tests.browser.conftest import ROOT, AppServer, screenshot
from tests.browser.page import wait_js

pytestmark = pytest.mark.browser

SWAY = "sway.h5"
OTHER = "two-points.h5"
EVERY = 30


@pytest.fixture(scope="module")
def lib_server(tmp_path_factory, chromium_available):
    """The app on a runs directory holding a CLI run's recording (sway-1d, 150 steps) and a
    short two-points run made in this process while the CLI trains and the server starts."""
    from gancore.run.session import Session
    from gancore.teach.presets import PRESETS

    runs_dir = tmp_path_factory.mktemp("library") / "runs"
    runs_dir.mkdir()
    cli = subprocess.Popen(
        [sys.executable, "-m", "gancore", "train", "--preset", "sway-1d", "--steps", "150",
         "--set", f"frames.record_every={EVERY}", "--record", str(runs_dir / SWAY)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    session = Session(PRESETS["two-points"].config().with_changes(
        {"frames.record_every": EVERY}), run_id="two-points", record_path=runs_dir / OTHER)
    session.state = "running"
    session.train(90)
    session.close()
    srv = AppServer(runs_dir, "--no-spare")
    srv.runs_dir = runs_dir
    _, err = cli.communicate(timeout=300)
    assert cli.returncode == 0, err.decode()
    yield srv
    srv.stop()


def row_text(driver, name: str) -> str:
    return driver.execute_script(
        f"const r = document.querySelector(\"tr[data-rec='{name}']\"); return r && r.innerText;")


def panel_step(driver, i: int = 0) -> int | None:
    value = driver.execute_script(
        f"const p = document.getElementById('replay-panel-{i}'); return p && p.dataset.step;")
    return None if value in (None, "") else int(value)


def shown_step(driver) -> int:
    return int(driver.execute_script(
        "return document.getElementById('replay-step').dataset.step"))


def frame_data(driver, i: int = 0) -> str:
    """The drawn traces of a panel's frame plot (what Plotly holds), as JSON."""
    return driver.execute_script(
        f"const d = document.getElementById('replay-frame-{i}');"
        "return JSON.stringify((d.data || []).map(t => [t.x, t.y]));")


def severe(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def test_lib101_cli_recording_is_listed_with_its_summary(browser, lib_server):
    browser.get(lib_server.url + "/library")
    wait_js(browser, f"return document.querySelector(\"tr[data-rec='{SWAY}']\")", 30,
            "the recording's row")
    text = row_text(browser, SWAY)
    assert "gaussian_1d (1-D)" in text
    assert f"GAN · {PRESETS['sway-1d'].config().loss.name}" in text
    assert "150\n6 frames" in text  # steps, then frames: 0, 30, ..., 150
    assert "1 event" in text and "swaying at step 50" in text
    assert "D loss" in text and "run sway-1d" in text
    assert "two_points (2-D)" in row_text(browser, OTHER)
    assert severe(browser) == []


def test_lib102_open_replays_and_the_shown_step_advances_while_playing(browser, lib_server):
    browser.get(lib_server.url + "/library")
    wait_js(browser, f"return document.querySelector(\"tr[data-rec='{SWAY}'] .lib-open\")")
    browser.find_element(By.CSS_SELECTOR, f"tr[data-rec='{SWAY}'] .lib-open").click()
    wait_js(browser, "return location.pathname === '/replay' && window.GS && GS.replay.ready",
            30, "the replay page")
    wait_js(browser, "return document.getElementById('replay-panel-0').dataset.step === '0'", 20,
            "the first frame drawn")
    assert shown_step(browser) == 0
    Select(browser.find_element(By.ID, "replay-speed")).select_by_value("4")
    browser.execute_script("GS.replay.log = []")
    browser.find_element(By.ID, "replay-play").click()
    wait_js(browser, "return GS.replay.log.length >= 2", 30, "frames drawn while playing")
    wait_js(browser, "return !GS.replay.playing", 30, "the replay to stop at its end")
    # Every recorded frame in turn, then it stops at the last one.
    assert browser.execute_script("return GS.replay.log") == list(range(EVERY, 151, EVERY))
    assert shown_step(browser) == 150 and panel_step(browser) == 150
    assert "play" in browser.find_element(By.ID, "replay-play").text
    # The loss chart grows with the replay: it holds the rows up to the shown step.
    last_x = browser.execute_script(
        "const d = document.getElementById('replay-loss-0'); const x = d.data[0].x;"
        "return x[x.length - 1];")
    assert 0 < last_x <= shown_step(browser)


def test_lib103_jumping_to_an_event_shows_the_frame_of_that_step(browser, lib_server):
    with RunReader(lib_server.runs_dir / SWAY) as r:
        events = r.events()
        frame_steps = list(r.steps)
    event_step = events[0]["step"]
    expected = max(s for s in frame_steps if s <= event_step)  # 30 for the event at 50
    browser.execute_script("GS.replay.jump(0)")  # the page of test_lib102, from its first frame
    wait_js(browser, "return document.getElementById('replay-panel-0').dataset.step === '0'")
    before = frame_data(browser)
    markers = browser.execute_script(
        "return document.getElementById('replay-timeline').data.flatMap(t => t.x)")
    assert event_step in markers
    button = browser.find_element(By.CSS_SELECTOR, f".replay-event[data-step='{event_step}']")
    assert "swaying" in button.text
    button.click()
    wait_js(browser, f"return document.getElementById('replay-panel-0').dataset.step === "
                     f"'{expected}'", 20, "the event's frame")
    assert shown_step(browser) == expected
    assert browser.find_element(By.ID, "replay-step").text.startswith(f"step {expected} ")
    assert frame_data(browser) != before
    assert f"step {expected}" in browser.find_element(By.ID, "replay-jump").text
    screenshot(browser, "library-replay")
    assert severe(browser) == []


def test_lib104_two_recordings_share_one_scrubber(browser, lib_server):
    browser.get(f"{lib_server.url}/replay?rec={SWAY},{OTHER}")
    wait_js(browser, "return window.GS && GS.replay.ready && GS.replay.recs.length === 2 && "
                     "document.getElementById('replay-panel-1').dataset.step === '0'", 30,
            "both recordings drawn")
    browser.execute_script("GS.replay.jump(100)")  # past the end of the 90-step recording
    wait_js(browser, "return document.getElementById('replay-panel-0').dataset.step === '90'")
    wait_js(browser, "return document.getElementById('replay-panel-1').dataset.step === '90'")
    assert shown_step(browser) == 90
    browser.find_element(By.ID, "replay-next").click()
    wait_js(browser, "return document.getElementById('replay-panel-0').dataset.step === '120'")
    assert shown_step(browser) == 120 and panel_step(browser, 1) == 90


def test_lib105_malformed_upload_is_refused_and_the_page_keeps_working(browser, lib_server,
                                                                       tmp_path):
    bad = tmp_path / "bogus.h5"
    bad.write_text("step,d_loss\n1,0.5\n")
    browser.get(lib_server.url + "/library")
    wait_js(browser, f"return document.querySelector(\"tr[data-rec='{SWAY}']\")")
    browser.find_element(By.CSS_SELECTOR, "#lib-upload input[type=file]").send_keys(str(bad))
    wait_js(browser, "return document.getElementById('lib-notice').textContent"
                     ".includes('Upload refused')", 30, "the refusal")
    notice = browser.find_element(By.ID, "lib-notice").text
    assert "bogus.h5: not an HDF5 file" in notice
    assert not (lib_server.runs_dir / "bogus.h5").exists()
    assert row_text(browser, SWAY)  # the list still renders
    # ... and works: a valid upload lands under a new name, then is deleted after confirming.
    good = tmp_path / "sway.h5"
    good.write_bytes((lib_server.runs_dir / SWAY).read_bytes())
    browser.find_element(By.CSS_SELECTOR, "#lib-upload input[type=file]").send_keys(str(good))
    wait_js(browser, "return document.querySelector(\"tr[data-rec='sway-2.h5']\")", 30,
            "the uploaded recording's row")
    assert "Uploaded sway.h5 as sway-2.h5" in browser.find_element(By.ID, "lib-notice").text
    browser.find_element(By.CSS_SELECTOR, "tr[data-rec='sway-2.h5'] .lib-del").click()
    wait_js(browser, "return !document.getElementById('lib-confirm').hidden")
    assert "Delete sway-2.h5?" in browser.find_element(By.ID, "lib-confirm").text
    browser.find_element(By.ID, "lib-confirm-yes").click()
    wait_js(browser, "return !document.querySelector(\"tr[data-rec='sway-2.h5']\")", 20)
    assert not (lib_server.runs_dir / "sway-2.h5").exists()
    # Picking two recordings offers their side-by-side replay.
    for name in (SWAY, OTHER):
        browser.find_element(By.CSS_SELECTOR, f"tr[data-rec='{name}'] input").click()
    wait_js(browser, "return document.getElementById('lib-compare').className.includes('primary')")
    href = browser.find_element(By.ID, "lib-compare").get_attribute("href")
    assert href.endswith(f"/replay?rec={SWAY},{OTHER}") or \
        href.endswith(f"/replay?rec={OTHER},{SWAY}")
    assert severe(browser) == []


@pytest.mark.scenario
def test_lib106_replay_of_a_recording_being_written_follows_its_run(browser, second_browser,
                                                                      lib_server):
    """A run trains on the play page (first browser); its recording, opened in the replay page
    of another browser, grows there: the scrubber gains frames, and a viewer at the newest
    frame moves on with the run."""
    from gancore.teach.presets import PRESETS

    cfg = PRESETS["sway-1d"].config().with_changes({"frames.record_every": 10})
    browser.get(f"{lib_server.url}/?cfg={cfg.to_url()}&play=1")
    run = wait_js(browser, "return window.GS && GS.stats.painted > 0 && GS.view.run", 120,
                  "the live run")
    wait_js(browser, "return document.querySelector('#status .state-running')", 30, "running")
    second_browser.get(f"{lib_server.url}/replay?rec={run}.h5")
    wait_js(second_browser, "return window.GS && GS.replay.ready", 60, "the replay page")
    assert "following its run" in second_browser.find_element(By.ID, "replay-follow").text
    frames = second_browser.execute_script("return GS.replay.steps.length")
    wait_js(second_browser, f"return GS.replay.steps.length > {frames + 2}", 60,
            "new frames of the live recording")
    scrub_max, n = second_browser.execute_script(
        "return [Number(document.getElementById('replay-scrub').max), GS.replay.steps.length]")
    assert scrub_max == n - 1  # the scrubber reaches the new frames
    second_browser.execute_script("GS.replay.jump(1e12)")  # to the newest frame...
    at_end = shown_step(second_browser)
    wait_js(second_browser, "return Number(document.getElementById('replay-step').dataset.step)"
                            f" > {at_end}", 60, "the view to follow the run")  # ...and on
    assert panel_step(second_browser) is not None
    head = second_browser.find_element(By.CSS_SELECTOR, "#replay-panel-0 .replay-what").text
    assert int(head.split(" · ")[-1].split()[0].replace(",", "")) >= at_end  # its steps, too
    browser.get("about:blank")  # the run's page closes: it stops, its recording stays
    assert severe(second_browser) == []
