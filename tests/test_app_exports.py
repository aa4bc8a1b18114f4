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
                                  "frames.d_grid": 16, "frames.record_every": 10,
                                  "frames.metrics_every": 10})
# An n-D run (6-D gaussian): its frames carry the n-D metrics (KS, correlations, norms).
SMALL_ND = SMALL.with_changes({"target.name": "gaussian_nd", "target.dim": 6,
                               "latent.dim": 6, "frames.record_every": 20,
                               "frames.metrics_every": 20})


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
    nd = runs.Run("20260101-000000-cccccc", "someone", SMALL_ND, str(folder / "runs" / "nd.h5"))
    session = Session(SMALL_ND, run_id=nd.run_id, record_path=nd.record_path)
    session.state = "running"
    session.train(40)  # frames at steps 0, 20, 40 (closing records step 40 again: one row)
    session.close()
    reg._runs.update({done.run_id: done, fresh.run_id: fresh, nd.run_id: nd})
    yield app.server.test_client(), done, fresh, nd
    reg.close()


def csv_table(c, run_id: str) -> tuple[list[str], list[dict[str, str]]]:
    r = c.get(f"/export/run/{run_id}/csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.data.decode())))
    assert all(len(row) == len(rows[0]) for row in rows)  # the header names every column
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_ae001_config_and_scalars_download_as_attachments(client):
    c, done, *_ = client
    r = c.get(f"/export/run/{done.run_id}/config")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert f'filename="ganscope-{done.run_id}-config.json"' in r.headers["Content-Disposition"]
    assert RunConfig.model_validate(json.loads(r.data)) == SMALL
    assert "attachment" in c.get(f"/export/run/{done.run_id}/csv").headers["Content-Disposition"]
    header, rows = csv_table(c, done.run_id)
    assert header[:7] == ["step", "d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm",
                          "g_grad_norm"]
    # step 0 is the first recorded frame (its metrics, no losses yet), then every step
    assert [int(row["step"]) for row in rows] == list(range(0, 41))
    assert rows[0]["d_loss"] == "" and all(float(r["d_loss"]) == float(r["d_loss"])
                                           for r in rows[1:])


def test_ae004_csv_has_a_column_per_metric_filled_at_the_recorded_frames(client):
    c, done, _, nd = client
    header, rows = csv_table(c, done.run_id)  # the ring of 8: mode metrics, grid KL/JS, energy
    for metric in ("modes", "high_quality", "reverse_kl", "kl", "js", "energy"):
        assert metric in header, (metric, header)
        filled = [int(r["step"]) for r in rows if r[metric] != ""]
        assert filled == [0, 10, 20, 30, 40], metric  # the frames' steps, empty elsewhere
    assert all(0 <= int(float(r["modes"])) <= 8 for r in rows if r["modes"])
    assert "steps_per_s" not in header and "modes_total" not in header  # not metrics
    header, rows = csv_table(c, nd.run_id)
    for metric in ("ks_mean", "corr_dist", "energy", "norm_ks", "variance_ratio",
                   "bimodal_dims_real", "bimodal_dims_fake"):
        assert metric in header, (metric, header)
        values = {int(r["step"]): float(r[metric]) for r in rows if r[metric] != ""}
        assert sorted(values) == [0, 20, 40], metric
    ks = [float(r["ks_mean"]) for r in rows if r["ks_mean"]]
    assert all(0 <= v <= 1 for v in ks) and len(set(ks)) > 1  # measured, not one number copied
    between = next(r for r in rows if r["step"] == "30")  # losses, but no frame at step 30
    assert between["d_loss"] != "" and between["ks_mean"] == "" and between["energy"] == ""


def test_ae002_unknown_runs_and_paths_are_refused_with_a_reason(client):
    c, done, fresh, _ = client
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
