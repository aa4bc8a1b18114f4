"""The generator, discriminator (and VAE encoder) MLPs built from a config; D returns logits."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gancore.config import NetConfig
from gancore.train.remedies import MinibatchDiscrimination

# In-place where autograd allows it: saves one allocation per layer (about 25% of a D-surface
# evaluation on a 2-core CPU). Each follows a Linear or a norm, never a tensor it must keep.
ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "tanh": nn.Tanh,
    "elu": lambda: nn.ELU(inplace=True),
    "gelu": nn.GELU,
}
NORMS: dict[str, type[nn.BatchNorm1d] | type[nn.LayerNorm] | None] = {
    "none": None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
OUTPUTS = {"none": nn.Identity, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def mlp_body(n_in: int, net: NetConfig) -> tuple[nn.Sequential, int]:
    """Hidden layers (linear, norm, activation) and the width they end on."""
    layers: list[nn.Module] = []
    width = n_in
    for h in net.hidden:
        linear = nn.Linear(width, h)
        layers.append(spectral_norm(linear) if net.spectral_norm else linear)
        norm = NORMS[net.norm]
        if norm is not None:
            layers.append(norm(h))
        layers.append(ACTIVATIONS[net.activation]())
        width = h
    return nn.Sequential(*layers), width


def run_layers(layers: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """`layers(x)` without nn.Module's dispatch around every layer (hook checks and two Python
    frames each): the same operations in the same order, so the result is bit-identical. Nothing
    hooks these layers, and at GAN Lab's sizes that dispatch was 7% of a training step."""
    for layer in layers:
        x = layer.forward(x)
    return x


class Generator(nn.Module):
    """z (B, latent) [+ condition c (B, cond)] -> x (B, dim)."""

    def __init__(self, latent_dim: int, data_dim: int, net: NetConfig, cond_dim: int = 0):
        super().__init__()
        self.body, width = mlp_body(latent_dim + cond_dim, net)
        self.out = nn.Linear(width, data_dim)
        self.out_act = OUTPUTS[net.output_activation]()
        self.cond_dim = cond_dim

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if self.cond_dim:
            assert c is not None  # a conditional network is always given its condition
            z = torch.cat([z, c], 1)  # (B, latent + cond)
        return self.out_act.forward(self.out.forward(run_layers(self.body, z)))


class Discriminator(nn.Module):
    """x (B, dim) [+ c] -> logits (B / pack,). With packing m, D judges m samples at once."""

    def __init__(self, data_dim: int, net: NetConfig, cond_dim: int = 0, pack: int = 1,
                 minibatch_kernels: int = 0):
        super().__init__()
        self.pack, self.cond_dim = pack, cond_dim
        self.body, width = mlp_body((data_dim + cond_dim) * pack, net)
        self.mbd = MinibatchDiscrimination(width, minibatch_kernels) if minibatch_kernels else None
        head_in = width + (minibatch_kernels if minibatch_kernels else 0)
        head = nn.Linear(head_in, 1)
        self.head = spectral_norm(head) if net.spectral_norm else head

    def _packed(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if self.cond_dim:
            assert c is not None  # as in Generator.forward
            x = torch.cat([x, c], 1)
        if self.pack > 1:
            x = x.reshape(x.shape[0] // self.pack, -1)  # (B / m, m * (dim + cond))
        return x

    def features(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The last hidden layer: what feature matching compares."""
        return run_layers(self.body, self._packed(x, c))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = run_layers(self.body, self._packed(x, c))
        if self.mbd is not None:
            h = torch.cat([h, self.mbd(h)], 1)
        return self.head.forward(h).squeeze(1)


class Encoder(nn.Module):
    """VAE encoder: x (B, dim) [+ c] -> (mu, logvar), each (B, latent)."""

    def __init__(self, data_dim: int, latent_dim: int, net: NetConfig, cond_dim: int = 0):
        super().__init__()
        self.cond_dim = cond_dim
        self.body, width = mlp_body(data_dim + cond_dim, net)
        self.out = nn.Linear(width, 2 * latent_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        if self.cond_dim:
            assert c is not None  # as in Generator.forward
            x = torch.cat([x, c], 1)
        mu, logvar = self.out.forward(run_layers(self.body, x)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training
