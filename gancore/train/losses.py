"""GAN losses as pure functions of discriminator logits, plus the penalties, in one registry.

Naming follows torchgan: `d_real`/`d_fake` are D's logits on real and generated batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gancore.choices import LOSSES as DOCS


@dataclass(frozen=True)
class Loss:
    """D's and G's objectives (both minimised). `probabilistic` losses read sigmoid(logit) as
    P(real); critic losses (WGAN, hinge) score without a probability.

    `d_grad(d_real, d_fake) -> (dL/dd_real, dL/dd_fake)` and `g_grad(d_fake) -> dL/dd_fake` are
    the same objectives' gradients written out, for the hand-derived backprop of small networks
    (gancore.train.direct_backprop); a test holds each to autograd of `d` and `g`."""

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    probabilistic: bool
    doc: str
    d_grad: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]
    g_grad: Callable[[Tensor], Tensor]


# Each objective is a mean over its batch; its gradient is the per-sample derivative over n.

def _bce_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    # -log sigmoid(r) - log(1 - sigmoid(f)) == softplus(-r) + softplus(f), stable for any logit.
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def _bce_d_grad(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor]:
    # softplus'(x) = sigmoid(x)
    return (torch.sigmoid(-d_real).div_(-d_real.shape[0]),
            torch.sigmoid(d_fake).div_(d_fake.shape[0]))


def _minimax_g(d_fake: Tensor) -> Tensor:
    # G minimises log(1 - D(G(z))) = -softplus(f): saturates when D confidently rejects fakes.
    return -F.softplus(d_fake).mean()


def _minimax_g_grad(d_fake: Tensor) -> Tensor:
    return torch.sigmoid(d_fake).div_(-d_fake.shape[0])


def _non_saturating_g(d_fake: Tensor) -> Tensor:
    # G maximises log D(G(z)): strong gradients exactly when D rejects fakes.
    return F.softplus(-d_fake).mean()


def _non_saturating_g_grad(d_fake: Tensor) -> Tensor:
    return torch.sigmoid(-d_fake).div_(-d_fake.shape[0])


def _ls_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()


def _ls_d_grad(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor]:
    return (d_real - 1).div_(d_real.shape[0]), d_fake / d_fake.shape[0]


def _ls_g(d_fake: Tensor) -> Tensor:
    return 0.5 * ((d_fake - 1) ** 2).mean()


def _ls_g_grad(d_fake: Tensor) -> Tensor:
    return (d_fake - 1).div_(d_fake.shape[0])


def _hinge_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()


def _hinge_d_grad(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor]:
    # relu'(0) is 0, as in autograd: a logit exactly on the margin gets no push.
    return ((d_real < 1).to(d_real.dtype).div_(-d_real.shape[0]),
            (d_fake > -1).to(d_fake.dtype).div_(d_fake.shape[0]))


def _wasserstein_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return d_fake.mean() - d_real.mean()


def _wasserstein_d_grad(d_real: Tensor, d_fake: Tensor) -> tuple[Tensor, Tensor]:
    return (torch.full_like(d_real, -1.0 / d_real.shape[0]),
            torch.full_like(d_fake, 1.0 / d_fake.shape[0]))


def _wasserstein_g(d_fake: Tensor) -> Tensor:
    return -d_fake.mean()


def _wasserstein_g_grad(d_fake: Tensor) -> Tensor:
    return torch.full_like(d_fake, -1.0 / d_fake.shape[0])


LOSSES: dict[str, Loss] = {
    "minimax": Loss(_bce_d, _minimax_g, True, DOCS["minimax"],
                    _bce_d_grad, _minimax_g_grad),
    "non_saturating": Loss(_bce_d, _non_saturating_g, True, DOCS["non_saturating"],
                           _bce_d_grad, _non_saturating_g_grad),
    "least_squares": Loss(_ls_d, _ls_g, False, DOCS["least_squares"], _ls_d_grad, _ls_g_grad),
    "hinge": Loss(_hinge_d, _wasserstein_g, False, DOCS["hinge"], _hinge_d_grad,
                  _wasserstein_g_grad),
    "wgan": Loss(_wasserstein_d, _wasserstein_g, False, DOCS["wgan"],
                 _wasserstein_d_grad, _wasserstein_g_grad),
    "wgan_gp": Loss(_wasserstein_d, _wasserstein_g, False, DOCS["wgan_gp"],
                    _wasserstein_d_grad, _wasserstein_g_grad),
}


def gradient_penalty(critic: Callable[..., Tensor], real: Tensor, fake: Tensor,
                     gen: torch.Generator, cond: Tensor | None = None) -> Tensor:
    """WGAN-GP: E[(||grad_x D(x_hat)|| - 1)^2] on random interpolates of real and fake."""
    eps = torch.rand(real.shape[0], 1, generator=gen)  # (B, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    out = critic(x_hat, cond)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def r1_penalty(critic: Callable[..., Tensor], real: Tensor, cond: Tensor | None = None) -> Tensor:
    """R1: E[||grad_x D(x)||^2] on real data (multiply by gamma/2)."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x, cond).sum(), x, create_graph=True)
    return grad.pow(2).sum(1).mean()
