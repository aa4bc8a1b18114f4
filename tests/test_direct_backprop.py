"""Hand-derived gradients for small plain networks: the same gradients, updates and training
as autograd, for every loss and activation they take; everything else trains through autograd."""

import math

import pytest
import torch

from gancore.config import RunConfig
from gancore.teach.presets import get_preset
from gancore.train.losses import LOSSES
from gancore.train.trainer import Trainer

# GAN Lab's sizes: every layer under direct_backprop.SMALL_WIDTH
TINY = {"generator.hidden": [10, 12], "discriminator.hidden": [9, 9], "train.batch_size": 150}


def tiny(**changes) -> RunConfig:
    return RunConfig().with_changes({**TINY, **changes})


def twins(cfg: RunConfig) -> tuple[Trainer, Trainer]:
    """Two trainers of one config and seed: the first on direct backprop, the second made to
    use autograd."""
    direct, auto = Trainer(cfg), Trainer(cfg)
    assert direct._use_direct, "this config should train with direct backprop"
    auto._use_direct = False
    return direct, auto


def assert_grads_close(ps, qs):
    for p, q in zip(ps, qs, strict=True):
        assert p.grad is not None and q.grad is not None
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_each_loss_gradient_matches_autograd_of_its_objective(loss):
    spec = LOSSES[loss]
    gen = torch.Generator().manual_seed(0)
    r = (torch.randn(150, generator=gen) * 3).requires_grad_(True)
    f = (torch.randn(150, generator=gen) * 3).requires_grad_(True)
    want_r, want_f = torch.autograd.grad(spec.d(r, f), (r, f))
    got_r, got_f = spec.d_grad(r.detach(), f.detach())
    torch.testing.assert_close(got_r, want_r, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(got_f, want_f, rtol=1e-6, atol=1e-9)
    (want_g,) = torch.autograd.grad(spec.g(f), f)
    torch.testing.assert_close(spec.g_grad(f.detach()), want_g, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "elu", "gelu"])
@pytest.mark.parametrize("output", ["none", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "least_squares", "hinge", "wgan"])
def test_d_and_g_step_gradients_match_autograd(activation, output, loss):
    cfg = tiny(**{"generator.activation": activation, "discriminator.activation": activation,
                  "generator.output_activation": output, "loss.name": loss})
    direct, auto = twins(cfg)
    for t in (direct, auto):  # a few steps first, so no unit sits at its initial weights
        for _ in range(3):
            t.step()
    for t in (direct, auto):
        t._d_step(150)
    assert_grads_close(direct.d_params, auto.d_params)
    auto_grads_d = [p.grad.clone() for p in auto.d_params]
    direct.step(which="g")
    auto.step(which="g")
    assert_grads_close(direct.g_params, auto.g_params)
    for p, g in zip(auto.d_params, auto_grads_d, strict=True):
        assert torch.equal(p.grad, g), "the G step changed D's gradients"


def test_seeded_ganlab_ring_follows_autograd_and_repeats_exactly():
    cfg = get_preset("ganlab-ring").config()
    direct, auto = twins(cfg)
    again = Trainer(cfg)
    for _ in range(200):
        a, b = direct.step(), auto.step()
        again.step()
    for p, q in zip(direct.g_params + direct.d_params, auto.g_params + auto.d_params, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)  # rounding only, no drift
    for p, q in zip(direct.g_params + direct.d_params, again.g_params + again.d_params,
                    strict=True):
        assert torch.equal(p, q), "the same seed gave different weights"
    for x, y in zip(a.as_row(), b.as_row(), strict=True):  # the scalars a user reads agree too
        assert math.isclose(x, y, rel_tol=1e-3, abs_tol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ganlab_ring_learns_the_ring_with_direct_backprop(seed):
    """GAN Lab's ring preset, as a user watches it: after 1,500 iterations the samples lie
    around the ring (radius 0.6) and in every twelfth of its angles."""
    t = Trainer(get_preset("ganlab-ring").config().with_changes({"train.seed": seed}))
    assert t._use_direct
    for _ in range(1500):
        assert t.step().finite()
    with torch.no_grad():
        x = t.G(t.latent(2000))  # (2000, 2)
    radius = x.norm(dim=1)
    angles = torch.histc(torch.atan2(x[:, 1], x[:, 0]), 12, -math.pi, math.pi)
    assert 0.45 < radius.mean() < 0.75, f"mean radius {radius.mean():.2f}"
    assert int((angles > 40).sum()) >= 11, f"angle bins holding over 2%: {angles.tolist()}"


@pytest.mark.parametrize("changes", [
    {"discriminator.hidden": [16, 9]},  # a layer as wide as SMALL_WIDTH
    {"generator.norm": "layer"}, {"discriminator.norm": "batch"},
    {"discriminator.spectral_norm": True},
    {"remedies.minibatch_discrimination": True}, {"remedies.packing": 2},
    {"target.name": "bimodal_6d", "train.conditional": True},
    {"loss.name": "wgan_gp"}, {"loss.r1_gamma": 1.0},
    {"remedies.unrolled_steps": 2}, {"remedies.feature_matching": True},
])
def test_anything_else_trains_through_autograd(changes):
    t = Trainer(tiny(**changes))
    assert not t._use_direct
    for _ in range(3):
        assert t.step().finite()


def test_a_live_loss_change_leaves_and_rejoins_direct_backprop_without_losing_state():
    cfg = get_preset("ganlab-ring").config().with_changes(
        {"opt_d.name": "adam", "opt_d.lr": 1e-3})
    t = Trainer(cfg)
    for _ in range(5):
        t.step()
    state = t.opt_d.state_dict()["state"][0]["exp_avg"].clone()
    t.apply_live(cfg.with_changes({"loss.name": "wgan_gp"}))
    assert not t._use_direct
    t.step()
    t.apply_live(cfg)
    assert t._use_direct
    assert t.step().finite()
    assert t.opt_d.state_dict()["state"][0]["step"] == 7 * cfg.train.k_d, "Adam restarted"
    assert not torch.equal(t.opt_d.state_dict()["state"][0]["exp_avg"], state)
