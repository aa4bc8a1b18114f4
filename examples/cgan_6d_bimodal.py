"""A conditional WGAN-GP on 6-D data, written the usual way, watched live by ganscope.

The data: six correlated coordinates that depend on a 4-D condition, where coordinates 0 and 1
also carry a hidden sign the condition does not reveal, so each of them has two humps. G has
two branches, one for the noise and one for the condition, concatenated; the critic sees the
sample beside its condition. With one critic step per generator step and a small learning rate
the two humps come out as one, and nothing in the losses says so. ganscope shows it: the
marginals, the KS bars and a "mode collapse: bimodal coordinates come out unimodal" event.

The five lines marked `# ganscope` are all the watching there is; delete them and this is a
plain training script with the same weights at every step.

    python examples/cgan_6d_bimodal.py --steps 4000            # a dashboard starts if none runs
    python examples/cgan_6d_bimodal.py --dashboard http://127.0.0.1:8050
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import gancore.watch as gw  # ganscope

LATENT, COND, DIM = 6, 4, 6


def make_data(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, c): x (n, 6) given c (n, 4); coordinates 0 and 1 get a hidden sign of +-1.5."""
    c = torch.randn(n, COND, generator=gen)  # (n, 4)
    mix = torch.randn(COND, DIM, generator=torch.Generator().manual_seed(7)) * 0.5
    mix[:, :2] *= 0.3  # the condition moves coordinates 0 and 1 a little: their humps stay apart
    sign = torch.randint(0, 2, (n, 1), generator=gen).float() * 2 - 1  # (n, 1) hidden
    x = c @ mix + 0.3 * torch.randn(n, DIM, generator=gen)  # (n, 6)
    x[:, :2] += 1.5 * sign
    return x, c


class Generator(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.noise = nn.Sequential(nn.Linear(LATENT, hidden), nn.ReLU())
        self.cond = nn.Sequential(nn.Linear(COND, hidden), nn.ReLU())
        self.body = nn.Sequential(nn.Linear(2 * hidden, 128), nn.ReLU(), nn.Linear(128, DIM))

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([self.noise(z), self.cond(c)], 1))


class Critic(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(DIM + COND, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 128), nn.ReLU(), nn.Linear(128, 1))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, c], 1))


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     c: torch.Tensor) -> torch.Tensor:
    a = torch.rand(len(real), 1)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x, c).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()


def train(steps: int, seed: int = 0, n_critic: int = 1, lr: float = 1e-4, batch: int = 128,
          dashboard: str | None = "auto") -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    x_all, c_all = make_data(20_000, torch.Generator().manual_seed(seed))
    G, D = Generator(), Critic()
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.9))
    w = gw.watch(G, D, data=x_all, cond=c_all, noise=lambda n: torch.randn(n, LATENT),  # ganscope
                 d_output="critic", name="cgan-6d-bimodal", dashboard=dashboard)  # ganscope
    for _ in range(steps):
        for _ in range(n_critic):
            i = torch.randint(0, len(x_all), (batch,))
            real, c = x_all[i], c_all[i]
            fake = G(torch.randn(batch, LATENT), c).detach()
            d_loss = D(fake, c).mean() - D(real, c).mean() + 10 * gradient_penalty(D, real, fake, c)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        c = c_all[torch.randint(0, len(x_all), (batch,))]
        g_loss = -D(G(torch.randn(batch, LATENT), c), c).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        w.step(d_loss=d_loss, g_loss=g_loss)  # ganscope
    w.close()  # ganscope
    return G, D


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-critic", type=int, default=1)
    p.add_argument("--dashboard", default="auto", help="'auto', a dashboard's URL, or 'none'")
    args = p.parse_args()
    train(args.steps, args.seed, args.n_critic,
          dashboard=None if args.dashboard == "none" else args.dashboard)
