"""gancore.watch, the engine side: a researcher's own seeded loop trains to the same weights
watched or not, the recording reads back like a native run's, the model keeps its device, dtype
and training modes, and a bad setup fails at `watch()` with a message."""

from __future__ import annotations

import argparse
import random

import numpy as np
import pytest
import torch
from torch import nn

import gancore.watch as gw
from gancore.cli import cmd_eval
from gancore.config import RunConfig
from gancore.frames import STAT_COLUMNS
from gancore.store.reader import RunReader

FRAMES = {"samples": 300, "d_grid": 24, "record_every": 20, "metrics_every": 10}


def _mlp(n_in: int, n_out: int, width: int = 32, dropout: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(n_in, width), nn.ReLU()]
    if dropout:  # a random layer: eval mode must switch it off, and the RNG must not notice
        layers.append(nn.Dropout(0.2))
    return nn.Sequential(*layers, nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_out))


class TwoBranchG(nn.Module):
    """The researcher's conditional generator: one branch for the noise, one for the condition,
    concatenated, with batch norm (whose running statistics a probe in train mode would move)."""

    def __init__(self) -> None:
        super().__init__()
        self.noise = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU())
        self.cond = nn.Sequential(nn.Linear(4, 16), nn.ReLU())
        self.out = _mlp(48, 6)

    def forward(self, z, c):
        return self.out(torch.cat([self.noise(z), self.cond(c)], 1))


class CondCritic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = _mlp(10, 1, dropout=True)

    def forward(self, x, c):
        return self.net(torch.cat([x, c], 1))


def bimodal_6d(n: int):
    """A batch of the 6-D conditional data, drawn from the global RNG as a user's loader does."""
    c = torch.randn(n, 4)
    sign = torch.randint(0, 2, (n, 1)).float() * 2 - 1
    head = 1.5 * sign + 0.3 * torch.randn(n, 2)
    return torch.cat([head, c + 0.3 * sign + 0.3 * torch.randn(n, 4)], 1), c


def _state(*nets: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for n in nets for t in [*n.parameters(), *n.buffers()]]


