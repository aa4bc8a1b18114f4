"""The recordings library: every recording in the runs directory with its config, steps, final
metrics and events; open (replay), download, delete, pick two to replay side by side, upload.

The files, the checks and the routes are app/recordings.py; this page only lists and asks.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import quote

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from app import ids
from app.components.header import page_header
from app.recordings import NoRecording, RecordingRefused, library, state_words
from app.session import session_id

dash.register_page(__name__, path="/library", title="ganscope · library", name="Library")

FIRST_EVENTS = 3
# The final metrics a row shows (label, summary key, format); absent keys are skipped.
FINAL = (("D loss", "d_loss", "{:.3f}"), ("G loss", "g_loss", "{:.3f}"),
         ("high quality", "high_quality", "{:.0%}"), ("reverse KL", "reverse_kl", "{:.3f}"),
         ("JS", "js", "{:.3f}"), ("W1", "wasserstein", "{:.3f}"), ("KS mean", "ks_mean", "{:.3f}"))


def _notice(text: str, level: str = "info"):
    return html.Div(text, className=f"notice {level}")


def layout(**_: Any):
    return html.Div([
        dcc.Store(id=ids.LIB_PENDING),
        page_header("recordings library: replay, compare, download, upload"),
        html.Div(id=ids.LIB_NOTICE, className="notice"),
        html.Div([
            dcc.Upload(id=ids.LIB_UPLOAD, className="upload lib-upload", multiple=False,
                       children=html.Div(["Upload a recording: drop a ganscope ", html.B(".h5"),
                                          " file here or ", html.A("choose one")])),
            html.A("Replay the two picked side by side", id=ids.LIB_COMPARE, href="",
                   className="btn lib-compare disabled"),
        ], className="lib-bar"),
        html.Div(id=ids.LIB_CONFIRM, className="lib-confirm", hidden=True, children=[
            html.Span(id="lib-confirm-text"),
            html.Button("Delete", id=ids.LIB_CONFIRM_YES, className="btn danger"),
            html.Button("Cancel", id=ids.LIB_CONFIRM_NO, className="btn"),
        ]),
        html.Div(table(library().entries()), id=ids.LIB_TABLE, className="lib-table-wrap"),
    ], className="library-page")


# ---- the table ------------------------------------------------------------------------------

def _created(text: str) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return text or "?"


def _config_cell(s: dict) -> list:
    target = f"{s['target']} ({s['dim']}-D)" if s["dim"] else s["target"]
    model = "VAE" if s["model"] == "vae" else f"GAN · {s['loss']}"
    parts = [html.Div(target, className="lib-target"), html.Div(model)]
    if s["remedies"]:
        parts.append(html.Div(" + ".join(s["remedies"]), className="lib-remedies"))
    if s["preset"]:
        parts.append(html.Div(["preset ", html.B(s["preset"])], className="lib-preset"))
    if s.get("label"):
        parts.append(html.Div(["own script ", html.B(s["label"])], className="lib-preset"))
    return parts


def _final_cell(s: dict) -> list:
    f = s["final"]
    out = []
    if "modes" in f and f["modes"] is not None and s.get("modes_total"):
        out.append(html.Div(f"modes {f['modes']:.0f}/{s['modes_total']}"))
    for label, k, fmt in FINAL:
        if f.get(k) is not None:
            out.append(html.Div(f"{label} {fmt.format(f[k])}"))
    return out or ["—"]


def _events_cell(s: dict) -> list:
    if not s["events"]:
        return [html.Span("none", className="muted")]
    items = [html.Li(e["message"] if f"step {e['step']:,}" in e["message"] else
                     f"step {e['step']:,}: {e['message'] or e['kind']}")
             for e in s["first_events"]]
    more = s["events"] - len(s["first_events"])
    return [html.Div(f"{s['events']} event{'s' if s['events'] != 1 else ''}",
                     className="lib-event-count"),
            html.Ul(items + ([html.Li(f"… {more} more", className="muted")] if more else []),
                    className="lib-events")]


def _row(entry: dict) -> html.Tr:
    name, s, live = entry["name"], entry["summary"], entry["live"]
    key = ids.rec_key(name)
    href = quote(name)
    actions = [html.A("Open", href=f"/replay?rec={href}", className="btn small lib-open"),
               html.A("Download", href=f"/api/recordings/{href}", className="btn small lib-dl",
                      download=name),
               html.Button("Delete", id={"type": ids.LIB_DELETE, "rec": key},
                           className="btn small lib-del")]
    pick = dcc.Checklist(id={"type": ids.LIB_PICK, "rec": key}, options=[
        {"label": "", "value": name}], value=[], className="lib-pick")
    title = [html.Div(name, className="lib-name")]
    if live:
        title.append(html.Div(f"live: run {live['run']} is {state_words(live['state'])}",
                              className="lib-live"))
    if s is None:
        return html.Tr([html.Td(""), html.Td(title),
                        html.Td(f"cannot be read: {entry['error']}", colSpan=4,
                                className="lib-error"),
                        html.Td(actions[1:] if entry["named"] else [], className="lib-actions")],
                       **{"data-rec": name}, className="lib-row unreadable")
    title.append(html.Div(f"run {s['run_id']} · {_created(s['created'])}",
                          className="muted small"))
    if s["parent"]:
        fork = f" @ step {s['fork_step']:,}" if s["fork_step"] is not None else ""
        title.append(html.Div(f"child of {s['parent']}{fork}", className="lib-parent"))
    steps = [html.Div(f"{s['steps']:,}", className="lib-steps"),
             html.Div(f"{s['frames']:,} frames · {s['size_bytes'] / 1e6:.1f} MB",
                      className="muted small")]
    return html.Tr([html.Td(pick), html.Td(title), html.Td(_config_cell(s)), html.Td(steps),
                    html.Td(_final_cell(s), className="lib-final"), html.Td(_events_cell(s)),
                    html.Td(actions, className="lib-actions")],
                   **{"data-rec": name}, className="lib-row")


def table(entries: list[dict]):
    if not entries:
        return html.Div("No recordings yet: every run of the play page records itself here, and "
                        "`python -m gancore train --record PATH.h5` files can be uploaded.",
                        className="lib-empty")
    head = html.Thead(html.Tr([html.Th("pick"), html.Th("recording"), html.Th("config"),
                               html.Th("steps"), html.Th("final metrics"), html.Th("events"),
                               html.Th("")]))
    return html.Table([head, html.Tbody([_row(e) for e in entries])], className="lib-table")


def _refresh():
    return table(library().entries())


# ---- callbacks ------------------------------------------------------------------------------

def _clicked() -> bool:
    """A pattern-matched callback also fires when its buttons are (re)drawn; only a click counts."""
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


@callback(Output(ids.LIB_PENDING, "data"), Output(ids.LIB_CONFIRM, "hidden"),
          Output("lib-confirm-text", "children"), Output(ids.LIB_NOTICE, "children"),
          Input({"type": ids.LIB_DELETE, "rec": ALL}, "n_clicks"), prevent_initial_call=True)
def ask_delete(_clicks):
    """Delete asks first; a recording whose run still trains is refused at once."""
    if not _clicked() or not isinstance(ctx.triggered_id, dict):
        return no_update, no_update, no_update, no_update
    name = ids.rec_name(ctx.triggered_id)
    if not library().may_delete(name, session_id()):
        return None, True, "", _notice(
            f"Cannot delete {name}: it belongs to another browser session; only the session "
            "that made or uploaded it can delete it.", "error")
    live = library().live(name)
    if live:
        return None, True, "", _notice(
            f"Cannot delete {name}: its run {live['run']} is still {state_words(live['state'])}"
            ". A training "
            "run's recording cannot be deleted; close its play page (the run stops when nobody "
            "watches it) and delete it then.", "error")
    return name, False, f"Delete {name}? The file is removed for good.", ""


@callback(Output(ids.LIB_TABLE, "children"), Output(ids.LIB_PENDING, "data", allow_duplicate=True),
          Output(ids.LIB_CONFIRM, "hidden", allow_duplicate=True),
          Output(ids.LIB_NOTICE, "children", allow_duplicate=True),
          Input(ids.LIB_CONFIRM_YES, "n_clicks"), Input(ids.LIB_CONFIRM_NO, "n_clicks"),
          State(ids.LIB_PENDING, "data"), prevent_initial_call=True)
def confirm_delete(_yes, _no, name: str | None):
    if ctx.triggered_id == ids.LIB_CONFIRM_NO or not name:
        return no_update, None, True, ""
    try:
        library().delete(name, session_id())
    except (RecordingRefused, NoRecording) as e:
        return _refresh(), None, True, _notice(f"Not deleted: {e}", "error")
    except OSError as e:
        return _refresh(), None, True, _notice(f"Not deleted: {name}: {e.strerror}", "error")
    return _refresh(), None, True, _notice(f"Deleted {name}.", "ok")


@callback(Output(ids.LIB_COMPARE, "href"), Output(ids.LIB_COMPARE, "className"),
          Output(ids.LIB_COMPARE, "children"),
          Input({"type": ids.LIB_PICK, "rec": ALL}, "value"))
def picked(values: list):
    names = [v for vs in values or [] for v in (vs or [])]
    if len(names) == 2:
        return (f"/replay?rec={quote(names[0])},{quote(names[1])}", "btn lib-compare primary",
                f"Replay {names[0]} and {names[1]} side by side")
    text = ("Pick two recordings to replay them side by side" if len(names) < 2 else
            f"{len(names)} picked: pick exactly two to replay side by side")
    return "", "btn lib-compare disabled", text


@callback(Output(ids.LIB_TABLE, "children", allow_duplicate=True),
          Output(ids.LIB_NOTICE, "children", allow_duplicate=True),
          Input(ids.LIB_UPLOAD, "contents"), State(ids.LIB_UPLOAD, "filename"),
          prevent_initial_call=True)
def upload(contents: str | None, filename: str | None):
    """Store an uploaded recording after validation; a bad file is refused, naming the problem."""
    if not contents:
        return no_update, no_update
    shown = filename or "upload"
    try:
        raw = base64.b64decode(contents.split(",", 1)[1] if "," in contents else contents)
    except (ValueError, TypeError):
        return no_update, _notice(f"Upload refused: {shown}: the upload arrived damaged.",
                                  "error")
    try:
        name = library().save_upload(raw, shown, session_id())
    except RecordingRefused as e:
        return no_update, _notice(f"Upload refused: {shown}: {e}. Nothing was stored.", "error")
    saved = f" as {name}" if name != shown else ""
    return _refresh(), _notice(f"Uploaded {shown}{saved}: it is in the list, ready to replay.",
                               "ok")
