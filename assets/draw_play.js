/* ganscope play page: the page's run as the stream brings it (GS.view: its frames, scalar rows,
 * metrics and events), drawn with the views (draw_1d.js, draw_2d.js, draw_nd.js) and the charts
 * (draw_charts.js). stream.js calls GS.resetView, GS.addRows, GS.addMetricHistory,
 * GS.addFrameScalars, GS.drawFrame and GS.drawCharts; the sample view is drawn every frame, the
 * charts and the secondary n-D panels a few times a second, not every frame. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, V = GS.VOCAB;
  const REAL = V.colors.real, FAKE = V.colors.fake, G_LINE = V.colors.g, PALETTE = V.palette;
  const CHART_MS = 150, ND_SIDE_MS = 80, SURFACE_MS = 200;
  const $ = P.$, visible = P.visible, baseLayout = P.baseLayout, react = P.react;
  const Series = GS.Series, chart = GS.chart;
  const decadeStep = GS.decadeStep, label = GS.seriesLabel, stats = GS.stats;
  const STATS_SKIP = { step: 1, steps_per_s: 1, modes_total: 1 };  // not metrics

  // ---- the page's run ----------------------------------------------------------------------------
  const view = GS.view = {
    run: null, kind: null, frame: null, rows: new Series(), metrics: new Series(), events: [],
    eventKeys: {}, lastSide: 0, sideTurn: 0, lastSurface: 0, config: null,
    pace: { step: 0, at: 0, perMs: 0 },  // steps per millisecond, from the frames (chart x ranges)
  };
  const ND_SIDE = [{ div: "plot-marg", draw: GS.drawMarginals }, { div: "plot-corr", draw: GS.drawCorr },
                   { div: "plot-ks", draw: GS.drawKs }, { div: "plot-norm", draw: GS.drawNorm }];

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
    view.pace = { step: 0, at: 0, perMs: 0 };
    view.config = run.config;
    // A restart starts afresh at step 0; only a fork beside goes on from the parent's weights.
    const at = (run.fork_step || 0).toLocaleString("en-US");
    if (run.parent) addEvent(0, "fork", "child of " + run.parent + (run.inherited
      ? ", from its weights at step " + at : ", restarted from step 0 (the parent ran " + at + " steps)"));
    document.body.dataset.kind = run.kind;
  };

  function addEvent(step, kind, message) {
    const key = step + "|" + kind + "|" + message;
    if (view.eventKeys[key]) return;
    view.eventKeys[key] = true;
    view.events.push({ step: step, kind: kind, message: message });
  }
  GS.addEvent = addEvent;

  /** How fast the steps go, from the frames' steps and arrival times (an average over ~2 s). */
  function notePace(step, now) {
    const p = view.pace;
    if (p.at && step > p.step && now > p.at) {
      const rate = (step - p.step) / (now - p.at), a = Math.min(1, (now - p.at) / 2000);
      p.perMs = p.perMs ? (1 - a) * p.perMs + a * rate : rate;
    }
    if (step !== p.step || !p.at) { p.step = step; p.at = now; }
  }

  GS.drawFrame = function (f, force) {
    view.frame = f;
    notePace(f.step, performance.now());
    const rid = view.run || f.meta.run_id;
    if (f.kind !== view.kind) { view.kind = f.kind; document.body.dataset.kind = f.kind; }
    const now = performance.now();
    if (f.kind === "2d") {
      const m = mode2d();
      if (document.body.dataset.mode2d !== m) document.body.dataset.mode2d = m;
      if (m === "surface") {
        if (force || now - view.lastSurface > SURFACE_MS) { view.lastSurface = now; GS.drawSurface($("plot-surface"), f, rid, layers()); }
      } else {
        GS.draw2d($("plot-2d"), f, layers(), rid);
      }
    } else if (f.kind === "1d") {
      GS.draw1d($("plot-1d"), f, rid);
    } else {
      GS.drawProj($("plot-proj"), f, rid);
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

  /** [[step, {metric: value}], ...] from the server, oldest first, before the first frame. A
   * socket that reconnects is sent it again: the steps the charts already have are skipped. */
  GS.addMetricHistory = function (history) {
    view.metrics.newerThanLast(history).forEach(function (h) {
      GS.addFrameScalars({ step: h[0], scalars: h[1], meta: {} });
    });
  };

  // The charts share the main thread with the sample view, which must keep the frame rate. So
  // they are drawn one chart at a time, round-robin, in idle time when there is any
  // (requestIdleCallback with a deadline, so they never starve), and spaced so that they take at
  // most CHART_SHARE of the main thread: at least CHART_MS apart, more on a slow machine, where
  // one chart costs tens of milliseconds. A forced call (a paused run, a layer switch) queues
  // every chart at once.
  const CHART_DIVS = { loss: "chart-loss", d: "chart-d", grad: "chart-grad", modes: "chart-modes",
                       metrics: "chart-metrics", timeline: "timeline" };
  const CHART_JOBS = Object.keys(CHART_DIVS);

  const CHART_SHARE = 0.1;
  const charts = GS.chartClock = { next: 0, pending: 0, scheduled: false, last: 0, cost: 0, drawnAt: {}, cycle: {} };

  /** The step the status bar shows: the newest frame's or the newest status's. */
  function currentStep() {
    const f = view.frame, e = GS.stream && GS.stream.last && GS.stream.last[view.run];
    return Math.max(f ? f.step : 0, e && e.step ? e.step : 0, view.rows.x.length ? view.rows.x[view.rows.x.length - 1] : 0);
  }

  /** Where a chart's x axis ends: the step shown now, plus the steps a running run will make
   * before this chart is drawn again (charts are drawn one at a time, in turn: each waits a
   * cycle of 1-3 s, and a 3-D surface on a slow machine makes that longer). Ending at the newest
   * point instead left the step counter 10-20% past every chart's right edge. */
  function chartEnd(name, now) {
    const step = currentStep();
    if (document.body.dataset.state !== "running") return step;
    const wait = 500 + 1.5 * (charts.cycle[name] || 2000);
    // at most 15% of the steps shown: on a starved machine (a chart drawn every 10 s) the
    // curves ended at a third of the width
    const x0 = view.rows.x.length ? view.rows.x[0] : 0;
    return step + Math.ceil(Math.min(view.pace.perMs * wait, 0.15 * (step - x0)));
  }

  function drawChart(name, div) {
    const rid = view.run, R = view.rows, M = view.metrics;
    const now = performance.now(), seen = charts.drawnAt[name];
    if (div && visible(div)) {
      if (seen) charts.cycle[name] = charts.cycle[name] ? 0.7 * charts.cycle[name] + 0.3 * (now - seen) : now - seen;
      charts.drawnAt[name] = now;
    }
    const at = { xEnd: chartEnd(name, now) }, z = GS.chartSizes();
    if (name === "loss") {
      const losses = ["d_loss", "g_loss"];
      chart(div, R, losses, losses.map(label), [FAKE, G_LINE], "losses", rid, at);
    } else if (name === "d") {
      // D's mean outputs and the share of high-quality fakes: the chart of shares (0 to 1).
      // A critic's outputs are not shares: the share then gets an axis of its own, on the right.
      const prob = view.frame ? !!view.frame.meta.d_probabilistic : true;
      const outputs = ["d_real", "d_fake"];
      const more = { traces: GS.shareTraces(M, prob ? "y" : "y2") };
      if (prob) {
        more.yaxis = { range: [0, 1.02], zeroline: false, tickfont: { size: z.tick }, tickvals: [0, 0.5, 1] };
      } else if (more.traces.length) {
        more.yaxis2 = { overlaying: "y", side: "right", range: [0, 1.02], showgrid: false, zeroline: false,
                        tickvals: [0, 0.5, 1], tickfont: { size: z.tick } };
        more.rightAxis = true;
      }
      chart(div, R, outputs, outputs.map(label), [REAL, FAKE],
            prob ? "shares (0–1): D's outputs, high quality" : "mean critic on real and fake",
            rid, Object.assign(more, at));
    } else if (name === "grad") {
      const grads = ["d_grad_norm", "g_grad_norm"];
      chart(div, R, grads, grads.map(label), [FAKE, G_LINE],
            "gradient norms (log)", rid,  // powers of ten only: the 2s and 5s piled up
            // a short chart (the n-D page's side column) has room for two labels, not four
            Object.assign({ yaxis: { type: "log", dtick: decadeStep(R, grads, div.clientHeight < 150 ? 2 : 4),
                                     zeroline: false, tickfont: { size: z.tick } } }, at));
    } else if (name === "modes") {
      const f = view.frame;
      GS.modesChart(div, M, f && f.scalars.modes_total, rid, at);
    } else if (name === "metrics") {
      GS.divergenceChart(div, M, rid, at);
    } else {
      drawTimeline(div, rid, at.xEnd);
    }
  }

  GS.drawChart = function (name) { drawChart(name, $(CHART_DIVS[name])); };  // one chart, now

  function runChartJobs(deadline) {
    charts.scheduled = false;
    // a chart the page hides (presenter mode on a small screen) gives its turn to the next
    for (let i = 0; i < CHART_JOBS.length && !visible($(CHART_DIVS[CHART_JOBS[charts.next]])); i++) {
      charts.next = (charts.next + 1) % CHART_JOBS.length;
    }
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

  /** An event kind's name for a room ("mode collapse"), from the vocabulary. */
  function kindLabel(kind) {
    const words = V.events[kind];
    return words ? words.label : kind.replace(/_/g, " ");
  }

  // One row per event kind, named in the legend: the kinds used to be the y axis's category
  // labels, and Plotly drops category labels that do not fit (with three kinds in a 60 px high
  // plot it showed one). A legend wraps instead and never leaves a kind out.
  function drawTimeline(div, rid, xEnd) {
    if (!div || !visible(div)) return;
    const ev = view.events, x0 = view.rows.x.length ? view.rows.x[0] : 0;
    const x1 = view.frame ? view.frame.step : 0, z = GS.chartSizes();
    const kinds = [];
    let lastEvent = 0;
    ev.forEach(function (e) {
      if (kinds.indexOf(e.kind) < 0) kinds.push(e.kind);
      lastEvent = Math.max(lastEvent, e.step);
    });
    const data = kinds.map(function (k, i) {
      const es = ev.filter(function (e) { return e.kind === k; });
      return { type: "scatter", mode: "markers", x: es.map(function (e) { return e.step; }),
               y: es.map(function () { return kinds.length - i; }), name: kindLabel(k),
               marker: { size: z.marker, symbol: GS.eventMarker(k), color: PALETTE[i % PALETTE.length] },
               text: es.map(function (e) { return "step " + e.step.toLocaleString() + ": " + e.message; }),
               hovertemplate: "%{text}<extra></extra>" };
    });
    data.push({ type: "scatter", mode: "lines", x: [x1, x1], y: [0, 1], yaxis: "y2", hoverinfo: "skip",
                line: { color: V.colors.ink, width: 1.5, dash: "dot" }, showlegend: false });
    view.rows.rev = (view.rows.rev || 0) + 1;
    // the legend under the x axis, with room for as many rows as its names need at this width
    const rows = GS.legendRows(div, kinds.map(kindLabel), z.legend);
    const layout = baseLayout({
      uirevision: rid, datarevision: view.rows.rev, hovermode: "closest", showlegend: kinds.length > 0,
      title: GS.topTitle("timeline · events" + (ev.length ? "" : " (none yet)")),
      margin: { l: 16, r: 10, t: z.title + 14, b: 10 + z.tick * 1.5 + rows * (z.legend + 8) },
      legend: { orientation: "h", xref: "container", x: 0.01, xanchor: "left", yref: "container", y: 0,
                yanchor: "bottom", font: { size: z.legend }, tracegroupgap: 0 },
      xaxis: { range: [x0, Math.max(x1, xEnd || 0, x0 + 10, lastEvent)], zeroline: false, tickfont: { size: z.tick },
               automargin: false },
      yaxis: { range: [0.3, kinds.length + 0.7], showticklabels: false, showgrid: true, dtick: 1,
               zeroline: false, fixedrange: true, automargin: false },
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
})(typeof window !== "undefined" ? window : globalThis);
