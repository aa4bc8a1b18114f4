"""Exports: real recordings from short seeded runs become GIFs and MP4s a player can open, with the
frames, size and motion asked for; comparisons line runs up by step; detector events show as
captions; bad input gets one line naming the problem (`python -m gancore export`, exit 2)."""

from __future__ import annotations

import json

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image, ImageSequence

from gancore.cli import main
from gancore.render import ExportError
from gancore.render.animation import plan_steps
from gancore.render.export import export_animation, render_png
from gancore.run.session import Session
from gancore.store.reader import RunReader
from gancore.store.recording import Recorder
from gancore.teach.presets import get_preset


def _train(path, preset: str, steps: int, every: int) -> None:
    cfg = get_preset(preset).config().with_changes({"frames.record_every": every,
                                                    "train.seed": 7})
    session = Session(cfg, run_id=preset, record_path=path)
    session.state = "running"
    session.train(steps)
    session.close()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    """A 2-D run recorded every 20 steps (16 frames) and a 1-D run every 50 (5 frames)."""
    d = tmp_path_factory.mktemp("export")
    two, one = d / "ring.h5", d / "oned.h5"
    _train(two, "ring8-reference", 300, 20)
    _train(one, "goodfellow-1d", 200, 50)
    return two, one


def _gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_exp001_gif_has_every_recorded_frame_at_the_size_asked_and_moves(recordings, tmp_path):
    out = tmp_path / "ring.gif"
    n = export_animation([recordings[0]], out, fps=10, size=(480, 560))
    frames = _gif_frames(out)
    assert n == len(frames) == 16  # steps 0, 20, ..., 300
    with Image.open(out) as im:
        assert im.size == (480, 560)
        assert im.info["loop"] == 0
    changed = [not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    assert all(changed), "every frame should show a later step (samples and title move)"
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1.0


def test_exp002_mp4_plays_back_through_ffmpeg_with_its_frames(recordings, tmp_path):
    out = tmp_path / "ring.mp4"
    n = export_animation(recordings[0], out, every=2, fps=8)
    assert n == 9  # every 2nd of 16 frames plus the last one
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == n
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    w, h = meta["size"]
    pictures = [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]
    assert len(pictures) == n and w % 2 == 0 and h % 2 == 0
    assert np.abs(pictures[0].astype(int) - pictures[-1].astype(int)).mean() > 1.0


def test_exp003_side_by_side_aligns_runs_by_step(recordings, tmp_path):
    single = tmp_path / "one.gif"
    export_animation([recordings[0]], single, max_frames=2)
    out = tmp_path / "side.gif"
    n = export_animation(list(recordings), out, fps=5, max_frames=6, labels=["2-D", "1-D"])
    with RunReader(recordings[0]) as a, RunReader(recordings[1]) as b:
        expected = plan_steps([a.steps, b.steps], max_frames=6)
    assert n == len(_gif_frames(out)) == 6 and expected[-1] == 300
    with Image.open(out) as im, Image.open(single) as one:
        assert im.size[0] > one.size[0] * 1.8  # two panels side by side
        assert im.size[1] == one.size[1]


def test_exp004_plan_uses_every_step_of_any_run_and_keeps_the_last():
    a, b = np.array([0, 20, 40, 60, 80]), np.array([0, 50, 100])
    assert plan_steps([a, b]) == [0, 20, 40, 50, 60, 80, 100]
    assert plan_steps([a, b], every=3) == [0, 50, 100]
    assert plan_steps([a, b], max_frames=3) == [0, 50, 100]
    with pytest.raises(ExportError, match="every"):
        plan_steps([a], every=0)


def test_exp005_a_detector_event_shows_as_a_caption_once_it_fired(recordings, tmp_path):
    """Copy the real run's frames into a recording with a mode-collapse event at step 160: the
    caption band is empty before it and carries red alert text from then on."""
    src, path = recordings[0], tmp_path / "event.h5"
    with RunReader(src) as r:
        rec = Recorder(path, r.config_json, ["step", "d_loss"], run_id="ring")
        for i in range(len(r)):
            f = r.frame(i)
            if f.step == 160:
                rec.add_event(160, "mode_collapse", "mode collapse at step 160: 3 of 8 modes")
            rec.append_frame(f)
        rec.close()
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    assert render_png(path, before, step=140) == 140
    assert render_png(path, after, step=170) == 160
    band = slice(-int(0.17 * 660), None)  # the caption rows under the plot
    red = np.array([0xC0, 0x39, 0x2B])

    def reddish(p) -> int:
        rgb = np.asarray(Image.open(p).convert("RGB"))[band].astype(int)
        return int((np.abs(rgb - red).sum(axis=2) < 60).sum())

    assert reddish(before) == 0
    assert reddish(after) > 200


def test_exp006_bad_export_input_is_named(recordings, tmp_path):
    with pytest.raises(ExportError, match=r"unknown export format '\.avi'"):
        export_animation([recordings[0]], tmp_path / "x.avi")
    with pytest.raises(ExportError, match="no such recording"):
        export_animation([tmp_path / "missing.h5"], tmp_path / "x.gif")
    empty = tmp_path / "empty.h5"
    Recorder(empty, "{}", ["step"]).close()
    with pytest.raises(ExportError, match="holds no frame"):
        export_animation([empty], tmp_path / "x.gif")
    with pytest.raises(ExportError, match="at most 4"):
        export_animation([recordings[0]] * 5, tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_exp007_cli_exports_and_names_bad_input(recordings, tmp_path, capsys):
    out = tmp_path / "cli.gif"
    assert main(["export", str(recordings[0]), "--gif", str(out), "--every", "3",
                 "--size", "320x380"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frames"] == 6 and Image.open(out).size == (320, 380)
    not_h5 = tmp_path / "notes.h5"
    not_h5.write_text("step,loss\n0,1.0\n")
    cases = [
        (["export", str(tmp_path / "nope.h5"), "--gif", str(out)], "nope.h5: no such recording"),
        (["export", str(not_h5), "--gif", str(out)], "notes.h5: not an HDF5 file"),
        (["export", str(recordings[0])], "one of the arguments --gif --mp4 is required"),
        (["export", str(recordings[0]), "--mp4", str(tmp_path / "a.gif")], "ending in .mp4"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err
