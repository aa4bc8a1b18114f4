"""The compare page, forks beside their parent, and share links, in a real headless Chromium.

Shares the session's app server and browser with the other browser tests; each test opens its
own page, with small presets and few steps.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from gancore.config import RunConfig
from gancore.teach.presets import PRESETS
from tests.browser.conftest import screenshot
from tests.browser.page import severe_errors, wait_js

pytestmark = pytest.mark.browser

LIGHT = "ring8-vanilla-collapse"  # 64x64 networks, batch 128: cheap to train and draw
LIGHT2 = "grid25-vanilla"


def cells(driver) -> list[dict]:
    return driver.execute_script(
        "return GS.cmp.runs.map(c => ({id: c.id, drawn: c.drawn, step: c.step, kind: c.kind}))")


def shown_steps(driver) -> list[int]:
    return driver.execute_script(
        "return [...document.querySelectorAll('.cmp-at')].map(e => +e.dataset.step)")


def all_drawn(driver, n: int, frames: int = 1, timeout: float = 150.0) -> None:
    wait_js(driver, f"return window.GS && GS.cmp && GS.cmp.runs.length === {n} && "
                    f"GS.cmp.runs.every(c => c.drawn >= {frames})", timeout,
            f"{n} runs with {frames} frame(s) each")


def wait_equal_steps(driver, at_least: int, timeout: float = 60.0) -> int:
    """The group's line says 'all at step N' and every cell shows N; returns N."""
    text = wait_js(driver, "const t = document.getElementById('cmp-group').textContent;"
                           "return t.startsWith('all at step') && t", timeout, "the group paused")
    step = int(text.rsplit(" ", 1)[1].replace(",", ""))
    assert step >= at_least
    wait_js(driver, f"return [...document.querySelectorAll('.cmp-at')]"
                    f".every(e => +e.dataset.step === {step})", timeout, f"every cell at {step}")
    return step


def js_click(driver, css: str) -> None:
    """Click from JavaScript while runs play: WebDriver's native click waits for the page's
    software-rendered WebGL frames, tens of seconds on a loaded 2-core box."""
    driver.execute_script(f"document.querySelector({css!r}).click()")


def api_configs(driver) -> dict[str, dict]:
    runs = json.loads(driver.execute_script("return await (await fetch('/api/runs')).text()"))
    return {r["run_id"]: json.loads(r["config"]) for r in runs}


@pytest.mark.scenario
def test_cmp001_two_runs_animate_focus_and_step_all_at_equal_steps(browser, server):
    # 5 steps per frame: two runs at full speed would fill both cores (and slow the test)
    browser.get(f"{server.url}/compare?presets={LIGHT},{LIGHT2}&play=1&speed=5")
    all_drawn(browser, 2, frames=3)
    wait_js(browser, "return GS.cmp.runs.every(c => c.step > 0)", 60, "steps moving")
    # focus: the focused run is drawn at every pull, the other at most every 500 ms
    js_click(browser, "#cmp-cell-0 .cmp-focus")
    before, t0 = browser.execute_script(
        "return [GS.cmp.runs.map(c => ({drawn: c.drawn})), performance.now()]")
    wait_js(browser, f"return GS.cmp.runs[0].drawn >= {before[0]['drawn'] + 8}", 60,
            "frames of the focused run")
    after, now = browser.execute_script(
        "return [GS.cmp.runs.map(c => ({drawn: c.drawn})), performance.now()]")
    elapsed = now - t0
    other = after[1]["drawn"] - before[1]["drawn"]
    assert other <= elapsed / 500 + 2, (other, elapsed)
    # pause: every run stands at the same step
    js_click(browser, "#cmp-play")
    paused_at = wait_equal_steps(browser, 1)
    assert "focused" in browser.find_element(By.ID, "cmp-cell-0").get_attribute("class")
    assert browser.execute_script(
        "return [0, 1].every(i => document.querySelector('#cmp-view-' + i + ' .main-svg'))")
    screenshot(browser, "compare-two-runs-focus")
    # the export bar offers both runs side by side (the route itself: tests/test_app_exports.py)
    ids_shown = browser.execute_script("return GS.cmp.runs.map(c => c.id).join(',')")
    assert browser.execute_script(
        "return Array.from(document.querySelectorAll('.cmp-exportbar [data-export]'))"
        ".map(b => b.dataset.export + ':' + b.dataset.runs)") == [
        f"gif:{ids_shown}", f"mp4:{ids_shown}"]
    browser.find_element(By.CSS_SELECTOR, "#cmp-cell-0 .cmp-focus").click()  # share again
    # the difference table lists exactly the fields in which the two presets differ (the target,
    # the grid's wider networks, the seed), and none they share (the loss, the batch size, the
    # slower D of both)
    paths = browser.execute_script(
        "return [...document.querySelectorAll('.diff-table tr[data-path]')]"
        ".map(r => r.dataset.path)")
    assert {"target.name", "generator.hidden", "train.seed"} <= set(paths), paths
    assert not {"loss.name", "train.batch_size", "opt_d.lr"} & set(paths), paths
    wait_js(browser, "const d = document.getElementById('cmp-chart-loss');"
                     "return d._fullData && d._fullData.length === 4", 30, "shared loss chart")
    # step all moves each run by the same number of steps
    browser.find_element(By.ID, "cmp-step-all").click()  # by 10 (the default)
    wait_js(browser, f"return document.getElementById('cmp-group').textContent === "
                     f"'all at step {paused_at + 10:,}'", 60, "step all")
    assert wait_equal_steps(browser, paused_at + 10) == paused_at + 10
    assert shown_steps(browser) == [paused_at + 10] * 2
    screenshot(browser, "compare-two-runs-stepped")
    assert severe_errors(browser) == []


