"""A trainer's state in one file, so a fork can start from its parent's weights at the fork step.

`save_state` writes networks, optimiser moments, the step count and the run's random generator;
`load_state` puts as much of it into a trainer built from the child's config as still fits:
the networks when their shapes are unchanged, the optimiser state when the optimiser is the same
kind, the random stream when the seed is unchanged (then a child whose change is a no-op trains
exactly like its parent). What did not fit starts fresh, and the returned note says so.
An AdaGAN run also saves its mixture (frozen generators, their weights, the real pool, its data
weights and a classifier in training); a child with another AdaGAN schedule starts fresh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gancore.train.trainer import Trainer, set_live_hyperparameters

FORMAT = 1


def _second_net(trainer: Trainer) -> torch.nn.Module | None:
    """D for a GAN, the encoder E for the VAE baseline."""
    return trainer.D if trainer.D is not None else getattr(trainer, "E", None)


def save_state(trainer: Trainer, path: str | Path) -> int:
    """Write the trainer's state; returns the step it was saved at."""
    net2 = _second_net(trainer)
    state: dict[str, Any] = {
        "format": FORMAT, "step": int(trainer.step_count), "model": trainer.cfg.model,
        "seed": int(trainer.cfg.train.seed), "opt_g_name": trainer.cfg.opt_g.name,
        "opt_d_name": trainer.cfg.opt_d.name,
        "G": trainer.G.state_dict(), "net2": None if net2 is None else net2.state_dict(),
        "opt_g": trainer.opt_g.state_dict(), "opt_d": trainer.opt_d.state_dict(),
        "rng": trainer.gen.get_state(),
        "adagan": None if trainer.adagan is None else trainer.adagan.state_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a reader never sees half a file
    return state["step"]


def _fits(net: torch.nn.Module, saved: dict) -> bool:
    own = net.state_dict()
    return own.keys() == saved.keys() and all(own[k].shape == saved[k].shape for k in own)


def load_state(trainer: Trainer, path: str | Path) -> str:
    """Load what fits into `trainer` (built from the child's config); returns a one-line note
    of what was inherited. Raises ValueError for a file that is not a ganscope checkpoint."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user-facing error
        raise ValueError(f"fork checkpoint {Path(path).name} cannot be read: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"fork checkpoint {Path(path).name} is not a ganscope checkpoint")
    cfg = trainer.cfg
    net2 = _second_net(trainer)
    same_model = state["model"] == cfg.model
    if not (same_model and _fits(trainer.G, state["G"]) and net2 is not None
            and state["net2"] is not None and _fits(net2, state["net2"])):
        return (f"fresh weights from step 0: the change alters the networks, so the parent's "
                f"step-{state['step']:,} weights do not fit")
    saved_mix = state.get("adagan")
    if (trainer.adagan is None) != (saved_mix is None) or (
            trainer.adagan is not None and not trainer.adagan.fits(saved_mix)):
        return (f"fresh weights from step 0: the change alters the AdaGAN mixture, so the "
                f"parent's step-{state['step']:,} generators do not fit")
    if trainer.adagan is not None and saved_mix is not None:
        trainer.adagan.load_state_dict(saved_mix)
    trainer.G.load_state_dict(state["G"])
    net2.load_state_dict(state["net2"])
    kept = ["weights"]
    if state["opt_g_name"] == cfg.opt_g.name and state["opt_d_name"] == cfg.opt_d.name:
        trainer.opt_g.load_state_dict(state["opt_g"])
        trainer.opt_d.load_state_dict(state["opt_d"])
        kept.append("optimiser state")
    # The saved param_groups carry the parent's learning rates: the child's own config wins.
    set_live_hyperparameters(trainer.opt_g, cfg.opt_g)
    set_live_hyperparameters(trainer.opt_d, cfg.opt_d)
    if state["seed"] == cfg.train.seed:
        trainer.gen.set_state(state["rng"])
        kept.append("random stream")
    trainer.step_count = int(state["step"])
    return f"{', '.join(kept)} of the parent at step {state['step']:,}"
