"""`python -m gancore bench-modes`: the mode-coverage protocol of docs/mode-coverage.md's table.

The table itself takes about two hours on 2 cores (docs/mode-coverage.md); here the CLI runs a
short version end to end, and one seed of the real protocol on the ring checks the story the
table tells: the plain GAN loses modes that packing, the cheapest remedy, keeps. (The grid's side
of that story is tests/test_presets_remedies.py's grid25 pair, trained in the protocol's
setting.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from gancore.teach import modebench
from tests.helpers import on_both_cores

ROOT = Path(__file__).resolve().parents[1]
CELL = r"\d+\.\d+ ± \d+\.\d+"


def test_bench_modes_prints_a_row_per_method_with_both_targets() -> None:
    proc = subprocess.run([sys.executable, "-m", "gancore", "bench-modes", "--seeds", "2",
                           "--steps", "12", "--jobs", "2"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Mode coverage after 12 steps, mean ± standard error over 2 seeds")
    assert "ring: modes (max 8)" in out and "grid: modes (max 25)" in out
    for method in modebench.METHODS:
        row = next(line for line in out.splitlines() if line.startswith(f"| {method} |"))
        assert len(re.findall(CELL, row)) == 6, row  # modes, high quality, KL per target
    progress = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 2 * len(modebench.METHODS) * 2  # targets x methods x seeds


def test_the_protocol_collapses_the_gan_where_packing_keeps_the_modes() -> None:
    """Seed 0 of the full protocol on the ring (6,000 steps, the rate cut included): the plain
    GAN ends with at most two of 8 modes (measured: 0, its samples between modes) and PacGAN4
    with at least six (8), and PacGAN4's mode histogram is the closer to uniform."""
    tasks = [("ring", m, 0, modebench.DEFAULT_STEPS) for m in ("GAN", "PacGAN4")]
    results = {r.method: r for r in on_both_cores(modebench.run_one, tasks)}
    gan, pac = results["GAN"], results["PacGAN4"]
    assert gan.modes <= 2 < 6 <= pac.modes, (gan, pac)
    assert gan.reverse_kl > pac.reverse_kl, (gan, pac)
