"""The training configuration: typed dataclasses read from YAML, strictly validated.

A config file has four sections, ``data``, ``model``, ``train`` and ``augment``
(:class:`bpnet.augment.AugmentConfig`, random transforms of the training images); every key
is optional and defaults as below. An unknown key, a wrong type or a value out
of range is a :class:`ConfigError` naming the key path, e.g.
``configs/x.yaml: train.lr must be > 0, got -1``.
"""

import dataclasses
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from . import network, optim
from .augment import AugmentConfig
from .data import DATASETS
from .errors import ConfigError

# The choices come from the modules that implement them (an optimiser also needs its line
# in optim.make_optimizer, for its own hyperparameters).
ACTIVATIONS = tuple(network.ACTIVATIONS)
HEADS = tuple(network.HEADS)                       # (output, loss) pairs
OUTPUTS = tuple(dict.fromkeys(output for output, _ in HEADS))
LOSSES = tuple(dict.fromkeys(loss for _, loss in HEADS))
INITS = network.INIT_SCHEMES
OPTIMIZERS = tuple(optim.OPTIMIZERS)
SCHEDULES = ("constant", "cosine", "step", "onecycle")     # bpnet.schedules.learning_rate
MONITORS = ("val_accuracy", "val_loss")            # bpnet.early_stopping
DTYPES = ("float32", "float64")
# Far beyond any MNIST network (784-800-800-10 has 1.3 million parameters), and low enough
# that a typo like [100000000] is a config error, not an out-of-memory crash halfway.
MAX_WIDTH = 1_000_000
MAX_PARAMETERS = 500_000_000
DATASET_NAMES = tuple(DATASETS)


@dataclass
class DataConfig:
    dataset: str = "mnist"
    dir: "str | None" = None          # None: BPNET_DATA_DIR or ./data
    validation: int = 5000            # examples held out of the 60,000 for validation


@dataclass
class ModelConfig:
    hidden: list = field(default_factory=lambda: [128])   # widths of the hidden layers
    activation: str = "relu"          # of the hidden layers
    output: str = "softmax"           # softmax + cross_entropy, or sigmoid + mse
    loss: str = "cross_entropy"
    init: str = "he"
    # Inverted dropout (Srivastava et al. 2014): in training each hidden unit's output is kept with
    # probability 1 − p and scaled by 1/(1 − p), A^l ← σ(Z^l) ⊙ M^l, so its expectation is unchanged
    # and eval needs no rescaling. One p for every hidden layer, or a list with one per hidden layer.
    dropout: "float | list" = 0.0
    input_dropout: float = 0.0        # the same on the input pixels A⁰ (Srivastava et al. used 0.2)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: "int | str" = 128     # an integer, or "full" for full-batch gradient descent
    lr: float = 0.05
    # constant; cosine: lr·½(1 + cos(π·step/steps)) down to 0; step: lr·γ^⌊epoch/k⌋; onecycle: up from
    # lr/25 to lr, then down to lr/25/10⁴ (Smith & Topin 2019). Formulas in bpnet.schedules.
    schedule: str = "constant"
    warmup_epochs: float = 0.0        # linear warm-up over the first epochs (Goyal et al. 2017); not with onecycle
    step_epochs: int = 10             # step: k, the epochs between two drops
    step_gamma: float = 0.1           # step: γ, the factor of each drop
    onecycle_pct: float = 0.3         # onecycle: the fraction of the steps spent rising to lr
    optimizer: str = "momentum"       # sgd, momentum, adam, or adamw (Adam with decoupled weight decay)
    momentum: float = 0.9
    beta1: float = 0.9                # Adam, AdamW
    beta2: float = 0.999              # Adam, AdamW
    # L2 penalty (λ/2)·Σ‖W‖² on the weights, λW added to their gradients; with adamw decoupled
    # instead (Loshchilov & Hutter 2019): W ← W − α(m̂/(√v̂ + ε) + λW).
    weight_decay: float = 0.0
    # Max-norm (Srivastava et al. 2014): after each step every hidden unit's incoming weights, a row
    # of W^l, are scaled back to ‖W^l_j‖ ≤ c; null is off.
    max_norm: "float | None" = None
    # Label smoothing (Szegedy et al. 2016): targets Y ← (1 − ε)Y + ε/K, K = 10 classes.
    label_smoothing: float = 0.0
    # Early stopping: stop after `patience` validations in a row without improving `monitor`
    # (val_accuracy up, or val_loss down, by more than min_delta); best.npz is the best by monitor.
    # null patience is off (then best.npz is still kept by monitor).
    patience: "int | None" = None
    min_delta: float = 0.0
    monitor: str = "val_accuracy"
    seed: int = 0
    dtype: str = "float32"
    log_every: int = 1                # validate and report every k epochs (and at the last)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_yaml(self):
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "augment": AugmentConfig}


