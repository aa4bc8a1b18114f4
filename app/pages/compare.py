"""Side by side: up to four runs' 2-D views on one page, through the tab's one WebSocket.

`/compare?runs=ID,ID` watches existing runs; `/compare?presets=A,B&play=1` starts them for this
browser session (within its run limits).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, clientside_callback, dcc, html

from app.runs import LimitError, registry
from app.session import session_id
from gancore.presets import PRESETS

dash.register_page(__name__, path="/compare", title="ganscope · compare", name="Compare")

MAX_RUNS = 4


def layout(runs: str = "", presets: str = "", play: str | None = None, **_: Any):
    return html.Div([
        dcc.Store(id="compare-ask", data={"runs": [r for r in runs.split(",") if r][:MAX_RUNS],
                                          "presets": [p for p in presets.split(",") if p]
                                          [:MAX_RUNS], "play": play in ("1", "true")}),
        dcc.Store(id="compare-runs"),
        html.Div(id="compare-sync", hidden=True),
        html.Div([html.Div([html.Span("gan", className="logo-a"),
                            html.Span("scope", className="logo-b")], className="logo"),
                  html.Div("compare runs", className="watch")], className="header"),
        html.Div(id="compare-notice", className="notice"),
        html.Div([html.Div(id=f"compare-{i}", className="plot") for i in range(MAX_RUNS)],
                 className="compare"),
    ])


@callback(Output("compare-runs", "data"), Output("compare-notice", "children"),
          Input("compare-ask", "data"))
def start_runs(ask: dict):
    run_ids, errors = list(ask["runs"]), []
    for name in ask["presets"]:
        if name not in PRESETS:
            errors.append(f"unknown preset '{name}'")
            continue
        try:
            run = registry().start(session_id(), PRESETS[name].config(), autoplay=ask["play"],
                                   preset=name)
            run_ids.append(run.run_id)
        except LimitError as e:
            errors.append(str(e))
            break
    return run_ids[:MAX_RUNS], html.Div("; ".join(errors), className="notice error") \
        if errors else ""


clientside_callback(
    """function(runs) { return window.GS ? window.GS.setCompare(runs || []) : ""; }""",
    Output("compare-sync", "children"), Input("compare-runs", "data"))
