"""The scalar row of each training step, kept as the user gave it until the watch looks.

A step's values may be floats or 0-d tensors on any device. Reading a CUDA tensor waits for the
GPU, so nothing is read in `add` (the training step stays free of host syncs); `take` reads all
the rows since the last look at once, one transfer per device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from gancore.frames import STAT_COLUMNS

N_COLS = len(STAT_COLUMNS)
LOSSES = (STAT_COLUMNS.index("d_loss"), STAT_COLUMNS.index("g_loss"))


class NormParts(tuple):
    """A gradient norm not yet summed: the per-tensor norms of one step (0-d tensors on one
    device). Summing them in `take`, for all the rows at once, spares each step two dispatches
    of a stack and a norm."""


def _plain(v: Any) -> float | torch.Tensor | NormParts | None:
    """A value as the buffer keeps it: None (not reported), a float, NormParts, or a detached
    0-d tensor (detached, so the user's autograd graph is not kept alive until the next look)."""
    if v is None or isinstance(v, float | NormParts):
        return v
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise ValueError(f"step(): expected a single number, got a tensor of shape "
                             f"{tuple(v.shape)}")
        return v.detach()
    return float(v)


class RowBuffer:
    """Per-step values (step, d_loss, g_loss, d_real, d_fake, d_grad_norm, g_grad_norm) since the
    last `take`."""

    def __init__(self) -> None:
        self._rows: list[tuple] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, step: int, *values: Any) -> None:
        self._rows.append((step, *(_plain(v) for v in values)))

    def take(self) -> tuple[np.ndarray, int | None]:
        """(R, N_COLS) float64 rows, NaN where a value was not reported, and the first step whose
        reported loss is NaN or infinite (None if none)."""
        rows, self._rows = self._rows, []
        out = np.full((len(rows), N_COLS), np.nan)
        later: list[tuple[int, int, torch.Tensor]] = []  # read together, one sync per device
        parts: list[tuple[int, int, NormParts]] = []
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                if isinstance(v, NormParts):
                    parts.append((i, j, v))
                elif isinstance(v, torch.Tensor):
                    if v.device.type == "cpu":
                        out[i, j] = v.item()
                    else:
                        later.append((i, j, v))
                elif v is not None:
                    out[i, j] = v
        for i, j, x in _read(later) + _summed(parts):
            out[i, j] = x
        return out, _first_nonfinite(rows, out)


def _read(values: list[tuple[int, int, torch.Tensor]]) -> list[tuple[int, int, float]]:
    """Device tensors read as floats: one stack and one transfer per device."""
    groups: dict[torch.device, list[tuple[int, int, torch.Tensor]]] = {}
    for entry in values:
        groups.setdefault(entry[2].device, []).append(entry)
    out = []
    for group in groups.values():
        xs = torch.stack([v.reshape(()).to(torch.float64) for _, _, v in group]).cpu().tolist()
        out += [(i, j, x) for (i, j, _), x in zip(group, xs, strict=True)]
    return out


def _summed(parts: list[tuple[int, int, NormParts]]) -> list[tuple[int, int, float]]:
    """Each row's norm from its parts: one stack and one norm for all the rows whose parts have
    one length and device (the same parameters had gradients)."""
    groups: dict[tuple[int, torch.device], list[tuple[int, int, NormParts]]] = {}
    for entry in parts:
        groups.setdefault((len(entry[2]), entry[2][0].device), []).append(entry)
    out = []
    for group in groups.values():
        flat = torch.stack([n for _, _, p in group for n in p]).reshape(len(group), -1)
        norms = torch.linalg.vector_norm(flat.to(torch.float64), dim=1).cpu().tolist()
        out += [(i, j, x) for (i, j, _), x in zip(group, norms, strict=True)]
    return out


def _first_nonfinite(rows: list[tuple], out: np.ndarray) -> int | None:
    for i, row in enumerate(rows):
        for j in LOSSES:
            if row[j] is not None and not math.isfinite(out[i, j]):
                return int(out[i, 0])
    return None
