"""RGB pictures to files: an animated GIF (Pillow, one palette for the whole animation), an MP4
(the ffmpeg binary the imageio-ffmpeg wheel bundles: no network, no system package) or a PNG."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from gancore.render.style import d_cmap, fit_pixels
from gancore.vocabulary import ALERT, ARROW, FAKE, GRID, INK, MAP, MUTED, REAL

FORMATS = (".gif", ".mp4")  # the animations; a single picture is a PNG
GIF_COLOURS = 96  # a 7-bit palette: smaller LZW codes; the pale D surface still reads


def _palette_from(first: np.ndarray):
    """One palette for the whole GIF: the style's own colours exactly (white, ink, real, fake,
    the alert red of an event caption, ...), so text and samples keep their colour even when
    they first appear later, plus median-cut colours of the first frame and of the D and
    viridis ramps for the rest (antialiasing, the D surface)."""
    from matplotlib import colormaps
    from PIL import Image

    named = ["#ffffff", INK, MUTED, ALERT, REAL, FAKE, GRID, ARROW, MAP, "#9aa0a6", "#c9ccd3"]
    exact = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in named], np.uint8)
    ramps = np.concatenate([d_cmap()(np.linspace(0, 1, 32))[:, :3],
                            colormaps["viridis"](np.linspace(0, 1, 16))[:, :3]])
    ramps = (ramps * 255).astype(np.uint8)
    strip = np.repeat(np.repeat(ramps[None], 8, axis=0), 8, axis=1)  # (8, 8 * n, 3)
    w = first.shape[1]
    pad = np.full((8, w, 3), 255, np.uint8)
    pad[:, : min(w, strip.shape[1])] = strip[:, :w]
    sheet = Image.fromarray(np.concatenate([first, pad]))
    rest = GIF_COLOURS - len(exact)
    palette = sheet.quantize(colors=rest, method=Image.Quantize.MEDIANCUT,
                             dither=Image.Dither.NONE).getpalette()
    assert palette is not None  # quantize() makes a "P" image, which has one
    fitted = palette[: 3 * rest]
    pal = Image.new("P", (1, 1))
    pal.putpalette(exact.ravel().tolist() + fitted)
    return pal


# One palette for the whole animation: no colour flicker between frames, and regions that do not
# change cost almost nothing in the LZW stream.
def _write_gif(frames: Iterator[np.ndarray], out: Path, fps: float) -> int:
    from PIL import Image

    images, palette = [], None
    for rgb in frames:
        if palette is None:
            palette = _palette_from(rgb)
        images.append(Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE))
    if not images:
        return 0
    duration = max(20, round(1000 / fps))
    durations = [duration] * len(images)
    durations[-1] = max(duration, 1500)  # hold the end before the loop starts again
    images[0].save(out, save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return len(images)


def _write_mp4(frames: Iterator[np.ndarray], out: Path, fps: float) -> int:
    import imageio_ffmpeg

    writer = None
    n = 0
    try:
        for rgb in frames:
            h, w = rgb.shape[:2]
            if writer is None:
                # yuv420p (what every player reads) needs even sides: pad with white.
                size = (w + w % 2, h + h % 2)
                writer = imageio_ffmpeg.write_frames(
                    str(out), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                    quality=7, macro_block_size=1, ffmpeg_log_level="error")
                writer.send(None)
            if rgb.shape[1] != size[0] or rgb.shape[0] != size[1]:
                rgb = fit_pixels(rgb, size)
            writer.send(np.ascontiguousarray(rgb))
            n += 1
    finally:
        if writer is not None:
            writer.close()
    return n


WRITERS: dict[str, Callable[[Iterator[np.ndarray], Path, float], int]] = {
    ".gif": _write_gif, ".mp4": _write_mp4}


def write_png(rgb: np.ndarray, out: Path | str) -> None:
    """One picture as a PNG."""
    from PIL import Image

    Image.fromarray(rgb).save(out)
