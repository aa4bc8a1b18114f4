/* ganscope compare page: 2 to 4 runs side by side, each in its own kind of view (draw_*.js),
 * their scalars on shared charts with one colour per run, and "focus": the focused run's frames are
 * asked for on every pull, the others' at most every OTHER_MS (client-pull scheduling through
 * GS.framePlan, read by stream.js before each "next"). An n-D run also gets its statistics panels
 * (draw_nd.js: marginals, KS bars, correlations, norm histogram) on scales shared by every run.
 * The page's Dash callbacks own the runs (app/pages/compare.py); this file only draws what the
 * stream brings. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const V = GS.VOCAB, COLORS = V.run_colors;  // app/pages/compare.py swatches: the same order
  const OTHER_MS = 500;  // while one run has focus, the others get about 2 frames/s
  const CHART_MS = 700;  // shared charts: every run's curves, redrawn about 1.5 times a second
  const CHART_POINTS = 600;  // per curve when drawn (SVG lines of thousands of points stall a tab)
  const LAYERS = ["real", "fake", "d", "grad"];
  const C = GS.cmp = { runs: [], byRun: {}, focus: null, lastCharts: 0, lateTries: 0,
                       statMisses: 0 };
  GS.compare = {};

  function $(id) { return document.getElementById(id); }

  /** Called by the compare page (clientside callback) whenever its runs change. */
  GS.setCompare = function (store) {
    const runs = (store && store.runs) || [];
    C.runs = runs.map(function (r, i) {
      return { id: r.run, label: r.label, kind: r.kind, color: COLORS[i % COLORS.length], index: i,
               rows: new GS.Series(), metrics: new GS.Series(), frame: null, drawn: 0,
               lastFrameAt: 0, lastAsked: 0, step: 0, state: "", stats: {} };
    });
    GS.compare = {}; C.byRun = {};
    C.runs.forEach(function (c) { GS.compare[c.id] = "cmp-view-" + c.index; C.byRun[c.id] = c; });
    if (C.focus && !C.byRun[C.focus]) C.focus = null;
    markFocus();
    GS.watch(runs.map(function (r) { return r.run; }));
    return "";
  };

  /** The runs whose frames this pull should bring (null: all of them). An unfocused run is
   * asked for at most once per OTHER_MS, counted from when it was last asked for or drawn. */
  GS.framePlan = function () {
    if (!C.focus || !C.runs.length) return null;
    const now = performance.now();
    return C.runs.filter(function (c) {
      if (c.id !== C.focus && now - Math.max(c.lastFrameAt, c.lastAsked) < OTHER_MS) return false;
      c.lastAsked = now;
      return true;
    }).map(function (c) { return c.id; });
  };

  function markFocus() {
    C.runs.forEach(function (c) {
      const cell = $("cmp-cell-" + c.index);
      if (cell) cell.classList.toggle("focused", c.id === C.focus);
    });
    document.body.dataset.focus = C.focus || "";
  }

  document.addEventListener("click", function (ev) {
    const btn = ev.target && ev.target.closest && ev.target.closest(".cmp-focus");
    if (!btn) return;
    const c = C.runs[Number(btn.dataset.index)];
    if (!c) return;
    C.focus = C.focus === c.id ? null : c.id;
    markFocus();
  });

  function addRows(c, rows, columns) {
    const k = columns.length, n = rows.length / k;
    for (let r = 0; r < n; r++) {
      const v = {};
      for (let j = 1; j < k; j++) {
        const x = rows[r * k + j];
        v[columns[j]] = Number.isFinite(x) ? x : null;
      }
      c.rows.push(rows[r * k], v);
    }
  }

  function addMetrics(c, f) {
    const s = f.scalars, v = {};
    ["modes", "ks_mean", "reverse_kl"].forEach(function (k) {
      if (typeof s[k] === "number" && Number.isFinite(s[k])) v[k] = s[k];
    });
    if (Object.keys(v).length) c.metrics.push(f.step, v);
    if (s.modes_total) c.modesTotal = s.modes_total;
  }

  /** The metrics of the frames before this page's first one of `c` (a page opened on a run
   * that trained a while): [[step, {metric: value}], ...], oldest first; steps it has are skipped
   * (a socket that reconnects is sent them again). */
  function addHistory(c, history) {
    c.metrics.newerThanLast(history).forEach(function (h) {
      addMetrics(c, { step: h[0], scalars: h[1] });
    });
  }

  // Frames can come before the cells that show them: the runs are set here (GS.setCompare) and
  // the stream starts at once, while the grid of cells is a round trip to the server (seconds on
  // a loaded one). A paused run sends one frame, so what found no cell is drawn when it appears.
  const LATE_MS = 200, LATE_TRIES = 100;  // looked for over about 20 s, then at the next frame

  function drawView(c) {
    const div = $("cmp-view-" + c.index), f = c.frame;
    c.viewDue = !!f && !div;
    if (!div || !f) return;
    if (f.kind === "2d") GS.draw2d(div, f, LAYERS, c.id, true);
    else if (f.kind === "1d") GS.draw1d(div, f, c.id);
    else GS.drawProj(div, f, c.id);
  }

  function drawLateViews() {
    C.lateTimer = null;
    let due = false, drawn = false;
    C.runs.forEach(function (c) {
      if (c.viewDue) { drawView(c); due = due || c.viewDue; drawn = drawn || !c.viewDue; }
    });
    if (drawn) drawCharts(true);  // the charts' divs came with the cells
    if (due && ++C.lateTries < LATE_TRIES) C.lateTimer = setTimeout(drawLateViews, LATE_MS);
  }

  function head(c) {
    const step = $("cmp-at-" + c.index), state = $("cmp-state-" + c.index);
    if (step) {
      step.dataset.step = String(c.step);
      step.textContent = "step " + c.step.toLocaleString();
    }
    if (state) {
      const ended = !!(V.states[c.state] && V.states[c.state].ended);
      state.textContent = ended ? (c.message || c.state) : "";
      state.className = "cmp-state" + (ended ? " state-" + c.state : "");
    }
  }

  /** A stream item of one of this page's runs: draw it; false when it is not ours. */
  GS.onCompare = function (item) {
    const c = C.byRun[item.entry.run];
    if (!c) return false;
    const e = item.entry;
    c.state = e.state; c.message = e.message;
    try {
      if (item.rows) addRows(c, item.rows, e.columns);
      if (e.history) addHistory(c, e.history);
      if (item.frame) {
        c.frame = item.frame;
        c.lastFrameAt = performance.now();
        addMetrics(c, item.frame);
        drawView(c);
        if (c.viewDue) {
          C.lateTries = 0;
          if (!C.lateTimer) C.lateTimer = setTimeout(drawLateViews, LATE_MS);
        }
        c.drawn += 1;
        if (item.frame.kind === "nd") { C.statMisses = 0; scheduleStats(); }
      }
      c.step = c.frame ? c.frame.step : e.step;
      head(c);
      drawCharts(false);
    } catch (err) {
      console.error("ganscope: compare drawing failed", err);  // the next frame tries again
    }
    return true;
  };

  // ---- n-D statistics: the same four panels per run, on shared scales ---------------------------
  // At 100-D a panel costs 14-160 ms of Plotly (headless Chromium on a loaded 2-core box, median
  // of 7 redraws: marginals 161 ms, correlations 90, KS 23, norm 14; the projection 7), so
  // they are not drawn with every frame: one panel per turn, round-robin over runs and panels,
  // each turn at least STATS_MS after the last and twice the last panel's cost, so the panels take
  // at most about a third of the main thread and the projections keep their frame rate. A panel
  // is due when its run has a newer frame or the shared scales changed since it was drawn.
  const STATS_MS = 120;
  const STATS = [
    { div: "cmp-marg-", draw: function (div, f, c, s) {
      return GS.drawMarginals(div, f, c.id, s.dims ? { dims: s.dims, what: s.what } : null); } },
    { div: "cmp-ks-", draw: function (div, f, c, s) { return GS.drawKs(div, f, c.id, { yMax: s.ksMax }); } },
    { div: "cmp-corr-", draw: function (div, f, c) { return GS.drawCorr(div, f, c.id); } },
    { div: "cmp-norm-", draw: function (div, f, c, s) {
      return GS.drawNorm(div, f, c.id, { range: s.normRange, yMax: s.normMax }); } },
  ];
  const KEYS = ["dims", "ksMax", "", "normKey"];  // the shared scale each panel is drawn on

  function maxOf(a) {
    let m = 0;
    for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
    return m;
  }

  /** The scales every n-D run is drawn on: the marginals of the same dimensions (the 8 with the
   * worst KS in any run, when all runs have the same dimension), one KS axis (to the next 0.1
   * above the largest statistic, at least 0.3), one norm range and density axis. */
  function sharedScales() {
    const frames = C.runs.map(function (c) { return c.frame; })
      .filter(function (f) { return f && f.kind === "nd" && f.arrays.ks_stat; });
    const s = { dims: null, what: "", ksMax: 0.3, normRange: null, normMax: 0 };
    if (!frames.length) return s;
    const dim = frames[0].arrays.ks_stat.length;
    let ksTop = 0, normHi = 0, densTop = 0;
    frames.forEach(function (f) {
      ksTop = Math.max(ksTop, maxOf(f.arrays.ks_stat));
      normHi = Math.max(normHi, f.meta.norm_range[1]);
      densTop = Math.max(densTop, maxOf(f.arrays.norm_real), maxOf(f.arrays.norm_fake));
    });
    s.ksMax = Math.min(1, Math.max(0.3, Math.ceil(ksTop * 10 + 0.5) / 10));
    s.normRange = [0, normHi];
    // rounded up to 2 significant digits: a density that barely moves does not redraw every panel
    const mag = densTop > 0 ? Math.pow(10, Math.floor(Math.log10(densTop * 1.08)) - 1) : 1;
    s.normMax = densTop > 0 ? Math.ceil(densTop * 1.08 / mag) * mag : 1;
    s.normKey = normHi.toPrecision(4) + "|" + s.normMax;
    if (frames.length > 1 && dim > 8 && frames.every(function (f) { return f.arrays.ks_stat.length === dim; })) {
      const worst = new Float32Array(dim);
      frames.forEach(function (f) {
        for (let j = 0; j < dim; j++) worst[j] = Math.max(worst[j], f.arrays.ks_stat[j]);
      });
      const order = [];
      for (let j = 0; j < dim; j++) order.push(j);
      order.sort(function (a, b) { return worst[b] - worst[a]; });
      s.dims = order.slice(0, 8);
      s.what = "marginals (8 worst dims of all runs)";
    }
    s.dimsKey = s.dims ? s.dims.join(",") : "own";
    return s;
  }

  function statsKey(s, k) {
    return KEYS[k] === "dims" ? s.dimsKey : KEYS[k] === "ksMax" ? String(s.ksMax) :
      KEYS[k] === "normKey" ? s.normKey : "";
  }

  /** The next panel due, after the one drawn last (round-robin), or null. */
  function nextStat(s) {
    const n = C.runs.length * STATS.length;
    for (let t = 1; t <= n; t++) {
      const at = ((C.statTurn || 0) + t) % n, c = C.runs[Math.floor(at / STATS.length)];
      const k = at % STATS.length, f = c.frame;
      if (!f || f.kind !== "nd") continue;
      const done = c.stats[k];
      if (!done || done.frame !== f || done.key !== statsKey(s, k)) return { at: at, c: c, k: k };
    }
    return null;
  }

  /** Whether a statistics panel still waits for its run's newest frame or the shared scales
   * (the browser tests wait for false before reading the panels). */
  C.statsDue = function () { return !!nextStat(sharedScales()); };

  function drawStat() {
    C.statTimer = null;
    const s = sharedScales(), next = nextStat(s);
    if (!next) return;
    const c = next.c, k = next.k, div = $(STATS[k].div + c.index);
    C.statTurn = next.at;
    if (!div) {  // its cell is not on the page yet: still due, looked for again soon
      if (++C.statMisses < LATE_TRIES) C.statTimer = setTimeout(drawStat, LATE_MS);
      return;
    }
    C.statMisses = 0;
    const t0 = performance.now();
    try {
      STATS[k].draw(div, c.frame, c, s);
    } catch (err) {
      console.error("ganscope: compare statistics failed", err);
    }
    C.statCost = performance.now() - t0;
    c.stats[k] = { frame: c.frame, key: statsKey(s, k), step: c.frame.step };
    div.dataset.step = String(c.frame.step);
    scheduleStats();
  }

  function scheduleStats() {
    if (C.statTimer) return;
    C.statTimer = setTimeout(drawStat, Math.max(STATS_MS, 2 * (C.statCost || 0)));
  }

  // ---- shared charts: one colour per run ------------------------------------------------------
  function thin(a, stride) {
    if (stride <= 1) return a;
    const out = [];
    for (let i = 0; i < a.length; i += stride) out.push(a[i]);
    if ((a.length - 1) % stride) out.push(a[a.length - 1]);  // keep the newest point
    return out;
  }

  function lines(series, key, c, name, dash) {
    if (!series.y[key]) return null;
    const stride = Math.ceil(series.x.length / CHART_POINTS);
    return { type: "scatter", mode: "lines", x: thin(series.x, stride),
             y: thin(series.y[key], stride), connectgaps: true,
             name: c.label + " · " + name, legendgroup: c.id,
             line: { color: c.color, width: 2, dash: dash || "solid" },
             hovertemplate: "%{y:.4g}<extra>" + c.label + " · " + name + "</extra>" };
  }

  function layout(title, extra) {
    return Object.assign({
      font: { family: "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", size: 13,
              color: V.colors.ink },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff", showlegend: true,
      hovermode: "x unified", uirevision: "compare",
      title: { text: title, x: 0.01, xanchor: "left", font: { size: 15 } },
      margin: { l: 50, r: 10, t: 34, b: 28 },
      // at the chart's bottom edge, under the axis title (react makes the room for its rows):
      // just under the axis, a two-row legend of long run names covered "step"
      legend: { orientation: "h", xref: "container", x: 0.01, xanchor: "left", yref: "container",
                y: 0, yanchor: "bottom", font: { size: 11 }, tracegroupgap: 0 },
      xaxis: { zeroline: false, title: { text: "step" } }, yaxis: { zeroline: false },
    }, extra || {});
  }

  function react(id, data, lay) {
    const div = $(id);
    if (!div || div.offsetParent === null) return;
    // The series grow in place (the same arrays): a new datarevision tells Plotly.react that
    // the data changed, or it keeps the old autorange (a coverage chart stuck at its first point).
    C.chartRev = (C.chartRev || 0) + 1;
    lay.datarevision = C.chartRev;
    data = data.filter(Boolean);
    const rows = GS.legendRows ? GS.legendRows(div, data.map(function (t) { return t.name; }), 11) : 1;
    lay.margin = Object.assign({}, lay.margin, { b: 46 + rows * 19 });  // ticks, "step", legend
    root.Plotly.react(div, data, lay, { displayModeBar: false, responsive: true });
  }

  function drawCharts(force) {
    const now = performance.now();
    if (!force && now - C.lastCharts < CHART_MS) {
      // too soon: draw once the window ends, so the last items before a pause are not lost
      if (!C.chartTimer) {
        C.chartTimer = setTimeout(function () { C.chartTimer = null; drawCharts(true); },
                                  CHART_MS - (now - C.lastCharts));
      }
      return;
    }
    if (C.chartTimer) { clearTimeout(C.chartTimer); C.chartTimer = null; }
    C.lastCharts = now;
    const loss = [], dd = [], cover = [];
    const anyModes = C.runs.some(function (c) { return c.metrics.y.modes; });
    const key = anyModes ? "modes" : "ks_mean";
    let total = 0;
    const L = V.series_labels;
    C.runs.forEach(function (c) {
      loss.push(lines(c.rows, "d_loss", c, L.d_loss), lines(c.rows, "g_loss", c, L.g_loss, "dot"));
      dd.push(lines(c.rows, "d_real", c, L.d_real), lines(c.rows, "d_fake", c, L.d_fake, "dash"));
      // metrics are snapshots every few hundred steps: markers show even the first one
      const t = lines(c.metrics, key, c, anyModes ? "modes" : "KS mean");
      if (t) { t.mode = "lines+markers"; t.marker = { color: c.color, size: 6 }; }
      cover.push(t);
      total = Math.max(total, c.modesTotal || 0);
    });
    react("cmp-chart-loss", loss, layout("losses (solid D, dotted G; a VAE: reconstruction, KL)"));
    react("cmp-chart-d", dd, layout("mean D(real) solid, D(fake) dashed"));
    react("cmp-chart-cover", cover, layout(anyModes
      ? "coverage: modes captured" + (total ? " (of " + total + ")" : "")
      : "coverage: mean KS statistic (lower is better)",
      { yaxis: { zeroline: false, rangemode: "tozero" } }));
  }
  GS.drawCompareCharts = drawCharts;

  /** A share link for this origin: shown in its field (selected, ready to copy) and put on the
   * clipboard when the browser allows it. */
  GS.shareLink = function (path, inputId) {
    const url = location.origin + path;
    try {
      if (navigator.clipboard && root.isSecureContext) navigator.clipboard.writeText(url).catch(function () {});
    } catch (e) { /* no clipboard: the field still shows the link */ }
    setTimeout(function () { const el = $(inputId); if (el) { el.focus(); el.select(); } }, 50);
    return url;
  };
})(window);
