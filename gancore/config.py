"""The one config tree of a run: every knob with its range, default, doc and live/restart tag.

Validated once at the edge (form, CLI, URL, file); everything downstream takes a `RunConfig`.
Live fields apply between two training steps; restart fields rebuild the run.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gancore.choices import TARGETS
from gancore.config_errors import describe_validation_error, short_repr

# Bounds that keep any config from exhausting a 2-core, 24 GiB machine.
MAX_WIDTH = 1024
MAX_DEPTH = 8
MAX_PARAMS = 2_000_000
MAX_BATCH = 4096
MAX_DATA_DIM = 256
MAX_LATENT_DIM = 256
# A share link's config JSON. The largest legitimate one is the 'points' target at its 5000-point
# bound with 17-digit coordinates and the 64-value lists at theirs: 246 KB (measured). Twice that
# still costs nothing to inflate; without a bound a 1.3 MB link inflated to 2.9 GB.
MAX_CONFIG_BYTES = 512 * 1024
# The longest text such a config's link can be: deflate never grows its input by more than
# 5 bytes per 64 KB block (plus a header), and base64 takes 4 characters for 3 bytes.
MAX_LINK_CHARS = (MAX_CONFIG_BYTES + 1024) * 4 // 3


class ConfigError(ValueError):
    """A config that cannot run; the message names the field and what is allowed."""


def _f(default: Any, doc: str, live: bool, **bounds: Any) -> Any:
    """A field with its doc and live/restart tag, read by the UI, docs/config.md and URLs."""
    return Field(default, description=doc, json_schema_extra={"live": live}, **bounds)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class TargetConfig(_Strict):
    """What the generator must learn: a named distribution with its parameters, or a data file."""

    name: str = _f("ring", "target distribution (see `python -m gancore targets`)", True)
    dim: int = _f(2, "data dimension for n-D targets (1-D and 2-D targets fix their own)", False,
                  ge=1, le=MAX_DATA_DIM)
    modes: int = _f(8, "number of modes (ring, mixtures)", True, ge=1, le=64)
    radius: float = _f(2.0, "ring/circle radius", True, gt=0.0, le=100.0)
    std: float = _f(0.02, "standard deviation of each mode", True, gt=0.0, le=10.0)
    spacing: float = _f(2.0, "distance between neighbouring grid modes", True, gt=0.0, le=100.0)
    switch_every: int = _f(500, "sequential modes: steps before the real batch moves to the next "
                           "mode", True, ge=1, le=1_000_000)
    offdiag: float = _f(0.0, "n-D gaussian: correlation inside a covariance block", True,
                        ge=-0.99, le=0.99)
    block: int = _f(1, "n-D gaussian: size of the correlated blocks on the covariance diagonal",
                    True, ge=1, le=MAX_DATA_DIM)
    limit: float = _f(1.5, "truncated gaussian / uniform: samples kept within +-limit", True,
                      gt=0.0, le=100.0)
    mean: float = _f(0.0, "1-D and n-D gaussian: mean of every coordinate", True,
                     ge=-100.0, le=100.0)
    positions: list[float] | None = _f(None, "1-D mixture: mode positions (default: evenly spaced)",
                                       True)
    widths: list[float] | None = _f(None, "1-D mixture: mode widths (default: std for all)", True)
    weights: list[float] | None = _f(None, "mixtures: mode weights (default: equal)", True)
    points: list[list[float]] | None = _f(
        None, "user point set (drawn on the page): the modes of the target", True)
    data_path: str | None = _f(None, "CSV, .npy or HDF5 file with one sample per row", True)
    data_dataset: str = _f("/data", "HDF5 dataset path inside data_path", True)
    data_cond: str | None = _f(None, "the file's condition (train.conditional): its columns, e.g. "
                               "6:10 or 6,7,8 (from 0), or an HDF5 dataset, e.g. /cond", False)

    @field_validator("points")
    @classmethod
    def _points_shape(cls, v: list[list[float]] | None) -> list[list[float]] | None:
        if v is None:
            return v
        if not 1 <= len(v) <= 5000:
            raise ValueError("needs between 1 and 5000 points")
        if any(len(p) != 2 for p in v):
            raise ValueError("each point needs exactly 2 coordinates")
        if not all(math.isfinite(c) and abs(c) <= 1e3 for p in v for c in p):
            raise ValueError("coordinates must be finite and within +-1000")
        return v

    @field_validator("positions", "widths", "weights")
    @classmethod
    def _short_lists(cls, v: list[float] | None) -> list[float] | None:
        if v is None:
            return v
        if not 1 <= len(v) <= 64:
            raise ValueError("needs between 1 and 64 values")
        if not all(math.isfinite(x) and abs(x) <= 1e3 for x in v):
            raise ValueError("values must be finite and within +-1000")
        return v


class LatentConfig(_Strict):
    """The noise fed to the generator."""

    dim: int = _f(2, "latent dimension", False, ge=1, le=MAX_LATENT_DIM)
    distribution: Literal["gaussian", "uniform"] = _f("gaussian", "latent prior", False)
    scale: float = _f(1.0, "std of the gaussian, or half-width of the uniform prior", False,
                      gt=0.0, le=100.0)


Activation = Literal["relu", "leaky_relu", "tanh", "elu", "gelu"]
Norm = Literal["none", "batch", "layer"]


class NetConfig(_Strict):
    """An MLP: hidden widths, activation and normalisation."""

    hidden: list[int] = _f([128, 128, 128], "hidden layer widths", False)
    activation: Activation = _f("relu", "hidden activation", False)
    norm: Norm = _f("none", "normalisation after each hidden layer", False)
    spectral_norm: bool = _f(False, "spectral normalisation of every linear layer (D)", False)
    output_activation: Literal["none", "tanh", "sigmoid"] = _f(
        "none", "generator output activation (D always returns logits)", False)

    @field_validator("hidden")
    @classmethod
    def _widths(cls, v: list[int]) -> list[int]:
        if len(v) > MAX_DEPTH:
            raise ValueError(f"at most {MAX_DEPTH} hidden layers")
        for w in v:
            if not 1 <= w <= MAX_WIDTH:
                raise ValueError(f"each width must be between 1 and {MAX_WIDTH}")
        return v


class OptimConfig(_Strict):
    """One network's optimiser; learning rate, momentum and betas are live."""

    name: Literal["sgd", "adam", "rmsprop"] = _f("adam", "optimiser", False)
    lr: float = _f(1e-3, "learning rate", True, gt=0.0, le=10.0)
    momentum: float = _f(0.0, "SGD/RMSprop momentum", True, ge=0.0, lt=1.0)
    beta1: float = _f(0.5, "Adam beta1", True, ge=0.0, lt=1.0)
    beta2: float = _f(0.999, "Adam beta2", True, ge=0.0, lt=1.0)


