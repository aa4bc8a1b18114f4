"""`python -m gancore`: trains presets, configs and data files and prints one JSON line; bad input
exits with status 2 and one `error:` line naming the problem, never a traceback."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gancore.cli import main
from gancore.config import iter_fields
from gancore.data.targets import TARGETS
from gancore.teach.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _run_module(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gancore", *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _one_json_line(out: str) -> dict:
    lines = out.splitlines()
    assert len(lines) == 1, out
    return json.loads(lines[0])


@pytest.fixture(scope="module", autouse=True)
def recorded_run(tmp_path_factory: pytest.TempPathFactory):
    """`python -m gancore train ... --record` in a real process, started before the first test of
    this file so its ~8 s (importing torch, building the run) overlap the in-process tests."""
    record = tmp_path_factory.mktemp("cli") / "run.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gancore", "train", "--preset", "ring8-reference", "--steps", "30",
         "--record", str(record)],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc, record
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


# --- training --------------------------------------------------------------------------------


def test_train_on_a_csv_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 2)) * 0.1 + rng.choice([-1.0, 1.0], size=(200, 1))
    csv = tmp_path / "points.csv"
    np.savetxt(csv, points, delimiter=",")
    rc = main(["train", "--preset", "ring8-reference", "--data", str(csv), "--steps", "5"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    result = _one_json_line(out)
    assert result["steps"] == 5
    assert result["state"] == "done"
    assert math.isfinite(result["metrics"]["d_loss"])


# --- bad input -------------------------------------------------------------------------------

TRAIN = ["train", "--preset", "ring8-reference", "--steps", "1"]


def _write_bad_files(tmp: Path) -> None:
    (tmp / "bad.json").write_text("{not json")
    (tmp / "binary.json").write_bytes(b"\xff\xfe\x00{")
    (tmp / "wrong.json").write_text('{"latent": {"dim": 0}}')
    (tmp / "ragged.csv").write_text("1,2\n3,4\n5\n")
    (tmp / "words.csv").write_text("1,2\nx,y\n")


BAD_INPUT = [
    pytest.param(["train", "--preset", "nope", "--steps", "1"], ["nope", *PRESETS],
                 id="unknown preset"),
    pytest.param([*TRAIN, "--set", "latent.dim=999"], ["latent.dim", "256"], id="out of range"),
    pytest.param([*TRAIN, "--set", "foo.bar=1"], ["foo.bar", "unknown config key"],
                 id="unknown key"),
    pytest.param([*TRAIN, "--set", "latent.dim"], ["key=value"], id="no equals sign"),
    pytest.param([*TRAIN, "--set", "loss.name=nope"], ["loss.name", "wgan_gp"],
                 id="unknown loss"),
    pytest.param([*TRAIN, "--set", "latent.dim=" + "9" * 5000], ["latent.dim"],
                 id="5000-digit number"),
    pytest.param([*TRAIN, "--set", "target.name=a\nb"], ["target.name"],
                 id="newline in a value"),
    pytest.param(["train", "--config", "missing.json", "--steps", "1"],
                 ["missing.json", "not found"], id="missing config"),
    pytest.param(["train", "--config", "@bad.json", "--steps", "1"], ["JSON"],
                 id="invalid JSON"),
    pytest.param(["train", "--config", "@binary.json", "--steps", "1"], ["JSON"],
                 id="config not UTF-8"),
    pytest.param(["train", "--config", "@wrong.json", "--steps", "1"], ["latent.dim"],
                 id="config with a bad value"),
    pytest.param([*TRAIN, "--data", "@ragged.csv"], ["ragged.csv", "line 3", "column"],
                 id="ragged CSV"),
    pytest.param([*TRAIN, "--data", "@words.csv"], ["words.csv", "line 2"],
                 id="CSV with words"),
    pytest.param([*TRAIN, "--data", "missing.csv"], ["missing.csv", "not found"],
                 id="missing data file"),
    pytest.param(["train", "--preset", "ring8-reference"], ["--steps"], id="steps missing"),
    pytest.param(["train", "--preset", "ring8-reference", "--steps", "-5"], ["--steps"],
                 id="negative steps"),
    pytest.param(["train", "--preset", "ring8-reference", "--steps", "ten"], ["--steps"],
                 id="steps not a number"),
    pytest.param(["train", "--steps", "1"], ["--preset", "--config"], id="no preset or config"),
    pytest.param(["train", "--preset", "circle", "--config", "x.json", "--steps", "1"],
                 ["--config", "not allowed"], id="preset and config"),
    pytest.param(["bench-modes", "--seeds", "0"], ["--seeds", "positive"],
                 id="bench-modes without seeds"),
    pytest.param(["frobnicate"], ["frobnicate"], id="unknown command"),
    pytest.param([], ["command"], id="no command"),
]


@pytest.mark.parametrize(("argv", "words"), BAD_INPUT)
def test_bad_input_exits_2_with_one_line(argv: list[str], words: list[str], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # "missing.json" and "missing.csv" really are missing
    _write_bad_files(tmp_path)
    argv = [str(tmp_path / a[1:]) if a.startswith("@") else a for a in argv]  # "@name": a file
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == 2, err
    assert out == ""
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith("error:"), err
    assert "Traceback" not in err
    assert len(err) < 800, err
    for word in words:
        assert word in err, f"{word!r} missing from {err!r}"


def test_bad_input_from_the_shell_exits_2_without_traceback() -> None:
    proc = _run_module("train", "--preset", "nope", "--steps", "1", timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: unknown preset 'nope'")
    assert len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr


# --- listings --------------------------------------------------------------------------------


def test_presets_lists_every_preset_with_its_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PRESETS)
    for line, preset in zip(lines, PRESETS.values(), strict=True):
        assert line.split()[0] == preset.name
        assert line.endswith(preset.watch)


def test_targets_lists_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["targets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(TARGETS)
    for line, spec in zip(lines, TARGETS.values(), strict=True):
        assert line.endswith(spec.doc)


def test_config_reference_is_a_markdown_table_with_a_row_per_field(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-reference"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rule, *rows = lines
    assert header == "| field | default | allowed | live | what it does |"
    assert rule == "|---|---|---|---|---|"
    fields = list(iter_fields())
    assert len(rows) == len(fields)
    for row, (path, info, _) in zip(rows, fields, strict=True):
        cells = [c.strip() for c in row.split("|")]
        assert cells[0] == cells[-1] == "" and len(cells) == 7, row  # no stray "|" in a cell
        assert cells[1] == f"`{path}`"
        assert cells[4] == ("live" if info.json_schema_extra["live"] else "restart")
        assert cells[5] == info.description
    by_path = {r.split("|")[1].strip(" `"): r for r in rows}
    assert "≤ 256" in by_path["latent.dim"]
    assert "minimax / non_saturating" in by_path["loss.name"]
    assert "`256`" in by_path["train.batch_size"]


# --- the real process (last: it had the whole file to finish in the background) ----------------


def test_train_preset_with_recording_prints_one_json_line(recorded_run) -> None:
    proc, record = recorded_run
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    result = _one_json_line(out)
    assert result["steps"] == 30
    assert result["state"] == "done"
    assert isinstance(result["events"], list)
    metrics = result["metrics"]
    for key in ("d_loss", "g_loss", "modes"):
        assert key in metrics, metrics
    assert math.isfinite(metrics["d_loss"]) and math.isfinite(metrics["g_loss"])
    assert 0 <= metrics["modes"] <= 8
    assert record.is_file()
    assert record.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # an HDF5 file


def test_train_and_eval_carry_metrics_and_detector_events(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sway-1d swings away from the data within its first 100 steps: the event reaches both the
    train line and the recording's eval."""
    record = tmp_path / "sway.h5"
    assert main(["train", "--preset", "sway-1d", "--steps", "150", "--record", str(record)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert "swaying" in [e["kind"] for e in line["events"]]
    assert {"wasserstein", "kl", "js", "modes"} <= set(line["metrics"])
    assert main(["eval", str(record)]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["steps"] == 150 and ev["frames"] >= 2
    assert "swaying" in [e["kind"] for e in ev["events"]]
    assert {"wasserstein", "d_loss", "modes"} <= set(ev["metrics"])


def test_eval_refuses_a_file_that_is_not_a_recording(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.h5"
    bad.write_text("hello")
    assert main(["eval", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an HDF5 file" in err[0]
