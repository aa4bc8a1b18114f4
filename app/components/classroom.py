"""Classroom pieces of the play page: the lesson bar (text, problem/remedy switch, links) and the
readable event feed that assets/classroom.js fills as the detectors fire."""

from __future__ import annotations

from urllib.parse import urlencode

from dash import dcc, html

from app import ids
from gancore.teach.lessons import LESSONS, Lesson
from gancore.vocabulary import EVENTS


def compare_href(lesson: Lesson) -> str:
    """The problem beside the remedy on the compare page, both playing."""
    return f"/compare?presets={lesson.problem},{lesson.remedy}&play=1"


def play_href(lesson: Lesson, preset: str | None = None, present: bool = False) -> str:
    """The play page in lesson mode, on the problem unless told otherwise."""
    query = {"preset": preset or lesson.problem, "play": "1", "lesson": lesson.slug}
    if present:
        query["present"] = "1"
    return "/?" + urlencode(query)


def watch_text(lesson: Lesson) -> str:
    kinds = [EVENTS[k].name if k in EVENTS else k.replace("_", " ") for k in lesson.watch]
    return "Watch for: " + ", ".join(kinds) if kinds else ""


def showing_text(lesson: Lesson, preset: str | None) -> str:
    if preset == lesson.remedy:
        return f"Showing the remedy: {lesson.remedy}"
    if preset == lesson.problem:
        return f"Showing the problem: {lesson.problem}"
    return f"Showing {preset or 'another run'} (the lesson is {lesson.problem} → {lesson.remedy})"


def switch_label(lesson: Lesson, preset: str | None) -> str:
    return "◀ Back to the problem" if preset == lesson.remedy else "Show the remedy ▶"


def lesson_bar(slug: str | None, preset: str | None):
    """Above the stage: the lesson (when the URL names one) and, always, the event feed (shown in
    lesson and presenter mode)."""
    empty = "No phenomenon detected yet: the events appear here as the detectors fire."
    feed = html.Div(id=ids.EVENT_FEED, className="event-feed",
                    **{"data-empty": empty})  # type: ignore[arg-type]  # Dash: data-* untyped
    lesson = LESSONS.get(slug or "")
    if lesson is None:
        return html.Div([dcc.Store(id=ids.LESSON, data=None), feed], id=ids.LESSON_BAR,
                        className="lesson-bar")
    return html.Div([
        dcc.Store(id=ids.LESSON, data=lesson.slug),
        html.Div([
            html.Div([html.A("Lessons", href="/lessons", className="crumb"), " · ",
                      html.Span(lesson.title, className="lesson-title")]),
            html.P(lesson.text, className="lesson-text"),
        ], className="lesson-info"),
        html.Div([
            html.Div(showing_text(lesson, preset), id=ids.LESSON_SHOWING,
                     className="lesson-showing"),
            html.Div([
                html.Button(switch_label(lesson, preset), id=ids.LESSON_SWITCH,
                            className="btn primary lesson-switch"),
                html.A("Side by side", href=compare_href(lesson), className="btn lesson-compare",
                       title="the problem and the remedy on the compare page"),
            ], className="lesson-buttons"),
            html.Div(watch_text(lesson), className="lesson-watch"),
            feed,
        ], className="lesson-side"),
    ], id=ids.LESSON_BAR, className="lesson-bar active")
