"""Replay of one recording, or two side by side on one scrubber: `/replay?rec=NAME[,NAME2]`.

The page is drawn in the browser: assets/replay.js fetches each recording's index and its frames
(app/recordings.py routes) and draws them with the live view's decoder and renderers.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, clientside_callback, dcc, html

from app import ids
from app.components.header import page_header
from app.recordings import NoRecording, library
from gancore.store.recording import RecordingError

dash.register_page(__name__, path="/replay", title="ganscope · replay", name="Replay")

MAX_RECS = 2
PARTS = ("frame", "marg", "corr", "ks", "norm", "loss", "metrics")


def resolve(rec: str) -> tuple[list[dict], list[str]]:
    """The recordings a `rec=` value names, with their summaries, and an error per bad name."""
    names = [n.strip() for n in (rec or "").split(",") if n.strip()]
    errors = []
    if not names:
        errors.append("No recording chosen: open one from the library.")
    if len(names) > MAX_RECS:
        errors.append(f"At most {MAX_RECS} recordings replay side by side; showing the first "
                      f"{MAX_RECS}.")
        names = names[:MAX_RECS]
    found = []
    for name in names:
        try:
            found.append({"name": name, "summary": library().summary(name)})
        except NoRecording:
            errors.append(f"No recording named '{name}' in the library.")
        except (RecordingError, OSError) as e:
            errors.append(f"'{name}' cannot be replayed: {e}")
    return found, errors


def _what(s: dict) -> str:
    """A recording in a few words: its preset, else target and loss (or VAE)."""
    return s["preset"] or f"{s['target']} · {'VAE' if s['model'] == 'vae' else s['loss']}"


def _panel(i: int, rec: dict) -> html.Div:
    s = rec["summary"]
    what = _what(s)
    return html.Div([
        # replay.js keeps the step count current while a live recording grows
        html.Div([html.B(rec["name"]),
                  html.Span(f"{what} · {s['steps']:,} steps", className="muted replay-what",
                            **{"data-what": what})  # type: ignore[arg-type]  # Dash: data-* untyped
                  ], className="replay-head"),
        html.Div([html.Div(id=f"replay-{part}-{i}", className=f"plot replay-{part}")
                  for part in PARTS], className="replay-plots"),
    ], id=f"{ids.REPLAY_PANEL}-{i}", className=f"replay-panel kind-{s['kind']}",
        **{"data-rec": rec["name"], "data-kind": s["kind"]})


def layout(rec: str = "", **_: Any):
    found, errors = resolve(rec)
    notice = [html.Div(e, className="notice error") for e in errors]
    return html.Div([
        dcc.Store(id=ids.REPLAY_SPEC, data={"recs": [r["name"] for r in found],
                                            "labels": [r["name"] for r in found]}),
        html.Div(id=ids.REPLAY_SYNC, hidden=True),
        page_header("replay" + (": " + " | ".join(r["name"] for r in found) if found else "")),
        html.Div(notice, id=ids.REPLAY_NOTICE, className="notice"),
        html.Div(id=ids.REPLAY_CONTROLS, className="replay-controls"),
        html.Div([html.Div(id=ids.REPLAY_TIMELINE, className="plot replay-timeline"),
                  html.Div(id=ids.REPLAY_EVENTS, className="replay-events")],
                 className="replay-time"),
        html.Div([_panel(i, r) for i, r in enumerate(found)],
                 className=f"replay-panels n{len(found)}"),
    ], className="replay-page")


clientside_callback(
    """function(spec) { return (window.GS && GS.replay) ? GS.replay.open(spec) : ""; }""",
    Output(ids.REPLAY_SYNC, "children"), Input(ids.REPLAY_SPEC, "data"))
