/* ganscope 2-D view: the samples over D's surface (or D as a 3-D surface), with the latent grid
 * mapped by G, latent arrows z -> G(z) and G's gradient arrows on the sample layer, every mode of
 * the target drawn faintly, and a legend. Takes a decoded frame and a div; the machinery is
 * draw.js (GS.plot). The sample marks (rimmed fakes, one colour per generator of a mixture, the
 * counts of samples outside the view) are GS.marks, which the n-D projection draws with too. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, C = GS.VOCAB.colors;
  const REAL = C.real, FAKE = C.fake, GRID = C.grid, ARROW = C.arrow, MAP = C.map, INK = C.ink;
  const FAKE_EDGE = C.fake_edge, COMPONENTS = GS.VOCAB.components;
  const linspace = P.linspace, gridRows = P.gridRows, baseLayout = P.baseLayout, title = P.title;
  const react = P.react, dots = P.dots, strokes = P.strokes, scaleSpec = P.scaleSpec;
  const scaleRoom = P.scaleRoom, dImage = P.dImage, D_SCALE = P.D_SCALE;

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

  // ---- sample marks (GS.marks: the n-D projection uses them too) --------------------------------
  /** Fakes with a dark rim, so they read on D's pink "fake" region as well as on white and green;
   * with `comp` (a mixture's generator index per sample) each generator's fakes in its colour.
   * One path per colour and pass. What the teaching parts cost (GS.draw2d on 30 live ring8
   * frames, 700 x 640 px, headless Chromium on the busy 2-core box, medians of 3 x 100 draws):
   * 4.2-4.6 ms before, 6.6-8.0 ms with them; of that, the legend ~0.8 ms, the mode discs ~0.5,
   * the rim ~0.8 (a pre-drawn dot sprite per sample was slower: 7.3 ms), the edge counts ~0.3. */
  function rimmedDots(xy, radius, alpha, comp) {
    return function (ctx, px, py, dpr) {
      const r = radius * dpr, rim = r + 0.9 * dpr, n = xy.length >> 1;
      const pass = function (rr, keep) {
        ctx.beginPath();
        for (let i = 0; i < n; i++) {
          if (keep && !keep(i)) continue;
          const x = px(xy[2 * i]), y = py(xy[2 * i + 1]);
          ctx.moveTo(x + rr, y); ctx.arc(x, y, rr, 0, 2 * Math.PI);
        }
        ctx.fill();
      };
      ctx.globalAlpha = Math.min(1, alpha + 0.1);
      ctx.fillStyle = FAKE_EDGE; pass(rim, null);
      ctx.globalAlpha = alpha;
      if (!comp) { ctx.fillStyle = FAKE; pass(r, null); }
      else {
        componentsOf(comp).forEach(function (k) {
          ctx.fillStyle = componentColor(k);
          pass(r, function (i) { return comp[i] === k; });
        });
      }
      ctx.globalAlpha = 1;
    };
  }

  function componentColor(k) { return COMPONENTS[k % COMPONENTS.length]; }
  function componentsOf(comp) {  // the generator indices present, in order
    const seen = [];
    for (let i = 0; i < comp.length; i++) seen[comp[i]] = true;
    const out = [];
    for (let k = 0; k < seen.length; k++) if (seen[k]) out.push(k);
    return out;
  }
  /** A mixture's generator index per fake (AdaGAN), or null. */
  function fakeComponents(f, fakeKey) {
    const c = f.arrays.fake_component, xy = f.arrays[fakeKey || "fake"];
    return c && xy && c.length === xy.length / 2 ? c : null;
  }

  const SIDES = ["left", "right", "top", "bottom"];
  /** Samples outside [x0, x1] x [y0, y1], per side: {count, at}, `at` being where along that
   * edge they are on average (0 to 1: left to right, bottom to top). A sample beyond a corner
   * counts on the side it is further past, measured in view widths. Pure: node tests it. */
  function offView(xy, xr, yr) {
    const out = {}, w = xr[1] - xr[0], h = yr[1] - yr[0];
    SIDES.forEach(function (s) { out[s] = { count: 0, at: 0 }; });
    let total = 0;
    for (let i = 0; i + 1 < xy.length; i += 2) {
      const x = xy[i], y = xy[i + 1];
      if (!(x === x && y === y)) continue;  // NaN: nowhere to draw it
      const ex = x < xr[0] ? (xr[0] - x) / w : x > xr[1] ? (x - xr[1]) / w : 0;
      const ey = y < yr[0] ? (yr[0] - y) / h : y > yr[1] ? (y - yr[1]) / h : 0;
      if (ex === 0 && ey === 0) continue;
      let side, along;
      if (ex >= ey) { side = x < xr[0] ? "left" : "right"; along = (y - yr[0]) / h; }
      else { side = y < yr[0] ? "bottom" : "top"; along = (x - xr[0]) / w; }
      out[side].count += 1; out[side].at += along >= 1 ? 1 : along > 0 ? along : 0;  // NaN: 0
      total += 1;
    }
    SIDES.forEach(function (s) { if (out[s].count) out[s].at /= out[s].count; });
    out.total = total;
    return out;
  }

  function offText(count, noun, side) {
    return count.toLocaleString() + " " + noun + (count === 1 ? "" : "s") + " off the " + side + " edge";
  }

  /** A painter: for each set of samples ({xy, noun, color, rim}), a triangle at the plot edge
   * where its samples left the view and a label with their count ("312 fakes off the right
   * edge"), at the axes' current ranges (zoom included). The counts land in div._gsOffView. */
  function edgeMarks(div, sets, compact) {
    return function (ctx, px, py, dpr) {
      const w = ctx.canvas.width, h = ctx.canvas.height;
      const sx = px(1) - px(0), sy = py(0) - py(1);
      if (!sx || !sy) return;
      const x0 = -px(0) / sx, y1 = py(0) / sy, xr = [x0, x0 + w / sx], yr = [y1 - h / sy, y1];
      const big = P.presenting(), size = (compact ? 11 : big ? 18 : 13) * dpr;
      const slots = { left: 0, right: 0, top: 0, bottom: 0 }, found = {};
      ctx.font = "600 " + size + "px " + P.FONT.family;
      ctx.textBaseline = "middle";
      sets.forEach(function (set) {
        if (!set.xy) return;
        const off = offView(set.xy, xr, yr);
        found[set.noun] = { left: off.left.count, right: off.right.count, top: off.top.count,
                            bottom: off.bottom.count, total: off.total, texts: [] };
        SIDES.forEach(function (side) {
          const o = off[side];
          if (!o.count) return;
          let text = compact ? o.count.toLocaleString() : offText(o.count, set.noun, side);
          // a small plot (1024 x 768 screens) gets the short form: the triangle says which edge
          if (ctx.measureText(text).width > 0.45 * w) text = offText(o.count, set.noun, "").split(" off")[0];
          found[set.noun].texts.push(text);
          edgeMark(ctx, side, o.at, slots[side]++, text, set, w, h, size, dpr);
        });
      });
      div._gsOffView = found;
    };
  }

  function edgeMark(ctx, side, at, slot, text, set, w, h, size, dpr) {
    const t = 9 * dpr, pad = 4 * dpr, gap = size * 1.6 * slot;
    const tw = ctx.measureText(text).width, bw = tw + 2 * pad, bh = size + 2 * pad;
    let x, y, ux, uy;  // the triangle's tip, at the edge, and the way out
    if (side === "left" || side === "right") {
      ux = side === "left" ? -1 : 1; uy = 0;
      x = side === "left" ? 1 : w - 1;
      y = Math.min(h - bh - t, Math.max(bh + t, h * (1 - at))) + (slot ? gap : 0);
    } else {
      ux = 0; uy = side === "top" ? -1 : 1;
      y = side === "top" ? 1 : h - 1;
      x = Math.min(w - bw / 2 - t, Math.max(bw / 2 + t, w * at));
    }
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x - ux * 1.6 * t + uy * t, y - uy * 1.6 * t + ux * t);
    ctx.lineTo(x - ux * 1.6 * t - uy * t, y - uy * 1.6 * t - ux * t);
    ctx.closePath();
    ctx.fillStyle = set.color; ctx.fill();
    if (set.rim) { ctx.strokeStyle = set.rim; ctx.lineWidth = dpr; ctx.stroke(); }
    // the label beside the triangle, inside the plot
    let bx, by;
    if (ux) { bx = ux > 0 ? x - 1.6 * t - pad - bw : x + 1.6 * t + pad; by = y - bh / 2; }
    else {
      bx = Math.min(w - bw - 1, Math.max(1, x - bw / 2));
      by = (uy < 0 ? y + 1.6 * t + pad : y - 1.6 * t - pad - bh) + (uy < 0 ? gap : -gap);
    }
    ctx.globalAlpha = 0.78; ctx.fillStyle = "#fff";
    ctx.fillRect(bx, by, bw, bh);
    ctx.globalAlpha = 1; ctx.strokeStyle = set.color; ctx.lineWidth = 1.5 * dpr;
    ctx.strokeRect(bx, by, bw, bh);
    ctx.fillStyle = INK; ctx.textAlign = "left";
    ctx.fillText(text, bx + pad, by + bh / 2);
  }

  // ---- the target's modes and the legend: Plotly traces under the sample layer ------------------
  /** Every mode of the target as a faint disc two of its stds wide (at least 16 px): the batch
   * may show only some of them (forgetting shows one at a time). `pxPerUnit` comes from the
   * last drawing of the div (0 before it). */
  function modeTrace(f, pxPerUnit, compact) {
    const tm = f.arrays.target_modes;
    if (!tm) return null;
    const k = tm.length / 3, x = [], y = [], size = [];
    for (let i = 0; i < k; i++) {
      x.push(tm[3 * i]); y.push(tm[3 * i + 1]);
      size.push(Math.round(Math.max(compact ? 10 : 16, 4 * tm[3 * i + 2] * pxPerUnit)));
    }
    return { type: "scatter", mode: "markers", x: x, y: y, name: "target modes",
             hoverinfo: "skip", showlegend: !compact,
             marker: { symbol: "circle", size: size, color: P.rgba(REAL, 0.14),
                       line: { color: P.rgba(REAL, 0.7), width: 1.5 } } };
  }

  /** Legend-only traces (no points: the samples and arrows are on the canvas layer). */
  function keyTrace(name, marker, line) {
    const t = { type: "scatter", mode: line ? "lines" : "markers", x: [null], y: [null], name: name,
                hoverinfo: "skip", showlegend: true };
    if (marker) t.marker = marker;
    if (line) t.line = line;
    return t;
  }

  function legendTraces(f, L, fakeKey) {
    const out = [], comp = fakeComponents(f, fakeKey);
    if (L.real) out.push(keyTrace("real", { color: REAL, size: 9 }));
    if (L.fake && comp) {
      const k = Math.max(f.meta.components || 0, componentsOf(comp).length);
      for (let i = 0; i < k; i++) {
        out.push(keyTrace("G" + (i + 1), { color: componentColor(i), size: 9,
                                           line: { color: FAKE_EDGE, width: 1.5 } }));
      }
    } else if (L.fake) {
      out.push(keyTrace("fake", { color: FAKE, size: 9, line: { color: FAKE_EDGE, width: 1.5 } }));
    }
    if (L.grad && f.arrays.grad_arrows) out.push(keyTrace("G's gradient", null, { color: ARROW, width: 2 }));
    if (L.grid && f.arrays.latent_mapped) out.push(keyTrace("latent grid", null, { color: GRID, width: 2 }));
    if (L.map && f.arrays.latent_mapped) out.push(keyTrace("z → G(z)", null, { color: MAP, width: 2 }));
    return out;
  }

  /** The mode and legend traces, the same objects from frame to frame while nothing in them
   * changes: Plotly.react compares traces by reference, and a changed trace costs a recalc. */
  function fixedTraces(div, f, L, compact, fakeKey) {
    const fl = div._fullLayout, xa = fl && fl.xaxis;
    const ppu = xa && xa._length > 0 ? xa._length / Math.abs(xa.range[1] - xa.range[0]) : 0;
    const modes = modeTrace(f, ppu, compact), legend = compact ? [] : legendTraces(f, L, fakeKey);
    const traces = (modes ? [modes] : []).concat(legend);
    const key = JSON.stringify(traces);
    if (div._gsFixed && div._gsFixed.key === key) return div._gsFixed.traces;
    div._gsFixed = { key: key, traces: traces };
    return traces;
  }

  function legendLayout() {
    const big = P.presenting();
    // presenter mode: under the x axis (Plotly makes room), since at 17 px beside the title it
    // ran into it at 1024 px (tests/browser/test_presenter.py)
    if (big) {
      return { orientation: "h", x: 0, xanchor: "left", y: -0.07, yanchor: "top", font: { size: 17 },
               itemclick: false, itemdoubleclick: false, bgcolor: "rgba(255,255,255,0)", itemwidth: 30,
               tracegroupgap: 0 };
    }
    return { orientation: "h", x: 1, xanchor: "right", y: 1.0, yanchor: "bottom",
             font: { size: big ? 17 : 13 }, itemclick: false, itemdoubleclick: false,
             bgcolor: "rgba(255,255,255,0)", itemwidth: 30, itemsizing: "constant" };
  }

  function draw2d(div, f, layers, runId, compact) {
    const L = {};
    (layers || ["real", "fake", "d", "grad"]).forEach(function (k) { L[k] = true; });
    const b = f.meta.bounds, r = compact ? 1.5 : 2;
    const withD = L.d && !!f.arrays.d_grid;  // a VAE has no D
    const data = fixedTraces(div, f, L, compact);
    const margin = compact ? { l: 30, r: 8, t: 28, b: 24 }
                           : { l: 44, r: withD ? scaleRoom() : 12, t: 36, b: 36 };
    div._gsDFrame = withD ? f : null;
    div._gsScale = withD && !compact ? scaleSpec(f) : null;  // drawn beside the plot (paintScale)
    const sets = [];
    if (L.real) sets.push({ xy: f.arrays.real, noun: "real sample", color: REAL });
    if (L.fake) sets.push({ xy: f.arrays.fake, noun: "fake", color: FAKE, rim: FAKE_EDGE });
    const painters = [
      L.grid && latentGrid(f), L.map && latentArrows(f),
      L.real && dots(f.arrays.real, REAL, r, 0.55),
      L.fake && f.arrays.fake && rimmedDots(f.arrays.fake, r, 0.8, fakeComponents(f)),
      L.grad && gradArrows(f), edgeMarks(div, sets, compact),
    ];
    const layout = baseLayout({
      uirevision: runId, margin: margin, showlegend: !compact && data.length > 0,
      legend: legendLayout(),
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

  // ---- D as a 3-D surface, with the samples on it -------------------------------------------------
  /** D's value at each (x, y) of xy, bilinear in the frame's grid, and the samples' indices
   * inside the grid's extent (the others are counted, not drawn: the scene's box is the grid's). */
  function heightsOn(f, xy) {
    const g = f.arrays.d_grid, shape = f.shapes.d_grid, ext = f.meta.d_extent;
    const ny = shape[0], nx = shape[1], out = { x: [], y: [], z: [], idx: [], outside: 0 };
    const fx = (nx - 1) / (ext[0][1] - ext[0][0]), fy = (ny - 1) / (ext[1][1] - ext[1][0]);
    for (let i = 0; i + 1 < xy.length; i += 2) {
      const x = xy[i], y = xy[i + 1], u = (x - ext[0][0]) * fx, v = (y - ext[1][0]) * fy;
      if (!(u >= 0 && u <= nx - 1 && v >= 0 && v <= ny - 1)) { out.outside += 1; continue; }
      const j = Math.min(nx - 2, Math.floor(u)), k = Math.min(ny - 2, Math.floor(v));
      const a = u - j, c = v - k, row = k * nx, up = row + nx;
      const z = (1 - c) * ((1 - a) * g[row + j] + a * g[row + j + 1]) +
                c * ((1 - a) * g[up + j] + a * g[up + j + 1]);
      out.x.push(x); out.y.push(y); out.z.push(z); out.idx.push(i >> 1);
    }
    return out;
  }

  function surfaceSamples(f, L, lift) {
    const traces = [], outside = {};
    // (no dark rim here: at a 3-D marker's size the rim was all one saw of a fake)
    const add = function (name, h, color) {
      traces.push({ type: "scatter3d", mode: "markers", name: name, hoverinfo: "skip",
                    x: h.x, y: h.y, z: h.z.map(function (z) { return z + lift; }),
                    marker: { size: 3, color: color, opacity: 0.9 } });
    };
    if (L.real && f.arrays.real) {
      const h = heightsOn(f, f.arrays.real);
      add("real", h, REAL);
      outside.real = h.outside;
    }
    if (L.fake && f.arrays.fake) {
      const h = heightsOn(f, f.arrays.fake), comp = fakeComponents(f);
      outside.fake = h.outside;
      if (!comp) add("fake", h, FAKE);
      else {
        componentsOf(comp).forEach(function (k) {
          const pick = { x: [], y: [], z: [] };
          h.idx.forEach(function (i, n) {
            if (comp[i] === k) { pick.x.push(h.x[n]); pick.y.push(h.y[n]); pick.z.push(h.z[n]); }
          });
          add("G" + (k + 1), pick, componentColor(k));
        });
      }
    }
    return { traces: traces, outside: outside };
  }

  function drawSurface(div, f, runId, layers) {
    const g = f.arrays.d_grid, shape = f.shapes.d_grid, ext = f.meta.d_extent;
    const L = {};
    (layers || ["real", "fake"]).forEach(function (k) { L[k] = true; });
    const xs = Array.from(linspace(ext[0][0], ext[0][1], shape[1]));
    const ys = Array.from(linspace(ext[1][0], ext[1][1], shape[0]));
    const prob = !!f.meta.d_probabilistic, spec = scaleSpec(f);
    const samples = surfaceSamples(f, L, 0.015 * (spec.hi - spec.lo));
    const data = [{ type: "surface", x: xs, y: ys, z: gridRows(g, shape), colorscale: D_SCALE,
                    cmin: prob ? 0 : undefined, cmax: prob ? 1 : undefined, showscale: false,
                    hoverinfo: "skip", opacity: 0.95, showlegend: false }].concat(samples.traces);
    const lost = [];
    if (samples.outside.fake) lost.push(offCount(samples.outside.fake, "fake"));
    if (samples.outside.real) lost.push(offCount(samples.outside.real, "real sample"));
    div._gsOffView = samples.outside;
    const layout = baseLayout({
      uirevision: runId, showlegend: samples.traces.length > 0, legend: legendLayout(),
      title: title("D surface (3-D) · step " + f.step.toLocaleString() +
                   (lost.length ? " · " + lost.join(", ") + " outside the box" : "")),
      margin: { l: 0, r: 0, t: 34, b: 0 },
      scene: { xaxis: { title: { text: "x₁" }, range: ext[0] },
               yaxis: { title: { text: "x₂" }, range: ext[1] },
               zaxis: { title: { text: prob ? "D(x)" : "critic" }, range: prob ? [0, 1] : undefined },
               camera: { eye: { x: 1.5, y: -1.5, z: 1.0 } }, aspectmode: "cube" },
    });
    return react(div, data, layout, false);
  }

  function offCount(n, noun) { return n.toLocaleString() + " " + noun + (n === 1 ? "" : "s"); }

  GS.marks = { rimmedDots: rimmedDots, edgeMarks: edgeMarks, offView: offView, offText: offText,
               modeTrace: modeTrace, keyTrace: keyTrace, legendLayout: legendLayout,
               fakeComponents: fakeComponents, componentColor: componentColor,
               fixedTraces: fixedTraces, heightsOn: heightsOn };
  GS.draw2d = draw2d;
  GS.drawSurface = drawSurface;
})(typeof window !== "undefined" ? window : globalThis);
