"""The run config: it round-trips through JSON and links, rejects bad values with a one-line message
naming the field and what is allowed, tags every field live or restart, and documents itself."""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gancore.cli import config_reference
from gancore.config import (
    MAX_CONFIG_BYTES,
    MAX_LINK_CHARS,
    MAX_PARAMS,
    ConfigError,
    LossName,
    RunConfig,
    is_live,
    iter_fields,
    needs_restart,
)
from gancore.data.targets import TARGETS
from gancore.teach.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
FIELDS = {path: (info, ann) for path, info, ann in iter_fields()}
CONFIGS = {"default": RunConfig(), **{name: p.config() for name, p in PRESETS.items()}}
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def _link(data: Any) -> str:
    """A link as to_url builds it, from any JSON value."""
    return _link_of(json.dumps(data).encode())


def _link_of(raw: bytes) -> str:
    """A link as to_url builds it, from any bytes."""
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


# --- serialisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_json_round_trip(name: str) -> None:
    cfg = CONFIGS[name]
    back = RunConfig.from_json(cfg.to_json())
    assert back == cfg
    assert back.to_json() == cfg.to_json()


@pytest.mark.parametrize("name", CONFIGS)
def test_url_round_trip_uses_only_url_safe_characters(name: str) -> None:
    cfg = CONFIGS[name]
    text = cfg.to_url()
    assert URL_SAFE.fullmatch(text), text
    assert RunConfig.from_url(text) == cfg


def test_default_link_is_short() -> None:
    text = RunConfig().to_url()
    assert len(text) < 40, text
    assert RunConfig.from_url(text) == RunConfig()


def test_every_preset_has_its_own_link() -> None:
    links = {name: p.config().to_url() for name, p in PRESETS.items()}
    assert len(set(links.values())) == len(links), links


@pytest.mark.parametrize("text", ["", "not-a-config", "eNqrrgUAAXUA", "AAAA", "%%%",
                                  _link({"foo": 1}), _link([1, 2])])
def test_corrupted_link_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="corrupted|foo: unknown config key"):
        RunConfig.from_url(text)


def test_truncated_link_is_corrupted_not_too_large() -> None:
    with pytest.raises(ConfigError, match="corrupted"):
        RunConfig.from_url(RunConfig().with_changes({"train.seed": 5}).to_url()[:-6])


def test_link_longer_than_any_config_is_refused_before_decoding() -> None:
    with pytest.raises(ConfigError, match=r"^config link is too large \(a config is at most "
                                          r"512 KB\)$"):
        RunConfig.from_url("A" * (MAX_LINK_CHARS + 1))


def test_link_that_inflates_past_the_bound_is_refused() -> None:
    """Valid JSON (`{}` padded with blanks) one byte past MAX_CONFIG_BYTES, in a 1 KB link: it is
    inflated only up to the bound."""
    text = _link_of(b"{" + b" " * (MAX_CONFIG_BYTES - 1) + b"}")
    assert len(text) < 2000
    with pytest.raises(ConfigError, match="config link is too large"):
        RunConfig.from_url(text)


def test_largest_legitimate_config_fits_the_link_bounds() -> None:
    """The 'points' target at its 5000-point bound with the longest coordinates JSON writes
    (17 digits, sign, exponent), and every list at its bound: the case MAX_CONFIG_BYTES is for."""
    rng = np.random.default_rng(0)
    pts = (-rng.uniform(1e-5, 9.9e-5, (5000, 2))).tolist()
    values = (-rng.uniform(1e-5, 9.9e-5, 64)).tolist()
    cfg = RunConfig().with_changes({
        "target.name": "points", "target.points": pts, "target.positions": values,
        "target.widths": [-v for v in values], "target.weights": [-v for v in values],
        "generator.hidden": [1] * 8, "discriminator.hidden": [1] * 8})
    text = cfg.to_url()
    assert len(text) <= MAX_LINK_CHARS
    assert RunConfig.from_url(text) == cfg
    assert len(cfg.to_json()) < MAX_CONFIG_BYTES * 0.6  # the bound keeps its margin


