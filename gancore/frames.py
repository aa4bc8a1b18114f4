"""The Frame (plain arrays + a JSON-able header) and its binary codec.

Wire format, one message per frame (DESIGN.md "The frame"):
    uint32 little-endian header length H | H bytes of UTF-8 JSON header | arrays back to back
Each array starts on a 4-byte boundary (counted from the first array byte). The header is
    {"v": 1, "kind": "1d"|"2d"|"nd", "step": int, "scalars": {...}, "meta": {...},
     "arrays": [{"name", "dtype", "shape", "offset", "nbytes", ["range": [lo, hi]]}, ...]}
A `uint8` array with a "range" is quantised: value = lo + q / 255 * (hi - lo).
The browser decoder is `assets/frame.js`; a test round-trips frames through both.
"""

from __future__ import annotations

import itertools
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT_VERSION = 1
# The scalar row every training step makes (gancore.train.trainer.StepStats.as_row), as the
# stream's envelope, the recording's /scalars table and the charts name its columns.
STAT_COLUMNS = ["step", "d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"]
_DTYPES = {"float32": np.float32, "float16": np.float16, "uint8": np.uint8, "int32": np.int32,
           "int8": np.int8, "uint16": np.uint16}


def frame_kind(dim: int) -> str:
    """What the frames of data of this dimension draw: "1d", "2d", or "nd" above two."""
    return "1d" if dim == 1 else "2d" if dim == 2 else "nd"


@dataclass
class Frame:
    """One picture of a run: what the browser draws, the recording stores and exports replay."""

    kind: str  # "1d", "2d" or "nd"
    step: int
    scalars: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # quantised arrays

    def value(self, name: str) -> np.ndarray:
        """An array as float32, dequantised when it was stored as uint8 with a range."""
        a = self.arrays[name]
        if name in self.ranges:
            lo, hi = self.ranges[name]
            return (lo + a.astype(np.float32) / 255.0 * (hi - lo)).astype(np.float32)
        return a.astype(np.float32)


def quantize(values: np.ndarray, lo: float | None = None,
             hi: float | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """uint8 codes and their (lo, hi) range; a constant array maps to code 0."""
    v = np.asarray(values, dtype=np.float32)
    lo = float(np.min(v)) if lo is None else lo
    hi = float(np.max(v)) if hi is None else hi
    span = hi - lo if hi > lo else 1.0
    q = np.clip(np.rint((v - lo) / span * 255.0), 0, 255).astype(np.uint8)
    return q, (lo, hi)


def _jsonable(x: Any) -> Any:
    if isinstance(x, float | np.floating):
        x = float(x)
        return x if np.isfinite(x) else None  # JSON has no NaN; the reader sees null
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def encode(frame: Frame, omit: tuple[str, ...] = ()) -> bytes:
    """Frame -> bytes. `omit` drops arrays the receiver does not need (e.g. n-D raw samples)."""
    entries, chunks, offset = [], [], 0
    for name, arr in frame.arrays.items():
        if name in omit:
            continue
        a = np.ascontiguousarray(arr)
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"frame array {name!r} has unsupported dtype {a.dtype}")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        entry = {"name": name, "dtype": a.dtype.name, "shape": list(a.shape), "offset": offset,
                 "nbytes": len(data)}
        if name in frame.ranges:
            entry["range"] = list(frame.ranges[name])
        entries.append(entry)
        pad = (-len(data)) % 4
        chunks.append(data + b"\0" * pad)
        offset += len(data) + pad
    header = {"v": FORMAT_VERSION, "kind": frame.kind, "step": int(frame.step),
              "scalars": frame.scalars, "meta": frame.meta, "arrays": entries}
    head = json.dumps(_jsonable(header), separators=(",", ":"), sort_keys=True).encode()
    head += b" " * ((-len(head)) % 4)  # keeps the array block 4-byte aligned in the message
    return struct.pack("<I", len(head)) + head + b"".join(chunks)


def _header(buf: bytes) -> tuple[dict[str, Any], int]:
    """(the JSON header, where the arrays begin); ValueError when `buf` is not a frame of this
    format."""
    if len(buf) < 4:
        raise ValueError("frame too short")
    (n,) = struct.unpack_from("<I", buf, 0)
    if 4 + n > len(buf):
        raise ValueError("frame header length exceeds the message")
    try:
        header = json.loads(buf[4:4 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"frame header is not JSON: {e}") from None
    if not isinstance(header, dict) or header.get("v") != FORMAT_VERSION:
        version = header.get("v") if isinstance(header, dict) else None
        raise ValueError(f"unsupported frame format version {version!r}")
    return header, 4 + n


def decode(buf: bytes) -> Frame:
    """bytes -> Frame; raises ValueError on anything that is not a frame of this format."""
    header, base = _header(buf)
    arrays, ranges = {}, {}
    for a in header["arrays"]:
        dtype = np.dtype(_DTYPES[a["dtype"]]).newbyteorder("<")
        count = int(np.prod(a["shape"])) if a["shape"] else 1
        start = base + a["offset"]
        if start + a["nbytes"] > len(buf):
            raise ValueError(f"frame array {a['name']!r} runs past the end of the message")
        arrays[a["name"]] = np.frombuffer(buf, dtype, count, start).reshape(a["shape"])
        if "range" in a:
            ranges[a["name"]] = tuple(a["range"])
    return Frame(header["kind"], header["step"], header.get("scalars", {}), header.get("meta", {}),
                 arrays, ranges)


MAX_METRICS = 64  # a frame's metrics a history keeps (ganscope's frames carry about 15)
MAX_METRIC_NAME = 64


def metrics_of(buf: bytes) -> tuple[int, dict[str, float]] | None:
    """(step, finite numeric scalars) of an encoded frame, from its header alone (the arrays
    are not read): what a run's metric history keeps of each frame (gancore.run.mailbox). At
    most MAX_METRICS of them, with names of at most MAX_METRIC_NAME characters: a watched
    script's frames come from outside, and a history keeps a thousand of them. None for bytes
    that are not a frame of this format."""
    try:
        header, _ = _header(buf)
        step, scalars = int(header["step"]), header.get("scalars", {})
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(scalars, dict):
        return None
    kept = ((k, v) for k, v in scalars.items()
            if len(k) <= MAX_METRIC_NAME and isinstance(v, int | float)
            and not isinstance(v, bool) and np.isfinite(v))
    return step, {k: float(v) for k, v in itertools.islice(kept, MAX_METRICS)}
