"""The dashboard's own recording of a watched run (app.watched_runs), made from what its script
posts: every scalar row, a frame whenever the config's `frames.record_every` steps were crossed
(the first frame and the last one too), and each event the frames' meta carries, once. The
library, replay and exports then read it as any run's; the script's own file is never opened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gancore.frames import STAT_COLUMNS, Frame
from gancore.store.recording import KIND_BYTES, MESSAGE_BYTES, Recorder

EVENTS_SEEN_KEPT = 4096  # events already recorded, remembered to record each once
STORAGE_ERRORS = (OSError, ValueError, TypeError, KeyError)


def due(step: int, last_recorded: int | None, every: int) -> bool:
    """Whether a frame of `step` is recorded: the first one, then one per `every` steps."""
    return last_recorded is None or step // every > last_recorded // every


class WatchRecording:
    """One watched run's HDF5 recording in the runs folder. A write the file cannot take (disk
    full, a frame the layout refuses) closes it as far as it got and leaves `problem` set: the
    run goes on being shown."""

    def __init__(self, path: str | Path, config_json: str, run_id: str, record_every: int,
                 label: str = ""):
        self.every = max(1, record_every)
        self.problem = ""
        self.recorded_step: int | None = None
        self._last: Frame | None = None
        self._events: set[tuple[int, str, str]] = set()
        self._recorder: Recorder | None = Recorder(path, config_json, STAT_COLUMNS,
                                                   run_id=run_id, label=label)

    def rows(self, rows: np.ndarray) -> None:
        if len(rows):
            self._write(lambda r: r.append_scalars(rows))

    def frame(self, frame: Frame, force: bool = False) -> None:
        """The frame's new events; the frame itself when it is due (or `force`d)."""
        self._add_events(frame)
        if force or due(frame.step, self.recorded_step, self.every):
            self.recorded_step = frame.step
            self._last = frame
            self._write(lambda r: r.append_frame(frame))

    def finish(self, last: Frame | None, step: int, state: str, message: str) -> None:
        """The run ended: its last frame (if not recorded yet), a divergence or failure as an
        event, then the file is closed."""
        if last is not None and self._last is not last and \
                (self._last is None or last.step != self._last.step):
            self.frame(last, force=True)
        if state in ("failed", "diverged"):
            kind = "divergence" if state == "diverged" else "recording"
            self._write(lambda r: r.add_event(step, kind, message or state))
        self.close()

    def _add_events(self, frame: Frame) -> None:
        """The run's events, carried in each frame's meta (the newest 50), recorded once each."""
        events = frame.meta.get("events")
        if not isinstance(events, list):
            return
        for e in events:
            if not isinstance(e, dict) or not isinstance(e.get("kind"), str) or not e["kind"]:
                continue
            try:
                ident = (int(e.get("step", 0)), e["kind"][:KIND_BYTES],
                         str(e.get("message", ""))[:MESSAGE_BYTES])
            except (TypeError, ValueError, OverflowError):
                continue
            if ident in self._events:
                continue
            if len(self._events) >= EVENTS_SEEN_KEPT:
                self._events.clear()
            self._events.add(ident)
            self._write(lambda r, i=ident: r.add_event(*i))

    def _write(self, write: Any) -> None:
        if self._recorder is None:
            return
        try:
            write(self._recorder)
        except STORAGE_ERRORS as e:
            recorder, self._recorder = self._recorder, None
            where = str(recorder.path)
            self.problem = str(e).replace(where, recorder.path.name)[:200] or type(e).__name__
            try:
                recorder.close()
            except Exception:  # noqa: BLE001 - it is as complete as it can be
                pass

    def close(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            try:
                recorder.close()
            except Exception:  # noqa: BLE001 - closing is best effort at the end
                pass
