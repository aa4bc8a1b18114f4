"""AdaGAN (Tolstikhin et al. 2017, "AdaGAN: Boosting Generative Models"): a mixture of generators.

Each new generator is a plain GAN trained on the data reweighted towards what the mixture so far
misses. The weights come from a classifier trained to tell real data from the current mixture:
its odds give the density ratio h(x) = p_mixture(x) / p_data(x) = (1 - D(x)) / D(x), and a point
gets weight w_i = (lambda - (1 - beta) h_i)_+ / (N beta), with lambda making them sum to one (the
paper's optimal reweighting, Theorem 2): points the mixture already covers well get none. The
new generator joins the mixture with weight beta = 1/t (t-th generator: a uniform mixture, the
paper's "uniform" choice), the older weights scaled by 1 - beta.

The target is sampled through a fixed pool of real points drawn once from the run's seed, since
weights need points to sit on. A run's steps go, for each generator but the last, `adagan_steps`
GAN steps then `adagan_classifier_steps` classifier steps; the last generator keeps training as
long as the run does. The trainer steps through this one step at a time (`Trainer.step`).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from gancore.config import RunConfig, data_dim
from gancore.data.targets import Target, sample_latent
from gancore.train.models import Discriminator, Generator

POOL_SIZE = 4096  # real points the data weights apply to
POOL_SEED_OFFSET = 104_729  # the pool's own generator: drawing it leaves the run's stream alone
COMPONENT_SEED_STRIDE = 1_000_003  # generator k's initial weights: seed + k * stride
CLASSIFIER_SEED_OFFSET = 500_009  # the classifier after generator k: its seed + this
# The data-vs-mixture classifier keeps one recipe whatever the GAN's rates: it must be a good
# density-ratio estimator within its few hundred steps, and D's rate in the two time-scale
# setting (1e-4) is too slow for that.
CLASSIFIER_LR = 1e-3
_GOLDEN = (math.sqrt(5) - 1) / 2


def boosted_weights(ratio: Tensor, beta: float) -> Tensor:
    """The paper's data weights for density ratios h_i = p_mixture / p_data at the N pool points:
    w_i = (lambda - (1 - beta) h_i)_+ / (N beta), lambda chosen so that they sum to one.

    The sum is piecewise linear and increasing in lambda; with the a_i = (1 - beta) h_i sorted,
    if exactly the k smallest are positive, lambda = (N beta + a_1 + ... + a_k) / k, and the
    right k is the largest one whose a_k is still below its lambda (as in a simplex projection).
    """
    n = len(ratio)
    if beta >= 1.0:
        return torch.full((n,), 1.0 / n)
    a = (1.0 - beta) * ratio.double()
    s, _ = torch.sort(a)
    lam = (n * beta + torch.cumsum(s, 0)) / torch.arange(1, n + 1, dtype=torch.float64)
    k = int(torch.nonzero(s < lam).max())  # s[0] < lam[0] always: at least one point is kept
    w = (lam[k] - a).clamp_min(0.0) / (n * beta)
    return (w / w.sum()).float()


def mixed_in(weights: list[float], beta: float) -> list[float]:
    """Mixture weights once a new component joins with weight beta."""
    return [w * (1.0 - beta) for w in weights] + [beta]


def fixed_assignment(n: int, weights: list[float]) -> np.ndarray:
    """Which component draws each of n fixed probe samples: sample i takes the component whose
    share of [0, 1) holds frac(i * golden ratio). Those points spread evenly, so each component
    gets its weight's share of the samples (within one) and they interleave; no random draw."""
    u = (np.arange(n) * _GOLDEN) % 1.0
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf / cdf[-1], u, side="right"),
                      len(weights) - 1).astype(np.uint8)


