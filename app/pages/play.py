"""The play page: one live run with its controls, views and charts; the URL carries its config.

`/?preset=NAME&play=1` opens and starts a preset, `/?cfg=TEXT` a config (RunConfig.to_url),
`/?run=ID` watches a run (only its owner's browser session can control it). `&lesson=SLUG` adds
the lesson bar (app/components/classroom.py), `&present=1` presenter mode (assets/classroom.js).
"""

from __future__ import annotations

import base64
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, clientside_callback, ctx, dcc, html, no_update

from app import forms, ids
from app.components import classroom, controls, exports, fork_share, notices, views
from app.limits import LimitError, UnknownRun
from app.play_boot import DEFAULT_PRESET, boot_from_run, resolve_boot, run_payload
from app.runs import registry
from app.session import session_id
from app.watched_runs import WatchOnly, is_watched, watch_only_words
from gancore.config import ConfigError, RunConfig
from gancore.data.files import DataFileError
from gancore.run.worker import CommandError
from gancore.teach.presets import PRESETS

dash.register_page(__name__, path="/", title="ganscope", name="Play")

FIELD_ALL = {"type": ids.FIELD, "path": ALL}


def layout(preset: str | None = None, play: str | None = None, cfg: str | None = None,
           run: str | None = None, lesson: str | None = None, **_: Any):
    boot = resolve_boot(preset, play, cfg, run)
    boot_from_run(boot)
    config = RunConfig.from_json(boot["config"])
    return html.Div([
        dcc.Store(id=ids.BOOT, data=boot),
        dcc.Store(id=ids.RUN),
        html.Div(id=ids.URL_SYNC, hidden=True),
        html.Div(id=ids.FORM_SYNC, hidden=True),
        controls.header(boot["preset"]),
        controls.transport(config),
        html.Div([fork_share.bar(), exports.bar()], className="toolrow"),
        html.Div(id=ids.BANNER, className="banner"),
        html.Div(boot["error"], id=ids.NOTICE, className="notice error" if boot["error"] else
                 "notice"),
        classroom.lesson_bar(lesson, boot["preset"]),
        html.Div([
            controls.panel(config),
            html.Div([views.views(config), views.charts()], className="stage"),
        ], className="body"),
    ], className="play")


# ---- helpers ------------------------------------------------

def _notice(text: str, level: str = "info"):
    return html.Div(text, className=f"notice {level}")


def _refusal(e: Exception):
    """A refused control: an error, but for a watched run (its own script trains it) the
    watch-only words as information."""
    return _notice(str(e), "info" if isinstance(e, WatchOnly) else "error")


def _current(run_data: dict | None) -> tuple[str, RunConfig] | None:
    if not run_data or not run_data.get("run"):
        return None
    return run_data["run"], RunConfig.from_json(run_data["config"])


def _field_paths() -> list[str]:
    return [ids.path_of(o["id"]) for o in ctx.outputs_list[1]] if ctx.outputs_list else []


# ---- opening the run ------------------------------------------------

@callback(Output(ids.RUN, "data"), Output(ids.NOTICE, "children"),
          Input(ids.BOOT, "data"))
def open_run(boot: dict):
    """Start the run the URL asks for (paused unless play=1), or attach to a watched run."""
    sid = session_id()
    reg = registry()
    note = _notice(boot["error"], "error") if boot.get("error") else no_update
    if boot.get("watch"):
        try:
            run = reg.get(boot["watch"])
            if is_watched(run):
                note = _notice(watch_only_words(run), "info")
            elif run.owner != sid:
                note = _notice("You are watching a run that belongs to another browser session: "
                               "you can see it, not control it.", "info")
            return run_payload(run, sid), note
        except UnknownRun:
            note = _notice(f"No run '{boot['watch']}' here; opened {DEFAULT_PRESET} instead.",
                           "error")
    try:
        cfg = RunConfig.from_json(boot["config"])
        run = reg.start(sid, cfg, autoplay=bool(boot.get("play")), preset=boot.get("preset"))
    except ConfigError as e:  # a link or a forged store naming a server file, a bad config
        cfg = PRESETS[DEFAULT_PRESET].config()
        note = _notice(f"The config in this link cannot run: {e}. Showing {DEFAULT_PRESET}.",
                       "error")
        try:
            run = reg.start(sid, cfg, autoplay=False, preset=DEFAULT_PRESET)
        except LimitError as err:
            return {"run": None, "config": cfg.to_json(), "error": str(err)}, note
    except LimitError as e:
        return {"run": None, "config": cfg.to_json(), "error": str(e)}, _notice(str(e), "error")
    return run_payload(run, sid), note  # a queued run's place: the banner (assets/stream.js)


