"""The class view (/class): every student's live run as a small live card, for the teacher.
The page is a shell; assets/classview.js polls /api/class (app.class_summary) and draws the
cards. A card links to the run's play page in presenter mode, where the teacher is a spectator.
The navigation bar above it is the shell's (app/components/nav.py)."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from app import class_access, ids
from app.components import header

dash.register_page(__name__, path="/class", title="ganscope · class", name="Class")


def layout(**_: Any):
    # Dash renders a page's layout in a callback (a POST that the /class path check does not
    # see when the page is reached by a link inside the app), so the layout asks too.
    refused = class_access.teacher_refusal()
    if refused is not None:
        return html.Div([
            header.page_header("The class view"),
            html.Div(refused.get_data(as_text=True).strip(), id=ids.CLASS_REFUSED,
                     className="class-refused"),
        ], className="class-page")
    return html.Div([
        header.page_header(
            "Every student's live run. Click one to show it large, in presenter mode.",
            html.Div([html.Span("real", className="class-key-real"),
                      html.Span("generated", className="class-key-fake"),
                      html.Span("D: real", className="class-key-dreal"),
                      html.Span("D: fake", className="class-key-dfake")],
                     className="class-key"),
            html.Span("", id=ids.CLASS_COUNT, className="class-count")),
        html.Div(html.Div("Waiting for the students' runs…", className="class-empty"),
                 id=ids.CLASS_GRID, className="class-grid"),
    ], className="class-page")
