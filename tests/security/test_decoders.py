"""Every decoder has a budget: compressed bombs in a share link, a data upload and a recording,
and recordings that read other files, are refused before they are inflated or followed."""

from __future__ import annotations

import base64
import json
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from app.uploads import parse_upload
from gancore.data.files import DataFileError
from gancore.store.reader import validate_recording
from gancore.store.recording import Recorder, RecordingError
from tests._recording_writer import COLUMNS, CONFIG_JSON, make_frame, scalar_rows
from tests.servers import ROOT, Client

# What one refused bomb may add to the web process's peak: its own request text, parsed.
GROWTH_MB = 150
TOO_LARGE_LINK = "config link is too large"


def _deflated(parts: list[tuple[bytes, int]]) -> bytes:
    """zlib stream of each (block, times) in turn, made without holding the inflated text."""
    z = zlib.compressobj(9)
    out = [z.compress(block) for block, times in parts for _ in range(times)]
    return b"".join([*out, z.flush()])


@pytest.fixture(scope="module")
def link_bomb() -> str:
    """A 1.7 MB share link of valid JSON, `{` 1.3 GB of blanks `}`: the issue's bomb (a 1.3 MB
    link grew the web process by 2.9 GB)."""
    raw = _deflated([(b"{", 1), (b" " * 2**24, 80), (b"}", 1)])
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert 1_000_000 < len(text) < 3_000_000
    return text


def _opened(client: Client) -> Client:
    status, _, _ = client.get("/")
    assert status == 200
    return client


def test_sec_dec001_share_link_bomb_in_a_page_navigation_is_refused_unread(server, client,
                                                                         link_bomb):
    """An in-app navigation to /?cfg=BOMB carries the link in the routing callback's body."""
    client = _opened(client)
    before = server.peak_rss_mb()
    status, answer = client.call(
        ("_pages_content.children",),
        [{"id": "_pages_location", "property": "pathname", "value": "/"},
         {"id": "_pages_location", "property": "search", "value": f"?cfg={link_bomb}"}])
    assert status == 200, answer
    page = json.dumps(answer)
    assert TOO_LARGE_LINK in page and "at most 512 KB" in page
    assert server.peak_rss_mb() < before + GROWTH_MB


def test_sec_dec002_share_link_bomb_in_a_compare_callback_is_refused_unread(server, client,
                                                                           link_bomb):
    client = _opened(client)
    before = server.peak_rss_mb()
    ask = {"runs": [], "presets": "", "cfgs": link_bomb, "play": False, "seed": None, "speed": 0}
    status, answer = client.callback(
        "..cmp-runs.data...cmp-notice.children...cmp-play.children...cmp-same-seed.value..",
        [{"id": "cmp-ask", "property": "data", "value": ask}],
        outputs=[{"id": "cmp-runs", "property": "data"},
                 {"id": "cmp-notice", "property": "children"},
                 {"id": "cmp-play", "property": "children"},
                 {"id": "cmp-same-seed", "property": "value"}])
    assert status == 200, answer
    assert TOO_LARGE_LINK in json.dumps(answer["response"]["cmp-notice"])
    assert server.peak_rss_mb() < before + GROWTH_MB


def _hdf5_bomb(path: Path) -> bytes:
    """2 MB of HDF5: 1,000,000 x 256 float64 zeros, gzip-compressed (2 GB once read)."""
    rows, chunk = 1_000_000, 4096
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("data", (rows, 256), "f8", chunks=(chunk, 256), compression="gzip")
        packed = zlib.compress(bytes(chunk * 256 * 8), 9)  # one chunk, written everywhere
        for start in range(0, rows, chunk):
            ds.id.write_direct_chunk((start, 0), packed)
    return path.read_bytes()


def test_sec_dec003_hdf5_upload_bomb_is_refused_in_a_child(tmp_path):
    data = _hdf5_bomb(tmp_path / "made.h5")
    assert len(data) < 3_000_000
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    dest = uploads / "u1.npy"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB
    with pytest.raises(DataFileError) as err:
        parse_upload(data, "C:\\Users\\me\\bomb.h5", dest, max_bytes=50 * 2**20)
    message = str(err.value)
    assert message.startswith("bomb.h5: too large when decompressed"), message
    assert "1,000,000 rows x 256 columns" in message
    assert str(tmp_path) not in message and "\n" not in message
    assert list(uploads.iterdir()) == []  # no temporary file, no partial array
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50, f"the parent grew by {grown_mb:.0f} MB"


def test_sec_dec008_hdf5_upload_bomb_through_the_play_page_leaves_the_server_small(
        server, tmp_path):
    """The same bomb as a browser sends it: the play page's upload callback, base64 in JSON."""
    client = Client(server.url)
    status, answer = client.open_preset("ring8-reference")
    run_data = answer["response"]["run"]["data"]
    contents = "data:application/x-hdf5;base64," + base64.b64encode(
        _hdf5_bomb(tmp_path / "made.h5")).decode()
    before = server.peak_rss_mb()
    status, answer = client.call(
        ("run.data", "upload-info.children"),
        [{"id": "upload", "property": "contents", "value": contents}],
        [{"id": "upload", "property": "filename", "value": "bomb.h5"},
         {"id": "run", "property": "data", "value": run_data},
         {"id": "upload-cond", "property": "value", "value": ""}], fields=["target.name"])
    assert status == 200
    text = json.dumps(answer)
    assert "bomb.h5: too large when decompressed" in text and "Upload refused" in text
    assert str(server.runs_dir) not in text
    assert server.peak_rss_mb() < before + GROWTH_MB
    assert not [p for p in (Path(server.runs_dir) / "uploads").glob("*") if p.suffix == ".npy"]


