"""Plot containers for the 1-D, 2-D and n-D views and the charts; assets/draw.js fills them."""

from __future__ import annotations

from dash import dcc, html

from app import forms, ids
from gancore.config import RunConfig, data_dim
from gancore.frames import frame_kind

LAYERS_2D = [("real", "real samples"), ("fake", "fake samples"), ("d", "D surface"),
             ("grid", "deformed latent grid"), ("map", "latent → data arrows"),
             ("grad", "G's gradient arrows")]
DEFAULT_LAYERS = ["real", "fake", "d", "grad"]


def _plot(pid: str, cls: str = "plot"):
    return html.Div(id=pid, className=cls)


def views(cfg: RunConfig):
    kind = frame_kind(data_dim(cfg))
    return html.Div([
        html.Div([
            html.Div([
                dcc.RadioItems(id=ids.VIEW_MODE_2D, value="map", className="radio",
                               options=[{"value": "map", "label": " map"},
                                        {"value": "surface", "label": " 3-D surface of D"}],
                               inline=True),
                dcc.Checklist(id=ids.LAYERS, value=DEFAULT_LAYERS, className="layer-toggles",
                              options=[{"value": v, "label": " " + lab} for v, lab in LAYERS_2D],
                              inline=True),
            ], className="view-tools"),
            _plot(ids.PLOT_2D, "plot main"),
            _plot(ids.PLOT_SURFACE, "plot main surface"),
        ], className="view view-2d"),
        html.Div([_plot(ids.PLOT_1D, "plot main wide")], className="view view-1d"),
        html.Div([
            html.Div([
                html.Label("projection", className="inline-label"),
                dcc.Dropdown(id=ids.field(forms.PROJECTION), value=cfg.frames.projection,
                             options=forms.projection_choices(max(data_dim(cfg), 3)),
                             clearable=False, searchable=False, className="dd projection"),
            ], className="view-tools"),
            html.Div([
                _plot(ids.PLOT_PROJ, "plot nd proj"),
                _plot(ids.PLOT_MARG, "plot nd marg"),
                _plot(ids.PLOT_CORR, "plot nd corr"),
                html.Div([_plot(ids.PLOT_KS, "plot nd ks"), _plot(ids.PLOT_NORM, "plot nd norm")],
                         className="nd-stack"),
            ], className="nd-grid"),
        ], className="view view-nd"),
    ], id=ids.VIEWS, className=f"views kind-{kind}",
        **{"data-kind": kind})  # type: ignore[arg-type]  # Dash: data-* untyped


def charts():
    return html.Div([
        _plot(ids.CHART_LOSS, "chart"),
        _plot(ids.CHART_D, "chart"),
        _plot(ids.CHART_GRAD, "chart"),
        _plot(ids.CHART_MODES, "chart"),
        _plot(ids.CHART_METRICS, "chart"),
        _plot(ids.TIMELINE, "chart timeline"),
    ], className="charts")
