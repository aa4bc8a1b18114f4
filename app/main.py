"""Builds the Dash app shell on Flask: pages, assets, the run registry, the frame stream route."""

from __future__ import annotations

import atexit
import json
import signal
import sys
from pathlib import Path

import dash
from dash import Dash, dcc, html
from flask import Response

from app import exports, recordings, runs, session, stream

APP_DIR = Path(__file__).resolve().parent
ROOT = APP_DIR.parent


def create_app(runs_dir: str | Path = "runs", *, per_session: int | None = None,
               total: int | None = None, spare: bool = True) -> Dash:
    """The dashboard with a local registry (one worker process per run) in `runs_dir`."""
    limits = runs.Limits.from_env(per_session=per_session, total=total)
    registry = runs.RunRegistry(runs_dir, limits, runs.LocalBackend(spare=spare))
    runs.set_registry(registry)
    atexit.register(registry.close)

    app = Dash(
        "app",
        use_pages=True,
        pages_folder=str(APP_DIR / "pages"),
        assets_folder=str(ROOT / "assets"),
        eager_loading=True,  # plotly.js as a plain script: assets/draw.js calls Plotly.react
        title="ganscope",
        update_title=None,
        suppress_callback_exceptions=True,
    )
    app.layout = html.Div([dcc.Location(id="_url"), dash.page_container], className="shell")
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = int(limits.upload_bytes * 1.4) + 1_000_000  # base64
    session.install(server)
    stream.register(server)
    exports.register(server)  # /export/...: GIF, MP4, config, CSV downloads
    recordings.register(server)  # /api/recordings/<name>, /api/replay/<name>/...

    @server.get("/api/runs")
    def api_runs():
        """This session's view of the runs (state, step, parent, worker pid): for tools/tests."""
        return Response(json.dumps(registry.list(session.session_id())),
                        mimetype="application/json")

    return app


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Threaded Werkzeug server (WebSockets need a thread each); stops the workers on exit."""
    from werkzeug.serving import run_simple

    def _stop(signum, frame):  # noqa: ARG001
        sys.exit(0)  # runs atexit: the registry stops every worker

    signal.signal(signal.SIGTERM, _stop)
    print(f"ganscope: http://{host}:{port}/", flush=True)
    run_simple(host, port, app.server, threaded=True, use_reloader=False, use_debugger=False)
