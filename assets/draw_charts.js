/* ganscope chart machinery: growing series and the line charts drawn from them (losses, D's
 * outputs, gradient norms, metrics), shared by the play page (draw_play.js) and replay
 * (replay.js); and how an event is marked on a timeline. Legend names and colours come from
 * GS.VOCAB (gancore/vocabulary.py). */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, V = GS.VOCAB;
  const PALETTE = V.palette;
  const MAX_POINTS = 1500;  // per series; a chart is < 1,000 px wide
  const visible = P.visible, baseLayout = P.baseLayout, title = P.title, react = P.react;

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

  /** The items of a run's metric history ([[step, {metric: value}], ...], oldest first) that
   * come after this series' newest step: a socket that reconnects is sent the history again. */
  Series.prototype.newerThanLast = function (history) {
    const last = this.x.length ? this.x[this.x.length - 1] : -1;
    return history.filter(function (h) { return h[0] > last; });
  };

  const COUNTS = { modes: 1, high_quality: 1 };  // the replay page's combined metrics chart

  // What a metric measures decides its chart (the play page): counts of modes or dimensions,
  // shares between 0 and 1, and the rest (divergences, distances, test statistics) on a third.
  // Mixing them on one axis drew the shares as a flat line along a count's zero.
  const COUNT_KEYS = ["modes", "bimodal_dims_fake", "bimodal_dims_real"];
  const SHARE_KEYS = ["high_quality"];
  function metricKind(k) {
    if (COUNT_KEYS.indexOf(k) >= 0) return "count";
    return SHARE_KEYS.indexOf(k) >= 0 ? "share" : "divergence";
  }
  GS.metricKind = metricKind;

  /** Type sizes of a chart: presenter mode reads from the back of a room (16 px at least). */
  function sizes() {
    return P.presenting() ? { tick: 16, legend: 16, note: 16, marker: 14, title: 21 }
      : { tick: 12, legend: 13, note: 14, marker: 12, title: 15 };
  }
  GS.chartSizes = sizes;

  /** A chart's title in the top band of its box: Plotly's default place put the top of a 21 px
   * title a few pixels above the chart's edge, where the card's rounded border cut it. */
  function topTitle(ttl) {
    return Object.assign(title(ttl), { yref: "container", y: 1, yanchor: "top", pad: { t: 6 } });
  }
  GS.topTitle = topTitle;

  /** A line trace of one series' key (gaps bridged: metrics arrive every few frames). */
  function line(series, k, name, color, more) {
    return Object.assign({ type: "scatter", mode: "lines", x: series.x, y: series.y[k], name: name,
                           line: { color: color, width: 2 }, connectgaps: true,
                           hovertemplate: "%{y:.4g}<extra>" + name + "</extra>" }, more || {});
  }

  /** A chart's x range: from its first step to `xEnd` (the step the page shows, a little ahead
   * while the run trains, see draw_play.js), never ending before the newest point. */
  function xRange(series, xEnd) {
    const n = series.x.length, x0 = n ? series.x[0] : 0, last = n ? series.x[n - 1] : 0;
    return [x0, Math.max(last, xEnd, x0 + 10)];
  }

  /** A legend entry's width in px, estimated: its name's characters at `px` and the swatch. */
  function legendEntryWidth(name, px) { return 0.6 * px * String(name).length + 50; }

  /** Rows a horizontal legend of `names` takes in `div`: one when every name fits in a row;
   * otherwise Plotly sets them in columns as wide as the widest name (so "high quality share"
   * beside "D(real)" made three rows where a packed estimate said two). */
  function legendRows(div, names, px) {
    if (!names.length) return 0;
    const room = Math.max(100, (div.clientWidth || 400) - 20);
    const widths = names.map(function (n) { return legendEntryWidth(n, px); });
    const total = widths.reduce(function (a, w) { return a + w; }, 0);
    if (total <= room) return 1;
    const perRow = Math.max(1, Math.floor(room / Math.max.apply(null, widths)));
    return Math.ceil(names.length / perRow);
  }
  GS.legendRows = legendRows;

  /** Whether a one-row legend of `names` fits in the title's row of `div` with a fifth of the
   * width to spare. Not in presenter mode: at 16 px the two ran into each other. The legend's
   * own row under the axis cost each side chart 21 of its 115 px at 1920x1080; beside the title
   * the plot keeps them. */
  function legendBesideTitle(div, ttl, names, z) {
    if (P.presenting() || !names.length) return false;
    const room = (div.clientWidth || 400) - 20;
    const titleW = 0.58 * z.title * String(ttl).length;
    const legendW = names.reduce(function (a, n) { return a + legendEntryWidth(n, z.legend); }, 0);
    return titleW + legendW <= 0.8 * room;
  }

  function chart(div, series, keys, labels, colors, ttl, runId, extra) {
    if (!div || !visible(div)) return;
    const data = [], z = sizes();
    keys.forEach(function (k, i) {
      if (!series.y[k]) return;
      data.push(line(series, k, labels[i] || k, colors[i],
                     { yaxis: extra && extra.right && extra.right[k] ? "y2" : "y" }));
    });
    const more = Object.assign({}, extra || {});
    (more.traces || []).forEach(function (t) { data.push(t); });
    const xEnd = more.xEnd, rightRoom = more.rightAxis || (extra && extra.right) ? 4 + 3.5 * z.tick : 1.2 * z.tick;
    delete more.right; delete more.traces; delete more.xEnd; delete more.rightAxis;
    series.rev = (series.rev || 0) + 1;
    const names = data.filter(function (t) { return t.showlegend !== false; })
      .map(function (t) { return t.name; });
    const besideTitle = legendBesideTitle(div, ttl, names, z);
    const legendRoom = besideTitle ? 0 : legendRows(div, names, z.legend) * (z.legend + 8);
    const layout = baseLayout(Object.assign({
      uirevision: runId, datarevision: series.rev, showlegend: true, hovermode: "x unified",
      title: topTitle(ttl),
      margin: { l: 4 + 3.5 * z.tick, r: rightRoom, t: z.title + 14, b: 10 + 2 * z.tick + legendRoom },
      // under the x axis, at the chart's bottom edge: never over a line or the title (in the
      // title's row, a long title and three names ran into each other at 16 px), unless the
      // names fit beside the title with room to spare
      legend: besideTitle
        ? { orientation: "h", xref: "container", x: 0.99, xanchor: "right", yref: "container",
            y: 1, yanchor: "top", font: { size: z.legend }, tracegroupgap: 0 }
        : { orientation: "h", xref: "container", x: 0.01, xanchor: "left", yref: "container",
            y: 0, yanchor: "bottom", font: { size: z.legend }, tracegroupgap: 0 },
      // invisible tick marks push the step labels down: at 16 px the y axis's "0" and the x
      // axis's first label met in the corner
      xaxis: { zeroline: false, tickfont: { size: z.tick }, ticklabeloverflow: "hide past div", ticks: "outside",
               ticklen: z.tick / 2, tickcolor: "rgba(0,0,0,0)" },
      yaxis: { zeroline: false, tickfont: { size: z.tick }, ticklabeloverflow: "allow", nticks: 4 },
    }, more));
    // Margins sized for the type here, not found by Plotly's automargin (a second layout pass
    // per draw: 55 -> 160 ms a chart in presenter mode on a busy two-core machine).
    ["xaxis", "yaxis", "yaxis2"].forEach(function (k) {
      if (layout[k] && !("automargin" in layout[k])) layout[k] = Object.assign({}, layout[k], { automargin: false });
    });
    if (xEnd !== undefined) {
      layout.xaxis = Object.assign({}, layout.xaxis, { range: xRange(series, xEnd), autorange: false });
    }
    const spans = function (t) { return t.x && t.x.length > 1 && t.x[t.x.length - 1] !== t.x[0]; };
    if (!data.some(spans)) {  // a line needs two steps (a paused run re-sends its step-0 frame)
      // Before the first steps: no bare axes (a log scale squeezed its decades into a sliver).
      ["xaxis", "yaxis", "yaxis2"].forEach(function (k) {
        if (k in layout || k !== "yaxis2") layout[k] = Object.assign({}, layout[k], { visible: false });
      });
      layout.showlegend = false;
      layout.annotations = [{ xref: "paper", yref: "paper", x: 0.5, y: 0.45, showarrow: false,
                              text: "waiting for steps", font: { size: z.note, color: "#8a8f98" } }];
    }
    react(div, data, layout, false);
  }

  // ---- the mode count, smoothed ----------------------------------------------------------------
  // The count of modes a batch of fakes covers jumps between 2 and 8 from one frame to the next
  // in the healthy ring8-reference run (a mode with a handful of fakes in one batch, none in the
  // next). The chart draws the median of the last SMOOTH_FRAMES counts as its line and their
  // min-max as a band behind it; the title shows the newest median, not one frame's count.
  // An even window: a count that alternates frame by frame gets a steady median between the
  // two (an odd one flipped with each frame, as the raw count did).
  const SMOOTH_FRAMES = 16;

  /** For each point, the median, min and max of the last `k` values (nulls skipped). */
  function rollingBand(y, k) {
    const mid = [], lo = [], hi = [];
    for (let i = 0; i < y.length; i++) {
      const w = [];
      for (let j = Math.max(0, i - k + 1); j <= i; j++) if (y[j] !== null && y[j] !== undefined) w.push(y[j]);
      if (!w.length) { mid.push(null); lo.push(null); hi.push(null); continue; }
      w.sort(function (a, b) { return a - b; });
      const h = w.length >> 1;
      mid.push(w.length % 2 ? w[h] : (w[h - 1] + w[h]) / 2);
      lo.push(w[0]); hi.push(w[w.length - 1]);
    }
    return { mid: mid, lo: lo, hi: hi };
  }
  GS.rollingBand = rollingBand;

  /** The counts chart: modes covered (median line, min-max band), and in n-D the dimensions whose
   * marginals are bimodal. `extra` as for chart (xEnd, margins). */
  function modesChart(div, series, modesTotal, runId, extra) {
    if (!div || !visible(div)) return;
    const traces = [], z = sizes();
    let now = null;
    COUNT_KEYS.forEach(function (k, i) {
      if (!series.y[k]) return;
      const b = rollingBand(series.y[k], SMOOTH_FRAMES), color = PALETTE[i % PALETTE.length];
      const name = k === "modes" ? "modes (median of " + SMOOTH_FRAMES + " frames)" : metricLabel(k);
      if (k === "modes") {
        now = b.mid.length ? b.mid[b.mid.length - 1] : null;
        const band = { type: "scatter", mode: "lines", x: series.x, line: { width: 0, color: color },
                       connectgaps: true, hoverinfo: "skip", showlegend: false };
        traces.push(Object.assign({}, band, { y: b.lo, name: "band low" }));
        traces.push(Object.assign({}, band, { y: b.hi, name: "min–max of " + SMOOTH_FRAMES + " frames",
                                              fill: "tonexty", fillcolor: P.rgba(color, 0.18),
                                              showlegend: true }));
      }
      traces.push({ type: "scatter", mode: "lines", x: series.x, y: b.mid, name: name, connectgaps: true,
                    line: { color: color, width: 3, shape: "hv" },
                    hovertemplate: "%{y}<extra>" + name + "</extra>" });
    });
    const shown = now === null ? "" : " · now " + now + (modesTotal ? " of " + modesTotal : "");
    chart(div, series, [], [], [], "modes covered" + shown, runId, Object.assign({
      traces: traces,
      yaxis: { zeroline: false, rangemode: "tozero", tickfont: { size: z.tick }, nticks: 3,
               range: modesTotal ? [0, modesTotal + 0.5] : undefined,
               // none, half and all of the modes (0, 4, 8): whole counts, three labels
               tickvals: modesTotal ? (modesTotal >= 4 ? [0, Math.round(modesTotal / 2), modesTotal]
                                                       : [0, modesTotal]) : undefined },
    }, extra || {}));
  }
  GS.modesChart = modesChart;

  /** The divergences chart: every metric that is neither a count nor a share (reverse KL, JS,
   * KL, Wasserstein, energy distance; KS statistics in n-D), on one axis of its own. */
  function divergenceChart(div, series, runId, extra) {
    const keys = chartMetrics(Object.keys(series.y).filter(function (k) {
      return metricKind(k) === "divergence";
    }));
    chart(div, series, keys, keys.map(metricLabel),
          keys.map(function (_, i) { return PALETTE[(i + 2) % PALETTE.length]; }),
          "divergences (lower: closer to the data)", runId,
          Object.assign({ yaxis: { zeroline: false, rangemode: "tozero", nticks: 4,
                                   tickfont: { size: sizes().tick } } }, extra || {}));
  }
  GS.divergenceChart = divergenceChart;

  /** A share metric's line (high-quality share) for a chart whose axis runs from 0 to 1. */
  GS.shareTraces = function (series, yaxis) {
    return SHARE_KEYS.filter(function (k) { return series.y[k]; }).map(function (k) {
      return line(series, k, metricLabel(k), PALETTE[4 % PALETTE.length],
                  { yaxis: yaxis || "y", line: { color: PALETTE[4 % PALETTE.length], width: 2, dash: "dot" } });
    });
  };

  function metricLabel(k) { return V.metric_labels[k] || k.replace(/_/g, " "); }

  /** The metrics chart's layout (live and replay) for the series `keys`: counts (modes,
   * high-quality samples) on the left axis, divergences and the rest on the right. */
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

  // Ticks every k-th power of ten, at most `most` of them (four by default): a 1-D run's
  // gradients span seven decades, and a label on each piled them into one another.
  function decadeStep(series, keys, most) {
    let lo = Infinity, hi = 0;
    keys.forEach(function (k) {
      (series.y[k] || []).forEach(function (v) { if (v > 0) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    });
    if (!(hi > lo)) return 1;
    return Math.max(1, Math.ceil((Math.log10(hi) - Math.log10(lo)) / Math.max(1, (most || 4) - 1)));
  }

  /** A training series' legend name ("D loss", "‖∇G‖"). */
  function seriesLabel(k) { return V.series_labels[k] || k.replace(/_/g, " "); }

  /** The marker of an event kind on a timeline: each kind's symbol is in the vocabulary
   * (divergence is an x); a kind it does not know gets the default diamond. */
  function eventMarker(kind) {
    const words = V.events[kind];
    return words ? words.marker : "diamond";
  }

  GS.Series = Series;
  GS.chart = chart;
  GS.decadeStep = decadeStep;
  GS.seriesLabel = seriesLabel;
  GS.eventMarker = eventMarker;
})(typeof window !== "undefined" ? window : globalThis);
