/* ganscope exports: buttons with data-export download the page's run as GIF, MP4, config JSON or
 * scalars CSV from /export/run/<run>/<what> (app/exports.py), or save the visible view as a PNG
 * with Plotly.downloadImage. A button with data-runs="A,B" exports those runs side by side
 * (/export/compare/<what>). Errors from the server are shown in #export-status, in its words. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const NAMES = { gif: "GIF", mp4: "MP4", config: "config", csv: "CSV", png: "PNG" };
  const VIEWS = ["plot-2d", "plot-surface", "plot-1d", "plot-proj"];

  function status(text, level) {
    const el = document.getElementById("export-status");
    if (!el) return;
    el.textContent = text;
    el.className = "export-status" + (level ? " " + level : "");
  }

  function filename(resp, fallback) {
    const cd = resp.headers.get("Content-Disposition") || "";
    const m = /filename="([^"]+)"/.exec(cd);
    return m ? m[1] : fallback;
  }

  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url; a.download = name; a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 10000);
  }

  function visibleView() {
    for (const id of VIEWS) {
      const div = document.getElementById(id);
      if (div && div.offsetParent !== null && div._fullLayout) return div;
    }
    return null;
  }

  // Plotly renders an export by itself, from the figure: the sample layer, painted on a canvas
  // over the plot (draw.js), goes in as a layout image at the ranges the user sees.
  // The page draws the D colour bar itself, beside the plot (draw.js): the export asks Plotly for
  // its own.
  function withSampleLayer(div) {
    const img = GS.sampleLayerImage && GS.sampleLayerImage(div);
    const heat = GS.dHeatmap && GS.dHeatmap(div);  // the D picture as a heatmap with its bar
    const data = heat ? [heat].concat(div.data) : div.data;
    const layout = Object.assign({}, div.layout);
    layout.images = (layout.images || []).filter(function (im) { return im.name !== "gs-d"; });
    if (!img) return { data: data, layout: layout };
    const fl = div._fullLayout;
    layout.images = layout.images.concat([img]);
    layout.xaxis = Object.assign({}, layout.xaxis, { range: fl.xaxis.range.slice(), autorange: false });
    layout.yaxis = Object.assign({}, layout.yaxis, { range: fl.yaxis.range.slice(), autorange: false });
    return { data: data, layout: layout };
  }

  function png(run) {
    const div = visibleView();
    if (!div || !root.Plotly) { status("PNG: nothing is drawn yet", "bad"); return; }
    const step = GS.view && GS.view.frame ? GS.view.frame.step : 0;
    root.Plotly.downloadImage(withSampleLayer(div), { format: "png", filename: "ganscope-" + run + "-step-" + step,
                                     width: div.clientWidth, height: div.clientHeight, scale: 2 })
      .then(function () { status("PNG saved (step " + step.toLocaleString() + ")", "good"); },
            function (e) { status("PNG failed: " + e, "bad"); });
  }

  // Fetch an export and save it; the buttons stay disabled while the server renders.
  GS.exportDownload = function (what, runs) {
    const name = NAMES[what] || what;
    if (!runs || !runs.length) { status(name + ": there is no run to export", "bad"); return; }
    if (what === "png") { png(runs[0]); return; }
    const url = runs.length > 1
      ? "/export/compare/" + what + "?runs=" + runs.map(encodeURIComponent).join(",")
      : "/export/run/" + encodeURIComponent(runs[0]) + "/" + what;
    const buttons = document.querySelectorAll("[data-export]");
    buttons.forEach(function (b) { b.disabled = true; });
    status(what === "gif" || what === "mp4" ? "rendering " + name + "…" : "preparing " + name + "…", "busy");
    return fetch(url, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok) return resp.text().then(function (t) { throw new Error(t || resp.statusText); });
      const fallback = "ganscope-" + runs.join("-") + "." + (what === "config" ? "json" : what);
      const fname = filename(resp, fallback);
      return resp.blob().then(function (blob) {
        save(blob, fname);
        status(name + " saved: " + fname + " (" + (blob.size / 1e6).toFixed(2) + " MB)", "good");
      });
    }).catch(function (e) {
      status(name + " export failed: " + e.message, "bad");
    }).finally(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  };

  if (typeof document !== "undefined") {
    document.addEventListener("click", function (ev) {
      const b = ev.target && ev.target.closest ? ev.target.closest("[data-export]") : null;
      if (!b) return;
      ev.preventDefault();
      const listed = b.getAttribute("data-runs");
      const runs = listed ? listed.split(",").filter(Boolean)
                          : (GS.view && GS.view.run ? [GS.view.run] : []);
      GS.exportDownload(b.getAttribute("data-export"), runs);
    });
  }
})(typeof window !== "undefined" ? window : globalThis);
