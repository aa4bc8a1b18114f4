"""The training step: every loss and remedy trains, live edits keep optimiser state, seeds
repeat."""

import math

import pytest
import torch

from gancore.config import RunConfig
from gancore.run.session import RestartRequired, Session
from gancore.teach.presets import PRESETS, get_preset
from gancore.train.losses import LOSSES
from gancore.train.trainer import Trainer

SMALL = {"generator.hidden": [32, 32], "discriminator.hidden": [32, 32], "train.batch_size": 64}


def small(**changes) -> RunConfig:
    return RunConfig().with_changes({**SMALL, **changes})


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_with_finite_values(loss):
    t = Trainer(small(**{"loss.name": loss}))
    before = [p.detach().clone() for p in t.g_params]
    for _ in range(20):
        stats = t.step()
    assert stats.finite()
    assert all(math.isfinite(v) for v in stats.as_row())
    assert any(not torch.equal(a, b) for a, b in zip(before, t.g_params, strict=True)), \
        "G's weights did not move"


@pytest.mark.parametrize("remedy", [
    {"remedies.unrolled_steps": 3}, {"remedies.minibatch_discrimination": True},
    {"remedies.feature_matching": True}, {"remedies.packing": 4}, {"loss.r1_gamma": 1.0},
    {"discriminator.spectral_norm": True},
    {"generator.norm": "batch", "discriminator.norm": "layer"},
    {"opt_d.name": "sgd", "opt_d.momentum": 0.9, "opt_g.name": "rmsprop"},
    {"target.name": "bimodal_6d", "train.conditional": True},
])
def test_every_remedy_and_option_trains(remedy):
    t = Trainer(small(**remedy))
    for _ in range(10):
        stats = t.step()
    assert stats.finite()


def test_unrolling_changes_the_generator_update():
    """Unrolled G sees D's answer: its first update differs from the plain one."""
    plain, unrolled = Trainer(small()), Trainer(small(**{"remedies.unrolled_steps": 5}))
    plain.step()
    unrolled.step()
    diff = sum((a - b).abs().sum() for a, b in zip(plain.g_params, unrolled.g_params,
                                                   strict=True))
    assert diff > 1e-6


def test_same_seed_same_weights_different_seed_different():
    a, b, c = Trainer(small()), Trainer(small()), Trainer(small(**{"train.seed": 1}))
    for _ in range(15):
        a.step()
        b.step()
        c.step()
    assert all(torch.equal(p, q) for p, q in zip(a.g_params, b.g_params, strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a.g_params, c.g_params, strict=True))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_fast_step_matches_torch_sgd_bit_for_bit(momentum, monkeypatch):
    """optimizer_step's plain-SGD shortcut (and its fallback with momentum) leaves a seeded run
    exactly where torch.optim.SGD.step() does, a live learning-rate change included."""
    from gancore.train import trainer as training

    cfg = get_preset("ganlab-ring").config().with_changes(
        {"opt_g.momentum": momentum, "opt_d.momentum": momentum})
    fast = Trainer(cfg)
    monkeypatch.setattr(training, "optimizer_step", lambda opt: opt.step())
    plain = Trainer(cfg)
    for t in (plain, fast):
        if t is fast:
            monkeypatch.undo()
        for i in range(40):
            if i == 20:
                t.apply_live(cfg.with_changes({"opt_d.lr": 0.02}))
            t.step()
    for p, q in zip(fast.g_params + fast.d_params, plain.g_params + plain.d_params, strict=True):
        assert torch.equal(p, q)
    moved = Trainer(cfg)
    assert not all(torch.equal(p, q) for p, q in zip(moved.d_params, plain.d_params, strict=True))


def test_live_learning_rate_change_keeps_adam_state_and_step():
    s = Session(small())
    s.train(10)
    state_before = {k: v["exp_avg"].clone() for k, v in enumerate(s.trainer.opt_d.state.values())}
    opt_before = s.trainer.opt_d
    changed = s.update(s.cfg.with_changes({"opt_d.lr": 1e-4, "loss.name": "hinge"}))
    assert sorted(changed) == ["loss.name", "opt_d.lr"]
    assert s.trainer.opt_d is opt_before, "the optimiser was rebuilt"
    assert s.trainer.opt_d.param_groups[0]["lr"] == 1e-4
    for k, v in enumerate(s.trainer.opt_d.state.values()):
        assert torch.equal(v["exp_avg"], state_before[k]), "Adam moments were reset"
    assert s.step == 10
    s.train(5)
    assert s.step == 15
    assert [e["kind"] for e in s.events] == ["edit", "edit"]


def test_restart_fields_are_refused_by_a_live_update():
    s = Session(small())
    with pytest.raises(RestartRequired, match="latent.dim"):
        s.update(s.cfg.with_changes({"latent.dim": 3}))
    assert s.cfg.latent.dim == 2


def test_live_target_switch_trains_on_the_new_target():
    s = Session(small())
    s.train(3)
    s.update(s.cfg.with_changes({"target.name": "grid", "target.std": 0.05}))
    batch = s.trainer.real_batch(500)[0].numpy()
    assert batch.min() < -3.5 and batch.max() > 3.5  # the grid spans +-4, the ring +-2
    s.train(3)
    assert s.step == 6


def test_exploding_learning_rate_stops_as_diverged_with_its_step():
    cfg = small(**{"opt_g.name": "sgd", "opt_d.name": "sgd", "opt_g.lr": 10.0, "opt_d.lr": 10.0,
                   "loss.name": "least_squares"})
    s = Session(cfg)
    s.state = "running"
    ran = s.train(2000)
    assert s.state == "diverged"
    assert ran < 2000
    assert s.message == f"diverged at step {s.step:,}"
    assert s.events[-1]["kind"] == "divergence"
    assert s.train(10) == 0, "a diverged run does not train on"


def test_half_steps_move_only_their_network():
    t = Trainer(small())
    g0 = [p.detach().clone() for p in t.g_params]
    d0 = [p.detach().clone() for p in t.d_params]
    stats = t.step("d")
    assert all(torch.equal(a, b) for a, b in zip(g0, t.g_params, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, t.d_params, strict=True))
    assert stats.finite() and math.isnan(stats.as_row()[2])  # g_loss not computed
    d1 = [p.detach().clone() for p in t.d_params]
    t.step("g")
    assert all(torch.equal(a, b) for a, b in zip(d1, t.d_params, strict=True))
    assert t.step_count == 2


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_steps(name):
    cfg = get_preset(name).config()
    t = Trainer(cfg)
    stats = t.step()
    assert stats.finite()
