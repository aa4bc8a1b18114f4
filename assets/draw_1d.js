/* ganscope 1-D view: the real density, G's histogram, D's curve, and the z -> x mapping under
 * them (crossing lines: G folds the noise). The density axis grows with the tallest bar instead
 * of clipping it, and fakes outside the x range are counted at the edge they left by. Takes a
 * decoded frame and a div; the machinery is draw.js (GS.plot). */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, C = GS.VOCAB.colors;
  const REAL = C.real, FAKE = C.fake, ARROW = C.arrow, MAP = C.map, REAL_FILL = P.rgba(REAL, 0.18);
  const FAKE_EDGE = C.fake_edge, INK = C.ink;
  const linspace = P.linspace, baseLayout = P.baseLayout, title = P.title, react = P.react;

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
  /** The next round number at or above x: 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k. */
  function niceCeil(x) {
    if (!(x > 1e-6)) return 1e-6;
    const e = Math.pow(10, Math.floor(Math.log10(x)));
    const k = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find(function (m) { return m * e >= x * (1 - 1e-9); });
    return k * e;
  }

  /** The density axis' top: room for the tallest of the real density and the fake bars. It
   * moves in round steps, up as soon as a bar would be clipped, down only once everything fits
   * in less than 40% of it, so the picture does not breathe from frame to frame. Pure. */
  function densityTop(prev, tallest) {
    const need = Math.max(tallest, 1e-3) * 1.1;
    if (!prev || need > prev || need < 0.4 * prev) return niceCeil(need);
    return prev;
  }

  /** How many of xs fall left of and right of [lo, hi]. Pure. */
  function outside1d(xs, lo, hi) {
    let left = 0, right = 0;
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] < lo) left += 1;
      else if (xs[i] > hi) right += 1;
    }
    return { left: left, right: right };
  }

  function edgeNote(side, count, big) {
    const s = count.toLocaleString() + " fake" + (count === 1 ? "" : "s") + " off the " + side + " edge";
    return { xref: "paper", yref: "paper", x: side === "left" ? 0 : 1, y: 0.97, showarrow: false,
             xanchor: side, yanchor: "top", text: side === "left" ? "◀ " + s : s + " ▶",
             bgcolor: "rgba(255,255,255,0.9)", bordercolor: FAKE, borderwidth: 1.5, borderpad: 4,
             font: { size: big ? 18 : 13, color: INK } };
  }

  function draw1d(div, f, runId) {
    const xr = f.meta.x_range, dens = f.arrays.real_density, hist = f.arrays.fake_hist;
    const curve = f.arrays.d_curve, mz = f.arrays.map_z, mx = f.arrays.map_x;
    const xs = linspace(xr[0], xr[1], dens.length), nb = hist.length;
    const w = (xr[1] - xr[0]) / nb, hx = linspace(xr[0] + w / 2, xr[1] - w / 2, nb);
    const cx = curve ? linspace(xr[0], xr[1], curve.length) : [];  // a VAE has no D curve
    const prob = !!f.meta.d_probabilistic;
    let tallest = 0;
    for (let i = 0; i < dens.length; i++) tallest = Math.max(tallest, dens[i]);
    for (let i = 0; i < nb; i++) tallest = Math.max(tallest, hist[i]);
    const top = div._gsTop = densityTop(div._gsTop, tallest);
    const off = outside1d(f.arrays.fake || mx, xr[0], xr[1]), big = P.presenting();
    // z -> x lines: z quantiles placed on the same horizontal span as x (z axis at the bottom).
    let zlo = Infinity, zhi = -Infinity;
    for (let i = 0; i < mz.length; i++) { zlo = Math.min(zlo, mz[i]); zhi = Math.max(zhi, mz[i]); }
    const zspan = (zhi - zlo) || 1, ax = [], ay = [], bx = [], by = [];
    const edge = [];  // a G(z) outside the x range sits on the edge, as a triangle pointing out
    for (let i = 0; i < mz.length; i++) {
      ax.push(xr[0] + (mz[i] - zlo) / zspan * (xr[1] - xr[0])); ay.push(0);
      bx.push(Math.min(xr[1], Math.max(xr[0], mx[i]))); by.push(1);
      edge.push(mx[i] < xr[0] ? "triangle-left" : mx[i] > xr[1] ? "triangle-right" : "circle");
    }
    const lines = segments(ax, ay, bx, by, MAP, 1, "z → x");
    lines.xaxis = "x"; lines.yaxis = "y3"; lines.opacity = 0.55; lines.showlegend = false;
    const data = [
      { type: "scatter", mode: "lines", x: xs, y: dens, name: "real density", fill: "tozeroy",
        line: { color: REAL, width: 2.5 }, fillcolor: REAL_FILL, hoverinfo: "skip" },
      { type: "bar", x: hx, y: hist, name: "fake histogram",
        marker: { color: FAKE, line: { color: FAKE_EDGE, width: 0.8 } },
        opacity: 0.6, width: w, hoverinfo: "skip" },
      { type: "scatter", mode: "lines", x: cx, y: curve || [], name: prob ? "D(x)" : "critic(x)",
        yaxis: "y2", line: { color: ARROW, width: 2.5, dash: "dash" }, hoverinfo: "skip" },
      lines,
      { type: "scatter", mode: "markers", x: bx, y: by, xaxis: "x", yaxis: "y3", hoverinfo: "skip",
        marker: { size: 6, color: Array.from(mz), colorscale: "Viridis", opacity: 0.9, symbol: edge },
        name: "G(z)", showlegend: false, cliponaxis: false },
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
      yaxis: { domain: [0.4, 1], range: [0, top], title: { text: "density" },
               zeroline: false },
      yaxis2: { overlaying: "y", side: "right", range: prob ? [0, 1.02] : undefined,
                title: { text: prob ? "D(x)" : "critic" }, showgrid: false, zeroline: false,
                tickmode: "auto", nticks: 6 },  // its own round ticks, not the density's synced
      yaxis3: { domain: [0, 0.3], range: [-0.15, 1.15], showgrid: false, zeroline: false,
                tickvals: [0, 1], ticktext: ["z", "x = G(z)"] },
      annotations: [{ xref: "paper", yref: "paper", x: 0, y: 0.315, showarrow: false,
                      xanchor: "left", text: "mapping z → x (crossing lines: G folds the noise)",
                      font: { size: 13, color: "#555" } }].concat(
        off.left ? [edgeNote("left", off.left, big)] : [], off.right ? [edgeNote("right", off.right, big)] : []),
    });
    div._gsOffView = { fake: { left: off.left, right: off.right, total: off.left + off.right } };
    return react(div, data, layout, true, f.meta.sent_at);
  }

  GS.draw1d = draw1d;
  GS.draw1d.densityTop = densityTop;
  GS.draw1d.outside1d = outside1d;
})(typeof window !== "undefined" ? window : globalThis);
