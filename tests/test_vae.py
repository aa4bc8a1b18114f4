"""The VAE baseline: same targets, same frames and metrics, covering but blurry."""

import numpy as np

from gancore.config import RunConfig
from gancore.run.session import Session

NETS = {"generator.hidden": [64, 64], "discriminator.hidden": [64, 64], "train.batch_size": 128}


def test_vae_covers_every_ring_mode_but_blurs_between_them():
    s = Session(RunConfig().with_changes({**NETS, "model": "vae"}))
    s.train(1200)
    f = s.frame()
    assert f.scalars["modes"] == 8, "a VAE covers every mode"
    assert f.scalars["high_quality"] < 0.5, "but most samples fall between the sharp modes"
    assert "d_grid" not in f.arrays and "grad_arrows" not in f.arrays  # no discriminator
    assert f.arrays["fake"].shape == (1500, 2) and "latent_mapped" in f.arrays


def test_vae_frames_exist_for_1d_and_nd_targets():
    one = Session(RunConfig().with_changes({**NETS, "model": "vae", "latent.dim": 1,
                                            "target.name": "mixture_1d", "target.modes": 2,
                                            "target.spacing": 4.0, "target.std": 0.5}))
    one.train(20)
    f1 = one.frame()
    assert f1.kind == "1d" and "d_curve" not in f1.arrays and f1.arrays["fake_hist"].sum() > 0
    nd = Session(RunConfig().with_changes({**NETS, "model": "vae", "target.name": "gaussian_nd",
                                           "target.dim": 6, "target.std": 1.0}))
    nd.train(20)
    fn = nd.frame()
    assert fn.kind == "nd" and fn.arrays["ks_stat"].shape == (6,)
    assert np.isfinite(fn.scalars["energy"])


def test_vae_scalar_rows_report_reconstruction_and_kl():
    s = Session(RunConfig().with_changes({**NETS, "model": "vae"}))
    s.train(5)
    rows = s.take_rows()
    assert rows.shape == (5, 7)
    assert np.all(np.isfinite(rows[:, 1:3])) and np.all(rows[:, 2] >= 0)  # recon, KL >= 0
    assert np.all(np.isnan(rows[:, 3:5]))  # no D(real) / D(fake)


def test_vae_with_batch_norm_draws_its_frames():
    """A VAE has no D: switching its networks to eval mode for a picture must not reach for one
    (batch norm in G or the encoder made every frame fail with 'NoneType' has no 'eval')."""
    cfg = RunConfig().with_changes({"model": "vae", "generator.norm": "batch",
                                    "generator.hidden": [16], "discriminator.hidden": [16],
                                    "train.batch_size": 32, "frames.samples": 50})
    s = Session(cfg)
    s.train(5)
    f = s.frame()
    assert f.step == 5 and f.arrays["fake"].shape == (50, 2)
    assert s.trainer.G.training  # back in training mode after the picture
