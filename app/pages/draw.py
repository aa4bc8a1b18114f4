"""Draw a target: points placed on a canvas (assets/drawtarget.js) become the `points` target of
a new run, opened and started by the play page (`/?cfg=...&play=1`).

The drawn points go into the config itself (`target.points`, the modes of a mixture with a small
spread) rather than into an uploaded file: the config stays self-contained, so the play page's
URL and share links reproduce the drawing, and the mode-coverage metrics and detectors know
where the modes are.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, clientside_callback, dcc, html, no_update

from app import ids
from app.components.header import page_header
from gancore.config import ConfigError, RunConfig

dash.register_page(__name__, path="/draw", title="ganscope · draw a target", name="Draw")

EXTENT = 2.5  # the canvas shows [-EXTENT, EXTENT] on both axes (assets/drawtarget.js)
CANVAS_PX = 560
MIN_POINTS = 8
MAX_POINTS = 500
SPREAD = 0.04  # std of the little gaussian around each drawn point


def drawn_config(points: list, base: RunConfig | None = None) -> RunConfig:
    """The run config that trains on drawn points; ConfigError (one line) when it cannot."""
    if not isinstance(points, list):
        raise ConfigError("the drawing did not arrive as a list of points")
    if len(points) < MIN_POINTS:
        raise ConfigError(f"draw at least {MIN_POINTS} points to train on (you have "
                          f"{len(points)})")
    if len(points) > MAX_POINTS:
        raise ConfigError(f"at most {MAX_POINTS} points (you have {len(points)}); undo a stroke")
    try:
        pts = [[float(p[0]), float(p[1])] for p in points]
    except (TypeError, ValueError, IndexError, KeyError):
        raise ConfigError("each point needs two numbers (x, y)") from None
    if any(abs(c) > EXTENT + 1e-6 for p in pts for c in p):
        raise ConfigError(f"points must lie within ±{EXTENT} on both axes")
    base = base or RunConfig()
    return base.with_changes({"target.name": "points", "target.points": pts,
                              "target.std": SPREAD})


def layout(**_: Any):
    return html.Div([
        dcc.Location(id=ids.DRAW_GO, refresh=True),
        dcc.Store(id=ids.DRAW_POINTS),
        page_header("Draw a target: click to place points, drag to lay a line of them; the "
                    "GAN then learns your drawing.",
                    html.A("Lessons", href="/lessons", className="btn")),
        html.Div(id=ids.DRAW_NOTICE, className="notice"),
        html.Div([
            html.Canvas(id=ids.DRAW_CANVAS, width=CANVAS_PX, height=CANVAS_PX,
                        className="draw-canvas"),
            html.Div([
                html.Div("0 points", id=ids.DRAW_COUNT, className="draw-count"),
                html.Div([
                    html.Button("Undo", id=ids.DRAW_UNDO, className="btn",
                                title="remove the last click or stroke"),
                    html.Button("Clear", id=ids.DRAW_CLEAR, className="btn"),
                ], className="row"),
                html.Button("Train on these points", id=ids.DRAW_TRAIN, className="btn primary"),
                html.P(f"The canvas spans ±{EXTENT} on both axes. Each point becomes a mode of "
                       f"the target: a small gaussian (std {SPREAD}) around it, all equally "
                       f"likely. At least {MIN_POINTS} points, at most {MAX_POINTS}. The run "
                       "uses the default networks and opens on the play page, where every "
                       "setting can be changed."),
                html.P("Ideas: a few separate clusters to watch mode collapse, a ring of dots, "
                       "a letter, or two lines of very different lengths."),
            ], className="draw-side"),
        ], className="draw-body"),
    ], className="draw-page")


# The points live in the browser until "train": read them from the canvas script.
clientside_callback(
    """function(n) {
        if (!n) return window.dash_clientside.no_update;
        return {points: window.GS && window.GS.drawnPoints ? window.GS.drawnPoints() : [],
                at: Date.now()};
    }""",
    Output(ids.DRAW_POINTS, "data"),
    Input(ids.DRAW_TRAIN, "n_clicks"),
    prevent_initial_call=True,
)


@callback(Output(ids.DRAW_GO, "href"), Output(ids.DRAW_NOTICE, "children"),
          Input(ids.DRAW_POINTS, "data"), prevent_initial_call=True)
def train_on_drawing(data: dict | None):
    """Open the play page on a playing run of the drawing (its URL is the drawing's share
    link); refuse a drawing that cannot train, with the reason."""
    points = (data or {}).get("points")
    if points is None:
        points = []  # refused below: fewer than MIN_POINTS
    try:
        cfg = drawn_config(points)
    except ConfigError as e:
        return no_update, html.Div(f"Not started: {e}.", className="notice error")
    return f"/?cfg={cfg.to_url()}&play=1", html.Div(f"Training on {len(points)} points…",
                                                    className="notice ok")
