"""A recording's history as one table, rows by training step: every step's losses, D outputs and
gradient norms (/scalars), then one column per metric its frames carried (modes, KS mean, energy
distance...), empty where no frame was recorded at that step. What the CSV export writes.

A metric's value at a frame's step is the one that frame carried. The costly metrics (energy,
norm KS, variance ratio, KL/JS...) are measured every `frames.metrics_every` steps (50 by
default, a divisor of `record_every`'s 100, so each recorded frame carries a value measured at
its own step); a run recorded more often than it is measured repeats its last measurement.
"""

from __future__ import annotations

import math

from gancore.store.library import NOT_METRICS
from gancore.store.reader import RunReader

Row = list[float]  # NaN = an empty cell


def _frame_metrics(reader: RunReader, skip: set[str]) -> tuple[list[str], dict[int, dict]]:
    """The metric columns in the order they first appear, and {step: {metric: value}} from the
    frames' header rows (no arrays read). Two frames at one step (a run that ended on a recorded
    step) merge, the later one winning. Header rows only: 2,001 frames and 4,000 scalar rows
    made a table in 0.17 s on a loaded 2-core box."""
    names: dict[str, None] = {}
    by_step: dict[int, dict] = {}
    for i in range(len(reader)):
        scalars = reader.header(i).get("scalars", {})
        values = by_step.setdefault(int(reader.steps[i]), {})
        for k, v in scalars.items():
            if k in skip or isinstance(v, bool) or not isinstance(v, int | float | None):
                continue
            names.setdefault(k, None)
            values[k] = math.nan if v is None else float(v)
    return list(names), by_step


def step_table(reader: RunReader) -> tuple[list[str], list[Row]]:
    """(header, rows): the scalar columns (step first) then the metric columns; one row per
    step that has a scalar row or a frame, in step order."""
    columns, scalars = reader.scalars()
    metrics, by_step = _frame_metrics(reader, set(columns) | set(NOT_METRICS))
    blank = [math.nan] * len(metrics)

    def metric_cells(step: int) -> Row:
        values = by_step.pop(step, None)
        return [values.get(m, math.nan) for m in metrics] if values else blank

    def frame_only(step: int) -> Row:
        return [float(step)] + [math.nan] * (len(columns) - 1) + metric_cells(step)

    rows: list[Row] = []
    pending = sorted(by_step)
    k = 0
    for row in scalars:
        step = int(row[0])
        while k < len(pending) and pending[k] < step:  # frames before this step's scalars
            if pending[k] in by_step:
                rows.append(frame_only(pending[k]))
            k += 1
        rows.append([*row.tolist(), *metric_cells(step)])
    rows += [frame_only(s) for s in pending[k:] if s in by_step]
    return columns + metrics, rows
