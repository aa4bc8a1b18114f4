/* ganscope classroom: presenter mode, its keyboard shortcuts, and the readable event feed.
 * Presenter mode is a class on <body> (the CSS hides the panel and secondary controls and
 * enlarges type and plots); the URL keeps `present=1` so a reload stays in it. The event feed
 * lists the detectors' events of the page's run as sentences, newest first, as they arrive. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const FEED_MAX = 4;

  function $(id) { return document.getElementById(id); }
  // The feed's chip for an event kind (gancore/vocabulary.py EVENTS): short, for a room.
  function chipLabel(kind) {
    const words = GS.VOCAB.events[kind];
    return words ? words.label : kind.replace(/_/g, " ");
  }
  function params() { return new URLSearchParams(location.search); }
  function presenting() { return document.body.classList.contains("present"); }

  // ---- presenter mode ------------------------------------------------------------------------
  function setPresent(on) {
    document.body.classList.toggle("present", on);
    const q = params();
    if (on) q.set("present", "1"); else q.delete("present");
    const s = q.toString();
    history.replaceState(null, "", location.pathname + (s ? "?" + s : ""));
    if (!on && document.fullscreenElement && document.exitFullscreen) document.exitFullscreen();
    // Plotly's responsive plots follow window resizes; the layout changed under them.
    setTimeout(function () { root.dispatchEvent(new Event("resize")); }, 30);
    if (GS.view && GS.view.frame && GS.drawFrame) {
      setTimeout(function () { GS.drawFrame(GS.view.frame, true); GS.drawCharts(true); }, 60);
    }
  }
  GS.setPresent = setPresent;

  /** Query parameters that survive the play page rewriting its URL to its run (stream.js). */
  GS.stickyQuery = function () {
    const q = params(), keep = new URLSearchParams();
    ["lesson", "present"].forEach(function (k) { if (q.get(k)) keep.set(k, q.get(k)); });
    const s = keep.toString();
    return s ? "&" + s : "";
  };

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      if (document.exitFullscreen) document.exitFullscreen();
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(function () { /* refused: stay */ });
    }
  }

  function click(id) {
    const el = $(id);
    if (el) el.click();
    return !!el;
  }

  // Presenter shortcuts (space play/pause lives in stream.js and works everywhere).
  const KEYS = {
    ArrowRight: function () { return click("step-both"); },
    r: function () { return click("reset"); },
    f: function () { toggleFullscreen(); return true; },
    Escape: function () { setPresent(false); return true; },
  };

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target, tag = t && t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (t && t.isContentEditable)) return;
    if (!$("play")) return;  // only the play page has a run to drive
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (key === "p") { setPresent(!presenting()); ev.preventDefault(); return; }
    if (!presenting() || !KEYS[key]) return;
    if (KEYS[key]()) ev.preventDefault();
  });

  document.addEventListener("click", function (ev) {
    const btn = ev.target && ev.target.closest && ev.target.closest("#present-toggle");
    if (btn) setPresent(!presenting());
  });

  // ---- the event feed --------------------------------------------------------------------------
  const feed = { run: null, keys: {}, events: [] };

  function renderFeed() {
    const el = $("event-feed");
    if (!el) return;
    el.innerHTML = "";
    const shown = feed.events.slice(-FEED_MAX).reverse();
    shown.forEach(function (e, i) {
      const row = document.createElement("div");
      row.className = "event kind-" + e.kind + (i === 0 && e.fresh ? " fresh" : "");
      const chip = document.createElement("span");
      chip.className = "event-kind";
      chip.textContent = chipLabel(e.kind);
      const text = document.createElement("span");
      text.className = "event-text";
      text.textContent = e.message;
      row.appendChild(chip);
      row.appendChild(text);
      el.appendChild(row);
      e.fresh = false;
    });
    el.dataset.count = String(feed.events.length);
  }

  function onItem(item) {
    const run = item.entry && item.entry.run;
    if (!run || !GS.view || run !== GS.view.run || !item.frame) return;
    if (feed.run !== run) { feed.run = run; feed.keys = {}; feed.events = []; renderFeed(); }
    let added = false;
    (item.frame.meta.events || []).forEach(function (e) {
      if (e.kind === "edit") return;
      const key = e.step + "|" + e.kind + "|" + e.message;
      if (feed.keys[key]) return;
      feed.keys[key] = true;
      feed.events.push({ step: e.step, kind: e.kind, message: e.message, fresh: true });
      added = true;
    });
    if (added) {
      feed.events.sort(function (a, b) { return a.step - b.step; });
      renderFeed();
    }
  }

  function install() {
    if (GS.stream && GS.stream.handlers.indexOf(onItem) < 0) GS.stream.handlers.push(onItem);
    if (params().get("present") === "1" && $("play")) setPresent(true);
  }

  // Dash renders the page after the scripts run: enter presenter mode once the play button is in.
  function whenReady() {
    install();
    if (params().get("present") === "1" && !presenting()) {
      const obs = new MutationObserver(function () {
        if ($("play")) { obs.disconnect(); setPresent(true); }
      });
      obs.observe(document.body, { childList: true, subtree: true });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", whenReady);
  else whenReady();
})(window);
