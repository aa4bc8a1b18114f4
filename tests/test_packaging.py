"""ganscope installs as a package: its two commands work from any directory, and nothing in the
tests or benches reaches into the checkout through sys.path."""

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_pk001_ganscope_and_gancore_commands_work_from_any_directory(tmp_path):
    serve = _run(str(BIN / "ganscope"), "--help", cwd=tmp_path)
    assert serve.returncode == 0 and "usage: ganscope" in serve.stdout
    assert "--token" in serve.stdout and "--max-runs" in serve.stdout
    engine = _run(str(BIN / "gancore"), "presets", cwd=tmp_path)
    assert engine.returncode == 0 and engine.stdout.startswith("ring8-reference")
    bad = _run(str(BIN / "gancore"), "train", "--preset", "nope", "--steps", "5", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown preset 'nope'" in bad.stderr


def test_pk002_no_sys_path_edits_in_tests_benches_or_tools():
    edits = [f"{p.relative_to(ROOT)}:{i}" for folder in ("tests", "bench", "tools")
             for p in (ROOT / folder).rglob("*.py") if p.name != "test_packaging.py"
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"sys\.path\.(insert|append)", line)]
    assert edits == []


def test_pk003_the_project_carries_its_license():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()
