"""No file escapes: the web app opens only data files this session uploaded, by the name the
server gave them, and its messages never echo a server path."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from gancore.config import RunConfig
from tests.servers import Client, run_of

SECRET_ROWS = np.array([[1234.5, 6789.25], [2222.0, 3333.0], [4444.0, 5555.0]])


@pytest.fixture
def payroll(tmp_path):
    """A numeric file elsewhere on the server's disk: what an attacker would like to read."""
    path = tmp_path / "payroll.csv"
    np.savetxt(path, SECRET_ROWS, delimiter=",")
    return path


def _file_config(path: str) -> RunConfig:
    return RunConfig().with_changes({"target.name": "file", "target.data_path": str(path),
                                     "target.dim": 2})


def _runs(client: Client) -> list[dict]:
    return json.loads(client.get("/api/runs")[2])


def test_sec_file001_a_share_link_naming_a_server_file_trains_nothing_on_it(server, payroll):
    client = Client(server.url)
    cfg = _file_config(payroll)
    status, _, page = client.get(f"/?cfg={cfg.to_url()}&play=1")
    assert status == 200
    status, answer = client.open_run(cfg.to_json(), play=True)
    assert status == 200
    text = json.dumps(answer)
    assert "uploaded in this browser session" in text
    assert str(payroll) not in text and str(payroll.parent) not in text
    for run in _runs(client):
        assert json.loads(run["config"])["target"]["name"] != "file", run


def test_sec_file002_refusals_do_not_tell_whether_a_path_exists(server, payroll, tmp_path):
    client = Client(server.url)
    answers = []
    for path in (payroll, tmp_path / "no-such-file.csv", "/etc/passwd.csv"):
        status, answer = client.open_run(_file_config(path).to_json())
        assert status == 200
        answers.append(json.dumps(answer["response"]["notice"]))
    assert answers[0] == answers[1] == answers[2], answers


def test_sec_file003_a_forged_run_store_cannot_switch_a_run_to_a_server_file(server, payroll):
    """The play page's form callback takes the run's config from the page's store, which the
    client controls: a store naming a server file is refused like a link."""
    client = Client(server.url)
    status, answer = client.open_preset("ring8-reference")
    run_id = run_of(answer)
    assert run_id
    forged = {**answer["response"]["run"]["data"], "config": _file_config(payroll).to_json()}
    field = {"path": "opt_d__lr", "type": "field"}
    status, answer = client.call(
        ("run.data", '"type":"field"}.value', "field-error"),
        [[{"id": field, "property": "value", "value": 0.002}]],
        [{"id": "run", "property": "data", "value": forged},
         {"id": "notice", "property": "children", "value": None}], fields=["opt_d.lr"])
    assert status == 200, answer
    assert "uploaded in this browser session" in json.dumps(answer)
    for run in _runs(client):
        assert json.loads(run["config"])["target"]["name"] != "file", run


def test_sec_file004_an_upload_is_named_by_the_server_and_only_its_session_may_use_it(server):
    owner, other = Client(server.url), Client(server.url)
    status, answer = owner.open_preset("ring8-reference")
    run_data = answer["response"]["run"]["data"]
    csv = b"0.5,1.5\n1.0,2.0\n1.5,2.5\n2.0,3.0\n"
    contents = "data:text/csv;base64," + base64.b64encode(csv).decode()
    status, answer = owner.call(
        ("run.data", "upload-info.children"),
        [{"id": "upload", "property": "contents", "value": contents}],
        [{"id": "upload", "property": "filename", "value": "mine.csv"},
         {"id": "run", "property": "data", "value": run_data},
         {"id": "upload-cond", "property": "value", "value": ""}], fields=["target.name"])
    assert status == 200, answer
    new_run = answer["response"]["run"]["data"]
    cfg = json.loads(new_run["config"])
    name = cfg["target"]["data_path"]
    assert name.startswith("upload-") and "/" not in name  # an id, not a path
    assert str(server.runs_dir) not in json.dumps(answer)
    # another session with the same config (a share link of it) is refused
    status, answer = other.open_run(new_run["config"], play=True)
    assert "uploaded in this browser session" in json.dumps(answer)
    for run in _runs(other):
        assert json.loads(run["config"])["target"]["name"] != "file"


def test_sec_file005_api_runs_shows_only_your_runs_without_pids_or_paths(server):
    mine, theirs = Client(server.url), Client(server.url)
    run_of(mine.open_preset("ring8-reference")[1])
    their_run = run_of(theirs.open_preset("ring8-reference")[1])
    runs = _runs(mine)
    assert runs and all(r["owner_is_you"] for r in runs)
    assert their_run not in {r["run_id"] for r in runs}
    body = mine.get("/api/runs")[2].decode()
    assert "pid" not in json.loads(body)[0]
    assert str(server.runs_dir) not in body
