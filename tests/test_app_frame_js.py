"""assets/frame.js decodes what gancore encodes (node runs the same file the page loads)."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.stream import encode_envelope
from gancore.frames import Frame, encode, quantize

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
const GS = require(process.argv[1]);
const buf = require('fs').readFileSync(process.argv[2]);
const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
const out = GS.decodeEnvelope(ab).map(function (it) {
  const f = it.frame, arrays = {};
  for (const k in f.arrays) arrays[k] = Array.from(f.arrays[k]);
  return {run: it.entry.run, rows: Array.from(it.rows), kind: f.kind, step: f.step,
          scalars: f.scalars, meta: f.meta, arrays: arrays, shapes: f.shapes};
});
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_fj001_frame_round_trip_through_the_browser_decoder(tmp_path):
    rng = np.random.default_rng(0)
    f = Frame("2d", 1234, {"d_loss": 0.5}, {"run_id": "r", "events": []})
    f.arrays["real"] = rng.normal(size=(7, 2)).astype(np.float16)
    f.arrays["fake"] = rng.normal(size=(5, 2)).astype(np.float32)
    q, rng_ = quantize(rng.uniform(0, 1, size=(3, 3)), 0.0, 1.0)
    f.arrays["d_grid"], f.ranges["d_grid"] = q, rng_
    rows = np.arange(14, dtype=np.float64).reshape(2, 7)
    path = tmp_path / "env.bin"
    path.write_bytes(encode_envelope([({"run": "r", "state": "running"}, encode(f), rows)]))
    out = subprocess.run(["node", "-e", SCRIPT, str(ROOT / "assets/frame.js"), str(path)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    (js,) = json.loads(out)
    assert js["kind"] == "2d" and js["step"] == 1234 and js["scalars"] == {"d_loss": 0.5}
    assert js["rows"] == rows.ravel().tolist()
    for name in ("real", "fake", "d_grid"):
        np.testing.assert_allclose(js["arrays"][name], f.value(name).ravel(), rtol=1e-6)
        assert js["shapes"][name] == list(f.arrays[name].shape)