def test_link_with_a_bad_value_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"latent\.dim.*256"):
        RunConfig.from_url(_link({"latent": {"dim": 999}}))


# --- validation messages ---------------------------------------------------------------------


BAD_CHANGES = [
    pytest.param({"latent.dim": 300}, ["latent.dim", "256", "300"], id="latent.dim too big"),
    pytest.param({"train.batch_size": 0}, ["train.batch_size", "greater than or equal to 1"],
                 id="batch_size zero"),
    pytest.param({"opt_d.lr": -1}, ["opt_d.lr", "greater than 0"], id="negative lr"),
    pytest.param({"opt_d.lr": math.nan}, ["opt_d.lr", "finite"], id="nan lr"),
    pytest.param({"opt_g.lr": math.inf}, ["opt_g.lr", "finite"], id="inf lr"),
    pytest.param({"generator.hidden": [2000]}, ["generator.hidden", "1024"], id="too wide"),
    pytest.param({"generator.hidden": [64] * 9}, ["generator.hidden", "8 hidden layers"],
                 id="too deep"),
    pytest.param({"loss.name": "nope"}, ["loss.name", "nope", *get_args(LossName)],
                 id="unknown loss"),
    pytest.param({"foo.bar": 1}, ["foo.bar", "unknown config key"], id="unknown section"),
    pytest.param({"train.nope": 1}, ["train.nope", "unknown config key"], id="unknown leaf"),
    pytest.param({"latent.dim.x": 1}, ["latent.dim.x", "unknown config key"], id="below a leaf"),
    pytest.param({"train.batch_size": 30, "remedies.packing": 4},
                 ["train.batch_size", "remedies.packing", "multiple", "4"], id="packing"),
    pytest.param({"generator.hidden": [1024] * 8}, ["generator.hidden", "parameters",
                                                     f"{MAX_PARAMS:,}"], id="too many params"),
    pytest.param({"discriminator.hidden": [1024] * 3, "remedies.packing": 8},
                 ["discriminator.hidden", "parameters"], id="packed D too big"),
    pytest.param({"target.name": "nope"}, ["target.name", "nope", *TARGETS], id="unknown target"),
    pytest.param({"target.name": "file"}, ["target.data_path", "file"], id="file without path"),
    pytest.param({"target.name": "points"}, ["target.points"], id="points without points"),
    pytest.param({"target.points": [[0.0, 1.0, 2.0]]}, ["target.points", "2 coordinates"],
                 id="3-D point"),
    pytest.param({"frames.projection": "1;2"}, ["frames.projection", "pca"], id="projection"),
    pytest.param({"frames.projection": "²,1"}, ["frames.projection", "pca"],
                 id="projection with a non-ASCII digit"),
    pytest.param({"latent.dim": 10**5000}, ["latent.dim", "256"], id="5000-digit integer"),
    pytest.param({"target.name": "a\nb"}, ["target.name"], id="newline in a name"),
]


@pytest.mark.parametrize(("changes", "words"), BAD_CHANGES)
def test_bad_value_names_field_and_allowed_range(changes: dict[str, Any],
                                                 words: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        RunConfig().with_changes(changes)
    msg = str(exc.value)
    for word in words:
        assert word in msg, f"{word!r} missing from {msg!r}"
    assert "\n" not in msg
    assert len(msg) < 600, msg


@pytest.mark.parametrize("changes", [
    {"latent.dim": 256}, {"train.batch_size": 4096}, {"generator.hidden": [1024]},
    {"generator.hidden": []}, {"opt_d.lr": 10.0}, {"loss.name": "wgan_gp"},
    {"train.batch_size": 32, "remedies.packing": 4}, {"frames.projection": " 3 , 0 "},
    {"target.name": "points", "target.points": [[0.0, 1.0]]},
    {"target.name": "file", "target.data_path": "points.csv"},
    {"generator.hidden": [512] * 8},
])
def test_values_at_the_limits_are_accepted(changes: dict[str, Any]) -> None:
    cfg = RunConfig().with_changes(changes)
    assert cfg != RunConfig()
    assert RunConfig.from_json(cfg.to_json()) == cfg


def test_projection_is_normalised() -> None:
    assert RunConfig().with_changes({"frames.projection": " 3 , 0 "}).frames.projection == "3,0"


def test_bad_json_and_bad_dict_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="JSON"):
        RunConfig.from_json("{bad")
    with pytest.raises(ConfigError, match="JSON"):
        RunConfig.from_json(b"\xff\xfe{")
    with pytest.raises(ConfigError, match=r"train\.foo: unknown config key"):
        RunConfig.from_dict({"train": {"foo": 1}})
    with pytest.raises(ConfigError, match=r"latent\.dim"):
        RunConfig.from_json('{"latent": {"dim": 0}}')


