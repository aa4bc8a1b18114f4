"""The play page's "fork from here with a change" and "share link" bar, with its callbacks.

A fork keeps the parent as it is (running or paused) and starts a child beside it from the
parent's weights at the current step (app.runs.RunRegistry.fork_beside), then opens both on the
compare page. The share link carries the whole config, seed included (app.comparison).
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from app import ids
from app.limits import LimitError, UnknownRun
from app.runs import registry
from app.session import session_id
from gancore.config import ConfigError, RunConfig, parse_assignment
from gancore.run.worker import CommandError

MAX_CHANGES = 20


def bar():
    return html.Div([
        dcc.Store(id=ids.FORK_GO),
        html.Div(id=ids.FORK_NAV, hidden=True),
        html.Label("fork from here with a change", className="inline-label",
                   htmlFor=ids.FORK_CHANGE),
        dcc.Input(id=ids.FORK_CHANGE, type="text", className="text fork-change", debounce=False,
                  placeholder="e.g. loss.name=hinge; opt_d.lr=0.0002", n_submit=0),
        html.Button("Fork beside", id=ids.FORK, className="btn",
                    title="a child run from this run's current weights with the change, shown "
                          "beside this run (which keeps going) on the compare page"),
        html.Button("Share link", id=ids.SHARE, className="btn share-btn",
                    title="a link that reproduces this config (seed included) in any browser"),
        dcc.Input(id=ids.SHARE_LINK, type="text", readOnly=True, className="text share-link",
                  placeholder="share link appears here"),
    ], className="forkbar")


def parse_changes(text: str | None) -> dict[str, Any]:
    """'path=value; path=value' -> {path: value}; values read as JSON when they parse (numbers,
    lists, true/false), else as text. ConfigError names a malformed part."""
    parts = [p.strip() for p in (text or "").replace("\n", ";").split(";") if p.strip()]
    if not parts:
        raise ConfigError("type the change the child makes, e.g. opt_d.lr=0.0002")
    if len(parts) > MAX_CHANGES:
        raise ConfigError(f"at most {MAX_CHANGES} changes in one fork")
    return dict(parse_assignment(p) for p in parts)


def fork_config(base: RunConfig, text: str | None) -> RunConfig:
    """The child's config; ConfigError when the change is malformed, unknown, invalid or none."""
    cfg = base.with_changes(parse_changes(text))
    if cfg == base:
        raise ConfigError("the change leaves the config as it is: nothing to compare")
    return cfg


@callback(Output(ids.FORK_GO, "data"), Output(ids.NOTICE, "children", allow_duplicate=True),
          Input(ids.FORK, "n_clicks"), Input(ids.FORK_CHANGE, "n_submit"),
          State(ids.FORK_CHANGE, "value"), State(ids.RUN, "data"), prevent_initial_call=True)
def fork(_clicks, _submits, text: str | None, run_data: dict | None):
    """Start the child beside the run and open the two on the compare page."""
    if not run_data or not run_data.get("run"):
        return no_update, html.Div("There is no run to fork.", className="notice error")
    parent_id = run_data["run"]
    try:
        cfg = fork_config(RunConfig.from_json(run_data["config"]), text)
        child = registry().fork_beside(session_id(), parent_id, cfg)
    except ConfigError as e:
        return no_update, html.Div(f"Fork not made: {e}", className="notice error")
    except (PermissionError, LimitError, CommandError, UnknownRun, TimeoutError,
            RuntimeError, ValueError) as e:
        return no_update, html.Div(f"Fork not made: {e}", className="notice error")
    return f"/compare?runs={parent_id},{child.run_id}", html.Div(fork_text(child.run_id,
                                                                            child.fork_step),
                                                                  className="notice info")


def fork_text(child_id: str, at: int | None) -> str:
    """What a fork beside did. The child takes the parent's step-`at` weights only where the
    change leaves the networks' shapes as they were (gancore.train.checkpoint.load_state);
    otherwise it starts from step 0, and its first event says which."""
    return (f"Forked child {child_id} beside its parent, which is at step {at or 0:,}: the child "
            f"goes on from the parent's weights, or from step 0 if the change reshapes the "
            f"networks. Opening the comparison…")


# A second dcc.Location on the play page fights the shell's over the address bar (the play page
# rewrites it with history.replaceState), so the fork navigates from JavaScript.
clientside_callback(
    """function(url) { if (url) window.location.assign(url); return ""; }""",
    Output(ids.FORK_NAV, "children"), Input(ids.FORK_GO, "data"), prevent_initial_call=True)

clientside_callback(
    """function(n, run) {
        if (!n || !run || !run.share) return window.dash_clientside.no_update;
        return window.GS && GS.shareLink ? GS.shareLink("/" + run.share, "share-link")
                                         : location.origin + "/" + run.share;
    }""",
    Output(ids.SHARE_LINK, "value"), Input(ids.SHARE, "n_clicks"), State(ids.RUN, "data"),
    prevent_initial_call=True)
