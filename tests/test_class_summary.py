"""The class view's answer (app.class_summary, /api/class): small pictures of real frames within
their byte budget, the newest detector event, no server paths, who may ask (token, teacher key,
loopback), and that a teacher looking keeps no run alive and takes no slot."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict

import numpy as np
import pytest

from app import class_summary as cs
from app.class_access import NEEDS_TEACHER
from gancore.config import RunConfig
from gancore.frames import Frame, decode, encode
from gancore.run.session import Session
from gancore.teach.presets import PRESETS
from tests.helpers import FRAME_KINDS, FRAME_NETS
from tests.servers import AppServer, Client, run_of

KINDS, SMALL = FRAME_KINDS, FRAME_NETS
TOKEN, TEACHER = "class-token-1", "teacher-key-1"


def _frame(kind: str) -> Frame:
    s = Session(RunConfig().with_changes({**SMALL, **KINDS[kind]}))
    s.train(20)
    return decode(encode(s.frame(), ("fake",) if kind == "nd" else ()))  # as the stream sends


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_cs001_a_run_of_every_kind_fits_its_byte_budget(kind):
    frame = _frame(kind)
    frame.meta["events"] = [{"step": 7, "kind": "mode_collapse", "message": "m" * 2000}]
    summary = cs.RunSummary(run="20261207-000000-abcdef", student="ab12",
                            preset="forgetting-rehearsal-r1", kind=kind, state="failed",
                            message=cs.without_paths("x" * 5000), step=10**9,
                            steps_per_s=1234.5, event=cs.newest_event(frame),
                            picture=cs.picture(frame))
    assert summary.picture is not None
    assert len(json.dumps(asdict(summary), separators=(",", ":"))) <= cs.RUN_BYTES
    pic = summary.picture
    if kind == "1d":
        assert len(base64.b64decode(pic["fake"])) == cs.CURVE_BINS
        tallest = max(*base64.b64decode(pic["real"]), *base64.b64decode(pic["fake"]))
        assert tallest == 255  # one scale for both, the taller fills the height: nothing clipped
    else:
        assert len(base64.b64decode(pic["fake"])) == 2 * cs.FAKE_POINTS
        assert len(base64.b64decode(pic["real"])) == 2 * cs.REAL_POINTS
        assert len(base64.b64decode(pic["d"])) == cs.D_CELLS ** 2


def test_cs002_samples_outside_the_view_sit_on_the_edge_they_left_by():
    f = Frame("2d", 3, meta={"bounds": [[-1.0, 1.0], [-1.0, 1.0]]},
              arrays={"real": np.zeros((4, 2), np.float16),
                      "fake": np.array([[50.0, 0.0], [-50.0, 0.0], [0.0, np.inf]], np.float32)})
    pic = cs.picture(f)
    assert pic is not None and pic["d"] is None
    assert list(base64.b64decode(pic["fake"])) == [255, 128, 0, 128, 128, 255]


def test_cs003_the_newest_event_is_a_detectors_finding_not_bookkeeping():
    f = Frame("2d", 900, meta={"events": [
        {"step": 100, "kind": "swaying", "message": "G sways"},
        {"step": 400, "kind": "mode_collapse", "message": "1 of 8 modes"},
        {"step": 800, "kind": "fork", "message": "forked"},
        {"step": 850, "kind": "recording", "message": "could not write /srv/runs/a.h5"}]})
    assert cs.newest_event(f) == {"step": 400, "kind": "mode_collapse",
                                  "label": "mode collapse", "message": "1 of 8 modes"}
    assert cs.newest_event(Frame("2d", 0)) is None


def test_cs004_messages_lose_server_paths_and_keep_fractions():
    said = cs.without_paths("could not write /work/main/runs/x.h5: disk full; modes 2/8")
    assert "/work" not in said and "runs/x.h5" not in said
    assert said.endswith("disk full; modes 2/8")


# ---- real servers -----------------------------------------------------------------------------

def _class(client: Client, **kw) -> tuple[int, dict, bytes]:
    status, headers, body = client.get("/api/class", **kw)
    return status, headers, body


def _until(fn, seconds: float, every: float = 0.5):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + seconds
    while True:
        got = fn()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def test_cs010_a_loopback_server_shows_every_run_without_making_the_teacher_a_watcher(tmp_path):
    import simple_websocket

    srv = AppServer(tmp_path / "runs", "--no-spare")
    try:
        student, teacher = Client(srv.url), Client(srv.url)
        status, answer = student.open_preset("sway-1d", play=True)
        run_id = run_of(answer)
        assert status == 200 and run_id
        # The student's page watches a moment, then is closed: its run should pause soon after
        # (3 s in tests), while the teacher keeps polling.
        ws = simple_websocket.Client.connect(srv.url.replace("http", "ws") + "/ws",
                                             headers={"Cookie": student.cookie_header()})
        ws.send(json.dumps({"op": "watch", "runs": [run_id]}))

        def running() -> dict | None:
            ws.send("next")
            ws.receive(timeout=10)
            _, _, body = _class(teacher)
            row = next(r for r in json.loads(body)["runs"] if r["run"] == run_id)
            return row if row["state"] == "running" and row["picture"] and row["step"] else None

        row = _until(running, 120)
        assert row, "the run never showed up running with a picture"
        ws.close()
        assert row["preset"] == "sway-1d" and row["kind"] == "1d"
        assert row["student"] not in student.cookie("ganscope_session")
        status, headers, body = _class(teacher)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert headers.get("Cache-Control") == "no-store"
        text = body.decode()
        assert len(body) <= cs.ANSWER_BYTES
        assert str(tmp_path) not in text and "/runs" not in text and "Traceback" not in text
        assert student.cookie("ganscope_session").split(".")[0] not in text

        def paused() -> bool:
            _, _, body = _class(teacher)
            return any(r["run"] == run_id and r["state"] == "paused"
                       for r in json.loads(body)["runs"])

        assert _until(paused, 30), "a teacher polling the class view kept the run training"
        _, _, mine = teacher.get("/api/runs")
        assert json.loads(mine) == [], "the teacher's look started or took a run"
    finally:
        srv.stop()


def test_cs011_with_a_teacher_key_the_token_alone_is_refused(tmp_path):
    srv = AppServer(tmp_path / "runs", "--no-spare", "--token", TOKEN, "--teacher-key", TEACHER)
    try:
        nobody = Client(srv.url)
        status, _, body = _class(nobody)
        assert status == 401 and b"token" in body and b"runs" not in body
        student = Client(srv.url, headers={"Authorization": f"Bearer {TOKEN}"})
        for path in ("/api/class", "/class"):
            status, _, body = student.get(path)
            assert status == 401, path
            assert body.decode().strip() == NEEDS_TEACHER
        status, _, _ = _class(student, headers={"X-Ganscope-Teacher": TEACHER + "x"})
        assert status == 401
        status, _, body = _class(student, headers={"X-Ganscope-Teacher": TEACHER})
        assert status == 200 and json.loads(body)["runs"] == []
        # The printed link: token and key, each swapped for a cookie on the way in.
        link = next(line.split(": ", 2)[-1] for line in srv.output().splitlines()
                    if "class view" in line)
        assert link == f"{srv.url}/class?token={TOKEN}&teacher={TEACHER}"
        teacher = Client(srv.url)
        status, _, body = teacher.get(link.removeprefix(srv.url))
        assert status == 200 and b"class-grid" not in body  # Dash's shell: the page is drawn
        assert teacher.cookie("ganscope_teacher") and TEACHER not in teacher.cookie_header()
        assert _class(teacher)[0] == 200
        # A page reached by a link inside the app gets its layout by a callback: the same check.
        page = _page_layout(student)
        assert "class-grid" not in page and "teacher key" in page
        assert "class-grid" in _page_layout(teacher)
    finally:
        srv.stop()


def _page_layout(client: Client) -> str:
    status, answer = client.callback(
        ".._pages_content.children..._pages_store.data..",
        [{"id": "_pages_location", "property": "pathname", "value": "/class"},
         {"id": "_pages_location", "property": "search", "value": ""}],
        outputs=[{"id": "_pages_content", "property": "children"},
                 {"id": "_pages_store", "property": "data"}])
    assert status == 200, answer
    return json.dumps(answer)


def test_cs012_served_beyond_loopback_without_token_or_key_the_class_view_is_off(tmp_path):
    srv = AppServer(tmp_path / "runs", "--no-spare", "--host", "0.0.0.0", "--no-token")
    try:
        status, _, body = _class(Client(srv.url))
        assert status == 403 and b"--teacher-key" in body and b"runs" not in body
        assert "class view" not in srv.output()  # no link printed for a view that is off
    finally:
        srv.stop()


def test_cs013_a_changed_preset_is_custom_and_an_unchanged_one_keeps_its_name():
    cfg = PRESETS["ring8-reference"].config()
    assert cs.preset_name(cfg.to_json()) == "ring8-reference"
    assert cs.preset_name(cfg.with_changes({"train.seed": 3}).to_json()) == "custom"


def test_cs014_a_glance_at_a_mailbox_takes_nothing_from_its_readers():
    from gancore.run.mailbox import Mailbox

    box = Mailbox()
    assert box.peek() is None
    box.put(b"frame-1", np.zeros((3, 7)))
    assert box.peek() == (1, b"frame-1")
    got = box.take("tab")  # the student's page still gets the frame and its rows
    assert got is not None and got[0] == b"frame-1" and len(got[1]) == 3
    box.put(b"frame-2", np.zeros((2, 7)))
    assert box.peek() == (2, b"frame-2") and box.peek() == (2, b"frame-2")
    assert set(box._readers) == {"tab"}  # the glances left no reader behind to hold rows
