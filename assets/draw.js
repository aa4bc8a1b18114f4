/* ganscope plot machinery: what every view and chart draws with. Decoded frames go to
 * Plotly.react on the page's plot divs: one react per plot per frame, fixed axis ranges,
 * uirevision so zoom survives frames. Here: the shared layout and fonts, `react` with its paint
 * counter, the sample layer (a canvas over the plot area), the D surface as a layout image and
 * its colour bar. The views (draw_1d.js, draw_2d.js, draw_nd.js), the charts (draw_charts.js)
 * and the play page's run (draw_play.js) load after this file (Dash loads assets by file name)
 * and take these pieces from GS.plot. Colours and labels come from GS.VOCAB (0_vocabulary.js). */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const V = GS.VOCAB;

  const REAL = V.colors.real, FAKE = V.colors.fake;
  const FONT = { family: "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", size: 14,
                 color: V.colors.ink };
  // Diverging D surface (gancore/vocabulary.py D_SCALE says why it is pale).
  const D_SCALE = V.d_scale;
  const CONFIG = { displayModeBar: false, responsive: true, displaylogo: false };

  function $(id) { return document.getElementById(id); }
  function visible(div) { return div && div.offsetParent !== null; }

  function linspace(a, b, n) {
    const out = new Float32Array(n), d = n > 1 ? (b - a) / (n - 1) : 0;
    for (let i = 0; i < n; i++) out[i] = a + i * d;
    return out;
  }
  function gridRows(flat, shape) {
    const rows = [], w = shape[1];
    for (let r = 0; r < shape[0]; r++) rows.push(Array.from(flat.subarray(r * w, (r + 1) * w)));
    return rows;
  }

  // Presenter mode (classroom.js) reads from the back of a room: larger default type.
  const BIG_FONT = Object.assign({}, FONT, { size: 19 });
  function presenting() { return typeof document !== "undefined" && !!document.body &&
                                 document.body.classList.contains("present"); }

  function baseLayout(extra) {
    return Object.assign({
      font: presenting() ? BIG_FONT : FONT, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff",
      margin: { l: 48, r: 16, t: 34, b: 40 }, showlegend: false, hovermode: false,
    }, extra || {});
  }
  function title(text) {
    return { text: text, x: 0.01, xanchor: "left", font: { size: presenting() ? 21 : 15 } };
  }

  // Plotly.react with a paint counter per div (plotly_afterplot), used by the status line and
  // by bench/browser_fps.py. Latency is step-to-paint: the worker's send time to the paint.
  // `painters` (2-D and projection views) paint the sample layer after each Plotly draw.
  const stats = GS.stats = GS.stats || { painted: 0, latencies: [], bytes: [], drawn: 0 };
  function afterPlot(div) {
    // Also with no painters: a plot that stopped having samples (another view in the same div)
    // gets its layer cleared instead of keeping the last frame's dots.
    if (div._gsPainters || div._gsSamples) paintSamples(div);
    if (div._gsScale || div._gsScaleEl) paintScale(div);
    if (!div._gsCounted) return;
    stats.painted += 1;
    if (div._gsSentAt) {
      stats.latencies.push(Date.now() / 1000 - div._gsSentAt);
      if (stats.latencies.length > 5000) stats.latencies.splice(0, 2500);
      div._gsSentAt = 0;
    }
  }

  // Presenter mode: no text under 16 px on any plot, and axes that make room for their larger
  // labels. One floor here, under every view and chart, instead of a size in each of them.
  const MIN_PRESENT_PX = 16;
  function floorFonts(obj, depth) {
    if (!obj || typeof obj !== "object" || depth > 4) return;
    if (Array.isArray(obj)) { obj.forEach(function (o) { floorFonts(o, depth + 1); }); return; }
    for (const k in obj) {
      const v = obj[k];
      if ((k === "font" || k === "tickfont") && v && typeof v === "object") {
        obj[k] = Object.assign({}, v, { size: Math.max(v.size || 0, MIN_PRESENT_PX) });
      } else if (/^[xy]axis\d*$/.test(k) && v && typeof v === "object") {
        // (a chart that sets its own margins for presenter mode says automargin: false: a
        // second layout pass made each chart draw 2-3 times slower)
        if (!("automargin" in v)) obj[k] = Object.assign({}, v, { automargin: true });
        floorFonts(obj[k], depth + 1);
      } else if (v && typeof v === "object" && (k === "title" || k === "legend" || k === "annotations")) {
        floorFonts(v, depth + 1);
      }
    }
  }

  function react(div, data, layout, counted, sentAt, painters) {
    if (!div) return;
    if (presenting() && layout) floorFonts(layout, 0);
    div._gsPainters = painters || null;
    if (counted) div._gsSentAt = sentAt || 0;
    const p = root.Plotly.react(div, data, layout, CONFIG);
    if (!div._gsHooked && div.on) {  // .on exists once Plotly has drawn the div the first time
      div._gsHooked = true;
      div._gsCounted = !!counted;
      div.on("plotly_afterplot", function () { afterPlot(div); });
      if (painters) paintSamples(div);  // that first draw happened before the hook
      followBox(div);
    }
    return p;
  }

  // Plotly's responsive plots follow the window's size only; a box that changes size without
  // the window doing so (a notice line above it, presenter mode, a section opening) left the
  // plot at its old size, clipped or short of its box. Refit once per animation frame, and only
  // when the drawn size and the box differ (a hidden box, 0 x 0, is left alone).
  function followBox(div) {
    if (!root.ResizeObserver) return;
    let pending = false;
    new root.ResizeObserver(function () {
      if (pending) return;
      pending = true;
      root.requestAnimationFrame(function () {
        pending = false;
        const fl = div._fullLayout, w = div.clientWidth, h = div.clientHeight;
        if (!fl || !w || !h || (div.layout.width && div.layout.height)) return;  // sized by us
        if (Math.abs(fl.width - w) > 2 || Math.abs(fl.height - h) > 2) root.Plotly.Plots.resize(div);
      });
    }).observe(div);
  }


  // ---- the D colour bar: a few HTML elements beside the plot -------------------------------------
  // Plotly redraws a heatmap's colour bar (and pushes the margins for it) on every data change:
  // about a quarter of a 2-D frame's drawing (a CPU profile of GS.draw2d in headless Chromium:
  // 7 of 28 ms). The bar only changes when D's range does, so it is drawn here, beside the plot
  // area, and its texts are touched only when they change. Exports that Plotly renders by itself
  // (PNG) switch Plotly's own colour bar back on (exports.js).
  function scaleSpec(f) {
    const prob = !!f.meta.d_probabilistic;
    let lo = 0, hi = 1;
    if (!prob) {
      const r = f.ranges.d_grid || [-1, 1];
      hi = Math.max(Math.abs(r[0]), Math.abs(r[1]), 1e-6); lo = -hi;
    }
    return { title: prob ? "D(x)" : "critic", lo: lo, hi: hi };
  }

  function niceTicks(lo, hi) {
    if (lo === 0 && hi === 1) return [0, 0.25, 0.5, 0.75, 1];
    const raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map(function (k) { return k * mag; })
      .find(function (v) { return v >= raw; });
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(t);
    return out;
  }

  function tickText(v) {
    if (Math.abs(v) < 1e-12) return "0";
    const a = Math.abs(v);
    return a >= 1000 || a < 0.01 ? v.toExponential(1) : String(+v.toPrecision(3));
  }

  function scaleRoom() {  // right margin for the bar, its ticks and its title
    return presenting() ? 100 : 80;
  }

  function paintScale(div) {
    const fl = div._fullLayout, host = div.querySelector && div.querySelector(".svg-container");
    const spec = div._gsScale;
    let el = div._gsScaleEl;
    if (!spec || !fl || !fl.xaxis || !fl.yaxis || !host) {
      if (el) { el.remove(); div._gsScaleEl = null; }
      return;
    }
    const xa = fl.xaxis, ya = fl.yaxis, big = presenting();
    const key = [Math.round(xa._offset + xa._length), Math.round(ya._offset), Math.round(ya._length),
                 spec.title, spec.lo.toPrecision(3), spec.hi.toPrecision(3), big].join("|");
    if (el && el.parentNode === host && el._gsKey === key) return;
    if (!el || el.parentNode !== host) {  // Plotly rebuilds its container on a full redraw
      if (el) el.remove();
      el = div._gsScaleEl = document.createElement("div");
      el.className = "gs-colorbar";
      el.style.cssText = "position:absolute;pointer-events:none;width:12px;";
      host.appendChild(el);
    }
    el._gsKey = key;
    const size = big ? 17 : 12;
    el.style.left = (xa._offset + xa._length + 10) + "px";
    el.style.top = ya._offset + "px";
    el.style.height = ya._length + "px";
    el.style.background = "linear-gradient(to top, " + D_SCALE.map(function (c) {
      return c[1] + " " + (100 * c[0]) + "%";
    }).join(", ") + ")";
    el.style.boxShadow = "inset 0 0 0 1px rgba(31,36,48,0.15)";
    el.textContent = "";
    const label = "position:absolute;left:16px;transform:translateY(50%);white-space:nowrap;" +
      "font-family:" + FONT.family.replace(/"/g, "'") + ";font-size:" + size + "px;color:" + FONT.color + ";";
    niceTicks(spec.lo, spec.hi).forEach(function (v) {
      const t = document.createElement("span");
      t.style.cssText = label + "bottom:" + (100 * (v - spec.lo) / (spec.hi - spec.lo)) + "%;";
      t.textContent = tickText(v);
      el.appendChild(t);
    });
    const ttl = document.createElement("span");
    ttl.className = "gs-colorbar-title";
    ttl.style.cssText = label.replace("transform:translateY(50%);", "") + "left:" +
      (big ? 66 : 50) + "px;top:50%;transform:translateY(-50%);writing-mode:vertical-rl;";
    ttl.textContent = spec.title;
    el.appendChild(ttl);
  }

  // ---- the D surface as a layout image -----------------------------------------------------------
  // A heatmap trace whose z changes makes every Plotly.react a full replot: trace and layout
  // defaults, all axes and their labels redrawn (a CPU profile of the live 2-D page: about half of
  // each frame's 24 ms). The same surface as a layout image is a change to layout.images alone,
  // which Plotly redraws without touching the axes: GS.draw2d on the same frames went from a median
  // 10.4-11.1 ms to 4.0-5.1 ms (bench/draw_cost.py), and on the live page (bench/browser_fps.py)
  // step-to-paint p95 from 110-160 ms to 56-82 ms with every frame the worker sent painted.
  // Plotly's heatmap ("fast" smoothing) rendered the same picture: one pixel per grid cell,
  // stretched and smoothed by the browser. Exports swap the real heatmap back in (GS.dHeatmap).
  function hexRgb(h) { return [1, 3, 5].map(function (i) { return parseInt(h.slice(i, i + 2), 16); }); }
  function rgba(h, alpha) { return "rgba(" + hexRgb(h).join(",") + "," + alpha + ")"; }
  const D_LUT = (function () {  // 256 RGB entries along D_SCALE
    const lut = new Uint8ClampedArray(256 * 3);
    for (let k = 0; k < 256; k++) {
      const t = k / 255;
      let i = 1;
      while (i < D_SCALE.length - 1 && t > D_SCALE[i][0]) i++;
      const a = D_SCALE[i - 1], b = D_SCALE[i], u = (t - a[0]) / (b[0] - a[0]);
      const ca = hexRgb(a[1]), cb = hexRgb(b[1]);
      for (let j = 0; j < 3; j++) lut[3 * k + j] = ca[j] + u * (cb[j] - ca[j]);
    }
    return lut;
  })();
  let dCanvas = null;

  function gridSpacing(f) {  // [dx, dy] between the D grid's cell centres
    const shape = f.shapes.d_grid, ext = f.meta.d_extent;
    return [(ext[0][1] - ext[0][0]) / (shape[1] - 1), (ext[1][1] - ext[1][0]) / (shape[0] - 1)];
  }

  function dImage(f) {
    const g = f.arrays.d_grid, shape = f.shapes.d_grid, ext = f.meta.d_extent;
    const ny = shape[0], nx = shape[1], scale = scaleSpec(f), span = scale.hi - scale.lo;
    const [dx, dy] = gridSpacing(f);
    const cv = dCanvas = dCanvas || document.createElement("canvas");
    if (cv.width !== nx || cv.height !== ny) { cv.width = nx; cv.height = ny; }
    const ctx = cv.getContext("2d"), im = ctx.createImageData(nx, ny), px = im.data;
    for (let i = 0; i < ny; i++) {
      const row = (ny - 1 - i) * nx;  // the grid's first row is the lowest y; an image's is the top
      for (let j = 0; j < nx; j++) {
        let k = Math.round(255 * (g[row + j] - scale.lo) / span);
        k = k > 255 ? 255 : (k >= 0 ? k : 0);  // NaN -> 0
        const o = 4 * (i * nx + j);
        px[o] = D_LUT[3 * k]; px[o + 1] = D_LUT[3 * k + 1]; px[o + 2] = D_LUT[3 * k + 2]; px[o + 3] = 255;
      }
    }
    ctx.putImageData(im, 0, 0);
    return { name: "gs-d", source: cv.toDataURL(), xref: "x", yref: "y", x: ext[0][0] - dx / 2,
             y: ext[1][1] + dy / 2, sizex: nx * dx, sizey: ny * dy, sizing: "stretch",
             xanchor: "left", yanchor: "top", layer: "below" };
  }

  /** The D surface of a div's last frame as a real heatmap trace, with its colour bar where the
   * page shows one (not the compact views), for renderings Plotly makes by itself (PNG export);
   * null when the div shows no D. */
  GS.dHeatmap = function (div) {
    const f = div && div._gsDFrame;
    return f ? Object.assign(heatmap(f, "x", "y"), { showscale: !!div._gsScale }) : null;
  };

  function heatmap(f, xaxis, yaxis) {  // showscale off: paintScale draws the bar
    const g = f.arrays.d_grid, shape = f.shapes.d_grid, ext = f.meta.d_extent;
    const scale = scaleSpec(f), zmin = scale.lo, zmax = scale.hi, step = gridSpacing(f);
    return {
      type: "heatmap", z: gridRows(g, shape), x0: ext[0][0], dx: step[0],
      y0: ext[1][0], dy: step[1], zmin: zmin, zmax: zmax,
      colorscale: D_SCALE, showscale: false, hoverinfo: "skip", xaxis: xaxis || "x",
      yaxis: yaxis || "y", zsmooth: "fast",
      colorbar: { title: { text: scale.title, side: "right" }, thickness: 12,
                  len: 0.6, x: 1.0, outlinewidth: 0 },
    };
  }

  // ---- the sample layer: a canvas over the plot area ---------------------------------------------
  // Samples, arrows and the latent grid are painted with the canvas 2-D API on a canvas laid over
  // Plotly's plot area (above the D heatmap and the axes, below the title and colour bar), at the
  // axes' current ranges, after every Plotly draw (so zoom, pan and resize repaint it). Plotly's
  // scattergl redraws a full-size WebGL canvas per frame, which a machine without a GPU
  // rasterises in software; handing Plotly a rendered image instead costs a PNG encoding per
  // frame. Measured in headless Chromium on a 2-core box (bench/browser_fps.py and a CPU
  // profile): a 2-D frame took 98 ms with scattergl, 39 ms as a layout image (23 ms of it PNG
  // encoding under load), and four 2-D runs on one page no longer need eight WebGL contexts.
  function sampleCanvas(div, host) {
    let cv = div._gsSamples;
    if (!cv || cv.parentNode !== host) {  // Plotly rebuilds its container on a full redraw
      cv = div._gsSamples = document.createElement("canvas");
      cv.className = "gs-sample-layer";
      cv.style.position = "absolute";
      cv.style.pointerEvents = "none";  // zoom and pan drags go through to Plotly
      const under = host.querySelector(".main-svg");  // heatmap and axes; the next one is labels
      host.insertBefore(cv, under ? under.nextSibling : host.firstChild);
    }
    return cv;
  }

  function paintSamples(div) {
    const fl = div._fullLayout, host = div.querySelector && div.querySelector(".svg-container");
    if (!fl || !fl.xaxis || !fl.yaxis || !host || !(fl.xaxis._length > 0)) return;
    const xa = fl.xaxis, ya = fl.yaxis, painters = div._gsPainters || [];
    const dpr = Math.min(2, root.devicePixelRatio || 1);
    const w = Math.max(1, Math.round(xa._length * dpr)), h = Math.max(1, Math.round(ya._length * dpr));
    const cv = sampleCanvas(div, host), style = cv.style;
    if (cv.width !== w) cv.width = w;
    if (cv.height !== h) cv.height = h;
    style.left = xa._offset + "px"; style.top = ya._offset + "px";
    style.width = xa._length + "px"; style.height = ya._length + "px";
    const x0 = xa.range[0], x1 = xa.range[1], y0 = ya.range[0], y1 = ya.range[1];
    const sx = w / (x1 - x0), sy = h / (y1 - y0);
    const ctx = cv.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    const px = function (x) { return (x - x0) * sx; };
    const py = function (y) { return (y1 - y) * sy; };
    painters.forEach(function (paint) { if (paint) paint(ctx, px, py, dpr); });
  }

  /** The sample layer as a Plotly layout image at the axes' ranges (for PNG export, where
   * Plotly renders the figure by itself), or null when the plot has none. */
  GS.sampleLayerImage = function (div) {
    const cv = div && div._gsSamples, fl = div && div._fullLayout;
    if (!cv || !fl || !div._gsPainters) return null;
    const xr = fl.xaxis.range, yr = fl.yaxis.range;
    return { source: cv.toDataURL("image/png"), xref: "x", yref: "y", x: xr[0], y: yr[1],
             sizex: xr[1] - xr[0], sizey: yr[1] - yr[0], sizing: "stretch", xanchor: "left",
             yanchor: "top", layer: "above" };
  };

  function dots(xy, color, radius, alpha) {
    return function (ctx, px, py, dpr) {
      const r = radius * dpr;
      ctx.fillStyle = color; ctx.globalAlpha = alpha;
      for (let i = 0; i + 1 < xy.length; i += 2) {
        ctx.beginPath(); ctx.arc(px(xy[i]), py(xy[i + 1]), r, 0, 2 * Math.PI); ctx.fill();
      }
      ctx.globalAlpha = 1;
    };
  }

  function strokes(paths, color, width, alpha) {
    // paths(moveTo, lineTo) emits the lines in data coordinates.
    return function (ctx, px, py, dpr) {
      ctx.strokeStyle = color; ctx.lineWidth = width * dpr; ctx.globalAlpha = alpha;
      ctx.lineCap = "round"; ctx.lineJoin = "round";
      ctx.beginPath();
      paths(function (x, y) { ctx.moveTo(px(x), py(y)); }, function (x, y) { ctx.lineTo(px(x), py(y)); });
      ctx.stroke();
      ctx.globalAlpha = 1;
    };
  }

  GS.PALETTE = V.palette;
  GS.COLORS = { real: REAL, fake: FAKE };
  // For the other draw_*.js files (internal: pages call the GS.draw* functions).
  GS.plot = {
    $: $, visible: visible, linspace: linspace, gridRows: gridRows, presenting: presenting,
    baseLayout: baseLayout, title: title, react: react, scaleSpec: scaleSpec, scaleRoom: scaleRoom,
    dImage: dImage, dots: dots, strokes: strokes, rgba: rgba, FONT: FONT, D_SCALE: D_SCALE,
  };
})(typeof window !== "undefined" ? window : globalThis);
