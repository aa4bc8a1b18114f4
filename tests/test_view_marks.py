"""What the views are told and how they count: the target's modes in every 2-D and n-D frame, and
the views' pure arithmetic (samples off the view, the density axis, heights on D's surface) run
by node from the same files the page loads."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gancore.frames import decode, encode
from gancore.run.session import Session
from gancore.teach.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

# The view scripts in the page's load order, then the expression `CASE` printed as JSON.
HARNESS = """
const fs = require('fs'), path = require('path'), vm = require('vm');
for (const f of ['0_vocabulary.js', 'draw.js', 'draw_1d.js', 'draw_2d.js']) {
  vm.runInThisContext(fs.readFileSync(path.join(process.argv[1], f), 'utf8'), { filename: f });
}
const GS = globalThis.GS, M = GS.marks;
console.log(JSON.stringify(CASE));
"""


def run_js(case: str):
    out = subprocess.run(["node", "-e", HARNESS.replace("CASE", case), str(ASSETS)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_vw001_a_forgetting_frame_carries_every_mode_though_its_batch_shows_one():
    s = Session(get_preset("forgetting-sequential").config())
    f = decode(encode(s.probes.frame(s.trainer, None)))  # as the page receives it
    modes = f.value("target_modes")
    assert modes.shape == (4, 3)
    np.testing.assert_allclose(np.hypot(modes[:, 0], modes[:, 1]), 2.0, atol=1e-5)
    np.testing.assert_allclose(modes[:, 2], 0.05, rtol=1e-5)
    real = f.value("real")
    nearest = ((real[:, None, :] - modes[None, :, :2]) ** 2).sum(-1).argmin(1)
    assert len(set(nearest.tolist())) == 1  # the batch: one cluster of the four


def test_vw002_frames_without_known_modes_carry_none():
    for preset in ("goodfellow-1d", "gaussgan-100d"):  # 1-D draws its density; no modes in 100-D
        s = Session(get_preset(preset).config())
        assert "target_modes" not in s.probes.frame(s.trainer, None).arrays


@node
def test_vw003_samples_off_the_view_are_counted_on_the_side_they_left_by():
    got = run_js("M.offView([0, 0, 5, 0.5, 6, 0.6, -2, 0, 0.2, -3, 9, 9.5, 0.5, 0.5, NaN, 0],"
                 " [-1, 1], [-1, 1])")
    assert got["total"] == 5  # the NaN is nowhere and the three inside are not counted
    assert got["right"]["count"] == 2 and got["right"]["at"] == pytest.approx(0.775)
    assert got["left"]["count"] == 1 and got["bottom"]["count"] == 1
    # (9, 9.5): further past the top than the right, in view widths
    assert got["top"]["count"] == 1 and got["top"]["at"] == 1
    # a diverged G's infinite samples are counted too, and placed on the edge, not at NaN
    inf = run_js("M.offView([Infinity, Infinity, -Infinity, 0], [-1, 1], [-1, 1])")
    assert inf["right"] == {"count": 1, "at": 1} and inf["left"] == {"count": 1, "at": 0.5}
    assert run_js("[M.offText(312, 'fake', 'right'), M.offText(1, 'fake', 'left')]") == \
        ["312 fakes off the right edge", "1 fake off the left edge"]


@node
def test_vw004_the_density_axis_grows_at_once_and_shrinks_only_when_far_too_tall():
    top = "GS.draw1d.densityTop"
    got = run_js(f"[{top}(0, 0.8), {top}(1, 6.6), {top}(8, 5.0), {top}(8, 3.0), {top}(8, 2.0),"
                 f" GS.draw1d.outside1d([-1, 0, 1, 5, 6], 0, 4)]")
    assert got[0] == 1  # 0.8 * 1.1 -> 1
    assert got[1] == 8  # a bar of 6.6 is never clipped
    assert got[2] == 8 and got[3] == 8  # small changes keep the axis still
    assert got[4] == 2.5  # under 40% of the axis: it comes back down
    assert got[5] == {"left": 1, "right": 2}


@node
def test_vw005_samples_sit_on_ds_surface_at_its_height():
    # a plane D = (x + 1) / 4 on [-1, 1]^2 (3 x 3 grid): bilinear is exact on it
    got = run_js("M.heightsOn({arrays: {d_grid: [0, 0.25, 0.5, 0, 0.25, 0.5, 0, 0.25, 0.5]},"
                 " shapes: {d_grid: [3, 3]}, meta: {d_extent: [[-1, 1], [-1, 1]]}},"
                 " [0.5, 0.3, -1, -1, 1, 1, 2, 0])")
    assert got["z"] == pytest.approx([0.375, 0, 0.5])
    assert got["idx"] == [0, 1, 2] and got["outside"] == 1
