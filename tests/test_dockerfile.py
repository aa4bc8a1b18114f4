"""The Dockerfile: it passes hadolint, and it installs and starts the app with the very make
targets a developer uses, so the image cannot drift from the README's two commands."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dk001_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    proc = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dk002_image_installs_and_starts_with_the_make_targets():
    steps = instructions()
    runs = [args for word, args in steps if word == "RUN"]
    assert "make install" in runs
    cmd = [args for word, args in steps if word == "CMD"]
    assert len(cmd) == 1
    argv = eval(cmd[0])  # noqa: S307 - the exec form is a JSON list of strings
    assert argv[:2] == ["make", "run"]
    assert ("EXPOSE", "8050") in steps and "PORT=8050" in argv
    # The make target the image runs starts the dashboard module with those settings.
    dry = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "bin/ganscope --host 0.0.0.0 --port 8050" in dry.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dk003_the_images_start_command_serves_the_dashboard(tmp_path):
    """`make run` as the image runs it (here on 127.0.0.1 and a free port) answers with the page."""
    port = free_port()
    argv = ["make", "run", "HOST=127.0.0.1", f"PORT={port}"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None, f"{shlex.join(argv)} exited: {proc.stdout.read()}"
                time.sleep(0.5)
        else:
            raise AssertionError("make run did not serve the page within 90 s")
        assert b"ganscope" in page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
