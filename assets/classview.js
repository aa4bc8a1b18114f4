/* ganscope class view (/class): polls /api/class (app/class_summary.py, which documents the
 * picture format) twice a second and draws every student's live run as a card: a small canvas
 * of its newest frame, its preset, state, step and newest detector event. A card is a link to
 * the run's play page in presenter mode (the teacher watches as a spectator).
 *
 * Dash loads every asset on every page: this script only acts while #class-grid is on the page.
 * The grid's column count is chosen so that every card fits on one screen when it can (a
 * projector has no scroll wheel in reach), at most MAX_CARD_PX wide. */
(function () {
  "use strict";
  const POLL_MS = 500;
  const MAX_CARD_PX = 520;
  const MIN_CARD_PX = 150;
  const TEXT_PX = 96; // the three text lines under a card's canvas
  const CANVAS_RATIO = 0.75;
  const GAP_PX = 14;
  const FAKE_MIN_PX = 4; // a generated sample's smallest dot radius on a card
  const VOCAB = window.GS.VOCAB; // assets/0_vocabulary.js, loaded first (its name sorts first)
  const COLORS = VOCAB.colors;
  const STATES = VOCAB.states;

  let busy = false;
  let shown = null; // the grid element the cards below belong to
  let cards = {}; // run id -> {el, canvas, title, preset, state, event}

  function grid() { return document.getElementById("class-grid"); }

  function bytes(b64) {
    if (!b64) return new Uint8Array(0);
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }

  function hex(c) { return [1, 3, 5].map(function (i) { return parseInt(c.slice(i, i + 2), 16); }); }
  const STOPS = VOCAB.d_scale.map(function (s) { return [s[0], hex(s[1])]; });
  function dColor(v) { // v in 0..1 -> [r, g, b] of the D surface, as the play page draws it
    for (let i = 1; i < STOPS.length; i++) {
      if (v <= STOPS[i][0] || i === STOPS.length - 1) {
        const a = STOPS[i - 1], b = STOPS[i];
        const t = Math.max(0, Math.min(1, (v - a[0]) / ((b[0] - a[0]) || 1)));
        return a[1].map(function (x, k) { return Math.round(x + (b[1][k] - x) * t); });
      }
    }
    return STOPS[STOPS.length - 1][1];
  }
  const surface = document.createElement("canvas"); // D's cells before they are scaled up

  function fitCanvas(canvas) {
    const w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return {ctx: ctx, w: w, h: h};
  }

  // The plane keeps its shape (a ring stays round): the view's bounds are fitted into the canvas
  // and centred, the rest left plain.
  function drawPoints(ctx, cw, ch, pic) {
    ctx.clearRect(0, 0, cw, ch); // the card's own background shows around the plane
    const b = pic.bounds || [[0, 1], [0, 1]];
    const dx = (b[0][1] - b[0][0]) || 1, dy = (b[1][1] - b[1][0]) || 1;
    const scale = Math.min(cw / dx, ch / dy);
    const w = dx * scale, h = dy * scale;
    ctx.save();
    ctx.translate((cw - w) / 2, (ch - h) / 2);
    ctx.beginPath();
    ctx.rect(0, 0, w, h);
    ctx.clip();
    plane(ctx, w, h, pic);
    ctx.restore();
  }

  function plane(ctx, w, h, pic) {
    const d = bytes(pic.d);
    const n = Math.round(Math.sqrt(d.length));
    if (n > 0) { // rows bottom to top: flipped into an n x n image, then scaled up smoothly
      const img = surface.getContext("2d").createImageData(n, n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const c = dColor(d[i * n + j] / 255), at = ((n - 1 - i) * n + j) * 4;
          img.data[at] = c[0]; img.data[at + 1] = c[1]; img.data[at + 2] = c[2];
          img.data[at + 3] = 255;
        }
      }
      surface.width = surface.height = n;
      surface.getContext("2d").putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(surface, 0, 0, n, n, 0, 0, w, h);
    } else {
      ctx.fillStyle = "white";
      ctx.fillRect(0, 0, w, h);
    }
    // A collapsed generator puts every sample on one spot (often on the edge it swayed off
    // by): its dot must still read from the back of a room, so fakes are drawn larger than
    // the data and kept whole inside the plane.
    const realR = Math.max(1.6, w / 140), fakeR = Math.max(FAKE_MIN_PX, w / 110);
    function dots(codes, r, fill, stroke) {
      ctx.fillStyle = fill;
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1;
      for (let k = 0; k + 1 < codes.length; k += 2) {
        const x = Math.min(w - r, Math.max(r, codes[k] / 255 * w));
        const y = Math.min(h - r, Math.max(r, h - codes[k + 1] / 255 * h));
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fill();
        if (stroke) ctx.stroke();
      }
    }
    ctx.globalAlpha = 0.55;
    dots(bytes(pic.real), realR, COLORS.real, null);
    ctx.globalAlpha = 0.9;
    // Fakes get a dark rim: pink on D's pink "fake" background is otherwise hard to see.
    dots(bytes(pic.fake), fakeR, COLORS.fake, COLORS.ink);
    ctx.globalAlpha = 1;
  }

  function drawCurves(ctx, w, h, pic) {
    ctx.fillStyle = "white";
    ctx.fillRect(0, 0, w, h);
    const top = 8, base = h - 4, span = base - top;
    function path(codes) {
      ctx.beginPath();
      ctx.moveTo(0, base);
      for (let i = 0; i < codes.length; i++) {
        ctx.lineTo(i / Math.max(1, codes.length - 1) * w, base - codes[i] / 255 * span);
      }
      ctx.lineTo(w, base);
    }
    ctx.globalAlpha = 0.35;
    ctx.fillStyle = COLORS.real;
    path(bytes(pic.real)); ctx.fill();
    ctx.globalAlpha = 0.6;
    ctx.fillStyle = COLORS.fake;
    path(bytes(pic.fake)); ctx.fill();
    ctx.globalAlpha = 1;
    const d = bytes(pic.d);
    if (d.length) {
      ctx.strokeStyle = COLORS.ink;
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let i = 0; i < d.length; i++) {
        const x = i / Math.max(1, d.length - 1) * w, y = base - d[i] / 255 * span;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
  }

  function draw(card, pic) {
    const f = fitCanvas(card.canvas);
    if (!f.w || !f.h) return;
    f.ctx.clearRect(0, 0, f.w, f.h);
    if (!pic) {
      return; // the canvas's CSS background until the first frame
    }
    if (pic.kind === "curves") drawCurves(f.ctx, f.w, f.h, pic);
    else drawPoints(f.ctx, f.w, f.h, pic);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function makeCard(run) {
    const a = el("a", "class-card");
    a.href = "/?run=" + encodeURIComponent(run.run) + "&present=1";
    a.dataset.run = run.run;
    a.title = "Show this run large, in presenter mode";
    // The preset is what a teacher reads first: it gets a line of its own; the student's tag
    // sits on the picture's corner.
    const pictureBox = el("div", "class-picture");
    const canvas = el("canvas", "class-thumb");
    const who = el("span", "class-student");
    pictureBox.append(canvas, who);
    const preset = el("div", "class-preset");
    const line = el("div", "class-line");
    const state = el("span", "class-state");
    const step = el("span", "class-step");
    line.append(state, step);
    const event = el("div", "class-event");
    a.append(pictureBox, preset, line, event);
    return {el: a, canvas: canvas, who: who, preset: preset, state: state, step: step,
            event: event};
  }

  function fmt(n) { return Number(n || 0).toLocaleString("en-US"); }

  function fill(card, run) {
    card.who.textContent = "student " + run.student;
    card.preset.textContent = run.preset;
    card.preset.title = run.preset;
    card.el.classList.toggle("custom", run.preset === "custom");
    const label = (STATES[run.state] && STATES[run.state].label) || run.state;
    card.state.textContent = label;
    card.state.className = "class-state state-" + run.state;
    card.state.title = run.message || "";
    card.step.textContent = "step " + fmt(run.step);
    if (run.event) {
      card.event.textContent = run.event.label + " at step " + fmt(run.event.step);
      card.event.title = run.event.message;
      card.event.classList.add("has-event");
    } else {
      card.event.textContent = "no event yet";
      card.event.title = "";
      card.event.classList.remove("has-event");
    }
  }

  function textHeight(g) { // a card's height less its canvas: the text lines and padding
    const card = g.querySelector(".class-card"), canvas = card && card.querySelector("canvas");
    return card && canvas && canvas.offsetHeight ? card.offsetHeight - canvas.offsetHeight
      : TEXT_PX;
  }

  // As a video call lays out its faces: the column count that gives the largest card with
  // every card on the screen (fewer columns on a tie); below MIN_CARD_PX the page scrolls.
  function layoutGrid(g, n) {
    const style = getComputedStyle(g);
    const w = g.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const h = window.innerHeight - g.getBoundingClientRect().top -
      parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const text = textHeight(g);
    let best = {cols: 1, w: 0};
    for (let cols = 1; cols <= Math.max(1, n); cols++) {
      const rows = Math.ceil(n / cols);
      const byWidth = (w - GAP_PX * (cols - 1)) / cols;
      const byHeight = ((h - GAP_PX * (rows - 1)) / rows - text) / CANVAS_RATIO;
      const cardW = Math.min(MAX_CARD_PX, byWidth, byHeight);
      if (cardW > best.w + 0.5) best = {cols: cols, w: cardW};
    }
    if (best.w < MIN_CARD_PX) {
      best = {cols: Math.max(1, Math.floor((w + GAP_PX) / (MIN_CARD_PX + GAP_PX))),
              w: MIN_CARD_PX};
    }
    const want = "repeat(" + best.cols + ", " + Math.floor(best.w) + "px)";
    if (g.style.gridTemplateColumns !== want) g.style.gridTemplateColumns = want;
  }

  function render(answer) {
    const g = grid();
    if (!g) return;
    if (shown !== g) { shown = g; cards = {}; g.textContent = ""; }
    const runs = answer.runs || [];
    const keep = {};
    const students = new Set(runs.map(function (r) { return r.student; }));
    const count = document.getElementById("class-count");
    if (count) {
      count.textContent = students.size + (students.size === 1 ? " student, " : " students, ") +
        runs.length + (runs.length === 1 ? " run" : " runs") +
        (answer.more ? " (" + answer.more + " more not shown)" : "");
    }
    if (!runs.length) {
      cards = {};
      g.textContent = "";
      g.append(el("div", "class-empty", "No student has a run yet. Cards appear here as " +
        "students open ganscope."));
      g.style.gridTemplateColumns = "";
      return;
    }
    const empty = g.querySelector(".class-empty");
    if (empty) empty.remove();
    layoutGrid(g, runs.length);
    runs.forEach(function (run, i) {
      let card = cards[run.run];
      if (!card) card = cards[run.run] = makeCard(run);
      keep[run.run] = true;
      if (g.children[i] !== card.el) g.insertBefore(card.el, g.children[i] || null);
      fill(card, run);
      draw(card, run.picture);
    });
    Object.keys(cards).forEach(function (id) {
      if (!keep[id]) { cards[id].el.remove(); delete cards[id]; }
    });
  }

  function refuse(text) {
    const g = grid();
    if (!g) return;
    cards = {};
    g.textContent = "";
    g.append(el("div", "class-refused", text));
  }

  function poll() {
    if (busy || !grid() || document.hidden) return;
    busy = true;
    fetch("/api/class", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) {
        if (!r.ok) return r.text().then(function (t) { refuse(t.trim()); });
        return r.json().then(render);
      })
      .catch(function () { /* the server restarting: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  // One picture on any canvas: what a card draws, for a check with a picture of its own.
  window.GS.drawClassPicture = function (canvas, pic) { draw({canvas: canvas}, pic); };

  setInterval(poll, POLL_MS);
})();
