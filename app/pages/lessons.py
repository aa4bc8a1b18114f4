"""The lessons page: one card per phenomenon (gancore.teach.lessons), each opening its problem
beside its remedy, or the problem on the play page with the lesson bar; plus the lesson bar's
switch."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, html, no_update

from app import ids
from app.components import classroom
from app.components.header import page_header
from gancore.teach.lessons import LESSONS, Lesson
from gancore.teach.presets import PRESETS

dash.register_page(__name__, path="/lessons", title="ganscope · lessons", name="Lessons")


def _card(lesson: Lesson):
    return html.Div([
        html.H2(lesson.title, className="lesson-title"),
        html.P(lesson.text, className="lesson-text"),
        html.Div([
            html.Div([html.B("Problem "), html.Code(lesson.problem), " · ",
                      PRESETS[lesson.problem].watch], className="lesson-preset"),
            html.Div([html.B("Remedy "), html.Code(lesson.remedy), " · ",
                      PRESETS[lesson.remedy].watch], className="lesson-preset"),
        ], className="lesson-presets"),
        html.Div(classroom.watch_text(lesson), className="lesson-watch"),
        html.Div([
            html.A("▶ Problem beside remedy", href=classroom.compare_href(lesson),
                   className="btn primary open-compare"),
            html.A("Play the problem", href=classroom.play_href(lesson),
                   className="btn open-play"),
            html.A("Present", href=classroom.play_href(lesson, present=True),
                   className="btn open-present",
                   title="the problem in presenter mode: large type, controls hidden"),
        ], className="lesson-buttons"),
    ], id=f"lesson-{lesson.slug}", className="lesson-card")


def layout(**_: Any):
    return html.Div([
        page_header("Lessons: one GAN phenomenon each, the problem beside its remedy. The "
                    "detectors mark each phenomenon as it happens.",
                    html.A("Draw a target", href="/draw", className="btn")),
        html.Div([_card(lesson) for lesson in LESSONS.values()], id=ids.LESSON_LIST,
                 className="lesson-list"),
    ], className="lessons-page")


# ---- the lesson bar on the play page ------------------------------------------------------

@callback(Output(ids.PRESET, "value", allow_duplicate=True),
          Input(ids.LESSON_SWITCH, "n_clicks"),
          State(ids.PRESET, "value"), State(ids.LESSON, "data"),
          prevent_initial_call=True)
def switch_side(_n, preset: str | None, slug: str | None):
    """The remedy when the problem is showing, else the problem; choosing the preset replaces
    the run (the play page's preset callback)."""
    lesson = LESSONS.get(slug or "")
    if lesson is None:
        return no_update
    return lesson.problem if preset == lesson.remedy else lesson.remedy


@callback(Output(ids.LESSON_SHOWING, "children"), Output(ids.LESSON_SWITCH, "children"),
          Input(ids.PRESET, "value"), State(ids.LESSON, "data"),
          prevent_initial_call=True)
def showing(preset: str | None, slug: str | None):
    lesson = LESSONS.get(slug or "")
    if lesson is None:
        return no_update, no_update
    return classroom.showing_text(lesson, preset), classroom.switch_label(lesson, preset)
