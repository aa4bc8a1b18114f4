/* ganscope compare page: 2 to 4 runs side by side, each in its own kind of view (draw_*.js),
 * their scalars on shared charts with one colour per run, and "focus": the focused run's frames are
 * asked for on every pull, the others' at most every OTHER_MS (client-pull scheduling through
 * GS.framePlan, read by stream.js before each "next"). The page's Dash callbacks own the runs
 * (app/pages/compare.py); this file only draws what the stream brings. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const V = GS.VOCAB, COLORS = V.run_colors;  // app/pages/compare.py swatches: the same order
  const OTHER_MS = 500;  // while one run has focus, the others get about 2 frames/s
  const CHART_MS = 700;  // shared charts: every run's curves, redrawn about 1.5 times a second
  const CHART_POINTS = 600;  // per curve when drawn (SVG lines of thousands of points stall a tab)
  const LAYERS = ["real", "fake", "d", "grad"];
  const C = GS.cmp = { runs: [], byRun: {}, focus: null, lastCharts: 0 };
  GS.compare = {};

  function $(id) { return document.getElementById(id); }

  /** Called by the compare page (clientside callback) whenever its runs change. */
  GS.setCompare = function (store) {
    const runs = (store && store.runs) || [];
    C.runs = runs.map(function (r, i) {
      return { id: r.run, label: r.label, kind: r.kind, color: COLORS[i % COLORS.length], index: i,
               rows: new GS.Series(), metrics: new GS.Series(), frame: null, drawn: 0,
               lastFrameAt: 0, lastAsked: 0, step: 0, state: "" };
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

  function drawView(c) {
    const div = $("cmp-view-" + c.index), f = c.frame;
    if (!div || !f) return;
    if (f.kind === "2d") GS.draw2d(div, f, LAYERS, c.id, true);
    else if (f.kind === "1d") GS.draw1d(div, f, c.id);
    else GS.drawProj(div, f, c.id);
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
      if (item.frame) {
        c.frame = item.frame;
        c.lastFrameAt = performance.now();
        addMetrics(c, item.frame);
        drawView(c);
        c.drawn += 1;
      }
      c.step = c.frame ? c.frame.step : e.step;
      head(c);
      drawCharts(false);
    } catch (err) {
      console.error("ganscope: compare drawing failed", err);  // the next frame tries again
    }
    return true;
  };

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
      legend: { orientation: "h", x: 0, y: -0.12, yanchor: "top", font: { size: 11 } },
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
    root.Plotly.react(div, data.filter(Boolean), lay, { displayModeBar: false, responsive: true });
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
