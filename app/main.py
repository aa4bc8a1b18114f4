"""Builds the Dash app shell on Flask: pages, assets, the run registry, the frame stream route."""

from __future__ import annotations

import atexit
import json
import re
import signal
import sys
from fnmatch import fnmatch
from pathlib import Path

import dash
from dash import Dash, dcc, html
from flask import Response, request

from app import class_summary, exports, recordings, runs, security, session, stream
from app.backends.local import LocalBackend
from app.components import nav
from app.limits import Limits
from app.watch_ingest import register as register_watch_ingest
from app.watched_runs import WatchedRegistry, WatchedRuns

APP_DIR = Path(__file__).resolve().parent
ROOT = APP_DIR.parent


def create_app(runs_dir: str | Path = "runs", *, per_session: int | None = None,
               total: int | None = None, spare: bool = True,
               policy: security.Policy | None = None, redis: str | None = None) -> Dash:
    """The dashboard with its run registry in `runs_dir`: local (one worker process per run on
    this machine), or with `redis` a URL, shared by every web process of a class (Celery places
    the runs on worker machines, Redis carries them; app.shared_runs).
    `policy` says which hosts, origins and token it accepts (default: loopback, no token)."""
    policy = policy or security.Policy()
    limits = Limits.for_serving(not security.is_loopback(policy.bind),
                                     per_session=per_session, total=total)
    registry = _registry(runs_dir, limits, spare, redis)
    runs.set_registry(registry)
    atexit.register(registry.close)

    app = Dash(
        "app",
        use_pages=True,
        pages_folder=str(APP_DIR / "pages"),
        assets_folder=str(ROOT / "assets"),
        eager_loading=True,  # plotly.js as a plain script: assets/draw.js calls Plotly.react
        title="ganscope",
        update_title=None,  # type: ignore[arg-type]  # Dash documents None; its type says str
        suppress_callback_exceptions=True,
    )
    app.layout = html.Div([dcc.Location(id="_url"), nav.bar(), dash.page_container],
                          className="shell")
    server = app.server
    server.after_request(_not_found_status)
    server.config["MAX_CONTENT_LENGTH"] = int(limits.upload_bytes * 1.4) + 1_000_000  # base64
    key = security.load_key(runs_dir)
    security.install(app, policy, key)
    session.install(server, key)
    stream.register(server)
    exports.register(server)  # /export/...: GIF, MP4, config, CSV downloads
    recordings.register(server)  # /api/recordings/<name>, /api/replay/<name>/...
    class_summary.register(server)  # /api/class: every live run for the teacher's /class
    # /api/watch...: a researcher's own script streams its run in (after security.install)
    register_watch_ingest(server, lambda: getattr(runs.registry(), "watched", None))

    @server.get("/api/runs")
    def api_runs():
        """This session's own runs (state, step, parent, config; no pids or paths): for tools
        and tests."""
        return Response(json.dumps(registry.list(session.session_id())),
                        mimetype="application/json")

    return app


def known_page(path: str) -> bool:
    """Whether a path is one of the registered pages (as Dash's router matches them: exact
    paths, or a page's path template); the 404 page itself is not."""
    want = path.strip("/")
    for page in dash.page_registry.values():
        if page["module"].endswith("not_found_404"):
            continue
        template = page.get("path_template")
        if template and fnmatch(want, re.sub("<.*?>", "*", template.strip("/"))):
            return True
        if want == page["path"].strip("/"):
            return True
    return False


def _not_found_status(response: Response) -> Response:
    """Dash answers every path with its page shell (200) and shows the 404 page in the browser;
    an unknown page gets the 404 status too, for tools, crawlers and the browser's history."""
    view = request.url_rule.endpoint if request.url_rule else ""
    if view.endswith("<path:path>") and response.status_code == 200 and \
            not known_page(request.path):
        response.status_code = 404
    return response


def _registry(runs_dir: str | Path, limits: Limits, spare: bool,
              redis: str | None) -> runs.RunRegistry:
    if not redis:
        return WatchedRegistry(runs_dir, limits, LocalBackend(spare=spare),
                               WatchedRuns(runs_dir))
    from app.backends.redis import RedisBackend
    from app.watched_shared import SharedWatchedRegistry  # the shared registry + watched runs

    backend = RedisBackend(redis, runs_dir, limits.idle_pause_s, limits.idle_stop_s)
    return SharedWatchedRegistry(runs_dir, limits, backend)


def serve(app: Dash, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Threaded Werkzeug server (WebSockets need a thread each); stops the workers on exit.
    Prints the links to open, with the token when the server needs one."""
    from werkzeug.serving import run_simple

    def _stop(signum, frame):  # noqa: ARG001
        sys.exit(0)  # runs atexit: the registry stops every worker

    signal.signal(signal.SIGTERM, _stop)
    for url in security.policy_of(app.server).urls(port):
        print(f"ganscope: {url}", flush=True)
    run_simple(host, port, app.server, threaded=True, use_reloader=False, use_debugger=False)