@callback(Output(ids.PRESET_WATCH, "children"),
          Output(ids.PRESET, "value", allow_duplicate=True),
          Output(ids.PRESET, "placeholder"),
          Input(ids.RUN, "data"),
          prevent_initial_call="initial_duplicate")
def preset_header(run_data: dict | None):
    """The header names the run's preset only while the run is that preset exactly; a changed
    run (an edit, an upload, a restart) shows '<preset> (changed: ...)' and clears the picker,
    so choosing the preset again brings it back."""
    if not run_data or not run_data.get("config"):
        return no_update, no_update, no_update
    if run_data.get("script"):  # a researcher's own GAN: what to watch is theirs to say
        return (f"{run_data['script']}'s own GAN, trained by its own script: the views, "
                "metrics and detectors are ganscope's, the model and its promise are yours."), \
            no_update, "presets…"
    watch, changed = controls.preset_standing(RunConfig.from_json(run_data["config"]),
                                              run_data.get("preset"))
    if changed:
        return watch, None, f"{changed} (changed)"
    return watch, no_update, "presets…"


@callback(Output(ids.RUN_LABEL, "children"), Input(ids.RUN, "data"))
def run_label(run_data: dict | None):
    if not run_data or not run_data.get("run"):
        return "no run"
    parts = [html.Span(f"run {run_data['run']}", className="run-id")]
    if run_data.get("parent"):
        at = run_data.get("fork_step") or 0
        how = f"from its weights at step {at:,}" if run_data.get("inherited") else \
            f"restarted from step 0 after its {at:,} steps"
        parts.append(html.Span(f"child of {run_data['parent']}, {how}", className="run-parent"))
    if run_data.get("script"):
        parts.append(html.Span(f"watch-only: {run_data['script']}'s script",
                               className="run-watch"))
    elif not run_data.get("owner"):
        parts.append(html.Span("watching (not yours)", className="run-watch"))
    return parts


# ---- the form ------------------------------------------------

@callback(Output(ids.RUN, "data", allow_duplicate=True),
          Output(FIELD_ALL, "value"),
          Output({"type": ids.FIELD_ERROR, "path": ALL}, "children"),
          Output({"type": ids.FIELD_ROW, "path": ALL}, "className"),
          Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(FIELD_ALL, "value"),
          State(ids.RUN, "data"),
          State(ids.NOTICE, "children"),
          prevent_initial_call=True)
def apply_form(values: list, run_data: dict | None, shown: Any = None):
    """Validate every field; the valid changes go to the run (live fields at once, restart
    fields as a child run from step 0), each invalid field is marked with its reason (its
    section opens: see SHOW_INVALID) and named in the notice. The refusal clears once the
    fields are fixed."""
    paths = [ids.path_of(o["id"]) for o in ctx.outputs_list[1]]
    err_paths = [ids.path_of(o["id"]) for o in ctx.outputs_list[2]]
    current = _current(run_data)
    if current is None:
        return no_update, [no_update] * len(paths), [""] * len(err_paths), \
            ["field"] * len(err_paths), no_update
    run_id, base = current
    form = dict(zip(paths, values, strict=True))
    new_values: list = [no_update] * len(paths)
    trigger = ctx.triggered_id
    if isinstance(trigger, dict) and ids.path_of(trigger) == "target.name" \
            and form.get("target.name") != base.target.name and form["target.name"] != "file":
        # Switching target brings the target's own parameter values along.
        for path, value in forms.target_defaults(form["target.name"]).items():
            if path in form:
                form[path] = value
                new_values[paths.index(path)] = forms.widget_value(
                    forms.FIELDS[path], base.with_changes({path: value}))
    cfg, errors = forms.form_config(base, form)
    err_out = [errors.get(p, "") for p in err_paths]
    cls_out = ["field invalid" if p in errors else "field" for p in err_paths]
    refusal = notices.refusal_text(errors) if errors else ""
    if cfg == base:
        if errors:
            note = _notice(refusal, f"error {notices.FORM_REFUSAL}")
        else:
            note = "" if notices.is_form_refusal(shown) else no_update
        return no_update, new_values, err_out, cls_out, note
    sid = session_id()
    reg = registry()
    try:
        run, live, restart = reg.apply(sid, run_id, cfg)
    except PermissionError as e:
        return no_update, new_values, err_out, cls_out, _refusal(e)
    except (CommandError, ValueError, UnknownRun, TimeoutError, RuntimeError) as e:
        return no_update, new_values, err_out, cls_out, _notice(
            f"Not applied: {e}", "error")
    if restart:
        text = notices.restart_text(run, run_id, restart)
    else:
        text = (f"Applied live at step {reg.status(run.run_id)['step']:,}: "
                f"{notices.changed_words(live)}.")
    if errors:
        note = _notice(f"{text} {refusal}", f"error {notices.FORM_REFUSAL}")
    else:
        note = _notice(text, "info" if restart else "ok")
    return run_payload(run, sid), new_values, err_out, cls_out, note


