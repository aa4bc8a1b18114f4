"""Play-page callbacks called directly (real registry, real workers): what the page answers."""

import contextvars
import sys

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from app import forms, ids, runs, session
from gancore.config import RunConfig
from gancore.teach.presets import PRESETS

ALICE, BOB = "alice-session-0123456789", "bob-session-0123456789ab"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from app.main import create_app

    # Each test opens its own runs and leaves them running: room for all of them, so no test
    # depends on whether an earlier test's worker has exited yet (limits: test_app_runs.py).
    app = create_app(tmp_path_factory.mktemp("cb") / "runs", per_session=8, total=12, spare=False)
    module = next(m for name, m in sys.modules.items() if name.endswith("pages.play"))
    yield app, module
    runs.registry().close()


def call(app, fn, *args, sid=ALICE, trigger=None, outputs=None):
    """Run a callback body as Dash would: inside a request with a session cookie and a context."""
    def run():
        context_value.set(AttributeDict(
            triggered_inputs=[{"prop_id": f"{trigger}.value", "value": None}] if trigger else [],
            outputs_list=outputs or [], inputs_list=[], states_list=[]))
        cookie = f"ganscope_session={session.cookie_value(sid)}"  # signed, as the server issues
        with app.server.test_request_context(headers={"Cookie": cookie}):
            return getattr(fn, "__wrapped__", fn)(*args)
    return contextvars.copy_context().run(run)


def field_outputs(paths):
    fields = [{"id": ids.field(p), "property": "value"} for p in paths]
    errs = [{"id": {"type": ids.FIELD_ERROR, "path": ids.key(p)}, "property": "children"}
            for p in paths]
    rows = [{"id": {"type": ids.FIELD_ROW, "path": ids.key(p)}, "property": "className"}
            for p in paths]
    return [{}, fields, errs, rows, {}]


def test_cb001_url_bad_config_or_preset_falls_back_with_error(page):
    _, play = page
    boot = play.resolve_boot(cfg="not-a-config")
    assert "cannot run" in boot["error"] and boot["preset"] == "ring8-reference"
    boot = play.resolve_boot(preset="nope")
    assert "Unknown preset 'nope'" in boot["error"]
    cfg = PRESETS["goodfellow-1d"].config().with_changes({"opt_d.lr": 3e-4})
    boot = play.resolve_boot(cfg=cfg.to_url(), play="1")
    assert boot["error"] == "" and boot["play"] and RunConfig.from_json(boot["config"]) == cfg
    assert play.url_query(PRESETS["goodfellow-1d"].config(), "goodfellow-1d") == \
        "?preset=goodfellow-1d"
    assert play.url_query(cfg, "goodfellow-1d") == f"?cfg={cfg.to_url()}"


def test_cb002_form_marks_invalid_fields_and_sends_nothing(page):
    app, play = page
    run_data, _ = call(app, play.open_run, play.resolve_boot())
    paths = ["opt_d.lr", "train.batch_size", "generator.hidden"]
    before = runs.registry().get(run_data["run"]).config
    out = call(app, play.apply_form, [-1, 256, "128, 128, 128"], run_data,
               outputs=field_outputs(paths))
    new_run, _, errors, classes, note = out
    assert "greater than 0" in errors[0] and classes[0] == "field invalid"
    assert errors[1] == "" and "Not applied" in str(note)
    assert runs.registry().get(run_data["run"]).config == before
    out = call(app, play.apply_form, [1e-3, 256, "128, x"], run_data, outputs=field_outputs(paths))
    assert "comma-separated whole numbers" in out[2][2]


def test_cb003_live_change_applies_restart_change_forks(page):
    app, play = page
    run_data, _ = call(app, play.open_run, play.resolve_boot(preset="ring8-reference"))
    paths = ["opt_d.lr", "generator.hidden"]
    new_run, *_, note = call(app, play.apply_form, [2e-4, "128, 128, 128"], run_data,
                             outputs=field_outputs(paths))
    assert new_run["run"] == run_data["run"] and "Applied live" in str(note)
    assert "cfg=" in new_run["url"]
    child, *_, note = call(app, play.apply_form, [2e-4, "64"], new_run,
                           outputs=field_outputs(paths))
    assert child["parent"] == run_data["run"] and "child run" in str(note)
    # another session is told it cannot control the run
    _, _, _, _, note = call(app, play.apply_form, [5e-4, "64"], child, sid=BOB,
                            outputs=field_outputs(paths))
    assert "another browser session" in str(note)
    assert "another browser session" in str(call(app, play.play_pause, 1, child, sid=BOB))


def test_cb004_target_switch_brings_its_defaults(page):
    app, play = page
    run_data, _ = call(app, play.open_run, play.resolve_boot())
    paths = ["target.name", "target.std", "target.modes"]
    trigger = '{"path":"target__name","type":"field"}'
    out = call(app, play.apply_form, ["grid", 0.02, 8], run_data, trigger=trigger,
               outputs=field_outputs(paths))
    new_run, values = out[0], out[1]
    assert values[1] == forms.target_defaults("grid")["target.std"]
    assert RunConfig.from_json(new_run["config"]).target.name == "grid"


def test_cb005_bad_upload_refused_run_untouched(page):
    app, play = page
    run_data, _ = call(app, play.open_run, play.resolve_boot())
    import base64
    contents = "data:text/csv;base64," + base64.b64encode(b"1,2\nx,4\n").decode()
    out = call(app, play.upload, contents, "bad.csv", run_data,
               outputs=[{}, [{"id": ids.field("target.name"), "property": "value"}], {}, {}])
    assert out[0] is play.no_update and "Upload refused" in str(out[3]) and "bad.csv" in str(out[3])
