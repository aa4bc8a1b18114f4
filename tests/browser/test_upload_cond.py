"""The play page's upload with a condition, in a real Chromium: a bad condition is refused with
its reason, a good one turns the run into a conditional run on the file, which is painted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from gancore.data.targets import Bimodal6D
from tests.browser.conftest import screenshot
from tests.browser.page import open_page, painted, run_of, severe_errors, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.scenario]


def _upload(driver, path, cond: str) -> None:
    field = driver.find_element(By.ID, "upload-cond")
    field.send_keys(Keys.CONTROL, "a")  # clear() leaves a React input's value in place
    field.send_keys(cond)
    driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(path))


def test_bu001_upload_with_condition_columns_trains_a_conditional_run(browser, server, tmp_path):
    x, c = Bimodal6D().sample_conditional(1000, torch.Generator().manual_seed(0))
    good = tmp_path / "bimodal.csv"
    np.savetxt(good, np.hstack([x.numpy(), c.numpy()]), delimiter=",", fmt="%.5f")
    bad = tmp_path / "bimodal-head.csv"  # other bytes: the upload reports only a changed file
    bad.write_bytes(b"\n".join(good.read_bytes().splitlines()[:50]))
    open_page(browser, server, "?preset=bimodal-6d-gan")
    first = run_of(browser)

    _upload(browser, bad, "6:12")
    wait_js(browser, "return document.getElementById('notice').textContent"
                     ".includes('Upload refused')", 30, "the refusal")
    info = browser.find_element(By.ID, "upload-info").text
    assert "condition columns '6:12'" in info and "out of range" in info
    assert run_of(browser) == first

    _upload(browser, good, "6:10")
    wait_js(browser, "return document.getElementById('upload-info').textContent"
                     ".includes('conditioned on 4 more')", 60, "the upload's summary")
    assert "1,000 rows × 6 columns" in browser.find_element(By.ID, "upload-info").text
    wait_js(browser, f"return GS.view.run && GS.view.run !== {first!r}", 60, "the new run")
    browser.find_element(By.ID, "play").click()
    wait_js(browser, "const s = document.getElementById('status');"
                     "const b = s.querySelector('[data-stat=step] b');"
                     "return s.dataset.run === GS.view.run && b && "
                     "parseInt(b.textContent.replace(/,/g, '')) > 0", 60, "training steps")
    assert painted(browser) > 0
    screenshot(browser, "play-upload-conditional")
    assert severe_errors(browser) == []
