"""Hand-derived gradients for small plain MLPs: GAN Lab-sized training steps without autograd.

Why: at GAN Lab's sizes (layers of 9 or 10 units, batches of 150) a training step is a few dozen
tiny operations, and what each costs is dispatch, not arithmetic. Two costs dominate there and
both go away here. Autograd's graph and engine: for the loss alone (a chunk, two softplus, two
means and their backward nodes) about 150 us of a 500-us D-step on a 2-core machine. And MKL's
sgemm writing an output only a few columns wide: `x @ W.T` for 300 samples into 9 features takes
8.5 us, the same product with the batch along the rows of the output, `W @ x.T`, 3.5 us (with 16
or more features the usual layout is as fast or faster, hence `SMALL_WIDTH`).

So activations run feature-major here, (features, batch), and backprop is written out: for a
layer `h = act(W @ x + b)`, `dW = g @ x.T`, `db = g.sum(1)`, `dx = W.T @ g` with `g` the gradient
after the activation's own backward (the same aten backward kernels autograd uses). The losses'
gradients come from the loss registry (`Loss.d_grad`, `Loss.g_grad`). The parameters, `p.grad`
and the optimisers are the Trainer's own, so a live change that leaves this path (to WGAN-GP,
say) and back loses nothing. Results agree with autograd to float rounding (not bit for bit:
the products sum in another order); tests hold gradients and short seeded runs to autograd.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from gancore.config import RunConfig
from gancore.train.losses import Loss

if TYPE_CHECKING:
    from gancore.train.models import Discriminator, Generator

aten = torch.ops.aten

# Below this many features in and out, every layer is cheaper feature-major (measured above).
SMALL_WIDTH = 16


@dataclass(frozen=True)
class _Activation:
    """forward(pre) -> (out, saved) and backward(grad, saved) -> grad w.r.t. pre."""

    forward: Callable[[Tensor], tuple[Tensor, Tensor]]
    backward: Callable[[Tensor, Tensor], Tensor]


def _out(t: Tensor) -> tuple[Tensor, Tensor]:
    """(output, saved) for activations whose backward reads their own output."""
    return t, t


def _activation(module: nn.Module) -> _Activation | None:
    """The written-out form of one activation module, or None where there is none."""
    if isinstance(module, nn.Identity):
        return _Activation(lambda x: (x, x), lambda g, _: g)
    if isinstance(module, nn.ReLU):
        return _Activation(lambda x: _out(torch.relu_(x)),
                           lambda g, out: aten.threshold_backward(g, out, 0))
    if isinstance(module, nn.LeakyReLU) and module.negative_slope > 0:
        slope = module.negative_slope  # positive, so the output tells the input's sign
        return _Activation(lambda x: _out(F.leaky_relu_(x, slope)),
                           lambda g, out: aten.leaky_relu_backward(g, out, slope, True))
    if isinstance(module, nn.ELU):
        alpha = module.alpha
        return _Activation(lambda x: _out(F.elu_(x, alpha)),
                           lambda g, out: aten.elu_backward(g, alpha, 1, 1, True, out))
    if isinstance(module, nn.Tanh):
        return _Activation(lambda x: _out(torch.tanh_(x)), aten.tanh_backward)
    if isinstance(module, nn.Sigmoid):
        return _Activation(lambda x: _out(torch.sigmoid_(x)), aten.sigmoid_backward)
    if isinstance(module, nn.GELU):
        approximate = module.approximate  # its backward needs the input, so keep that
        return _Activation(lambda x: (F.gelu(x, approximate=approximate), x),
                           lambda g, pre: aten.gelu_backward(g, pre, approximate=approximate))
    return None


class _Layer:
    """One linear layer's parameters and its activation, with the two views the feature-major
    products take, made once: they share the parameters' storage, which the optimisers and
    load_state_dict update in place (making them each step, and nn.Module's attribute lookup,
    were a tenth of a GAN Lab step)."""

    def __init__(self, linear: nn.Linear, act: _Activation):
        self.act = act
        self.weight, self.bias = linear.weight, linear.bias  # (out, in), (out,)
        with torch.no_grad():
            self.bias_column = linear.bias.unsqueeze(1)  # (out, 1), broadcast over the batch
            self.weight_t = linear.weight.t()  # (in, out)


def _plain_layers(body: nn.Sequential, last: nn.Module, last_act: nn.Module) -> list[_Layer] | None:
    """A network as (linear, activation) pairs, or None if it holds anything else (a norm, a
    spectral-norm parametrisation, minibatch discrimination) or a layer SMALL_WIDTH or wider."""
    modules = [*body, last, last_act]
    if len(modules) % 2:
        return None
    layers = []
    for linear, act_module in zip(modules[::2], modules[1::2], strict=True):
        act = _activation(act_module)
        if type(linear) is not nn.Linear or act is None or linear.bias is None or \
                max(linear.in_features, linear.out_features) >= SMALL_WIDTH:
            return None
        layers.append(_Layer(linear, act))
    return layers


def _forward(layers: list[_Layer], x: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
    """x (in, B) -> out (out, B), and per layer (its input, its activation's saved tensor)."""
    saved = []
    for layer in layers:
        pre = torch.addmm(layer.bias_column, layer.weight, x)  # (out, B)
        out, keep = layer.act.forward(pre)
        saved.append((x, keep))
        x = out
    return x, saved


@overload
def _backward(layers: list[_Layer], saved: list[tuple[Tensor, Tensor]], grad: Tensor,
              param_grads: bool, input_grad: Literal[True]) -> Tensor: ...
@overload
def _backward(layers: list[_Layer], saved: list[tuple[Tensor, Tensor]], grad: Tensor,
              param_grads: bool, input_grad: Literal[False]) -> None: ...
def _backward(layers: list[_Layer], saved: list[tuple[Tensor, Tensor]], grad: Tensor,
              param_grads: bool, input_grad: bool) -> Tensor | None:
    """grad (out, B) w.r.t. the network's output -> each layer's p.grad (if `param_grads`) and
    the gradient w.r.t. the input (if `input_grad`)."""
    for i in range(len(layers) - 1, -1, -1):
        layer, (x, keep) = layers[i], saved[i]
        grad = layer.act.backward(grad, keep)  # w.r.t. the pre-activation, (out, B)
        if param_grads:
            layer.weight.grad = grad.mm(x.t())  # (out, in)
            layer.bias.grad = grad.sum(1)
        if i == 0 and not input_grad:
            return None
        grad = layer.weight_t.mm(grad)  # (in, B)
    return grad


def applies(cfg: RunConfig) -> bool:
    """Whether this config's per-step objectives are ones written out here: no gradient penalty
    or R1 (they differentiate a gradient), no unrolling or feature matching. The Trainer reads it
    again after each live change; what shapes the networks (packing, minibatch discrimination,
    a condition vector) `DirectBackprop.for_networks` has already refused."""
    return not (
        (cfg.loss.name == "wgan_gp" and cfg.loss.gp_lambda > 0) or cfg.loss.r1_gamma > 0
        or cfg.remedies.unrolled_steps or cfg.remedies.feature_matching)


class DirectBackprop:
    """Gradients of a D-step and a G-step for a Trainer's small plain G and D, set on p.grad.

    Build with `for_networks`, which says None when the networks are not small plain MLPs."""

    def __init__(self, g_layers: list[_Layer], d_layers: list[_Layer]):
        self.g_layers, self.d_layers = g_layers, d_layers

    @classmethod
    def for_networks(cls, G: Generator, D: Discriminator) -> DirectBackprop | None:
        if getattr(G, "cond_dim", 0) or getattr(D, "cond_dim", 0) or getattr(D, "pack", 1) > 1 \
                or getattr(D, "mbd", None) is not None:
            return None
        g_layers = _plain_layers(G.body, G.out, G.out_act)
        d_layers = _plain_layers(D.body, D.head, nn.Identity())
        if g_layers is None or d_layers is None:
            return None
        return cls(g_layers, d_layers)

    @torch.no_grad()
    def generate(self, z: Tensor) -> Tensor:
        """G(z) feature-major: z (B, latent) -> (dim, B)."""
        return _forward(self.g_layers, z.t())[0]

    @torch.no_grad()
    def d_grads(self, real: Tensor, z: Tensor, loss: Loss) -> tuple[Tensor, Tensor]:
        """Set D's p.grad for one D-step on real (B, dim) and G(z) (z (B, latent)); returns D's
        logits on the real and the fake batch, (B,) each."""
        B = real.shape[0]
        both = torch.cat([real.t(), self.generate(z)], 1)  # (dim, 2B): one pass for both
        logits, saved = _forward(self.d_layers, both)  # (1, 2B)
        d_real, d_fake = logits[0, :B], logits[0, B:]
        grad = torch.cat(loss.d_grad(d_real, d_fake)).unsqueeze(0)  # (1, 2B)
        _backward(self.d_layers, saved, grad, param_grads=True, input_grad=False)
        return d_real, d_fake

    @torch.no_grad()
    def g_grads(self, z: Tensor, loss: Loss) -> Tensor:
        """Set G's p.grad for one G-step through D on G(z) (D's own grads untouched); returns D's
        logits on the fakes, (B,)."""
        fake, g_saved = _forward(self.g_layers, z.t())  # (dim, B)
        logits, d_saved = _forward(self.d_layers, fake)  # (1, B)
        grad = loss.g_grad(logits[0]).unsqueeze(0)  # (1, B)
        grad = _backward(self.d_layers, d_saved, grad, param_grads=False, input_grad=True)
        _backward(self.g_layers, g_saved, grad, param_grads=True, input_grad=False)
        return logits[0]
