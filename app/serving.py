"""Several web processes behind one port (gunicorn, threaded workers), for a class on the Redis
backend: runs, sessions and limits live in Redis, so any process serves any tab, and a tab whose
process died reconnects to another. Each process builds its own app after the fork (threads and
Redis connections do not survive a fork)."""

from __future__ import annotations

from typing import Any

# A tab holds one thread for its WebSocket; a class of 30 with a compare page or two each.
THREADS_PER_PROCESS = 128


def serve_many(settings: dict[str, Any], host: str, port: int, processes: int) -> None:
    from gunicorn.app.base import BaseApplication

    from app import security
    from app.main import create_app

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            self.cfg.set("workers", processes)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", THREADS_PER_PROCESS)
            self.cfg.set("timeout", 0)  # WebSockets are long requests; gthread workers beat
            self.cfg.set("graceful_timeout", 5)
            self.cfg.set("preload_app", False)

        def load(self):  # noqa: ANN202 - a WSGI callable, in each worker after the fork
            return create_app(**settings).server

    policy = settings["policy"]
    for url in security.Policy.urls(policy, port):
        print(f"ganscope: {url} ({processes} web processes)", flush=True)
    _Gunicorn().run()
