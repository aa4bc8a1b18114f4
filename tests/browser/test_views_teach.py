"""The main plot teaches on any screen: every mode of the target drawn, samples outside the view
counted at its edge, a density axis that holds the tallest bar, fakes that read on D's colours
with a legend, samples on the 3-D surface, and a mixture's generators each in its own colour.

One app server and one browser, shared by the tests of this module. The runs stay paused at
step 0 (their first frame is enough), and the pictures that need samples off the view are the
page's own frame with some fakes moved out, drawn by the page's drawing functions: no training
luck decides what the test sees.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot
from tests.browser.page import open_page, sample_pixels, severe_errors, wait_js

pytestmark = pytest.mark.browser

SIZES = ((1920, 1080), (1024, 768))

# The page's own 2-D frame with the first 312 fakes moved past the right edge and the next 40
# below the bottom, redrawn where the page draws it (the run is paused: no frame replaces it).
MOVE_FAKES_2D = """
const f0 = GS.pageFrame = GS.pageFrame || GS.view.frame, fake = Float32Array.from(f0.arrays.fake);
const b = f0.meta.bounds, w = b[0][1] - b[0][0], h = b[1][1] - b[1][0];
for (let i = 0; i < 312; i++) fake[2 * i] = b[0][1] + 0.3 * w;
for (let i = 312; i < 352; i++) fake[2 * i + 1] = b[1][0] - 0.2 * h;
const arrays = Object.assign({}, f0.arrays, { fake: fake });
if (arguments[0]) {  // three generators, each on its own third of a circle of radius 2
  const c = new Uint8Array(fake.length / 2);
  for (let i = 0; i < c.length; i++) {
    const a = 2 * Math.PI * i / c.length, r = 2 + 0.1 * Math.sin(37 * i);
    fake[2 * i] = r * Math.cos(a); fake[2 * i + 1] = r * Math.sin(a);
    c[i] = Math.floor(3 * i / c.length);
  }
  arrays.fake_component = c;
}
const meta = Object.assign({}, f0.meta, arguments[0] ? { components: 3 } : {});
const f = Object.assign({}, f0, { arrays: arrays, meta: meta });
GS.view.frame = f;
GS.drawFrame(f, true);
"""

LEGEND_JS = ("const t = Array.from(document.querySelectorAll('#plot-2d .legend .legendtext'))"
             ".map(e => e.textContent); return t.length >= 4 && t")

OFF_VIEW_JS = "const d = document.getElementById('plot-2d'); return d && d._gsOffView"


def resize(driver, size, div: str) -> None:
    driver.set_window_size(*size)
    # Plotly's responsive plots redraw on the window's resize event; the sample layer follows
    wait_js(driver, f"const d = document.getElementById('{div}'), s = d._gsSamples;"
                    f"return window.outerWidth <= {size[0]} && "
                    "Math.abs(d._fullLayout.width - d.clientWidth) < 8 && "
                    "Math.abs(d._fullLayout.height - d.clientHeight) < 8 && "
                    "(!s || Math.abs(parseFloat(s.style.width) - d._fullLayout.xaxis._length) < 1)",
            10, "the plot at the new size")


def on_page(driver, server, preset: str, div: str) -> None:
    """This preset's page, opened once and kept by the tests that follow (each opening starts a
    run, seconds on a busy machine)."""
    if driver.execute_script("return window.GS && GS.view && GS.view.run && "
                             f"document.getElementById('preset').textContent.includes('{preset}')"):
        driver.execute_script("if (GS.pageFrame) { GS.view.frame = GS.pageFrame; "
                              "GS.drawFrame(GS.pageFrame, true); }")
        return
    open_page(driver, server, f"?preset={preset}")
    wait_js(driver, f"const d = document.getElementById('{div}');"
                    "return d && d._fullLayout && d.offsetParent !== null && GS.view.frame", 60,
            f"{div} drawn")


def shoot(driver, div: str, name: str) -> None:
    """A screenshot with the plot in view (at 1024x768 the page scrolls)."""
    driver.execute_script(f"document.getElementById('{div}').scrollIntoView({{block: 'center'}})")
    screenshot(driver, name)


def colour_pixels(driver, div: str, colours: list[str]) -> list[int]:
    """Opaque pixels of the sample layer nearest to each colour (within a blend with the fakes'
    dark rim, which shows through their cores)."""
    return driver.execute_script("""
