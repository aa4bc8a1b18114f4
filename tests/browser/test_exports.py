"""Exports from the play page in a real Chromium: the GIF button downloads an animation of the run
so far, rendered by the server from the run's HDF5 recording; a refused export says why in the
export bar and the page keeps streaming."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence
from scipy import ndimage
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from gancore.teach.presets import get_preset
from tests.browser.conftest import ARTIFACTS, screenshot
from tests.browser.page import open_page, painted, step_of, wait_js

pytestmark = pytest.mark.browser

RECORD_EVERY = 10  # a frame every 10 steps: 16 frames by step 150, seconds into the run


@pytest.fixture
def downloads(browser, tmp_path):
    """Chromium saves downloads into a fresh folder (set through the DevTools protocol, so the
    shared browser session and its cookie are reused)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(folder)})
    return folder


def _finished(folder: Path, suffix: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix == suffix and p.stat().st_size > 0]


def test_ex001_gif_export_downloads_an_animation_of_the_run(browser, server, downloads):
    cfg = get_preset("ganlab-ring").config().with_changes(  # GAN Lab's tiny nets train fast
        {"frames.record_every": RECORD_EVERY, "train.seed": 5})
    open_page(browser, server, f"?cfg={cfg.to_url()}&play=1")
    wait_js(browser, "const b = document.querySelector('#status [data-stat=step] b');"
                     "return b && Number(b.textContent.replace(/,/g, '')) >= 150",
            60, "the run to pass step 150 (16 recorded frames)")
    # Pause first: on a busy 2-core box the render (at low priority) waits for the trainer.
    browser.find_element(By.ID, "play").click()
    wait_js(browser, "return document.querySelector('#status .state-paused')", 20, "paused")
    browser.find_element(By.ID, "export-gif").click()
    WebDriverWait(browser, 90, poll_frequency=0.2).until(lambda d: _finished(downloads, ".gif"))
    gif = _finished(downloads, ".gif")[0]
    status = browser.find_element(By.ID, "export-status").text
    assert "GIF saved" in status and gif.name in status
    with Image.open(gif) as im:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    assert len(frames) > 10
    assert not np.array_equal(frames[0], frames[-1])  # the run moved between first and last
    screenshot(browser, "ex001_gif_exported")


def test_ex002_config_and_csv_exports_describe_the_run(browser, server):
    run = browser.execute_script("return GS.view.run")
    got = browser.execute_async_script("""
        const done = arguments[arguments.length - 1], run = arguments[0];
        Promise.all(['config', 'csv'].map(w => fetch('/export/run/' + run + '/' + w)
            .then(r => r.text().then(t => [r.status, r.headers.get('Content-Disposition'), t]))))
          .then(done);""", run)
    (cfg_status, cfg_disp, cfg_text), (csv_status, csv_disp, csv_text) = got
    assert cfg_status == 200 and "attachment" in cfg_disp
    assert json.loads(cfg_text)["frames"]["record_every"] == RECORD_EVERY
    lines = csv_text.strip().splitlines()
    assert csv_status == 200 and lines[0].startswith("step,d_loss,g_loss")
    assert len(lines) > 150  # one row per recorded training step
    # and the metrics, a column each, filled at the recorded frames' steps
    table = list(csv.DictReader(io.StringIO(csv_text)))
    for metric in ("kl", "js", "energy"):
        measured = [row[metric] for row in table if row[metric] != ""]
        assert len(measured) >= 10 and all(float(v) >= 0 for v in measured), metric


def test_ex003_a_refused_export_says_why_and_the_page_keeps_going(browser, server):
    before = painted(browser)
    browser.execute_script("GS.exportDownload('gif', ['no-such-run'])")
    wait_js(browser, "const s = document.getElementById('export-status');"
                     "return s.classList.contains('bad') && s.textContent",
            20, "the export error")
    text = browser.find_element(By.ID, "export-status").text
    assert "GIF export failed: no run 'no-such-run' on this server" in text
    start = step_of(browser)
    browser.find_element(By.ID, "play").click()  # the run goes on: it trains and is drawn
    WebDriverWait(browser, 30, poll_frequency=0.1).until(
        lambda d: step_of(d) > start and painted(d) > before)
    buttons = browser.find_elements(By.CSS_SELECTOR, "#export-bar [data-export]")
    assert [b.text for b in buttons] == ["GIF", "MP4", "PNG", "config", "CSV"]
    assert all(b.is_enabled() for b in buttons)


def test_ex004_png_export_has_the_samples_and_the_d_colour_bar(browser, server, downloads):
    """The page paints samples on a canvas and the D colour bar as HTML beside the plot (cheap
    per frame); the PNG, which Plotly renders by itself, must still have both."""
    wait_js(browser, "const d = document.getElementById('plot-2d');"
                     "return d && d._fullLayout && d._gsSamples && d._gsScaleEl",
            30, "the 2-D view")
    page_bar = browser.find_element(By.CSS_SELECTOR, "#plot-2d .gs-colorbar")
    assert page_bar.is_displayed() and page_bar.text.split() == ["0", "0.25", "0.5", "0.75", "1",
                                                                   "D(x)"]
    right, width = browser.execute_script(
        "const d = document.getElementById('plot-2d'), xa = d._fullLayout.xaxis;"
        "return [xa._offset + xa._length, d.clientWidth]")
    browser.find_element(By.ID, "export-png").click()
    WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda d: _finished(downloads, ".png"))
    png = _finished(downloads, ".png")[0]
    assert "PNG saved" in browser.find_element(By.ID, "export-status").text
    with Image.open(png) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    assert rgb.shape[1] == 2 * width  # rendered at twice the page's size

    def near(colour, region):
        return (np.abs(region - np.array(colour)).sum(-1) < 40).sum()

    assert near((11, 138, 95), rgb) > 20  # real samples (the canvas layer, as an image)
    beside = rgb[:, 2 * int(right) + 4:]  # right of the plot area: only the colour bar is green
    assert near((163, 217, 189), beside) > 20 and near((242, 194, 213), beside) > 20
    # the D surface itself: pale green or pink tints away from every sample dot (a dot's
    # antialiased rim is pale too, so pixels within 6 px of a saturated one do not count)
    inside = rgb[:, : 2 * int(right)]
    clear = ndimage.minimum_filter(inside.min(-1), size=13) > 200
    tinted = clear & (np.abs(inside[..., 0] - inside[..., 1]) > 3)
    assert tinted.sum() > 2000, tinted.sum()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "ex004_png_export.png")
