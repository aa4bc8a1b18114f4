"""The page for an address ganscope does not have: what went wrong, and the pages there are.
Dash shows the module named `not_found_404` for any unknown path; app/main.py gives the same
address a 404 status when the browser asks the server for it."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, clientside_callback, html

from app import ids
from app.components import nav
from app.components.header import page_header

dash.register_page(__name__, path="/404", title="ganscope · page not found",
                   name="Page not found")


def layout(**_: Any):
    return html.Div([
        page_header("Page not found"),
        html.Div([
            html.H1("There is no page here", className="nf-title"),
            html.P(["The address ", html.Code(id=ids.NOT_FOUND_PATH, className="nf-path"),
                    " is not one of ganscope's pages: perhaps a mistyped or old link. "
                    "These are the pages there are:"]),
            html.Ul([html.Li([html.A(label, href=href, className="nf-link"), f": {why}"])
                     for _, label, href, why in nav.PAGES], className="nf-links"),
        ], className="not-found"),
    ], className="not-found-page")


# The layout cannot know the address (Dash passes only the query): the browser fills it in.
clientside_callback(
    """function(path) { return path || ""; }""",
    Output(ids.NOT_FOUND_PATH, "children"),
    Input("_url", "pathname"),
)
