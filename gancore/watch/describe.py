"""The RunConfig that describes a watched run as honestly as the config tree can.

What the config cannot say (the user's own networks, optimisers and schedule), it leaves at the
defaults, and the frames' meta names the real networks instead ("watched"). What it can say:
  target  'file' with the data's dimension (the library lists it as a data run); its data_path
          (and data_cond) are labels, not paths: the data stays in the script, and nothing
          should open them
  latent  the dimension of the user's noise, and the prior it looks like (gaussian or uniform,
          with its scale), which spans the latent grid of the mapping view
  loss    the one the user names, or the usual one for how D's output reads
  train   conditional, and the probes' seed
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gancore.config import ConfigError, RunConfig

DATA_LABEL = "(watched: the script's own data)"
COND_LABEL = "(watched: the script's own conditions)"
DEFAULT_LOSS = {"logits": "non_saturating", "probabilities": "non_saturating",
                "critic": "wgan_gp"}
MAX_NAME = 80
# A uniform prior's excess kurtosis is -1.2 and a gaussian's 0: the midpoint tells them apart
# with thousands of samples to spare.
UNIFORM_KURTOSIS = -0.6


def latent_prior(z: np.ndarray) -> tuple[str, float]:
    """('gaussian', std) or ('uniform', half-width) for a sample of the user's noise."""
    centred = z - z.mean(0)
    std = float(centred.std()) or 1.0
    kurtosis = float(((centred / std) ** 4).mean() - 3.0)
    if kurtosis < UNIFORM_KURTOSIS:
        return "uniform", _round(float(np.abs(z).max()))
    return "gaussian", _round(std)


def _round(x: float) -> float:
    """Three significant digits, within the config's bounds for a prior's scale."""
    return float(min(100.0, max(1e-3, float(f"{x:.3g}"))))


def run_config(dim: int, z: np.ndarray, cond_dim: int, loss: str, seed: int,
               frames: dict | None = None) -> RunConfig:
    """The watched run's config; ValueError names what does not fit (e.g. a 300-D dataset)."""
    distribution, scale = latent_prior(z)
    data = {
        "target": {"name": "file", "dim": dim, "data_path": DATA_LABEL,
                   **({"data_cond": COND_LABEL} if cond_dim else {})},
        "latent": {"dim": z.shape[1], "distribution": distribution, "scale": scale},
        "loss": {"name": loss},
        "train": {"seed": seed, "conditional": cond_dim > 0},
        "frames": frames or {},
    }
    try:
        return RunConfig.from_dict(data)
    except ConfigError as e:
        raise ValueError(f"this run does not fit ganscope's bounds: {e}") from None


def default_name() -> str:
    """The script's file name without .py, or 'notebook' where there is none."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    stem = script.parent.name if script.stem == "__main__" else script.stem  # python -m pkg
    return stem if stem and not stem.startswith("ipykernel") and stem != "-c" else "notebook"


def clean_name(name: str) -> str:
    text = " ".join(str(name).split())[:MAX_NAME]
    if not text:
        raise ValueError("name: give the run a short label")
    return text


def slug(name: str) -> str:
    """A file-name-safe form of the run's label."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:60] or "run"


def recording_path(folder: str | Path, name: str) -> Path:
    """<folder>/<name>-<UTC time>.h5, with -2, -3... if two watches start within a second."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(folder) / f"{slug(name)}-{stamp}"
    path, k = base.with_suffix(".h5"), 2
    while path.exists():
        path, k = Path(f"{base}-{k}.h5"), k + 1
    return path
