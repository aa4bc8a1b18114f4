"""One GAN training step, explicit and short: k_D D-steps on detached fakes, then k_G G-steps.

No I/O and no host syncs inside `Trainer.step`; live config changes apply between steps through
`apply_live`, which edits optimiser param_groups in place instead of rebuilding them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from gancore.config import OptimConfig, RunConfig, data_dim
from gancore.data.targets import Target, build_target, sample_latent
from gancore.train import direct_backprop
from gancore.train.adagan import AdaGAN, component_seed
from gancore.train.losses import LOSSES, Loss, gradient_penalty, r1_penalty
from gancore.train.models import Discriminator, Generator
from gancore.train.remedies import feature_matching_loss, unrolled_g_loss


@dataclass
class StepStats:
    """What one step measured, as 0-d tensors (read them when a frame or a row is due)."""

    step: int
    d_loss: Tensor
    g_loss: Tensor
    d_real: Tensor  # mean D output on real data (probability for log losses, raw otherwise)
    d_fake: Tensor
    d_grad_norm: Tensor
    g_grad_norm: Tensor
    which: str = "both"  # which halves ran: "both", "d" or "g"; the other half's values are NaN

    def as_row(self) -> list[float]:
        """[step, d_loss, g_loss, d_real, d_fake, d_grad_norm, g_grad_norm] (STAT_COLUMNS)."""
        values = torch.stack([self.d_loss, self.g_loss, self.d_real, self.d_fake,
                              self.d_grad_norm, self.g_grad_norm]).tolist()  # one host read
        return [float(self.step), *values]

    def finite(self) -> bool:
        """False when a loss computed this step is NaN or infinite (a half step leaves the
        other half's loss out of the check)."""
        losses = [t for t, ran in ((self.d_loss, self.which != "g"),
                                   (self.g_loss, self.which != "d")) if ran]
        return bool(torch.isfinite(torch.stack(losses)).all())


def make_optimizer(params, opt: OptimConfig) -> torch.optim.Optimizer:
    # foreach Adam: one call per operation for all tensors instead of a Python loop over them.
    # On CPU it runs the same kernels in the same order as the per-tensor default: every
    # preset's weights after 300 seeded steps are bit-identical either way.
    if opt.name == "adam":
        return torch.optim.Adam(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), foreach=True)
    if opt.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=opt.lr, momentum=opt.momentum)
    return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum)


def set_live_hyperparameters(optimizer: torch.optim.Optimizer, opt: OptimConfig) -> None:
    """Learning rate, momentum and betas changed in place: Adam keeps its moments."""
    for group in optimizer.param_groups:
        group["lr"] = opt.lr
        if "betas" in group:
            group["betas"] = (opt.beta1, opt.beta2)
        if "momentum" in group:
            group["momentum"] = opt.momentum


_NAN = torch.tensor(float("nan"))  # a value a step did not compute (never written to)


