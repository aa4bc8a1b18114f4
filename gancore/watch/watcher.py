"""`watch(G, D, data=..., noise=...)` and the Watcher it returns: one `w.step(d_loss, g_loss)`
per training step of the user's own loop, and `w.close()` (or a `with` block).

The step only appends a row and, when a look is due, looks: rows taken, a metric check when
frames.metrics_every steps have passed, a frame when the dashboard takes frames (at most
frames.fps) or when the recording is due (frames.record_every steps since the last recorded
frame). Looking is paced by wall clock so that it costs a bounded share of it: after a frame
that took t seconds the next waits until t / share has passed since it began (LIVE_FRAME_SHARE
while a page shows the run, FRAME_SHARE otherwise; checks likewise with
CHECK_SHARE), so a slow frame spaces frames out instead of slowing training. A 6-D frame takes
~4 ms (one every ~30-80 ms live) and its check ~20-40 ms (one every ~1 s): the detectors see fewer
snapshots than a native run's every 50 steps, and fire later.
"""

from __future__ import annotations

import atexit
import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gancore.frames import Frame
from gancore.watch.blas import one_blas_thread
from gancore.watch.dashboard import auto, notebook_view
from gancore.watch.describe import (
    DEFAULT_LOSS,
    clean_name,
    default_name,
    recording_path,
    run_config,
    slug,
)
from gancore.watch.link import Link, base_of, token_of
from gancore.watch.nets import describe, grad_norm, make_nets, trainable
from gancore.watch.rows import N_COLS, RowBuffer
from gancore.watch.run import WatchedRun
from gancore.watch.sources import WatchedData, cond_spec, draw_data, draw_noise

# Of the wall clock, at most: making frames for a dashboard that takes them, making only the
# recording's frames, and the metric checks. Recording and checks stay within ~6%, so a run
# without a dashboard keeps >= 90% of its speed; a 6-D frame takes ~4 ms alone and ~12 ms beside
# a painting browser on two cores, so 15% gives the page ~12 frames/s (bench/watch_overhead.py).
# The live share is spent only while a page shows the run (the dashboard's reply to each post
# counts them); otherwise frames for the dashboard (the class view's thumbnails) and the
# recording share the low one.
LIVE_FRAME_SHARE, FRAME_SHARE, CHECK_SHARE = 0.15, 0.03, 0.03
# The D surface's cells per side unless the caller says: 40 x 40 costs a 6-D frame ~4 ms where
# a native run's 64 x 64 cost ~8 ms (the user's own step pays for it, not a worker process).
WATCH_FRAMES = {"d_grid": 40}
IDLE_LOOK_S = 0.02  # between looks that found nothing due
MAX_BUFFERED_ROWS = 1000  # rows read at the latest after this many steps, even with nothing due
SPEED_WINDOW_S = 1.0
# G's gradient norm is read every this many steps (the charts bridge the steps between, the
# detectors average the steps read): reading it every step cost a 6-D WGAN-GP step 2-3%.
GRAD_NORM_EVERY = 10
DEFAULT_FOLDER = "ganscope-runs"


