"""The control panel and the transport bar, built from the config fields and the registries."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from app import forms, ids
from app.comparison import config_diff
from app.components.header import logo
from gancore.config import RunConfig
from gancore.teach.presets import PRESETS, preset_of

MAX_CHANGES_NAMED = 3
# Config paths the panel does not type, in words (the upload and the drawing set them).
UNTYPED_TITLES = {"target.data_path": "an uploaded data file", "target.points": "drawn points",
                  "target.data_dataset": "the file's dataset",
                  "target.data_cond": "the file's condition"}

SPEEDS = (0, 1, 2, 5, 10, 25, 100, 500)
FPS_CAPS = (1, 2, 5, 10, 15, 25, 30, 60)


def _widget(spec: forms.FieldSpec, value):
    wid = ids.field(spec.path)
    if spec.widget == "choice":
        return dcc.Dropdown(id=wid, options=[{"value": v, "label": lab} for v, lab in spec.choices],
                            value=value, clearable=False, searchable=spec.path == "target.name",
                            className="dd")
    if spec.widget == "bool":
        return dcc.Checklist(id=wid, options=[{"label": " on", "value": "on"}], value=value,
                             className="check")
    if spec.widget in ("int", "float"):
        return dcc.Input(id=wid, type="number", value=value, debounce=True, step="any",
                         className="num")
    return dcc.Input(id=wid, type="text", value=value, debounce=True, className="text",
                     placeholder="comma-separated" if spec.widget in ("ints", "floats") else "")


def field_row(spec: forms.FieldSpec, cfg: RunConfig):
    tag = html.Span("live" if spec.live else "restart",
                    className="tag live" if spec.live else "tag restart",
                    title="applies to the running run at once" if spec.live else
                    "changing it restarts training as a child run (the old run is kept)")
    hint = spec.doc + (f" ({spec.bounds})" if spec.bounds else "")
    return html.Div([
        html.Label([html.Span(spec.label, className="name"), tag], title=hint),
        _widget(spec, forms.widget_value(spec, cfg)),
        html.Div(id={"type": ids.FIELD_ERROR, "path": ids.key(spec.path)}, className="field-error"),
    ], id={"type": ids.FIELD_ROW, "path": ids.key(spec.path)}, className="field", title=hint)


def panel(cfg: RunConfig):
    """Sections of fields; target parameters not used by the chosen target stay hidden."""
    out = []
    for section, specs in forms.sections():
        rows = [field_row(s, cfg) for s in specs]
        extra = []
        if section == "target":
            extra = [
                dcc.Checklist(id=ids.SHOW_ALL_TARGET,
                              options=[{"label": " show all target parameters", "value": "all"}],
                              value=[], className="check small"),
                *upload_condition(),
                dcc.Upload(id=ids.UPLOAD, children=html.Div(
                    ["Drop or ", html.A("choose a data file"), html.Br(),
                     html.Small("CSV, .npy or HDF5 (/data): one sample per row")]),
                    className="upload", multiple=False),
                html.Div(id=ids.UPLOAD_INFO, className="upload-info"),
            ]
        out.append(html.Details([html.Summary(forms.SECTION_TITLES.get(section, section)),
                                 *rows, *extra],
                                id={"type": ids.SECTION, "section": section or "run"},
                                open=section in ("target", "loss", "opt_d", "opt_g", "train"),
                                className=f"section section-{section or 'run'}"))
    return html.Div(out, className="panel")


def upload_condition() -> list:
    """The optional condition of the next upload, typed before the file is chosen: the upload
    callback reads it, and naming one makes the run conditional (train.conditional)."""
    hint = ("For a conditional run: the file's condition columns, counted from 0 (6:10, -4: or "
            "6,7,8), or for HDF5 the condition's dataset (/cond). Leave empty for plain data.")
    return [html.Div([html.Label("condition of the file (optional)", htmlFor=ids.UPLOAD_COND,
                                 className="name"),
                      dcc.Input(id=ids.UPLOAD_COND, type="text", value="", debounce=False,
                                placeholder="e.g. 6:10 or /cond", className="text")],
                     className="field upload-cond", title=hint)]


def _choices(values, current, label):
    vals = sorted(set(values) | {current})
    return [{"value": v, "label": label(v)} for v in vals]


def transport(cfg: RunConfig):
    spf, fps = cfg.frames.steps_per_frame, cfg.frames.fps
    return html.Div([
        html.Button([html.Span([html.I(className="icon-play"), "Play"], className="when-stopped"),
                     html.Span([html.I(className="icon-pause"), "Pause"],
                               className="when-running")],
                    id=ids.PLAY, className="btn primary", title="play / pause (space bar)"),
        html.Button("Step D", id=ids.STEP_D, className="btn", title="one discriminator step"),
        html.Button("Step G", id=ids.STEP_G, className="btn", title="one generator step"),
        html.Button("Step", id=ids.STEP_BOTH, className="btn", title="one full training step"),
        html.Button("↺ Reset", id=ids.RESET, className="btn",
                    title="start this config again from step 0 (the old run is kept)"),
        html.Label("speed", className="inline-label",
                   title="training steps between frames: 1 is slow motion"),
        dcc.Dropdown(id=ids.field("frames.steps_per_frame"), clearable=False, searchable=False,
                     className="dd speed", value=spf,
                     options=_choices(SPEEDS, spf, lambda v: "full speed" if v == 0 else
                                      ("1 step/frame" if v == 1 else f"{v} steps/frame"))),
        html.Label("frame cap", className="inline-label", title="frames per second at most"),
        dcc.Dropdown(id=ids.field("frames.fps"), clearable=False, searchable=False,
                     className="dd fps", value=fps,
                     options=_choices(FPS_CAPS, fps, lambda v: f"{v:g} fps")),
        html.Button([html.Span("Presenter", className="when-normal"),
                     html.Span("Leave presenter", className="when-present")],
                    id=ids.PRESENT, className="btn present-btn",
                    title="presenter mode: large type, controls hidden; keys: space play/pause, "
                          "→ step, R reset, F full screen, Esc leave (P toggles)"),
        html.Div(id=ids.STATUS, className="status"),
    ], className="transport")


def header(preset: str | None):
    return html.Div([
        logo(link=False),
        dcc.Dropdown(id=ids.PRESET, className="dd preset", clearable=False, value=preset,
                     placeholder="presets…",
                     options=[{"value": p.name, "label": f"{p.name}  ·  {p.lesson}"}
                              for p in PRESETS.values()]),
        html.Div(PRESETS[preset].watch if preset in PRESETS else "", id=ids.PRESET_WATCH,
                 className="watch"),
        html.Div(id=ids.RUN_LABEL, className="run-label"),
    ], className="header")


def changes_from(cfg: RunConfig, preset: str) -> list[str]:
    """What sets `cfg` apart from a preset, in words ('learning rate of D', 'an uploaded data
    file'); a change of target names only the target (its parameters come with it)."""
    paths = [p for p, _ in config_diff([PRESETS[preset].config(), cfg])]
    if "target.name" in paths or "target.data_path" in paths:
        paths = [p for p in paths if not p.startswith("target.")] + \
            ["target.data_path" if cfg.target.name == "file" else
             "target.points" if cfg.target.name == "points" else "target.name"]
    return [UNTYPED_TITLES.get(p) or forms.field_title(p) for p in paths]


def preset_standing(cfg: RunConfig, origin: str | None) -> tuple[Any, str | None]:
    """The header's words about the run's preset: (the watch line, the preset the run was but
    no longer is, or None). A preset's promise holds only for its exact config
    (gancore.teach.presets.preset_of): once changed, the header says what changed."""
    exact = preset_of(cfg)
    if exact:
        return PRESETS[exact].watch, None
    if origin not in PRESETS:
        return "Your own config: no preset's promise applies.", None
    changed = changes_from(cfg, origin)
    named = ", ".join(changed[:MAX_CHANGES_NAMED]) + \
        (f" and {len(changed) - MAX_CHANGES_NAMED} more" if len(changed) > MAX_CHANGES_NAMED
         else "")
    # The promise itself goes in the tooltip: quoted in full it took ten lines at 1024 px.
    return [html.B(f"{origin} (changed: {named})", className="preset-changed"),
            html.Span(" · no longer the preset, so what the preset promises may not happen",
                      className="preset-promise", title=f"The preset's promise: "
                                                        f"{PRESETS[origin].watch}")], origin
