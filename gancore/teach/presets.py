"""Named, seeded runs, each with one sentence on what to watch. A preset is a set of changes to the
default config (which is `ring8-reference`), so it stays readable and validated like any config."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gancore.config import ConfigError, RunConfig


@dataclass(frozen=True)
class Preset:
    name: str
    watch: str  # one sentence: what to look at and why it happens
    changes: dict[str, Any] = field(default_factory=dict)
    lesson: str = ""  # the phenomenon it demonstrates

    def config(self) -> RunConfig:
        return RunConfig().with_changes(self.changes)


# PacGAN's ring with small networks and equal learning rates: cheap to train and draw live, and
# a plain GAN on it collapses within a thousand steps.
_RING_SMALL = {"target.name": "ring", "target.modes": 8, "target.radius": 1.0,
               "target.std": 0.01, "generator.hidden": [64, 64],
               "discriminator.hidden": [64, 64], "latent.dim": 2, "train.batch_size": 128,
               "loss.name": "non_saturating", "opt_g.lr": 1e-3, "opt_d.lr": 1e-3}
_TOY_NETS = {"generator.hidden": [128, 128], "discriminator.hidden": [128, 128],
             "latent.dim": 2}
# PacGAN's grid in the mode-coverage protocol's setting (gancore.teach.modebench, without its final
# learning-rate cut): G learns ten times faster than D, so the presets and the table agree.
_GRID = {**_RING_SMALL, "target.name": "grid", "target.spacing": 2.0, "target.std": 0.05,
         "generator.hidden": [128, 128, 128], "discriminator.hidden": [128, 128, 128],
         "opt_d.lr": 1e-4}
_DOC003 = {"generator.hidden": [50, 50, 50, 50], "generator.activation": "leaky_relu",
           "discriminator.hidden": [100, 50, 50], "discriminator.activation": "leaky_relu",
           "latent.dim": 15, "train.batch_size": 500, "opt_g.lr": 1e-3, "opt_d.lr": 1e-3}
_FOUR_POINTS = {"target.name": "four_points", "target.std": 0.01, "generator.hidden": [64, 64],
                "discriminator.hidden": [64, 64], "latent.dim": 2, "train.batch_size": 128,
                "loss.name": "non_saturating", "opt_g.lr": 1e-3, "opt_d.lr": 1e-4,
                "train.seed": 2}
_ONE_D = {"generator.hidden": [32, 32], "discriminator.hidden": [32, 32], "latent.dim": 1,
          "frames.samples": 2000, "train.batch_size": 128}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("ring8-reference",
           "The healthy baseline: all eight modes of the ring fill in and D's surface flattens "
           "towards one half.", {}, "baseline"),
    # G learns ten times faster than D (the mode-coverage table's setting): with equal rates the
    # ring recovered 5-6 of 8 modes from about step 9,800, so the lesson ended mid-class. Seeds
    # 0-2 hold at most 1 mode at every check of a 30,000-step class period.
    Preset("ring8-vanilla-collapse",
           "A plain GAN on PacGAN's ring of 8 whose generator learns ten times faster than its "
           "discriminator: the samples pile onto one mode, or between two, and the whole pile "
           "jumps elsewhere whenever D catches up; it never spreads.",
           {**_RING_SMALL, "opt_d.lr": 1e-4, "train.seed": 3}, "mode collapse"),
    Preset("ring8-unrolled",
           "The ring GAN at equal rates with 5 unrolled D steps in G's update: G anticipates "
           "D's answer and spreads over the modes instead of chasing one (slow: about 25 steps/s "
           "on one core).",
           {**_RING_SMALL, "remedies.unrolled_steps": 5, "train.seed": 3}, "mode collapse"),
    Preset("ring8-wgan-gp",
           "The same ring with a WGAN-GP critic: no probability surface, smooth critic slopes, "
           "and samples that reach every mode, with some spill between them (penalty weight "
           "0.1, the WGAN-GP authors' choice for 2-D data).",
           {**_RING_SMALL, "loss.name": "wgan_gp", "loss.gp_lambda": 0.1, "train.k_d": 5,
            "opt_g.beta2": 0.9, "opt_d.beta2": 0.9, "train.seed": 3},
           "mode collapse"),
    Preset("grid25-vanilla",
           "A plain GAN on the 5x5 grid, G learning ten times faster than D: its samples bunch "
           "together and wander across the grid, a mode or two at a time, the rest never visited.",
           {**_GRID, "train.seed": 1}, "mode collapse"),
    Preset("grid25-pacgan",
           "The same GAN with packing 4: D judges four samples at once, sees the missing "
           "diversity and spreads G over most of the grid (blurred between the modes at first).",
           {**_GRID, "remedies.packing": 4, "train.seed": 1}, "mode collapse"),
    # SGD with the minimax loss slid between the points for ~25 s, then D saturated (step
    # ~3,500): G's gradient fell to 1e-11 and the samples left the plot for good. A generator
    # ten times faster than D keeps hopping instead, with a gradient that never vanishes.
    Preset("four-points-oscillation",
           "Four points and a generator ten times faster than its discriminator: the samples "
           "pile up near one point, D turns against it, and the pile swings over to another "
           "point; they never settle.",
           _FOUR_POINTS, "non-convergence"),
    Preset("two-points",
           "Two points: the samples split evenly onto both points and stay there.",
           {"target.name": "two_points", "target.std": 0.01, **_DOC003}, "convergence"),
    Preset("circle",
           "A circle: the latent gaussian is bent into a ring and spreads evenly around it.",
           {"target.name": "circle", "target.radius": 1.0, **_DOC003}, "convergence"),
    # A generator of 8 units, which can only draw the bell as a few straight pieces, against a
    # wider D that takes three steps per G step (the k of the paper's Algorithm 1), both with
    # Adam. With one D step D went flat for stretches (its spread where the data and fakes are
    # >= 0.15 at only 16-17 of 30 checks on seeds 0 and 1); with three it stays >= 0.2 at every
    # check and non-convergence fires 7-8 times a period, the first by step 7,150 (seeds 0-2).
    Preset("goodfellow-1d",
           "The 1-D picture from the original paper, with a G too small to draw the bell: a "
           "quick D(x) keeps a bump where the data outweighs the fakes, G chases it and never "
           "settles; z-to-x lines show how G stretches the noise.",
           {**_ONE_D, "target.name": "gaussian_1d", "target.mean": 2.0, "target.std": 0.5,
            "latent.distribution": "uniform", "loss.name": "minimax", "generator.hidden": [8],
            "opt_g.lr": 2e-3, "opt_d.lr": 5e-3, "discriminator.hidden": [64, 64],
            "train.k_d": 3},
           "non-convergence"),
    # A narrow target (std 0.25) and D a hundred times slower than G: with std 0.5 and D at 1e-4
    # seed 1 never ran off (no swaying event) and seed 2's clump calmed down after step 20,000.
    # Now seeds 0-2 run off within 200 steps (7 of seeds 0-7) and the clump never spreads (KL
    # of the data from the fakes >= 4 at every check of a 30,000-step period).
    Preset("sway-1d",
           "D learns a hundred times slower than G and its first slope points away from the "
           "data: G runs down it, out of the picture, sways back once D has learnt where the data "
           "is, and keeps swinging across the data as a narrow clump.",
           {**_ONE_D, "target.name": "gaussian_1d", "target.mean": 2.0, "target.std": 0.25,
            "loss.name": "non_saturating", "opt_g.lr": 2e-3, "opt_d.lr": 2e-5, "train.k_d": 1,
            "train.seed": 2}, "swaying"),
    Preset("forgetting-sequential",
           "Each real batch shows only one of four modes for 500 steps: D forgets the modes it "
           "is not shown and G follows the data around the ring.",
           {"target.name": "sequential", "target.modes": 4, "target.radius": 2.0,
            "target.std": 0.05, "target.switch_every": 500, **_TOY_NETS},
           "catastrophic forgetting"),
    # Batches of 64 (they were 256): minibatch discrimination compares every pair of a batch, so
    # the remedy trained at 27 steps/s and a class period took 10 minutes a seed; at 64 it runs
    # at about 105 steps/s (one core, two processes), and both sides hold over 30,000 steps on
    # seeds 0-2 (the KS mean >= 0.63 without the remedy, <= 0.38 and mostly < 0.3 with it).
    Preset("gaussgan-100d",
           "A 100-D standard gaussian from 100-D noise of width 0.01: judge it by the per-"
           "dimension KS statistics, the correlations and the norm distribution.",
           {"target.name": "gaussian_nd", "target.dim": 100, "target.std": 1.0,
            "target.mean": 0.0, "latent.dim": 100, "latent.scale": 0.01,
            "generator.hidden": [256, 256], "discriminator.hidden": [256, 256],
            "frames.samples": 1000, "train.batch_size": 64}, "n-D"),
    # At 1e-4 seed 0 split the humps after all from step 25,000; at 5e-5 seeds 0-2 keep at most
    # one of the two modes at every check of a 30,000-step period (2026-12-07).
    Preset("bimodal-6d-wgan-gp",
           "A conditional WGAN-GP on 6-D data with a small learning rate and one critic step per "
           "generator step: the two bimodal coordinates come out as one hump.",
           {"target.name": "bimodal_6d", "train.conditional": True, "loss.name": "wgan_gp",
            "train.k_d": 1, "latent.dim": 6, "generator.hidden": [64, 64, 128],
            "discriminator.hidden": [64, 64, 128], "opt_g.lr": 5e-5, "opt_d.lr": 5e-5,
            "opt_g.beta2": 0.9, "opt_d.beta2": 0.9, "frames.samples": 1000}, "n-D"),
    Preset("ganlab-ring",
           "GAN Lab's ring preset, same sizes and optimiser: a tiny G (one layer of 10) learns a "
           "continuous ring from 2-D uniform noise.",
           {"target.name": "ganlab_ring", "target.radius": 0.6, "target.std": 0.04,
            "generator.hidden": [10], "discriminator.hidden": [9, 9],
            "opt_g.name": "sgd", "opt_d.name": "sgd", "opt_g.lr": 0.03, "opt_d.lr": 0.1,
            "loss.name": "non_saturating", "train.k_d": 3, "train.batch_size": 150,
            "latent.dim": 2, "latent.distribution": "uniform"}, "GAN Lab"),
    # ---- the other half of each classroom lesson (gancore.teach.lessons): remedies, contrasts ----
    # Swapping the rates alone left seeds 1 and 2 on 2 of the 4 points; with R1 they hold all 4.
    Preset("four-points-settled",
           "The four points again with the two learning rates swapped, D ten times faster than "
           "G, and an R1 penalty on D: D answers every pile-up at once, the samples spread over "
           "the four points and come to rest.",
           {**_FOUR_POINTS, "opt_g.lr": 1e-4, "opt_d.lr": 1e-3, "loss.r1_gamma": 1.0},
           "convergence"),
    # Both at 1e-3 the fakes wandered 1.2-3.6 data scales off now and then over a period (seeds
    # 0-2); at 1e-4 they stay within one data scale from step 2,000 on.
    Preset("sway-1d-balanced",
           "The swaying setup with D learning as fast as G, both at a small rate, and the "
           "non-saturating loss: D keeps up with every step of G, and the fakes walk onto the "
           "data and spread into its shape.",
           {**_ONE_D, "target.name": "gaussian_1d", "target.mean": 2.0, "target.std": 0.25,
            "loss.name": "non_saturating", "opt_g.lr": 1e-4, "opt_d.lr": 1e-4,
            "train.seed": 2}, "swaying"),
    # With G as fast as D (both 1e-3) the samples kept leaving clusters and coming back: high
    # quality dipped to 46-51% at steps 6,000-15,000 on seed 2. G ten times slower settles them.
    Preset("forgetting-rehearsal-r1",
           "All four clusters in every batch, an R1 penalty on D and G ten times slower than D: "
           "nothing is left out to be forgotten, D stays smooth and keeps ahead, and the samples "
           "settle on all four clusters.",
           {"target.name": "ring", "target.modes": 4, "target.radius": 2.0,
            "target.std": 0.05, "loss.r1_gamma": 1.0, "opt_g.lr": 1e-4, **_TOY_NETS},
           "catastrophic forgetting"),
    # Plain SGD alone jittered: non-convergence fired 6-7 times a period and the fake mean
    # jumped 0.35 data scales off once (seed 2). An R1 penalty on D (Mescheder et al. 2018: it
    # makes the 1-D game converge locally) leaves no event on seeds 0-2, D's spread <= 0.01.
    Preset("goodfellow-1d-settled",
           "The 1-D picture with a larger G, the non-saturating loss, plain SGD and an R1 "
           "penalty that keeps D flat on the data: the fake histogram settles under the data "
           "and D(x) flattens at one half.",
           {**_ONE_D, "target.name": "gaussian_1d", "target.mean": 2.0, "target.std": 0.5,
            "latent.distribution": "uniform", "loss.name": "non_saturating",
            "opt_g.name": "sgd", "opt_d.name": "sgd", "opt_g.lr": 0.05, "opt_d.lr": 0.05,
            "loss.r1_gamma": 1.0},
           "convergence"),
    # Without R1, seeds 1 and 2 drifted down to 4-5 of 8 modes within 20,000 steps; with it all
    # eight stay (seeds 0-2) and the share of sharp samples keeps growing.
    Preset("ring8-d-ahead",
           "The collapsing ring GAN with its two learning rates swapped, D ten times faster than "
           "G, and an R1 penalty that keeps D smooth on the data: D punishes any pile-up before "
           "it grows, so the samples spread over all eight modes and slowly sharpen onto them.",
           {**_RING_SMALL, "opt_g.lr": 1e-4, "opt_d.lr": 1e-3, "loss.r1_gamma": 1.0,
            "train.seed": 3}, "mode collapse"),
    Preset("ring8-vae",
           "The VAE baseline on the ring of 8 with the GAN's network sizes: it reaches most "
           "modes, but the samples smear into a blurred band between them.",
           # decoder noise 0.1 let it sharpen to 42-51% high quality by step 15,000 (seeds
           # 0-2): above the lesson's 40%. At 0.25 it stays a band: 4-26% on seed 1 to 12,000.
           {**_RING_SMALL, "model": "vae", "vae_sigma": 0.25}, "GAN vs VAE"),
    Preset("bimodal-6d-gan",
           "The bimodal 6-D case with a non-saturating GAN at a faster rate: the bimodal "
           "coordinates split into their two humps.",
           {"target.name": "bimodal_6d", "train.conditional": True, "latent.dim": 6,
            "generator.hidden": [64, 64, 128], "discriminator.hidden": [64, 64, 128],
            "loss.name": "non_saturating", "opt_g.lr": 1e-3, "opt_d.lr": 1e-3,
            "frames.samples": 1000}, "n-D"),
    Preset("gaussgan-100d-minibatch",
           "The 100-D gaussian with unit-width noise and minibatch discrimination in D: the "
           "samples keep much of the data's spread, the KS statistics and the correlation "
           "error drop several-fold, and the norm histogram is the last to line up.",
           {"target.name": "gaussian_nd", "target.dim": 100, "target.std": 1.0,
            "target.mean": 0.0, "latent.dim": 100, "latent.scale": 1.0,
            "remedies.minibatch_discrimination": True,
            "generator.hidden": [256, 256], "discriminator.hidden": [256, 256],
            "frames.samples": 1000, "train.batch_size": 64}, "n-D"),
    Preset("ring8-adagan",
           "AdaGAN on the ring of 8: eight small GANs trained one after another, each on the data "
           "reweighted towards the modes the mixture so far misses, each drawn in its own colour; "
           "one GAN alone collapses, the mixture covers the ring.",
           {**_RING_SMALL, "remedies.adagan_generators": 8, "remedies.adagan_steps": 2500,
            "remedies.adagan_classifier_steps": 300, "train.seed": 3}, "mode collapse"),
]}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset '{name}'; choose one of: "
                          f"{', '.join(PRESETS)}") from None


@cache
def _preset_json() -> dict[str, str]:
    return {name: p.config().to_json() for name, p in PRESETS.items()}


def preset_of(cfg: RunConfig | str) -> str | None:
    """The preset whose config this is exactly (a changed preset is no longer that preset, and
    a shared config keeps its name); `cfg` may be a config or its JSON."""
    try:
        mine = (RunConfig.from_json(cfg) if isinstance(cfg, str) else cfg).to_json()
    except (ConfigError, ValueError):
        return None
    return next((name for name, text in _preset_json().items() if text == mine), None)