const cv = document.getElementById(arguments[0])._gsSamples;
const want = arguments[1].map(hex => [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16)));
const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
const n = want.map(() => 0);
for (let i = 0; i < px.length; i += 4) {
  if (px[i + 3] < 200) continue;
  let best = -1, dist = 50;
  want.forEach((c, k) => {
    const d = Math.hypot(px[i] - c[0], px[i + 1] - c[1], px[i + 2] - c[2]);
    if (d < dist) { dist = d; best = k; }
  });
  if (best >= 0) n[best] += 1;
}
return n;""", div, colours)


def test_vt001_forgetting_draws_every_mode_while_the_batch_shows_one(browser, server):
    on_page(browser, server, "forgetting-sequential", "plot-2d")
    got = browser.execute_script("""
const d = document.getElementById('plot-2d'), f = GS.view.frame;
const modes = d._fullData.filter(t => t.name === 'target modes')[0];
const real = f.arrays.real, near = new Set();
for (let i = 0; i < real.length; i += 2) {
  let best = 0, dist = Infinity;
  modes.x.forEach((x, k) => {
    const e = Math.hypot(real[i] - x, real[i + 1] - modes.y[k]);
    if (e < dist) { dist = e; best = k; }
  });
  near.add(best);
}
return {n: modes.x.length, radius: modes.x.map((x, k) => Math.hypot(x, modes.y[k])),
        shown: near.size, visible: modes.visible};""")
    assert got["n"] == 4, got  # the four clusters of the ring ...
    assert all(abs(r - 2.0) < 1e-3 for r in got["radius"]), got
    assert got["shown"] == 1, got  # ... while the real batch shows one of them
    legend = wait_js(browser, LEGEND_JS, 20, "the legend")
    assert {"real", "fake", "G's gradient", "target modes"} <= set(legend), legend
    # the fakes wear a dark rim, which reads where D's pink would swallow their crimson
    rim, fake = colour_pixels(browser, "plot-2d", browser.execute_script(
        "return [GS.VOCAB.colors.fake_edge, GS.VOCAB.colors.fake]"))
    assert rim > 30 and fake > 30, (rim, fake)
    for w, h in SIZES:
        resize(browser, (w, h), "plot-2d")
        shoot(browser, "plot-2d", f"views-forgetting-modes-{w}x{h}")
    resize(browser, SIZES[0], "plot-2d")
    assert severe_errors(browser) == []


def test_vt002_fakes_off_the_view_are_counted_at_its_edges(browser, server):
    on_page(browser, server, "forgetting-sequential", "plot-2d")
    browser.execute_script(MOVE_FAKES_2D, False)
    off = wait_js(browser, OFF_VIEW_JS, 10, "the off-view counts")
    assert off["fake"]["right"] == 312 and off["fake"]["bottom"] == 40, off
    assert off["fake"]["left"] == off["fake"]["top"] == 0, off
    assert "312 fakes off the right edge" in off["fake"]["texts"], off
    assert "40 fakes off the bottom edge" in off["fake"]["texts"], off
    # the markers are painted: the sample layer's rightmost strip is no longer empty
    strip = browser.execute_script("""
const cv = document.getElementById('plot-2d')._gsSamples, w = cv.width, h = cv.height;
const px = cv.getContext('2d').getImageData(w - 12, 0, 12, h).data;
let n = 0;
for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n += 1;
return n;""")
    assert strip > 50, strip
    for w, h in SIZES:
        resize(browser, (w, h), "plot-2d")
        assert browser.execute_script(OFF_VIEW_JS)["fake"]["right"] == 312
        shoot(browser, "plot-2d", f"views-offscreen-2d-{w}x{h}")
    resize(browser, SIZES[0], "plot-2d")


def test_vt003_a_mixture_draws_each_generator_in_its_colour(browser, server):
    # an AdaGAN frame: the page's frame with a generator index (0, 1, 2) on every fake
    on_page(browser, server, "forgetting-sequential", "plot-2d")
    browser.execute_script(MOVE_FAKES_2D, True)
    legend = wait_js(browser, "const t = Array.from(document.querySelectorAll('#plot-2d .legend "
                              ".legendtext')).map(e => e.textContent);"
                              "return t.includes('G3') && t", 10, "G1..G3 in the legend")
    assert {"G1", "G2", "G3"} <= set(legend) and "fake" not in legend, legend
    colours = browser.execute_script("return GS.VOCAB.components.slice(0, 3)")
    counts = colour_pixels(browser, "plot-2d", colours)
    assert min(counts) > 30, dict(zip(colours, counts, strict=True))
    shoot(browser, "plot-2d", "views-mixture-components")


def test_vt004_the_3d_surface_carries_the_samples(browser, server):
    on_page(browser, server, "forgetting-sequential", "plot-2d")
    browser.execute_script(
        "document.querySelector('#view-mode-2d input[value=surface]').click()")
    got = wait_js(browser, """
