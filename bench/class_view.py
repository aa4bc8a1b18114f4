"""What the class view (/class) costs the web process: its small pictures made from real frames,
the size of /api/class for a class of 30, and what a server-side PNG of the same run would cost
instead (gancore.render, the export path), for the choice in app/class_summary.py.

    .venv/bin/python -m bench.class_view [--repeat 200]

Frames come from real sessions of three presets (2-D, 1-D, n-D) trained a few hundred steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from app import class_summary as cs
from gancore.frames import decode, encode
from gancore.render.export import render_png
from gancore.run.session import Session
from gancore.teach.presets import get_preset

PRESETS = {"2d": "ring8-vanilla-collapse", "1d": "goodfellow-1d", "nd": "bimodal-6d-gan"}
CLASS = 30


def frame_bytes(preset: str, steps: int = 300) -> bytes:
    s = Session(get_preset(preset).config())
    s.state = "running"
    s.train(steps)
    f = s.frame()
    return encode(f, ("fake",) if f.kind == "nd" else ())


def per_picture_ms(blob: bytes, repeat: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        f = decode(blob)
        cs.picture(f)
        cs.newest_event(f)
    return (time.perf_counter() - t0) / repeat * 1e3


def summary_bytes(blob: bytes, kind: str) -> int:
    f = decode(blob)
    s = cs.RunSummary(run="20261207-101010-abcdef", student="ab12", preset=PRESETS[kind],
                      kind=kind, state="running", message="", step=12_345, steps_per_s=210.0,
                      event=cs.newest_event(f), picture=cs.picture(f))
    return len(json.dumps(asdict(s), separators=(",", ":")))


def png_ms(preset: str, folder: Path, repeat: int) -> float:
    """One small PNG (240x180, the smallest the export allows is 160x120) of a recording's last
    frame, as the export route draws it: figure built per picture."""
    path = folder / f"{preset}.h5"
    cfg = get_preset(preset).config().with_changes({"frames.record_every": 50})
    s = Session(cfg, run_id=preset, record_path=str(path))
    s.state = "running"
    s.train(200)
    s.close()
    t0 = time.perf_counter()
    for i in range(repeat):
        render_png(path, folder / f"{i}.png", size=(240, 180))
    return (time.perf_counter() - t0) / repeat * 1e3


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeat", type=int, default=200)
    args = p.parse_args(argv)
    blobs = {kind: frame_bytes(preset) for kind, preset in PRESETS.items()}
    sizes = {}
    for kind, blob in blobs.items():
        ms = per_picture_ms(blob, args.repeat)
        sizes[kind] = summary_bytes(blob, kind)
        print(f"{kind} ({PRESETS[kind]}): frame {len(blob) / 1024:.1f} KB -> summary "
              f"{sizes[kind]} B, picture made in {ms:.2f} ms")
    class_bytes = sum(sizes[k] for k in ("2d", "1d", "nd") for _ in range(CLASS // 3))
    print(f"/api/class for {CLASS} runs (a third of each kind): {class_bytes / 1024:.1f} KB; "
          f"polled twice a second: {2 * class_bytes / 1024:.0f} KB/s per teacher tab")
    with tempfile.TemporaryDirectory() as tmp:
        ms = png_ms(PRESETS["2d"], Path(tmp), max(3, args.repeat // 40))
    print(f"server-side PNG 240x180 of a {PRESETS['2d']} recording: {ms:.0f} ms each; "
          f"{CLASS} runs twice a second would need {2 * CLASS * ms / 1000:.1f} CPU-s per s")


if __name__ == "__main__":
    main()
