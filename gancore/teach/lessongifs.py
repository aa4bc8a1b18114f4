"""`make lessons`: one GIF per classroom lesson, its problem preset beside its remedy preset.

Each preset is trained for the lesson's step count in a spawned process (one torch thread each,
so two jobs fill a 2-core machine), recorded into a temporary folder about thirty times, and the
two recordings are exported side by side by `gancore.render.export`. Same presets and seeds,
same GIFs.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gancore.teach.lessons import LESSONS, get_lesson

FRAMES = 30  # recorded frames per run
GIF_FRAMES = 24  # drawn frames per GIF (evenly spread, the last kept): the story, under 1.5 MB
FPS = 5
# Steps per lesson: past the point where its detector events fire (tests/test_presets_phenomena
# has the steps each phenomenon needs) and no further, to keep `make lessons` within minutes.
# A lesson may carry its own `steps`; this table is the fallback.
STEPS = {"mode-collapse": 1500, "mode-hopping": 2400, "swaying": 3000, "forgetting": 2000,
         "goodfellow-1d": 8000, "gan-vs-vae": 2000, "bimodal-6d": 1200, "gaussian-100d": 1200,
         "adagan": 8400}  # AdaGAN: three generators of 2,500 steps and two classifiers
DEFAULT_STEPS = 1500
SCALE = 0.8  # of the export's own layout: 896x528 for two 2-D panels


def lesson_steps(slug: str) -> int:
    return int(getattr(LESSONS[slug], "steps", 0) or STEPS.get(slug, DEFAULT_STEPS))


def _train(job: tuple[str, int, str]) -> tuple[str, float]:
    """Train a preset with a recording (runs in a spawned process)."""
    import torch

    torch.set_num_threads(1)
    from gancore.run.session import Session
    from gancore.teach.presets import get_preset

    preset, steps, path = job
    start = time.perf_counter()
    cfg = get_preset(preset).config().with_changes(
        {"frames.record_every": max(1, steps // FRAMES)})
    session = Session(cfg, run_id=preset, record_path=path)
    session.state = "running"
    session.train(steps)
    session.close()
    return preset, time.perf_counter() - start


def _export(job: tuple[str, str, str, str, str, str]) -> tuple[str, int, int, float]:
    from gancore.render.export import export_animation

    slug, problem_path, remedy_path, problem, remedy, out = job
    start = time.perf_counter()
    n = export_animation([problem_path, remedy_path], out, fps=FPS, size=SCALE,
                         max_frames=GIF_FRAMES,
                         labels=[f"problem · {problem}", f"remedy · {remedy}"])
    return slug, n, Path(out).stat().st_size, time.perf_counter() - start


def make_all(out_dir: str | Path, only: list[str] | None = None, jobs: int = 2,
             progress: Callable[[str], None] = lambda m: None) -> dict:
    """Write <out_dir>/<slug>.gif for every lesson (or `only` these); returns what was written."""
    slugs = [get_lesson(s).slug for s in only] if only else list(LESSONS)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganscope-lessons-") as tmp:
        runs: dict[tuple[str, str], str] = {}  # (slug, preset) -> recording path
        train_jobs = []
        for slug in slugs:
            lesson = LESSONS[slug]
            for side, preset in (("problem", lesson.problem), ("remedy", lesson.remedy)):
                path = str(Path(tmp) / f"{slug}-{side}.h5")
                runs[(slug, side)] = path
                train_jobs.append((preset, lesson_steps(slug), path))
        train_jobs.sort(key=lambda j: -j[1])  # longest first: the pool ends together
        export_jobs = [(s, runs[(s, "problem")], runs[(s, "remedy")], LESSONS[s].problem,
                        LESSONS[s].remedy, str(out_dir / f"{s}.gif")) for s in slugs]
        with mp.get_context("spawn").Pool(jobs) as pool:
            for preset, secs in pool.imap_unordered(_train, train_jobs):
                progress(f"trained {preset} in {secs:.0f} s")
            written = {}
            for slug, n, size, secs in pool.imap_unordered(_export, export_jobs):
                progress(f"wrote {out_dir / slug}.gif: {n} frames, {size / 1e6:.2f} MB, "
                         f"{secs:.0f} s")
                written[slug] = {"path": str(out_dir / f"{slug}.gif"), "frames": n,
                                 "bytes": size}
    return {"lessons": written, "seconds": round(time.perf_counter() - start, 1)}
