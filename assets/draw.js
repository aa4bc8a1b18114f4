/* ganscope drawing: decoded frames -> Plotly.react on the page's plot divs.
 * Renderers take plain typed arrays and a div; they never see a model or the socket.
 * One Plotly.react per plot per frame, fixed axis ranges, uirevision so zoom survives frames;
 * the charts and the secondary n-D panels are redrawn a few times a second, not every frame. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};

  const REAL = "#0b8a5f", FAKE = "#d1306b", GRID = "#5b5f97", ARROW = "#1f2430", MAP = "#7c5cd6";
  const FONT = { family: "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", size: 14,
                 color: "#1f2430" };
  // Diverging D surface: pale pink where D calls points fake, pale green where it calls them
  // real, white at indifference; pale so the saturated sample colours stay readable on top.
  const D_SCALE = [[0, "#f2c2d5"], [0.25, "#f9e2eb"], [0.5, "#fcfcfc"], [0.75, "#d9efe3"],
                   [1, "#a3d9bd"]];
  const CORR_SCALE = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"],
                      [1, "#b2182b"]];
  const CONFIG = { displayModeBar: false, responsive: true, displaylogo: false };
  const CHART_MS = 150, ND_SIDE_MS = 80, SURFACE_MS = 200;
  const MAX_POINTS = 1500;  // per series; a chart is < 1,000 px wide

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

  function react(div, data, layout, counted, sentAt, painters) {
    if (!div) return;
    div._gsPainters = painters || null;
    if (counted) div._gsSentAt = sentAt || 0;
    const p = root.Plotly.react(div, data, layout, CONFIG);
    if (!div._gsHooked && div.on) {  // .on exists once Plotly has drawn the div the first time
      div._gsHooked = true;
      div._gsCounted = !!counted;
      div.on("plotly_afterplot", function () { afterPlot(div); });
      if (painters) paintSamples(div);  // that first draw happened before the hook
    }
    return p;
  }

  // ---- 2-D -----------------------------------------------------------------------------------
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

  function segments(ax, ay, bx, by, color, width, name) {
    // Line segments a->b as one SVG trace with null gaps (the 1-D view's z -> x mapping).
    const n = ax.length, x = new Array(n * 3), y = new Array(n * 3);
    for (let i = 0; i < n; i++) {
      x[3 * i] = ax[i]; y[3 * i] = ay[i]; x[3 * i + 1] = bx[i]; y[3 * i + 1] = by[i];
      x[3 * i + 2] = null; y[3 * i + 2] = null;
    }
    return { type: "scatter", mode: "lines", x: x, y: y, name: name, hoverinfo: "skip",
             line: { color: color, width: width }, connectgaps: false };
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

  function arrowPaths(ax, ay, bx, by, heads) {
    return function (moveTo, lineTo) {
      for (let i = 0; i < ax.length; i++) {
        moveTo(ax[i], ay[i]); lineTo(bx[i], by[i]);
        if (!heads) continue;
        const dx = bx[i] - ax[i], dy = by[i] - ay[i], L = Math.hypot(dx, dy) || 1, h = 0.3 * L;
        const ux = dx / L, uy = dy / L;
        moveTo(bx[i] - h * (ux * 0.87 - uy * 0.5), by[i] - h * (uy * 0.87 + ux * 0.5));
        lineTo(bx[i], by[i]);
        lineTo(bx[i] - h * (ux * 0.87 + uy * 0.5), by[i] - h * (uy * 0.87 - ux * 0.5));
      }
    };
  }

  function latentGrid(f) {  // the deformed latent grid: its rows and columns mapped by G
    const m = f.arrays.latent_mapped, shape = f.meta.latent_shape;
    if (!m || !shape || shape.length !== 2) return null;
    const g = shape[0];
    return strokes(function (moveTo, lineTo) {
      for (let i = 0; i < g; i++) {
        for (let j = 0; j < g; j++) (j ? lineTo : moveTo)(m[(i * g + j) * 2], m[(i * g + j) * 2 + 1]);
        for (let j = 0; j < g; j++) (j ? lineTo : moveTo)(m[(j * g + i) * 2], m[(j * g + i) * 2 + 1]);
      }
    }, GRID, 1, 0.75);
  }

  function latentArrows(f) {  // latent point z -> G(z), drawn in the data plane
    const m = f.arrays.latent_mapped, shape = f.meta.latent_shape, half = f.meta.latent_half;
    if (!m || !shape || shape.length !== 2) return null;
    const g = shape[0], ax = [], ay = [], bx = [], by = [], step = g > 12 ? 2 : 1;
    const ticks = linspace(-half, half, g);
    for (let i = 0; i < g; i += step) {
      for (let j = 0; j < g; j += step) {
        const k = i * g + j;  // meshgrid order: row i is the second latent coordinate
        ax.push(ticks[j]); ay.push(ticks[i]); bx.push(m[k * 2]); by.push(m[k * 2 + 1]);
      }
    }
    return strokes(arrowPaths(ax, ay, bx, by, false), MAP, 1, 1);
  }

  function gradArrows(f) {  // where G's gradient pushes fixed fake samples
    const v = f.arrays.grad_arrows, fake = f.arrays.fake;
    if (!v || !fake) return null;
    const n = f.shapes.grad_arrows[0], ax = [], ay = [], bx = [], by = [];
    for (let i = 0; i < n; i++) {
      ax.push(fake[2 * i]); ay.push(fake[2 * i + 1]);
      bx.push(fake[2 * i] + v[2 * i]); by.push(fake[2 * i + 1] + v[2 * i + 1]);
    }
    return strokes(arrowPaths(ax, ay, bx, by, true), ARROW, 1.4, 1);
  }

  function draw2d(div, f, layers, runId, compact) {
    const L = {};
    (layers || ["real", "fake", "d", "grad"]).forEach(function (k) { L[k] = true; });
    const b = f.meta.bounds, data = [], r = compact ? 1.5 : 2;
    const withD = L.d && !!f.arrays.d_grid;  // a VAE has no D
    const margin = compact ? { l: 30, r: 8, t: 28, b: 24 }
                           : { l: 44, r: withD ? scaleRoom() : 12, t: 36, b: 36 };
    div._gsDFrame = withD ? f : null;
    div._gsScale = withD && !compact ? scaleSpec(f) : null;  // drawn beside the plot (paintScale)
    const painters = [
      L.grid && latentGrid(f), L.map && latentArrows(f),
      L.real && dots(f.arrays.real, REAL, r, 0.55), L.fake && dots(f.arrays.fake, FAKE, r, 0.8),
      L.grad && gradArrows(f),
    ];
    const layout = baseLayout({
      uirevision: runId, margin: margin,
      title: title(compact ? (f.meta.run_id || "") + " · step " + f.step.toLocaleString()
                           : "samples and D"),  // the status line counts the steps: a title
                                               // that changes every frame costs a text layout
      xaxis: { range: b[0], zeroline: false, showgrid: false, constrain: "domain",
               ticklabeloverflow: "allow" },
      yaxis: { range: b[1], zeroline: false, showgrid: false, scaleanchor: "x", scaleratio: 1,
               ticklabeloverflow: "allow",
               constrain: "domain", constraintoward: "top" },  // the square sits under its title
    });
    layout.images = withD ? [dImage(f)] : [];
    return react(div, data, layout, true, f.meta.sent_at, painters);
  }

  function drawSurface(div, f, runId) {
    const g = f.arrays.d_grid, shape = f.shapes.d_grid, ext = f.meta.d_extent;
    const xs = Array.from(linspace(ext[0][0], ext[0][1], shape[1]));
    const ys = Array.from(linspace(ext[1][0], ext[1][1], shape[0]));
    const prob = !!f.meta.d_probabilistic;
    const data = [{ type: "surface", x: xs, y: ys, z: gridRows(g, shape), colorscale: D_SCALE,
                    cmin: prob ? 0 : undefined, cmax: prob ? 1 : undefined, showscale: false,
                    hoverinfo: "skip", opacity: 0.95 }];
    const layout = baseLayout({
      uirevision: runId, title: title("D surface (3-D) · step " + f.step.toLocaleString()),
      margin: { l: 0, r: 0, t: 34, b: 0 },
      scene: { xaxis: { title: { text: "x₁" } }, yaxis: { title: { text: "x₂" } },
               zaxis: { title: { text: prob ? "D(x)" : "critic" }, range: prob ? [0, 1] : undefined },
               camera: { eye: { x: 1.5, y: -1.5, z: 1.0 } }, aspectmode: "cube" },
    });
    return react(div, data, layout, false);
  }

  // ---- 1-D -----------------------------------------------------------------------------------
  function draw1d(div, f, runId) {
    const xr = f.meta.x_range, dens = f.arrays.real_density, hist = f.arrays.fake_hist;
    const curve = f.arrays.d_curve, mz = f.arrays.map_z, mx = f.arrays.map_x;
    const xs = linspace(xr[0], xr[1], dens.length), nb = hist.length;
    const w = (xr[1] - xr[0]) / nb, hx = linspace(xr[0] + w / 2, xr[1] - w / 2, nb);
    const cx = curve ? linspace(xr[0], xr[1], curve.length) : [];  // a VAE has no D curve
    const prob = !!f.meta.d_probabilistic;
    let top = 0;
    for (let i = 0; i < dens.length; i++) top = Math.max(top, dens[i]);
    // z -> x lines: z quantiles placed on the same horizontal span as x (z axis at the bottom).
    let zlo = Infinity, zhi = -Infinity;
    for (let i = 0; i < mz.length; i++) { zlo = Math.min(zlo, mz[i]); zhi = Math.max(zhi, mz[i]); }
    const zspan = (zhi - zlo) || 1, ax = [], ay = [], bx = [], by = [];
    for (let i = 0; i < mz.length; i++) {
      ax.push(xr[0] + (mz[i] - zlo) / zspan * (xr[1] - xr[0])); ay.push(0);
      bx.push(mx[i]); by.push(1);
    }
    const lines = segments(ax, ay, bx, by, MAP, 1, "z → x");
    lines.xaxis = "x"; lines.yaxis = "y3"; lines.opacity = 0.55; lines.showlegend = false;
    const data = [
      { type: "scatter", mode: "lines", x: xs, y: dens, name: "real density", fill: "tozeroy",
        line: { color: REAL, width: 2.5 }, fillcolor: "rgba(11,138,95,0.18)", hoverinfo: "skip" },
      { type: "bar", x: hx, y: hist, name: "fake histogram", marker: { color: FAKE },
        opacity: 0.55, width: w, hoverinfo: "skip" },
      { type: "scatter", mode: "lines", x: cx, y: curve || [], name: prob ? "D(x)" : "critic(x)",
        yaxis: "y2", line: { color: ARROW, width: 2.5, dash: "dash" }, hoverinfo: "skip" },
      lines,
      { type: "scatter", mode: "markers", x: bx, y: by, xaxis: "x", yaxis: "y3", hoverinfo: "skip",
        marker: { size: 6, color: Array.from(mz), colorscale: "Viridis", opacity: 0.9 },
        name: "G(z)", showlegend: false },
      { type: "scatter", mode: "markers", x: ax, y: ay, xaxis: "x", yaxis: "y3", hoverinfo: "skip",
        marker: { size: 6, color: Array.from(mz), colorscale: "Viridis", opacity: 0.9 },
        name: "z", showlegend: false },
    ];
    const layout = baseLayout({
      uirevision: runId, showlegend: true, barmode: "overlay",
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1.0, yanchor: "bottom", font: { size: 14 } },
      title: title("1-D · step " + f.step.toLocaleString()),
      margin: { l: 56, r: 56, t: 40, b: 30 },
      xaxis: { range: xr, zeroline: false },
      yaxis: { domain: [0.4, 1], range: [0, Math.max(top * 1.6, 1e-3)], title: { text: "density" },
               zeroline: false },
      yaxis2: { overlaying: "y", side: "right", range: prob ? [0, 1.02] : undefined,
                title: { text: prob ? "D(x)" : "critic" }, showgrid: false, zeroline: false,
                tickmode: "auto", nticks: 6 },  // its own round ticks, not the density's synced
      yaxis3: { domain: [0, 0.3], range: [-0.15, 1.15], showgrid: false, zeroline: false,
                tickvals: [0, 1], ticktext: ["z", "x = G(z)"] },
      annotations: [{ xref: "paper", yref: "paper", x: 0, y: 0.315, showarrow: false,
                      xanchor: "left", text: "mapping z → x (crossing lines: G folds the noise)",
                      font: { size: 13, color: "#555" } }],
    });
    return react(div, data, layout, true, f.meta.sent_at);
  }

  // ---- n-D -----------------------------------------------------------------------------------
  function drawProj(div, f, runId) {
    const pb = f.meta.plane_bounds, data = [];
    div._gsDFrame = f.arrays.d_grid ? f : null;
    div._gsScale = f.arrays.d_grid ? scaleSpec(f) : null;
    const rev = runId + ":" + f.meta.projection;
    const painters = [dots(f.arrays.proj_real, REAL, 2, 0.5), dots(f.arrays.proj_fake, FAKE, 2, 0.75)];
    const p = f.meta.projection === "pca" ? "PCA plane" : "dims " + f.meta.projection.replace(",", " × ");
    const layout = baseLayout({
      uirevision: rev,
      title: title("projection: " + p + " · step " + f.step.toLocaleString()),
      margin: { l: 48, r: div._gsScale ? scaleRoom() : 16, t: 34, b: 40 },
      xaxis: { range: pb[0], zeroline: false, showgrid: false, ticklabeloverflow: "allow" },
      yaxis: { range: pb[1], zeroline: false, showgrid: false, ticklabeloverflow: "allow" },
      images: div._gsDFrame ? [dImage(f)] : [],
    });
    return react(div, data, layout, true, f.meta.sent_at, painters);
  }

  function drawMarginals(div, f, runId) {
    const mr = f.arrays.marg_real, mf = f.arrays.marg_fake, lh = f.arrays.marg_lo_hi;
    const dim = f.shapes.marg_real[0], bins = f.shapes.marg_real[1];
    let order = [];
    for (let j = 0; j < dim; j++) order.push(j);
    const ks = f.arrays.ks_stat;
    if (dim > 8 && ks) order.sort(function (a, b) { return ks[b] - ks[a]; });  // worst first
    order = order.slice(0, 8);
    const ncol = Math.min(4, order.length), nrow = Math.ceil(order.length / ncol);
    const data = [], layout = baseLayout({ uirevision: runId, margin: { l: 30, r: 10, t: 40, b: 24 },
      title: title((dim > 8 ? "marginals (8 worst dims by KS)" : "per-dimension marginals") +
                   (ks ? " · dim · KS" : "")) });
    const annotations = [];
    order.forEach(function (j, k) {
      const ax = k === 0 ? "" : String(k + 1);
      const r = Math.floor(k / ncol), c = k % ncol, gap = 0.04;
      const x0 = c / ncol + gap / 2, x1 = (c + 1) / ncol - gap / 2;
      const y1 = 1 - r / nrow - 0.08, y0 = 1 - (r + 1) / nrow + 0.04;
      const lo = lh[2 * j], hi = lh[2 * j + 1], xs = linspace(lo, hi, bins);
      data.push({ type: "scatter", mode: "lines", x: xs, y: mr.subarray(j * bins, (j + 1) * bins),
                  xaxis: "x" + ax, yaxis: "y" + ax, fill: "tozeroy", line: { color: REAL, width: 2 },
                  fillcolor: "rgba(11,138,95,0.18)", hoverinfo: "skip" });
      data.push({ type: "scatter", mode: "lines", x: xs, y: mf.subarray(j * bins, (j + 1) * bins),
                  xaxis: "x" + ax, yaxis: "y" + ax, line: { color: FAKE, width: 2 }, hoverinfo: "skip" });
      layout["xaxis" + ax] = { domain: [x0, x1], anchor: "y" + ax, range: [lo, hi], nticks: 3,
                               tickfont: { size: 11 }, zeroline: false };
      layout["yaxis" + ax] = { domain: [y0, y1], anchor: "x" + ax, showticklabels: false,
                               zeroline: false, rangemode: "tozero" };
      annotations.push({ xref: "paper", yref: "paper", x: (x0 + x1) / 2, y: y1 + 0.01,
                         yanchor: "bottom", showarrow: false, font: { size: 11 },
                         // short: "d86 KS 0.64" ran into its neighbours' labels
                         text: "d" + j + (ks ? " · " + ks[j].toFixed(2).replace(/^0/, "") : "") });
    });
    layout.annotations = annotations;
    return react(div, data, layout, false);
  }

  function drawCorr(div, f, runId) {
    const dim = f.shapes.corr_real[0];
    const a = gridRows(f.arrays.corr_real, f.shapes.corr_real);
    const b = gridRows(f.arrays.corr_fake, f.shapes.corr_fake);
    const hm = function (z, ax, show) {
      return { type: "heatmap", z: z, zmin: -1, zmax: 1, colorscale: CORR_SCALE, xaxis: "x" + ax,
               yaxis: "y" + ax, showscale: show, hoverinfo: "skip",
               colorbar: { thickness: 10, len: 0.8, outlinewidth: 0 } };
    };
    const axis = function (d, anchor) {
      return { domain: d, anchor: anchor, showgrid: false, zeroline: false, constrain: "domain",
               tickfont: { size: 11 }, nticks: Math.min(dim, 7) };
    };
    const layout = baseLayout({
      uirevision: runId, title: title("correlations: real | fake"),
      margin: { l: 34, r: 8, t: 40, b: 28 },
      xaxis: axis([0, 0.44], "y"), yaxis: Object.assign(axis([0, 1], "x"), { autorange: "reversed", scaleanchor: "x" }),
      xaxis2: axis([0.5, 0.94], "y2"), yaxis2: Object.assign(axis([0, 1], "x2"), { autorange: "reversed", scaleanchor: "x2" }),
    });
    return react(div, [hm(a, "", false), hm(b, "2", true)], layout, false);
  }

  function drawKs(div, f, runId) {
    const ks = f.arrays.ks_stat, p = f.arrays.ks_p, n = ks.length, colors = new Array(n);
    for (let i = 0; i < n; i++) colors[i] = p[i] < 0.05 ? FAKE : "#9aa0a6";
    const mean = f.scalars.ks_mean;
    const layout = baseLayout({
      uirevision: runId, margin: { l: 40, r: 8, t: 36, b: 30 },
      title: title("KS per dimension" + (mean !== undefined && mean !== null ? " · mean " + mean.toFixed(3) : "")),
      xaxis: { title: { text: "dimension" }, zeroline: false, tickfont: { size: 11 } },
      yaxis: { range: [0, Math.max(0.25, Math.max.apply(null, Array.from(ks)) * 1.1)], zeroline: false },
      bargap: 0.15,
    });
    return react(div, [{ type: "bar", y: ks, marker: { color: colors }, hoverinfo: "skip" }], layout, false);
  }

  function drawNorm(div, f, runId) {
    const nr = f.arrays.norm_real, nf = f.arrays.norm_fake, r = f.meta.norm_range;
    const xs = linspace(r[0], r[1], nr.length);
    const layout = baseLayout({
      uirevision: runId, margin: { l: 40, r: 8, t: 36, b: 30 }, title: title("norm ‖x‖ histogram"),
      xaxis: { range: r, zeroline: false }, yaxis: { rangemode: "tozero", zeroline: false },
    });
    return react(div, [
      { type: "scatter", mode: "lines", x: xs, y: nr, fill: "tozeroy", line: { color: REAL, width: 2 },
        fillcolor: "rgba(11,138,95,0.18)", hoverinfo: "skip" },
      { type: "scatter", mode: "lines", x: xs, y: nf, line: { color: FAKE, width: 2 }, hoverinfo: "skip" },
    ], layout, false);
  }

  // ---- charts ----------------------------------------------------------------------------------
  // Scalar rows (every step) and per-frame metrics, decimated by 2 when a series passes
  // MAX_POINTS so a long run costs bounded memory and drawing.
  function Series() { this.x = []; this.y = {}; this.stride = 1; this.skip = 0; }
  Series.prototype.push = function (step, values) {
    if (this.skip++ % this.stride) return;
    this.x.push(step);
    for (const k in values) {
      if (!this.y[k]) { this.y[k] = new Array(this.x.length - 1).fill(null); }
      this.y[k].push(values[k]);
    }
    for (const k in this.y) if (this.y[k].length < this.x.length) this.y[k].push(null);
    if (this.x.length > MAX_POINTS) {
      const half = function (a) { return a.filter(function (_, i) { return i % 2 === 0; }); };
      this.x = half(this.x);
      for (const k in this.y) this.y[k] = half(this.y[k]);
      this.stride *= 2;
    }
  };

  const STATS_SKIP = { step: 1, steps_per_s: 1, modes_total: 1 };
  const COUNTS = { modes: 1, high_quality: 1 };

  function chart(div, series, keys, labels, colors, ttl, runId, extra) {
    if (!div || !visible(div)) return;
    const data = [];
    keys.forEach(function (k, i) {
      if (!series.y[k]) return;
      data.push({ type: "scatter", mode: "lines", x: series.x, y: series.y[k], name: labels[i] || k,
                  yaxis: extra && extra.right && extra.right[k] ? "y2" : "y",
                  line: { color: colors[i], width: 2 }, connectgaps: true,
                  hovertemplate: "%{y:.4g}<extra>" + (labels[i] || k) + "</extra>" });
    });
    series.rev = (series.rev || 0) + 1;
    const more = Object.assign({}, extra || {});
    delete more.right;
    const layout = baseLayout(Object.assign({
      uirevision: runId, datarevision: series.rev, showlegend: true, hovermode: "x unified",
      title: title(ttl),
      margin: { l: 52, r: 10, t: 32, b: 28 },
      // in the title's row, right-aligned: above the lines, never over them
      legend: { orientation: "h", x: 1, xanchor: "right", y: 1, yanchor: "bottom", font: { size: 13 } },
      xaxis: { zeroline: false, tickfont: { size: 12 }, ticklabeloverflow: "allow" },
      yaxis: { zeroline: false, tickfont: { size: 12 }, ticklabeloverflow: "allow" },
    }, more));
    const spans = function (t) { return t.x && t.x.length > 1 && t.x[t.x.length - 1] !== t.x[0]; };
    if (!data.some(spans)) {  // a line needs two steps (a paused run re-sends its step-0 frame)
      // Before the first steps: no bare axes (a log scale squeezed its decades into a sliver).
      ["xaxis", "yaxis", "yaxis2"].forEach(function (k) {
        if (k in layout || k !== "yaxis2") layout[k] = Object.assign({}, layout[k], { visible: false });
      });
      layout.showlegend = false;
      layout.annotations = [{ xref: "paper", yref: "paper", x: 0.5, y: 0.45, showarrow: false,
                              text: "waiting for steps", font: { size: 14, color: "#8a8f98" } }];
    }
    react(div, data, layout, false);
  }

  const PALETTE = ["#3b6fd8", "#e08a1e", "#0b8a5f", "#d1306b", "#7c5cd6", "#5f6b7a", "#a0522d"];

  // ---- the page's run ----------------------------------------------------------------------------
  const view = GS.view = {
    run: null, kind: null, frame: null, rows: new Series(), metrics: new Series(), events: [],
    eventKeys: {}, lastSide: 0, sideTurn: 0, lastSurface: 0, config: null,
  };
  const ND_SIDE = [{ div: "plot-marg", draw: drawMarginals }, { div: "plot-corr", draw: drawCorr },
                   { div: "plot-ks", draw: drawKs }, { div: "plot-norm", draw: drawNorm }];

  function layers() {
    const el = $("layers");
    if (!el) return undefined;
    return Array.from(el.querySelectorAll("input:checked")).map(function (i) { return i.value; });
  }
  function mode2d() {
    const el = $("view-mode-2d"), c = el && el.querySelector("input:checked");
    return c ? c.value : "map";
  }

  GS.resetView = function (run) {
    view.run = run.run; view.kind = run.kind; view.frame = null;
    view.rows = new Series(); view.metrics = new Series(); view.events = []; view.eventKeys = {};
    view.config = run.config;
    if (run.parent) addEvent(0, "fork", "child of " + run.parent + " (forked at step " + (run.fork_step || 0) + ")");
    document.body.dataset.kind = run.kind;
  };

  function addEvent(step, kind, message) {
    const key = step + "|" + kind + "|" + message;
    if (view.eventKeys[key]) return;
    view.eventKeys[key] = true;
    view.events.push({ step: step, kind: kind, message: message });
  }
  GS.addEvent = addEvent;

  GS.drawFrame = function (f, force) {
    view.frame = f;
    const rid = view.run || f.meta.run_id;
    if (f.kind !== view.kind) { view.kind = f.kind; document.body.dataset.kind = f.kind; }
    const now = performance.now();
    if (f.kind === "2d") {
      const m = mode2d();
      if (document.body.dataset.mode2d !== m) document.body.dataset.mode2d = m;
      if (m === "surface") {
        if (force || now - view.lastSurface > SURFACE_MS) { view.lastSurface = now; drawSurface($("plot-surface"), f, rid); }
      } else {
        draw2d($("plot-2d"), f, layers(), rid);
      }
    } else if (f.kind === "1d") {
      draw1d($("plot-1d"), f, rid);
    } else {
      drawProj($("plot-proj"), f, rid);
      // The four statistics panels cost 40-150 ms of Plotly each at 100-D: drawn together they
      // froze the page for 350 ms a frame. One a frame in turn keeps every frame short.
      if (force) {
        ND_SIDE.forEach(function (side) { side.draw($(side.div), f, rid); });
      } else if (now - view.lastSide > ND_SIDE_MS) {
        view.lastSide = now;
        const side = ND_SIDE[view.sideTurn++ % ND_SIDE.length];
        side.draw($(side.div), f, rid);
      }
    }
    stats.drawn += 1;
  };

  GS.addRows = function (rows, columns) {
    const c = columns.length, n = rows.length / c;
    for (let r = 0; r < n; r++) {
      const v = {};
      for (let k = 1; k < c; k++) {
        const x = rows[r * c + k];
        v[columns[k]] = Number.isFinite(x) ? x : null;
      }
      view.rows.push(rows[r * c], v);
    }
  };

  GS.addFrameScalars = function (f) {
    const v = {};
    for (const k in f.scalars) {
      const x = f.scalars[k];
      if (typeof x === "number" && !STATS_SKIP[k] && !(k in view.rows.y)) v[k] = x;
    }
    if (Object.keys(v).length) view.metrics.push(f.step, v);
    (f.meta.events || []).forEach(function (e) { addEvent(e.step, e.kind, e.message); });
  };

  // The charts share the main thread with the sample view, which must keep the frame rate. So
  // they are drawn one chart at a time, round-robin, in idle time when there is any
  // (requestIdleCallback with a deadline, so they never starve), and spaced so that they take at
  // most CHART_SHARE of the main thread: at least CHART_MS apart, more on a slow machine, where
  // one chart costs tens of milliseconds. A forced call (a paused run, a layer switch) queues
  // every chart at once.
  const CHART_DIVS = { loss: "chart-loss", d: "chart-d", grad: "chart-grad", metrics: "chart-metrics",
                       timeline: "timeline" };
  const CHART_JOBS = Object.keys(CHART_DIVS);
  /** The metrics chart's layout (live and replay) for the series `keys`: counts (modes,
   * high-quality samples) on the left axis, divergences and the rest on the right. */
  // Legend names short enough for three to a row of a chart a third of the page wide.
  const METRIC_LABELS = { reverse_kl: "reverse KL", kl: "KL", js: "JS", ks_mean: "KS mean",
                          norm_ks: "norm KS", corr_dist: "corr. distance",
                          bimodal_dims_fake: "bimodal (G)", bimodal_dims_real: "bimodal (data)" };
  function metricLabel(k) { return METRIC_LABELS[k] || k.replace(/_/g, " "); }

  function metricsLayout(keys) {
    const right = {};
    keys.forEach(function (k) { if (!COUNTS[k]) right[k] = true; });
    // four entries a row (three when a name is long); room for every row (an n-D run has
    // eleven series: no scrolled legend)
    const perRow = keys.some(function (k) { return metricLabel(k).length > 10; }) ? 3 : 4;
    const rows = Math.ceil(keys.length / perRow);
    return {
      right: right, margin: { l: 52, r: 44, t: 34, b: 30 + 16 * rows },
      // under the x axis, at the chart's bottom edge: never over a line or the title
      legend: { orientation: "h", xref: "container", x: 0.01, xanchor: "left", yref: "container",
                y: 0, yanchor: "bottom", font: { size: keys.length > 8 ? 10 : 11 },
                entrywidth: 0.98 / perRow, entrywidthmode: "fraction", tracegroupgap: 0 },
      // few ticks: on a 900 px high screen the plot is about 45 px tall under its legend
      yaxis: { zeroline: false, rangemode: "tozero", title: { text: "count" }, nticks: 4 },
      // its own round ticks (ticks synced to the left axis came out as -0.48, 9.96, 20.41)
      yaxis2: { overlaying: "y", side: "right", zeroline: false, showgrid: false, tickmode: "auto", nticks: 3 },
    };
  }

  // At most six series on the metrics chart: more made a legend of four rows that left the
  // lines a strip a few pixels high. n-D runs lead with the distribution tests; every metric
  // stays in the recording, the CSV and `gancore eval`.
  const METRIC_ORDER = ["modes", "high_quality", "reverse_kl", "js", "kl", "wasserstein", "energy"];
  const ND_METRIC_ORDER = ["ks_mean", "norm_ks", "corr_dist", "bimodal_dims_fake", "energy", "modes"];
  const MAX_METRICS = 6;
  function chartMetrics(keys) {
    const order = keys.indexOf("ks_mean") >= 0 ? ND_METRIC_ORDER.concat(METRIC_ORDER) : METRIC_ORDER;
    const rank = function (k) { const i = order.indexOf(k); return i < 0 ? order.length : i; };
    return keys.slice().sort(function (a, b) { return rank(a) - rank(b) || (a < b ? -1 : 1); })
      .slice(0, MAX_METRICS);
  }
  GS.chartMetrics = chartMetrics;

  /** The metrics chart of the play page and of replay: the series chartMetrics picks, one colour
   * each, and the modes captured in the title when the target has modes. */
  function metricsChart(div, series, modes, modesTotal, runId, extra) {
    const keys = chartMetrics(Object.keys(series.y));
    const counted = modesTotal && modes !== null && modes !== undefined;
    chart(div, series, keys, keys.map(metricLabel),
          keys.map(function (_, i) { return PALETTE[i % PALETTE.length]; }),
          "metrics" + (counted ? " · modes " + modes + "/" + modesTotal : ""), runId,
          Object.assign(metricsLayout(keys), extra || {}));
  }
  GS.metricsChart = metricsChart;

  const CHART_SHARE = 0.1;
  const charts = { next: 0, pending: 0, scheduled: false, last: 0, cost: 0 };

  function drawChart(name, div) {
    const rid = view.run, R = view.rows, M = view.metrics;
    if (name === "loss") {
      chart(div, R, ["d_loss", "g_loss"], ["D loss", "G loss"], [FAKE, "#3b6fd8"], "losses", rid);
    } else if (name === "d") {
      const prob = view.frame ? !!view.frame.meta.d_probabilistic : true;
      chart(div, R, ["d_real", "d_fake"], ["D(real)", "D(fake)"], [REAL, FAKE],
            prob ? "mean D(real) and D(fake)" : "mean critic on real and fake", rid,
            prob ? { yaxis: { range: [0, 1], zeroline: false } } : undefined);
    } else if (name === "grad") {
      chart(div, R, ["d_grad_norm", "g_grad_norm"], ["‖∇D‖", "‖∇G‖"], [FAKE, "#3b6fd8"],
            "gradient norms (log)", rid,  // powers of ten only: the 2s and 5s piled up
            { yaxis: { type: "log", dtick: decadeStep(R, ["d_grad_norm", "g_grad_norm"]),
                       zeroline: false, tickfont: { size: 12 } } });
    } else if (name === "metrics") {
      const f = view.frame;
      metricsChart(div, M, f && f.scalars.modes, f && f.scalars.modes_total, rid);
    } else {
      drawTimeline(div, rid);
    }
  }

  // Ticks every k-th power of ten, at most four of them: a 1-D run's gradients span seven
  // decades, and a label on each piled them into one another.
  function decadeStep(series, keys) {
    let lo = Infinity, hi = 0;
    keys.forEach(function (k) {
      (series.y[k] || []).forEach(function (v) { if (v > 0) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    });
    if (!(hi > lo)) return 1;
    return Math.max(1, Math.ceil((Math.log10(hi) - Math.log10(lo)) / 3));
  }

  function runChartJobs(deadline) {
    charts.scheduled = false;
    do {
      const name = CHART_JOBS[charts.next], div = $(CHART_DIVS[name]);
      const drawnBefore = !!(div && div._fullLayout);
      const t0 = performance.now();
      drawChart(name, div);
      const took = performance.now() - t0;  // an average of the last few charts drawn
      // A chart's first drawing builds its whole figure (several times an update's cost): it
      // would space the next updates seconds apart on a page that has just opened.
      if (drawnBefore) charts.cost = charts.cost ? 0.8 * charts.cost + 0.2 * took : took;
      charts.next = (charts.next + 1) % CHART_JOBS.length;
      charts.pending = Math.max(0, charts.pending - 1);
    } while (charts.pending > 0 && deadline && deadline.timeRemaining && deadline.timeRemaining() > 40);
    charts.last = performance.now();
    if (charts.pending > 0) scheduleCharts(0);
  }

  function chartGap() {
    return Math.max(CHART_MS, charts.cost * (1 / CHART_SHARE - 1));
  }

  function scheduleCharts(delay) {
    if (charts.scheduled) return;
    charts.scheduled = true;
    setTimeout(function () {
      if (root.requestIdleCallback) root.requestIdleCallback(runChartJobs, { timeout: 400 });
      else runChartJobs(null);
    }, delay);
  }

  GS.drawCharts = function (force) {
    if (force) charts.pending = CHART_JOBS.length;
    else charts.pending = Math.max(charts.pending, 1);
    scheduleCharts(force ? 0 : Math.max(0, chartGap() - (performance.now() - charts.last)));
  };

  function drawTimeline(div, rid) {
    if (!div || !visible(div)) return;
    const ev = view.events, x0 = view.rows.x.length ? view.rows.x[0] : 0;
    const x1 = view.frame ? view.frame.step : 0;
    const kinds = [];
    ev.forEach(function (e) { if (kinds.indexOf(e.kind) < 0) kinds.push(e.kind); });
    const data = kinds.map(function (k, i) {
      const es = ev.filter(function (e) { return e.kind === k; });
      return { type: "scatter", mode: "markers", x: es.map(function (e) { return e.step; }),
               y: es.map(function () { return k.replace(/_/g, " "); }), name: k,
               marker: { size: 12, symbol: k === "diverged" ? "x" : "diamond", color: PALETTE[i % PALETTE.length] },
               text: es.map(function (e) { return "step " + e.step.toLocaleString() + ": " + e.message; }),
               hovertemplate: "%{text}<extra></extra>" };
    });
    data.push({ type: "scatter", mode: "lines", x: [x1, x1], y: [0, 1], yaxis: "y2", hoverinfo: "skip",
                line: { color: "#1f2430", width: 1.5, dash: "dot" } });
    view.rows.rev = (view.rows.rev || 0) + 1;
    const layout = baseLayout({
      uirevision: rid, datarevision: view.rows.rev, hovermode: "closest", title: title("timeline · events" + (ev.length ? "" : " (none yet)")),
      margin: { l: 90, r: 10, t: 30, b: 26 },
      xaxis: { range: [x0, Math.max(x1, x0 + 10)], zeroline: false, tickfont: { size: 12 } },
      yaxis: { type: "category", tickfont: { size: 12 }, showgrid: true, automargin: true },
      yaxis2: { overlaying: "y", range: [0, 1], visible: false },
    });
    react(div, data, layout, false);
  }

  // Redraw the last frame at once when a layer or the 2-D view mode is switched (paused runs
  // send no new frames).
  if (typeof document !== "undefined") {
    document.addEventListener("change", function (ev) {
      const t = ev.target;
      if (!t || !t.closest) return;
      if (t.closest("#layers") || t.closest("#view-mode-2d")) {
        if (view.frame) setTimeout(function () { GS.drawFrame(view.frame, true); }, 0);
      }
    });
  }

  GS.draw2d = draw2d;
  GS.Series = Series;
  GS.draw1d = draw1d;
  GS.drawProj = drawProj;
  // The replay page (assets/replay.js) draws recorded frames and curves with these same renderers.
  GS.drawMarginals = drawMarginals;
  GS.drawCorr = drawCorr;
  GS.drawKs = drawKs;
  GS.drawNorm = drawNorm;
  GS.chart = chart;
  GS.PALETTE = PALETTE;
  GS.COLORS = { real: REAL, fake: FAKE };
})(typeof window !== "undefined" ? window : globalThis);
