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
