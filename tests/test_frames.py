"""Frames: contents per dimension, the binary codec, and byte-identical frames for one seed."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from gancore.config import RunConfig
from gancore.frames import Frame, decode, encode, quantize
from gancore.run.session import Session
from gancore.teach.presets import get_preset
from tests.conftest import ROOT
from tests.helpers import FRAME_KINDS, FRAME_NETS

KINDS, SMALL = FRAME_KINDS, FRAME_NETS


def trained_frame_bytes(changes: dict, steps: int = 20) -> bytes:
    s = Session(RunConfig().with_changes({**SMALL, **changes}))
    s.train(steps)
    return encode(s.frame())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_same_config_and_seed_give_byte_identical_frames(kind):
    a, b = trained_frame_bytes(KINDS[kind]), trained_frame_bytes(KINDS[kind])
    assert a == b
    other = trained_frame_bytes({**KINDS[kind], "train.seed": 5})
    assert other != a


def test_frames_are_identical_across_processes():
    code = ("import hashlib, torch; "
            "torch.set_num_threads(1); from tests.test_frames import trained_frame_bytes; "
            "print(hashlib.sha256(trained_frame_bytes({})).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == hashlib.sha256(trained_frame_bytes({})).hexdigest()


def test_codec_round_trips_every_dtype_and_alignment():
    q, rng = quantize(np.linspace(-2, 3, 15).reshape(3, 5))
    f = Frame("2d", 1234, {"d_loss": 0.5, "nan": float("nan")}, {"extent": [[0, 1], [2, 3]]},
              {"a": np.arange(3, dtype=np.float16), "b": np.ones((5, 2), np.float32),
               "q": q, "i": np.array([1, -2, 3], np.int32)}, {"q": rng})
    g = decode(encode(f))
    assert (g.kind, g.step, g.meta) == (f.kind, f.step, f.meta)
    assert g.scalars["d_loss"] == 0.5 and g.scalars["nan"] is None  # JSON has no NaN
    for name, arr in f.arrays.items():
        assert g.arrays[name].dtype == arr.dtype and np.array_equal(g.arrays[name], arr)
    assert np.allclose(g.value("q"), np.linspace(-2, 3, 15).reshape(3, 5), atol=5 / 255)
    raw = encode(f)
    n = int.from_bytes(raw[:4], "little")
    assert (4 + n) % 4 == 0, "array block must start 4-byte aligned"


@pytest.mark.parametrize("bad", [b"", b"\x10\x00\x00\x00{", b"\x02\x00\x00\x00{}",
                                 b"\x08\x00\x00\x00{\"v\":9}"])
def test_decoder_refuses_garbage_with_a_reason(bad):
    with pytest.raises(ValueError):
        decode(bad)


def test_2d_frame_of_the_reference_preset_has_every_layer_within_budget():
    s = Session(get_preset("ring8-reference").config())
    s.train(5)
    f = s.frame()
    assert f.kind == "2d"
    assert f.arrays["fake"].shape == (1500, 2) and f.arrays["fake"].dtype == np.float32
    assert f.arrays["real"].shape == (1500, 2)
    assert f.arrays["d_grid"].shape == (64, 64) and f.ranges["d_grid"] == (0.0, 1.0)
    assert f.arrays["latent_mapped"].shape == (400, 2)
    assert f.arrays["grad_arrows"].shape == (120, 2)
    assert np.abs(f.arrays["grad_arrows"].astype(np.float32)).max() > 0
    assert f.scalars["modes_total"] == 8 and 0 <= f.scalars["high_quality"] <= 1
    assert len(encode(f)) <= 32 * 1024


def test_1d_frame_draws_density_histogram_d_curve_and_mapping():
    s = Session(RunConfig().with_changes({**SMALL, **KINDS["1d"]}))
    f = s.frame()
    lo, hi = f.meta["x_range"]
    xs = np.linspace(lo, hi, len(f.arrays["real_density"]))
    assert np.trapezoid(f.arrays["real_density"], xs) == pytest.approx(1.0, abs=0.02)
    assert f.arrays["fake_hist"].min() >= 0
    assert f.arrays["d_curve"].shape == xs.shape
    assert f.arrays["map_z"].shape == f.arrays["map_x"].shape == (120,)
    assert np.all(np.diff(f.arrays["map_z"]) >= 0), "z lines are drawn in order"


def test_nd_frame_has_projection_marginals_correlations_ks_and_norms():
    s = Session(RunConfig().with_changes({**SMALL, **KINDS["nd"]}))
    f = s.frame()
    assert f.arrays["proj_fake"].shape == (1500, 2)
    assert f.arrays["marg_real"].shape == (8, 30)
    assert f.value("corr_real").shape == (8, 8)
    assert np.allclose(np.diag(f.value("corr_real")), 1.0, atol=0.01)
    assert f.arrays["ks_stat"].shape == (8,) and f.arrays["ks_p"].max() <= 1
    assert f.arrays["norm_real"].shape == f.arrays["norm_fake"].shape
    assert f.scalars["ks_mean"] > 0.1  # an untrained G is far from the data
    s.update(s.cfg.with_changes({"frames.projection": "2,5"}))
    g = s.frame()
    real = s.probes.real(0)
    assert np.allclose(g.value("proj_real")[:, 0], real[:, 2] - real[:, 2].mean(), atol=0.01)
    assert np.allclose(g.value("proj_real")[:, 1], real[:, 5] - real[:, 5].mean(), atol=0.01)
