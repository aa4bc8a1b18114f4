"""The header row every page starts with: the ganscope logo (a link home), one line saying what
the page is for, and the page's own buttons or links on the right. The links between pages are
the shell's navigation bar (app/components/nav.py)."""

from __future__ import annotations

from typing import Any

from dash import html


def logo(link: bool = True, **attrs: Any):
    """The two-colour word mark; a link to the play page unless `link` is False (on the play page
    itself it is plain text)."""
    parts = [html.Span("gan", className="logo-a"), html.Span("scope", className="logo-b")]
    if not link:
        return html.Div(parts, className="logo", **attrs)
    return html.A(parts, href="/", className="logo", **attrs)


def page_header(watch: Any, *right: Any, **logo_attrs: Any) -> html.Div:
    """A page's header: logo, the `watch` line, then `right` (buttons, links, inputs)."""
    return html.Div([logo(**logo_attrs), html.Div(watch, className="watch"), *right],
                    className="header")
