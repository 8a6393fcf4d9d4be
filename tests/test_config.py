"""bpnet.config: strict validation of YAML configs and --set overrides."""

import dataclasses

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bpnet import config
from bpnet.config import Config, apply_overrides, find_config, from_dict, load, shipped_configs
from bpnet.errors import ConfigError, InputError


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(*args, **kwargs):
    """The ConfigError message of ``load(*args)`` (it must be a single line)."""
    with pytest.raises(ConfigError) as info:
        load(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, message
    assert info.value.exit_code == 2
    return message


# ----------------------------------------------------------------------------- defaults and shipped configs

def test_defaults_are_valid():
    c = load()
    assert c == Config()
    assert from_dict({}) == Config() and from_dict(None) == Config()
    assert (c.model.output, c.model.loss) == ("softmax", "cross_entropy")
    assert c.train.lr > 0 and c.train.epochs >= 1


def test_shipped_configs_are_listed():
    names = shipped_configs()
    assert "mnist" in names
    assert names == sorted(names)


@pytest.mark.parametrize("name", shipped_configs())
def test_each_shipped_config_loads(name):
    by_name = load(name)
    assert isinstance(by_name, Config)
    path = find_config(name)
    assert path.is_file() and path.name == name + ".yaml"
    assert load(str(path)) == by_name   # by path and by name: the same config
    # The file spells out nothing unknown: its raw keys validate one by one.
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert set(raw) <= {"data", "model", "train", "augment"}


def test_shipped_name_resolves_from_any_cwd(tmp_path, monkeypatch):
    shipped = yaml.safe_load(find_config("mnist").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)
    assert load("mnist").model.hidden == shipped["model"]["hidden"]
    assert load("mnist.yaml") == load("mnist")


def test_a_local_file_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "model:\n  hidden: [7]\n", name="mnist.yaml")
    assert load("mnist.yaml").model.hidden == [7]


def test_missing_config_lists_shipped_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = load_error("nope.yaml")
    assert message.startswith("nope.yaml: no such config file")
    for name in shipped_configs():
        assert name in message


def test_missing_config_in_a_folder_is_not_a_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "no such config file" in load_error("elsewhere/mnist.yaml")


