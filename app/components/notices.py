"""The play page's sentences about what just happened to the form and the run: which fields
were refused and why, and what a restart did (a fresh run from step 0, the old one kept)."""

from __future__ import annotations

from typing import Any

from app import forms
from app.run_record import Run

FORM_REFUSAL = "form-refusal"  # class of a notice that only refuses fields: cleared once fixed


def is_form_refusal(children: Any) -> bool:
    """Whether the notice shown now is the form's refusal (and nothing else's news)."""
    props = children.get("props", {}) if isinstance(children, dict) else {}
    return FORM_REFUSAL in str(props.get("className", ""))


def refusal_text(errors: dict[str, str]) -> str:
    """'Not applied: learning rate of D (must be > 0); ...', each refused field by its name."""
    parts = [f"{forms.field_title(p)} ({reason})" for p, reason in errors.items() if p]
    if errors.get(""):
        parts.append(errors[""])
    return "Not applied: " + "; ".join(parts) + ". Fix the fields marked in red."


def changed_words(paths: list[str]) -> str:
    """'learning rate of D (opt_d.lr), batch size (train.batch_size)': words to read, and the
    path the fork box, share links and the CLI take."""
    return ", ".join(f"{forms.field_title(p)} ({p})" for p in paths)


def restart_text(run: Run, parent_id: str, restart: list[str], what: str = "") -> str:
    """What a restart did: a fresh run from step 0, the previous one kept whole."""
    changed = what or changed_words(restart)
    return (f"Restarted from step 0 as child run {run.run_id}: the new {changed} changes what "
            f"is trained, so the weights start afresh. The previous run {parent_id} "
            f"({run.fork_step or 0:,} steps) is kept in the library.")
