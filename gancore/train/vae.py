"""The VAE baseline: same targets, same decoder architecture as G, same frames and metrics.

It covers every mode but blurs between them, where a GAN is sharp but may collapse: the pair
makes the trade-off visible side by side. The encoder uses the discriminator's widths and
optimiser settings; the decoder is the generator. Scalar rows reuse the GAN columns:
d_loss = reconstruction, g_loss = KL, d_real/d_fake = NaN (there is no discriminator).
"""

from __future__ import annotations

import torch

from gancore.train.models import Encoder, Generator
from gancore.train.trainer import (
    StepStats,
    Trainer,
    _clear_grads,
    _grad_norm,
    make_optimizer,
    optimizer_step,
)


class VAETrainer(Trainer):
    """Trains encoder E and decoder G on the ELBO with a fixed decoder noise `vae_sigma`."""

    def _build_networks(self) -> None:
        cfg = self.cfg
        self.G = Generator(cfg.latent.dim, self.dim, cfg.generator, self.cond_dim)
        self.E = Encoder(self.dim, cfg.latent.dim, cfg.discriminator, self.cond_dim)
        self.D = None
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.E.parameters())  # "D" columns report the encoder
        self.opt_g = make_optimizer(self.g_params, cfg.opt_g)
        self.opt_d = make_optimizer(self.d_params, cfg.opt_d)

    def apply_live(self, cfg, target=None) -> None:
        super().apply_live(cfg, target)
        self.loss = None

    def step(self, which: str = "both") -> StepStats:
        """One ELBO step on both networks (a VAE has no halves to step separately)."""
        B = self.cfg.train.batch_size
        x, c = self.real_batch(B)
        mu, logvar = self.E(x, c)  # (B, latent) each
        z = mu + torch.randn(mu.shape, generator=self.gen) * (0.5 * logvar).exp()
        recon = ((x - self.G(z, c)) ** 2).sum(1).mean() / (2 * self.cfg.vae_sigma**2)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        _clear_grads(self.g_params)
        _clear_grads(self.d_params)
        (recon + kl).backward()
        optimizer_step(self.opt_g)
        optimizer_step(self.opt_d)
        self.step_count += 1
        nan = torch.tensor(float("nan"))
        return StepStats(self.step_count, recon.detach(), kl.detach(), nan, nan,
                         _grad_norm(self.d_params), _grad_norm(self.g_params), "both")


def make_trainer(cfg) -> Trainer:
    """The trainer for a config's model kind."""
    return VAETrainer(cfg) if cfg.model == "vae" else Trainer(cfg)
