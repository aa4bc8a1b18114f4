"""The 2-D mode-coverage protocol: GAN against its remedies on the ring of 8 and the 5x5 grid.

Modes captured / high-quality share / reverse KL of 2500 samples after training, mean and
standard error over seeds, laid out like the published tables (VEEGAN Table 1, PacGAN Table 1).

The protocol uses the two time-scale setting of the unrolled-GAN paper (Metz et al.): G learns
ten times faster than D (Adam 1e-3 against 1e-4, beta1 0.5). That is the regime in which a plain
GAN shows the failure the remedies exist for: D cannot keep up, G piles its samples where D is
currently weakest and hops from mode to mode. Every method trains the same networks on the same
batches for the same number of steps; WGAN-GP keeps its own recipe (equal learning rates, five
critic steps per G step, beta2 0.9) because the recipe is part of the method, with the gradient
penalty weight of its authors' 2-D experiments (0.1; the image-model 10 over-smooths a critic on
modes 0.01 wide). Both learning rates are cut tenfold for the last 30% of the steps, the usual
decay that lets samples settle onto the modes they found.

AdaGAN shares the same step budget among its generators and the classifier that reweights the
data between them (4 generators of 1,275 steps and 3 classifiers of 300: 6,000 steps), and each
generator gets its own rate cut for the last 30% of its steps: a generator started after the
run's 70% mark at a tenth of the rates would hardly move. Feature matching changes G's loss only.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from typing import Any

import numpy as np

from gancore.config import RunConfig

EVAL_SAMPLES = 2500

TARGETS: dict[str, dict[str, Any]] = {
    # PacGAN's protocol ring: radius 1, std 0.01; its 5x5 grid: spacing 2, std 0.05.
    "ring": {"target.name": "ring", "target.modes": 8, "target.radius": 1.0, "target.std": 0.01},
    "grid": {"target.name": "grid", "target.spacing": 2.0, "target.std": 0.05},
}
DEFAULT_STEPS = 6000
LR_CUT_AT = 0.7  # both learning rates drop tenfold after this share of the steps
BASE: dict[str, Any] = {
    "generator.hidden": [128, 128, 128], "discriminator.hidden": [128, 128, 128],
    "latent.dim": 2, "train.batch_size": 128, "loss.name": "non_saturating",
    "opt_g.name": "adam", "opt_d.name": "adam", "opt_g.lr": 1e-3, "opt_d.lr": 1e-4,
    "opt_g.beta1": 0.5, "opt_d.beta1": 0.5, "frames.samples": EVAL_SAMPLES}
METHODS: dict[str, dict[str, Any]] = {
    "GAN": {},
    "Unrolled GAN (5)": {"remedies.unrolled_steps": 5},
    "PacGAN4": {"remedies.packing": 4},
    "WGAN-GP": {"loss.name": "wgan_gp", "loss.gp_lambda": 0.1, "train.k_d": 5, "opt_g.lr": 1e-3,
                "opt_d.lr": 1e-3, "opt_g.beta2": 0.9, "opt_d.beta2": 0.9},
    "Minibatch discrimination": {"remedies.minibatch_discrimination": True},
    "Feature matching": {"remedies.feature_matching": True},
    "AdaGAN (4)": {},  # its schedule depends on the step budget: see adagan_schedule
}
ADAGAN_METHOD = "AdaGAN (4)"
ADAGAN_GENERATORS = 4
ADAGAN_CLASSIFIER_STEPS = 300


def adagan_schedule(steps: int) -> dict[str, int]:
    """The AdaGAN fields that spend `steps` in all: T generators and T - 1 classifiers."""
    t, c = ADAGAN_GENERATORS, ADAGAN_CLASSIFIER_STEPS
    c = min(c, max(10, steps // (4 * t)))  # short test budgets keep most steps for the GANs
    return {"remedies.adagan_generators": t, "remedies.adagan_classifier_steps": c,
            "remedies.adagan_steps": max(10, (steps - (t - 1) * c) // t)}


def protocol_config(target: str, method: str, seed: int,
                    steps: int = DEFAULT_STEPS) -> RunConfig:
    extra = adagan_schedule(steps) if method == ADAGAN_METHOD else {}
    return RunConfig().with_changes({**BASE, **TARGETS[target], **METHODS[method], **extra,
                                     "train.seed": seed})


def decayed(cfg: RunConfig) -> RunConfig:
    """The same run with both learning rates cut tenfold (the last stretch of the protocol)."""
    return cfg.with_changes({"opt_g.lr": cfg.opt_g.lr / 10, "opt_d.lr": cfg.opt_d.lr / 10})


@dataclass(frozen=True)
class Result:
    target: str
    method: str
    seed: int
    modes: int
    high_quality: float
    reverse_kl: float


def run_one(args: tuple[str, str, int, int]) -> Result:
    """Train one (target, method, seed) for `steps` and score 2500 fixed-noise samples."""
    import torch

    from gancore.train.trainer import Trainer

    torch.set_num_threads(1)
    target, method, seed, steps = args
    cfg = protocol_config(target, method, seed, steps)
    trainer = Trainer(cfg)
    fast = cfg
    for i in range(steps):
        want = decayed(fast) if _settling(cfg, i, steps) else fast
        if want != trainer.cfg:
            trainer.apply_live(want)
        trainer.step()
    cov = score(trainer, seed)
    return Result(target, method, seed, cov.modes_captured, cov.high_quality, cov.reverse_kl)


def _settling(cfg: RunConfig, i: int, steps: int) -> bool:
    """Whether step i runs at the cut rates: the last 30% of the run, or for AdaGAN of the
    generator in training (its classifier steps keep their own rate either way)."""
    r = cfg.remedies
    if r.adagan_generators == 1:
        return i >= int(steps * LR_CUT_AT)
    period = r.adagan_steps + r.adagan_classifier_steps
    last_start = (r.adagan_generators - 1) * period
    if i >= last_start:  # the last generator trains to the end of the run
        span = max(r.adagan_steps, steps - last_start)
        return i - last_start >= int(span * LR_CUT_AT)
    return i % period >= int(r.adagan_steps * LR_CUT_AT)


def score(trainer, seed: int):
    """Mode coverage of EVAL_SAMPLES generator samples from evaluation noise seeded apart from
    training's (10,000 + seed), so a score never disturbs the run it measures."""
    import torch

    from gancore.data.targets import sample_latent
    from gancore.observe import metrics

    gen = torch.Generator().manual_seed(10_000 + seed)
    with torch.inference_mode():
        fake = trainer.G(sample_latent(EVAL_SAMPLES, trainer.cfg.latent, gen)).numpy()
        if trainer.adagan is not None:  # the whole mixture, each generator by its weight
            fake = trainer.adagan.sample(trainer.G, EVAL_SAMPLES, gen).numpy()
    modes = trainer.target.modes()
    return metrics.mode_coverage(fake, modes.centres, modes.stds, modes.weights)