# --- fuzzing every field ---------------------------------------------------------------------

# Built lazily: hypothesis repr()s its strategies, and a 5000-digit int has no repr.
HUGE = st.sampled_from([5000, 400, 63, 31]).flatmap(
    lambda e: st.sampled_from([10**e, -(10**e), 10**e + 1]))
NUMBERS = st.one_of(st.integers(), st.floats(), HUGE,
                    st.sampled_from([1e308, -1e308, 5e-324, -0.0]))
SCALARS = st.one_of(NUMBERS, st.text(max_size=12), st.booleans(), st.none())
ANYTHING = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5), max_leaves=16)


def _bounds(path: str) -> list[Any]:
    info, _ = FIELDS[path]
    return [getattr(m, k) for m in info.metadata for k in ("ge", "gt", "le", "lt")
            if getattr(m, k, None) is not None]


def _near_valid(path: str) -> st.SearchStrategy[Any]:
    """Values close to what the field takes: its choices, its default, its bounds and their
    neighbours, and lists of widths or points, so both accepted and rejected edges are hit."""
    info, ann = FIELDS[path]
    default = info.get_default(call_default_factory=True)
    near: list[Any] = [default]
    for b in _bounds(path):
        near += [b, b - 1, b + 1, b * 0.5, b + 1e-9, b - 1e-9]
    choices = [a for a in get_args(ann) if isinstance(a, str)]
    if path == "target.name":
        choices = [n for n in TARGETS if n not in ("file", "points")]  # these need a 2nd field
    if path == "frames.projection":
        choices = ["pca", "0,1", " 2 , 1 ", "1,1", "0,1,2", "²,1", "", "PCA"]
    strategies = [st.sampled_from(near)]
    if choices:
        strategies.append(st.sampled_from(choices))
    strategies += [
        st.lists(st.integers(-2, 1100), max_size=9),
        st.lists(st.lists(st.floats(-2e3, 2e3), min_size=1, max_size=3), min_size=1, max_size=4),
    ]
    return st.one_of(*strategies)


def _value_for(path: str) -> st.SearchStrategy[Any]:
    near = _near_valid(path)
    return st.one_of(near, near, ANYTHING, st.lists(NUMBERS, max_size=6),
                     st.lists(st.lists(NUMBERS, max_size=3), max_size=4))


def _apply(changes: dict[str, Any]) -> RunConfig | None:
    """Apply the changes; a rejection must be a one-line ConfigError naming a changed field, an
    acceptance a config that survives JSON, links and re-validation unchanged."""
    try:
        cfg = RunConfig().with_changes(changes)
    except ConfigError as e:
        msg = str(e)
        assert any(path in msg for path in changes), f"{msg!r} names none of {list(changes)}"
        assert "\n" not in msg, msg
        return None
    assert RunConfig.from_json(cfg.to_json()) == cfg
    assert RunConfig.from_url(cfg.to_url()) == cfg
    assert RunConfig.from_dict(cfg.model_dump()) == cfg
    proj = cfg.frames.projection
    assert proj == "pca" or re.fullmatch(r"[0-9]+,[0-9]+", proj), proj  # what the probes parse
    return cfg


