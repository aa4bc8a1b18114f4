"""Distributed-backend fixtures: a real redis-server on a free port of 127.0.0.1, stopped by its
PID after the test (or after the module, for tests that share one)."""

from __future__ import annotations

import pytest

from tests.services import CeleryWorker, RedisServer  # noqa: F401 - re-exported for tests


@pytest.fixture
def redis_server(tmp_path):
    """A server of the test's own: a test may kill or restart it."""
    srv = RedisServer(tmp_path / "redis")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def redis_module(tmp_path_factory):
    """One server for a module's tests; each test should use keys of its own."""
    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    yield srv
    srv.stop()
