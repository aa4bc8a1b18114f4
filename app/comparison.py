"""Comparisons as URLs and tables: which runs a compare link asks for, how their configs differ,
and the share links that reproduce a single view or a comparison in a fresh browser.

Pure functions of configs and query text (no registry, no Dash), so they are unit-tested alone.
Link forms:
    /?cfg=TEXT[&preset=NAME]                 one run (TEXT = RunConfig.to_url, seed included)
    /compare?presets=A,B[,C,D]               presets, in order
    /compare?cfgs=TEXT~TEXT[~TEXT~TEXT]      full configs ('~' never occurs in TEXT, and
                                             survives copying out of an address bar)
    ...&seed=same                            every run takes the first run's seed
A link may hold presets and cfgs together: presets come first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gancore.config import ConfigError, RunConfig, get_path, iter_fields
from gancore.teach.presets import PRESETS, preset_of

MAX_RUNS = 4
CFG_SEP = "~"
DEFAULT_PAIR = ("ring8-vanilla-collapse", "ring8-unrolled")  # a problem beside its remedy


@dataclass
class Entry:
    """One run a comparison asks for."""

    config: RunConfig
    preset: str | None  # the preset it came from, or the preset its config equals
    label: str


def _split(text: str | None, sep: str) -> list[str]:
    return [t.strip() for t in (text or "").split(sep) if t.strip()]


def parse_compare(presets: str | None = "", cfgs: str | None = "",
                  seed: str | None = None) -> tuple[list[Entry], list[str]]:
    """The runs a compare link asks for, and one clear sentence per problem. Bad items are left
    out; a link with nothing usable falls back to DEFAULT_PAIR, so the page always has runs."""
    entries: list[Entry] = []
    errors: list[str] = []
    for name in _split(presets, ","):
        if name in PRESETS:
            entries.append(Entry(PRESETS[name].config(), name, name))
        else:
            errors.append(f"unknown preset '{name[:60]}' (choose one of: {', '.join(PRESETS)})")
    for i, text in enumerate(_split(cfgs, CFG_SEP), 1):
        try:
            cfg = RunConfig.from_url(text)
        except ConfigError as e:
            errors.append(f"config {i} in the link cannot run: {e}")
            continue
        entries.append(Entry(cfg, preset_of(cfg), ""))
    if len(entries) > MAX_RUNS:
        errors.append(f"{len(entries)} runs asked for, but a comparison shows at most {MAX_RUNS}: "
                      f"showing the first {MAX_RUNS}")
        entries = entries[:MAX_RUNS]
    if not entries:
        if errors or presets or cfgs:
            errors.append(f"nothing in this link can run: showing {' vs '.join(DEFAULT_PAIR)}")
        entries = [Entry(PRESETS[n].config(), n, n) for n in DEFAULT_PAIR]
    if seed is not None and seed not in ("same", ""):
        errors.append(f"seed={seed[:20]!r} is not understood (only seed=same): seeds kept")
    if seed == "same":
        entries = same_seed(entries)
    label_entries(entries)
    return entries, errors


def same_seed(entries: list[Entry]) -> list[Entry]:
    """Every run takes the first run's seed (a run whose seed changes loses its preset name)."""
    if not entries:
        return entries
    seed = entries[0].config.train.seed
    out = []
    for e in entries:
        cfg = e.config if e.config.train.seed == seed else \
            e.config.with_changes({"train.seed": seed})
        label = e.label if cfg is e.config else (f"{e.label} · seed {seed}" if e.label else "")
        out.append(Entry(cfg, preset_of(cfg), label))
    return out


def label_entries(entries: list[Entry]) -> None:
    """Short distinct labels: the preset name, else what sets the run apart."""
    seen: dict[str, int] = {}
    for i, e in enumerate(entries, 1):
        base = e.label or e.preset or (f"VAE {i}" if e.config.model == "vae" else f"config {i}")
        seen[base] = seen.get(base, 0) + 1
        e.label = base if seen[base] == 1 else f"{base} ({seen[base]})"


# ---- differences ---------------------------------------------------------------------------

def config_diff(configs: list[RunConfig]) -> list[tuple[str, list[Any]]]:
    """(dotted path, one value per config) for every field whose values are not all equal."""
    dumps = [c.model_dump() for c in configs]
    out = []
    for path, _, _ in iter_fields():
        values = [get_path(d, path) for d in dumps]
        if any(v != values[0] for v in values[1:]):
            out.append((path, values))
    return out


def show_value(value: Any, limit: int = 28) -> str:
    """A config value as a short table cell."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        text = ", ".join(show_value(v, limit) for v in value)
        text = f"[{text}]"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- share links -----------------------------------------------------------------------------

def play_query(cfg: RunConfig, preset: str | None = None, *, pinned: bool = False) -> str:
    """The play page's query for a config. The address bar names an unchanged preset alone
    (`?preset=NAME`); a share link (`pinned`) always carries the whole config, seed included,
    plus the preset's name, so it reproduces the run even if the presets change."""
    unchanged = preset in PRESETS and PRESETS[preset].config() == cfg
    if unchanged and not pinned:
        return f"?preset={preset}"
    return f"?cfg={cfg.to_url()}" + (f"&preset={preset}" if unchanged else "")


def play_share_query(cfg: RunConfig, preset: str | None = None) -> str:
    """The play page's share link query (see `play_query`)."""
    return play_query(cfg, preset, pinned=True)


def compare_share_query(configs: list[RunConfig], same: bool = False) -> str:
    """The compare page's share query: preset names when every run is an unchanged preset, else
    every config in full (seeds included); `seed=same` when the option is on."""
    names = [preset_of(c) for c in configs]
    if all(names):
        query = "?presets=" + ",".join(n for n in names if n)
    else:
        query = "?cfgs=" + CFG_SEP.join(c.to_url() for c in configs)
    return query + ("&seed=same" if same else "")