def mixture_samples(mix: AdaGAN | None, G: Generator, z: Tensor, g_out: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """The fakes a frame shows at its probe noise z: G's own outputs g_out, or for an AdaGAN
    run the whole mixture's, with the generator that drew each (uint8)."""
    return (g_out, None) if mix is None else mix.probe_samples(G, z, g_out)


def component_seed(seed: int, k: int) -> int:
    return seed + k * COMPONENT_SEED_STRIDE


class AdaGAN:
    """The mixture of a run: its frozen generators, their weights, the pool of real points and
    their weights, and the data-vs-mixture classifier while one is being trained. The generator
    being trained now is the trainer's own G, the mixture's last component."""

    def __init__(self, cfg: RunConfig, target: Target):
        r = cfg.remedies
        self.generators, self.gan_steps = r.adagan_generators, r.adagan_steps
        self.classifier_steps = r.adagan_classifier_steps
        self.cfg, self.dim = cfg, data_dim(cfg)
        self.new_target(target)
        self.frozen: list[Generator] = []  # finished generators, oldest first
        self.weights = [1.0]  # mixture weights of the frozen generators and the current one
        self.classifier: Discriminator | None = None
        self.classifier_opt: torch.optim.Optimizer | None = None

    # ---- the schedule -----------------------------------------------------------------------
    def phase(self, step: int) -> tuple[int, bool]:
        """(index of the generator this step belongs to, whether it trains the classifier)."""
        k, offset = divmod(step, self.gan_steps + self.classifier_steps)
        if k >= self.generators - 1:
            return self.generators - 1, False
        return k, offset >= self.gan_steps

    @property
    def components(self) -> int:
        """Generators in the mixture so far, the one in training included."""
        return len(self.frozen) + 1

    # ---- real data ------------------------------------------------------------------------------
    def new_target(self, target: Target) -> None:
        """Draw the pool from `target` (seeded) with uniform weights: at the start, and when a
        live edit changes the target (the old weights belonged to the old points)."""
        gen = torch.Generator().manual_seed(self.cfg.train.seed + POOL_SEED_OFFSET)
        self.pool = target.sample(POOL_SIZE, gen, 0)  # (N, dim)
        self.set_data_weights(torch.full((POOL_SIZE,), 1.0 / POOL_SIZE))

    def set_data_weights(self, w: Tensor) -> None:
        self.data_weights = w
        self._cdf = torch.cumsum(w.double(), 0)
        self._cdf /= self._cdf[-1].clone()

    def real(self, n: int, gen: torch.Generator) -> Tensor:
        """n pool points drawn with the current data weights: (n, dim)."""
        u = torch.rand(n, generator=gen, dtype=torch.float64)
        idx = torch.searchsorted(self._cdf, u).clamp_max_(POOL_SIZE - 1)
        return self.pool[idx]

    # ---- the mixture --------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, G: Generator, n: int, gen: torch.Generator) -> Tensor:
        """n samples of the mixture (frozen generators + G), each component drawn with
        probability equal to its weight: (n, dim)."""
        comp = torch.multinomial(torch.tensor(self.weights), n, replacement=True, generator=gen)
        z = sample_latent(n, self.cfg.latent, gen)
        return self._evaluate(G, z, comp)

    @torch.no_grad()
    def probe_samples(self, G: Generator, z: Tensor, g_out: Tensor | np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The mixture at fixed probe noise z (N, latent): G's own outputs g_out at z are reused
        where G draws; returns the samples (N, dim) and which component drew each (N,) uint8."""
        comp = fixed_assignment(len(z), self.weights)
        out = np.array(g_out, dtype=np.float32, copy=True)
        for k, net in enumerate(self.frozen):
            idx = np.flatnonzero(comp == k)
            if len(idx):
                out[idx] = net(z[torch.from_numpy(idx)]).numpy()
        return out, comp

    def _evaluate(self, G: Generator, z: Tensor, comp: Tensor) -> Tensor:
        out = torch.empty(len(z), self.dim)
        for k, net in enumerate([*self.frozen, G]):
            idx = torch.nonzero(comp == k).squeeze(1)
            if len(idx):
                out[idx] = net(z[idx])
        return out

    # ---- the classifier and the reweighting --------------------------------------------------
    def start_classifier(self) -> None:
        """A fresh data-vs-mixture classifier with D's hidden layers (plain: no packing,
        minibatch features or condition), its weights seeded from the run's seed."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(component_seed(self.cfg.train.seed, self.components)
                              + CLASSIFIER_SEED_OFFSET)
            self.classifier = Discriminator(self.dim, self.cfg.discriminator)
        self.classifier_opt = torch.optim.Adam(self.classifier.parameters(), lr=CLASSIFIER_LR,
                                               betas=(0.5, 0.999))

    def classifier_step(self, G: Generator, n: int, gen: torch.Generator
                        ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One step of the classifier on n pool points (uniform: the ratio is against the data
        itself) and n mixture samples; returns its loss, mean P(real) on each, its grad norm."""
        if self.classifier is None or self.classifier_opt is None:
            self.start_classifier()
        assert self.classifier is not None and self.classifier_opt is not None
        real = self.pool[torch.randint(POOL_SIZE, (n,), generator=gen)]
        fake = self.sample(G, n, gen)
        logits = self.classifier(torch.cat([real, fake]))  # (2n,)
        lr, lf = logits.chunk(2)
        loss = F.softplus(-lr).mean() + F.softplus(lf).mean()
        self.classifier_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.classifier_opt.step()
        grads = [p.grad for p in self.classifier.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        with torch.no_grad():
            return loss.detach(), torch.sigmoid(lr).mean(), torch.sigmoid(lf).mean(), norm

    @torch.no_grad()
    def density_ratio(self) -> Tensor:
        """h = p_mixture / p_data at the pool points, from the classifier's odds (1 - D) / D."""
        assert self.classifier is not None
        logits = self.classifier(self.pool).double().clamp(-30.0, 30.0)
        return torch.exp(-logits)

    def add_component(self, G: Generator) -> None:
        """G's training is over: freeze a copy, reweight the data for the next generator from
        the classifier, and give the next one its mixture weight beta = 1/t."""
        t = self.components + 1  # the next generator's number, counting from 1
        beta = 1.0 / t
        if self.classifier is not None:
            self.set_data_weights(boosted_weights(self.density_ratio(), beta))
        frozen = copy.deepcopy(G).eval()
        frozen.requires_grad_(False)
        self.frozen.append(frozen)
        self.weights = mixed_in(self.weights, beta)
        self.classifier = self.classifier_opt = None

    # ---- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"schedule": [self.generators, self.gan_steps, self.classifier_steps],
                "pool": self.pool, "data_weights": self.data_weights,
                "weights": torch.tensor(self.weights, dtype=torch.float64),
                "frozen": [g.state_dict() for g in self.frozen],
                "classifier": None if self.classifier is None else self.classifier.state_dict(),
                "classifier_opt": None if self.classifier_opt is None
                else self.classifier_opt.state_dict()}

    def fits(self, state: dict | None) -> bool:
        return state is not None and state.get("schedule") == \
            [self.generators, self.gan_steps, self.classifier_steps] and \
            tuple(state["pool"].shape) == tuple(self.pool.shape)

    def load_state_dict(self, state: dict) -> None:
        self.pool = state["pool"]
        self.set_data_weights(state["data_weights"])
        self.weights = [float(w) for w in state["weights"]]
        self.frozen = []
        for sd in state["frozen"]:
            g = Generator(self.cfg.latent.dim, self.dim, self.cfg.generator)
            g.load_state_dict(sd)
            g.eval().requires_grad_(False)
            self.frozen.append(g)
        self.classifier = self.classifier_opt = None
        if state["classifier"] is not None:
            self.start_classifier()
            assert self.classifier is not None and self.classifier_opt is not None
            self.classifier.load_state_dict(state["classifier"])
            self.classifier_opt.load_state_dict(state["classifier_opt"])
