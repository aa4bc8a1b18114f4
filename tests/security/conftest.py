"""Security tests: one real `python -m app` shared by the module's attacks, plain HTTP and
WebSocket clients on 127.0.0.1, and the web process's peak memory checked at the end."""

from __future__ import annotations

import pytest

from tests.servers import AppServer, Client

# The whole security package must leave the web process under this (the budget): every
# bomb is refused before it is inflated, and uploads are parsed in a child process.
WEB_PEAK_MB = 1024


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("security") / "runs"
    srv = AppServer(runs_dir, "--no-spare")
    yield srv
    peak = srv.peak_rss_mb()
    srv.stop()
    print(f"\nweb process peak RSS over tests/security: {peak:.0f} MB")
    assert peak < WEB_PEAK_MB, f"web process peaked at {peak:.0f} MB"


@pytest.fixture
def client(server):
    return Client(server.url)


@pytest.fixture
def other_client(server):
    return Client(server.url)
