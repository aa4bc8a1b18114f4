"""Real servers for tests: `python -m app` in a subprocess on a free port, a plain HTTP client
that speaks Dash's callback protocol, and a way to find a run's worker process.

The browser tests and the security tests both start the app this way: real sockets on
127.0.0.1, real worker processes, nothing mocked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python -m app` in a subprocess: real sockets, real worker processes. `env` adds to the
    server's environment; `ready_path` is fetched until it answers (any HTTP status counts)."""

    def __init__(self, runs_dir: Path, *args: str, tab_fps: float = 5.0,
                 env: dict[str, str] | None = None, ready_path: str = "/api/runs"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs_dir = Path(runs_dir)
        # A run whose page was left pauses after 3 s, not 15: the next test's runs get the CPU.
        full_env = {"GANSCOPE_IDLE_PAUSE_S": "3", **os.environ, "PYTHONPATH": str(ROOT),
                    "GANSCOPE_MAX_TAB_FPS": str(tab_fps), **(env or {})}
        self.log_path = self.runs_dir.parent / f"server-{self.port}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(self.port), "--runs-dir",
             str(self.runs_dir), *args], cwd=ROOT, env=full_env, stdout=self.log,
            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + ready_path, timeout=2).read()
                return
            except urllib.error.HTTPError:
                return  # it answered: a refusal (a token server) is an answer
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"app server exited with {self.proc.returncode}: "
                                       f"{self.output()[-2000:]}") from None
                time.sleep(0.2)
        raise RuntimeError("app server did not answer within 60 s")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def peak_rss_mb(self) -> float:
        """The web process's peak resident memory so far (VmHWM), in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


class Client:
    """One browser session without a browser: a cookie jar, plain HTTP, Dash callbacks."""

    def __init__(self, base: str, headers: dict[str, str] | None = None):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.headers = dict(headers or {})

    def request(self, path: str, data: bytes | None = None, method: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60.0
                ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body); an HTTP error status is returned, not raised."""
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={**self.headers, **(headers or {})})
        try:
            with self.opener.open(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path: str, **kw: Any) -> tuple[int, dict[str, str], bytes]:
        return self.request(path, **kw)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def callback(self, output: str, inputs: list[dict], state: list[dict] | None = None,
                 outputs: list[dict] | dict | None = None, timeout: float = 120.0,
                 headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST one Dash callback as the renderer does. `output` is Dash's output string
        ("run.data" or "..run.data...notice.children.."), `outputs` the parsed form.
        Returns (status, JSON answer or the body text)."""
        if outputs is None:
            ident, _, prop = output.rpartition(".")
            outputs = {"id": ident, "property": prop}
        first = inputs[0][0] if inputs and isinstance(inputs[0], list) and inputs[0] else \
            (inputs[0] if inputs else {})
        ident = first.get("id", "")
        if not isinstance(ident, str):  # a pattern id, as the renderer writes it
            ident = json.dumps(ident, separators=(",", ":"), sort_keys=True)
        changed = [f"{ident}.{first.get('property', '')}"] if first else []
        body = {"output": output, "outputs": outputs, "inputs": inputs, "state": state or [],
                "changedPropIds": changed}
        status, _, raw = self.request("/_dash-update-component", json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json",
                                               **(headers or {})}, timeout=timeout)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def dependency(self, *needles: str, trigger: str | None = None) -> str:
        """The output string Dash registered for a callback whose outputs mention every needle
        (and whose first input's id contains `trigger`): duplicate outputs carry a hash."""
        _, _, body = self.get("/_dash-dependencies")
        for dep in json.loads(body):
            first = json.dumps(dep["inputs"][0]["id"]) if dep["inputs"] else ""
            if all(n in dep["output"] for n in needles) and (trigger is None or trigger in first):
                return dep["output"]
        raise LookupError(f"no callback with outputs {needles} and input {trigger}")

    def call(self, needles: tuple[str, ...], inputs: list, state: list | None = None,
             fields: list[str] = (), trigger: str | None = None) -> tuple[int, Any]:
        """A callback found by `dependency`, its outputs derived from its output string; the
        play page's pattern outputs ("field", "field-error", "field-row") list `fields`."""
        output = self.dependency(*needles, trigger=trigger)
        outputs = []
        for piece in output.strip(".").split("..."):
            ident, _, prop = piece.split("@")[0].rpartition(".")
            if ident.startswith("{"):
                kind = json.loads(ident)["type"]
                outputs.append([{"id": {"path": f.replace(".", "__"), "type": kind},
                                 "property": prop} for f in fields])
            else:
                outputs.append({"id": ident, "property": prop})
        if len(outputs) == 1:
            outputs = outputs[0]
        return self.callback(output, inputs, state, outputs=outputs)

    def open_run(self, config_json: str, *, play: bool = False, preset: str | None = None,
                 watch: str | None = None) -> tuple[int, Any]:
        """The play page's `open_run` callback, as the page sends it after loading: its boot
        store (which a client can forge, so the server must not trust it)."""
        boot = {"preset": preset, "play": play, "watch": watch, "error": "",
                "config": config_json}
        return self.callback("..run.data...notice.children..",
                             [{"id": "boot", "property": "data", "value": boot}],
                             outputs=[{"id": "run", "property": "data"},
                                      {"id": "notice", "property": "children"}])

    def open_preset(self, name: str = "ring8-reference", play: bool = False) -> tuple[int, Any]:
        """Load the play page of a preset and start its run, as a browser would."""
        from gancore.teach.presets import PRESETS

        status, _, _ = self.get(f"/?preset={name}" + ("&play=1" if play else ""))
        if status != 200:
            return status, None
        return self.open_run(PRESETS[name].config().to_json(), play=play, preset=name)


def run_of(answer: Any) -> str | None:
    """The run id an `open_run` answer gives the page (None when it started none)."""
    try:
        return answer["response"]["run"]["data"]["run"]
    except (KeyError, TypeError):
        return None


def worker_pid(runs_dir: Path, run_id: str, timeout: float = 30.0) -> int:
    """The pid of the process that holds a run's recording open (its worker)."""
    target = str((Path(runs_dir) / f"{run_id}.h5").resolve())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return int(pid)
                except OSError:
                    continue
        time.sleep(0.1)
    raise AssertionError(f"no process holds {target} open")


def worker_processes(server_pid: int) -> list[int]:
    """The run workers a server has now: its spawned children (not the resource tracker)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and b"spawn_main" in cmd and b"resource_tracker" not in cmd \
                and stat.rsplit(")", 1)[1].split()[0] != "Z":
            out.append(int(pid))
    return out