def train_2d(steps: int, tmp_path=None) -> list[torch.Tensor]:
    """A plain non-saturating GAN on 2-D data; batches picked with numpy's global RNG and the
    learning rate jittered with python's `random`, so every global stream is in play."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    G, D = _mlp(8, 2, dropout=True), _mlp(2, 1, dropout=True)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3)
    opt_d = torch.optim.Adam(D.parameters(), 1e-3)
    real = torch.randn(2000, 2) * 0.2 + torch.tensor([1.0, -1.0])
    w = None if tmp_path is None else gw.watch(
        G, D, data=real, noise=lambda n: torch.randn(n, 8), dashboard=None,
        record=tmp_path / "two.h5", frames=FRAMES)
    for _ in range(steps):
        x = real[np.random.randint(0, len(real), 64)]
        fake = G(torch.randn(64, 8))
        d_loss = nn.functional.softplus(-D(x)).mean() + \
            nn.functional.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = nn.functional.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        for group in opt_g.param_groups:
            group["lr"] = 1e-3 * (1 + 0.01 * random.random())
        opt_g.step()
        if w is not None:
            w.step(d_loss, g_loss)
    if w is not None:
        w.close()
    return _state(G, D)


def train_6d(steps: int, tmp_path=None) -> list[torch.Tensor]:
    """The conditional WGAN-GP on 6-D data (interpolation weights from torch.rand); the watch
    gets the data as a batch-drawing callable and the critic's raw scores."""
    torch.manual_seed(1)
    G, D = TwoBranchG(), CondCritic()
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.9))
    w = None if tmp_path is None else gw.watch(
        G, D, data=lambda: bimodal_6d(256), noise=lambda n: torch.randn(n, 8),
        d_output="critic", name="cond 6-D", dashboard=None, record=tmp_path, frames=FRAMES)
    for _ in range(steps):
        x, c = bimodal_6d(64)
        fake = G(torch.randn(64, 8), c)
        eps = torch.rand(64, 1)
        mix = (eps * x + (1 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(mix, c).sum(), mix, create_graph=True)
        gp = ((grad.norm(dim=1) - 1) ** 2).mean()
        d_loss = D(fake.detach(), c).mean() - D(x, c).mean() + 10 * gp
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = -D(fake, c).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if w is not None:
            w.step(d_loss, g_loss)
    if w is not None:
        w.close()
    return _state(G, D)


def test_wat001_a_seeded_2d_loop_trains_to_the_same_weights_watched_or_not(tmp_path):
    plain = train_2d(300)
    watched = train_2d(300, tmp_path)
    assert len(plain) == len(watched)
    assert all(torch.equal(a, b) for a, b in zip(plain, watched, strict=True))
    with RunReader(tmp_path / "two.h5") as r:
        assert len(r) >= 3  # step 0, at least one while training, the last
        assert r.frame(len(r) - 1).kind == "2d"


def test_wat002_a_conditional_6d_wgan_gp_is_bit_identical_and_recorded_like_a_native_run(
        tmp_path):
    plain = train_6d(300)
    watched = train_6d(300, tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(plain, watched, strict=True))
    (path,) = tmp_path.glob("cond-6-D-*.h5")
    with RunReader(path) as r:
        cfg = RunConfig.from_json(r.config_json)
        columns, rows = r.scalars()
        last = r.frame(len(r) - 1)
        first = r.frame(0)
        label = r.label
    assert label == "cond 6-D", "the library names the run as the script did"
    assert cfg.target.dim == 6 and cfg.train.conditional and cfg.latent.dim == 8
    assert cfg.loss.name == "wgan_gp"
    assert columns == STAT_COLUMNS
    assert rows[:, 0].tolist() == list(range(1, 301))  # every step's row, none dropped
    assert np.isfinite(rows[:, 1:3]).all()
    assert np.isfinite(rows[:, 3:5]).all()  # D(real), D(fake) measured on the probes
    assert first.step == 0 and last.step == 300 and last.kind == "nd"
    assert last.meta["state"] == "done" and last.meta["watched"]["G"].startswith("TwoBranchG")
    assert last.arrays["fake"].shape == (300, 6)
    assert np.isfinite(last.value("marg_fake")).all()
    report = cmd_eval(argparse.Namespace(path=str(path)))
    assert report["steps"] == 300 and report["state"] == "done"
    assert "energy" in report["metrics"] and "ks_mean" in report["metrics"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_wat003_a_float64_model_on_its_own_device_gives_finite_frames(tmp_path, device):
    """Probes are CPU float32; the model is float64 (and on CUDA where there is one)."""
    torch.manual_seed(0)
    G = _mlp(3, 2).to(device, torch.float64)
    D = _mlp(2, 1).to(device, torch.float64)
    real = np.random.default_rng(0).normal(size=(500, 2))  # float64 numpy
    with gw.watch(G, D, data=real, noise=lambda n: torch.randn(n, 3, device=device,
                                                               dtype=torch.float64),
                  d_output="probabilities", dashboard=None, record=tmp_path / "f64.h5",
                  frames=FRAMES) as w:
        for _ in range(40):
            w.step(torch.tensor(1.3, device=device), 0.7)
    with RunReader(tmp_path / "f64.h5") as r:
        last = r.frame(len(r) - 1)
        _, rows = r.scalars()
    assert last.step == 40
    for name in ("fake", "d_grid", "latent_mapped", "grad_arrows"):
        assert np.isfinite(last.value(name)).all(), name
    assert rows[:, 1].tolist() == pytest.approx([1.3] * 40)
    assert next(G.parameters()).dtype == torch.float64  # the model was not converted


def test_wat004_every_submodule_gets_back_its_own_training_mode(tmp_path):
    G, D = TwoBranchG(), CondCritic()
    G.cond.eval()  # a frozen branch the researcher keeps in eval mode
    before = [m.training for m in G.modules()] + [m.training for m in D.modules()]
    w = gw.watch(G, D, data=bimodal_6d(500)[0], cond=lambda n: torch.randn(n, 4),
                 noise=lambda n: torch.randn(n, 8), d_output="critic", dashboard=None,
                 record=tmp_path / "modes.h5", frames=FRAMES)
    for _ in range(150):
        before_step = [m.training for m in G.modules()]
        G(torch.randn(64, 8), torch.randn(64, 4)).square().mean().backward()  # a step's work
        w.step(0.5, 0.5)
        assert [m.training for m in G.modules()] == before_step
    w.close()
    assert [m.training for m in G.modules()] + [m.training for m in D.modules()] == before
    with RunReader(tmp_path / "modes.h5") as r:
        assert len(r) >= 3  # frames at step 0, while training, and at the end


def test_wat005_a_non_finite_loss_ends_the_watch_as_diverged_and_the_loop_goes_on(tmp_path):
    G, D = _mlp(2, 2), _mlp(2, 1)
    w = gw.watch(G, D, data=np.random.default_rng(1).normal(size=(300, 2)),
                 noise=lambda n: torch.randn(n, 2), dashboard=None,
                 record=tmp_path / "nan.h5", frames=FRAMES)
    for step in range(1, 61):
        w.step(float("nan") if step == 25 else 0.5, 0.5)
    w.close()
    assert [e["kind"] for e in w.events] == ["divergence"]
    assert w.events[0]["step"] == 25
    with RunReader(tmp_path / "nan.h5") as r:
        _, rows = r.scalars()
        assert len(rows) == 60  # rows after the divergence are still recorded
        assert any(e["kind"] == "divergence" for e in r.events())
        assert r.frame(len(r) - 1).step < 25  # no picture of diverged weights


def test_wat006_a_model_that_does_not_fit_the_data_fails_at_watch_with_a_message():
    real = np.zeros((100, 3), np.float32)
    with pytest.raises(ValueError, match="G gives samples of shape \\(2,\\).*3 columns"):
        gw.watch(_mlp(4, 2), _mlp(3, 1), data=real, noise=lambda n: torch.randn(n, 4),
                 dashboard=None, record=False)
    with pytest.raises(ValueError, match="d_output='critic'.*loss='wgan_gp'"):
        gw.watch(_mlp(4, 3), _mlp(3, 1), data=real, noise=lambda n: torch.randn(n, 4),
                 d_output="critic", loss="non_saturating", dashboard=None, record=False)
    with pytest.raises(ValueError, match="D gives 2 values per sample"):
        gw.watch(_mlp(4, 3), _mlp(3, 2), data=real, noise=lambda n: torch.randn(n, 4),
                 dashboard=None, record=False)


def test_wat007_watch_draws_nothing_from_the_global_streams_it_calls_into():
    """Setting up calls the user's samplers, which draw from every global stream; afterwards
    each stream is where it was."""
    G, D = _mlp(2, 2), _mlp(2, 1)
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)

    def noise(n):
        np.random.rand()
        random.random()
        return torch.randn(n, 2)

    w = gw.watch(G, D, data=lambda n: torch.randn(n, 2), noise=noise,
                 dashboard=None, record=False, frames=FRAMES)
    w.step(0.1, 0.1)
    w.close()
    after = (torch.rand(3), np.random.rand(), random.random())
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    assert torch.equal(after[0], torch.rand(3))
    assert after[1:] == (np.random.rand(), random.random())


class Fragile(nn.Module):
    """A generator that works in training and raises in eval mode once `broken` is set: the
    watch's looks fail, the researcher's training must not."""

    def __init__(self) -> None:
        super().__init__()
        self.net = _mlp(2, 2)
        self.broken = False

    def forward(self, z):
        if self.broken and not self.training:
            raise RuntimeError("no eval mode here")
        return self.net(z)


def test_wat008_a_look_that_fails_stops_watching_and_never_the_training(tmp_path):
    G, D = Fragile(), _mlp(2, 1)
    lines: list[str] = []
    w = gw.watch(G, D, data=np.random.default_rng(2).normal(size=(300, 2)),
                 noise=lambda n: torch.randn(n, 2), dashboard=None, record=tmp_path / "f.h5",
                 frames=FRAMES, say=lines.append)
    G.broken = True
    for _ in range(300):
        G(torch.randn(256, 2)).square().mean().backward()  # the training step: still works
        w.step(0.3, 0.3)
    w.close()
    assert w.step_count == 300
    (line,) = [x for x in lines if "watching stopped" in x]
    assert "RuntimeError: no eval mode here; training goes on" in line
    with RunReader(tmp_path / "f.h5") as r:
        assert any("watching stopped" in e["message"] for e in r.events())
