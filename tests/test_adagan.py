"""AdaGAN (gancore.train.adagan): the data weights go to the modes the mixture misses, the mixture
draws each generator by its weight, frames say which generator drew each fake, a checkpoint
brings the mixture back, and a short boosted run covers more of the ring than a plain GAN."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gancore.config import ConfigError, RunConfig
from gancore.data.targets import build_target
from gancore.frames import decode, encode
from gancore.run.session import Session
from gancore.store.reader import RunReader
from gancore.train.adagan import POOL_SIZE, AdaGAN, boosted_weights, fixed_assignment
from gancore.train.checkpoint import load_state, save_state
from gancore.train.models import Generator
from gancore.train.trainer import Trainer
from tests.helpers import on_both_cores

RING = {"target.name": "ring", "target.modes": 8, "target.radius": 1.0, "target.std": 0.01,
        "generator.hidden": [32, 32], "discriminator.hidden": [32, 32], "latent.dim": 2,
        "train.batch_size": 64, "frames.samples": 400, "frames.d_grid": 16}
# Three generators of 40 GAN steps with 20 classifier steps between: a switch within 60 steps
MIX = {**RING, "remedies.adagan_generators": 3, "remedies.adagan_steps": 40,
       "remedies.adagan_classifier_steps": 20}


def constant_generator(cfg: RunConfig, point) -> Generator:
    """A real Generator whose last layer ignores its input: every sample lands on `point`."""
    g = Generator(cfg.latent.dim, 2, cfg.generator)
    with torch.no_grad():
        g.out.weight.zero_()
        g.out.bias.copy_(torch.as_tensor(point, dtype=torch.float32))
    return g.requires_grad_(False)


def nearest_mode(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return ((points[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)


def test_ad001_data_weights_move_to_the_modes_the_mixture_misses():
    """A mixture that sits on modes 0 and 1 of the ring: after the classifier has told it from
    the data, the next generator's data is the six other modes, none of 0 and 1."""
    cfg = RunConfig().with_changes({**MIX, "train.seed": 4})
    target = build_target(cfg)
    centres = target.modes().centres
    mix = AdaGAN(cfg, target)
    mix.frozen = [constant_generator(cfg, centres[0])]
    mix.weights = [0.5, 0.5]
    current = constant_generator(cfg, centres[1])
    gen = torch.Generator().manual_seed(4)
    for _ in range(150):
        mix.classifier_step(current, 64, gen)
    mix.add_component(current)  # the third generator's data weights (beta = 1/3)
    per_mode = np.bincount(nearest_mode(mix.pool.numpy(), centres),
                           weights=mix.data_weights.numpy(), minlength=8)
    assert per_mode[:2].sum() < 0.03, per_mode  # uniform would be 0.25
    assert (per_mode[2:] > 0.08).all(), per_mode  # about 1/6 each (measured 0.11-0.19)
    assert mix.weights == pytest.approx([1 / 3] * 3)
    # what the new generator trains on: pool points drawn by those weights
    batch = mix.real(4000, torch.Generator().manual_seed(0)).numpy()
    assert np.isin(nearest_mode(batch, centres), [0, 1]).mean() < 0.03


def test_ad002_boosted_weights_sum_to_one_and_drop_the_well_covered_points():
    rng = np.random.default_rng(0)
    ratio = torch.tensor(rng.lognormal(0.0, 1.5, 1000))
    for beta in (0.5, 0.2, 1 / 3):
        w = boosted_weights(ratio, beta).double()
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-6)
        # the paper's form: w = (lam - (1 - beta) h)_+ / (N beta) for one lam
        kept = w > 0
        lam = (w[kept] * len(w) * beta + (1 - beta) * ratio[kept]).numpy()
        assert np.ptp(lam) < 1e-4 * lam.mean()
        assert float(ratio[~kept].min()) >= float(ratio[kept].max())  # drops the largest h
    assert torch.equal(boosted_weights(ratio, 1.0), torch.full((1000,), 1e-3))


def test_ad003_the_mixture_draws_each_generator_in_proportion_to_its_weight():
    cfg = RunConfig().with_changes({**MIX, "train.seed": 2})
    mix = AdaGAN(cfg, build_target(cfg))
    mix.frozen = [constant_generator(cfg, (-3.0, 0.0)), constant_generator(cfg, (0.0, 3.0))]
    mix.weights = [0.2, 0.5, 0.3]
    current = constant_generator(cfg, (3.0, 0.0))
    x = mix.sample(current, 20_000, torch.Generator().manual_seed(2)).numpy()
    shares = [np.mean(x[:, 0] < -1), np.mean(x[:, 1] > 1), np.mean(x[:, 0] > 1)]
    assert shares == pytest.approx([0.2, 0.5, 0.3], abs=0.015)
    # the frames' fixed probe noise: each generator's share of the samples, within one
    comp = fixed_assignment(1500, mix.weights)
    assert np.abs(np.bincount(comp, minlength=3) - np.array([300, 750, 450])).max() <= 1
    z = torch.randn(1500, 2, generator=torch.Generator().manual_seed(3))
    fake, comp = mix.probe_samples(current, z, current(z).numpy())
    assert np.array_equal(np.sign(fake[:, 0]).astype(int), np.array([-1, 0, 1])[comp])


