"""The /export routes through Flask's test client: known runs only, refusals that say why, a
config download and a scalars CSV from a real recording (the animation route is driven from a
real browser in tests/browser/test_exports.py)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app import runs
from gancore.config import RunConfig
from gancore.run.session import Session

SMALL = RunConfig().with_changes({"generator.hidden": [16], "discriminator.hidden": [16],
                                  "train.batch_size": 32, "frames.samples": 100,
                                  "frames.d_grid": 16, "frames.record_every": 10})


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from app.main import create_app

    folder = tmp_path_factory.mktemp("exports")
    app = create_app(folder / "runs", spare=False)
    reg = runs.registry()
    # Runs as the registry knows them, without worker processes: one whose recording was
    # written by a real session (40 steps), one whose worker has not written anything yet.
    done = runs.Run("20260101-000000-aaaaaa", "someone", SMALL,
                    str(folder / "runs" / "done.h5"), preset="ring8-reference")
    session = Session(SMALL, run_id=done.run_id, record_path=done.record_path)
    session.state = "running"
    session.train(40)
    session.close()
    fresh = runs.Run("20260101-000000-bbbbbb", "someone", SMALL,
                     str(folder / "runs" / "fresh.h5"))
    reg._runs.update({done.run_id: done, fresh.run_id: fresh})
    yield app.server.test_client(), done, fresh
    reg.close()


def test_ae001_config_and_scalars_download_as_attachments(client):
    c, done, _ = client
    r = c.get(f"/export/run/{done.run_id}/config")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert f'filename="ganscope-{done.run_id}-config.json"' in r.headers["Content-Disposition"]
    assert RunConfig.model_validate(json.loads(r.data)) == SMALL
    r = c.get(f"/export/run/{done.run_id}/csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode())))
    assert rows[0][:3] == ["step", "d_loss", "g_loss"]
    assert [int(row[0]) for row in rows[1:]] == list(range(1, 41))  # every step, none dropped
    assert all(float(x) == float(x) for x in rows[-1][1:])


def test_ae002_unknown_runs_and_paths_are_refused_with_a_reason(client):
    c, done, fresh = client
    r = c.get("/export/run/no-such-run/gif")
    assert r.status_code == 404 and r.data.decode() == "no run 'no-such-run' on this server"
    r = c.get("/export/run/.../csv")
    assert r.status_code == 404 and r.data.decode() == "no run '...' on this server"
    r = c.get("/export/run/..%2F..%2Fetc%2Fpasswd/csv")  # not an export route once decoded
    assert "Content-Disposition" not in r.headers and b"root:" not in r.data
    r = c.get(f"/export/run/{done.run_id}/avi")
    assert r.status_code == 404 and b"unknown export 'avi'" in r.data
    r = c.get(f"/export/run/{fresh.run_id}/gif")
    assert r.status_code == 409 and b"has no recording yet" in r.data
    r = c.get(f"/export/compare/gif?runs={done.run_id}")
    assert r.status_code == 400 and b"2 to 4 run ids" in r.data
    r = c.get(f"/export/compare/gif?runs={done.run_id},{fresh.run_id}")
    assert r.status_code == 409 and fresh.run_id.encode() in r.data
    r = c.get(f"/export/run/{done.run_id}/gif?fps=500")
    assert r.status_code == 400 and b"fps must be between 1 and 30" in r.data
