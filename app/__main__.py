"""`ganscope` (or `python -m app`): the dashboard on http://127.0.0.1:8050 with the local backend.

Bound beyond loopback (--host 0.0.0.0, to serve a class) it prints a link with a random token
that every browser needs, as Jupyter does; see --token, --no-token and --allow-host."""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="ganscope", description=__doc__)
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
    p.add_argument("--redis", metavar="URL", default=os.environ.get("GANSCOPE_REDIS_URL") or None,
                   help="serve a class: runs train on Celery workers (`gancore worker`) and "
                        "travel through this Redis, e.g. redis://host:6379/0 (env "
                        "GANSCOPE_REDIS_URL). Default: the embedded local backend")
    p.add_argument("--web-processes", type=int, default=1, metavar="N",
                   help="with --redis: N web processes behind this one port (gunicorn, threaded "
                        "workers); any of them serves any tab")
    p.add_argument("--allow-host", action="append", metavar="NAME",
                   default=[h for h in os.environ.get("GANSCOPE_ALLOW_HOSTS", "").split(",")
                            if h.strip()],
                   help="a host name browsers may use to reach this server, besides localhost, "
                        "this machine's own names and any IP address (repeatable; env "
                        "GANSCOPE_ALLOW_HOSTS, comma-separated). Needed for a DNS name such as "
                        "gans.school.example: requests for other names are refused, which stops "
                        "DNS-rebinding pages")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token", default=os.environ.get("GANSCOPE_TOKEN") or None,
                       help="the access token every browser must bring (in the printed link). "
                            "Default: a random one when bound beyond loopback (--host 0.0.0.0), "
                            "none on 127.0.0.1; env GANSCOPE_TOKEN")
    token.add_argument("--no-token", action="store_true",
                       help="serve without a token even when bound beyond loopback: anyone who "
                            "can reach the port can start runs and read recordings")
    p.add_argument("--teacher-key", metavar="KEY",
                   default=os.environ.get("GANSCOPE_TEACHER_KEY") or None,
                   help="the secret the class view (/class: every student's run) asks for; "
                        "students who hold the token cannot open it without this (env "
                        "GANSCOPE_TEACHER_KEY). Default: no key; then the class view needs the "
                        "token, or is open on 127.0.0.1, and is off when served beyond "
                        "loopback with --no-token")
    args = p.parse_args(argv)
    if args.max_tab_fps is not None:
        os.environ["GANSCOPE_MAX_TAB_FPS"] = str(args.max_tab_fps)

    from app.main import create_app, serve
    from app.security import Policy, is_loopback

    try:
        policy = Policy.for_bind(args.host, allow_hosts=args.allow_host, token=args.token,
                                 no_token=args.no_token, teacher_key=args.teacher_key)
    except ValueError as e:
        p.error(str(e))
    if args.no_token and not is_loopback(args.host):
        print(f"ganscope: WARNING: --no-token on {args.host}: anyone who can reach port "
              f"{args.port} can use this server", flush=True)
    class_url = policy.class_url(args.port)
    if class_url and (policy.teacher_key or not is_loopback(args.host)):
        print(f"ganscope: class view (for the teacher only): {class_url}", flush=True)
    if args.web_processes < 1 or (args.web_processes > 1 and not args.redis):
        p.error("--web-processes above 1 needs --redis: processes share runs through Redis")
    settings = {"runs_dir": args.runs_dir, "per_session": args.max_runs_per_session,
                "total": args.max_runs, "spare": not args.no_spare, "policy": policy,
                "redis": args.redis}
    if args.web_processes > 1:
        from app.serving import serve_many

        serve_many(settings, args.host, args.port, args.web_processes)
        return
    serve(create_app(**settings), args.host, args.port)


if __name__ == "__main__":
    main()