@pytest.mark.parametrize("name", ["fast.json", "mnist.txt", "./mnist.yml", "./fast"])
def test_only_a_bare_name_falls_back_to_a_shipped_config(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert load_error(name).startswith(f"{name}: no such config file")
    assert load("fast").train.epochs == load("fast.yaml").train.epochs == 3


def test_a_folder_is_not_a_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.yaml").mkdir()
    assert load_error("x.yaml") == "x.yaml: is a folder, not a config file"


# ----------------------------------------------------------------------------- strict keys and types

@pytest.mark.parametrize("text, expected", [
    ("optim:\n  lr: 0.1\n", "unknown section 'optim'; expected data, model, train, augment"),
    ("train:\n  learning_rate: 0.1\n", "unknown key train.learning_rate; expected one of"),
    ("model: 5\n", "model must be a mapping, got 5"),
    ("train:\n  lr: fast\n", "train.lr must be > 0, got 'fast'"),
    ("train:\n  lr: -1\n", "train.lr must be > 0, got -1"),
    ("train:\n  lr: .inf\n", "train.lr must be finite, got inf"),
    ('data:\n  dir: "a\\0b"\n', "data.dir must be a path or null, got 'a\\x00b'"),
    ("train:\n  lr: 0\n", "train.lr must be > 0, got 0"),
    ("train:\n  lr: .nan\n", "train.lr must be > 0, got nan"),
    ("train:\n  lr: true\n", "train.lr must be > 0, got True"),
    ("train:\n  epochs: 1.5\n", "train.epochs must be an integer >= 1, got 1.5"),
    ("train:\n  epochs: true\n", "train.epochs must be an integer >= 1, got True"),
    ("train:\n  epochs: 0\n", "train.epochs must be an integer >= 1, got 0"),
    ("train:\n  batch_size: half\n", "train.batch_size must be an integer >= 1 or 'full', got 'half'"),
    ("train:\n  batch_size: 0\n", "train.batch_size must be an integer >= 1 or 'full', got 0"),
    ("train:\n  momentum: 1.0\n", "train.momentum must be in [0, 1), got 1.0"),
    ("train:\n  weight_decay: -0.1\n", "train.weight_decay must be >= 0, got -0.1"),
    ("train:\n  seed: -3\n", "train.seed must be an integer >= 0, got -3"),
    ("train:\n  dtype: float16\n", "train.dtype must be one of float32, float64, got 'float16'"),
    ("train:\n  optimizer: rmsprop\n", "train.optimizer must be one of sgd, momentum, adam"),
    ("data:\n  validation: 60000\n", "data.validation must be an integer in [0, 60000), got 60000"),
    ("data:\n  dataset: cifar\n", "data.dataset must be one of mnist, fashion-mnist, got 'cifar'"),
    ("data:\n  dir: 5\n", "data.dir must be a path or null, got 5"),
    ("model:\n  hidden: 128\n", "model.hidden must be a list of integers in [1, 1,000,000], got 128"),
    ("model:\n  hidden: [128, 0]\n", "model.hidden must be a list of integers in [1, 1,000,000], got [128, 0]"),
    ("model:\n  hidden: [true]\n", "model.hidden must be a list of integers in [1, 1,000,000], got [True]"),
    ("model:\n  hidden: [100000000000000000000]\n", "model.hidden must be a list of integers in [1, 1,000,000]"),
    ("model:\n  hidden: [100000, 100000]\n",
     "model.hidden makes 10,079,600,010 parameters; at most 500,000,000 are allowed, got [100000, 100000]"),
    ("model:\n  activation: gelu\n", "model.activation must be one of relu, sigmoid, tanh"),
    ("model:\n  loss: mse\n",
     "model.loss mse does not go with model.output softmax (use softmax + cross_entropy or sigmoid + mse)"),
    ("model:\n  output: sigmoid\n", "cross_entropy does not go with model.output sigmoid"),
    ("model:\n  dropout: 1.0\n", "model.dropout must be a probability in [0, 1) or a list of them, one per hidden"),
    ("model:\n  dropout: -0.1\n", "model.dropout must be a probability in [0, 1)"),
    ("model:\n  dropout: [0.1, x]\n  hidden: [3, 3]\n", "model.dropout must be a probability in [0, 1)"),
    ("model:\n  dropout: [0.1]\n  hidden: [3, 3]\n",
     "model.dropout must have one rate per hidden layer (2), got [0.1]"),
    ("model:\n  dropout: true\n", "model.dropout must be a probability"),
    ("model:\n  input_dropout: 1\n", "model.input_dropout must be a probability in [0, 1), got 1"),
    ("train:\n  schedule: linear\n", "train.schedule must be one of constant, cosine, step, onecycle"),
    ("train:\n  warmup_epochs: 11\n", "train.warmup_epochs must be a number in [0, train.epochs = 10], got 11"),
    ("train:\n  warmup_epochs: -1\n", "train.warmup_epochs must be a number in [0, train.epochs = 10]"),
    ("train:\n  warmup_epochs: 1\n  schedule: onecycle\n",
     "train.warmup_epochs must be 0 with schedule onecycle, which warms up by itself (train.onecycle_pct), got 1"),
    ("train:\n  step_epochs: 0\n", "train.step_epochs must be an integer >= 1, got 0"),
    ("train:\n  step_gamma: 0\n", "train.step_gamma must be in (0, 1], got 0"),
    ("train:\n  step_gamma: 1.5\n", "train.step_gamma must be in (0, 1], got 1.5"),
    ("train:\n  onecycle_pct: 1\n", "train.onecycle_pct must be in (0, 1), got 1"),
    ("train:\n  optimizer: adamax\n", "train.optimizer must be one of sgd, momentum, adam, adamw"),
    ("train:\n  max_norm: 0\n", "train.max_norm must be a number > 0 or null, got 0"),
    ("train:\n  max_norm: .inf\n", "train.max_norm must be a number > 0 or null, got inf"),
    ("train:\n  label_smoothing: 1\n", "train.label_smoothing must be in [0, 1), got 1"),
    ("train:\n  patience: 0\n", "train.patience must be an integer >= 1 or null, got 0"),
    ("train:\n  patience: 2.5\n", "train.patience must be an integer >= 1 or null, got 2.5"),
    ("train:\n  min_delta: -0.01\n", "train.min_delta must be a number >= 0, got -0.01"),
    ("train:\n  monitor: train_loss\n", "train.monitor must be one of val_accuracy, val_loss, got 'train_loss'"),
    ("augment:\n  rotate: 200\n", "augment.rotate must be a number in [0, 180], got 200"),
    ("augment:\n  elastic_sigma: 0\n", "augment.elastic_sigma must be a number in [0.1, 100], got 0"),
    ("augment:\n  flip: true\n", "unknown key augment.flip; expected one of elastic_alpha, elastic_sigma, rotate,"),
    ("augment: 3\n", "augment must be a mapping, got 3"),
])
def test_bad_values_name_the_file_and_key(tmp_path, monkeypatch, text, expected):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text, name="bad.yaml")
    message = load_error("bad.yaml")
    assert message.startswith("bad.yaml: "), message
    assert expected in message, message


