/* ganscope replay: recorded frames drawn with the live view's decoder (frame.js), views
 * (draw_1d/2d/nd.js) and charts (draw_charts.js). Each recording's index and frames come over
 * HTTP (app/recordings.py says why not the socket); one scrubber runs over the union of the
 * recordings' frame steps, so two recordings side by side stay aligned by training step, each
 * showing its last frame at or before the scrubber's step. Inert on every page without
 * #replay-controls. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const SPEEDS = [0.5, 1, 2, 4, 8, 16];  // recorded frames per second
  const DEFAULT_SPEED = 2;
  const FOLLOW_MS = 2000;  // how often a recording that is still being written is re-read
  const CACHE_FRAMES = 120;  // decoded-on-demand ArrayBuffers kept for scrubbing back and forth
  const CHART_MS = 200;
  const LOSSES = ["d_loss", "g_loss"];
  const LOSS_COLORS = [GS.VOCAB.colors.fake, GS.VOCAB.colors.g];  // as on the play page

  const R = GS.replay = { recs: [], steps: [], i: 0, playing: false, speed: DEFAULT_SPEED,
                          timer: null, cache: new Map(), lastCharts: 0, chartTimer: null,
                          drawn: 0, log: [] };  // log: the frame steps drawn, in order

  function $(id) { return document.getElementById(id); }
  function fmt(n) { return Math.round(n).toLocaleString("en-US"); }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  /** Index of the last value <= x in a sorted array, or -1. */
  function atOrBefore(arr, x) {
    let lo = 0, hi = arr.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (arr[mid] <= x) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans;
  }

  function notice(text) {
    const box = $("replay-notice");
    if (!box) return;
    const d = el("div", { class: "notice error" }, text);
    box.appendChild(d);
  }

  // ---- frames over HTTP, cached ----------------------------------------------------------------
  function url(name, what) { return "/api/replay/" + encodeURIComponent(name) + "/" + what; }

  function getFrame(name, step) {
    const key = name + "|" + step;
    if (R.cache.has(key)) {
      const p = R.cache.get(key);
      R.cache.delete(key); R.cache.set(key, p);  // most recently used last
      return p;
    }
    const p = fetch(url(name, "frame?step=" + step)).then(function (res) {
      if (!res.ok) return res.text().then(function (t) { throw new Error(t || res.statusText); });
      return res.arrayBuffer();
    });
    p.catch(function () { R.cache.delete(key); });
    R.cache.set(key, p);
    while (R.cache.size > CACHE_FRAMES) R.cache.delete(R.cache.keys().next().value);
    return p;
  }

  // ---- drawing ---------------------------------------------------------------------------------
  function drawPanel(rec, f) {
    const i = rec.panel, rid = "replay:" + rec.name, frameDiv = $("replay-frame-" + i);
    if (f.kind === "2d") GS.draw2d(frameDiv, f, null, rid);
    else if (f.kind === "1d") GS.draw1d(frameDiv, f, rid);
    else {
      GS.drawProj(frameDiv, f, rid);
      GS.drawMarginals($("replay-marg-" + i), f, rid);
      GS.drawCorr($("replay-corr-" + i), f, rid);
      GS.drawKs($("replay-ks-" + i), f, rid);
      GS.drawNorm($("replay-norm-" + i), f, rid);
    }
    rec.frame = f;
    rec.drawnStep = f.step;
    const panel = $("replay-panel-" + i);
    if (panel) { panel.dataset.step = String(f.step); panel.dataset.kind = f.kind; }
    R.drawn += 1;
    R.log.push(f.step);
    if (R.log.length > 500) R.log.splice(0, 250);
  }

  function load(rec) {
    const step = rec.want;
    rec.loading = true;
    getFrame(rec.name, step).then(function (buf) {
      if (!R.recs.includes(rec)) return;  // the page moved on
      drawPanel(rec, GS.decodeFrame(buf));
    }).catch(function (err) {
      rec.failed = step;
      notice(rec.name + ": the frame at step " + fmt(step) + " cannot be shown: " + err.message);
    }).then(function () {
      rec.loading = false;
      if (rec.want !== rec.drawnStep && rec.want !== rec.failed) load(rec);
    });
  }

  function want(rec, step) {
    const k = atOrBefore(rec.frameSteps, step);
    const panel = $("replay-panel-" + rec.panel);
    if (k < 0) {  // this recording has no frame yet at this step
      if (panel) panel.dataset.empty = "1";
      return;
    }
    if (panel) delete panel.dataset.empty;
    rec.want = rec.frameSteps[k];
    if (rec.want === rec.drawnStep || rec.loading) return;
    load(rec);
  }

  function series(holder, x, ys) {
    holder.x = x; holder.y = ys;  // GS.chart bumps holder.rev, the datarevision
    return holder;
  }

  function drawCharts(step) {
    R.recs.forEach(function (rec) {
      const ix = rec.index, rid = "replay:" + rec.name, last = R.steps[R.steps.length - 1] || 1;
      const xaxis = { range: [0, last], zeroline: false, tickfont: { size: 12 } };
      const n = atOrBefore(ix.curves.step || [], step) + 1;
      const ys = {};
      LOSSES.forEach(function (k) { if (ix.curves[k]) ys[k] = ix.curves[k].slice(0, n); });
      GS.chart($("replay-loss-" + rec.panel), series(rec.loss, (ix.curves.step || []).slice(0, n), ys),
               LOSSES, LOSSES.map(GS.seriesLabel), LOSS_COLORS, "losses", rid, { xaxis: xaxis });
      const nf = atOrBefore(rec.frameSteps, step) + 1, my = {};
      const keys = GS.chartMetrics(Object.keys(ix.metrics));
      keys.forEach(function (k) { my[k] = ix.metrics[k].slice(0, nf); });
      const modes = ix.metrics.modes && nf ? ix.metrics.modes[nf - 1] : null;
      GS.metricsChart($("replay-metrics-" + rec.panel), series(rec.metrics, rec.frameSteps.slice(0, nf), my),
                      modes, ix.modes_total, rid, { xaxis: xaxis });
    });
    drawTimeline(step);
  }

  function scheduleCharts(force) {
    const now = performance.now();
    if (R.chartTimer) { clearTimeout(R.chartTimer); R.chartTimer = null; }
    if (force || now - R.lastCharts >= CHART_MS) {
      R.lastCharts = now;
      drawCharts(R.steps[R.i]);
    } else {  // a trailing draw, so the charts always end at the step shown
      R.chartTimer = setTimeout(function () { scheduleCharts(true); }, CHART_MS);
    }
  }

  function allEvents() {
    const out = [];
    R.recs.forEach(function (rec) {
      (rec.index.events || []).forEach(function (e) {
        out.push({ rec: rec, step: e.step, kind: e.kind, message: e.message });
      });
    });
    return out.sort(function (a, b) { return a.step - b.step; });
  }

  function drawTimeline(step) {
    const div = $("replay-timeline");
    if (!div || !root.Plotly) return;
    // nothing opened (an unknown name in the URL): the page's error says so; an empty timeline
    // with a step marker of no step would only puzzle
    div.style.display = R.recs.length ? "" : "none";
    if (!R.recs.length) return;
    const events = allEvents(), groups = {}, order = [];
    events.forEach(function (e) {
      const label = (R.recs.length > 1 ? (e.rec.panel + 1) + ": " : "") + e.kind.replace(/_/g, " ");
      if (!groups[label]) { groups[label] = []; order.push(label); }
      groups[label].push(e);
    });
    const data = order.map(function (label, j) {
      const es = groups[label];
      return { type: "scatter", mode: "markers", name: label, x: es.map(function (e) { return e.step; }),
               y: es.map(function () { return label; }),
               marker: { size: 14, symbol: GS.eventMarker(es[0].kind),
                         color: GS.PALETTE[j % GS.PALETTE.length] },
               text: es.map(function (e) { return "step " + fmt(e.step) + ": " + e.message; }),
               hovertemplate: "%{text}<br>click: jump here<extra></extra>" };
    });
    const last = R.steps[R.steps.length - 1] || 1;
    const layout = {
      font: { family: "Inter, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif", size: 13 },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "#ffffff", showlegend: false,
      hovermode: "closest", uirevision: "replay-timeline",
      title: { text: "timeline · " + (events.length ? events.length + " event" + (events.length > 1 ? "s" : "") +
               " (click one to jump to its step)" : "no detector events"), x: 0.01, xanchor: "left",
               font: { size: 15 } },
      margin: { l: 110, r: 16, t: 32, b: 28 },
      xaxis: { range: [-last * 0.01, last * 1.01], zeroline: false },
      yaxis: { type: "category", showgrid: true, visible: events.length > 0, automargin: true },
      shapes: [{ type: "line", xref: "x", yref: "paper", x0: step, x1: step, y0: 0, y1: 1,
                 line: { color: GS.VOCAB.colors.ink, width: 2, dash: "dot" } }],
    };
    root.Plotly.react(div, data, layout, { displayModeBar: false, responsive: true });
    if (!div._gsReplayClick && div.on) {
      div._gsReplayClick = true;
      div.on("plotly_click", function (ev) {
        if (ev && ev.points && ev.points.length) R.jump(ev.points[0].x);
      });
    }
  }

  function eventList() {
    const box = $("replay-events");
    if (!box) return;
    box.innerHTML = "";
    const events = allEvents();
    if (!events.length) { box.appendChild(el("div", { class: "muted" }, "No detector events in this recording.")); return; }
    events.forEach(function (e) {
      const b = el("button", { class: "replay-event", type: "button", "data-step": String(e.step),
                               "data-rec": e.rec.name },
                   (R.recs.length > 1 ? (e.rec.panel + 1) + " · " : "") + "step " + fmt(e.step) +
                   " · " + (e.message || e.kind));
      box.appendChild(b);
    });
  }

  // ---- the transport -------------------------------------------------------------------------
  function show(i, force) {
    if (!R.steps.length) return;
    R.i = Math.max(0, Math.min(R.steps.length - 1, i));
    const step = R.steps[R.i], last = R.steps[R.steps.length - 1];
    const s = $("replay-scrub");
    if (s && Number(s.value) !== R.i) s.value = String(R.i);
    const label = $("replay-step");
    if (label) { label.textContent = "step " + fmt(step) + " / " + fmt(last); label.dataset.step = String(step); }
    R.recs.forEach(function (rec) { want(rec, step); });
    scheduleCharts(force);
  }

  function setPlaying(on) {
    R.playing = on;
    const b = $("replay-play");
    if (b) {
      b.textContent = on ? "❚❚ pause" : "▶ play";
      b.dataset.playing = on ? "1" : "0";
    }
    if (R.timer) { clearTimeout(R.timer); R.timer = null; }
    if (on) tick();
    else scheduleCharts(true);
  }

  function tick() {
    if (!R.playing) return;
    const busy = R.recs.some(function (r) { return r.loading; });
    if (busy) { R.timer = setTimeout(tick, 25); return; }  // each frame is seen before the next
    if (R.i >= R.steps.length - 1) {
      if (following()) { R.timer = setTimeout(tick, 250); return; }  // wait for the run's next frame
      setPlaying(false); return;
    }
    show(R.i + 1);
    // Fetch the frame after this one while this one draws.
    const next = R.steps[Math.min(R.i + 1, R.steps.length - 1)];
    R.recs.forEach(function (rec) {
      const k = atOrBefore(rec.frameSteps, next);
      if (k >= 0) getFrame(rec.name, rec.frameSteps[k]).catch(function () {});
    });
    R.timer = setTimeout(tick, 1000 / R.speed);
  }

  /** Jump to a training step: the scrubber goes to the last frame step at or before it. */
  R.jump = function (step) {
    setPlaying(false);
    const k = Math.max(0, atOrBefore(R.steps, step));
    const info = $("replay-jump");
    if (info) {
      info.textContent = R.steps[k] === step ? "at step " + fmt(step)
        : "step " + fmt(step) + " → nearest recorded frame before it: step " + fmt(R.steps[k]);
    }
    show(k, true);
  };

  function buildControls(box) {
    box.innerHTML = "";
    const play = el("button", { id: "replay-play", class: "btn primary", type: "button" }, "▶ play");
    const speed = el("select", { id: "replay-speed", class: "replay-speed", title: "recorded frames per second" });
    SPEEDS.forEach(function (v) {
      const o = el("option", { value: String(v) }, v + " frames/s");
      if (v === R.speed) o.selected = true;
      speed.appendChild(o);
    });
    const prev = el("button", { id: "replay-prev", class: "btn", type: "button", title: "previous frame (←)" }, "◀");
    const next = el("button", { id: "replay-next", class: "btn", type: "button", title: "next frame (→)" }, "▶");
    const scrub = el("input", { id: "replay-scrub", type: "range", min: "0", max: String(Math.max(0, R.steps.length - 1)),
                                step: "1", value: "0", class: "replay-scrub", "aria-label": "replay position" });
    const label = el("span", { id: "replay-step", class: "replay-step" }, "");
    const jump = el("span", { id: "replay-jump", class: "replay-jump muted" }, "");
    const live = el("span", { id: "replay-follow", class: "replay-follow" }, "");
    [play, speed, prev, next, scrub, label, jump, live].forEach(function (e) { box.appendChild(e); });
    play.addEventListener("click", function () {
      if (!R.playing && R.i >= R.steps.length - 1) show(0, true);  // play again from the start
      setPlaying(!R.playing);
    });
    speed.addEventListener("change", function () { R.speed = Number(speed.value) || DEFAULT_SPEED; });
    prev.addEventListener("click", function () { setPlaying(false); show(R.i - 1, true); });
    next.addEventListener("click", function () { setPlaying(false); show(R.i + 1, true); });
    scrub.addEventListener("input", function () { setPlaying(false); show(Number(scrub.value)); });
    scrub.addEventListener("change", function () { show(Number(scrub.value), true); });
  }

  document.addEventListener("click", function (ev) {
    const b = ev.target && ev.target.closest && ev.target.closest(".replay-event");
    if (b) R.jump(Number(b.dataset.step));
  });
  document.addEventListener("keydown", function (ev) {
    if (!$("replay-controls") || !R.steps.length) return;
    const t = ev.target, tag = t && t.tagName;
    if (tag === "INPUT" && t.type !== "range") return;
    if (tag === "TEXTAREA" || tag === "SELECT") return;
    if (ev.code === "Space") { ev.preventDefault(); $("replay-play").click(); }
    else if (ev.key === "ArrowRight" && tag !== "INPUT") { setPlaying(false); show(R.i + 1, true); }
    else if (ev.key === "ArrowLeft" && tag !== "INPUT") { setPlaying(false); show(R.i - 1, true); }
  });

  // ---- following a recording its run still writes ----------------------------------------------
  function following() {
    return R.recs.some(function (rec) { return !!rec.index.live; });
  }

  function unionSteps() {
    const all = {};
    R.recs.forEach(function (r) { r.frameSteps.forEach(function (s) { all[s] = true; }); });
    return Object.keys(all).map(Number).sort(function (a, b) { return a - b; });
  }

  function followLabel() {
    const box = $("replay-follow");
    if (!box) return;
    const live = R.recs.filter(function (rec) { return rec.index.live; });
    box.textContent = live.length ? "● live: following " + (live.length > 1 ? live.length + " runs"
      : "its run (" + live[0].index.live.state + ")") + " as it records" : "";
  }

  /** Re-read the indexes of recordings that are still being written, every FOLLOW_MS; a viewer
   * at the newest frame moves on with the run, one who scrubbed back stays where they are. */
  function follow(gen) {
    if (R.followTimer) clearTimeout(R.followTimer);
    R.followTimer = null;
    if (!following()) { followLabel(); return; }
    R.followTimer = setTimeout(function () {
      const live = R.recs.filter(function (rec) { return rec.index.live; });
      Promise.all(live.map(function (rec) {
        return fetch(url(rec.name, "index")).then(function (res) { return res.ok ? res.json() : null; })
          .catch(function () { return null; });
      })).then(function (indexes) {
        if (gen !== R.gen) return;  // another recording was opened meanwhile
        const atEnd = R.i >= R.steps.length - 1, step = R.steps[R.i];
        indexes.forEach(function (ix, i) {
          if (!ix) return;
          live[i].index = ix; live[i].frameSteps = ix.frame_steps;
          const what = document.querySelector("#replay-panel-" + live[i].panel + " .replay-what");
          const rows = ix.curves.step || [], frames = ix.frame_steps;
          const last = Math.max(rows.length ? rows[rows.length - 1] : 0, frames.length ? frames[frames.length - 1] : 0);
          if (what) what.textContent = what.dataset.what + " · " + fmt(last) + " steps";
        });
        R.steps = unionSteps();
        const s = $("replay-scrub");
        if (s) s.max = String(Math.max(0, R.steps.length - 1));
        eventList();
        followLabel();
        if (atEnd && !R.playing) {
          const info = $("replay-jump");
          if (info) info.textContent = "";  // a jump's note is about a frame long gone by
          show(R.steps.length - 1, true);
        }
        else show(Math.max(0, atOrBefore(R.steps, step)));
        follow(gen);
      });
    }, FOLLOW_MS);
  }

  /** Called by the replay page (clientside callback) with {"recs": [name, ...]}. */
  R.open = function (spec) {
    setPlaying(false);
    R.gen = (R.gen || 0) + 1;
    const gen = R.gen;
    if (R.followTimer) { clearTimeout(R.followTimer); R.followTimer = null; }
    R.recs = []; R.steps = []; R.i = 0; R.ready = false;
    const box = $("replay-controls");
    if (!box || !spec || !spec.recs || !spec.recs.length) return "";
    const names = spec.recs;
    Promise.all(names.map(function (name) {
      return fetch(url(name, "index")).then(function (res) {
        if (!res.ok) return res.text().then(function (t) { throw new Error(t || res.statusText); });
        return res.json();
      }).catch(function (err) { notice(name + ": " + err.message); return null; });
    })).then(function (indexes) {
      const recs = [];
      indexes.forEach(function (ix, i) {
        if (!ix || !ix.frame_steps.length) {
          if (ix) notice(names[i] + ": the recording holds no frame.");
          return;
        }
        recs.push({ name: names[i], panel: i, index: ix, frameSteps: ix.frame_steps,
                    want: null, drawnStep: null, failed: null, loading: false, frame: null,
                    loss: {}, metrics: {} });
      });
      if (gen !== R.gen) return;
      R.recs = recs;
      R.steps = unionSteps();
      if (!recs.length) return;
      buildControls(box);
      eventList();
      followLabel();
      R.ready = true;
      show(0, true);
      follow(gen);
    });
    return "";
  };
})(window);
