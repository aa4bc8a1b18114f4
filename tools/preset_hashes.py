"""Hash every preset's weights and encoded frames after a few hundred seeded steps.

A restructuring that claims to change no behaviour runs this before and after and compares the
two lists: equal hashes mean the same weights, bit for bit, and the same bytes on the wire.

    python tools/preset_hashes.py [--steps 300] > hashes.txt
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import sys


def preset_hash(args: tuple[str, int]) -> tuple[str, str, str]:
    """(preset, weights sha256, frames sha256) after `steps` steps and a frame every 100."""
    name, steps = args
    import torch

    torch.set_num_threads(1)
    try:
        from gancore.frames import encode
        from gancore.run.session import Session
        from gancore.teach.presets import get_preset
    except ImportError:  # the restructured layout
        from gancore.frames import encode
        from gancore.run.session import Session
        from gancore.teach.presets import get_preset

    session = Session(get_preset(name).config(), run_id=name)
    frames = hashlib.sha256()
    done = 0
    while done < steps:
        done += session.train(min(100, steps - done))
        frames.update(encode(session.frame()))
    weights = hashlib.sha256()
    for p in [*session.trainer.g_params, *session.trainer.d_params]:
        weights.update(p.detach().cpu().numpy().tobytes())
    session.close()
    return name, weights.hexdigest()[:16], frames.hexdigest()[:16]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    try:
        from gancore.teach.presets import PRESETS
    except ImportError:
        from gancore.teach.presets import PRESETS
    jobs = [(name, args.steps) for name in PRESETS]
    with mp.get_context("spawn").Pool(2) as pool:
        rows = pool.map(preset_hash, jobs, chunksize=1)
    for name, w, f in rows:
        print(f"{name:28s} weights {w}  frames {f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