@callback(Output({"type": ids.FIELD_ROW, "path": ALL}, "style"),
          Input(ids.field("target.name"), "value"),
          Input(ids.SHOW_ALL_TARGET, "value"),
          Input({"type": ids.FIELD_ROW, "path": ALL}, "className"))
def target_rows(name: str, show_all: list, classes: list | None = None):
    """Only the parameters the chosen target uses (all of them on request); a field marked
    invalid stays in sight whatever the target."""
    shown = forms.relevant_target_fields(name)
    classes = classes or []
    out = []
    for i, o in enumerate(ctx.outputs_list):
        path = ids.path_of(o["id"])
        invalid = i < len(classes) and "invalid" in str(classes[i])
        hide = path.startswith("target.") and path != "target.name" and not show_all \
            and path not in shown and not invalid
        out.append({"display": "none"} if hide else {})
    return out


@callback(Output(ids.field(forms.PROJECTION), "options"), Input(ids.RUN, "data"))
def projection_options(run_data: dict | None):
    current = _current(run_data)
    if current is None:
        return no_update
    from gancore.config import data_dim

    return forms.projection_choices(max(3, data_dim(current[1])))


# ---- presets, transport, upload ------------------------------------------------

@callback(Output(ids.RUN, "data", allow_duplicate=True),
          Output(FIELD_ALL, "value", allow_duplicate=True),
          Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(ids.PRESET, "value"),
          State(ids.RUN, "data"),
          prevent_initial_call=True)
def choose_preset(name: str, run_data: dict | None):
    """A preset is a fresh run of its config (in the same worker process)."""
    paths = _field_paths()
    if name not in PRESETS:  # also the picker cleared for a changed run (preset_header)
        return no_update, [no_update] * len(paths), no_update
    preset = PRESETS[name]
    cfg = preset.config()
    sid = session_id()
    reg = registry()
    try:
        current = _current(run_data)
        if current is None:
            run = reg.start(sid, cfg, preset=name)
        else:
            playing = reg.status(current[0])["state"] == "running" \
                if reg.get(current[0]).owner == sid else False
            run = reg.replace(sid, current[0], cfg, autoplay=playing, preset=name)
    except (PermissionError, LimitError, CommandError, UnknownRun, TimeoutError,
            RuntimeError) as e:
        return no_update, [no_update] * len(paths), _refusal(e)
    return (run_payload(run, sid), forms.widget_values(cfg, paths),
            _notice(f"Preset {name}: {preset.watch}", "info"))


def _command(run_data: dict | None, op: str, **args):
    current = _current(run_data)
    if current is None:
        return _notice("There is no run to control.", "error")
    try:
        registry().command(session_id(), current[0], op, **args)
    except PermissionError as e:
        return _refusal(e)
    except (CommandError, UnknownRun, TimeoutError, RuntimeError) as e:
        return _notice(f"{op}: {e}", "error")
    return no_update


@callback(Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(ids.PLAY, "n_clicks"), State(ids.RUN, "data"), prevent_initial_call=True)
def play_pause(_n, run_data):
    current = _current(run_data)
    if current is None:
        return _notice("There is no run to play.", "error")
    try:
        state = registry().status(current[0])["state"]
    except UnknownRun as e:
        return _notice(str(e), "error")
    return _command(run_data, "pause" if state == "running" else "resume")