class Watcher:
    """A watched training run (made by `watch`). Call `step` once per training step and `close`
    at the end; `show()` gives the live page for a notebook cell."""

    def __init__(self, run: WatchedRun, G: Any, connect: Callable[[], Link] | None, name: str,
                 say: Callable[[str], None]):
        """`connect` makes the dashboard link; it is called once the networks have been looked
        at, so a model that does not fit fails here without a run left on the dashboard."""
        self._run, self.name, self._say = run, name, say
        self._link: Link | None = None
        self._g_params = trainable(G)
        self._rows = RowBuffer()
        cfg = run.cfg.frames
        self._metrics_every, self._record_every = cfg.metrics_every, cfg.record_every
        self._frame_interval = 1.0 / cfg.fps
        self._next_look = self._next_frame = self._next_check = 0.0
        self._checked = 0
        self._speed_at = (time.monotonic(), 0)
        self.steps_per_s = 0.0
        self.closed = False
        self._broken = ""  # why looking stopped, if it did
        self.path: Path | None = run.record_path
        first = None
        if run.ready:
            run.verify()
            run.check()  # step 0: the baseline the detectors compare the first moves against
            first = self._picture(None, record=True, live=False)
        if connect is not None:
            self._link = connect()
            if first is not None:
                self._link.offer(np.empty((0, N_COLS)), first)
        self._atexit = _closer(self)
        atexit.register(self._atexit)

    # ---- the user's side ------------------------------------------------------------------
    @property
    def step_count(self) -> int:
        return self._run.step

    @property
    def events(self) -> list[dict]:
        """The phenomena seen so far: {"step", "kind", "message"} each."""
        return list(self._run.events)

    @property
    def page_url(self) -> str | None:
        """The run's page on the dashboard, once it has taken the run."""
        return None if self._link is None else self._link.page_url

    def step(self, d_loss: Any = None, g_loss: Any = None, *, d_real: Any = None,
             d_fake: Any = None, d_grad_norm: Any = None, g_grad_norm: Any = None) -> None:
        """Count one training step and its losses (floats or 0-d tensors, read later, never
        here). D(real)/D(fake) (mean D output, as probabilities for a log loss) and gradient
        norms are optional: G's gradient norm is read from the gradients the step left (every
        GRAD_NORM_EVERY steps), and D's outputs are measured on the fixed probes when not
        given."""
        if self.closed:
            raise RuntimeError("this watch is closed; start a new one with gancore.watch.watch")
        run = self._run
        run.nets.step_count += 1
        if self._broken:
            return  # watching stopped (see _give_up): the step is counted, nothing kept
        gn = g_grad_norm
        if gn is None and run.nets.step_count % GRAD_NORM_EVERY == 0:
            gn = grad_norm(self._g_params)
        self._rows.add(run.nets.step_count, d_loss, g_loss, d_real, d_fake, d_grad_norm, gn)
        if time.monotonic() >= self._next_look and not self._broken:
            try:
                self._look()
            except Exception as e:  # noqa: BLE001 - watching must never stop the training
                self._give_up(e)

    def close(self, state: str = "done", message: str = "") -> Path | None:
        """Take the last rows, record a last frame, end the run on the dashboard and close the
        recording; returns the recording's path (None without one). Safe to call twice."""
        if self.closed:
            return self.path
        self.closed = True
        atexit.unregister(self._atexit)
        run = self._run
        rows, bad = self._rows.take()
        run.add_rows(rows, bad)
        if run.state == "running" and self._broken:
            run.state, run.message = "failed", self._broken[:300]
        elif run.state == "running":
            run.state = state
            run.message = message or f"finished at step {run.step:,}"
        pictured = False
        if run.ready and run.state != "diverged" and run.step > 0 and not self._broken:
            try:
                self._picture(rows, record=True, live=self._link is not None)
                pictured = True
            except Exception:  # noqa: BLE001 - at interpreter exit the probes' helper thread
                pass  # is gone; the rows and the frames so far are recorded all the same
        if self._link is not None:
            if not pictured:
                self._link.offer(rows)
            self._link.end(run.state, run.message)
        self.path = run.close()
        if self.path is not None:
            self._say(f"ganscope: recorded {run.step:,} steps of '{self.name}' to {self.path}")
        return self.path

    def show(self, width: str = "100%", height: int = 760, wait_s: float = 30.0) -> Any:
        """The live page, for a notebook cell: an IPython IFrame (the address itself without
        IPython), after waiting up to `wait_s` for the dashboard to take the run; None without
        a dashboard."""
        if self._link is None:
            return None
        self._link.page_ready.wait(wait_s)
        return notebook_view(self._link.page_url, width, height)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.close()
        elif issubclass(kind, KeyboardInterrupt):
            self.close("stopped", f"stopped by the user at step {self._run.step:,}")
        else:
            self.close("failed", f"the script raised {kind.__name__} at step {self._run.step:,}")

    # ---- looking ------------------------------------------------------------------------------
    def _look(self) -> None:
        with one_blas_thread():
            self._look_now()

    def _look_now(self) -> None:
        began = time.monotonic()
        run = self._run
        live = self._link is not None and self._link.live
        check = began >= self._next_check and run.step - self._checked >= self._metrics_every
        record = run.record_path is not None and \
            run.step - run.recorded_step >= self._record_every
        frame = began >= self._next_frame and (live or record)
        if not (check or frame or len(self._rows) >= MAX_BUFFERED_ROWS):
            self._next_look = began + IDLE_LOOK_S  # nothing due: the rows wait in the buffer
            return
        rows, bad = self._rows.take()
        was_running = run.state == "running"
        run.add_rows(rows, bad)
        self._measure_speed(began)
        looking = run.state == "running" and run.ready
        if looking and check:
            run.check()
            self._checked = run.step
            done = time.monotonic()
            self._next_check = began + (done - began) / CHECK_SHARE
            began = done
        if looking and frame:
            self._picture(rows, record, live)
            cost = time.monotonic() - began
            painting = live and self._link is not None and self._link.painting
            share = LIVE_FRAME_SHARE if painting else FRAME_SHARE
            self._next_frame = began + max(cost / share, self._frame_interval)
        elif self._link is not None:
            self._link.offer(rows)
        if was_running and run.state == "diverged" and self._link is not None:
            self._link.end(run.state, run.message, wait=False)
        self._next_look = max(time.monotonic() + IDLE_LOOK_S,
                              min(self._next_frame, self._next_check))

    def _give_up(self, e: Exception) -> None:
        """A look failed (the user's network raised in eval mode, the disk...): stop looking,
        say so once, and let the loop train on; the rows are still kept and `close` ends the
        run as failed with the reason."""
        self._broken = f"watching stopped at step {self._run.step:,}: {type(e).__name__}: {e}"
        self._say(f"ganscope: {self._broken}; training goes on")
        self._run.add_event("recording", self._broken)
        if self._link is not None:
            self._link.end("failed", self._broken, wait=False)

    def _picture(self, rows: np.ndarray | None, record: bool, live: bool) -> Frame:
        """Make a frame; record it (when recording) and hand it to the link with `rows`, the
        rows taken since the last hand-over."""
        run = self._run
        f = run.frame()
        f.scalars["steps_per_s"] = self.steps_per_s
        if record:
            run.record(f)  # before the link's thread touches the frame
        if self._link is not None:
            self._link.offer(rows if rows is not None else np.empty((0, N_COLS)),
                             f if live else None)
        return f

    def _measure_speed(self, now: float) -> None:
        t0, s0 = self._speed_at
        if now - t0 >= SPEED_WINDOW_S:
            self.steps_per_s = (self._run.step - s0) / (now - t0)
            self._speed_at = (now, self._run.step)


