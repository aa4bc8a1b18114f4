"""The words the engine and the browser share: run states, event kinds (each with its labels and
timeline marker), the palette and the chart labels. Written here only: `tools/vocabulary.py`
writes them into assets/0_vocabulary.js as `GS.VOCAB`, and tests/test_vocabulary.py fails when
that file is stale or when a browser script writes one of these lists itself. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

# ---- run states ----------------------------------------------------------------------------------
RunState = Literal["queued", "starting", "running", "paused", "diverged", "done", "failed",
                   "lost", "stopped", "reconnecting", "unknown"]
RUN_STATES: tuple[RunState, ...] = get_args(RunState)
STATE_DOCS: dict[RunState, str] = {
    "queued": "waits for a free slot on a full server; starts by itself",
    "starting": "its worker process is starting",
    "running": "training",
    "paused": "alive, not training",
    "diverged": "stopped itself on a non-finite loss or weight",
    "done": "reached its max_steps",
    "failed": "its worker died, could not start or lost its storage",
    "lost": "its worker machine died (distributed backend); play resumes it from its last "
            "checkpoint as a new attempt",
    "stopped": "closed by its owner or the server",
    "reconnecting": "the run store (Redis) is restarting; the run carries on when it is back",
    "unknown": "the server could not say (a status lookup failed)",
}
# What the status line says for a state whose name is not the word a viewer expects.
STATE_LABELS: dict[RunState, str] = {"queued": "waiting"}

SESSION_STATES: tuple[RunState, ...] = ("running", "paused", "diverged", "done", "failed")
# A Session ends itself in these, with a message that says why (the status line shows it).
SESSION_ENDS: tuple[RunState, ...] = ("diverged", "done", "failed")
# The run will not train again (a reset or an edit starts it anew): the registry's view.
FINISHED: tuple[RunState, ...] = (*SESSION_ENDS, "stopped")
# A page shows the run as over, with its message; "unknown" included (nobody can drive it).
ENDED: tuple[RunState, ...] = (*FINISHED, "lost", "unknown")
# The status line shows the run's message instead of the state's name: it says why, or what next.
SAYS_WHY: tuple[RunState, ...] = (*SESSION_ENDS, "lost")

# ---- events --------------------------------------------------------------------------------------
EventKind = Literal["mode_collapse", "mode_hopping", "non_convergence", "swaying", "stuck",
                    "catastrophic_forgetting", "divergence", "fork", "edit", "recording"]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)


@dataclass(frozen=True)
class EventWords:
    name: str  # the phenomenon in a sentence ("Watch for: catastrophic forgetting")
    label: str  # the event feed's chip, short enough for the back of a room
    marker: str = "diamond"  # its Plotly marker symbol on the timelines


EVENTS: dict[EventKind, EventWords] = {
    "mode_collapse": EventWords("mode collapse", "mode collapse"),
    "mode_hopping": EventWords("mode hopping", "mode hopping"),
    "non_convergence": EventWords("non-convergence", "non-convergence"),
    "swaying": EventWords("swaying", "swaying"),
    "stuck": EventWords("stuck", "stuck"),
    "catastrophic_forgetting": EventWords("catastrophic forgetting", "forgetting"),
    "divergence": EventWords("divergence", "diverged", marker="x"),
    "fork": EventWords("fork", "fork"),  # a child run, or a run started from a parent's state
    "edit": EventWords("live edit", "edit"),
    "recording": EventWords("recording problem", "recording"),  # storage notes
}

# ---- palette -------------------------------------------------------------------------------------
# Samples and the D surface: green is real, pink is fake, on every view and export.
REAL, FAKE, GRID, ARROW, MAP = "#0b8a5f", "#d1306b", "#5b5f97", "#1f2430", "#7c5cd6"
INK, MUTED, ALERT = "#1f2430", "#5f6b7a", "#c0392b"
G_LINE = "#3b6fd8"  # G's curves beside D's (FAKE) on the loss and gradient charts
# A fake sample's dark rim: crimson alone vanished on D's pink "fake" region, exactly where D
# rejects the fakes; the rim reads on pink, white and green alike.
FAKE_EDGE = "#4a0d26"
# A mixture of generators (AdaGAN) draws each one's fakes in its own colour, in this order: none is
# the real green, and each keeps FAKE_EDGE's rim on D's pale colours.
COMPONENT_COLORS = ("#d1306b", "#3b6fd8", "#e08a1e", "#7c5cd6", "#a0522d", "#b5179e", "#c9a100",
                    "#17a2b8")
# Series on a chart, in order; the compare page's runs take the first MAX_COMPARED.
PALETTE = ("#3b6fd8", "#e08a1e", "#0b8a5f", "#d1306b", "#7c5cd6", "#5f6b7a", "#a0522d")
MAX_COMPARED = 4
RUN_COLORS = PALETTE[:MAX_COMPARED]
# The D surface, diverging: pale pink where D calls points fake, pale green where it calls them
# real, white at indifference; pale so the saturated sample colours stay readable on top.
D_SCALE = ((0.0, "#f2c2d5"), (0.25, "#f9e2eb"), (0.5, "#fcfcfc"), (0.75, "#d9efe3"),
           (1.0, "#a3d9bd"))

# ---- chart labels --------------------------------------------------------------------------------
# The training curves' legend names.
SERIES_LABELS = {"d_loss": "D loss", "g_loss": "G loss", "d_real": "D(real)",
                 "d_fake": "D(fake)", "d_grad_norm": "‖∇D‖", "g_grad_norm": "‖∇G‖"}
# Metric legend names short enough for three to a row of a chart a third of the page wide; a
# metric not listed shows its key with spaces.
METRIC_LABELS = {"reverse_kl": "reverse KL", "kl": "KL", "js": "JS", "ks_mean": "KS mean",
                 "norm_ks": "norm KS", "corr_dist": "corr. distance",
                 "bimodal_dims_fake": "bimodal (G)", "bimodal_dims_real": "bimodal (data)"}


def as_json() -> dict:
    """The vocabulary as the browser reads it (GS.VOCAB)."""
    return {
        "states": {s: {"label": STATE_LABELS.get(s, s), "ended": s in ENDED,
                       "says_why": s in SAYS_WHY} for s in RUN_STATES},
        "events": {k: {"name": w.name, "label": w.label, "marker": w.marker}
                   for k, w in EVENTS.items()},
        "colors": {"real": REAL, "fake": FAKE, "grid": GRID, "arrow": ARROW, "map": MAP,
                   "ink": INK, "muted": MUTED, "alert": ALERT, "g": G_LINE,
                   "fake_edge": FAKE_EDGE},
        "components": list(COMPONENT_COLORS),
        "palette": list(PALETTE),
        "run_colors": list(RUN_COLORS),
        "d_scale": [list(stop) for stop in D_SCALE],
        "series_labels": SERIES_LABELS,
        "metric_labels": METRIC_LABELS,
    }