@callback(Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(ids.STEP_D, "n_clicks"), Input(ids.STEP_G, "n_clicks"),
          Input(ids.STEP_BOTH, "n_clicks"), State(ids.RUN, "data"), prevent_initial_call=True)
def step(_d, _g, _b, run_data):
    which = {ids.STEP_D: "d", ids.STEP_G: "g"}.get(ctx.triggered_id, "both")
    return _command(run_data, "step", which=which, n=1)


@callback(Output(ids.RUN, "data", allow_duplicate=True),
          Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(ids.RESET, "n_clicks"), State(ids.RUN, "data"), prevent_initial_call=True)
def reset(_n, run_data):
    """The same config from step 0, as a new run; the old run keeps its recording."""
    current = _current(run_data)
    if current is None:
        return no_update, _notice("There is no run to reset.", "error")
    sid = session_id()
    try:
        run = registry().replace(sid, current[0], current[1],
                                 preset=registry().get(current[0]).preset)
    except (PermissionError, LimitError, CommandError, UnknownRun, TimeoutError,
            RuntimeError) as e:
        return no_update, _refusal(e)
    return run_payload(run, sid), _notice(f"Reset: new run {run.run_id} from step 0.", "info")


@callback(Output(ids.RUN, "data", allow_duplicate=True),
          Output(FIELD_ALL, "value", allow_duplicate=True),
          Output(ids.UPLOAD_INFO, "children"),
          Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(ids.UPLOAD, "contents"),
          State(ids.UPLOAD, "filename"), State(ids.RUN, "data"), State(ids.UPLOAD_COND, "value"),
          prevent_initial_call=True)
def upload(contents: str | None, filename: str | None, run_data: dict | None,
           cond: str | None = None):
    """Train on an uploaded file, conditioned on what `cond` names (columns or an HDF5
    dataset; empty: plain data). A bad file is refused with its reason; the run goes on."""
    paths = _field_paths()
    keep = [no_update] * len(paths)
    if not contents:
        return no_update, keep, no_update, no_update
    name = filename or "upload"
    try:
        raw = base64.b64decode(contents.split(",", 1)[1] if "," in contents else contents)
    except (ValueError, TypeError):
        msg = f"{name}: the upload arrived damaged (not base64); nothing changed"
        return no_update, keep, html.Span(msg, className="bad"), _notice(msg, "error")
    current = _current(run_data)
    if current is None:
        return no_update, keep, no_update, _notice("There is no run to train on it.", "error")
    reg = registry()
    sid = session_id()
    try:
        if reg.get(current[0]).owner != sid:
            raise PermissionError("this run belongs to another browser session")
        saved = reg.save_upload(raw, name, sid, cond if isinstance(cond, str) else None)
        cfg = current[1].with_changes(saved.config_changes())
        run, _, restart = reg.apply(sid, current[0], cfg)
    except (DataFileError, ConfigError) as e:
        msg = f"Upload refused: {e}. The current run goes on unchanged."
        return no_update, keep, html.Span(str(e), className="bad"), _notice(msg, "error")
    except (PermissionError, LimitError, CommandError, UnknownRun, TimeoutError,
            RuntimeError) as e:
        return no_update, keep, no_update, _notice(str(e), "error")
    info = saved.describe(name)
    how = notices.restart_text(run, current[0], restart, "data file") if restart else \
        "Switched live to it."
    return (run_payload(run, sid), forms.widget_values(cfg, paths),
            html.Span(info, className="good"), _notice(f"Training on {info}. {how}", "ok"))


# ---- the browser side: stream subscription and URL ----------------------------

clientside_callback(
    """function(run) { return window.GS ? window.GS.setRun(run) : ""; }""",
    Output(ids.URL_SYNC, "children"),
    Input(ids.RUN, "data"),
)


# A marked field must be in sight: open the section that holds it. In the browser, because a
# section the user folded is closed in the page while Dash still holds it open (html.Details
# does not report a toggle), so an `open` output would not reopen it.
clientside_callback(
    """function(classes) {
        document.querySelectorAll(".panel .field.invalid").forEach(function(row) {
            const section = row.closest("details");
            if (section && !section.open) section.open = true;
        });
        return "";
    }""",
    Output(ids.FORM_SYNC, "children"),
    Input({"type": ids.FIELD_ROW, "path": ALL}, "className"),
    prevent_initial_call=True,
)