const d = document.getElementById('plot-surface');
if (!d || !d._fullData || d.offsetParent === null) return null;
const pts = d._fullData.filter(t => t.type === 'scatter3d');
if (!pts.length) return null;
return pts.map(t => ({name: t.name, n: t.x.length, zmin: Math.min.apply(null, t.z),
                      zmax: Math.max.apply(null, t.z)}));""", 30, "samples on the surface")
    by_name = {t["name"]: t for t in got}
    assert set(by_name) == {"real", "fake"}, got
    for t in got:  # every sample inside the box, at D's height (a probability)
        assert t["n"] > 1000 and 0 <= t["zmin"] and t["zmax"] <= 1.05, got
    # the flat map's own layers are not drawn in 3-D: their boxes rest greyed out
    greyed = browser.execute_script("""
return ['grid', 'map', 'grad', 'real', 'fake'].map(v => {
  const l = document.querySelector('#layers input[value=' + v + ']').closest('label');
  return getComputedStyle(l).opacity;
});""")
    assert [float(o) for o in greyed] == [0.4, 0.4, 0.4, 1.0, 1.0], greyed
    shoot(browser, "plot-surface", "views-surface-samples")
    browser.execute_script("document.querySelector('#view-mode-2d input[value=map]').click()")
    wait_js(browser, "return document.getElementById('plot-2d').offsetParent !== null", 10, "map")
    assert sample_pixels(browser, "plot-2d") > 1000


def test_vt005_one_d_counts_fakes_off_the_range_and_holds_the_tallest_bar(browser, server):
    on_page(browser, server, "goodfellow-1d", "plot-1d")
    # at step 0, G's fakes are a narrow spike: its bars stand many times above the real density
    top, tallest = browser.execute_script(
        "const d = document.getElementById('plot-1d'), f = GS.view.frame;"
        "return [d._fullLayout.yaxis.range[1], Math.max(...f.arrays.fake_hist)];")
    assert tallest > 2 and top >= tallest, (top, tallest)
    browser.execute_script("""
const f0 = GS.view.frame, xr = f0.meta.x_range, fake = Float32Array.from(f0.arrays.fake);
const mx = Float32Array.from(f0.arrays.map_x);
for (let i = 0; i < 312; i++) fake[i] = xr[1] + 1;
for (let i = 0; i < 30; i++) mx[mx.length - 1 - i] = xr[1] + 1;
const arrays = Object.assign({}, f0.arrays, { fake: fake, map_x: mx });
const f = Object.assign({}, f0, { arrays: arrays });
GS.view.frame = f;
GS.drawFrame(f, true);""")
    note = wait_js(browser, "return Array.from(document.querySelectorAll('#plot-1d "
                            ".annotation-text')).map(a => a.textContent)"
                            ".filter(t => t.includes('off the right'))[0]", 10,
                   "the right edge's note")  # (a G of 8 units starts with some off the left)
    assert "312 fakes off the right edge" in note
    # the G(z) that left the range sit on its right edge as triangles, inside the drawing
    symbols = browser.execute_script(
        "return document.getElementById('plot-1d')._fullData.filter(t => t.name === 'G(z)')[0]"
        ".marker.symbol.filter(s => s === 'triangle-right').length")
    assert symbols == 30
    for w, h in SIZES:
        resize(browser, (w, h), "plot-1d")
        shoot(browser, "plot-1d", f"views-offscreen-1d-{w}x{h}")
    resize(browser, SIZES[0], "plot-1d")
    assert severe_errors(browser) == []