def test_out_of_range_lr_message_is_exact(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "train:\n  lr: -1\n", name="x.yaml")
    assert load_error("x.yaml") == "x.yaml: train.lr must be > 0, got -1"


def test_no_hidden_layer_is_allowed(tmp_path):
    c = load(str(write(tmp_path, "model:\n  hidden: []\n")))
    assert c.model.hidden == []


def test_sigmoid_mse_head_is_allowed(tmp_path):
    c = load(str(write(tmp_path, "model:\n  output: sigmoid\n  loss: mse\n")))
    assert (c.model.output, c.model.loss) == ("sigmoid", "mse")


def test_empty_file_and_empty_sections_mean_defaults(tmp_path):
    assert load(str(write(tmp_path, ""))) == Config()
    assert load(str(write(tmp_path, "train:\nmodel:\n", name="d.yaml"))) == Config()


def test_the_regularisation_schedule_and_augment_keys_load_and_override(tmp_path):
    text = ("model:\n  hidden: [8, 4]\n  dropout: [0.5, 0.25]\n  input_dropout: 0.2\n"
            "train:\n  optimizer: adamw\n  weight_decay: 5e-2\n  schedule: step\n  step_epochs: 3\n"
            "  step_gamma: 0.5\n  warmup_epochs: 0.5\n  max_norm: 3\n  label_smoothing: 1e-1\n"
            "  patience: 4\n  min_delta: 1e-3\n  monitor: val_loss\n"
            "augment:\n  shift: 2\n  rotate: 15\n  elastic_alpha: 34\n  elastic_sigma: 4\n")
    c = load(str(write(tmp_path, text)))
    assert c.model.dropout == [0.5, 0.25] and c.model.input_dropout == 0.2
    t = c.train
    assert (t.optimizer, t.weight_decay, t.schedule, t.step_epochs, t.step_gamma, t.warmup_epochs) == \
           ("adamw", 0.05, "step", 3, 0.5, 0.5)
    assert (t.max_norm, t.label_smoothing, t.patience, t.min_delta, t.monitor) == (3, 0.1, 4, 1e-3, "val_loss")
    assert (c.augment.shift, c.augment.rotate, c.augment.elastic_alpha, c.augment.elastic_sigma) == (2, 15, 34, 4)
    c = load(str(write(tmp_path, text)), ["model.dropout=0.3", "train.max_norm=null", "train.patience=null",
                                          "augment.rotate=5", "train.schedule=onecycle", "train.warmup_epochs=0",
                                          "train.onecycle_pct=0.25"])
    assert c.model.dropout == 0.3 and c.train.max_norm is None and c.train.patience is None
    assert c.augment.rotate == 5 and (c.train.schedule, c.train.onecycle_pct) == ("onecycle", 0.25)
    assert load_error(str(write(tmp_path, text)), ["augment.scale=2"]) == \
        "--set 'augment.scale=2': augment.scale must be a number in [0, 0.9], got 2"
    assert load(None, ["augment.shear=1e1"]).augment.shear == 10.0