LossName = Literal["minimax", "non_saturating", "least_squares", "hinge", "wgan", "wgan_gp"]


class LossConfig(_Strict):
    """The adversarial objective and its penalties."""

    name: LossName = _f("non_saturating", "GAN loss", True)
    clip: float = _f(0.01, "WGAN weight clipping bound for D", True, gt=0.0, le=10.0)
    gp_lambda: float = _f(10.0, "WGAN-GP gradient penalty weight", True, ge=0.0, le=1000.0)
    r1_gamma: float = _f(0.0, "R1 penalty on real data (0 = off)", True, ge=0.0, le=1000.0)


class RemediesConfig(_Strict):
    """Mode-collapse remedies."""

    unrolled_steps: int = _f(0, "unrolled GAN: D steps unrolled in the G update (0 = off)", False,
                             ge=0, le=20)
    minibatch_discrimination: bool = _f(False, "add a minibatch-discrimination layer to D", False)
    minibatch_kernels: int = _f(5, "minibatch discrimination: kernels (B) of C=3 dims", False,
                                ge=1, le=64)
    feature_matching: bool = _f(False, "G matches mean D features of real data", True)
    packing: int = _f(1, "PacGAN: D judges m samples at once (1 = off)", False, ge=1, le=8)
    adagan_generators: int = _f(1, "AdaGAN: generators in the mixture, each trained on the data "
                                "the earlier ones miss (1 = off)", False, ge=1, le=16)
    adagan_steps: int = _f(2000, "AdaGAN: GAN steps per generator", False, ge=10, le=1_000_000)
    adagan_classifier_steps: int = _f(300, "AdaGAN: steps of the data-vs-mixture classifier "
                                      "before each new generator", False, ge=10, le=100_000)


class TrainConfig(_Strict):
    """Step schedule and randomness."""

    k_d: int = _f(1, "D steps per training step", True, ge=1, le=20)
    k_g: int = _f(1, "G steps per training step", True, ge=1, le=20)
    batch_size: int = _f(256, "real and fake samples per step", True, ge=1, le=MAX_BATCH)
    seed: int = _f(0, "seed of every random draw in the run", False, ge=0, le=2**31 - 1)
    conditional: bool = _f(False, "feed the target's condition vector to G and D", False)


