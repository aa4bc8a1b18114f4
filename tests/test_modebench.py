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

import pytest

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


@pytest.mark.protocol
def test_the_protocol_collapses_the_gan_where_packing_keeps_the_modes() -> None:
    """Seed 0 of the full protocol on the ring (6,000 steps, the rate cut included): the plain
    GAN ends with at most two of 8 modes (measured: 0, its samples between modes) and PacGAN4
    with at least six (8), and PacGAN4's mode histogram is the closer to uniform."""
    tasks = [("ring", m, 0, modebench.DEFAULT_STEPS) for m in ("GAN", "PacGAN4")]
    results = {r.method: r for r in on_both_cores(modebench.run_one, tasks)}
    gan, pac = results["GAN"], results["PacGAN4"]
    assert gan.modes <= 2 < 6 <= pac.modes, (gan, pac)
    assert gan.reverse_kl > pac.reverse_kl, (gan, pac)


def test_bench_modes_methods_option_trains_only_the_rows_asked_for() -> None:
    proc = subprocess.run([sys.executable, "-m", "gancore", "bench-modes", "--seeds", "1",
                           "--steps", "40", "--jobs", "1", "--methods",
                           "feature matching, AdaGAN (4)"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| method |")]
    assert [r.split(" | ")[0] for r in rows] == ["| Feature matching", "| AdaGAN (4)"]
    assert all(len(re.findall(CELL, r)) == 6 for r in rows), rows
    progress = [line for line in proc.stderr.splitlines() if line.startswith("[")]
    assert len(progress) == 2 * 2  # targets x methods x 1 seed
    bad = subprocess.run([sys.executable, "-m", "gancore", "bench-modes", "--methods", "GANN"],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown method 'GANN'" in bad.stderr
    assert "AdaGAN (4)" in bad.stderr and "Traceback" not in bad.stderr


def test_adagan_row_spends_the_same_step_budget_as_every_other_row() -> None:
    """AdaGAN's generators and classifiers share the protocol's 6,000 steps, and each generator
    gets the protocol's tenfold rate cut for the last 30% of its own steps."""
    cfg = modebench.protocol_config("ring", "AdaGAN (4)", 0)
    r = cfg.remedies
    assert r.adagan_generators == 4
    total = r.adagan_generators * r.adagan_steps + \
        (r.adagan_generators - 1) * r.adagan_classifier_steps
    assert total == modebench.DEFAULT_STEPS
    other = modebench.protocol_config("ring", "GAN", 0)
    assert (cfg.generator, cfg.discriminator, cfg.train.batch_size, cfg.opt_g, cfg.opt_d) == \
        (other.generator, other.discriminator, other.train.batch_size, other.opt_g, other.opt_d)
    period = r.adagan_steps + r.adagan_classifier_steps
    cut = [modebench._settling(cfg, i, total) for i in range(total)]
    for k in range(r.adagan_generators):
        own = cut[k * period:k * period + r.adagan_steps]
        assert sum(own) == r.adagan_steps - int(r.adagan_steps * modebench.LR_CUT_AT)
        assert not any(own[:int(r.adagan_steps * modebench.LR_CUT_AT)])
    plain = modebench.protocol_config("ring", "Feature matching", 0)
    assert sum(modebench._settling(plain, i, total) for i in range(total)) == 1800