# ----------------------------------------------------------------------------- checks

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    """An int or a float, not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value):
    return is_number(value) and math.isfinite(value)


def _shown(value, limit=80):
    """``repr(value)``, cut short: an error message stays one readable line whatever was given."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _key(key):
    """A key as written when it is a short printable name, else cut-short repr (no newlines)."""
    return key if isinstance(key, str) and key.isprintable() and len(key) <= 80 else _shown(key)


def _check(ok, path, message, value):
    if not ok:
        raise ConfigError(f"{path} {message}, got {_shown(value)}", key=path)


def _choice(path, value, choices):
    _check(value in choices, path, f"must be one of {', '.join(choices)}", value)


def _validate(config):
    """Raise ConfigError for the first value out of type or range."""
    d, m, t = config.data, config.model, config.train
    _choice("data.dataset", d.dataset, DATASET_NAMES)
    _check(d.dir is None or (isinstance(d.dir, str) and "\0" not in d.dir), "data.dir",
           "must be a path or null", d.dir)
    _check(_is_int(d.validation) and 0 <= d.validation < 60000,
           "data.validation", "must be an integer in [0, 60000)", d.validation)
    _check(isinstance(m.hidden, list) and all(_is_int(n) and 0 < n <= MAX_WIDTH for n in m.hidden),
           "model.hidden", f"must be a list of integers in [1, {MAX_WIDTH:,}]", m.hidden)
    n_parameters = sum(network.parameter_sizes(network.mnist_sizes(m.hidden)).values())
    _check(n_parameters <= MAX_PARAMETERS, "model.hidden",
           f"makes {n_parameters:,} parameters; at most {MAX_PARAMETERS:,} are allowed", m.hidden)
    _choice("model.activation", m.activation, ACTIVATIONS)
    _choice("model.output", m.output, OUTPUTS)
    _choice("model.loss", m.loss, LOSSES)
    pairs = " or ".join(f"{output} + {loss}" for output, loss in HEADS)
    _check((m.output, m.loss) in HEADS, "model.loss",
           f"{m.loss} does not go with model.output {m.output} (use {pairs})", m.loss)
    _choice("model.init", m.init, INITS)
    rates = m.dropout if isinstance(m.dropout, list) else [m.dropout]
    _check(all(_is_finite(p) and 0 <= p < 1 for p in rates), "model.dropout",
           "must be a probability in [0, 1) or a list of them, one per hidden layer", m.dropout)
    _check(not isinstance(m.dropout, list) or len(m.dropout) == len(m.hidden), "model.dropout",
           f"must have one rate per hidden layer ({len(m.hidden)})", m.dropout)
    _check(_is_finite(m.input_dropout) and 0 <= m.input_dropout < 1, "model.input_dropout",
           "must be a probability in [0, 1)", m.input_dropout)
    _check(_is_int(t.epochs) and t.epochs >= 1, "train.epochs", "must be an integer >= 1", t.epochs)
    _check(t.batch_size == "full" or (_is_int(t.batch_size) and t.batch_size >= 1),
           "train.batch_size", "must be an integer >= 1 or 'full'", t.batch_size)
    _check(is_number(t.lr) and t.lr > 0, "train.lr", "must be > 0", t.lr)
    _check(t.lr < float("inf"), "train.lr", "must be finite", t.lr)
    _choice("train.optimizer", t.optimizer, OPTIMIZERS)
    _choice("train.schedule", t.schedule, SCHEDULES)
    _check(_is_finite(t.warmup_epochs) and 0 <= t.warmup_epochs <= t.epochs, "train.warmup_epochs",
           f"must be a number in [0, train.epochs = {t.epochs}]", t.warmup_epochs)
    _check(t.warmup_epochs == 0 or t.schedule != "onecycle", "train.warmup_epochs",
           "must be 0 with schedule onecycle, which warms up by itself (train.onecycle_pct)", t.warmup_epochs)
    _check(_is_int(t.step_epochs) and t.step_epochs >= 1, "train.step_epochs", "must be an integer >= 1",
           t.step_epochs)
    _check(_is_finite(t.step_gamma) and 0 < t.step_gamma <= 1, "train.step_gamma", "must be in (0, 1]",
           t.step_gamma)
    _check(_is_finite(t.onecycle_pct) and 0 < t.onecycle_pct < 1, "train.onecycle_pct", "must be in (0, 1)",
           t.onecycle_pct)
    for name in ("momentum", "beta1", "beta2"):
        value = getattr(t, name)
        _check(is_number(value) and 0 <= value < 1, f"train.{name}", "must be in [0, 1)", value)
    _check(is_number(t.weight_decay) and t.weight_decay >= 0,
           "train.weight_decay", "must be >= 0", t.weight_decay)
    _check(t.weight_decay < float("inf"), "train.weight_decay", "must be finite", t.weight_decay)
    _check(t.max_norm is None or (_is_finite(t.max_norm) and t.max_norm > 0), "train.max_norm",
           "must be a number > 0 or null", t.max_norm)
    _check(_is_finite(t.label_smoothing) and 0 <= t.label_smoothing < 1, "train.label_smoothing",
           "must be in [0, 1)", t.label_smoothing)
    _check(t.patience is None or (_is_int(t.patience) and t.patience >= 1), "train.patience",
           "must be an integer >= 1 or null", t.patience)
    _check(_is_finite(t.min_delta) and t.min_delta >= 0, "train.min_delta", "must be a number >= 0",
           t.min_delta)
    _choice("train.monitor", t.monitor, MONITORS)
    _check(_is_int(t.seed) and t.seed >= 0, "train.seed", "must be an integer >= 0", t.seed)
    _choice("train.dtype", t.dtype, DTYPES)
    _check(_is_int(t.log_every) and t.log_every >= 1, "train.log_every", "must be an integer >= 1",
           t.log_every)
    config.augment.validate("augment")


