"""Presenter mode on a projector: at 1024x768, 1280x800 and 1920x1080 every label reads from the
back of a room (16 px at least), no two labels overlap, nothing is cut off, and the main plot is
whole on screen. Checked from the DOM (the Plotly charts' SVG text included) on a 2-D and a 1-D
preset, with a screenshot of each size in test-artifacts/ (looked at: tests cannot say whether a
page is pleasant to read). The charts' contents are tests/browser/test_charts.py's.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.page import open_page, set_viewport, wait_charts_redrawn, wait_js

pytestmark = pytest.mark.browser

SIZES = [(1024, 768), (1280, 800), (1920, 1080)]
MIN_PX = 16

# Every visible piece of text as its box (a text node's range; an SVG <text> element whole),
# its computed font size, and the box the overflow-clipping ancestors and the viewport leave it.
LABELS_JS = """
const vw = innerWidth, vh = innerHeight, out = [], seen = new Map(), clips = new Map();
function shown(el) {  // no ancestor hidden (answers kept per element: a page has ~100 labels)
  if (!el || el.nodeType !== 1) return true;
  if (seen.has(el)) return seen.get(el);
  const cs = getComputedStyle(el);
  const v = !(cs.display === 'none' || cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0)
            && shown(el.parentElement);
  seen.set(el, v);
  return v;
}
function clipBox(el) {  // what the overflow-clipping ancestors and the viewport leave visible
  const e = el.parentElement;
  if (!e || e === document.documentElement) return [0, 0, vw, vh];
  if (clips.has(e)) return clips.get(e);
  let [l, t, r, b] = clipBox(e);
  if (!(e instanceof SVGElement)) {
    const cs = getComputedStyle(e);
    if (/(hidden|clip|auto|scroll)/.test(cs.overflowX + ' ' + cs.overflowY)) {
      const q = e.getBoundingClientRect();
      l = Math.max(l, q.left); t = Math.max(t, q.top);
      r = Math.min(r, q.right); b = Math.min(b, q.bottom);
    }
  }
  clips.set(e, [l, t, r, b]);
  return [l, t, r, b];
}
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  const text = n.textContent.trim(), el = n.parentElement;
  if (!text || !el || el.closest('script, style, noscript, defs')) continue;
  const svgText = el.closest('text'), owner = svgText || el;
  if (svgText && owner._gsSeen) continue;  // a <text> of several <tspan>s: one box
  if (svgText) owner._gsSeen = true;
  if (!shown(owner)) continue;
  let q;
  if (svgText) q = svgText.getBoundingClientRect();
  else { const r = document.createRange(); r.selectNodeContents(n); q = r.getBoundingClientRect(); }
  if (q.width < 1 || q.height < 1) continue;
  const host = owner.closest('[id]');
  out.push({text: text.slice(0, 40), px: parseFloat(getComputedStyle(owner).fontSize),
            box: [q.left, q.top, q.right, q.bottom], clip: clipBox(owner),
            where: host ? host.id : owner.tagName});
}
document.querySelectorAll('text').forEach(function (t) { delete t._gsSeen; });
return out;
"""

# The main plot of the page's kind: its box and how many x tick labels it shows.
MAIN_PLOT_JS = """
const div = document.getElementById(arguments[0]), r = div.getBoundingClientRect();
return {box: [r.left, r.top, r.right, r.bottom], vw: innerWidth, vh: innerHeight,
        xticks: div.querySelectorAll('.xtick text').length,
        scroll: document.documentElement.scrollHeight - innerHeight};
"""

def overlap(a: list[float], b: list[float], slack: float = 2.0) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > slack and
            min(a[3], b[3]) - max(a[1], b[1]) > slack)


def problems(labels: list[dict]) -> list[str]:
    """What a teacher would not put on a projector: small, overlapping or cut-off labels."""
    out = [f"{lab['px']:.0f} px: {lab['text']!r} in #{lab['where']}"
           for lab in labels if lab["px"] < MIN_PX - 0.01]
    for lab in labels:
        (l, t, r, b), (cl, ct, cr, cb) = lab["box"], lab["clip"]
        # 2 px: an SVG text's box includes its glyphs' side bearings
        if l < cl - 2 or t < ct - 2 or r > cr + 2 or b > cb + 2:
            out.append(f"clipped: {lab['text']!r} in #{lab['where']} {lab['box']} "
                       f"outside {lab['clip']}")
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if overlap(a["box"], b["box"]):
                out.append(f"overlap: {a['text']!r} (#{a['where']}) and "
                           f"{b['text']!r} (#{b['where']})")
    return out


def settled_problems(driver, tries: int = 20) -> list[str]:
    """The page's label problems once the charts are redrawn; checked again every 0.5 s while
    there are any (the charts change as the run trains), the last list if they stay."""
    wait_charts_redrawn(driver, 3)
    found: list[str] = []
    for _ in range(tries):
        found = problems(driver.execute_script(LABELS_JS))
        if not found:
            break
        driver.execute_script("return new Promise(r => setTimeout(r, 500))")
    return found


def check_sizes(driver, name: str, plot_id: str) -> None:
    for w, h in SIZES:
        set_viewport(driver, w, h)
        try:
            found = settled_problems(driver)
        finally:
            screenshot(driver, f"presenter-{name}-{w}x{h}")
        assert not found, f"{name} at {w}x{h}:\n" + "\n".join(found[:30])
        main = driver.execute_script(MAIN_PLOT_JS, plot_id)
        left, top, right, bottom = main["box"]
        assert left >= 0 and top >= 0 and right <= w and bottom <= h, (w, h, main)
        assert bottom - top >= 0.55 * (h - 200), f"main plot squeezed at {w}x{h}: {main}"
        assert main["xticks"] >= 3, f"main plot lost its x-axis labels at {w}x{h}"
        assert main["scroll"] <= 2, f"the page scrolls at {w}x{h}"


def open_presenting(driver, server, preset: str) -> None:
    open_page(driver, server, f"?preset={preset}&play=1&present=1")
    wait_js(driver, "return document.body.classList.contains('present') && "
                    "document.querySelector('#status .state-running')", 30,
            "presenter mode, running")
    wait_js(driver, "const d = document.getElementById('chart-modes');"
                    "return d && d._fullData && d._fullData.some(t => t.x && t.x.length > 3)",
            60, "the modes chart's first points")


@pytest.mark.scenario
@pytest.mark.parametrize("preset,plot", [("ring8-reference", "plot-2d"),
                                         ("goodfellow-1d", "plot-1d")])
def test_pr001_presenter_reads_at_every_projector_size(browser, server, preset, plot):
    try:
        open_presenting(browser, server, preset)
        check_sizes(browser, preset, plot)
    finally:
        browser.set_window_size(1920, 1080)