def run_protocol(seeds: int, steps: int, jobs: int = 2, progress=None,
                 methods: list[str] | None = None,
                 targets: list[str] | None = None) -> list[Result]:
    """Every (target, method, seed) of `methods` and `targets` (default all), in `jobs`
    processes."""
    chosen = [m for m in METHODS if methods is None or m in methods]
    tasks = [(t, m, s, steps) for t in TARGETS if targets is None or t in targets
             for m in chosen for s in range(seeds)]
    with mp.get_context("spawn").Pool(jobs) as pool:
        results = []
        for r in pool.imap_unordered(run_one, tasks):
            results.append(r)
            if progress:
                progress(len(results), len(tasks), r)
    return results


def _mean_se(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, dtype=float)
    se = a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0.0
    return float(a.mean()), float(se)


def summarise(results: list[Result]) -> dict:
    """{target: {method: {"modes": (mean, se), "high_quality": ..., "reverse_kl": ...}}}"""
    out: dict = {}
    for t in TARGETS:
        out[t] = {}
        for m in METHODS:
            rs = [r for r in results if r.target == t and r.method == m]
            if rs:
                out[t][m] = {k: _mean_se([getattr(r, k) for r in rs])
                             for k in ("modes", "high_quality", "reverse_kl")}
    return out


def table(summary: dict, seeds: int, steps: int) -> str:
    """Markdown table: one row per method, modes / high-quality % / reverse KL per target
    (methods that were not run are left out)."""
    lines = [f"Mode coverage after {steps:,} steps, mean ± standard error over {seeds} seeds "
             f"({EVAL_SAMPLES} samples; ring of 8: radius 1, std 0.01; grid 5x5: spacing 2, "
             "std 0.05; G and D 3x128 ReLU, Adam G 1e-3 / D 1e-4, both cut tenfold at "
             f"{LR_CUT_AT:.0%} of the steps)", "",
             "| method | ring: modes (max 8) | ring: high quality % | ring: reverse KL | "
             "grid: modes (max 25) | grid: high quality % | grid: reverse KL |",
             "|---|---|---|---|---|---|---|"]
    for m in METHODS:
        if not any(m in summary.get(t, {}) for t in TARGETS):
            continue
        cells = []
        for t in TARGETS:
            v = summary.get(t, {}).get(m)
            if v is None:
                cells += ["-", "-", "-"]
                continue
            (mo, mo_se), (hq, hq_se), (kl, kl_se) = v["modes"], v["high_quality"], v["reverse_kl"]
            cells += [f"{mo:.1f} ± {mo_se:.1f}", f"{100 * hq:.1f} ± {100 * hq_se:.1f}",
                      f"{kl:.2f} ± {kl_se:.2f}"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