def from_dict(raw):
    """Build and validate a :class:`Config` from nested dicts (unknown keys are errors)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"the top level must be a mapping of sections, got {type(raw).__name__}")
    sections = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            raise ConfigError(f"unknown section {_shown(name)}; expected {', '.join(SECTIONS)}")
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a mapping, got {_shown(value)}")
        known = {f.name for f in dataclasses.fields(SECTIONS[name])}
        for key in value:
            if key not in known:
                raise ConfigError(f"unknown key {name}.{_key(key)}; expected one of {', '.join(sorted(known))}",
                                  key=f"{name}.{key}")
        sections[name] = SECTIONS[name](**value)
    config = Config(**sections)
    # YAML reads 1e-3 as a string: accept numbers written that way, nothing else.
    numbers = [(config.train, ("lr", "momentum", "beta1", "beta2", "weight_decay", "warmup_epochs", "step_gamma",
                               "onecycle_pct", "max_norm", "label_smoothing", "min_delta")),
               (config.model, ("dropout", "input_dropout")),
               (config.augment, tuple(f.name for f in dataclasses.fields(AugmentConfig)))]
    for section, names in numbers:
        for name in names:
            value = getattr(section, name)
            if isinstance(value, str):
                try:
                    setattr(section, name, float(value))
                except ValueError:
                    pass
    _validate(config)
    return config


def apply_overrides(raw, overrides):
    """Apply ``--set key.path=value`` strings to the nested dict ``raw`` (values parsed as YAML)."""
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. train.lr=0.1")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
        if raw.get(parts[0]) is None:          # an empty section (`train:`) is an empty mapping
            raw[parts[0]] = {}
        section = raw[parts[0]]
        if not isinstance(section, dict):
            raise ConfigError(f"--set {item!r}: {parts[0]} is not a section")
        section[parts[1]] = value
    return raw


def shipped_configs():
    """Names of the configs installed with the package (usable as ``--config NAME``)."""
    folder = resources.files("bpnet") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def find_config(name_or_path):
    """A config path as given, or a shipped config by name (``mnist`` -> bpnet/configs/mnist.yaml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    # Only a bare name (`fast`, or `fast.yaml` as in the repository's configs/) means a shipped
    # config, even beside a folder of that name (a data folder `mnist/` is common); `fast.json`,
    # `./fast`, `mnist/` or `sub/fast.yaml` that is not a file is a mistake to report.
    shipped = resources.files("bpnet") / "configs" / (path.stem + ".yaml")
    if str(name_or_path) == path.name and path.suffix in ("", ".yaml") and shipped.is_file():
        return Path(str(shipped))
    if path.is_dir():
        raise ConfigError(f"{name_or_path}: is a folder, not a config file")
    raise ConfigError(
        f"{name_or_path}: no such config file or shipped config "
        f"(shipped: {', '.join(shipped_configs())})"
    )


def load(name_or_path=None, overrides=()):
    """Read a YAML config (or the defaults if None), apply overrides, validate. A :class:`Config`."""
    raw, source = {}, "defaults"
    if name_or_path is not None:
        path = find_config(name_or_path)
        source = str(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
            raw = yaml.safe_load(text)
            repeated = _repeated_key(text)
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{source}: not a text file") from None
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
            raise ConfigError(f"{source}: not valid YAML{at}") from None
        if repeated:
            raise ConfigError(f"{source}: {repeated[1]!r} is given twice (the second time at line {repeated[0]})")
        if raw is not None and not isinstance(raw, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of sections")
    raw = apply_overrides(raw or {}, overrides)
    try:
        return from_dict(raw)
    except ConfigError as exc:
        raise blame(exc, overrides, source) from None


def blame(error, overrides, source):
    """``error`` of a config read from ``source`` with ``overrides`` applied, said of its cause:
    a value that came from --set is that option's fault, not the file's."""
    given = [item for item in overrides if item.partition("=")[0].strip() == error.key]
    return ConfigError(f"--set {given[-1]!r}: {error}" if given else f"{source}: {error}", error.key)


def _repeated_key(text):
    """(line, key) of the first key that a mapping of the YAML ``text`` repeats, or None.

    yaml.safe_load keeps the last of repeated keys without a word, so a second ``train:``
    section would silently drop the first. yaml.compose builds the nodes only, constructs
    no Python object, and keeps every key with its line.
    """
    repeats, nodes, visited = [], [yaml.compose(text, Loader=yaml.SafeLoader)], set()
    while nodes:
        node = nodes.pop()
        if id(node) in visited:         # an alias shares its node: walking it again could take exponential time
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        repeats.append((key.start_mark.line + 1, key.value))
                    seen.add(key.value)
                nodes.append(value)
        elif isinstance(node, yaml.SequenceNode):
            nodes.extend(node.value)
    return min(repeats, default=None)


def config_name(name_or_path):
    """A short name for run folders: the file's stem, or 'default'."""
    return Path(name_or_path).stem if name_or_path else "default"
