"""The form's rules (app/forms.py) without a server: every bad field named, the good ones kept."""

from app import forms
from gancore.teach.presets import PRESETS

BASE = PRESETS["ring8-reference"].config()


def test_fm001_one_bad_field_does_not_hold_back_the_good_ones():
    cfg, errors = forms.form_config(BASE, {"opt_d.lr": -1, "opt_g.lr": 3e-4,
                                           "train.batch_size": 128})
    assert set(errors) == {"opt_d.lr"} and "greater than 0" in errors["opt_d.lr"]
    assert cfg.opt_g.lr == 3e-4 and cfg.train.batch_size == 128
    assert cfg.opt_d.lr == BASE.opt_d.lr  # the bad value is refused, the old one stays


def test_fm002_every_bad_field_is_named_whatever_kind_of_fault():
    # an empty number (caught while reading the widget) must not hide a bound another breaks
    _, errors = forms.form_config(BASE, {"latent.dim": None, "opt_d.lr": -1})
    assert set(errors) == {"latent.dim", "opt_d.lr"}
    # a field's bound must not hide a rule on the whole config (G's size), nor the reverse
    _, errors = forms.form_config(BASE, {"generator.hidden": "1024, 1024, 1024",
                                         "opt_d.lr": -1, "opt_g.lr": 2e-3})
    assert set(errors) == {"generator.hidden", "opt_d.lr"}
    assert "at most 2,000,000" in errors["generator.hidden"]  # the reason whole, "; " and all


def test_fm003_a_rule_broken_by_two_changes_together_refuses_the_one_it_names():
    cfg, errors = forms.form_config(BASE, {"train.batch_size": 250, "remedies.packing": 4})
    assert set(errors) == {"train.batch_size"} and "multiple of" in errors["train.batch_size"]
    assert cfg.remedies.packing == 4 and cfg.train.batch_size == BASE.train.batch_size


def test_fm004_fixed_fields_give_the_config_back_with_no_errors():
    cfg, errors = forms.form_config(BASE, {"opt_d.lr": BASE.opt_d.lr, "latent.dim": 2})
    assert errors == {} and cfg == BASE


def test_fm005_fields_read_as_words_in_a_notice():
    assert forms.field_title("opt_d.lr") == "learning rate of D"
    assert forms.field_title("generator.hidden") == "hidden layer widths of G"
    assert forms.field_title("train.batch_size") == "batch size"
    assert forms.section_of("latent.dim") == "latent" and forms.section_of("model") == ""


def test_fm006_the_header_names_what_an_upload_or_a_drawing_changed():
    from app.components.controls import preset_standing

    name = "ring8-vanilla-collapse"
    preset = PRESETS[name].config()
    uploaded = preset.with_changes({"target.name": "file", "target.data_path": "upload-ab12.csv",
                                    "target.dim": 2})
    watch, changed = preset_standing(uploaded, name)
    assert changed == name and f"{name} (changed: an uploaded data file)" in str(watch)
    drawn = preset.with_changes({"target.name": "points", "target.points": [[0.0, 1.0]],
                                 "opt_d.lr": preset.opt_d.lr * 3})
    assert "(changed: learning rate of D, drawn points)" in str(preset_standing(drawn, name)[0])
    # the exact preset keeps its promise; a config of no preset claims none
    assert preset_standing(preset, None) == (PRESETS[name].watch, None)
    assert preset_standing(drawn, None)[1] is None
