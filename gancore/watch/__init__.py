"""Watch your own GAN: a few lines in any PyTorch training loop make ganscope's frames, metrics,
phenomenon events and a recording of it, and show it live in a dashboard.

    import gancore.watch as gw
    with gw.watch(G, D, data=x_real, noise=lambda n: torch.randn(n, 8)) as w:
        for step in range(10_000):
            ...                           # your own training step
            w.step(d_loss=d_loss, g_loss=g_loss)

Modules: watcher (the public Watcher and its pacing), run (probes, detectors, recording),
sources (the user's data, noise and conditions, sampled once), nets (the user's networks as the
probes call them), rows, describe (the run's config), link (the dashboard protocol's client),
dashboard (finding or starting one; the notebook view), rng (the user's random streams kept).
"""

from __future__ import annotations

from typing import Any

from gancore.watch.watcher import Watcher, watch

__all__ = ["Watcher", "show", "watch"]


def show(w: Watcher, **kw: Any) -> Any:
    """The watched run's live page for a notebook cell (`Watcher.show`)."""
    return w.show(**kw)
