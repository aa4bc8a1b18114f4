"""The play page's export bar: GIF · MP4 · PNG · config · CSV of the run on screen.

The buttons carry `data-export`; assets/exports.js fetches /export/run/<run>/<what> (app/exports.py)
and saves the answer, or shows the server's reason in the bar. PNG is drawn by the browser from
the view on screen (Plotly.downloadImage), so it needs no server at all.
"""

from __future__ import annotations

from dash import html

from app import ids

BUTTONS = (  # (id, data-export, label, tooltip)
    (ids.EXPORT_GIF, "gif", "GIF", "animated GIF of this run so far, from its recording"),
    (ids.EXPORT_MP4, "mp4", "MP4", "MP4 video of this run so far, from its recording"),
    (ids.EXPORT_PNG, "png", "PNG", "picture of the view on screen now"),
    (ids.EXPORT_CONFIG, "config", "config", "the run's config as JSON (seed included)"),
    (ids.EXPORT_CSV, "csv", "CSV", "every recorded step's losses and D means as CSV"),
)


def bar():
    return html.Div([
        html.Span("Export:", className="inline-label"),
        *[html.Button(label, id=bid, className="btn small", title=tip, **{"data-export": what})
          for bid, what, label, tip in BUTTONS],
        html.Span(id=ids.EXPORT_STATUS, className="export-status", role="status"),
    ], id=ids.EXPORT_BAR, className="exportbar")


def side_by_side_bar(run_ids: list[str]):
    """The compare page's export bar: its runs side by side as one GIF or MP4, aligned by step,
    rendered from their recordings (assets/exports.js sends data-runs to /export/compare)."""
    listed = ",".join(run_ids)
    return html.Div([
        html.Span("Export side by side:", className="inline-label"),
        *[html.Button(label, className="btn small", title=f"{tip} (all {len(run_ids)} runs)",
                      **{"data-export": what,  # type: ignore[arg-type]  # Dash: data-* untyped
                         "data-runs": listed})
          for what, label, tip in (("gif", "GIF", "animated GIF"), ("mp4", "MP4", "MP4 video"))],
        html.Span(id=ids.EXPORT_STATUS, className="export-status", role="status"),
    ], className="exportbar cmp-exportbar")
