"""`python -m gancore`: train presets or configs from the shell, list presets, print references.

Bad input exits with status 2 and one line naming the problem, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from gancore.config import ConfigError, RunConfig, iter_fields, parse_assignment
from gancore.data.checks import HDF5_SUFFIXES
from gancore.data.files import DataFileError, load_conditional, parse_path_spec
from gancore.teach.modebench import DEFAULT_STEPS
from gancore.teach.presets import PRESETS, get_preset


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gancore", description="ganscope's GAN engine")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a preset or a config and print final metrics as JSON")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", help="preset name (see `presets`)")
    src.add_argument("--config", help="RunConfig JSON file")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set opt_d.lr=1e-4 (repeatable)")
    t.add_argument("--data", metavar="PATH[:DATASET]",
                   help="train on a CSV, .npy or HDF5 file (HDF5 dataset default /data)")
    cond = t.add_mutually_exclusive_group()
    cond.add_argument("--cond-cols", metavar="COLS",
                      help="with --data: the columns holding each row's condition, counted from "
                           "0 (6:10, -4:, 6,7,8); the rest are the data; makes the run conditional")
    cond.add_argument("--cond-dataset", metavar="/PATH",
                      help="with --data FILE.h5: the dataset holding each row's condition "
                           "(one row per data row); makes the run conditional")
    t.add_argument("--steps", type=int, required=True, help="training steps")
    t.add_argument("--record", metavar="PATH", help="write an HDF5 recording here")
    ev = sub.add_parser("eval", help="print a recording's metrics and events as JSON")
    ev.add_argument("path", help="a ganscope HDF5 recording")
    va = sub.add_parser("validate", help="check that a file is a complete, replayable recording")
    va.add_argument("path", help="a file that should be a ganscope HDF5 recording")
    bm = sub.add_parser("bench-modes", help="mode-coverage table: GAN against its remedies")
    bm.add_argument("--seeds", type=int, default=5)
    bm.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                    help="training steps per run (learning rates cut tenfold at 70%%)")
    bm.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    bm.add_argument("--methods", metavar="NAME,NAME", help="only these rows, comma-separated "
                    "(case ignored), e.g. --methods 'GAN,AdaGAN (4)'; default every method")
    bm.add_argument("--targets", metavar="NAME,NAME", help="only these targets (ring, grid), "
                    "comma-separated; default both")
    ex = sub.add_parser("export", help="animated GIF or MP4 of 1-4 recordings side by side")
    ex.add_argument("paths", nargs="+", metavar="PATH.h5", help="ganscope HDF5 recordings")
    fmt = ex.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--gif", metavar="OUT.gif", help="write an animated GIF here")
    fmt.add_argument("--mp4", metavar="OUT.mp4", help="write an MP4 (H.264) here")
    ex.add_argument("--every", type=int, default=1, help="draw every k-th recorded frame")
    ex.add_argument("--fps", type=int, default=10, help="frames per second of the animation")
    ex.add_argument("--max-frames", type=int, help="at most this many frames, spread evenly")
    ex.add_argument("--size", metavar="WxH", help="picture size in pixels, e.g. 1120x660")
    ex.add_argument("--label", action="append", metavar="TEXT",
                    help="title of each recording's panel, in order (repeatable)")
    ls = sub.add_parser("lessons-gifs", help="train every classroom lesson's problem and remedy "
                        "presets and write one side-by-side GIF per lesson")
    ls.add_argument("out_dir", metavar="OUT_DIR", help="folder for <slug>.gif files")
    ls.add_argument("--only", action="append", metavar="SLUG", help="just these lessons")
    ls.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    lp = sub.add_parser("lessons-period", help="train each classroom lesson's problem and "
                        "remedy presets for a class period on some seeds and check what each "
                        "must show; prints the figure table and every shortfall")
    lp.add_argument("--only", action="append", metavar="SLUG", help="just these lessons")
    lp.add_argument("--seeds", default="0,1,2", metavar="S,S", help="seeds (default 0,1,2)")
    lp.add_argument("--steps", type=int, default=None,
                    help="the first N steps instead of a whole class period")
    lp.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    lp.add_argument("--out", metavar="FILE.md", help="also write the figure table here")
    wk = sub.add_parser("worker", help="serve a class: train runs that a ganscope web tier "
                        "places through Celery and Redis (one run per slot)")
    wk.add_argument("--redis", metavar="URL", default=None,
                    help="the class's Redis, e.g. redis://host:6379/0 (env GANSCOPE_REDIS_URL)")
    wk.add_argument("--runs-dir", default=None, help="the runs folder shared with the web tier "
                    "(a volume; env GANSCOPE_RUNS_DIR, default ./runs)")
    wk.add_argument("--slots", type=int, default=None,
                    help="runs trained at once on this machine (default: its core count)")
    wk.add_argument("--name", default=None, metavar="NAME@HOST",
                    help="the worker's Celery node name (default celery@<host>); give each "
                         "worker on one machine its own")
    sub.add_parser("presets", help="list presets with what to watch")
    sub.add_parser("targets", help="list target distributions")
    sub.add_parser("config-reference", help="print the config reference as a Markdown table")
    return p


def resolve_config(args: argparse.Namespace) -> RunConfig:
    if args.preset:
        cfg = get_preset(args.preset).config()
    else:
        path = Path(args.config)
        if not path.is_file():
            raise ConfigError(f"{args.config}: config file not found")
        cfg = RunConfig.from_json(path.read_bytes())  # bad UTF-8 is a JSON error
    changes = dict(parse_assignment(a) for a in args.set)
    if args.data:
        changes = {**data_changes(args), **changes}  # an explicit --set has the last word
        if changes.get("train.conditional", cfg.train.conditional) and \
                not changes["target.data_cond"]:
            raise UsageError(f"the run is conditional: name the condition of {args.data} with "
                             "--cond-cols COLS (e.g. 6:10) or --cond-dataset /PATH (HDF5)")
    elif args.cond_cols or args.cond_dataset:
        raise UsageError("--cond-cols and --cond-dataset name the condition of a --data file")
    return cfg.with_changes(changes) if changes else cfg


def data_changes(args: argparse.Namespace) -> dict[str, object]:
    """The config changes of --data and its condition: the file target, its data dimension and,
    when a condition is named, a conditional run."""
    data_path, dataset = parse_path_spec(args.data)
    is_hdf5 = data_path.lower().endswith(HDF5_SUFFIXES)
    if args.cond_dataset and not is_hdf5:
        raise UsageError(f"--cond-dataset names an HDF5 dataset, but {args.data} is not an HDF5 "
                         "file; give its condition columns with --cond-cols")
    cond = args.cond_cols
    if args.cond_dataset:
        cond = "/" + args.cond_dataset.strip().lstrip("/")
    data, _ = load_conditional(data_path, dataset, cond)
    changes: dict[str, object] = {"target.name": "file", "target.data_path": data_path,
                                  "target.data_dataset": dataset or "/data",
                                  "target.dim": data.shape[1], "target.data_cond": cond}
    if cond:
        changes["train.conditional"] = True
    return changes


def cmd_train(args: argparse.Namespace) -> dict:
    if args.steps < 0:
        raise UsageError("--steps must be zero or positive")
    cfg = resolve_config(args)  # bad input fails here, before torch is imported

    import torch

    from gancore.run.session import Session

    torch.set_num_threads(1)
    try:
        session = Session(cfg, run_id=args.preset or Path(args.config).stem,
                          record_path=args.record)
    except (ValueError, FileExistsError) as e:  # bad target parameters, data file, record path
        raise ConfigError(str(e)) from None
    session.state = "running"
    start = time.perf_counter()
    done = session.train(args.steps)
    elapsed = time.perf_counter() - start
    if not session.finished:
        session.state, session.message = "done", f"finished at step {session.step:,}"
    frame = session.frame()
    session.close()
    return {"run": session.run_id, "steps": session.step, "state": session.state,
            "message": session.message, "steps_per_s": round(done / elapsed, 1) if elapsed else 0,
            "metrics": frame.scalars, "events": session.events, "record": args.record}


def cmd_eval(args: argparse.Namespace) -> dict:
    from gancore.store.reader import RunReader
    from gancore.store.recording import RecordingError

    try:
        reader = RunReader(args.path)
    except (RecordingError, OSError) as e:
        raise UsageError(str(e)) from None
    with reader:
        if not len(reader):
            raise UsageError(f"{args.path}: the recording holds no frame")
        last = reader.frame(len(reader) - 1)
        columns, rows = reader.scalars()
        return {"run": reader.run_id, "parent": reader.parent_run, "fork_step": reader.fork_step,
                "frames": len(reader), "steps": int(rows[-1, 0]) if len(rows) else last.step,
                "last_frame_step": last.step, "state": last.meta.get("state"),
                "metrics": last.scalars, "events": reader.events(),
                "config": json.loads(reader.config_json)}


def cmd_validate(args: argparse.Namespace) -> dict:
    """The library's upload check (it runs this in a child process): exit 2 naming the problem."""
    from gancore.store.reader import open_recording, validate_recording
    from gancore.store.recording import RecordingError

    try:
        validate_recording(args.path)
        with open_recording(args.path) as reader:
            return {"valid": True, "path": args.path, "run": reader.run_id,
                    "frames": len(reader), "last_frame_step": int(reader.steps[-1])}
    except RecordingError as e:
        raise UsageError(str(e)) from None


