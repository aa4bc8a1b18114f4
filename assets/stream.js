/* ganscope frame stream: one WebSocket per tab, client-pull flow control, reconnect by itself.
 * Protocol and envelope: app/stream.py. The tab sends "next" when it starts drawing, so at most
 * one envelope waits while a frame is drawn and a slow tab sees fewer frames, never older ones. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const S = GS.stream = {
    ws: null, runs: [], open: false, retries: 0, frames: 0, fps: 0, fpsAt: 0, fpsCount: 0,
    last: {}, handlers: [], bytes: 0, messages: 0,
  };

  function $(id) { return document.getElementById(id); }

  function banner(text, level) {
    const el = $("banner");
    if (!el) return;
    el.textContent = text || "";
    el.className = "banner" + (text ? " show " + (level || "info") : "");
  }
  GS.banner = banner;

  function sendWatch() {
    if (S.open) S.ws.send(JSON.stringify({ op: "watch", runs: S.runs }));
  }

  /** Watch these runs (replaces the list). */
  GS.watch = function (runs) {
    S.runs = runs.slice();
    sendWatch();
    if (!S.ws) connect();
  };

  /** Called by the play page (clientside callback) whenever its run store changes. */
  GS.setRun = function (run) {
    if (!run || !run.run) {
      if (run && run.error) banner(run.error, "error");
      return "";
    }
    if (GS.view && GS.view.run !== run.run) GS.resetView(run);
    else if (GS.view && GS.view.config && GS.view.config !== run.config && GS.view.frame) {
      GS.addEvent(GS.view.frame.step, "edit", "live change applied");
      GS.view.config = run.config;
    }
    document.body.dataset.kind = run.kind;
    document.body.dataset.owner = run.owner ? "yes" : "no";
    const query = (run.owner ? run.url : "?run=" + encodeURIComponent(run.run)) +
      (GS.stickyQuery ? GS.stickyQuery() : "");  // presenter mode and lesson (classroom.js)
    if (root.history && location.search !== query) history.replaceState(null, "", location.pathname + query);
    GS.watch([run.run]);
    return "";
  };

  /** Ask for the next envelope. A page that schedules its runs (the compare page's focus) sets
   * GS.framePlan(): the runs whose new frames it wants now; null means every run. */
  function askNext(ws) {
    const plan = GS.framePlan ? GS.framePlan() : null;
    ws.send(plan ? JSON.stringify({ op: "next", frames: plan }) : "next");
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = S.ws = new WebSocket(proto + "//" + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      S.open = true;
      if (S.retries > 0) banner("");
      S.retries = 0;
      sendWatch();
      askNext(ws);
    };
    ws.onmessage = function (ev) {
      if (ws !== S.ws) return;
      S.lastMessage = performance.now();
      S.messages += 1;
      S.bytes += ev.data.byteLength;
      if (S.capture && S.capture.length < S.captureMax) S.capture.push(ev.data);
      let items;
      try {
        items = GS.decodeEnvelope(ev.data);
      } catch (e) {
        console.warn("ganscope: undecodable stream message", e);
        askNext(ws);
        return;
      }
      askNext(ws);  // ask for the next one as this one starts drawing
      items.forEach(handle);
    };
    ws.onclose = function () {
      if (ws !== S.ws) return;
      S.open = false;
      S.retries += 1;
      banner("Connection to the server lost: reconnecting…", "warn");
      setTimeout(connect, Math.min(3000, 250 * Math.pow(2, Math.min(S.retries, 4))));
    };
    ws.onerror = function () { /* onclose follows and reconnects */ };
  }

  function countFps() {
    const now = performance.now();
    S.fpsCount += 1;
    if (!S.fpsAt) S.fpsAt = now;
    if (now - S.fpsAt >= 1000) {
      S.fps = S.fpsCount * 1000 / (now - S.fpsAt);
      S.fpsAt = now; S.fpsCount = 0;
    }
  }

  function handle(item) {
    const e = item.entry;
    S.last[e.run] = e;
    S.handlers.forEach(function (h) { h(item); });
    if (GS.onCompare && GS.onCompare(item)) return;  // a run of the compare page (compare.js)
    if (GS.view === undefined || e.run !== GS.view.run) return;
    status(e, item.frame);
    try {
      if (item.rows) GS.addRows(item.rows, e.columns);
      // the metrics of the frames before this tab's first one (a page opened late, or on an
      // ended run): the metric charts start at the run's start, not at the page's
      if (e.history) GS.addMetricHistory(e.history);
      // A run that is not running (paused, ended) sends no next frame to draw the rest: its
      // frame draws every panel and chart at once (an ended run's page drew one n-D panel of
      // four, the rest stayed blank).
      const still = e.state !== "running";
      if (item.frame) {
        countFps();
        GS.addFrameScalars(item.frame);
        GS.drawFrame(item.frame, still);
      }
      GS.drawCharts(!item.frame || still);
    } catch (err) {
      console.error("ganscope: drawing failed", err);  // the next frame tries again
    }
  }

  function fmt(n) { return Math.round(n).toLocaleString(); }

  /** A state's words (gancore/vocabulary.py): its label, whether it has ended, whether the run
   * said why (its message then stands for the state). A state it does not know: its name. */
  function words(state) {
    return GS.VOCAB.states[state] || { label: state, ended: false, says_why: false };
  }

  function status(e, f) {
    const state = e.state, st = words(state);
    document.body.dataset.state = state;
    const el = $("status");
    if (el) {
      el.dataset.run = e.run;  // which run the figures are of (tests wait on it after a restart)
      const step = f ? Math.max(f.step, e.step) : e.step;
      const stateText = st.says_why ? (e.message || state) : st.label;
      // Built once, then only its texts change: this runs for every frame.
      if (!el._gsStats || !el._gsStats[0].isConnected) {
        el.innerHTML = "";
        el._gsStats = ["step", "steps/s", "frames/s"].map(function (name) {
          const s = document.createElement("span"), b = document.createElement("b");
          s.className = "stat"; s.setAttribute("data-stat", name);
          s.appendChild(b); s.appendChild(document.createTextNode(" " + name));
          el.appendChild(s);
          return b;
        });
        el._gsState = el.appendChild(document.createElement("span"));
      }
      [fmt(step), fmt(e.steps_per_s), S.fps.toFixed(0)].forEach(function (text, i) {
        if (el._gsStats[i].textContent !== text) el._gsStats[i].textContent = text;
      });
      const cls = "stat state state-" + state;
      if (el._gsState.className !== cls) el._gsState.className = cls;
      if (el._gsState.textContent !== stateText) el._gsState.textContent = stateText;
    }
    if (!S.open) return;
    if (state === "diverged") {
      banner("Run diverged: " + (e.message || "") + ". Its recording is kept; reset or change a " +
             "setting to try again.", "error");
    } else if (state === "failed") {
      banner("Run failed: " + (e.message || "the worker stopped") + ". Its recording is kept up " +
             "to its last frame; reset to start again.", "error");
    } else if (state === "lost") {
      banner("Run " + (e.message || "lost: its worker stopped") + ". Its recording is kept up " +
             "to its last frame.", "error");
    } else if (state === "reconnecting") {
      banner("The class's run store is restarting: reconnecting… Training carries on.", "warn");
    } else if (state === "queued") {
      banner("The server is full: this run waits for a free slot, " + (e.message || "in line") +
             ". It starts by itself; keep this page open.", "warn");
    } else if (st.ended && !st.says_why) {  // stopped by its owner or the server, or lost
      banner("This run has stopped: " + (e.message || "") + ".", "warn");
    } else {
      const b = $("banner");
      if (b && b.className.indexOf("show") >= 0) banner("");
    }
  }

  // Space bar plays and pauses, unless the user is typing in a field.
  document.addEventListener("keydown", function (ev) {
    if (ev.code !== "Space" && ev.key !== " ") return;
    const t = ev.target, tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
    const btn = $("play");
    if (!btn) return;
    ev.preventDefault();
    btn.click();
  });

  // Watchdog: the server answers every "next" within about a second (status only when nothing
  // is new). Silence means a lost request or a stuck connection: ask again, then reconnect.
  setInterval(function () {
    if (!S.open || !S.ws || !S.lastMessage) return;
    const quiet = performance.now() - S.lastMessage;
    if (quiet > 12000) S.ws.close();
    else if (quiet > 5000) S.ws.send("next");
  }, 2000);

  // Leaving the page (or entering the back/forward cache) closes the socket at once, so the
  // server knows nobody watches; coming back from the cache connects again.
  root.addEventListener("pagehide", function () {
    const ws = S.ws;
    S.ws = null; S.open = false;
    if (ws) { ws.onclose = null; ws.close(); }
  });
  root.addEventListener("pageshow", function (ev) { if (ev.persisted && !S.ws) connect(); });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", connect);
  else connect();
})(window);