@pytest.mark.scenario
def test_cmp005_a_compare_page_opened_late_charts_each_run_from_its_start(browser, server):
    """A compare page opened on runs that trained a while gets their metric history: the
    coverage chart starts at the runs' start, not at the page's first frame."""
    browser.get(f"{server.url}/compare?presets={LIGHT},{LIGHT2}&play=1&speed=5")
    all_drawn(browser, 2)
    wait_js(browser, "return GS.cmp.runs.every(c => c.step >= 600)", 90, "600 steps each")
    js_click(browser, "#cmp-play")
    paused_at = wait_equal_steps(browser, 600)
    run_ids = browser.execute_script("return GS.cmp.runs.map(c => c.id).join(',')")

    browser.get(f"{server.url}/compare?runs={run_ids}")
    all_drawn(browser, 2)
    wait_js(browser, "const d = document.getElementById('cmp-chart-cover');"
                     "return d._fullData && d._fullData.length === 2", 30, "the coverage chart")
    for steps in browser.execute_script("return GS.cmp.runs.map(c => c.metrics.x)"):
        # a metric check every 50 steps (frames.metrics_every): the history starts near step 0
        assert steps[0] <= 100 and len(steps) >= paused_at // 100, (paused_at, steps[:5])
    covered = browser.execute_script(
        "return document.getElementById('cmp-chart-cover')._fullData.map(t => t.x.length)")
    assert all(n >= paused_at // 100 for n in covered), covered
    screenshot(browser, "compare-late-history")


def test_cmp002_fork_opens_beside_its_parent_with_the_difference(browser, server):
    slow = PRESETS[LIGHT].config().with_changes({"frames.steps_per_frame": 2})
    browser.get(f"{server.url}/?cfg={slow.to_url()}&play=1")
    wait_js(browser, "const b = document.querySelector('#status [data-stat=step] b');"
                     "return b && parseInt(b.textContent.replace(/,/g, '')) > 20", 90,
            "the parent training")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.SPACE)  # pause: typing is quicker
    wait_js(browser, "return document.querySelector('#status .state-paused')", 30, "paused")
    parent = browser.execute_script("return GS.view.run")
    box = browser.find_element(By.ID, "fork-change")
    box.send_keys("opt_d.lr=0.0002; loss.name=hinge")
    browser.find_element(By.ID, "fork").click()
    wait_js(browser, "return location.pathname === '/compare'", 150, "the compare page")
    all_drawn(browser, 2)
    ids = [c["id"] for c in cells(browser)]
    assert ids[0] == parent and ids[1] != parent
    # the difference, and who is whose child
    rows = browser.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('.diff-table tr[data-path]')]"
        ".map(r => [r.dataset.path, [...r.cells].slice(1).map(c => c.textContent)]))")
    assert rows == {"loss.name": ["non_saturating", "hinge"],
                    "opt_d.lr": [str(PRESETS[LIGHT].config().opt_d.lr), "0.0002"]}
    caption = browser.find_element(By.CSS_SELECTOR, ".diff-table caption").text
    assert "child forked from its parent at step" in caption
    assert "child @ step" in browser.find_element(By.CSS_SELECTOR, "#cmp-cell-1 .cmp-label").text
    runs = {r["run_id"]: r for r in json.loads(
        browser.execute_script("return await (await fetch('/api/runs')).text()"))}
    fork_step = runs[ids[1]]["fork_step"]
    assert runs[ids[1]]["parent"] == parent and fork_step > 20
    assert runs[parent]["alive"]  # the parent was kept, not replaced
    # the child starts from the parent's weights at the parent's step: both stand level
    wait_js(browser, f"return GS.cmp.runs.every(c => c.step === {fork_step})", 60, "level")
    browser.find_element(By.ID, "cmp-step-all").click()
    assert wait_equal_steps(browser, fork_step + 10) == fork_step + 10
    screenshot(browser, "compare-fork-beside-parent")
    assert severe_errors(browser) == []