class FrameConfig(_Strict):
    """What a frame shows and how often it is made and recorded. Probe sizes are restart fields:
    a recording's arrays keep one shape for the whole run."""

    samples: int = _f(1500, "generated samples shown per frame", False, ge=10, le=5000)
    d_grid: int = _f(64, "D surface resolution (cells per side)", False, ge=8, le=256)
    latent_grid: int = _f(20, "latent grid points per side (mapping arrows)", False, ge=2, le=64)
    steps_per_frame: int = _f(0, "training steps between frames (0 = by wall clock)", True,
                              ge=0, le=100_000)
    fps: float = _f(25.0, "frame-rate cap in frames per second (also paces slow motion)", True,
                    gt=0.0, le=120.0)
    record_every: int = _f(100, "training steps between recorded frames", True, ge=1,
                           le=1_000_000)
    metrics_every: int = _f(50, "training steps between metric checks (detectors, costly metrics)",
                            True, ge=1, le=100_000)
    projection: str = _f("pca", "n-D view: 'pca' or a pair of dimensions 'i,j'", True)

    @field_validator("projection")
    @classmethod
    def _projection(cls, v: str) -> str:
        if v == "pca":
            return v
        parts = v.split(",")
        if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
            raise ValueError("must be 'pca' or two dimension indices like '0,1'")
        return ",".join(p.strip() for p in parts)


