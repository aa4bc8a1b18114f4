"""What the play page opens: the URL's preset, config or run (`resolve_boot`, `boot_from_run`)
and what the page keeps about its run (`run_payload`). Kept apart from the page's callbacks so
that both stay a size a reader holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.comparison import play_query, play_share_query
from app.limits import UnknownRun
from app.run_record import Run
from app.runs import registry
from app.watched_runs import is_watched
from gancore.config import ConfigError, RunConfig
from gancore.teach.presets import PRESETS

DEFAULT_PRESET = "ring8-reference"


def resolve_boot(preset: str | None = None, play: str | None = None, cfg: str | None = None,
                 run: str | None = None) -> dict[str, Any]:
    """What the URL asks for; a bad preset or config falls back to the default with an error."""
    boot: dict[str, Any] = {"preset": DEFAULT_PRESET, "play": play in ("1", "true", "yes"),
                            "watch": run or None, "error": ""}
    config = PRESETS[DEFAULT_PRESET].config()
    if cfg:
        try:
            config = RunConfig.from_url(cfg)
            boot["preset"] = preset if preset in PRESETS else None
        except ConfigError as e:
            boot["error"] = f"The config in this link cannot run: {e}. Showing {DEFAULT_PRESET}."
    elif preset:
        if preset in PRESETS:
            boot["preset"] = preset
            config = PRESETS[preset].config()
        else:
            boot["error"] = (f"Unknown preset '{preset}'; choose one of {', '.join(PRESETS)}. "
                             f"Showing {DEFAULT_PRESET}.")
    boot["config"] = config.to_json()
    return boot


def url_query(cfg: RunConfig, preset: str | None) -> str:
    """The address bar's query for a run (see app.comparison.play_query)."""
    return play_query(cfg, preset)


def run_payload(run: Run, owner: str) -> dict[str, Any]:
    """What the page keeps about its run (dcc.Store)."""
    return {"run": run.run_id, "config": run.config.to_json(), "kind": run.kind,
            "owner": run.owner == owner, "parent": run.parent, "fork_step": run.fork_step,
            "inherited": bool(run.init_from),  # a fork beside its parent, from its weights
            "preset": run.preset, "record": Path(run.record_path).name,
            "script": run.script if is_watched(run) else None,  # a researcher's own script
            "url": url_query(run.config, run.preset),
            "share": play_share_query(run.config, run.preset)}


def boot_from_run(boot: dict[str, Any]) -> None:
    """A page opened on a run (`?run=ID`: another session's, or a researcher's own script's)
    draws its form, header and views from that run's config, not the default preset's; an
    unknown run keeps the default (open_run says so)."""
    if not boot.get("watch"):
        return
    try:
        run = registry().get(boot["watch"])
    except UnknownRun:
        return
    boot["config"], boot["preset"] = run.config.to_json(), run.preset
