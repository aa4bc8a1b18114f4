"""The user's random streams, left exactly as they were: every call into their code (noise,
condition and data samplers, their networks) runs inside `kept_rng`.

Why: a watched training loop must give bit-identical weights to an unwatched one with the same
seeds. torch's global CPU generator, CUDA's (once CUDA is up), numpy's global RNG and python's
`random` are saved before and restored after, so whatever the user's callables draw is invisible
to their training. Inside, the CPU streams are seeded from the watch's own seed, so the probes a
watch builds are the same on every run of the script.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


@contextmanager
def kept_rng(seed: int | None = None) -> Iterator[None]:
    """Save every global random stream, optionally seed the CPU ones with `seed`, run the block,
    then put every stream back. CUDA's generators are saved only when CUDA is already
    initialised: asking for their state would start CUDA in a script that never uses it (and
    seeding them lazily would change the stream the script's first CUDA draw sees). So CUDA is
    never seeded here, only restored."""
    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        if seed is not None:
            torch.default_generator.manual_seed(seed)  # CPU only: see above
            np.random.seed(seed % 2**32)
            random.seed(seed)
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        np.random.set_state(np_state)
        random.setstate(py_state)