@pytest.mark.parametrize("path", list(FIELDS))
def test_fuzz_one_field(path: str) -> None:
    accepted: list[bool] = []

    @settings(max_examples=35, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(value=_value_for(path))
    def check(value: Any) -> None:
        accepted.append(_apply({path: value}) is not None)

    check()
    assert len(accepted) >= 20  # the fuzz really ran


@settings(max_examples=100, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.sampled_from(list(FIELDS)), min_size=2, max_size=6, unique=True)
       .flatmap(lambda paths: st.fixed_dictionaries({p: _near_valid(p) for p in paths})))
def test_fuzz_several_fields_at_once(changes: dict[str, Any]) -> None:
    _apply(changes)


def test_fuzzer_reaches_both_outcomes() -> None:
    """Guard against a fuzz that only ever rejects (or only accepts): both must happen."""
    outcomes = set()

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(value=_near_valid("latent.dim"))
    def check(value: Any) -> None:
        outcomes.add(_apply({"latent.dim": value}) is not None)

    check()
    assert outcomes == {True, False}


# --- live / restart tags ---------------------------------------------------------------------


def test_live_and_restart_tags() -> None:
    assert is_live("opt_d.lr") is True
    assert is_live("loss.name") is True
    assert is_live("latent.dim") is False
    assert is_live("generator.hidden") is False
    with pytest.raises(ConfigError, match="unknown config key"):
        is_live("opt_d.nope")


def test_needs_restart_lists_exactly_the_changed_restart_fields() -> None:
    a = RunConfig()
    b = a.with_changes({"latent.dim": 3, "opt_d.lr": 1e-4, "generator.hidden": [64],
                        "train.seed": 5, "loss.name": "hinge", "frames.d_grid": 32})
    assert sorted(needs_restart(a, b)) == ["frames.d_grid", "generator.hidden", "latent.dim",
                                           "train.seed"]
    assert needs_restart(b, a) == needs_restart(a, b)
    live_only = a.with_changes({"opt_d.lr": 1e-4, "train.k_d": 3, "target.std": 0.1})
    assert needs_restart(a, live_only) == []
    assert needs_restart(a, a) == []


def test_every_field_is_documented_and_tagged() -> None:
    assert len(FIELDS) > 40
    for path, (info, _) in FIELDS.items():
        assert info.description and info.description.strip(), path
        assert isinstance((info.json_schema_extra or {}).get("live"), bool), path


def _another_valid_value(path: str) -> Any:
    """A value different from the default that the field accepts on its own."""
    info, ann = FIELDS[path]
    default = info.get_default(call_default_factory=True)
    candidates: list[Any] = [a for a in get_args(ann) if isinstance(a, str) and a != default]
    if isinstance(default, bool):
        candidates.append(not default)
    elif isinstance(default, int | float):
        candidates += [default + 1, default * 0.5, default - 1, default + 0.01]
    candidates += [[64], [[0.0, 1.0]], [1.0], "grid", "0,1", "data.csv", "/other"]
    for value in candidates:
        try:
            cfg = RunConfig().with_changes({path: value})
        except ConfigError:
            continue
        if cfg != RunConfig():
            return value
    raise AssertionError(f"no candidate value is accepted for {path}")


@pytest.mark.parametrize("path", list(FIELDS))
def test_changing_one_field_follows_its_tag(path: str) -> None:
    a = RunConfig()
    b = a.with_changes({path: _another_valid_value(path)})
    assert needs_restart(a, b) == ([] if is_live(path) else [path])


# --- docs/config.md -------------------------------------------------------------------------


def test_docs_config_reference_is_in_sync() -> None:
    start, end = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
    page = ROOT / "docs" / "config.md"
    assert page.is_file(), "docs/config.md is missing; it must hold the config reference"
    text = page.read_text(encoding="utf-8")
    assert text.count(start) == 1 and text.count(end) == 1, "config-reference markers missing"
    block = text.split(start, 1)[1].split(end, 1)[0]
    assert block.strip() == config_reference().strip(), (
        "docs/config.md's config reference is stale: run `python tools/sync_readme.py`")
