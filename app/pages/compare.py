"""Side by side: 2 to 4 runs in a grid, played, paused and stepped together (app.lockstep), their
config differences in a table and their scalars on shared charts (assets/compare.js). An n-D
run's cell adds its marginals, KS bars, correlation matrices and norm histogram, on the same
scales as the other runs'.

`/compare?presets=A,B[,C,D]&play=1` and `/compare?cfgs=TEXT~TEXT` start runs for this browser
session (link forms: app/comparison.py); `&seed=same` gives every run the first run's seed;
`/compare?runs=ID,ID` shows existing runs (a fork beside its parent opens this way);
`&speed=N` plays N steps per frame (slow motion) instead of full speed.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from app import ids, lockstep
from app.comparison import (
    DEFAULT_PAIR,
    MAX_RUNS,
    Entry,
    compare_share_query,
    config_diff,
    label_entries,
    parse_compare,
    preset_of,
    same_seed,
    show_value,
)
from app.components.exports import side_by_side_bar
from app.components.header import page_header
from app.limits import LimitError, UnknownRun
from app.run_record import Run
from app.runs import registry
from app.session import session_id
from gancore.config import ConfigError, RunConfig
from gancore.run.worker import CommandError
from gancore.vocabulary import RUN_COLORS

dash.register_page(__name__, path="/compare", title="ganscope · compare", name="Compare")

STEP_COUNTS = (1, 10, 100, 1000)
ND_PANELS = (ids.CMP_MARG, ids.CMP_KS, ids.CMP_CORR, ids.CMP_NORM)  # an n-D run's statistics
SPEEDS = (0, 1, 5, 25, 100, 500)
CONTROL_ERRORS = (PermissionError, LimitError, CommandError, UnknownRun, TimeoutError,
                  RuntimeError, ValueError)


def _speed(text: str | None) -> int:
    """`&speed=N` (steps per frame, one of SPEEDS); anything else is full speed."""
    return int(text) if text and text.isdigit() and int(text) in SPEEDS else 0


def layout(runs: str = "", presets: str = "", cfgs: str = "", play: str | None = None,
           seed: str | None = None, speed: str | None = None, **_: Any):
    ask: dict[str, Any] = {
        "runs": [r for r in (runs or "").split(",") if r.strip()], "presets": presets or "",
        "cfgs": cfgs or "", "play": play in ("1", "true", "yes"), "seed": seed,
        "speed": _speed(speed)}
    return html.Div([
        dcc.Store(id=ids.CMP_ASK, data=ask),
        dcc.Store(id=ids.CMP_RUNS),
        html.Div(id=ids.CMP_SYNC, hidden=True),
        page_header(
            "runs side by side, trained in lock-step",
            html.Button("Share link", id=ids.CMP_SHARE, className="btn share-btn",
                        title="a link that reproduces these configs (seeds included)"),
            dcc.Input(id=ids.CMP_SHARE_LINK, type="text", readOnly=True,
                      className="text share-link", placeholder="share link appears here"),
            title="back to the play page"),
        html.Div([
            html.Button("Play all", id=ids.CMP_PLAY, className="btn primary",
                        title="train every run together: each moves only when all have made "
                              "the same number of steps"),
            html.Button("Step all", id=ids.CMP_STEP, className="btn",
                        title="pause, then advance every run by the same number of steps"),
            dcc.Dropdown(id=ids.CMP_STEP_N, value=10, clearable=False, searchable=False,
                         className="dd step-n",
                         options=[{"value": n, "label": f"by {n:,}"} for n in STEP_COUNTS]),
            html.Label("speed", className="inline-label"),
            dcc.Dropdown(id=ids.CMP_SPEED, value=ask["speed"], clearable=False, searchable=False,
                         className="dd speed",
                         options=[{"value": v, "label": "full speed" if v == 0 else
                                   f"{v} steps/frame"} for v in SPEEDS]),
            dcc.Checklist(id=ids.CMP_SAME_SEED, value=[], className="check",
                          options=[{"label": " same seed (the first run's)", "value": "same"}]),
            html.Div(id=ids.CMP_GROUP, className="status cmp-group"),
        ], className="transport"),
        html.Div(id=ids.BANNER, className="banner"),
        html.Div(id=ids.CMP_NOTICE, className="notice"),
        html.Div(id=ids.CMP_DIFF, className="cmp-diff"),
        html.Div(id=ids.CMP_EXPORT),
        html.Div(id=ids.CMP_GRID, className="cmp-grid"),
        html.Div([html.Div(id=i, className="chart") for i in
                  (ids.CMP_CHART_LOSS, ids.CMP_CHART_D, ids.CMP_CHART_COVER)],
                 className="cmp-charts"),
    ], className="compare-page")


# ---- what the page shows ---------------------------------------------------------------------

def _notice(parts: list[str], level: str = "error"):
    parts = [p for p in parts if p]
    return html.Div("; ".join(parts) + ".", className=f"notice {level}") if parts else ""


def _payload(run: Run, label: str, owner: str, own_seed: int | None = None) -> dict[str, Any]:
    return {"run": run.run_id, "config": run.config.to_json(), "kind": run.kind, "label": label,
            "preset": run.preset, "parent": run.parent, "fork_step": run.fork_step,
            "owner": run.owner == owner,
            "own_seed": run.config.train.seed if own_seed is None else own_seed}


def _store(payloads: list[dict], same: bool, playing: bool) -> dict[str, Any]:
    configs = [RunConfig.from_json(p["config"]) for p in payloads]
    return {"runs": payloads, "share": compare_share_query(configs, same), "same_seed": same,
            "playing": playing}


def _existing(run_ids: list[str], sid: str) -> tuple[list[dict], list[str]]:
    """Payloads of runs already training (a fork and its parent), labelled by their relation."""
    reg = registry()
    errors, runs = [], []
    if len(run_ids) > MAX_RUNS:
        errors.append(f"{len(run_ids)} runs asked for, but a comparison shows at most {MAX_RUNS}")
    for rid in run_ids[:MAX_RUNS]:
        try:
            runs.append(reg.get(rid.strip()))
        except UnknownRun:
            errors.append(f"no run '{rid.strip()[:40]}' here (it ended, or the server restarted)")
    shown = {r.run_id for r in runs}
    payloads = []
    for r in runs:
        if r.parent in shown:
            label = f"child @ step {r.fork_step or 0:,}"
        elif any(o.parent == r.run_id for o in runs):
            label = f"parent · {r.preset}" if r.preset else "parent"
        else:
            label = r.preset or ""
        payloads.append((r, label))
    entries = [Entry(r.config, r.preset, label) for r, label in payloads]
    label_entries(entries)
    return [_payload(r, e.label, sid) for (r, _), e in zip(payloads, entries, strict=True)], errors


def _start(entries: list[Entry], sid: str) -> tuple[list[dict], list[str]]:
    reg = registry()
    payloads: list[dict] = []
    errors: list[str] = []
    for e in entries:
        try:
            # No queue here: a comparison's runs move in lock-step, so half of them waiting
            # for slots would hold the other half still.
            run = reg.start(sid, e.config, preset=e.preset, allowance=reg.limits.per_compare,
                            queue=False)
        except ConfigError as err:
            errors.append(f"{e.label or 'a run'} cannot run: {err}")
            continue
        except LimitError as err:
            left = len(entries) - len(payloads)
            errors.append(f"{err} ({left} of the {len(entries)} runs not started)")
            break
        payloads.append(_payload(run, e.label, sid))
    return payloads, errors


def _group(store: dict) -> lockstep.Lockstep:
    return lockstep.group(registry(), session_id(),
                          [str(p["run"]) for p in store["runs"][:MAX_RUNS]])


def _play_label(playing: bool) -> str:
    return "Pause all" if playing else "Play all"


def _at(steps: dict[str, int]) -> str:
    values = sorted(set(steps.values()))
    if not values:
        return ""
    if len(values) == 1:
        return f"all at step {values[0]:,}"
    return "steps " + " / ".join(f"{s:,}" for s in steps.values())


@callback(Output(ids.CMP_RUNS, "data"), Output(ids.CMP_NOTICE, "children"),
          Output(ids.CMP_PLAY, "children"), Output(ids.CMP_SAME_SEED, "value"),
          Input(ids.CMP_ASK, "data"))
def open_compare(ask: dict):
    """Start (or find) the runs the URL asks for; bad parts of the link are named and left out."""
    sid = session_id()
    same = ask.get("seed") == "same"
    if ask.get("runs"):
        payloads, errors = _existing(ask["runs"], sid)
        if not payloads:
            started, more = _start(parse_compare(",".join(DEFAULT_PAIR))[0], sid)
            payloads, errors = started, [*errors, f"showing {' vs '.join(DEFAULT_PAIR)}", *more]
    else:
        entries, errors = parse_compare(ask.get("presets"), ask.get("cfgs"), ask.get("seed"))
        payloads, more = _start(entries, sid)
        errors += more
    if not payloads:
        return None, _notice(errors), "Play all", no_update
    store = _store(payloads, same, False)
    playing = False
    owned = all(p["owner"] for p in payloads)
    if not owned:
        errors.append("these runs belong to another browser session: you can watch them, not "
                      "play or step them (a share link starts your own copy)")
    else:
        reg = registry()
        running = any(reg.status(p["run"])["state"] == "running" for p in payloads)
        if ask.get("play") or running:  # a parent that was training goes on, now in lock-step
            try:
                g = _group(store)
                g.chunk = ask.get("speed") or 0
                g.play()
                playing = True
            except CONTROL_ERRORS as e:
                errors.append(str(e))
    store["playing"] = playing
    return store, _notice(errors), _play_label(playing), ["same"] if same else []


def _cell(i: int, p: dict):
    sub = p["run"] if not p.get("parent") else f"{p['run']} · child of {p['parent']}"
    return html.Div([
        html.Div([
            html.Span(className="cmp-swatch", style={"background": RUN_COLORS[i]}),
            html.Span(p["label"], className="cmp-label"),
            html.Span(sub, className="cmp-sub"),
            html.Span("step 0", id=f"{ids.CMP_AT}-{i}", className="cmp-at",
                      **{"data-step": "-1"}),  # type: ignore[arg-type]  # Dash: data-* untyped
            html.Span(id=f"{ids.CMP_STATE}-{i}", className="cmp-state"),
            html.Button("focus", className="btn small cmp-focus", n_clicks=0,
                        title="give this run the full frame rate (the others update less "
                              "often); click again to share it evenly",
                        **{"data-index": str(i)}),  # type: ignore[arg-type]  # Dash: data-* untyped
        ], className="cmp-head"),
        html.Div(id=f"{ids.CMP_VIEW}-{i}", className=f"plot cmp-view kind-{p['kind']}"),
        *(_nd_panels(i, p) if p["kind"] == "nd" else []),
    ], id=f"{ids.CMP_CELL}-{i}", className="cmp-cell")


def _nd_panels(i: int, p: dict) -> list:
    """An n-D run's statistics under its projection, in the same places in every cell so the
    runs read across: marginals, KS per dimension, correlations, norm histogram. A caption
    names the run again: scrolled down to them, its head is out of sight."""
    return [
        html.Div([html.Span(className="cmp-swatch", style={"background": RUN_COLORS[i]}),
                  f"{p['label']}: statistics (shared scales)"], className="cmp-nd-caption"),
        html.Div([html.Div(id=f"{name}-{i}", className=f"plot cmp-stat {name}")
                  for name in ND_PANELS], className="cmp-nd"),
    ]


def diff_table(payloads: list[dict]):
    """The fields whose values differ between the runs, one column per run."""
    configs = [RunConfig.from_json(p["config"]) for p in payloads]
    rows = config_diff(configs)
    fork = next((p for p in payloads if p.get("parent") in {q["run"] for q in payloads}), None)
    caption = "Config differences" + (
        f" (child forked from its parent at step {fork['fork_step'] or 0:,})" if fork else "")
    if not rows:
        return html.Div(f"{caption}: none, every run has the same config (seed included).",
                        className="diff-none")
    head = html.Tr([html.Th("field")] + [
        html.Th([html.Span(className="cmp-swatch", style={"background": RUN_COLORS[i]}),
                 p["label"]]) for i, p in enumerate(payloads)])
    body = [html.Tr([html.Td(path, className="diff-path")] +
                    [html.Td(show_value(v), title=str(v)) for v in values],
                    **{"data-path": path})  # type: ignore[arg-type]  # Dash: data-* untyped
            for path, values in rows]
    return html.Table([html.Caption(caption), html.Thead(head), html.Tbody(body)],
                      className="diff-table")


@callback(Output(ids.CMP_GRID, "children"), Output(ids.CMP_DIFF, "children"),
          Output(ids.CMP_EXPORT, "children"), Input(ids.CMP_RUNS, "data"))
def render(store: dict | None):
    if not store or not store.get("runs"):
        return [], "", None
    runs = store["runs"]
    return ([_cell(i, p) for i, p in enumerate(runs)], diff_table(runs),
            side_by_side_bar([p["run"] for p in runs]))


# ---- playing and stepping together -------------------------------------------------------------

@callback(Output(ids.CMP_PLAY, "children", allow_duplicate=True),
          Output(ids.CMP_GROUP, "children"),
          Output(ids.CMP_NOTICE, "children", allow_duplicate=True),
          Input(ids.CMP_PLAY, "n_clicks"), State(ids.CMP_SPEED, "value"),
          State(ids.CMP_RUNS, "data"), prevent_initial_call=True)
def play_pause(_n, speed: int, store: dict | None):
    if not store or not store.get("runs"):
        return no_update, no_update, _notice(["There are no runs to play"])
    try:
        g = _group(store)
        if g.playing:
            return "Play all", _at(g.pause()), ""
        g.chunk = speed if speed in SPEEDS else 0
        g.play()
    except CONTROL_ERRORS as e:
        return no_update, no_update, _notice([str(e)])
    return "Pause all", "playing together", ""


@callback(Output(ids.CMP_PLAY, "children", allow_duplicate=True),
          Output(ids.CMP_GROUP, "children", allow_duplicate=True),
          Output(ids.CMP_NOTICE, "children", allow_duplicate=True),
          Input(ids.CMP_STEP, "n_clicks"), State(ids.CMP_STEP_N, "value"),
          State(ids.CMP_RUNS, "data"), prevent_initial_call=True)
def step_all(_n, count: int, store: dict | None):
    if not store or not store.get("runs"):
        return no_update, no_update, _notice(["There are no runs to step"])
    if count not in STEP_COUNTS:  # the dropdown's values only: 10^9 steps held four cores
        return no_update, no_update, _notice([f"step count must be one of "
                                              f"{', '.join(map(str, STEP_COUNTS))}"])
    try:
        g = _group(store)
        steps = g.step(int(count))
    except CONTROL_ERRORS as e:
        return no_update, no_update, _notice([str(e)])
    dropped = [f"{rid} no longer moves: {why}" for rid, why in g.dropped.items()]
    return "Play all", _at(steps), _notice(dropped)


@callback(Output(ids.CMP_NOTICE, "children", allow_duplicate=True),
          Input(ids.CMP_SPEED, "value"), State(ids.CMP_RUNS, "data"), prevent_initial_call=True)
def speed(value: int, store: dict | None):
    if store and store.get("runs"):
        _group(store).chunk = value if value in SPEEDS else 0
    return no_update


@callback(Output(ids.CMP_RUNS, "data", allow_duplicate=True),
          Output(ids.CMP_NOTICE, "children", allow_duplicate=True),
          Output(ids.CMP_PLAY, "children", allow_duplicate=True),
          Input(ids.CMP_SAME_SEED, "value"), State(ids.CMP_RUNS, "data"),
          prevent_initial_call=True)
def choose_seed(value: list, store: dict | None):
    """Same seed on or off: every run starts again from step 0 (in its own process) with the
    first run's seed, or with its own again; the old runs keep their recordings."""
    same = bool(value)
    if not store or not store.get("runs") or same == store.get("same_seed"):
        return no_update, no_update, no_update
    sid, reg = session_id(), registry()
    old = store["runs"]
    g = _group(store)
    was_playing = g.playing
    if not all(p["owner"] for p in old):
        return no_update, _notice(["only the owner of these runs can restart them"]), no_update
    entries = [Entry(RunConfig.from_json(p["config"]), p.get("preset"), p["label"]) for p in old]
    if same:
        entries = same_seed(entries)
    else:
        entries = [Entry(e.config.with_changes({"train.seed": p["own_seed"]}), None, p["label"])
                   for e, p in zip(entries, old, strict=True)]
    lockstep.release(sid, [p["run"] for p in old])
    payloads = []
    try:
        for e, p in zip(entries, old, strict=True):
            preset = preset_of(e.config)
            run = reg.replace(sid, p["run"], e.config, preset=preset)
            payloads.append(_payload(run, e.label if same else p["label"], sid, p["own_seed"]))
    except CONTROL_ERRORS as e:
        return no_update, _notice([f"Not restarted: {e}"]), no_update
    new = _store(payloads, same, False)
    if was_playing:
        try:
            _group(new).play()
            new["playing"] = True
        except CONTROL_ERRORS:
            pass
    seed = RunConfig.from_json(payloads[0]["config"]).train.seed
    note = (f"Same seed: every run restarted from step 0 with seed {seed}" if same else
            "Own seeds: every run restarted from step 0 with its own seed")
    return new, _notice([note], "info"), _play_label(new["playing"])


# ---- the browser side ---------------------------------------------------------------------

clientside_callback(
    """function(store) { return window.GS && GS.setCompare ? GS.setCompare(store) : ""; }""",
    Output(ids.CMP_SYNC, "children"), Input(ids.CMP_RUNS, "data"))

clientside_callback(
    """function(n, store) {
        if (!n || !store || !store.share) return window.dash_clientside.no_update;
        return GS.shareLink("/compare" + store.share, "cmp-share-link");
    }""",
    Output(ids.CMP_SHARE_LINK, "value"), Input(ids.CMP_SHARE, "n_clicks"),
    State(ids.CMP_RUNS, "data"), prevent_initial_call=True)
