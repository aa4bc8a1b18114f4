"""The site's navigation bar: one row of links above every page (the shell in app/main.py holds
it), the page shown marked. Presenter mode hides it (assets/nav.css)."""

from __future__ import annotations

from dash import Input, Output, callback, html

from app import ids

# (key, label, address, what it is for): the bar's links in order, and the 404 page's list.
PAGES = (
    ("play", "Play", "/", "train one GAN live and change it while it learns"),
    ("compare", "Compare", "/compare", "two to four runs side by side, in lock-step"),
    ("lessons", "Lessons", "/lessons", "one GAN phenomenon each, the problem beside its remedy"),
    ("draw", "Draw", "/draw", "draw a target with the mouse and train on it"),
    ("library", "Library", "/library", "recorded runs: replay, compare, download, upload"),
    ("class", "Class", "/class", "the teacher's view of every student's run"),
)
# Pages without a link of their own, and the link they belong under.
UNDER = {"/replay": "library"}


def link_id(key: str) -> str:
    return f"nav-{key}"  # "nav-library" is ids.NAV_LIBRARY


def current(pathname: str | None) -> str | None:
    """The key of the link a path belongs to ('/replay' -> 'library'), None for no page."""
    path = "/" + (pathname or "/").strip("/")
    if path in UNDER:
        return UNDER[path]
    for key, _, href, _ in PAGES:
        if path == href or (href != "/" and path.startswith(href + "/")):
            return key
    return None


def bar() -> html.Nav:
    return html.Nav([html.A(label, href=href, id=link_id(key), className="nav-link", title=why)
                     for key, label, href, why in PAGES],
                    id=ids.NAV, className="site-nav",
                    **{"aria-label": "ganscope pages"})  # type: ignore[arg-type]  # aria-* untyped


@callback([Output(link_id(key), "className") for key, *_ in PAGES],
          Input("_url", "pathname"))
def mark_current(pathname: str | None) -> list[str]:
    """The link of the page shown gets the 'current' mark."""
    here = current(pathname)
    return ["nav-link current" if key == here else "nav-link" for key, *_ in PAGES]
