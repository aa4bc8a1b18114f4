/* ganscope "draw a target": click to place a point, drag to lay a line of points, on a canvas in
 * data coordinates (x and y in [-EXTENT, EXTENT]). Undo removes the last click or stroke. The
 * draw page reads the points with GS.drawnPoints() when "train on these points" is clicked. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const EXTENT = 2.5;  // keep in step with app/pages/draw.py EXTENT
  const SPACING = 0.12;  // data units between points laid by a drag
  const MAX_POINTS = 500;
  const KEY = "ganscope-drawn-points";
  const state = { points: [], strokes: [], canvas: null, down: false, lastTrainCount: -1 };

  function load() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
      if (saved && Array.isArray(saved.points) && Array.isArray(saved.strokes)) {
        state.points = saved.points; state.strokes = saved.strokes;
      }
    } catch (e) { /* a damaged saved drawing is dropped */ }
  }
  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify({ points: state.points, strokes: state.strokes })); }
    catch (e) { /* private mode: the drawing is not kept across reloads */ }
  }

  function toData(c, ev) {
    const r = c.getBoundingClientRect();
    const x = (ev.clientX - r.left) / r.width, y = (ev.clientY - r.top) / r.height;
    return [+(EXTENT * (2 * x - 1)).toFixed(3), +(EXTENT * (1 - 2 * y)).toFixed(3)];
  }
  function toPixel(c, p) {
    return [(p[0] / EXTENT + 1) / 2 * c.width, (1 - p[1] / EXTENT) / 2 * c.height];
  }

  function render() {
    const c = state.canvas;
    if (!c) return;
    const g = c.getContext("2d");
    g.clearRect(0, 0, c.width, c.height);
    g.lineWidth = 1;
    for (let v = -Math.floor(EXTENT); v <= EXTENT; v += 1) {  // unit grid, axes darker
      const a = toPixel(c, [v, -EXTENT]), b = toPixel(c, [v, EXTENT]);
      const h1 = toPixel(c, [-EXTENT, v]), h2 = toPixel(c, [EXTENT, v]);
      g.strokeStyle = v === 0 ? "#9aa3b2" : "#e4e8ee";
      g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]);
      g.moveTo(h1[0], h1[1]); g.lineTo(h2[0], h2[1]); g.stroke();
      g.fillStyle = "#8a93a3"; g.font = "12px sans-serif";
      if (v !== 0) { g.fillText(String(v), a[0] + 3, toPixel(c, [0, 0])[1] - 4); g.fillText(String(v), toPixel(c, [0, 0])[0] + 4, h1[1] - 3); }
    }
    g.fillStyle = GS.VOCAB.colors.real;  // drawn points are the real data
    state.points.forEach(function (p) {
      const q = toPixel(c, p);
      g.beginPath(); g.arc(q[0], q[1], 5, 0, 2 * Math.PI); g.fill();
    });
    const n = state.points.length, el = document.getElementById("draw-count");
    if (el) el.textContent = n + (n === 1 ? " point" : " points") + (n >= MAX_POINTS ? " (the most allowed)" : "");
  }

  // The page's notice speaks of the drawing as it was when "train" was clicked ("you have 3"):
  // once the drawing changes it is out of date, so it goes (the count above stays current).
  function dropStaleNotice() {
    const note = document.getElementById("draw-notice");
    if (!note || !note.textContent || state.points.length === state.lastTrainCount) return;
    if (root.dash_clientside && root.dash_clientside.set_props) {
      root.dash_clientside.set_props("draw-notice", { children: null });
    }
  }
  function changed() { render(); dropStaleNotice(); }

  function add(p) {
    if (state.points.length >= MAX_POINTS) return false;
    if (Math.abs(p[0]) > EXTENT || Math.abs(p[1]) > EXTENT) return false;
    state.points.push(p);
    state.strokes[state.strokes.length - 1] += 1;
    return true;
  }

  function attach(c) {
    state.canvas = c;
    c.addEventListener("pointerdown", function (ev) {
      ev.preventDefault();
      state.down = true;
      state.strokes.push(0);
      add(toData(c, ev));
      if (c.setPointerCapture) try { c.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic */ }
      changed();
    });
    c.addEventListener("pointermove", function (ev) {
      if (!state.down) return;
      const p = toData(c, ev), last = state.points[state.points.length - 1];
      if (!last || Math.hypot(p[0] - last[0], p[1] - last[1]) >= SPACING) { add(p); changed(); }
    });
    const end = function () {
      if (!state.down) return;
      state.down = false;
      if (state.strokes[state.strokes.length - 1] === 0) state.strokes.pop();
      save();
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointerleave", end);
    render();
  }

  // draw.py reads the points when "train" is clicked: the notice it answers is about this many.
  GS.drawnPoints = function () { state.lastTrainCount = state.points.length;
                                 return state.points.slice(); };
  GS.undoDrawn = function () {
    const n = state.strokes.pop() || 0;
    state.points.splice(state.points.length - n, n);
    save(); changed();
  };
  GS.clearDrawn = function () { state.points = []; state.strokes = []; save(); changed(); };

  document.addEventListener("click", function (ev) {
    const t = ev.target && ev.target.closest ? ev.target : null;
    if (!t) return;
    if (t.closest("#draw-undo")) GS.undoDrawn();
    else if (t.closest("#draw-clear")) GS.clearDrawn();
  });

  // Dash renders the page after the scripts run: attach when the canvas appears.
  function scan() {
    const c = document.getElementById("draw-canvas");
    if (c && c !== state.canvas) { attach(c); obs.disconnect(); }
  }
  load();
  const obs = new MutationObserver(scan);
  function start() {
    if (!/^\/draw\/?$/.test(location.pathname)) return;  // only the draw page has a canvas
    obs.observe(document.body, { childList: true, subtree: true });
    scan();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})(window);
