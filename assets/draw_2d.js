/* ganscope 2-D view: the samples over D's surface (or D as a 3-D surface), with the latent grid
 * mapped by G, latent arrows z -> G(z) and G's gradient arrows on the sample layer. Takes a
 * decoded frame and a div; the machinery is draw.js (GS.plot). */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const P = GS.plot, C = GS.VOCAB.colors;
  const REAL = C.real, FAKE = C.fake, GRID = C.grid, ARROW = C.arrow, MAP = C.map;
  const linspace = P.linspace, gridRows = P.gridRows, baseLayout = P.baseLayout, title = P.title;
  const react = P.react, dots = P.dots, strokes = P.strokes, scaleSpec = P.scaleSpec;
  const scaleRoom = P.scaleRoom, dImage = P.dImage, D_SCALE = P.D_SCALE;

  function arrowPaths(ax, ay, bx, by, heads) {
    return function (moveTo, lineTo) {
      for (let i = 0; i < ax.length; i++) {
        moveTo(ax[i], ay[i]); lineTo(bx[i], by[i]);
        if (!heads) continue;
        const dx = bx[i] - ax[i], dy = by[i] - ay[i], L = Math.hypot(dx, dy) || 1, h = 0.3 * L;
        const ux = dx / L, uy = dy / L;
        moveTo(bx[i] - h * (ux * 0.87 - uy * 0.5), by[i] - h * (uy * 0.87 + ux * 0.5));
        lineTo(bx[i], by[i]);
        lineTo(bx[i] - h * (ux * 0.87 + uy * 0.5), by[i] - h * (uy * 0.87 - ux * 0.5));
      }
    };
  }

  function latentGrid(f) {  // the deformed latent grid: its rows and columns mapped by G
    const m = f.arrays.latent_mapped, shape = f.meta.latent_shape;
    if (!m || !shape || shape.length !== 2) return null;
    const g = shape[0];
    return strokes(function (moveTo, lineTo) {
      for (let i = 0; i < g; i++) {
        for (let j = 0; j < g; j++) (j ? lineTo : moveTo)(m[(i * g + j) * 2], m[(i * g + j) * 2 + 1]);
        for (let j = 0; j < g; j++) (j ? lineTo : moveTo)(m[(j * g + i) * 2], m[(j * g + i) * 2 + 1]);
      }
    }, GRID, 1, 0.75);
  }

  function latentArrows(f) {  // latent point z -> G(z), drawn in the data plane
    const m = f.arrays.latent_mapped, shape = f.meta.latent_shape, half = f.meta.latent_half;
    if (!m || !shape || shape.length !== 2) return null;
    const g = shape[0], ax = [], ay = [], bx = [], by = [], step = g > 12 ? 2 : 1;
    const ticks = linspace(-half, half, g);
    for (let i = 0; i < g; i += step) {
      for (let j = 0; j < g; j += step) {
        const k = i * g + j;  // meshgrid order: row i is the second latent coordinate
        ax.push(ticks[j]); ay.push(ticks[i]); bx.push(m[k * 2]); by.push(m[k * 2 + 1]);
      }
    }
    return strokes(arrowPaths(ax, ay, bx, by, false), MAP, 1, 1);
  }

  function gradArrows(f) {  // where G's gradient pushes fixed fake samples
    const v = f.arrays.grad_arrows, fake = f.arrays.fake;
    if (!v || !fake) return null;
    const n = f.shapes.grad_arrows[0], ax = [], ay = [], bx = [], by = [];
    for (let i = 0; i < n; i++) {
      ax.push(fake[2 * i]); ay.push(fake[2 * i + 1]);
      bx.push(fake[2 * i] + v[2 * i]); by.push(fake[2 * i + 1] + v[2 * i + 1]);
    }
    return strokes(arrowPaths(ax, ay, bx, by, true), ARROW, 1.4, 1);
  }

  function draw2d(div, f, layers, runId, compact) {
    const L = {};
    (layers || ["real", "fake", "d", "grad"]).forEach(function (k) { L[k] = true; });
    const b = f.meta.bounds, data = [], r = compact ? 1.5 : 2;
    const withD = L.d && !!f.arrays.d_grid;  // a VAE has no D
    const margin = compact ? { l: 30, r: 8, t: 28, b: 24 }
                           : { l: 44, r: withD ? scaleRoom() : 12, t: 36, b: 36 };
    div._gsDFrame = withD ? f : null;
    div._gsScale = withD && !compact ? scaleSpec(f) : null;  // drawn beside the plot (paintScale)
    const painters = [
      L.grid && latentGrid(f), L.map && latentArrows(f),
      L.real && dots(f.arrays.real, REAL, r, 0.55), L.fake && dots(f.arrays.fake, FAKE, r, 0.8),
      L.grad && gradArrows(f),
    ];
    const layout = baseLayout({
      uirevision: runId, margin: margin,
      title: title(compact ? (f.meta.run_id || "") + " · step " + f.step.toLocaleString()
                           : "samples and D"),  // the status line counts the steps: a title
                                               // that changes every frame costs a text layout
      xaxis: { range: b[0], zeroline: false, showgrid: false, constrain: "domain",
               ticklabeloverflow: "allow" },
      yaxis: { range: b[1], zeroline: false, showgrid: false, scaleanchor: "x", scaleratio: 1,
               ticklabeloverflow: "allow",
               constrain: "domain", constraintoward: "top" },  // the square sits under its title
    });
    layout.images = withD ? [dImage(f)] : [];
    return react(div, data, layout, true, f.meta.sent_at, painters);
  }

  function drawSurface(div, f, runId) {
    const g = f.arrays.d_grid, shape = f.shapes.d_grid, ext = f.meta.d_extent;
    const xs = Array.from(linspace(ext[0][0], ext[0][1], shape[1]));
    const ys = Array.from(linspace(ext[1][0], ext[1][1], shape[0]));
    const prob = !!f.meta.d_probabilistic;
    const data = [{ type: "surface", x: xs, y: ys, z: gridRows(g, shape), colorscale: D_SCALE,
                    cmin: prob ? 0 : undefined, cmax: prob ? 1 : undefined, showscale: false,
                    hoverinfo: "skip", opacity: 0.95 }];
    const layout = baseLayout({
      uirevision: runId, title: title("D surface (3-D) · step " + f.step.toLocaleString()),
      margin: { l: 0, r: 0, t: 34, b: 0 },
      scene: { xaxis: { title: { text: "x₁" } }, yaxis: { title: { text: "x₂" } },
               zaxis: { title: { text: prob ? "D(x)" : "critic" }, range: prob ? [0, 1] : undefined },
               camera: { eye: { x: 1.5, y: -1.5, z: 1.0 } }, aspectmode: "cube" },
    });
    return react(div, data, layout, false);
  }

  GS.draw2d = draw2d;
  GS.drawSurface = drawSurface;
})(typeof window !== "undefined" ? window : globalThis);