def _set_requires_grad(params: list[Tensor], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def _clear_grads(params: list[Tensor]) -> None:
    """zero_grad(set_to_none=True) without the optimiser's hook and profiler overhead, which is
    a fifth of a step for GAN Lab-sized networks."""
    for p in params:
        p.grad = None


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """optimizer.step(), with plain SGD (no momentum, dampening, weight decay or nesterov) done
    as p -= lr * grad directly. That is the arithmetic of torch.optim.SGD's per-tensor path, so
    a seeded run is unchanged, without step()'s hooks, profiler records and group bookkeeping:
    about a sixth of a GAN Lab-sized iteration (three such D steps and one G step)."""
    if type(optimizer) is torch.optim.SGD and len(optimizer.param_groups) == 1:
        g = optimizer.param_groups[0]
        if not (g["momentum"] or g["weight_decay"] or g["nesterov"] or g["maximize"]):
            with torch.no_grad():
                for p in g["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-g["lr"])
            return
    optimizer.step()


def _grad_norm(params: list[Tensor]) -> Tensor:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class Trainer:
    """Owns G, D, their optimisers, the target and the run's random generator."""

    # A VAETrainer (gancore.train.vae) has neither D nor a GAN loss, and its own step: the GAN
    # step below narrows both.
    D: Discriminator | None
    loss: Loss | None
    g_params: list[Tensor]
    d_params: list[Tensor]

    def __init__(self, cfg: RunConfig, target: Target | None = None):
        self.cfg = cfg
        self.target = target if target is not None else build_target(cfg)
        self.dim = data_dim(cfg)
        self.cond_dim = self.target.cond_dim if cfg.train.conditional else 0
        if cfg.train.conditional and not self.target.cond_dim:
            raise ValueError(f"train.conditional: target '{cfg.target.name}' has no condition "
                             "vector")
        self.gen = torch.Generator().manual_seed(cfg.train.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.train.seed)  # weight init from the run's seed, not the global one
            self._build_networks()
        self.loss = LOSSES[cfg.loss.name]
        self._joint_d = cfg.discriminator.norm != "batch" and \
            not cfg.remedies.minibatch_discrimination
        # GAN Lab-sized plain MLPs train with hand-derived gradients (about twice the steps/s);
        # `direct` is None for anything else, and `_use_direct` follows the live loss settings.
        self.direct = None if self.D is None else \
            direct_backprop.DirectBackprop.for_networks(self.G, self.D)
        self._use_direct = self.direct is not None and direct_backprop.applies(cfg)
        self.step_count = 0
        # AdaGAN: G is the mixture's newest generator; real batches come from its weighted pool
        self.adagan: AdaGAN | None = None
        if cfg.remedies.adagan_generators > 1:
            if self.target.time_varying:
                raise ValueError(f"remedies.adagan_generators: target '{cfg.target.name}' "
                                 "changes with the step, and AdaGAN reweights a fixed pool")
            self.adagan = AdaGAN(cfg, self.target)

    def _build_networks(self) -> None:
        cfg = self.cfg
        self.G = Generator(cfg.latent.dim, self.dim, cfg.generator, self.cond_dim)
        kernels = cfg.remedies.minibatch_kernels if cfg.remedies.minibatch_discrimination else 0
        self.D = Discriminator(self.dim, cfg.discriminator, self.cond_dim, cfg.remedies.packing,
                               kernels)
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.D.parameters())
        self.opt_g = make_optimizer(self.g_params, cfg.opt_g)
        self.opt_d = make_optimizer(self.d_params, cfg.opt_d)

    # ---- live changes -------------------------------------------------------------------
    def apply_live(self, cfg: RunConfig, target: Target | None = None) -> None:
        """Adopt a config that differs from the current one only in live fields."""
        set_live_hyperparameters(self.opt_g, cfg.opt_g)
        set_live_hyperparameters(self.opt_d, cfg.opt_d)
        self.loss = LOSSES[cfg.loss.name]
        if target is not None:
            self.target = target
            if self.adagan is not None:  # the weights belonged to the old target's points
                self.adagan.new_target(target)
        self.cfg = cfg
        self._use_direct = self.direct is not None and direct_backprop.applies(cfg)

    # ---- batches ------------------------------------------------------------------------
    def real_batch(self, n: int) -> tuple[Tensor, Tensor | None]:
        if self.adagan is not None:
            return self.adagan.real(n, self.gen), None
        if self.cond_dim:
            return self.target.sample_conditional(n, self.gen, self.step_count)
        return self.target.sample(n, self.gen, self.step_count), None

    def latent(self, n: int) -> Tensor:
        return sample_latent(n, self.cfg.latent, self.gen)

    # ---- the step -------------------------------------------------------------------------
    def step(self, which: str = "both") -> StepStats:
        """One training step: k_D D-steps then k_G G-steps ("d" or "g" runs only that half,
        for teaching in slow motion). Every call counts as one step."""
        cfg = self.cfg
        B = cfg.train.batch_size
        if self.adagan is not None:
            classify = self._adagan_phase()
            if classify:  # this step trains the data-vs-mixture classifier, whatever `which`
                loss, p_real, p_fake, norm = self.adagan.classifier_step(self.G, B, self.gen)
                self.step_count += 1
                return StepStats(self.step_count, loss, _NAN, p_real, p_fake, norm, _NAN, "d")
        d_loss = d_real = d_fake = d_grad = g_loss = g_grad = _NAN
        if which in ("both", "d"):
            for i in range(cfg.train.k_d):
                d_loss, d_real, d_fake = self._d_step(B, want_stats=i == cfg.train.k_d - 1)
            d_grad = _grad_norm(self.d_params)
        if which in ("both", "g"):
            # Autograd's G step needs gradients through D only (direct backprop makes none else)
            freeze_d = not self._use_direct
            if freeze_d:
                _set_requires_grad(self.d_params, False)
            try:
                for _ in range(cfg.train.k_g):
                    g_loss = self._g_step(B)
            finally:
                if freeze_d:
                    _set_requires_grad(self.d_params, True)
            g_grad = _grad_norm(self.g_params)
        self.step_count += 1
        return StepStats(self.step_count, d_loss.detach(), g_loss.detach(), d_real, d_fake,
                         d_grad, g_grad, which)

    def _adagan_phase(self) -> bool:
        """Move the mixture on when this step starts a new generator; True when it is a
        classifier step."""
        assert self.adagan is not None
        k, classify = self.adagan.phase(self.step_count)
        if k >= self.adagan.components:  # the classifier has seen the last generator: next one
            self.adagan.add_component(self.G)
            # A new GAN: fresh G, D and optimiser moments (at the current live rates)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(component_seed(self.cfg.train.seed, self.adagan.components - 1))
                self._build_networks()
            assert self.D is not None  # AdaGAN mixes GANs (the config refuses the VAE)
            self.direct = direct_backprop.DirectBackprop.for_networks(self.G, self.D)
            self._use_direct = self.direct is not None and direct_backprop.applies(self.cfg)
        return classify

    def _d_step(self, B: int, want_stats: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        cfg = self.cfg
        assert self.loss is not None  # a GAN trainer's (see the class attributes)
        if self._use_direct:  # small plain networks: the same draws, gradients written out
            assert self.direct is not None  # _use_direct implies it
            real, _ = self.real_batch(B)
            out_real, out_fake = self.direct.d_grads(real, self.latent(B), self.loss)
            loss = None  # not needed for the update; computed below when reported
        else:
            loss, out_real, out_fake = self._autograd_d_grads(B)
        optimizer_step(self.opt_d)
        if cfg.loss.name == "wgan":
            with torch.no_grad():
                torch._foreach_clamp_min_(self.d_params, -cfg.loss.clip)
                torch._foreach_clamp_max_(self.d_params, cfg.loss.clip)
        if not want_stats:  # only the last of k_D steps is reported
            return _NAN, _NAN, _NAN
        with torch.no_grad():
            if loss is None:
                loss = self.loss.d(out_real, out_fake)
            if self.loss.probabilistic:
                return loss, torch.sigmoid(out_real).mean(), torch.sigmoid(out_fake).mean()
            return loss, out_real.mean(), out_fake.mean()

    def _autograd_d_grads(self, B: int) -> tuple[Tensor, Tensor, Tensor]:
        """D's loss (penalties included) on a fresh real and fake batch, backpropagated into
        D's p.grad; returns it with D's logits on the real and the fake batch."""
        cfg = self.cfg
        assert self.D is not None and self.loss is not None  # a GAN trainer's
        real, c = self.real_batch(B)
        with torch.no_grad():
            fake = self.G(self.latent(B), c)  # (B, dim), detached by construction
        if self._joint_d:
            # One pass over [real; fake] halves the per-layer overhead; only valid when D treats
            # samples independently (no batch norm, no minibatch discrimination).
            both = self.D(torch.cat([real, fake]), None if c is None else torch.cat([c, c]))
            out_real, out_fake = both.chunk(2)
        else:
            out_real, out_fake = self.D(real, c), self.D(fake, c)
        loss = self.loss.d(out_real, out_fake)
        if cfg.loss.name == "wgan_gp" and cfg.loss.gp_lambda > 0:
            loss = loss + cfg.loss.gp_lambda * gradient_penalty(self.D, real, fake, self.gen, c)
        if cfg.loss.r1_gamma > 0:
            loss = loss + 0.5 * cfg.loss.r1_gamma * r1_penalty(self.D, real, c)
        _clear_grads(self.d_params)
        loss.backward()
        return loss, out_real, out_fake

    def _g_step(self, B: int) -> Tensor:
        assert self.D is not None and self.loss is not None  # a GAN trainer's
        if self._use_direct:
            assert self.direct is not None  # _use_direct implies it
            logits = self.direct.g_grads(self.latent(B), self.loss)
            optimizer_step(self.opt_g)
            with torch.no_grad():
                return self.loss.g(logits)
        cfg = self.cfg
        real, c = self.real_batch(B) if (self.cond_dim or cfg.remedies.feature_matching) \
            else (None, None)
        fake = self.G(self.latent(B), c)
        if cfg.remedies.unrolled_steps:
            batches = []
            for _ in range(cfg.remedies.unrolled_steps):
                r, rc = self.real_batch(B)
                batches.append((r, self.G(self.latent(B), rc), rc))
            self.D.requires_grad_(True)  # unrolling differentiates D's loss w.r.t. its weights
            loss = unrolled_g_loss(self.D, self.loss.d, self.loss.g, self.opt_d, batches, fake, c)
        elif cfg.remedies.feature_matching:
            assert real is not None  # drawn above when feature matching is on
            loss = feature_matching_loss(self.D.features, real, fake, c, c)
        else:
            loss = self.loss.g(self.D(fake, c))
        _clear_grads(self.g_params)
        loss.backward()
        optimizer_step(self.opt_g)
        if cfg.remedies.unrolled_steps:
            self.D.zero_grad(set_to_none=True)  # gradients that leaked into D are not D's update
        return loss
