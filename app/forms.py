"""Form widgets <-> RunConfig: the control panel is built from gancore's config and registries.

Every leaf of `RunConfig` becomes one `FieldSpec` (widget kind, choices, bounds, live/restart),
so a field added to the config appears in the panel with its doc and its range.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from gancore.choices import LOSSES, TARGETS
from gancore.config import ConfigError, RunConfig, get_path, iter_fields

# Set from the page rather than typed: drawn points, the uploaded file, its dataset and condition.
NOT_TYPED = {"target.points", "target.data_path", "target.data_dataset", "target.data_cond"}
# Typed elsewhere on the page: the transport bar and the n-D projection picker.
TRANSPORT = ("frames.steps_per_frame", "frames.fps")
PROJECTION = "frames.projection"

SECTION_TITLES = {
    "target": "Target", "latent": "Latent noise", "generator": "Generator G",
    "discriminator": "Discriminator D", "loss": "Loss", "remedies": "Remedies",
    "opt_g": "Optimiser of G", "opt_d": "Optimiser of D", "train": "Training",
    "frames": "Frames and recording", "": "Run",
}
FAMILY_ORDER = ("1-D", "2-D", "n-D", "data")


@dataclass(frozen=True)
class FieldSpec:
    path: str
    label: str
    doc: str
    widget: str  # "float" | "int" | "choice" | "bool" | "ints" | "floats" | "text"
    live: bool
    section: str
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    bounds: str = ""  # e.g. "> 0, <= 10"


def _bounds(info) -> str:
    parts = []
    for m in info.metadata:
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            v = getattr(m, attr, None)
            if v is not None:
                parts.append(f"{sym} {v:g}" if isinstance(v, float) else f"{sym} {v:,}")
    return ", ".join(parts)


def _strip_optional(ann):
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return args[0] if len(args) == 1 else ann
    return ann


def target_choices() -> tuple[tuple[str, str], ...]:
    """The target registry, grouped by family, as dropdown options."""
    order = {f: i for i, f in enumerate(FAMILY_ORDER)}
    names = sorted(TARGETS, key=lambda n: (order.get(TARGETS[n].family, 9), list(TARGETS).index(n)))
    return tuple((n, f"{TARGETS[n].family} · {n.replace('_', ' ')} — {TARGETS[n].doc}")
                 for n in names)


def _spec(path: str, info, ann) -> FieldSpec:
    doc = info.description or ""
    live = bool((info.json_schema_extra or {}).get("live"))
    section = path.split(".")[0] if "." in path else ""
    label = path.split(".")[-1].replace("_", " ")
    ann = _strip_optional(ann)
    choices: tuple[tuple[str, str], ...] = ()
    if path == "target.name":
        widget, choices = "choice", target_choices()
    elif typing.get_origin(ann) is Literal:
        widget = "choice"
        docs = LOSSES if path == "loss.name" else {}
        choices = tuple((str(a), f"{a} — {docs[a]}" if a in docs else str(a))
                        for a in typing.get_args(ann))
    elif ann is bool:
        widget = "bool"
    elif ann is int:
        widget = "int"
    elif ann is float:
        widget = "float"
    elif typing.get_origin(ann) is list and typing.get_args(ann) == (int,):
        widget = "ints"
    elif typing.get_origin(ann) is list and typing.get_args(ann) == (float,):
        widget = "floats"
    else:
        widget = "text"
    return FieldSpec(path, label, doc, widget, live, section, choices, _bounds(info))


FIELDS: dict[str, FieldSpec] = {p: _spec(p, info, ann) for p, info, ann in iter_fields()
                                if p not in NOT_TYPED}
PANEL_FIELDS = [f for f in FIELDS.values() if f.path not in (*TRANSPORT, PROJECTION)]


def sections() -> list[tuple[str, list[FieldSpec]]]:
    """Panel sections in config order."""
    out: dict[str, list[FieldSpec]] = {}
    for f in PANEL_FIELDS:
        out.setdefault(f.section, []).append(f)
    return list(out.items())


# ---- values ----------------------------------------------------------------------------------

def widget_value(spec: FieldSpec, cfg: RunConfig) -> Any:
    """The config's value as its widget shows it."""
    v = get_path(cfg.model_dump(), spec.path)
    if spec.widget == "bool":
        return ["on"] if v else []
    if spec.widget in ("ints", "floats"):
        return "" if v is None else ", ".join(f"{x:g}" if isinstance(x, float) else str(x)
                                              for x in v)
    return v


def widget_values(cfg: RunConfig, paths: list[str]) -> list[Any]:
    return [widget_value(FIELDS[p], cfg) for p in paths]


class FieldError(ValueError):
    pass


def parse_value(spec: FieldSpec, raw: Any) -> Any:
    """A widget's value -> the config value; FieldError with a reason a user can act on."""
    if spec.widget == "bool":
        return bool(raw)
    if spec.widget in ("int", "float"):
        if raw is None or raw == "":
            raise FieldError(f"needs a number ({spec.bounds})" if spec.bounds else "needs a number")
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                raise FieldError(f"'{raw}' is not a number") from None
        if isinstance(raw, float) and not math.isfinite(raw):
            raise FieldError("must be a finite number")
        if spec.widget == "int":
            if float(raw) != int(raw):
                raise FieldError(f"must be a whole number (got {raw:g})")
            return int(raw)
        return float(raw)
    if spec.widget in ("ints", "floats"):
        text = (raw or "").strip()
        if not text:
            if spec.widget == "ints":
                return []
            return None
        conv = int if spec.widget == "ints" else float
        try:
            return [conv(x) for x in text.replace(";", ",").split(",") if x.strip()]
        except ValueError:
            kind = "whole numbers" if conv is int else "numbers"
            raise FieldError(f"comma-separated {kind}, like 128, 128") from None
    if raw is None:
        raise FieldError("choose a value")
    return raw


