"""`python -m app`: the dashboard on http://127.0.0.1:8050 with the local backend."""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    p.add_argument("--host", default=os.environ.get("GANSCOPE_HOST", "127.0.0.1"),
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GANSCOPE_PORT", "8050")))
    p.add_argument("--runs-dir", default=os.environ.get("GANSCOPE_RUNS_DIR", "runs"),
                   help="where recordings and uploads go")
    p.add_argument("--max-runs-per-session", type=int, default=None,
                   help="concurrent runs per browser session (default 2, env "
                        "GANSCOPE_MAX_RUNS_PER_SESSION)")
    p.add_argument("--max-runs", type=int, default=None,
                   help="concurrent runs overall (default 4, env GANSCOPE_MAX_RUNS)")
    p.add_argument("--max-tab-fps", type=float, default=None,
                   help="frames per second one browser tab receives at most (default: no cap "
                        "beyond each run's frame-rate cap; env GANSCOPE_MAX_TAB_FPS)")
    p.add_argument("--no-spare", action="store_true", help="do not keep warm spare workers")
    args = p.parse_args(argv)
    if args.max_tab_fps is not None:
        os.environ["GANSCOPE_MAX_TAB_FPS"] = str(args.max_tab_fps)

    from app.main import create_app, serve

    app = create_app(args.runs_dir, per_session=args.max_runs_per_session, total=args.max_runs,
                     spare=not args.no_spare)
    serve(app, args.host, args.port)


if __name__ == "__main__":
    main()