def test_ad004_frames_say_which_generator_drew_each_fake_and_recordings_keep_it(tmp_path):
    cfg = RunConfig().with_changes({**MIX, "frames.record_every": 30})
    s = Session(cfg, "mix", tmp_path / "mix.h5")
    first = s.frame()  # one generator so far: every fake is the first one's
    assert first.meta["components"] == 1 and not first.arrays["fake_component"].any()
    s.train(70)  # 40 GAN steps, 20 classifier steps, then the second generator
    f = s.frame()
    comp = f.arrays["fake_component"]
    assert comp.dtype == np.uint8 and comp.shape == (cfg.frames.samples,)
    assert f.meta["components"] == 2
    assert abs(np.bincount(comp)[0] - 200) <= 1  # beta = 1/2: an even split
    # the first generator's samples are the frozen network's, at the frame's probe noise
    frozen = s.trainer.adagan.frozen[0]
    with torch.no_grad():
        mine = frozen(s.probes.z[torch.from_numpy(np.flatnonzero(comp == 0))]).numpy()
    assert np.allclose(f.arrays["fake"][comp == 0], mine)
    back = decode(encode(f))
    assert np.array_equal(back.arrays["fake_component"], comp)
    assert back.meta["components"] == 2
    s.close()
    with RunReader(tmp_path / "mix.h5") as reader:
        last = reader.frame(len(reader) - 1)
        assert np.array_equal(last.arrays["fake_component"], comp)
        assert last.meta["components"] == 2
        assert not any(e["kind"] == "recording" for e in reader.events())


def losses(trainer: Trainer, n: int) -> list[list[float]]:
    return [trainer.step().as_row()[1:] for _ in range(n)]


def test_ad005_a_checkpoint_brings_back_the_mixture_and_its_weights(tmp_path):
    """Saved in the second classifier phase (one frozen generator, a classifier half trained,
    reweighted data): the child trains on exactly as the parent does, through the next switch."""
    cfg = RunConfig().with_changes({**MIX, "train.seed": 6})
    parent = Trainer(cfg)
    losses(parent, 110)  # second generator's GAN steps end at 100
    assert len(parent.adagan.frozen) == 1 and parent.adagan.classifier is not None
    assert not torch.equal(parent.adagan.data_weights, torch.full((POOL_SIZE,), 1 / POOL_SIZE))
    save_state(parent, tmp_path / "p.pt")
    child = Trainer(cfg)
    note = load_state(child, tmp_path / "p.pt")
    assert "weights" in note and "random stream" in note
    assert torch.equal(child.adagan.data_weights, parent.adagan.data_weights)
    assert child.adagan.weights == parent.adagan.weights
    # through the third generator's start (NaN: classifier steps make no G loss)
    assert np.array_equal(losses(child, 30), losses(parent, 30), equal_nan=True)
    assert len(child.adagan.frozen) == 2
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    for a, b in zip(parent.adagan.frozen, child.adagan.frozen, strict=True):
        assert torch.equal(a(z), b(z))
    other = Trainer(cfg.with_changes({"remedies.adagan_steps": 50}))
    assert "fresh weights from step 0" in load_state(other, tmp_path / "p.pt")
    assert other.step_count == 0


def test_ad006_adagan_refuses_what_it_cannot_mix():
    with pytest.raises(ConfigError, match="remedies.adagan_generators"):
        RunConfig().with_changes({**MIX, "model": "vae"})
    with pytest.raises(ValueError, match="changes with the step"):
        Trainer(RunConfig().with_changes({**MIX, "target.name": "sequential",
                                          "target.modes": 4}))


def test_ad008_a_live_target_edit_moves_the_pool_to_the_new_data():
    s = Session(RunConfig().with_changes(MIX))
    s.train(70)  # reweighted data for the second generator
    s.update(s.cfg.with_changes({"target.radius": 2.0}))
    batch = s.trainer.real_batch(500)[0].numpy()
    assert np.allclose(np.linalg.norm(batch, axis=1), 2.0, atol=0.1)
    assert torch.equal(s.trainer.adagan.data_weights, torch.full((POOL_SIZE,), 1 / POOL_SIZE))


# Three far-apart gaussians on a line and AdaGAN against a plain GAN with the same networks and
# the same 2,000 steps in all (3 generators of 600, 2 classifiers of 100). Measured modes after
# 2,000 steps, seeds 0-5: plain 1, 3, 3, 3, 2, 2; AdaGAN 3 on every seed. A plain GAN's
# continuous map often fails to span the gaps; AdaGAN's later generators take what it left.
LINE = {"target.name": "mixture_1d", "target.modes": 3, "target.spacing": 6.0,
        "target.std": 0.3, "latent.dim": 1, "generator.hidden": [32, 32],
        "discriminator.hidden": [32, 32], "train.batch_size": 64, "frames.samples": 400}
BOOST = {"remedies.adagan_generators": 3, "remedies.adagan_steps": 600,
         "remedies.adagan_classifier_steps": 100}
COVER_STEPS = 2000


def modes_after(job: tuple[int, bool]) -> tuple[tuple[int, bool], int]:
    seed, boosted = job
    s = Session(RunConfig().with_changes({**LINE, **(BOOST if boosted else {}),
                                          "train.seed": seed}))
    s.train(COVER_STEPS)
    return job, int(s.frame().scalars["modes"])


def test_ad007_a_short_boosted_run_reaches_more_modes_than_the_plain_gan():
    seeds = (0, 1, 2)
    got = dict(on_both_cores(modes_after, [(s, b) for s in seeds for b in (True, False)]))
    plain = [got[(s, False)] for s in seeds]
    boosted = [got[(s, True)] for s in seeds]
    assert boosted == [3, 3, 3], (plain, boosted)  # every mode, every seed
    assert min(plain) < 3, (plain, boosted)  # the plain GAN misses one or more somewhere
