"""Mode-collapse remedies: minibatch discrimination, feature matching and unrolled G updates.

Packing (PacGAN) lives in the discriminator's input reshaping (`models.Discriminator`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: each sample gets features saying how close it is to the rest of its
    batch, so D can spot a batch whose samples all look alike."""

    def __init__(self, n_in: int, kernels: int, kernel_dim: int = 3):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(n_in, kernels * kernel_dim) * 0.1)

    def forward(self, h: Tensor) -> Tensor:
        m = (h @ self.T).view(-1, self.kernels, self.kernel_dim)  # (B, K, C)
        l1 = (m[:, None] - m[None]).abs().sum(-1)  # (B, B, K)
        return torch.exp(-l1).sum(1) - 1  # (B, K), minus each sample's match with itself


def feature_matching_loss(d_features: Callable[..., Tensor], real: Tensor, fake: Tensor,
                          cond_real: Tensor | None = None,
                          cond_fake: Tensor | None = None) -> Tensor:
    """G matches the mean of D's last hidden features on real data instead of fooling D."""
    with torch.no_grad():
        target = d_features(real, cond_real).mean(0)
    return (d_features(fake, cond_fake).mean(0) - target).pow(2).sum()


def unrolled_g_loss(D: nn.Module, d_loss: Callable[[Tensor, Tensor], Tensor],
                    g_loss: Callable[[Tensor], Tensor], opt_d: torch.optim.Optimizer,
                    batches: list[tuple[Tensor, Tensor, Tensor | None]], fake: Tensor,
                    cond: Tensor | None) -> Tensor:
    """Metz et al. 2017: G's loss against D after k differentiable D updates.

    `batches` holds k (real, fake, cond) triples whose fakes stay attached to G's graph, so G's
    gradient sees how D would answer its move. The D updates mimic D's own optimiser (Adam with
    its current moments, or plain gradient steps for SGD and RMSprop), without touching D itself.
    """
    params: dict[str, Tensor] = dict(D.named_parameters())
    group = opt_d.param_groups[0]
    lr = group["lr"]
    adam = isinstance(opt_d, torch.optim.Adam)
    moments = {}
    if adam:
        b1, b2 = group["betas"]
        for name, p in params.items():
            st = opt_d.state.get(p, {})
            moments[name] = (st.get("exp_avg", torch.zeros_like(p)),
                             st.get("exp_avg_sq", torch.zeros_like(p)),
                             float(st.get("step", 0)))
    for real, fake_k, c in batches:
        loss = d_loss(functional_call(D, params, (real, c)),
                      functional_call(D, params, (fake_k, c)))
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        new = {}
        for (name, p), g in zip(params.items(), grads, strict=True):
            if adam:
                m, v, t = moments[name]
                m, v, t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, t + 1
                moments[name] = (m, v, t)
                # the tiny floor keeps sqrt differentiable where a gradient is exactly zero
                step = (m / (1 - b1**t)) / ((v / (1 - b2**t) + 1e-16).sqrt() + 1e-8)
            else:
                step = g
            new[name] = p - lr * step
        params = new
    return g_loss(functional_call(D, params, (fake, cond)))
