"""Recordings to pictures, the entry point: an animated GIF or MP4 of one run or of 2-4 side by
side (frames aligned by training step), or one PNG of a run as it was at a step."""

from __future__ import annotations

from pathlib import Path

from gancore.render import ExportError
from gancore.render.animation import Animation, frame_at, open_sources
from gancore.render.writers import FORMATS, WRITERS, write_png


def export_animation(paths: list[Path | str] | Path | str, out: Path | str, every: int = 1,
                     fps: int = 10, max_frames: int | None = None,
                     labels: list[str] | None = None,
                     size: tuple[int, int] | float | None = None) -> int:
    """Write an animated GIF or an MP4 (by `out`'s suffix) of one recording, or of 2-4 side by
    side with their frames aligned by training step. `size` is (width, height) in pixels or a
    scale of the native layout (560x660 per 2-D panel at 1.0). Returns the number of frames written.
    Raises ExportError (a ValueError) naming a bad path, suffix or empty recording."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in WRITERS:
        raise ExportError(f"{out.name}: unknown export format {suffix or '(none)'!r}; "
                          f"use {' or '.join(FORMATS)}")
    if not 0 < fps <= 60:
        raise ExportError(f"fps must be between 1 and 60, got {fps}")
    if isinstance(paths, str | Path):
        paths = [paths]
    sources = open_sources(list(paths), labels)
    try:
        anim = Animation(sources, size)
        steps = anim.steps(every, max_frames)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.part{suffix}")  # a reader never sees half a file
        try:
            n = WRITERS[suffix](anim.render(steps), tmp, float(fps))
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return n
    finally:
        for s in sources:
            s.reader.close()


def render_png(path: Path | str, out: Path | str, step: int | None = None,
               size: tuple[int, int] | float | None = None) -> int:
    """One frame of a recording as a PNG: the last one, or the run as it was at `step`.
    Returns the step drawn."""
    sources = open_sources([path], None)
    try:
        anim = Animation(sources, size)
        reader = sources[0].reader
        at = int(reader.steps[-1]) if step is None else int(frame_at(reader, step).step)
        # events up to the step are shown, the ones of the frame's own step highlighted
        write_png(anim.draw(at), out)
        return at
    finally:
        for s in sources:
            s.reader.close()
