"""Watching from a notebook, for real: a Jupyter notebook run cell by cell in a real IPython
kernel (nbclient and ipykernel) trains a small GAN of its own with `gancore.watch` into a
running dashboard, and `w.show()` as a cell's last expression puts the run's live page inline in
the cell's output. That output's frame address is then opened in headless Chromium, where the
watched run is painted. A screenshot goes to test-artifacts/notebook-view.png."""

from __future__ import annotations

import re
from pathlib import Path

import nbclient
import nbformat
import pytest

from tests.browser.conftest import screenshot
from tests.browser.page import severe_errors, wait_js
from tests.servers import AppServer

pytestmark = [pytest.mark.browser, pytest.mark.scenario]

ROOT = Path(__file__).resolve().parents[2]

SETUP = """\
import numpy as np, torch
from torch import nn
import gancore.watch as gw

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 1))
angles = np.random.default_rng(0).integers(0, 8, 4000) * np.pi / 4
ring = np.stack([2 * np.cos(angles), 2 * np.sin(angles)], 1)
ring += 0.05 * np.random.default_rng(1).normal(size=ring.shape)
"""

WATCH = """\
w = gw.watch(G, D, data=ring, noise=lambda n: torch.randn(n, 2), name="notebook-ring",
             dashboard={url!r}, record={record!r})
w.show()
"""

TRAIN = """\
opt_g = torch.optim.Adam(G.parameters(), 1e-3)
opt_d = torch.optim.Adam(D.parameters(), 1e-3)
bce = nn.BCEWithLogitsLoss()
data = torch.tensor(ring, dtype=torch.float32)
for step in range(600):
    real = data[torch.randint(0, len(data), (128,))]
    fake = G(torch.randn(128, 2))
    d_loss = bce(D(real), torch.ones(128, 1)) + bce(D(fake.detach()), torch.zeros(128, 1))
    opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    g_loss = bce(D(fake), torch.ones(128, 1))
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
    w.step(d_loss=d_loss, g_loss=g_loss)
w.close()
print("trained", step + 1)
"""


def _notebook(url: str, record: Path):
    cells = [nbformat.v4.new_code_cell(SETUP),
             nbformat.v4.new_code_cell(WATCH.format(url=url, record=str(record))),
             nbformat.v4.new_code_cell(TRAIN)]
    return nbformat.v4.new_notebook(cells=cells)


def test_nb001_show_puts_the_live_page_inline_in_a_real_notebook_cell(browser, tmp_path):
    srv = AppServer(tmp_path / "runs", "--no-spare")
    try:
        records = tmp_path / "recordings"  # the kernel runs in the checkout: not there
        notebook = _notebook(srv.url, records)
        nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}}).execute()
        shown = notebook.cells[1].outputs
        html = [o["data"]["text/html"] for o in shown if "text/html" in o.get("data", {})]
        assert len(html) == 1, shown  # the cell's output is the inline page, once
        src = re.search(r'<iframe[^>]*src="([^"]+)"', html[0])
        assert src, html[0]
        assert re.fullmatch(re.escape(srv.url) + r"/\?run=[\w-]+", src.group(1)), src.group(1)
        printed = "".join(o.get("text", "") for o in notebook.cells[2].outputs)
        assert "trained 600" in printed, notebook.cells[2].outputs
        assert len(list(records.glob("notebook-ring-*.h5"))) == 1
        run_id = src.group(1).split("=", 1)[1]

        browser.set_window_size(1280, 800)
        browser.get(src.group(1))  # what the cell's frame shows
        wait_js(browser, f"return window.GS && GS.view && GS.view.run === '{run_id}' && "
                         "GS.stats.painted > 0", 60, "the notebook's run painted on its page")
        assert "notebook-ring's own GAN" in browser.execute_script(
            "return document.getElementById('preset-watch').textContent")
        screenshot(browser, "notebook-view")
        assert severe_errors(browser) == []
    finally:
        srv.stop()
