"""Conditional data files: a CSV's or .npy's condition columns, or an HDF5 dataset of its own,
train a conditional run from the CLI and from the play page's upload; every bad condition is
refused with a message naming the file and the mistake."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from app.uploads import parse_upload
from app.uploads_store import SavedUpload
from gancore.cli import main
from gancore.config import ConfigError, RunConfig
from gancore.data.conditions import condition_columns
from gancore.data.files import DataFileError, load_conditional, load_conditional_bytes
from gancore.data.targets import Bimodal6D, build_target

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 10 * 1024 * 1024


def _bimodal_rows(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """gancore's own 6-D conditional target, as a researcher's file would hold it."""
    x, c = Bimodal6D().sample_conditional(n, torch.Generator().manual_seed(seed))
    return x.numpy(), c.numpy()


def _csv(path: Path, arr: np.ndarray, header: str | None = None) -> Path:
    np.savetxt(path, arr, delimiter=",", fmt="%.6f", header=header or "", comments="")
    return path


def _h5(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        for name, arr in datasets.items():
            f[name] = arr
    return path


# ---- which columns a spec names -----------------------------------------------------------

@pytest.mark.parametrize(("spec", "cols"), [
    ("6:10", [6, 7, 8, 9]), ("-4:", [6, 7, 8, 9]), ("6,7,8", [6, 7, 8]), (" 9 , 6 ", [9, 6]),
    (":2", [0, 1]), ("0,6:10:2", [0, 6, 8]), ("-1", [9]),
])
def test_cond001_column_specs_read_like_python(spec: str, cols: list[int]) -> None:
    assert condition_columns("f.csv", spec, 10) == cols


@pytest.mark.parametrize(("spec", "words"), [
    ("6:12", "the slice '6:12' is out of range; the file has 10 columns (0 to 9"),
    ("10", "column 10 is out of range"),
    ("-11", "column -11 is out of range"),
    ("six:ten", "'six' is not a column index"),
    ("6:10:0", "the step of '6:10:0' must be 1 or more"),
    ("1:2:3:4", "'1:2:3:4' is not a slice"),
    ("6:6", "'6:6' selects no column"),
    ("6,,7", "an empty item"),
    ("6:10,8", "column 8 is named twice (the items overlap)"),
    ("0:10", "take all 10 columns of the file, leaving none for the data"),
    ("/cond", "name an HDF5 dataset, but this is not an HDF5 file"),
    ("1" * 300, "longer than 200 characters"),
])
def test_cond002_every_bad_column_spec_is_named(spec: str, words: str) -> None:
    with pytest.raises(DataFileError) as e:
        condition_columns("f.csv", spec, 10)
    assert str(e.value).startswith("f.csv: condition columns ") and words in str(e.value)


# ---- loading the data and its condition ----------------------------------------------------

def test_cond003_csv_condition_columns_split_off_in_the_order_given(tmp_path: Path) -> None:
    x, c = _bimodal_rows(50)
    path = _csv(tmp_path / "six.csv", np.hstack([c[:, :2], x, c[:, 2:]]),
                header="c0,c1,x0,x1,x2,x3,x4,x5,c2,c3")
    got_x, got_c = load_conditional(path, None, "0,1,-2:")
    np.testing.assert_allclose(got_x, x, atol=1e-5)
    np.testing.assert_allclose(got_c, c, atol=1e-5)
    assert got_x.dtype == got_c.dtype == np.float32


def test_cond004_npy_and_hdf5_columns_work_the_same(tmp_path: Path) -> None:
    x, c = _bimodal_rows(40)
    np.save(tmp_path / "six.npy", np.hstack([x, c]))
    _h5(tmp_path / "six.h5", data=np.hstack([x, c]))
    for path in (tmp_path / "six.npy", tmp_path / "six.h5"):
        got_x, got_c = load_conditional(path, None, "6:10")
        assert got_x.shape == (40, 6) and got_c.shape == (40, 4)
        np.testing.assert_allclose(got_c, c, atol=1e-6)


def test_cond005_hdf5_condition_dataset_beside_the_data(tmp_path: Path) -> None:
    x, c = _bimodal_rows(30)
    path = _h5(tmp_path / "d.h5", x=x, cond=c, **{"labels/one": c[:, 0]})
    got_x, got_c = load_conditional(path, "/x", "/cond")
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_c, c)
    _, one = load_conditional(path, "/x", "/labels/one")  # a 1-D condition is one column
    assert one is not None and one.shape == (30, 1)


def test_cond006_bad_hdf5_conditions_are_named(tmp_path: Path) -> None:
    x, c = _bimodal_rows(30)
    bad_c = c.copy()
    bad_c[7, 2] = np.nan
    path = _h5(tmp_path / "d.h5", x=x, short=c[:20], nan=bad_c, cond=c)
    cases = {"/short": "the condition '/short' has 20 rows but the data '/x' has 30; each "
                       "sample needs its condition row",
             "/missing": "no dataset '/missing' (found: /cond, /nan, /short, /x)",
             "/nan": "d.h5 (condition /nan): 1 NaN value, first in row 7",
             "/x": "the condition dataset '/x' is the data dataset itself"}
    for cond, words in cases.items():
        with pytest.raises(DataFileError) as e:
            load_conditional(path, "/x", cond)
        assert str(e.value).startswith("d.h5") and words in str(e.value), str(e.value)


def test_cond007_non_finite_condition_names_its_csv_line(tmp_path: Path) -> None:
    x, c = _bimodal_rows(20)
    c[4, 1] = np.inf
    path = _csv(tmp_path / "inf.csv", np.hstack([x, c]), header="a,b,c,d,e,f,g,h,i,j")
    with pytest.raises(DataFileError, match=r"^inf\.csv \(condition\): 1 infinite value, first "
                                            r"in row 4 \(line 6\)$"):
        load_conditional(path, None, "6:10")


def test_cond008_expected_dim_counts_the_data_columns_only() -> None:
    raw = b"1,2,3\n4,5,6\n7,8,9\n"
    x, c = load_conditional_bytes(raw, "t.csv", None, "2", expected_dim=2)
    assert x.shape == (3, 2) and c is not None and c[:, 0].tolist() == [3, 6, 9]
    with pytest.raises(DataFileError, match="t.csv: has 1 column, expected 2"):
        load_conditional_bytes(raw, "t.csv", None, "1:", expected_dim=2)


def test_cond009_the_file_target_draws_each_row_with_its_own_condition(tmp_path: Path) -> None:
    x = np.random.default_rng(3).normal(size=(500, 3))
    path = _csv(tmp_path / "pairs.csv", np.hstack([x, 10 * x[:, :1], -x[:, 2:]]))
    cfg = RunConfig().with_changes({"target.name": "file", "target.data_path": str(path),
                                    "target.dim": 3, "target.data_cond": "3:5",
                                    "train.conditional": True})
    target = build_target(cfg)
    assert (target.dim, target.cond_dim) == (3, 2)
    xs, cs = target.sample_conditional(256, torch.Generator().manual_seed(0))
    assert xs.shape == (256, 3) and cs.shape == (256, 2)
    torch.testing.assert_close(cs, torch.cat([10 * xs[:, :1], -xs[:, 2:]], 1), atol=1e-4,
                               rtol=0)  # same rows: every x beside its own condition
    again = target.sample_conditional(256, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], xs) and torch.equal(again[1], cs)  # seeded


def test_cond010_a_conditional_file_run_without_a_condition_says_what_to_name() -> None:
    with pytest.raises(ConfigError, match=r"target\.data_cond: a conditional run on a data "
                                          r"file needs the file's condition"):
        RunConfig().with_changes({"target.name": "file", "target.data_path": "f.csv",
                                  "train.conditional": True})


# ---- the command line ---------------------------------------------------------------------

def test_cond011_cli_trains_the_6d_case_on_a_csv_and_records_it(tmp_path: Path) -> None:
    """The issue's case: the 6-D conditional WGAN-GP on the researcher's own file."""
    x, c = _bimodal_rows(4000)
    data = _csv(tmp_path / "bimodal.csv", np.hstack([x, c]), header="x0,x1,x2,x3,x4,x5,c0,c1,c2,c3")
    record = tmp_path / "run.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "gancore", "train", "--preset", "bimodal-6d-wgan-gp",
           "--data", str(data), "--cond-cols", "6:10", "--steps", "300", "--record", str(record)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["steps"] == 300 and out["state"] == "done"
    assert out["metrics"]["bimodal_dims_real"] == 2  # the file's two bimodal coordinates
    done = subprocess.run([sys.executable, "-m", "gancore", "eval", str(record)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    rec = json.loads(done.stdout)
    assert rec["steps"] == 300 and rec["frames"] >= 2
    target, train = rec["config"]["target"], rec["config"]["train"]
    assert (target["name"], target["dim"], target["data_cond"]) == ("file", 6, "6:10")
    assert train["conditional"] is True and Path(target["data_path"]) == data


def test_cond012_cli_trains_on_hdf5_data_with_a_cond_dataset(tmp_path: Path, capsys) -> None:
    x, c = _bimodal_rows(1000)
    path = _h5(tmp_path / "d.h5", x=x, cond=c)
    record = tmp_path / "h5run.h5"
    assert main(["train", "--preset", "bimodal-6d-gan", "--data", f"{path}:/x",
                 "--cond-dataset", "/cond", "--steps", "60", "--record", str(record)]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 60
    assert main(["eval", str(record)]) == 0
    target = json.loads(capsys.readouterr().out)["config"]["target"]
    assert (target["data_dataset"], target["data_cond"]) == ("/x", "/cond")


def test_cond013_cli_refuses_each_bad_condition_in_one_line(tmp_path: Path, capsys) -> None:
    x, c = _bimodal_rows(50)
    csv = _csv(tmp_path / "b.csv", np.hstack([x, c]))
    h5 = _h5(tmp_path / "b.h5", x=x, cond=c[:49])
    base = ["train", "--preset", "bimodal-6d-wgan-gp", "--steps", "1"]
    cases = [
        (["--data", str(csv)], "the run is conditional: name the condition of"),
        (["--data", str(csv), "--cond-cols", "6:11"], "b.csv: condition columns '6:11'"),
        (["--data", str(csv), "--cond-dataset", "/cond"], "is not an HDF5 file; give its "
                                                          "condition columns with --cond-cols"),
        (["--cond-cols", "6:10"], "name the condition of a --data file"),
        (["--data", f"{h5}:/x", "--cond-dataset", "cond"], "the condition '/cond' has 49 rows "
                                                           "but the data '/x' has 50"),
        (["--data", str(csv), "--cond-cols", "6:10", "--cond-dataset", "/c"], "not allowed "
                                                                              "with argument"),
    ]
    for extra, words in cases:
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1, err


def test_cond014_cli_without_conditional_preset_trains_a_conditional_run(tmp_path: Path,
                                                                         capsys) -> None:
    """--cond-cols makes any preset conditional; --set train.conditional=false drops it."""
    x, c = _bimodal_rows(300)
    csv = _csv(tmp_path / "b.csv", np.hstack([c, x]))
    args = ["train", "--preset", "ring8-reference", "--data", str(csv), "--cond-cols", ":4",
            "--steps", "5", "--record"]
    assert main([*args, str(tmp_path / "a.h5")]) == 0
    assert main([*args, str(tmp_path / "b.h5"), "--set", "train.conditional=false"]) == 0
    capsys.readouterr()
    for name, conditional in (("a.h5", True), ("b.h5", False)):
        assert main(["eval", str(tmp_path / name)]) == 0
        cfg = json.loads(capsys.readouterr().out)["config"]
        assert cfg["train"]["conditional"] is conditional and cfg["target"]["dim"] == 6


# ---- the page's upload --------------------------------------------------------------------

def test_cond015_upload_stores_data_then_condition_whatever_the_file_order(tmp_path: Path) -> None:
    x, c = _bimodal_rows(100)
    raw = _csv(tmp_path / "b.csv", np.hstack([c, x]), header="c0,c1,c2,c3,a,b,d,e,f,g")
    parsed = parse_upload(raw.read_bytes(), "b.csv", tmp_path / "up.npy", max_bytes=LIMIT,
                          cond="0:4")
    assert parsed == (100, 6, 4)
    saved = SavedUpload("up.npy", *parsed)
    changes = saved.config_changes()
    assert changes["target.data_cond"] == "6:10" and changes["train.conditional"] is True
    assert saved.describe("C:\\me\\b.csv") == "b.csv: 100 rows × 6 columns, conditioned on 4 more"
    got_x, got_c = load_conditional(tmp_path / "up.npy", None, changes["target.data_cond"])
    np.testing.assert_allclose(got_x, x, atol=1e-5)
    np.testing.assert_allclose(got_c, c, atol=1e-5)
    plain = SavedUpload("p.npy", 100, 10).config_changes()
    assert plain["target.data_cond"] is None and plain["train.conditional"] is False


def test_cond016_upload_of_hdf5_with_its_cond_dataset(tmp_path: Path) -> None:
    x, c = _bimodal_rows(80)
    raw = _h5(tmp_path / "d.h5", data=x, cond=c).read_bytes()
    assert parse_upload(raw, "d.h5", tmp_path / "up.npy", max_bytes=LIMIT,
                        cond="/cond") == (80, 6, 4)
    np.testing.assert_array_equal(np.load(tmp_path / "up.npy"), np.hstack([x, c]))


@pytest.mark.parametrize(("cond", "words"), [
    ("6:12", "the slice '6:12' is out of range"),
    ("6;10", "'6;10' is not a column index"),
    ("0:10", "leaving none for the data"),
    ("6:10,7", "column 7 is named twice"),
    ("/cond", "name an HDF5 dataset, but this is not an HDF5 file"),
])
def test_cond017_bad_upload_conditions_refused_and_nothing_kept(tmp_path: Path, cond: str,
                                                               words: str) -> None:
    x, c = _bimodal_rows(20)
    raw = _csv(tmp_path / "b.csv", np.hstack([x, c])).read_bytes()
    folder = tmp_path / "uploads"
    folder.mkdir()
    with pytest.raises(DataFileError) as e:
        parse_upload(raw, "b.csv", folder / "up.npy", max_bytes=LIMIT, cond=cond)
    assert str(e.value).startswith("b.csv: condition columns") and words in str(e.value)
    assert list(folder.iterdir()) == []


def test_cond018_bad_hdf5_upload_conditions_refused(tmp_path: Path) -> None:
    x, c = _bimodal_rows(20)
    c[3, 0] = np.nan
    raw = _h5(tmp_path / "d.h5", data=x, cond=c, short=c[:5]).read_bytes()
    for cond, words in (("/short", "has 5 rows but the data '/data' has 20"),
                        ("/cond", "d.h5 (condition /cond): 1 NaN value, first in row 3")):
        with pytest.raises(DataFileError, match=words.replace("(", r"\(").replace(")", r"\)")):
            parse_upload(raw, "d.h5", tmp_path / "up.npy", max_bytes=LIMIT, cond=cond)


def test_cond019_play_page_upload_with_condition_trains_a_conditional_run(tmp_path: Path) -> None:
    """The upload callback itself, with the page's condition field: the run becomes conditional on
    the uploaded file and its worker trains it; a bad condition leaves the run alone."""
    from app import ids, runs
    from app.main import create_app
    from tests.helpers import wait_for
    from tests.test_app_callbacks import call

    app = create_app(tmp_path / "runs", per_session=4, total=4, spare=False)
    play = next(m for name, m in sys.modules.items() if name.endswith("pages.play"))
    try:
        run_data, _ = call(app, play.open_run, play.resolve_boot(preset="bimodal-6d-gan"))
        x, c = _bimodal_rows(500)
        contents = "data:text/csv;base64," + base64.b64encode(
            _csv(tmp_path / "b.csv", np.hstack([x, c])).read_bytes()).decode()
        outputs = [{}, [{"id": ids.field("target.name"), "property": "value"}], {}, {}]
        bad = call(app, play.upload, contents, "b.csv", run_data, "6:11", outputs=outputs)
        assert bad[0] is play.no_update and "Upload refused" in str(bad[3])
        assert "condition columns '6:11'" in str(bad[2])
        new_run, _, info, note = call(app, play.upload, contents, "b.csv", run_data, "6:10",
                                      outputs=outputs)
        assert "500 rows × 6 columns, conditioned on 4 more" in str(info), note
        cfg = RunConfig.from_json(new_run["config"])
        assert cfg.train.conditional and cfg.target.data_cond == "6:10"
        assert cfg.target.name == "file" and cfg.target.dim == 6
        reg = runs.registry()
        reg.command(reg.get(new_run["run"]).owner, new_run["run"], "resume")
        assert wait_for(lambda: reg.status(new_run["run"])["step"] > 0, what="training steps")
        assert reg.status(new_run["run"])["state"] in ("running", "paused")
    finally:
        runs.registry().close()