def test_defaults_change_nothing_about_training():
    """Every new key's default is off: no dropout, no max-norm, no smoothing, no early stop, no warm-up,
    no augmentation, so a config without them trains as before."""
    c = Config()
    assert c.model.dropout == 0 and c.model.input_dropout == 0
    assert (c.train.max_norm, c.train.label_smoothing, c.train.patience, c.train.warmup_epochs) == (None, 0, None, 0)
    assert not c.augment.enabled


def test_lr_written_without_a_dot_is_a_number(tmp_path):
    # YAML 1.1 reads 1e-3 as a string; bpnet accepts it as the number it obviously is.
    c = load(str(write(tmp_path, "train:\n  lr: 1e-3\n  weight_decay: 5e-4\n")))
    assert c.train.lr == 1e-3 and isinstance(c.train.lr, float)
    assert c.train.weight_decay == 5e-4


# ----------------------------------------------------------------------------- malformed files

def test_malformed_yaml_gives_line_and_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "train:\n  lr: 0.1\n  epochs: [1, 2\nmodel:\n  hidden: [3]\n", name="broken.yaml")
    message = load_error("broken.yaml")
    assert message.startswith("broken.yaml: not valid YAML at line ")
    assert "column" in message


def test_malformed_yaml_tab_indentation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "train:\n\tlr: 0.1\n", name="tabs.yaml")
    assert load_error("tabs.yaml") == "tabs.yaml: not valid YAML at line 2, column 1"


