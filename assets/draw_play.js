/* ganscope play page: the page's run as the stream brings it (GS.view: its frames, scalar rows,
 * metrics and events), drawn with the views (draw_1d.js, draw_2d.js, draw_nd.js) and the charts
 * (draw_charts.js). stream.js calls GS.resetView, GS.addRows, GS.addFrameScalars, GS.drawFrame
 * and GS.drawCharts; the sample view is drawn every frame, the charts and the secondary n-D
 * panels a few times a second, not every frame. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, V = GS.VOCAB;
  const REAL = V.colors.real, FAKE = V.colors.fake, G_LINE = V.colors.g, PALETTE = V.palette;
  const CHART_MS = 150, ND_SIDE_MS = 80, SURFACE_MS = 200;
  const $ = P.$, visible = P.visible, baseLayout = P.baseLayout, title = P.title, react = P.react;
  const Series = GS.Series, chart = GS.chart, metricsChart = GS.metricsChart;
  const decadeStep = GS.decadeStep, label = GS.seriesLabel, stats = GS.stats;
  const STATS_SKIP = { step: 1, steps_per_s: 1, modes_total: 1 };  // not metrics

  // ---- the page's run ----------------------------------------------------------------------------
  const view = GS.view = {
    run: null, kind: null, frame: null, rows: new Series(), metrics: new Series(), events: [],
    eventKeys: {}, lastSide: 0, sideTurn: 0, lastSurface: 0, config: null,
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
        if (force || now - view.lastSurface > SURFACE_MS) { view.lastSurface = now; GS.drawSurface($("plot-surface"), f, rid); }
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

  // The charts share the main thread with the sample view, which must keep the frame rate. So
  // they are drawn one chart at a time, round-robin, in idle time when there is any
  // (requestIdleCallback with a deadline, so they never starve), and spaced so that they take at
  // most CHART_SHARE of the main thread: at least CHART_MS apart, more on a slow machine, where
  // one chart costs tens of milliseconds. A forced call (a paused run, a layer switch) queues
  // every chart at once.
  const CHART_DIVS = { loss: "chart-loss", d: "chart-d", grad: "chart-grad", metrics: "chart-metrics",
                       timeline: "timeline" };
  const CHART_JOBS = Object.keys(CHART_DIVS);

  const CHART_SHARE = 0.1;
  const charts = { next: 0, pending: 0, scheduled: false, last: 0, cost: 0 };

  function drawChart(name, div) {
    const rid = view.run, R = view.rows, M = view.metrics;
    if (name === "loss") {
      const losses = ["d_loss", "g_loss"];
      chart(div, R, losses, losses.map(label), [FAKE, G_LINE], "losses", rid);
    } else if (name === "d") {
      const prob = view.frame ? !!view.frame.meta.d_probabilistic : true;
      const outputs = ["d_real", "d_fake"];
      chart(div, R, outputs, outputs.map(label), [REAL, FAKE],
            prob ? "mean D(real) and D(fake)" : "mean critic on real and fake", rid,
            prob ? { yaxis: { range: [0, 1], zeroline: false } } : undefined);
    } else if (name === "grad") {
      const grads = ["d_grad_norm", "g_grad_norm"];
      chart(div, R, grads, grads.map(label), [FAKE, G_LINE],
            "gradient norms (log)", rid,  // powers of ten only: the 2s and 5s piled up
            { yaxis: { type: "log", dtick: decadeStep(R, grads),
                       zeroline: false, tickfont: { size: 12 } } });
    } else if (name === "metrics") {
      const f = view.frame;
      metricsChart(div, M, f && f.scalars.modes, f && f.scalars.modes_total, rid);
    } else {
      drawTimeline(div, rid);
    }
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
               marker: { size: 12, symbol: GS.eventMarker(k), color: PALETTE[i % PALETTE.length] },
               text: es.map(function (e) { return "step " + e.step.toLocaleString() + ": " + e.message; }),
               hovertemplate: "%{text}<extra></extra>" };
    });
    data.push({ type: "scatter", mode: "lines", x: [x1, x1], y: [0, 1], yaxis: "y2", hoverinfo: "skip",
                line: { color: V.colors.ink, width: 1.5, dash: "dot" } });
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
})(typeof window !== "undefined" ? window : globalThis);
