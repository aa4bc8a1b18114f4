"""Play-page callbacks called directly (real registry, real workers): what the page answers."""

import contextvars
import sys

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from app import forms, ids, play_boot, runs, session
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
    assert play_boot.url_query(PRESETS["goodfellow-1d"].config(), "goodfellow-1d") == \
        "?preset=goodfellow-1d"
    assert play_boot.url_query(cfg, "goodfellow-1d") == f"?cfg={cfg.to_url()}"


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
    *_, note = call(app, play.apply_form, [5e-4, "64"], child, sid=BOB,
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


def test_cb006_bad_fields_all_marked_and_named_good_change_applied(page):
    app, play = page
    run_data, _ = call(app, play.open_run, play.resolve_boot(preset="ring8-reference"))
    paths = ["opt_d.lr", "latent.dim", "opt_g.lr"]  # Latent noise starts collapsed
    outputs = field_outputs(paths)
    new_run, _, errors, classes, note = call(
        app, play.apply_form, [-1, 0, 4e-4], run_data, outputs=outputs)
    # the good change went to the run, live
    assert new_run["run"] == run_data["run"]
    assert runs.registry().get(run_data["run"]).config.opt_g.lr == 4e-4
    # both bad fields are marked, each with its reason (the browser opens their sections:
    # tests/browser/test_forms.py)
    assert classes == ["field invalid", "field invalid", "field"]
    assert "greater than 0" in errors[0] and "greater than or equal to 1" in errors[1]
    words = str(note)
    assert "learning rate of G" in words and "Not applied" in words
    assert "learning rate of D" in words and "latent dimension" in words
    # fixed (back to the run's values): the marks and the refusal go
    shown = note.to_plotly_json()  # as the browser sends the notice back
    out = call(app, play.apply_form, [1e-3, 2, 4e-4], new_run, shown, outputs=outputs)
    assert out[2] == ["", "", ""] and out[3] == ["field"] * 3 and out[4] == ""
    # ...but a notice that is not the form's (a preset's news) is left alone
    info = play._notice("Preset ring8-reference: ...", "info").to_plotly_json()
    out = call(app, play.apply_form, [1e-3, 2, 4e-4], new_run, info, outputs=outputs)
    assert out[4] is play.no_update


def test_cb007_header_says_when_the_run_is_no_longer_its_preset(page):
    app, play = page
    name = "ring8-vanilla-collapse"
    run_data, _ = call(app, play.open_run, play.resolve_boot(preset=name))
    watch, value, _ = call(app, play.preset_header, run_data)
    assert watch == PRESETS[name].watch and value is play.no_update
    paths = ["opt_d.lr"]
    changed, *_ = call(app, play.apply_form, [PRESETS[name].config().opt_d.lr * 2], run_data,
                       outputs=field_outputs(paths))
    watch, value, placeholder = call(app, play.preset_header, changed)
    assert f"{name} (changed: learning rate of D)" in str(watch)
    assert value is None and placeholder == f"{name} (changed)"
    # changed back: the preset again, promise and all
    back, *_ = call(app, play.apply_form, [PRESETS[name].config().opt_d.lr], changed,
                    outputs=field_outputs(paths))
    assert call(app, play.preset_header, back)[0] == PRESETS[name].watch


def test_cb008_a_restart_says_it_starts_from_step_0_and_where_the_old_run_is(page):
    app, play = page
    run_data, _ = call(app, play.open_run, play.resolve_boot(preset="ring8-reference"))
    runs.registry().command(ALICE, run_data["run"], "step", which="both", n=7)
    paths = ["generator.hidden"]
    child, *_, note = call(app, play.apply_form, ["64"], run_data, outputs=field_outputs(paths))
    words = str(note)
    assert "forked at" not in words
    assert "from step 0" in words and "hidden layer widths of G" in words
    assert f"previous run {run_data['run']} (7 steps) is kept in the library" in words
    label = str(call(app, play.run_label, child))
    assert f"child of {run_data['parent'] or run_data['run']}" in label
    assert "restarted from step 0 after its 7 steps" in label


def test_cb009_navigation_marks_the_page_shown_and_unknown_pages_answer_404(page):
    app, _ = page
    from app.components import nav

    assert [label for _, label, *_ in nav.PAGES] == \
        ["Play", "Compare", "Lessons", "Draw", "Library", "Class"]
    assert nav.current("/") == "play" and nav.current("/replay") == "library"
    assert nav.current("/class") == "class" and nav.current("/nope") is None
    marks = nav.mark_current("/lessons")
    assert marks.count("nav-link current") == 1 and marks[2] == "nav-link current"
    client = app.server.test_client()
    for path in ("/", "/compare", "/lessons", "/draw", "/library"):
        assert client.get(path).status_code == 200, path
    for path in ("/no-such-page", "/compare/extra", "/404"):
        answer = client.get(path)
        assert answer.status_code == 404 and b"Traceback" not in answer.data, path
    assert client.get("/_dash-layout").status_code == 200  # Dash's own routes are untouched
