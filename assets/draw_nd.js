/* ganscope n-D view: a 2-D projection of the samples (PCA plane or two chosen dimensions) over
 * D on that plane, and the statistics panels beside it (marginals, correlations, KS per
 * dimension, norm histogram). Takes a decoded frame and a div; the machinery is draw.js
 * (GS.plot). The replay page draws recorded frames with these same functions. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, C = GS.VOCAB.colors;
  const REAL = C.real, FAKE = C.fake, FAKE_EDGE = C.fake_edge, REAL_FILL = P.rgba(REAL, 0.18);
  const CORR_SCALE = [[0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"],
                      [1, "#b2182b"]];
  const linspace = P.linspace, gridRows = P.gridRows, baseLayout = P.baseLayout, title = P.title;
  const react = P.react, dots = P.dots, scaleSpec = P.scaleSpec, scaleRoom = P.scaleRoom;
  const dImage = P.dImage;

  function drawProj(div, f, runId) {
    const pb = f.meta.plane_bounds, M = GS.marks;
    div._gsDFrame = f.arrays.d_grid ? f : null;
    div._gsScale = f.arrays.d_grid ? scaleSpec(f) : null;
    const rev = runId + ":" + f.meta.projection;
    // the compare page's small panels get no legend: it would cover half of them
    const compact = div.clientWidth > 0 && div.clientWidth < 420;
    const data = M.fixedTraces(div, f, { real: true, fake: true }, compact, "proj_fake");
    const painters = [
      dots(f.arrays.proj_real, REAL, 2, 0.5), M.rimmedDots(f.arrays.proj_fake, 2, 0.75),
      M.edgeMarks(div, [{ xy: f.arrays.proj_real, noun: "real sample", color: REAL },
                        { xy: f.arrays.proj_fake, noun: "fake", color: FAKE, rim: FAKE_EDGE }],
                  compact),
    ];
    const p = f.meta.projection === "pca" ? "PCA plane" : "dims " + f.meta.projection.replace(",", " × ");
    const layout = baseLayout({
      uirevision: rev, showlegend: !compact, legend: M.legendLayout(),
      title: title("projection: " + p + " · step " + f.step.toLocaleString()),
      margin: { l: 48, r: div._gsScale ? scaleRoom() : 16, t: 34, b: 40 },
      xaxis: { range: pb[0], zeroline: false, showgrid: false, ticklabeloverflow: "allow" },
      yaxis: { range: pb[1], zeroline: false, showgrid: false, ticklabeloverflow: "allow" },
      images: div._gsDFrame ? [dImage(f)] : [],
    });
    return react(div, data, layout, true, f.meta.sent_at, painters);
  }

  /** `opts.dims` (the compare page): the dimensions to show, the same in every run side by side,
   * instead of this frame's own 8 worst by KS; `opts.what` names how they were chosen. */
  function drawMarginals(div, f, runId, opts) {
    const mr = f.arrays.marg_real, mf = f.arrays.marg_fake, lh = f.arrays.marg_lo_hi;
    const dim = f.shapes.marg_real[0], bins = f.shapes.marg_real[1];
    let order = [];
    for (let j = 0; j < dim; j++) order.push(j);
    const ks = f.arrays.ks_stat;
    if (dim > 8 && ks) order.sort(function (a, b) { return ks[b] - ks[a]; });  // worst first
    order = opts && opts.dims ? opts.dims.filter(function (j) { return j < dim; }) : order.slice(0, 8);
    const ncol = Math.min(4, order.length), nrow = Math.ceil(order.length / ncol);
    const what = opts && opts.what ? opts.what :
      dim > 8 ? "marginals (8 worst dims by KS)" : "per-dimension marginals";
    const data = [], layout = baseLayout({ uirevision: runId, margin: { l: 30, r: 10, t: 40, b: 24 },
      title: title(what + (ks ? " · dim · KS" : "")) });
    const annotations = [];
    // room above each small plot for its label and below it for its ticks, at least ~18 px and
    // ~16 px: fractions alone ran a row's tick labels into the next row's labels in a short panel
    const plotH = Math.max(60, (div.clientHeight || 300) - 64);
    const padTop = Math.max(0.08, 18 / plotH), padBottom = Math.max(0.04, 16 / plotH);
    order.forEach(function (j, k) {
      const ax = k === 0 ? "" : String(k + 1);
      const r = Math.floor(k / ncol), c = k % ncol, gap = 0.04;
      const x0 = c / ncol + gap / 2, x1 = (c + 1) / ncol - gap / 2;
      const y1 = 1 - r / nrow - padTop, y0 = 1 - (r + 1) / nrow + padBottom;
      const lo = lh[2 * j], hi = lh[2 * j + 1], xs = linspace(lo, hi, bins);
      data.push({ type: "scatter", mode: "lines", x: xs, y: mr.subarray(j * bins, (j + 1) * bins),
                  xaxis: "x" + ax, yaxis: "y" + ax, fill: "tozeroy", line: { color: REAL, width: 2 },
                  fillcolor: REAL_FILL, hoverinfo: "skip" });
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

  /** `opts.yMax` (the compare page): one KS axis for every run shown side by side. */
  function drawKs(div, f, runId, opts) {
    const ks = f.arrays.ks_stat, p = f.arrays.ks_p, n = ks.length, colors = new Array(n);
    for (let i = 0; i < n; i++) colors[i] = p[i] < 0.05 ? FAKE : "#9aa0a6";
    const mean = f.scalars.ks_mean;
    const layout = baseLayout({
      uirevision: runId, margin: { l: 40, r: 8, t: 36, b: 30 },
      title: title("KS per dimension" + (mean !== undefined && mean !== null ? " · mean " + mean.toFixed(3) : "")),
      xaxis: { title: { text: "dimension" }, zeroline: false, tickfont: { size: 11 } },
      yaxis: { range: [0, opts && opts.yMax ? opts.yMax : Math.max(0.25, Math.max.apply(null, Array.from(ks)) * 1.1)],
               zeroline: false },
      bargap: 0.15,
    });
    return react(div, [{ type: "bar", y: ks, marker: { color: colors }, hoverinfo: "skip" }], layout, false);
  }

  /** `opts.range` and `opts.yMax` (the compare page): one pair of axes for every run shown. */
  function drawNorm(div, f, runId, opts) {
    const nr = f.arrays.norm_real, nf = f.arrays.norm_fake, r = f.meta.norm_range;
    const xs = linspace(r[0], r[1], nr.length);
    const layout = baseLayout({
      uirevision: runId, margin: { l: 40, r: 8, t: 36, b: 30 }, title: title("norm ‖x‖ histogram"),
      xaxis: { range: opts && opts.range ? opts.range : r, zeroline: false },
      yaxis: opts && opts.yMax ? { range: [0, opts.yMax], zeroline: false }
                               : { rangemode: "tozero", zeroline: false },
    });
    return react(div, [
      { type: "scatter", mode: "lines", x: xs, y: nr, fill: "tozeroy", line: { color: REAL, width: 2 },
        fillcolor: REAL_FILL, hoverinfo: "skip" },
      { type: "scatter", mode: "lines", x: xs, y: nf, line: { color: FAKE, width: 2 }, hoverinfo: "skip" },
    ], layout, false);
  }

  GS.drawProj = drawProj;
  GS.drawMarginals = drawMarginals;
  GS.drawCorr = drawCorr;
  GS.drawKs = drawKs;
  GS.drawNorm = drawNorm;
})(typeof window !== "undefined" ? window : globalThis);
