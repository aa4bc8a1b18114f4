"""tests/services.py: the real redis-server the distributed tests start answers on its port, loses
its keys on a restart (no persistence, as we serve it) and leaves no process when stopped."""

from __future__ import annotations

from pathlib import Path

import redis

from tests.services import RedisServer


def test_sv001_redis_server_restarts_empty_on_its_port_and_stops_by_pid(tmp_path):
    srv = RedisServer(tmp_path)
    try:
        assert srv.url == f"redis://127.0.0.1:{srv.port}/0"
        client = redis.Redis.from_url(srv.url)
        client.set("ganscope:probe", b"1")
        assert client.get("ganscope:probe") == b"1"
        first_pid = srv.proc.pid

        srv.restart()
        assert srv.proc.pid != first_pid and not Path(f"/proc/{first_pid}").exists()
        fresh = redis.Redis(port=srv.port)
        assert fresh.ping() and fresh.get("ganscope:probe") is None
        assert srv.cpu_seconds() >= 0.0
        client.close()
        fresh.close()
    finally:
        srv.stop()
    assert srv.proc.returncode is not None and not Path(f"/proc/{srv.proc.pid}").exists()
