"""The user's real data, noise and conditions, drawn once into fixed samples, and the Target the
probes read them through.

A watch never samples the user's callables while training runs: each is called a few times when
the watch starts, inside `kept_rng` (their global random draws are undone), and the probes then
draw from the fixed samples with their own torch.Generator.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gancore.data.targets import Target
from gancore.watch.rng import kept_rng

REAL_ROWS = 5000  # rows of real data kept: bounds, metrics and the probes' real batches
MAX_CALLS = 64  # calls to a batch-drawing callable before settling for the rows it gave


@dataclass(frozen=True)
class CondSpec:
    """How the user's condition looks, so it can be handed back that way: (n,) class labels or
    (n, k) vectors, and its dtype (labels stay integers for an embedding)."""

    flat: bool
    dtype: torch.dtype

    def to_user(self, c: torch.Tensor, device: torch.device, float_dtype: torch.dtype
                ) -> torch.Tensor:
        """(n, k) float32 probe conditions -> what the user's network takes."""
        if self.dtype.is_floating_point:
            c = c.to(device=device, dtype=float_dtype)
        else:
            c = c.round().to(device=device, dtype=self.dtype)
        return c[:, 0] if self.flat else c


def as_rows(x: Any, what: str) -> np.ndarray:
    """An array-like of samples -> (n, k) float32 numpy; (n,) becomes (n, 1)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float32).numpy()
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or len(a) == 0:
        raise ValueError(f"{what}: expected a non-empty (n, k) array of samples, got shape "
                         f"{a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what}: the samples contain NaN or infinite values")
    return a


def cond_spec(c: Any) -> CondSpec:
    if isinstance(c, torch.Tensor):
        return CondSpec(c.ndim == 1, c.dtype)
    a = np.asarray(c)
    dtype = torch.float32 if a.dtype.kind == "f" else torch.int64
    return CondSpec(a.ndim == 1, dtype)


def _takes_size(fn: Callable) -> bool:
    """Whether a sampler wants the batch size (`lambda n: ...`) or draws its own (`lambda: ...`)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume the usual sampler
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               and p.default is p.empty for p in params)


def draw_noise(noise: Callable, n: int, seed: int) -> np.ndarray:
    """(n, latent) noise from the user's sampler, once, with their random streams kept."""
    if not callable(noise):
        raise TypeError("noise: expected a sampler such as `lambda n: torch.randn(n, 8)`")
    with kept_rng(seed), torch.no_grad():
        return as_rows(noise(n), "noise(n)")


def _split(batch: Any) -> tuple[Any, Any]:
    """A batch as (x, c): (x, c) pairs from a conditional loader, [x] from a TensorDataset's
    loader, or x alone."""
    if isinstance(batch, tuple | list) and len(batch) in (1, 2):
        return batch[0], batch[1] if len(batch) == 2 else None
    return batch, None


def draw_data(data: Any, cond: Any, seed: int) -> tuple[np.ndarray, np.ndarray | None, Any]:
    """The fixed real sample (N, dim), its conditions (N, k) or None, and the condition as the
    user gave it (for its shape and dtype). `data` is an array or tensor, a callable that draws a
    batch (`data()` or `data(n)`, returning x or (x, c)), or an iterable of such batches (a
    DataLoader); `cond` is None, an array paired row by row with the data, or a sampler
    `cond(n)`."""
    x, c = _collect(data, seed)
    example = c
    if cond is not None:
        if callable(cond) and not isinstance(cond, np.ndarray | torch.Tensor):
            with kept_rng(seed + 1), torch.no_grad():
                example = cond(len(x))
        else:
            example = cond
        c = as_rows(example, "cond")
    elif c is not None:
        c = as_rows(c, "the data's condition")
    return x, c, example


def _collect(data: Any, seed: int) -> tuple[np.ndarray, Any]:
    if isinstance(data, np.ndarray | torch.Tensor | list | tuple) or (
            not callable(data) and not hasattr(data, "__iter__")):  # samples, not a loader
        return as_rows(data, "data"), None
    xs: list[np.ndarray] = []
    cs: list[Any] = []
    with kept_rng(seed), torch.no_grad():
        if callable(data):
            sized = _takes_size(data)
            batches = (data(REAL_ROWS) if sized else data() for _ in range(MAX_CALLS))
        else:
            batches = iter(data)
        for batch in batches:
            x, c = _split(batch)
            xs.append(as_rows(x, "a batch of data"))
            cs.append(c)
            if sum(len(a) for a in xs) >= REAL_ROWS:
                break
    if not xs:
        raise ValueError("data: the loader gave no batch")
    if any(c is None for c in cs):
        return np.concatenate(xs), None
    tensors = [torch.as_tensor(c) for c in cs]
    return np.concatenate(xs), torch.cat(tensors)


class WatchedData(Target):
    """The user's data as a ganscope target: a fixed real sample, drawn from with replacement by
    the caller's generator, with the condition of each row (paired) or from the user's condition
    sampler (unpaired: drawn independently). No modes and no density: the user's data has none
    we know; the n-D metrics and the bimodality detector need neither. Its view bounds are the
    base class's: quantiles of a seeded draw from the sample, padded."""

    def __init__(self, x: np.ndarray, c: np.ndarray | None = None):
        self.x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))  # (N, dim)
        self.c = None if c is None else torch.from_numpy(np.ascontiguousarray(c, np.float32))
        self.dim = x.shape[1]
        self.cond_dim = 0 if c is None else c.shape[1]
        self._paired = c is not None and len(c) == len(x)

    def _sample(self, n: int, gen: torch.Generator, step: int) -> torch.Tensor:
        return self.x[torch.randint(len(self.x), (n,), generator=gen)]

    def sample_conditional(self, n: int, gen: torch.Generator,
                           step: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        if self.c is None:
            raise NotImplementedError("the watched data has no condition")
        idx = torch.randint(len(self.x), (n,), generator=gen)
        cidx = idx if self._paired else torch.randint(len(self.c), (n,), generator=gen)
        return self.x[idx], self.c[cidx]
