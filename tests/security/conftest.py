"""Security tests: real `python -m app` servers, plain HTTP and WebSocket clients on 127.0.0.1,
and every server's peak memory checked when it stops."""

from __future__ import annotations

import pytest

from tests.servers import AppServer, Client

# No web process of the security package may pass this (the budget): every bomb is
# refused before it is inflated, and uploads are parsed in a child process.
WEB_PEAK_MB = 1024
PEAKS: dict[str, float] = {}


def _stop_and_check(srv: AppServer, label: str) -> None:
    peak = srv.peak_rss_mb()
    srv.stop()
    PEAKS[label] = peak
    assert peak < WEB_PEAK_MB, f"{label}: the web process peaked at {peak:.0f} MB"


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """One server the attacks share (limits: 2 runs per session, 4 in all)."""
    srv = AppServer(tmp_path_factory.mktemp("security") / "runs", "--no-spare")
    yield srv
    _stop_and_check(srv, "shared server")


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, for attacks that fill the machine; `start(*args, env=...)`."""
    started: list[AppServer] = []

    def start(*args: str, env: dict[str, str] | None = None) -> AppServer:
        srv = AppServer(tmp_path / f"runs{len(started)}", "--no-spare", *args, env=env)
        started.append(srv)
        return srv

    yield start
    for i, srv in enumerate(started):
        _stop_and_check(srv, f"{tmp_path.name} server {i}")


@pytest.fixture
def client(server):
    return Client(server.url)


@pytest.fixture
def other_client(server):
    return Client(server.url)


def pytest_terminal_summary(terminalreporter):
    if PEAKS:
        worst = max(PEAKS.values())
        terminalreporter.write_line(f"security: web process peak RSS {worst:.0f} MB over "
                                    f"{len(PEAKS)} server(s) (budget {WEB_PEAK_MB} MB)")