@pytest.mark.scenario
def test_cmp003_share_links_reproduce_configs_in_a_fresh_browser(browser, second_browser, server):
    # one run: a changed config with its own seed
    cfg = PRESETS[LIGHT].config().with_changes({"opt_d.lr": 3e-4, "train.seed": 123})
    browser.get(f"{server.url}/?cfg={cfg.to_url()}")
    wait_js(browser, "return window.GS && GS.view.run && GS.stats.painted > 0", 90, "the run")
    browser.find_element(By.ID, "share").click()
    link = wait_js(browser, "return document.getElementById('share-link').value", 20, "link")
    assert link.startswith(server.url + "/?cfg=")
    mine = api_configs(browser)[browser.execute_script("return GS.view.run")]
    assert RunConfig.from_dict(mine) == cfg
    second_browser.get(link)
    wait_js(second_browser, "return window.GS && GS.view.run && GS.stats.painted > 0", 90,
            "the shared run in a fresh browser")
    theirs = api_configs(second_browser)[second_browser.execute_script("return GS.view.run")]
    assert theirs == mine and theirs["train"]["seed"] == 123

    # a comparison: a GAN beside the VAE baseline on the same target, with the same seed
    gan = PRESETS[LIGHT].config()
    vae = gan.with_changes({"model": "vae", "train.seed": 9})
    browser.get(f"{server.url}/compare?cfgs={gan.to_url()}~{vae.to_url()}&seed=same")
    all_drawn(browser, 2)  # the VAE draws too (no D surface, no gradient arrows)
    assert browser.execute_script("return document.querySelector('#cmp-same-seed input').checked")
    assert [c["kind"] for c in cells(browser)] == ["2d", "2d"]
    browser.find_element(By.ID, "cmp-share").click()
    link = wait_js(browser, "return document.getElementById('cmp-share-link').value", 20, "link")
    assert parse_qs(urlparse(link).query)["seed"] == ["same"]
    configs = api_configs(browser)
    mine = [configs[c["id"]] for c in cells(browser)]
    assert mine[0]["model"] == "gan" and mine[1]["model"] == "vae"
    assert mine[0]["train"]["seed"] == mine[1]["train"]["seed"] == gan.train.seed
    second_browser.get(link)
    all_drawn(second_browser, 2)
    configs = api_configs(second_browser)
    theirs = [configs[c["id"]] for c in cells(second_browser)]
    assert theirs == mine
    screenshot(second_browser, "compare-shared-gan-vs-vae")
    assert severe_errors(second_browser) == []


@pytest.mark.scenario
def test_cmp004_malformed_share_links_get_a_clear_error_and_the_page_works(browser, server):
    good = PRESETS[LIGHT].config().to_url()
    browser.get(f"{server.url}/compare?presets=nope&cfgs=garbage~{good}")
    all_drawn(browser, 1)
    text = browser.find_element(By.ID, "cmp-notice").text
    assert "unknown preset 'nope'" in text
    assert "config 1 in the link cannot run: config link is corrupted" in text
    browser.find_element(By.ID, "cmp-step-all").click()  # the rest of the page works
    assert wait_equal_steps(browser, 10) >= 10
    screenshot(browser, "compare-malformed-link")

    browser.get(f"{server.url}/?cfg=not-a-config")
    wait_js(browser, "return window.GS && GS.view.run && GS.stats.painted > 0", 90,
            "the fallback run")
    assert "The config in this link cannot run" in browser.find_element(By.ID, "notice").text
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.SPACE)
    wait_js(browser, "const b = document.querySelector('#status [data-stat=step] b');"
                     "return b && parseInt(b.textContent.replace(/,/g, '')) > 5", 60,
            "the fallback run training")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.SPACE)
    assert severe_errors(browser) == []