class RunConfig(_Strict):
    """A whole run: target, latent prior, networks, loss, remedies, optimisers, schedule, frames."""

    target: TargetConfig = Field(default_factory=TargetConfig)
    latent: LatentConfig = Field(default_factory=LatentConfig)
    generator: NetConfig = Field(default_factory=NetConfig)
    discriminator: NetConfig = Field(default_factory=NetConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    remedies: RemediesConfig = Field(default_factory=RemediesConfig)
    opt_g: OptimConfig = Field(default_factory=OptimConfig)
    opt_d: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    frames: FrameConfig = Field(default_factory=FrameConfig)
    model: Literal["gan", "vae"] = _f("gan", "model family: a GAN, or the VAE baseline (encoder "
                                      "uses D's widths and optimiser, decoder is G)", False)
    vae_sigma: float = _f(0.1, "VAE decoder noise std (smaller = sharper, less regularised)",
                          True, gt=0.0, le=10.0)
    max_steps: int = _f(0, "stop after this many steps (0 = run until stopped)", True,
                        ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.target.name not in TARGETS:
            raise ValueError(f"target.name: unknown target {short_repr(self.target.name)}; "
                             f"choose one of {', '.join(sorted(TARGETS))}")
        if self.target.name == "points" and not self.target.points:
            raise ValueError("target.points: the 'points' target needs at least one point")
        if self.target.name == "file" and not self.target.data_path:
            raise ValueError("target.data_path: the 'file' target needs a data file")
        if self.target.name == "file" and self.train.conditional and not self.target.data_cond:
            raise ValueError("target.data_cond: a conditional run on a data file needs the file's "
                             "condition: its columns (e.g. 6:10) or an HDF5 dataset (e.g. /cond)")
        if self.remedies.adagan_generators > 1 and (self.model != "gan" or self.train.conditional):
            raise ValueError("remedies.adagan_generators: AdaGAN mixes unconditional GANs only")
        if self.train.batch_size % self.remedies.packing:
            raise ValueError(f"train.batch_size: must be a multiple of remedies.packing "
                             f"({self.remedies.packing})")
        dim = data_dim(self)
        for net, inputs, outputs in (("generator", self.latent.dim, dim),
                                     ("discriminator", dim * self.remedies.packing, 1)):
            n = mlp_params(inputs, getattr(self, net).hidden, outputs)
            if n > MAX_PARAMS:
                raise ValueError(f"{net}.hidden: {n:,} parameters; at most {MAX_PARAMS:,} allowed")
        return self

    # ---- serialisation -------------------------------------------------------------------
    def to_json(self, **kw: Any) -> str:
        return self.model_dump_json(**kw)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunConfig:
        try:
            return cls.model_validate_json(text)
        except ValidationError as e:
            raise ConfigError(describe_validation_error(e)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise ConfigError(describe_validation_error(e)) from None

    def to_url(self) -> str:
        """Compact URL-safe text: only the fields that differ from the defaults, deflated."""
        diff = _diff(self.model_dump(), RunConfig().model_dump())
        raw = json.dumps(diff, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")

    @classmethod
    def from_url(cls, text: str) -> RunConfig:
        """The config of a `to_url` link. The link comes from a stranger: it is inflated to at
        most MAX_CONFIG_BYTES, so a compressed bomb costs nothing."""
        try:
            diff = json.loads(_inflate_link(text))
        except ConfigError:
            raise
        except Exception:  # noqa: BLE001 - any corruption is the same user error
            raise ConfigError(_CORRUPTED_LINK) from None
        if not isinstance(diff, dict):
            raise ConfigError(_CORRUPTED_LINK)
        return cls.from_dict(_merge(RunConfig().model_dump(), diff))

    def with_changes(self, changes: dict[str, Any]) -> RunConfig:
        """A new config with dotted-path changes applied (``{"opt_d.lr": 1e-4}``), validated."""
        data = self.model_dump()
        for key, value in changes.items():
            set_path(data, key, value)
        return RunConfig.from_dict(data)


_CORRUPTED_LINK = "config link is corrupted: it does not decode to a config"


def _inflate_link(text: str) -> bytes:
    """The JSON bytes of a link: its length is checked before decoding, and inflating stops at
    MAX_CONFIG_BYTES (ConfigError "too large"); any other damage is a ValueError or zlib.error."""
    too_large = ConfigError(f"config link is too large (a config is at most "
                            f"{MAX_CONFIG_BYTES // 1024} KB)")
    if len(text) > MAX_LINK_CHARS:
        raise too_large
    inflater = zlib.decompressobj()
    raw = inflater.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)),
                              MAX_CONFIG_BYTES)
    if not inflater.eof:  # stopped at the bound (input left over), or a truncated stream
        if len(raw) >= MAX_CONFIG_BYTES:
            raise too_large
        raise zlib.error("truncated link")
    return raw


def data_dim(cfg: RunConfig) -> int:
    """The data dimension a config trains on (a target with a fixed dimension overrides
    target.dim)."""
    spec = TARGETS[cfg.target.name]
    return spec.fixed_dim if spec.fixed_dim else cfg.target.dim


def mlp_params(n_in: int, hidden: list[int], n_out: int) -> int:
    sizes = [n_in, *hidden, n_out]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


# ---- field metadata: drives docs/config.md, the forms and live/restart handling -------

def iter_fields(model: type[BaseModel] = RunConfig, prefix: str = ""):
    """Yield (dotted path, FieldInfo, annotation) for every leaf field of the config tree."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from iter_fields(ann, path + ".")
        else:
            yield path, info, ann


def is_live(path: str) -> bool:
    """True when changing this field applies to a running run without restarting it."""
    for p, info, _ in iter_fields():
        if p == path:
            return bool((info.json_schema_extra or {}).get("live"))
    raise ConfigError(f"{path}: unknown config key")


def changed_paths(old: RunConfig, new: RunConfig) -> list[str]:
    """Dotted paths of the leaf fields whose values differ."""
    a, b = old.model_dump(), new.model_dump()
    return [p for p, _, _ in iter_fields() if get_path(a, p) != get_path(b, p)]


def restart_fields(old: RunConfig, new: RunConfig) -> list[str]:
    """Why a change cannot apply to a running run: its restart fields, or "target.name" when the
    data dimension changes or a conditional run switches target (G and D are built for one
    dimension and one condition). Empty: the change applies live. The registry and the session
    both decide with this."""
    restart = needs_restart(old, new)
    if data_dim(new) != data_dim(old) or (
            new.train.conditional and new.target.name != old.target.name):
        restart = restart or ["target.name"]
    return restart


def needs_restart(old: RunConfig, new: RunConfig) -> list[str]:
    """The changed fields that are restart fields (empty means the change can be applied live)."""
    return [p for p in changed_paths(old, new) if not is_live(p)]


def get_path(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"{path}: unknown config key")
        node = node[part]
    if parts[-1] not in node:
        raise ConfigError(f"{path}: unknown config key")
    node[parts[-1]] = value


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` from the CLI: the value is read as JSON when it parses, else as a string."""
    if "=" not in text:
        raise ConfigError(f"'{text}': expected key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except ValueError:  # JSONDecodeError, or an int past Python's 4300-digit limit
        value = raw
    return key.strip(), value


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in a.items():
        if isinstance(v, dict) and isinstance(b.get(k), dict):
            sub = _diff(v, b[k])
            if sub:
                out[k] = sub
        elif v != b.get(k):
            out[k] = v
    return out


def _merge(base: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    for k, v in diff.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base