@pytest.mark.parametrize("text, message", [
    ("train:\n  lr: 0.001\n  optimizer: sgd\nmodel:\n  hidden: [8]\ntrain:\n  epochs: 1\n",
     "'train' is given twice (the second time at line 6)"),
    ("train:\n  lr: 0.001\n  epochs: 2\n  lr: 0.1\n", "'lr' is given twice (the second time at line 4)"),
    ("model: {hidden: [8], hidden: [16]}\n", "'hidden' is given twice (the second time at line 1)"),
])
def test_a_key_given_twice_is_refused(tmp_path, monkeypatch, text, message):
    """yaml.safe_load would keep the last one and drop the first without a word."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text, name="dup.yaml")
    assert load_error("dup.yaml") == f"dup.yaml: {message}"


def test_the_same_key_in_two_mappings_is_not_a_repeat():
    assert config._repeated_key("a:\n  x: 1\nb:\n  x: 2\nc: [{x: 1}, {x: 2}]\n") is None
    assert config._repeated_key("c: [{x: 1}, {x: 2, x: 3}]\n") == (1, "x")
    assert config._repeated_key("") is None


def test_a_yaml_alias_bomb_is_read_in_linear_time(tmp_path):
    """Nine levels of ten aliases each: 10^9 paths to the bottom, but only 10 nodes a level."""
    lines = ["l0: &l0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    assert config._repeated_key("\n".join(lines) + "\n") is None
    assert "unknown section" in load_error(str(write(tmp_path, "\n".join(lines) + "\n")))


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text, name="list.yaml")
    assert load_error("list.yaml") == "list.yaml: the top level must be a mapping of sections"


def test_non_utf8_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "latin.yaml").write_bytes("train:\n  lr: 0.1  # café\n".encode("latin-1"))
    assert load_error("latin.yaml") == "latin.yaml: not a text file"


def test_binary_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blob.yaml").write_bytes(bytes(range(256)))
    message = load_error("blob.yaml")
    assert message.startswith("blob.yaml: ")


def test_a_folder_named_like_a_shipped_config_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").mkdir()                    # a data folder, say
    (tmp_path / "fast.yaml").mkdir()
    assert load("mnist").model.hidden == [256, 128]
    assert load("fast.yaml").train.epochs == 3
    assert load_error("mnist/") == "mnist/: is a folder, not a config file"     # a path, not a name


def test_config_error_is_an_input_error():
    assert issubclass(ConfigError, InputError) and ConfigError("x").exit_code == 2


# ----------------------------------------------------------------------------- --set overrides

def test_overrides_are_parsed_as_yaml():
    c = load("mnist", ["model.hidden=[256,128]", "train.batch_size=full", "train.lr=1e-3",
                       "train.epochs=3", "data.dir=/tmp/x", "model.activation=tanh"])
    assert c.model.hidden == [256, 128]
    assert c.train.batch_size == "full"
    assert c.train.lr == pytest.approx(1e-3) and isinstance(c.train.lr, float)
    assert c.train.epochs == 3 and c.data.dir == "/tmp/x" and c.model.activation == "tanh"


def test_override_to_no_hidden_layer():
    assert load(None, ["model.hidden=[]"]).model.hidden == []


def test_overrides_apply_in_order_and_win_over_the_file(tmp_path):
    path = write(tmp_path, "train:\n  lr: 0.5\n")
    assert load(str(path), ["train.lr=0.2", "train.lr=0.3"]).train.lr == 0.3


def test_override_out_of_range_names_the_key():
    message = load_error("mnist", ["train.lr=-1"])
    assert message == "--set 'train.lr=-1': train.lr must be > 0, got -1"
    assert load_error("mnist", ["train.epochs=1=2"]) == "--set 'train.epochs=1=2': train.epochs must be an " \
                                                        "integer >= 1, got '1=2'"
    assert load_error("mnist", ["train.bogus=1"]).startswith("--set 'train.bogus=1': unknown key train.bogus; ")


def test_a_bad_value_in_the_file_is_the_files_fault_even_beside_overrides(tmp_path):
    path = write(tmp_path, "train:\n  lr: -1\n")
    assert load_error(str(path), ["train.epochs=2"]) == f"{path}: train.lr must be > 0, got -1"
    assert load(str(path), ["train.lr=0.1"]).train.lr == 0.1                     # the override fixes it


def test_override_into_an_empty_section(tmp_path):
    path = write(tmp_path, "train:\nmodel:\n  hidden: [4]\n")
    c = load(str(path), ["train.lr=0.25"])
    assert c.train.lr == 0.25 and c.model.hidden == [4]


@pytest.mark.parametrize("item, expected", [
    ("train.lr", "--set 'train.lr': expected section.key=value"),
    ("lr=0.1", "--set 'lr=0.1': expected section.key=value"),
    ("train.lr.x=1", "--set 'train.lr.x=1': expected section.key=value"),
    ("train.=1", "expected section.key=value"),
    (".lr=1", "expected section.key=value"),
    ("=1", "expected section.key=value"),
    ("train.lr=[1", "--set 'train.lr=[1': the value is not valid YAML"),
    ("trian.lr=0.1", "unknown section 'trian'"),
    ("train.rl=0.1", "unknown key train.rl"),
    ("train.epochs=many", "train.epochs must be an integer >= 1, got 'many'"),
])
def test_malformed_overrides(item, expected):
    message = load_error("mnist", [item])
    assert expected in message, message


def test_apply_overrides_rejects_a_scalar_section():
    with pytest.raises(ConfigError, match="train is not a section"):
        apply_overrides({"train": 5}, ["train.lr=0.1"])


def test_config_name():
    assert config.config_name("configs/mnist.yaml") == "mnist"
    assert config.config_name("sigmoid-mse") == "sigmoid-mse"
    assert config.config_name(None) == "default"


# ----------------------------------------------------------------------------- round trip (property)

positive_float = st.floats(min_value=1e-12, max_value=1e6, allow_nan=False, allow_infinity=False)
unit_float = st.floats(min_value=0.0, max_value=0.999999, allow_nan=False)

configs = st.builds(
    Config,
    data=st.builds(
        config.DataConfig,
        dataset=st.sampled_from(config.DATASET_NAMES),
        dir=st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00"), max_size=20)),
        validation=st.integers(0, 59999),
    ),
    model=st.builds(
        lambda hidden, activation, head, init, dropout, input_dropout: config.ModelConfig(
            hidden, activation, *head, init, dropout, input_dropout),
        st.lists(st.integers(1, 4096), max_size=4),
        st.sampled_from(config.ACTIVATIONS),
        st.sampled_from(sorted(config.HEADS)),
        st.sampled_from(config.INITS),
        unit_float,
        unit_float,
    ),
    train=st.builds(
        config.TrainConfig,
        epochs=st.integers(1, 10**6),
        batch_size=st.one_of(st.integers(1, 10**6), st.just("full")),
        lr=positive_float,
        schedule=st.sampled_from(config.SCHEDULES),
        optimizer=st.sampled_from(config.OPTIMIZERS),
        momentum=unit_float,
        beta1=unit_float,
        beta2=unit_float,
        weight_decay=st.one_of(st.just(0.0), positive_float),
        seed=st.integers(0, 2**32 - 1),
        dtype=st.sampled_from(config.DTYPES),
        log_every=st.integers(1, 100),
        step_epochs=st.integers(1, 100),
        step_gamma=st.floats(min_value=1e-6, max_value=1.0),
        max_norm=st.one_of(st.none(), positive_float),
        label_smoothing=unit_float,
        patience=st.one_of(st.none(), st.integers(1, 100)),
        min_delta=st.one_of(st.just(0.0), positive_float),
        monitor=st.sampled_from(config.MONITORS),
    ),
    augment=st.builds(
        config.AugmentConfig,
        shift=st.floats(0, 14), rotate=st.floats(0, 180), scale=st.floats(0, 0.9), shear=st.floats(0, 60),
        elastic_alpha=st.floats(0, 1000), elastic_sigma=st.floats(0.1, 100),
    ),
)


@settings(max_examples=150, deadline=None)
@given(configs)
def test_yaml_round_trip(c):
    from_dict(c.to_dict())                         # the strategy only builds valid configs
    again = from_dict(yaml.safe_load(c.to_yaml()))
    assert again == c
    assert dataclasses.asdict(again) == dataclasses.asdict(c)


@settings(max_examples=50, deadline=None)
@given(configs)
def test_round_trip_through_a_file(tmp_path_factory, c):
    path = tmp_path_factory.mktemp("rt") / "c.yaml"
    path.write_text(c.to_yaml(), encoding="utf-8")
    assert load(str(path)) == c


@pytest.mark.parametrize("raw", [{"model": {"hidden\nsecond line": [16]}}, {"x\n" * 500: {}}])
def test_an_unknown_name_stays_on_one_short_line(raw):
    with pytest.raises(ConfigError) as info:
        from_dict(raw)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300, str(info.value)


def test_a_huge_bad_value_is_shown_cut_short():
    with pytest.raises(ConfigError) as info:
        from_dict({"model": {"hidden": [[[[]]]] * 1000}})
    message = str(info.value)
    assert message.startswith("model.hidden must be a list of integers") and message.endswith("…")
    assert len(message) < 200


def test_every_choice_the_config_accepts_builds():
    """The config's lists of choices come from the implementations: each one builds."""
    from bpnet import optim
    from bpnet.network import Network

    for activation in config.ACTIVATIONS:
        for output, loss in config.HEADS:
            for init in config.INITS:
                cfg = from_dict({"model": {"hidden": [3], "activation": activation, "output": output,
                                           "loss": loss, "init": init}})
                net = Network.for_mnist(cfg.model).initialise(cfg.model.init, np.random.default_rng(0))
                assert net.describe() == f"784-3-10 {activation}, {output} + {loss}"
    for name in config.OPTIMIZERS:
        optimizer = optim.make_optimizer(from_dict({"train": {"optimizer": name}}).train)
        assert type(optimizer) is optim.OPTIMIZERS[name]