def cmd_bench_modes(args: argparse.Namespace) -> str:
    from gancore.teach import modebench

    if args.seeds < 1 or args.steps < 1 or args.jobs < 1:
        raise UsageError("--seeds, --steps and --jobs must be positive")
    methods = None
    if args.methods is not None:
        known = {m.lower(): m for m in modebench.METHODS}
        asked = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in asked if m.lower() not in known]
        if unknown or not asked:
            raise UsageError(f"--methods: unknown method {', '.join(map(repr, unknown))}; "
                             f"choose from {', '.join(modebench.METHODS)}" if unknown else
                             "--methods: name at least one method")
        methods = [known[m.lower()] for m in asked]

    def progress(done, total, r):
        modes = f"{r.modes} mode" + ("" if r.modes == 1 else "s")
        print(f"[{done}/{total}] {r.target} {r.method} seed {r.seed}: {modes}, "
              f"{100 * r.high_quality:.1f}% high quality, reverse KL {r.reverse_kl:.2f}",
              file=sys.stderr, flush=True)

    targets = None
    if args.targets is not None:
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        if not targets or any(t not in modebench.TARGETS for t in targets):
            raise UsageError(f"--targets: choose from {', '.join(modebench.TARGETS)}")
    results = modebench.run_protocol(args.seeds, args.steps, args.jobs, progress, methods,
                                     targets)
    return modebench.table(modebench.summarise(results), args.seeds, args.steps)


