/* ganscope frame decoder: one binary frame (gancore/frames.py) and the stream envelope
 * (app/stream.py) -> typed arrays. No copies except float16 -> float32 and uint8 dequantising.
 * Works in the page (window.GS) and in node (module.exports) for the round-trip test. */
(function (root) {
  "use strict";
  const GS = root.GS = root.GS || {};
  const utf8 = new TextDecoder("utf-8");

  // float16 -> float32 by table: 65536 entries, built once (256 KB), then one lookup per value.
  let F16 = null;
  function f16Table() {
    if (F16) return F16;
    F16 = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const s = (h & 0x8000) ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      let v;
      if (e === 0) v = s * Math.pow(2, -14) * (m / 1024);
      else if (e === 31) v = m ? NaN : s * Infinity;
      else v = s * Math.pow(2, e - 15) * (1 + m / 1024);
      F16[h] = v;
    }
    return F16;
  }

  function fromF16(u16) {
    const t = f16Table(), out = new Float32Array(u16.length);
    for (let i = 0; i < u16.length; i++) out[i] = t[u16[i]];
    return out;
  }

  const VIEWS = {
    float32: Float32Array, uint8: Uint8Array, int32: Int32Array, int8: Int8Array,
    uint16: Uint16Array, float16: Uint16Array, float64: Float64Array,
  };

  /** Decode the frame in buf[off, off+len). Arrays come back as Float32Array (dequantised
   * when a uint8 array has a range), with .shape in frame.shapes[name]. */
  function decodeFrame(buf, off, len) {
    off = off || 0;
    len = len === undefined ? buf.byteLength - off : len;
    const dv = new DataView(buf, off, len);
    const n = dv.getUint32(0, true);
    if (4 + n > len) throw new Error("frame header length exceeds the message");
    const head = JSON.parse(utf8.decode(new Uint8Array(buf, off + 4, n)));
    if (head.v !== 1) throw new Error("unsupported frame format version " + head.v);
    const base = off + 4 + n, arrays = {}, shapes = {}, raw = {}, ranges = {};
    for (const e of head.arrays) {
      const View = VIEWS[e.dtype];
      if (!View) throw new Error("unknown dtype " + e.dtype);
      const count = e.shape.reduce((a, b) => a * b, 1);
      if (e.offset + e.nbytes > len - 4 - n) throw new Error("array " + e.name + " runs past the end");
      let a = new View(buf, base + e.offset, count);
      raw[e.name] = a;
      if (e.dtype === "float16") a = fromF16(a);
      else if (e.range) {
        const lo = e.range[0], k = (e.range[1] - e.range[0]) / 255, q = a;
        a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = lo + q[i] * k;
      }
      arrays[e.name] = a;
      shapes[e.name] = e.shape;
      if (e.range) ranges[e.name] = e.range;
    }
    return { kind: head.kind, step: head.step, scalars: head.scalars || {}, meta: head.meta || {},
             arrays: arrays, shapes: shapes, raw: raw, ranges: ranges, bytes: len };
  }

  /** Decode one stream envelope: [{entry, rows: Float64Array|null, frame: Frame|null}]. */
  function decodeEnvelope(buf) {
    const n = new DataView(buf).getUint32(0, true);
    const head = JSON.parse(utf8.decode(new Uint8Array(buf, 4, n)));
    if (head.v !== 1) throw new Error("unsupported envelope version " + head.v);
    const base = 4 + n;
    return head.runs.map(function (e) {
      let rows = null, frame = null;
      if (e.rows) rows = new Float64Array(buf, base + e.rows[0], e.rows[1] * e.columns.length);
      if (e.frame) frame = decodeFrame(buf, base + e.frame[0], e.frame[1]);
      return { entry: e, rows: rows, frame: frame };
    });
  }

  /** Rows of a (rows, cols) flat array: the value of column c in row r. */
  function rowsOf(flat, shape) {
    const out = [], w = shape[1];
    for (let r = 0; r < shape[0]; r++) out.push(flat.subarray(r * w, (r + 1) * w));
    return out;
  }

  GS.decodeFrame = decodeFrame;
  GS.decodeEnvelope = decodeEnvelope;
  GS.rowsOf = rowsOf;
  GS.fromF16 = fromF16;
  if (typeof module !== "undefined" && module.exports) module.exports = GS;
})(typeof window !== "undefined" ? window : globalThis);
