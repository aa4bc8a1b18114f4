"""Training and frame throughput of the engine, measured side by side in one run.

1. steps/s of gancore's Trainer on `ring8-reference` against a hand-written bare PyTorch loop of
   the same model, data and optimiser (interleaved rounds; medians; ratio).
2. iterations/s on `ganlab-ring` (GAN Lab itself: 24.5 it/s in headless Chromium on 2 cores),
   beside the same Trainer made to use autograd (its small networks normally train with the
   hand-derived gradients of gancore.train.direct_backprop) and a hand-written bare PyTorch
   loop of the same networks: what plain PyTorch gets here.
3. time to make a full 2-D frame of `ring8-reference` (1500 samples, 64x64 D grid, 20x20 latent
   arrows, metrics) and its encoded size.

Usage: python -m bench.train_throughput [--rounds 7] [--steps 150] [--json]
Both loops run with one intra-op thread, as a run's worker does.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from gancore.frames import encode
from gancore.observe.probes import Probes
from gancore.teach.presets import get_preset
from gancore.train.trainer import Trainer


class BareLoop:
    """A GAN written by hand the usual way: two ReLU MLPs, BCE-with-logits (non-saturating G),
    k_d D-steps then one G-step. The defaults are ring8-reference; `ganlab()` is ganlab-ring."""

    def __init__(self, seed: int = 0, batch: int = 256, g_hidden=(128, 128, 128),
                 d_hidden=(128, 128, 128), k_d: int = 1, uniform_latent: bool = False,
                 optimiser=None, radius: float = 2.0, std: float = 0.02, modes: int = 8):
        torch.manual_seed(seed)
        self.gen = torch.Generator().manual_seed(seed)

        def mlp(n_in, widths, n_out):
            layers, width = [], n_in
            for w in widths:
                layers += [nn.Linear(width, w), nn.ReLU()]
                width = w
            return nn.Sequential(*layers, nn.Linear(width, n_out))

        self.G, self.D = mlp(2, g_hidden, 2), mlp(2, d_hidden, 1)
        optimiser = optimiser or (lambda params, net: torch.optim.Adam(
            params, lr=1e-3, betas=(0.5, 0.999)))
        self.opt_g = optimiser(self.G.parameters(), "g")
        self.opt_d = optimiser(self.D.parameters(), "d")
        self.batch, self.k_d, self.uniform = batch, k_d, uniform_latent
        self.radius, self.std, self.modes = radius, std, modes

    @classmethod
    def ganlab(cls) -> BareLoop:
        """ganlab-ring: G one layer of 10, D two of 9, SGD 0.03 / 0.1, 3 D-steps, batch 150,
        uniform 2-D noise, a continuous ring of radius 0.6."""
        return cls(batch=150, g_hidden=(10,), d_hidden=(9, 9), k_d=3, uniform_latent=True,
                   optimiser=lambda params, net: torch.optim.SGD(
                       params, lr=0.03 if net == "g" else 0.1),
                   radius=0.6, std=0.04, modes=0)

    def real(self) -> torch.Tensor:
        if self.modes:  # a ring of separate clusters
            idx = torch.randint(self.modes, (self.batch,), generator=self.gen)
            angles = idx * (2 * math.pi / self.modes)
        else:  # a continuous ring
            angles = torch.rand(self.batch, generator=self.gen) * (2 * math.pi)
        centres = self.radius * torch.stack([angles.cos(), angles.sin()], 1)
        return centres + self.std * torch.randn(self.batch, 2, generator=self.gen)

    def noise(self) -> torch.Tensor:
        if self.uniform:
            return torch.rand(self.batch, 2, generator=self.gen) * 2 - 1
        return torch.randn(self.batch, 2, generator=self.gen)

    def step(self) -> None:
        for _ in range(self.k_d):
            real = self.real()
            with torch.no_grad():
                fake = self.G(self.noise())
            out_r, out_f = self.D(real), self.D(fake)
            d_loss = F.binary_cross_entropy_with_logits(out_r, torch.ones_like(out_r)) + \
                F.binary_cross_entropy_with_logits(out_f, torch.zeros_like(out_f))
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        out = self.D(self.G(self.noise()))
        g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()


def rate(step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=150, help="steps per round (ring8-reference)")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = ap.parse_args()
    torch.set_num_threads(1)

    trainer = Trainer(get_preset("ring8-reference").config())
    bare = BareLoop()
    for _ in range(20):  # warm up allocators and kernels for both
        trainer.step()
        bare.step()
    ours, theirs = [], []
    for _ in range(args.rounds):  # interleaved, so drift in machine load hits both alike
        ours.append(rate(trainer.step, args.steps))
        theirs.append(rate(bare.step, args.steps))
    ratio = statistics.median(ours) / statistics.median(theirs)

    ganlab, ganlab_bare = Trainer(get_preset("ganlab-ring").config()), BareLoop.ganlab()
    ganlab_autograd = Trainer(get_preset("ganlab-ring").config())
    ganlab_autograd._use_direct = False
    for _ in range(50):
        ganlab.step()
        ganlab_autograd.step()
        ganlab_bare.step()
    ganlab_rates, ganlab_autograd_rates, ganlab_bare_rates = [], [], []
    for _ in range(args.rounds):
        ganlab_rates.append(rate(ganlab.step, 1000))
        ganlab_autograd_rates.append(rate(ganlab_autograd.step, 1000))
        ganlab_bare_rates.append(rate(ganlab_bare.step, 1000))

    cfg = get_preset("ring8-reference").config()
    probes = Probes(cfg, trainer.target)
    stats = trainer.step()
    for _ in range(5):
        probes.frame(trainer, stats)
    times, sizes = [], []
    for _ in range(60):
        t0 = time.perf_counter()
        frame = probes.frame(trainer, stats)
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(len(encode(frame)))
    t0 = time.perf_counter()
    for _ in range(60):
        encode(frame)
    encode_ms = (time.perf_counter() - t0) / 60 * 1000

    result = {
        "trainer_steps_per_s": round(statistics.median(ours), 1),
        "bare_loop_steps_per_s": round(statistics.median(theirs), 1),
        "trainer_over_bare": round(ratio, 3),
        "ganlab_ring_iters_per_s": round(statistics.median(ganlab_rates), 1),
        "ganlab_ring_over_ganlab_browser": round(statistics.median(ganlab_rates) / 24.5, 1),
        "ganlab_ring_autograd_iters_per_s": round(statistics.median(ganlab_autograd_rates), 1),
        "ganlab_ring_bare_loop_iters_per_s": round(statistics.median(ganlab_bare_rates), 1),
        "frame_2d_ms_median": round(statistics.median(times), 2),
        "frame_2d_ms_p90": round(sorted(times)[int(0.9 * len(times))], 2),
        "frame_encode_ms": round(encode_ms, 3),
        "frame_2d_bytes": max(sizes),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"ring8-reference  Trainer {result['trainer_steps_per_s']} steps/s   bare loop "
          f"{result['bare_loop_steps_per_s']} steps/s   ratio {result['trainer_over_bare']} "
          f"(goal >= 0.97)")
    print(f"ganlab-ring      {result['ganlab_ring_iters_per_s']} iterations/s = "
          f"{result['ganlab_ring_over_ganlab_browser']}x GAN Lab's 24.5 (goal >= 20x); "
          f"the Trainer through autograd {result['ganlab_ring_autograd_iters_per_s']} it/s; "
          f"bare PyTorch loop of the same {result['ganlab_ring_bare_loop_iters_per_s']} it/s")
    print(f"2-D frame        {result['frame_2d_ms_median']} ms median, "
          f"{result['frame_2d_ms_p90']} ms p90 (goal <= 8 ms); encode "
          f"{result['frame_encode_ms']} ms; {result['frame_2d_bytes']:,} bytes (goal <= 32 KB)")


if __name__ == "__main__":
    main()