def form_config(base: RunConfig, values: dict[str, Any]) -> tuple[RunConfig, dict[str, str]]:
    """Widget values over `base` -> (config with every valid change, {path: reason} for each
    invalid field). One bad field never holds back the others, and every bad field is named:
    a field that fails to parse does not hide a bound another breaks, nor a field error a
    cross-field rule (a config that passes its field checks only then meets its model rules).
    A reason that names no shown field goes under ''."""
    changes, errors = {}, {}
    current = base.model_dump()
    for path, raw in values.items():
        spec = FIELDS.get(path)
        if spec is None:
            continue
        try:
            value = parse_value(spec, raw)
        except FieldError as e:
            errors[path] = str(e)
            continue
        if value != get_path(current, path):
            changes[path] = value
    try:
        return base.with_changes(changes), errors
    except ConfigError as e:
        first = split_config_error(str(e), list(changes))
    # Each change alone over `base` names its own fault; the ones that pass alone are then
    # applied together, dropping any a cross-field rule names, or one by one as a last resort.
    good = {}
    for path, value in changes.items():
        try:
            base.with_changes({path: value})
            good[path] = value
        except ConfigError as e:
            errors[path] = _reason_for(path, str(e))
    while good:
        try:
            return base.with_changes(good), errors
        except ConfigError as e:
            named = {p: r for p, r in split_config_error(str(e), list(good)).items() if p}
        if not named:
            break
        for path, reason in named.items():
            errors[path] = reason
            good.pop(path)
    cfg = base
    for path, value in good.items():
        try:
            cfg = cfg.with_changes({path: value})
        except ConfigError as e:
            errors[path] = _reason_for(path, str(e))
    if not errors and first:  # cannot happen (a failing set has a failing member); say so anyway
        errors.update(first)
    return cfg, errors


def _reason_for(path: str, message: str) -> str:
    """The part of a config error about `path`, else the whole message."""
    parts = split_config_error(message, [path])
    return parts.get(path) or parts.get("", message)


def split_config_error(message: str, paths: list[str]) -> dict[str, str]:
    """'a.b: reason; c: reason' -> {path: reason}; a reason naming no shown field goes to ''."""
    out: dict[str, str] = {}
    key: str | None = None
    for part in message.split("; "):
        head, sep, reason = part.partition(": ")
        if sep and _PATH.fullmatch(head):
            key, text = (head, reason) if head in paths else ("", part)
        elif key is None:  # the message opens with words about no field
            key, text = "", part
        else:  # a reason that itself holds "; " goes on with its field
            text = part
        out[key] = (out[key] + "; " + text) if key in out else text
    return out


_PATH = re.compile(r"[a-z_]+(\.[a-z0-9_]+)*")


def field_title(path: str) -> str:
    """A field in words a user reads in a notice: 'learning rate of D', 'latent dimension'.
    A short doc says it better than the bare name; the network it belongs to is added."""
    spec = FIELDS.get(path)
    if spec is None:
        return path
    doc = spec.doc.split(" (")[0].strip()
    name = TITLES.get(path) or (doc if doc and len(doc.split()) <= 3 and ":" not in doc
                                and "generator" not in doc else spec.label)
    owner = OWNERS.get(spec.section, "")
    return f"{name} of {owner}" if owner and owner.split()[-1] not in name.split() else name


# Whose field it is, when the name alone does not say (the lr of D or of G).
OWNERS = {"generator": "G", "opt_g": "G", "discriminator": "D", "opt_d": "D",
          "target": "the target"}
# Where neither the field's name nor its doc reads well in a sentence.
TITLES = {"train.k_d": "D steps per step", "train.k_g": "G steps per step",
          "target.name": "target", "target.dim": "data dimension"}


def section_of(path: str) -> str:
    """The panel section a field sits in ('' for the top-level fields)."""
    spec = FIELDS.get(path)
    return spec.section if spec else path.split(".")[0] if "." in path else ""


def target_defaults(name: str) -> dict[str, Any]:
    """The parameter values a target brings along when the user switches to it."""
    spec = TARGETS[name]
    return {f"target.{k}": v for k, v in spec.defaults.items()}


def relevant_target_fields(name: str) -> set[str]:
    """The target parameters worth showing for a target (the rest hide under 'more')."""
    spec = TARGETS.get(name)
    if spec is None:
        return set()
    shown = {f"target.{k}" for k in spec.defaults}
    if spec.fixed_dim is None:
        shown.add("target.dim")
    if name == "mixture_1d":
        shown |= {"target.positions", "target.widths", "target.weights"}
    return shown


def projection_choices(dim: int, limit: int = 10) -> list[dict[str, str]]:
    """PCA, then pairs of the first `limit` dimensions."""
    opts = [{"value": "pca", "label": "PCA of the real data"}]
    n = min(dim, limit)
    opts += [{"value": f"{i},{j}", "label": f"dims {i} × {j}"}
             for i in range(n) for j in range(i + 1, n)]
    return opts