def parse_size(text: str | None) -> tuple[int, int] | None:
    """'1120x660' -> (1120, 660)."""
    if text is None:
        return None
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit()):
        raise UsageError(f"--size must look like 1120x660, got {text!r}")
    return int(w), int(h)


def cmd_export(args: argparse.Namespace) -> dict:
    from gancore.render import ExportError
    from gancore.render.export import export_animation

    out = args.gif or args.mp4
    want = ".gif" if args.gif else ".mp4"
    if Path(out).suffix.lower() != want:
        raise UsageError(f"{out}: --{want[1:]} needs a file name ending in {want}")
    if args.every < 1:
        raise UsageError("--every must be 1 or more")
    if args.max_frames is not None and args.max_frames < 1:
        raise UsageError("--max-frames must be 1 or more")
    start = time.perf_counter()
    try:
        n = export_animation(args.paths, out, every=args.every, fps=args.fps,
                             max_frames=args.max_frames, labels=args.label,
                             size=parse_size(args.size))
    except ExportError as e:
        raise UsageError(str(e)) from None
    return {"out": out, "frames": n, "bytes": Path(out).stat().st_size,
            "seconds": round(time.perf_counter() - start, 1)}


def cmd_lessons_gifs(args: argparse.Namespace) -> dict:
    from gancore.teach import lessongifs

    if args.jobs < 1:
        raise UsageError("--jobs must be 1 or more")
    try:
        return lessongifs.make_all(args.out_dir, only=args.only, jobs=args.jobs,
                                   progress=lambda m: print(m, file=sys.stderr, flush=True))
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None


