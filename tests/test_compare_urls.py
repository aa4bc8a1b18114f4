"""Compare links, config differences and share links (app.comparison): pure functions."""

import base64
import json
import zlib

import pytest

from app.comparison import (
    DEFAULT_PAIR,
    MAX_RUNS,
    compare_share_query,
    config_diff,
    parse_compare,
    play_share_query,
    show_value,
)
from app.components.fork_share import fork_config, parse_changes
from gancore.config import ConfigError, RunConfig
from gancore.teach.presets import PRESETS

VAE = RunConfig().with_changes({"model": "vae", "target.name": "two_points", "train.seed": 9})


def query_params(query: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in query.lstrip("?").split("&"))


def test_cu001_presets_in_order_with_their_names():
    entries, errors = parse_compare("ring8-vanilla-collapse,ring8-unrolled", "")
    assert errors == []
    assert [e.label for e in entries] == ["ring8-vanilla-collapse", "ring8-unrolled"]
    assert entries[1].config == PRESETS["ring8-unrolled"].config()


def test_cu002_full_configs_survive_the_link_and_keep_a_matching_preset_name():
    gan = PRESETS["two-points"].config()
    entries, errors = parse_compare("", f"{gan.to_url()}~{VAE.to_url()}")
    assert errors == []
    assert [e.config for e in entries] == [gan, VAE]
    assert entries[0].label == "two-points" and entries[1].label == "VAE 2"


def test_cu003_bad_parts_are_named_and_left_out():
    good = PRESETS["circle"].config().to_url()
    entries, errors = parse_compare("nope", f"garbage!~{good}")
    assert [e.label for e in entries] == ["circle"]
    assert any("unknown preset 'nope'" in e for e in errors)
    assert any("config 1 in the link cannot run: config link is corrupted" in e for e in errors)


def test_cu004_a_config_that_decodes_but_cannot_run_names_its_field():
    raw = json.dumps({"latent": {"dim": 100000}}).encode()  # well-formed link, invalid value
    bad = base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")
    _, errors = parse_compare("", bad)
    assert any("latent.dim" in e and "less than or equal to 256" in e for e in errors)


def test_cu005_too_many_runs_keep_the_first_four():
    names = list(PRESETS)[:6]
    entries, errors = parse_compare(",".join(names), "")
    assert len(entries) == MAX_RUNS
    assert [e.preset for e in entries] == names[:MAX_RUNS]
    assert any(f"at most {MAX_RUNS}" in e for e in errors)


def test_cu006_nothing_usable_falls_back_to_the_default_pair():
    entries, errors = parse_compare("x,y", "zzz")
    assert [e.preset for e in entries] == list(DEFAULT_PAIR)
    assert errors[-1].startswith("nothing in this link can run")
    assert parse_compare("", "")[1] == []  # a bare /compare is no error


def test_cu007_same_seed_gives_every_run_the_first_seed():
    entries, errors = parse_compare("ring8-vanilla-collapse,grid25-vanilla", "", "same")
    assert errors == []
    assert {e.config.train.seed for e in entries} == {3}
    assert entries[1].preset is None and "seed 3" in entries[1].label
    _, errors = parse_compare("circle", "", "banana")
    assert any("only seed=same" in e for e in errors)


def test_cu008_diff_lists_only_the_fields_that_differ():
    a = PRESETS["ring8-vanilla-collapse"].config()
    b = a.with_changes({"remedies.unrolled_steps": 5})
    assert config_diff([a, b]) == [("remedies.unrolled_steps", [0, 5])]
    assert config_diff([a, a]) == []
    rows = dict(config_diff([a, b, VAE]))
    assert rows["model"] == ["gan", "gan", "vae"] and "target.name" in rows
    assert show_value([64, 64]) == "[64, 64]" and show_value(True) == "on"
    assert show_value(0.0002) == "0.0002" and show_value(None) == "—"


def test_cu009_share_links_round_trip_configs_and_seeds():
    changed = PRESETS["circle"].config().with_changes({"opt_d.lr": 3e-4, "train.seed": 77})
    params = query_params(play_share_query(changed, "circle"))
    assert "preset" not in params  # no longer the preset: the config alone
    assert RunConfig.from_url(params["cfg"]) == changed
    params = query_params(play_share_query(PRESETS["circle"].config(), "circle"))
    assert params["preset"] == "circle"
    assert RunConfig.from_url(params["cfg"]) == PRESETS["circle"].config()

    presets = [PRESETS[n].config() for n in DEFAULT_PAIR]
    assert compare_share_query(presets) == f"?presets={','.join(DEFAULT_PAIR)}"
    query = compare_share_query([presets[0], changed, VAE], same=True)
    params = query_params(query)
    assert params["seed"] == "same"
    entries, errors = parse_compare(params.get("presets"), params["cfgs"])
    assert errors == [] and [e.config for e in entries] == [presets[0], changed, VAE]


def test_cu010_fork_changes_parse_and_a_bad_change_is_named():
    base = PRESETS["two-points"].config()
    assert parse_changes("opt_d.lr=0.0002; generator.hidden=[64, 64]") == {
        "opt_d.lr": 0.0002, "generator.hidden": [64, 64]}
    assert fork_config(base, "loss.name=hinge").loss.name == "hinge"
    with pytest.raises(ConfigError, match="opt_d.lrr: unknown config key"):
        fork_config(base, "opt_d.lrr=1")
    with pytest.raises(ConfigError, match="loss.name"):
        fork_config(base, "loss.name=nonsense")
    with pytest.raises(ConfigError, match="expected key=value"):
        fork_config(base, "opt_d.lr")
    with pytest.raises(ConfigError, match="nothing to compare"):
        fork_config(base, f"train.seed={base.train.seed}")
    with pytest.raises(ConfigError, match="type the change"):
        fork_config(base, "  ")