# ---- recordings ---------------------------------------------------------------------------------


def _recording(path: Path, first_frame: int = 0, frames: int = 3) -> Path:
    """A real recording, written as a run writes one."""
    with Recorder(path, CONFIG_JSON, COLUMNS, run_id=path.stem) as rec:
        for k in range(first_frame, first_frame + frames):
            rec.append_scalars(scalar_rows(k))
            rec.append_frame(make_frame(k))
    return path


def _external_link(group: h5py.Group, other: Path, shape: tuple, dtype: np.dtype) -> None:
    group["samples"] = h5py.ExternalLink(str(other), "/frames/samples")


def _virtual(group: h5py.Group, other: Path, shape: tuple, dtype: np.dtype) -> None:
    layout = h5py.VirtualLayout(shape, dtype)
    layout[...] = h5py.VirtualSource(str(other), "frames/samples", shape)
    group.create_virtual_dataset("samples", layout)


def _external_storage(group: h5py.Group, other: Path, shape: tuple, dtype: np.dtype) -> None:
    raw = other.with_suffix(".raw")
    with h5py.File(other, "r") as f:
        f["frames/samples"][()].tofile(raw)
    group.create_dataset("samples", shape, dtype, external=[(str(raw), 0, raw.stat().st_size)])


POINTERS = {"external-link": (_external_link, "is an external link to another file"),
            "virtual-dataset": (_virtual, "is a virtual dataset mapping other files"),
            "external-storage": (_external_storage, "keeps its data in external files")}


def _pointing(tmp_path: Path, kind: str) -> Path:
    """A recording whose /frames/samples is another file's (secret) samples."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    other = _recording(elsewhere / "secret.h5", first_frame=100)
    path = _recording(tmp_path / "pointing.h5")
    with h5py.File(path, "r+") as f:
        shape, dtype = f["frames/samples"].shape, f["frames/samples"].dtype
        del f["frames/samples"]
        POINTERS[kind][0](f["frames"], other, shape, dtype)
    return path


def _cli_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gancore", "validate", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def _assert_refused(path: Path, words: str) -> None:
    """validate_recording and `python -m gancore validate` refuse `path` naming the problem,
    in one line that names no server path."""
    with pytest.raises(RecordingError) as err:
        validate_recording(path)
    message = str(err.value)
    assert message.startswith(f"{path.name}: ") and words in message, message
    assert str(path.parent) not in message
    done = _cli_validate(path)
    assert done.returncode == 2, done.stdout
    assert done.stderr.strip() == f"error: {message}"


@pytest.mark.parametrize("kind", POINTERS)
def test_sec_dec004_recording_that_reads_another_file_is_refused(tmp_path, kind):
    path = _pointing(tmp_path, kind)
    _assert_refused(path, f"/frames/samples {POINTERS[kind][1]}; recordings must hold their "
                          "own data")


def _frame_bomb(path: Path) -> Path:
    """A 1.3 MB recording whose /frames/samples rows are 400 MB of gzip-compressed zeros."""
    _recording(path)
    rows, chunk = 10_000_000, 1_000_000
    packed = zlib.compress(bytes(chunk * 10 * 4), 9)
    with h5py.File(path, "r+") as f:
        frames = f["frames/samples"].shape[0]
        del f["frames/samples"]
        ds = f["frames"].create_dataset("samples", (frames, rows, 10), "f4",
                                        chunks=(1, chunk, 10), compression="gzip")
        for i in range(frames):
            for start in range(0, rows, chunk):
                ds.id.write_direct_chunk((i, start, 0), packed)
    assert path.stat().st_size < 2_000_000
    return path


def test_sec_dec005_frame_bomb_recording_is_refused_by_validate(tmp_path):
    _assert_refused(_frame_bomb(tmp_path / "bomb.h5"), "/frames/samples holds 381.5 MB per frame")


def test_sec_dec006_replay_refuses_a_frame_bomb_unread(server, client):
    """A bomb that reached the runs folder some other way (copied in, from an older version):
    the replay routes refuse it with a 422 and never read a frame."""
    _frame_bomb(Path(server.runs_dir) / "bomb.h5")
    before = server.peak_rss_mb()
    for route in ("frame?step=0", "index"):
        status, _, body = client.get(f"/api/replay/bomb.h5/{route}")
        assert status == 422, (route, status, len(body))
        assert body.decode() == ("bomb.h5 cannot be replayed: /frames/samples holds 381.5 MB "
                                 "per frame, more than the 8.0 MB a frame array may hold")
    assert server.peak_rss_mb() < before + GROWTH_MB


@pytest.mark.parametrize("step", ["-1", str(2**63), "9" * 5000])
def test_sec_dec007_replay_frame_step_is_a_bounded_integer(server, client, step):
    path = Path(server.runs_dir) / "steps.h5"
    if not path.exists():
        _recording(path)
    assert client.get("/api/replay/steps.h5/frame?step=0")[0] == 200
    status, _, body = client.get(f"/api/replay/steps.h5/frame?step={step}")
    assert status == 400, (status, body[:200])
    assert body.decode() == f"step must be an integer from 0 to {2**63 - 1:,}"
