"""A run's newest frame and recent scalar rows in the process that reads the worker's pipe:
one writer (the pipe reader thread), any number of readers, each at its own position."""

from __future__ import annotations

import threading

import numpy as np

from gancore.frames import metrics_of


class Mailbox:
    """The newest frame of a run and its recent scalar rows, read by any number of readers, each
    from its own position.

    Every reader (a tab's socket, a test) names itself with a hashable key. It gets the newest
    frame it has not seen yet (older ones are dropped, never queued) and every scalar row since
    its previous take. Readers do not take from each other: with 19 spectators on one mailbox
    that was consumed by whoever asked first, the owner's page got 24 of 313 frames and lost 93%
    of its loss-curve steps. Rows are kept until every reader has them, within ROWS_KEPT (a
    reader that stops asking must not grow the web process without bound); a new reader starts
    with the newest frame and the last NEW_READER_ROWS rows.

    It also keeps the metrics of the frames put (each frame header's scalars, thinned evenly to
    at most HISTORY_KEPT), so a page that opens on a run late, or after it ended, draws its
    metric charts from the start rather than only from the frames it was sent.
    """

    ROWS_KEPT = 200_000  # about 20 MB of float64 rows at 12 columns; minutes of training
    NEW_READER_ROWS = 4000  # what a chart keeps anyway (gancore.store.library.MAX_CURVE_ROWS)
    DEFAULT = "default"
    HISTORY_KEPT = 1000  # frames' metrics: about 150 KB of JSON for a newcomer's first message

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: bytes | None = None
        self._frame_seq = 0  # number of frames put so far; the newest has this number
        self._rows: list[np.ndarray] = []  # row blocks, oldest first
        self._rows_start = 0  # overall index of the first kept row
        self._rows_end = 0  # overall index one past the last row
        self._readers: dict[object, tuple[int, int]] = {}  # key -> (frame seen, next row)
        self.frames_put = 0
        self.frames_dropped = 0  # frames the default reader never saw
        self._history: list[tuple[int, dict[str, float]]] = []  # (step, metrics), oldest first
        self._history_every = 1  # keep every k-th frame's metrics; doubles when the list fills
        self._history_seen = 0  # frames whose metrics were offered

    def put(self, frame: bytes, rows: np.ndarray) -> None:
        metrics = metrics_of(frame)  # its header read before the lock: readers do not wait on it
        with self._cond:
            seen = self._readers.get(self.DEFAULT, (0, 0))[0]
            if self._frame is not None and seen < self._frame_seq:
                self.frames_dropped += 1
            self._frame = frame
            self._frame_seq += 1
            self._note_metrics(metrics)
            if len(rows):
                self._rows.append(rows)
                self._rows_end += len(rows)
                self._trim()
            self.frames_put += 1
            self._cond.notify_all()

    def _note_metrics(self, got: tuple[int, dict[str, float]] | None) -> None:
        if got is None or (self._history and got[0] < self._history[-1][0]):
            return  # not a frame, or a step back in time (a restart resets first)
        self._history_seen += 1
        if (self._history_seen - 1) % self._history_every:
            return
        self._history.append(got)
        if len(self._history) > self.HISTORY_KEPT:
            self._history = self._history[::2]
            self._history_every *= 2

    def history(self, before_step: int) -> list[tuple[int, dict[str, float]]]:
        """The metrics of the frames put before `before_step` (the step of the frame a new
        reader was just given), oldest first."""
        with self._cond:
            return [h for h in self._history if h[0] < before_step]

    def _trim(self) -> None:
        """Drop row blocks every reader has read (keeping a newcomer's NEW_READER_ROWS), and
        anything past ROWS_KEPT."""
        lowest = min((pos for _, pos in self._readers.values()), default=self._rows_end)
        floor = max(min(lowest, self._rows_end - self.NEW_READER_ROWS),
                    self._rows_end - self.ROWS_KEPT)
        while self._rows and self._rows_start + len(self._rows[0]) <= floor:
            self._rows_start += len(self._rows.pop(0))

    def _position(self, reader: object) -> tuple[int, int]:
        pos = self._readers.get(reader)
        if pos is None:
            pos = (0, max(self._rows_start, self._rows_end - self.NEW_READER_ROWS))
            self._readers[reader] = pos
        return pos

    def take(self, reader: object = DEFAULT) -> tuple[bytes, np.ndarray] | None:
        """The newest frame this reader has not seen and every row since its last take, or None
        when there is no new frame (rows then wait for the next frame)."""
        with self._cond:
            seen, next_row = self._position(reader)
            if self._frame is None or seen >= self._frame_seq:
                return None
            first = max(next_row, self._rows_start)
            rows = self._rows_from(first)
            self._readers[reader] = (self._frame_seq, self._rows_end)
            self._trim()
            return self._frame, rows

    def _rows_from(self, first: int) -> np.ndarray:
        if first >= self._rows_end:
            return np.zeros((0, 0))
        blocks, at = [], self._rows_start
        for block in self._rows:
            if at + len(block) > first:
                blocks.append(block[max(0, first - at):])
            at += len(block)
        return np.concatenate(blocks)

    def peek(self) -> tuple[int, bytes] | None:
        """(sequence number, newest frame) without taking a reader position: an overview that
        glances at many runs (the class view) holds no rows back and moves no reader on."""
        with self._cond:
            return None if self._frame is None else (self._frame_seq, self._frame)

    def wait(self, timeout: float, reader: object = DEFAULT) -> bool:
        """Wait until this reader has a frame it has not seen (True) or `timeout` passes."""
        with self._cond:
            seen = self._position(reader)[0]
            return self._cond.wait_for(lambda: self._frame_seq > seen and
                                       self._frame is not None, timeout)

    def forget(self, reader: object) -> None:
        """A reader that left: its position no longer holds rows back."""
        with self._cond:
            self._readers.pop(reader, None)
            self._trim()

    def reset(self) -> None:
        """A new run in the same process: nothing of the old run may reach its readers."""
        with self._cond:
            self._frame = None
            self._rows.clear()
            self._history, self._history_every, self._history_seen = [], 1, 0
            self._rows_start = self._rows_end = 0
            self._readers = {k: (self._frame_seq, 0) for k in self._readers}
