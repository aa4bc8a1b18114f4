"""The user's G and D as the probes expect a ganscope run's: CPU float32 in and out, D's output as
logits (or critic values), and the few attributes the probes read of a Trainer.

The user's networks keep their own device and dtype: each call moves the probe inputs to the
first parameter's device and dtype and brings the outputs back as CPU float32. `evaluating` puts
them in eval mode for a frame and restores every submodule's own mode afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gancore.train.losses import LOSSES, Loss
from gancore.watch.rows import NormParts
from gancore.watch.sources import CondSpec

D_OUTPUTS = ("logits", "probabilities", "critic")
_EPS = 1e-6  # probabilities are clipped this far from 0 and 1 before they become logits


def _placement(fn: Any) -> tuple[torch.device, torch.dtype]:
    """Where the network lives: its first floating parameter's device and dtype (CPU float32
    for a plain callable). Asked at every call, so a model moved after `watch` is followed."""
    if isinstance(fn, nn.Module):
        for p in fn.parameters():
            if p.is_floating_point():
                return p.device, p.dtype
    return torch.device("cpu"), torch.float32


class Bridge:
    """One user network called the probes' way: `net(x, c)` with CPU float32 (n, k) tensors,
    returning (n, k) CPU float32. The user's code runs outside inference mode (a module that
    caches a tensor in its forward must not keep an inference tensor for its next training
    step) and with autograd only where the caller enabled it (the probes' gradient arrows)."""

    mbd = None  # the probes ask a ganscope D about minibatch discrimination: a user's has none

    def __init__(self, fn: Callable, cond: CondSpec | None, to_logits: bool = False):
        self.fn, self.cond, self.to_logits = fn, cond, to_logits

    def __call__(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        grad = torch.is_grad_enabled()
        device, dtype = _placement(self.fn)
        with torch.inference_mode(False), torch.set_grad_enabled(grad):
            xi = x.to(device=device, dtype=dtype)
            if self.cond is None:
                out = self.fn(xi)
            else:
                assert c is not None  # the probes pass a condition to a conditional model
                out = self.fn(xi, self.cond.to_user(c, device, dtype))
            out = torch.as_tensor(out).reshape(len(x), -1).to("cpu", torch.float32)
            if self.to_logits:
                out = torch.logit(out.clamp(_EPS, 1 - _EPS))
        return out


@dataclass
class WatchedNets:
    """What the probes read of a Trainer (gancore.observe.probes): G, D, the loss (its `g` for
    the gradient arrows, `probabilistic` for reading D), no AdaGAN mixture, and the step."""

    G: Bridge
    D: Bridge
    loss: Loss
    step_count: int = 0
    adagan: None = None


def make_nets(G: Callable, D: Callable, loss: str, d_output: str,
              cond: CondSpec | None) -> WatchedNets:
    if d_output not in D_OUTPUTS:
        raise ValueError(f"d_output: one of {', '.join(D_OUTPUTS)}, not {d_output!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss: one of {', '.join(LOSSES)}, not {loss!r}")
    if not (callable(G) and callable(D)):
        raise TypeError("G and D: expected nn.Modules or callables")
    chosen = LOSSES[loss]
    if d_output == "critic" and chosen.probabilistic:
        raise ValueError(f"d_output='critic' scores without a probability, but loss {loss!r} "
                         "reads D as one; name the critic's loss (e.g. loss='wgan_gp')")
    if d_output == "probabilities" and not chosen.probabilistic:
        raise ValueError(f"d_output='probabilities' with loss {loss!r}, which reads D's raw "
                         "output; use 'logits', or a log loss such as 'non_saturating'")
    return WatchedNets(Bridge(G, cond), Bridge(D, cond, d_output == "probabilities"), chosen)


@contextmanager
def evaluating(*nets: Any) -> Iterator[None]:
    """Eval mode for the block (batch norm reads its running statistics, dropout is off, and
    neither changes a buffer), then each submodule back in its own previous mode: a model with
    a frozen part in eval mode keeps it so."""
    saved = [(m, m.training) for n in nets if isinstance(n, nn.Module) for m in n.modules()]
    for n in nets:
        if isinstance(n, nn.Module):
            n.eval()
    try:
        yield
    finally:
        for m, mode in saved:
            m.training = mode


def trainable(net: Any) -> list[Tensor]:
    return [p for p in net.parameters() if p.requires_grad] if isinstance(net, nn.Module) else []


def grad_norm(params: list[Tensor]) -> NormParts | float:
    """The gradients the user's last backward left on `params`, as per-tensor norms (summed
    later, for many steps at once: gancore.watch.rows), read without a host sync and without
    touching them; NaN when there are none. Parameters on several devices are read in place."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return float("nan")
    with torch.no_grad():
        norms = torch._foreach_norm(grads)
    if len({n.device for n in norms}) > 1:
        return NormParts(n.to("cpu") for n in norms)
    return NormParts(norms)


def has_lazy(*nets: Any) -> bool:
    """Whether a network still has uninitialised lazy parameters: calling it would initialise
    them from a different random state than the user's own first call would."""
    return any(isinstance(p, nn.parameter.UninitializedParameter)
               for n in nets if isinstance(n, nn.Module) for p in n.parameters())


def weights_finite(params: list[Tensor]) -> bool:
    """Whether every weight is finite: one norm per tensor, one host read per device."""
    by_device: dict[torch.device, list[Tensor]] = {}
    for p in params:
        by_device.setdefault(p.device, []).append(p.detach())
    with torch.no_grad():
        return all(bool(torch.isfinite(torch.stack(torch._foreach_norm(ps))).all())
                   for ps in by_device.values())


def describe(net: Any) -> str:
    """A network in a few words for the frame's meta: its class and parameter count."""
    name = type(net).__name__ if isinstance(net, nn.Module) else getattr(net, "__name__", "")
    n = sum(p.numel() for p in net.parameters()) if isinstance(net, nn.Module) else 0
    return f"{name or 'callable'} ({n:,} parameters)" if n else (name or "callable")
