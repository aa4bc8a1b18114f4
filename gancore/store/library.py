"""A recording in a few lines and its replay index: what the library page lists and what the
replay page needs before its first frame (config summary, steps, final metrics, events, curves).

Pure reading through `gancore.store.reader.open_recording`; no web stack.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gancore.store.reader import RunReader, open_recording

# Frame scalars that are not metrics: the step, the live speed, and the denominator of "modes".
NOT_METRICS = ("step", "steps_per_s", "modes_total")
# The final metrics a library row shows, in this order, when the recording has them.
FINAL_KEYS = ("d_loss", "g_loss", "modes", "high_quality", "reverse_kl", "kl", "js",
              "wasserstein", "energy", "ks_mean")
MAX_CURVE_ROWS = 4000  # the live charts keep at most this many points per series, too


@dataclass
class Summary:
    """One library row: the recording's file, its run, and what it ended at."""

    name: str
    run_id: str
    kind: str  # "1d", "2d", "nd"
    target: str
    dim: int
    model: str
    loss: str
    remedies: list[str]
    preset: str | None
    frames: int
    steps: int  # the last training step recorded (scalar row, else last frame)
    final: dict[str, float | None]  # None: the value was NaN or infinite
    modes_total: int | None
    events: int
    first_events: list[dict] = field(default_factory=list)
    created: str = ""
    parent: str | None = None
    fork_step: int | None = None
    size_bytes: int = 0
    label: str = ""  # a watched script's name for its run ("" for ganscope's own runs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def remedies_of(cfg: dict) -> list[str]:
    """The remedies a config switches on, as short names ("unrolled 5", "PacGAN 4", ...)."""
    r = cfg.get("remedies") or {}
    out = []
    if r.get("unrolled_steps"):
        out.append(f"unrolled {r['unrolled_steps']}")
    if r.get("minibatch_discrimination"):
        out.append("minibatch discrimination")
    if r.get("feature_matching"):
        out.append("feature matching")
    if (r.get("packing") or 1) > 1:
        out.append(f"PacGAN {r['packing']}")
    if (cfg.get("loss") or {}).get("r1_gamma"):
        out.append(f"R1 {cfg['loss']['r1_gamma']:g}")
    return out


def _dim(cfg: dict, kind: str) -> int:
    from gancore.config import RunConfig, data_dim

    try:
        return data_dim(RunConfig.model_validate(cfg))
    except Exception:  # noqa: BLE001 - an old or foreign config still gets a row
        return {"1d": 1, "2d": 2}.get(kind, int((cfg.get("target") or {}).get("dim") or 0))


def summarize(path: str | Path, first_events: int = 3,
              preset_of: Callable[[str], str | None] | None = None) -> Summary:
    """The library row of one recording; RecordingError (naming the problem) when unreadable.
    `preset_of` names the preset a config JSON is (gancore.teach.presets.preset_of: the caller
    knows the presets, the store does not)."""
    p = Path(path)
    with open_recording(p) as r:
        return _summary(r, p, first_events, preset_of)


def _summary(r: RunReader, p: Path, first_events: int,
             preset_of: Callable[[str], str | None] | None) -> Summary:
    cfg = json.loads(r.config_json)
    last = r.frame(len(r) - 1) if len(r) else None
    columns, rows = r.scalars()
    latest: dict[str, float] = {}
    if last is not None:
        latest.update({k: v for k, v in last.scalars.items() if k not in NOT_METRICS})
    if len(rows):
        latest.update({c: rows[-1, i] for i, c in enumerate(columns) if c != "step"})
    final = {k: _finite(latest[k]) for k in FINAL_KEYS if k in latest}
    steps = int(rows[-1, 0]) if len(rows) else (last.step if last is not None else 0)
    events = r.events()
    kind = last.kind if last is not None else ""
    modes_total = last.scalars.get("modes_total") if last is not None else None
    return Summary(
        name=p.name, run_id=r.run_id, kind=kind, target=(cfg.get("target") or {}).get("name", "?"),
        dim=_dim(cfg, kind), model=cfg.get("model", "gan"),
        loss=(cfg.get("loss") or {}).get("name", "?"), remedies=remedies_of(cfg),
        preset=preset_of(r.config_json) if preset_of else None, frames=len(r),
        steps=max(steps, int(r.steps[-1]) if len(r) else 0),
        final=final,
        modes_total=int(total) if (total := _finite(modes_total)) is not None else None,
        events=len(events), first_events=events[:first_events], created=r.created,
        parent=r.parent_run, fork_step=r.fork_step, size_bytes=p.stat().st_size,
        label=r.label)


def replay_index(r: RunReader, max_rows: int = MAX_CURVE_ROWS) -> dict[str, Any]:
    """What a replay needs besides the frames: the frame steps, the scalar curves (every k-th
    row so at most `max_rows`, always with the last), per-frame metrics and the events.
    Non-finite values are None (JSON null), as in the live stream."""
    columns, rows = r.scalars()
    if len(rows) > max_rows:
        keep = np.unique(np.r_[np.arange(0, len(rows), math.ceil(len(rows) / max_rows)),
                               len(rows) - 1])
        rows = rows[keep]
    curves = {c: [_finite(v) for v in rows[:, i]] for i, c in enumerate(columns)}
    metrics: dict[str, list] = {}
    kind = ""
    n = len(r)
    for i in range(n):
        scalars, kind = _header_scalars(r, i)
        for k, v in scalars.items():
            if k in NOT_METRICS or k in columns:
                continue
            metrics.setdefault(k, [None] * i)
            metrics[k].append(_finite(v))
        for k in metrics:
            if len(metrics[k]) < i + 1:
                metrics[k].append(None)
    last = r.frame(n - 1) if n else None
    return {"run_id": r.run_id, "kind": kind, "frame_steps": [int(s) for s in r.steps],
            "columns": columns, "curves": curves, "metrics": metrics,
            "modes_total": last.scalars.get("modes_total") if last is not None else None,
            "events": r.events(), "parent": r.parent_run, "fork_step": r.fork_step,
            "created": r.created, "config": json.loads(r.config_json)}


def _header_scalars(r: RunReader, i: int) -> tuple[dict, str]:
    """Frame i's scalars and kind from its header row alone (no arrays read)."""
    header = r.header(i)
    return header.get("scalars", {}), header.get("kind", "")
