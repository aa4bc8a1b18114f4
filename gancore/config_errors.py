"""How a config's validation errors read: one line naming each bad field and what it allows
(kept apart from gancore.config, which holds the fields themselves)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


def describe_validation_error(e: ValidationError) -> str:
    """One line naming each bad field and what it allows, e.g.
    'latent.dim: Input should be less than or equal to 256 (got 300)'."""
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"] if not isinstance(x, int))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown config key"
        got = err.get("input")
        shown = "" if isinstance(got, dict | list) or err["type"] == "extra_forbidden" else \
            f" (got {short_repr(got)})"
        parts.append(f"{loc}: {msg}{shown}" if loc else f"{msg}")
    return "; ".join(parts)


def short_repr(value: Any, limit: int = 60) -> str:
    """repr() cut to one short line; ints past Python's 4300-digit str() limit cannot be shown."""
    try:
        text = repr(value)
    except ValueError:
        return "a huge number"
    return text if len(text) <= limit else text[:limit - 3] + "..."