def _closer(w: Watcher) -> Callable[[], None]:
    """An atexit hook that closes a watch the script forgot to close, without keeping it alive."""
    ref = weakref.ref(w)

    def close() -> None:
        watcher = ref()
        if watcher is not None and not watcher.closed:
            watcher.close("done", f"the script ended at step {watcher.step_count:,} without "
                                  "closing the watch")

    return close


def watch(G: Any, D: Any, data: Any, noise: Callable[[int], Any], cond: Any = None, *,
          d_output: str = "logits", loss: str | None = None, name: str | None = None,
          dashboard: str | None = "auto", record: bool | str | os.PathLike = True,
          seed: int = 0, frames: dict | None = None,
          say: Callable[[str], None] = print) -> Watcher:
    """Watch a GAN train in the user's own loop (docs/watch.md). G(z[, c]) and D(x[, c]) are the
    user's networks (nn.Modules or callables); `data` is real samples (array, tensor, a callable
    drawing a batch, or a loader); `noise(n)` draws G's input; `cond` (conditional models) is an
    array paired with the data or a sampler `cond(n)`. `d_output` says how D's output reads;
    `loss` names the GAN loss (default: non_saturating, or wgan_gp for a critic).
    `dashboard`: "auto", a dashboard's address, or None; `record`: True (./ganscope-runs/),
    a folder or .h5 path, or False. `frames`: FrameConfig fields (e.g. {"record_every": 200})."""
    label = clean_name(name if name is not None else default_name())
    loss = loss or DEFAULT_LOSS.get(d_output, "non_saturating")
    frames = {**WATCH_FRAMES, **(frames or {})}
    samples = int((frames or {}).get("samples", 1500))
    z = draw_noise(noise, samples, seed)
    x, c, example = draw_data(data, cond, seed)
    spec = cond_spec(example) if c is not None else None
    cfg = run_config(x.shape[1], z, 0 if c is None else c.shape[1], loss, seed, frames)
    target = WatchedData(x, c)
    nets = make_nets(G, D, loss, d_output, spec)
    path, folder = _recording(record, label)
    run_id = path.stem if path is not None else slug(label)
    watched = {"name": label, "G": describe(G), "D": describe(D), "d_output": d_output}
    run = WatchedRun(cfg, target, nets, z, (G, D), run_id, path, watched)
    connect = _connector(dashboard, label, cfg.to_json(), folder, say) if dashboard else None
    return Watcher(run, G, connect, label, say)


def _recording(record: bool | str | os.PathLike, name: str) -> tuple[Path | None, Path]:
    """The recording's path (None: not recorded) and the folder a started dashboard uses."""
    if record is False or record is None:
        return None, Path(DEFAULT_FOLDER)
    target = Path(DEFAULT_FOLDER) if record is True else Path(record)
    if target.suffix in (".h5", ".hdf5"):
        return target, target.parent
    return recording_path(target, name), target


def _connector(dashboard: str, name: str, config_json: str, folder: Path,
               say: Callable[[str], None]) -> Callable[[], Link]:
    """What makes the run's link (its address checked now, before anything is started)."""
    token = os.environ.get("GANSCOPE_TOKEN") or None
    if dashboard == "auto":
        return lambda: Link(lambda: auto(folder / "dashboard", say), name, config_json, token,
                            say)
    base = base_of(dashboard)
    token = token_of(dashboard) or token
    return lambda: Link(lambda: base, name, config_json, token, say)