def cmd_lessons_period(args: argparse.Namespace) -> int:
    """Exit 0 when every lesson shows what it declares over the span, 1 when one falls short."""
    from gancore.teach import period
    from gancore.teach.lessons import LESSONS, get_lesson

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        lessons = [get_lesson(s) for s in args.only] if args.only else list(LESSONS.values())
    except ValueError:
        raise UsageError("--seeds must be comma-separated whole numbers, e.g. 0,1,2") from None
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None
    if not seeds or args.jobs < 1 or (args.steps is not None and args.steps < 1):
        raise UsageError("--seeds needs a seed; --jobs and --steps must be positive")
    jobs = period.period_jobs(period.lesson_presets(lessons), seeds, args.steps)

    def progress(r: period.PeriodRun) -> None:
        print(f"{r.preset} seed {r.seed}: {r.steps:,} steps, {r.steps_per_s:.0f} steps/s, "
              f"events {r.event_counts() or 'none'}", file=sys.stderr, flush=True)

    runs = period.train_many(jobs, args.jobs, progress)
    table = period.figure_table(runs)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    failures = [f for lesson in lessons for side in ("problem", "remedy")
                for f in period.lesson_failures(lesson, side, runs)]
    for f in failures:
        print(f"shortfall: {f}")
    return 1 if failures else 0


def cmd_presets() -> str:
    return "\n".join(f"{p.name:26s} {p.watch}" for p in PRESETS.values())


def cmd_targets() -> str:
    from gancore.data.targets import TARGETS

    return "\n".join(f"{name:22s} {spec.family:5s} {spec.doc}" for name, spec in TARGETS.items())


def config_reference() -> str:
    """The config table of docs/config.md, generated from the fields' own docs (a test keeps them
    equal)."""
    lines = ["| field | default | allowed | live | what it does |", "|---|---|---|---|---|"]
    for path, info, ann in iter_fields():
        bounds = [f"{k} {getattr(m, k)}" for m in info.metadata for k in ("ge", "gt", "le", "lt")
                  if getattr(m, k, None) is not None]
        choices = getattr(ann, "__args__", None)
        allowed = " / ".join(map(str, choices)) if choices and all(isinstance(c, str)
                                                                     for c in choices) else ""
        allowed = allowed or ", ".join(bounds).replace("ge ", "≥ ").replace("le ", "≤ ") \
            .replace("gt ", "> ").replace("lt ", "< ")
        live = "live" if (info.json_schema_extra or {}).get("live") else "restart"
        default = json.dumps(info.get_default(call_default_factory=True))
        lines.append(f"| `{path}` | `{default}` | {allowed} | {live} | {info.description} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            print(json.dumps(cmd_train(args), default=_json_default))
        elif args.command == "eval":
            print(json.dumps(cmd_eval(args), default=_json_default))
        elif args.command == "validate":
            print(json.dumps(cmd_validate(args)))
        elif args.command == "export":
            print(json.dumps(cmd_export(args)))
        elif args.command == "lessons-gifs":
            print(json.dumps(cmd_lessons_gifs(args)))
        elif args.command == "bench-modes":
            print(cmd_bench_modes(args))
        elif args.command == "lessons-period":
            return cmd_lessons_period(args)
        elif args.command == "worker":
            return cmd_worker(args)
        elif args.command == "presets":
            print(cmd_presets())
        elif args.command == "targets":
            print(cmd_targets())
        elif args.command == "config-reference":
            print(config_reference())
        return 0
    except (UsageError, ConfigError, DataFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a bug still reaches the user as one line
        print(f"error: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


def cmd_worker(args: argparse.Namespace) -> int:
    """A Celery worker (gancore.run.celery_worker) with one pool process per slot; it returns
    when the worker is stopped (SIGTERM finishes, a second one kills)."""
    import os

    from gancore.run.placement import redis_url

    url = redis_url(args.redis)
    if not url:
        raise UsageError("worker: give --redis URL (or set GANSCOPE_REDIS_URL)")
    os.environ["GANSCOPE_REDIS_URL"] = url
    if args.runs_dir:
        os.environ["GANSCOPE_RUNS_DIR"] = args.runs_dir
    slots = args.slots or os.cpu_count() or 1
    if slots < 1:
        raise UsageError("worker: --slots must be at least 1")
    from gancore.run.celery_worker import app

    app.worker_main(["worker", "--pool", "prefork", "--concurrency", str(slots),
                     "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", *(["-n", args.name] if args.name else [])])
    return 0


def _json_default(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


def console() -> None:
    """The `gancore` console script (pyproject.toml): `main`'s answer is the exit status."""
    raise SystemExit(main())
