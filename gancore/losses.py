"""GAN losses as pure functions of discriminator logits, plus the penalties, in one registry.

Naming follows torchgan: `d_real`/`d_fake` are D's logits on real and generated batches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class Loss:
    """D's and G's objectives (both minimised). `probabilistic` losses read sigmoid(logit) as
    P(real); critic losses (WGAN, hinge) score without a probability."""

    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    probabilistic: bool
    doc: str


def _bce_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    # -log sigmoid(r) - log(1 - sigmoid(f)) == softplus(-r) + softplus(f), stable for any logit.
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def _minimax_g(d_fake: Tensor) -> Tensor:
    # G minimises log(1 - D(G(z))) = -softplus(f): saturates when D confidently rejects fakes.
    return -F.softplus(d_fake).mean()


def _non_saturating_g(d_fake: Tensor) -> Tensor:
    # G maximises log D(G(z)): strong gradients exactly when D rejects fakes.
    return F.softplus(-d_fake).mean()


def _ls_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake**2).mean()


def _ls_g(d_fake: Tensor) -> Tensor:
    return 0.5 * ((d_fake - 1) ** 2).mean()


def _hinge_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()


def _wasserstein_d(d_real: Tensor, d_fake: Tensor) -> Tensor:
    return d_fake.mean() - d_real.mean()


def _wasserstein_g(d_fake: Tensor) -> Tensor:
    return -d_fake.mean()


LOSSES: dict[str, Loss] = {
    "minimax": Loss(_bce_d, _minimax_g, True, "original minimax log loss (saturating G)"),
    "non_saturating": Loss(_bce_d, _non_saturating_g, True, "log loss, non-saturating G"),
    "least_squares": Loss(_ls_d, _ls_g, False, "least squares (LSGAN)"),
    "hinge": Loss(_hinge_d, _wasserstein_g, False, "hinge loss"),
    "wgan": Loss(_wasserstein_d, _wasserstein_g, False, "WGAN critic with weight clipping"),
    "wgan_gp": Loss(_wasserstein_d, _wasserstein_g, False, "WGAN critic with gradient penalty"),
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
