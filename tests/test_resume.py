"""Resuming a run: exact continuation after a signal or a kill, and the checks that refuse what cannot continue."""

import json
import os
import signal
from dataclasses import asdict

import numpy as np
import pytest

from bpnet import checkpoint, runs, train as training
from bpnet import resume as resume_module
from bpnet.config import from_dict
from bpnet.data import load
from bpnet.errors import CheckpointError, ConfigError, Interrupted
from helpers import (assert_resume_refused, assert_same_metrics, assert_same_weights, config, interrupt_at_step,
                     synthetic, tampered_run)


def test_resumed_history_keeps_only_the_checkpoints_epochs(data, tmp_path):
    training.train(config(epochs=2), data, tmp_path / "run")
    records, last = runs.read_metrics(tmp_path / "run"), tmp_path / "run" / "last.npz"
    ckpt = checkpoint.load(last)
    ckpt.meta["epoch"] = 1                                # as if last.npz were an epoch older
    assert [r.epoch for r in resume_module.resumed_history(records, ckpt, last)] == [1]
    ckpt.meta.update(epoch=3, metrics={"epoch": 3, "tampered": True})
    with pytest.raises(CheckpointError, match="last.npz: its metrics are damaged"):
        resume_module.resumed_history(records, ckpt, last)
    # Checked like a line of metrics.jsonl: values no epoch can report are damage too.
    ckpt.meta["metrics"] = {**asdict(records[-1]), "epoch": 3, "train_accuracy": 7.5}
    with pytest.raises(CheckpointError, match="last.npz: its metrics are damaged"):
        resume_module.resumed_history(records, ckpt, last)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_saves_and_resume_matches_an_uninterrupted_run(data, tmp_path, optimizer, signum):
    cfg = config(optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.1)
    training.train(cfg, data, tmp_path / "straight")
    with pytest.raises(Interrupted) as info:                        # step 17: mid-way through epoch 2
        training.train(cfg, data, tmp_path / "cut", on_batch=interrupt_at_step(17, signum))
    assert info.value.exit_code == 128 + signum
    assert info.value.checkpoint == tmp_path / "cut" / "last.npz"
    assert "--resume" in str(info.value)
    saved = checkpoint.load(tmp_path / "cut" / "last.npz").meta
    assert saved["step"] == 17 and saved["seconds"] > 0

    ckpt, cfg2 = resume_module.load_for_resume(tmp_path / "cut")
    result = training.train(cfg2, data, tmp_path / "cut", resume=ckpt)
    assert_same_weights(tmp_path / "straight" / "last.npz", tmp_path / "cut" / "last.npz")
    assert [h.epoch for h in result.history] == [1, 2, 3]
    assert_same_metrics(tmp_path / "straight", tmp_path / "cut")
    assert result.history[1].seconds > saved["seconds"]        # the cut epoch counts both parts


def test_resume_extends_a_finished_run(data, tmp_path):
    training.train(config(epochs=2), data, tmp_path / "run")
    ckpt, cfg = resume_module.load_for_resume(tmp_path / "run", ["train.epochs=4"])
    result = training.train(cfg, data, tmp_path / "run", resume=ckpt)
    assert [h.epoch for h in result.history] == [1, 2, 3, 4]
    training.train(config(epochs=4), data, tmp_path / "straight")
    assert_same_weights(tmp_path / "straight" / "last.npz", tmp_path / "run" / "last.npz")


def test_resume_refuses_changes_that_would_not_continue_the_same_run(data, tmp_path):
    training.train(config(epochs=1), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="model.hidden"):
        resume_module.load_for_resume(tmp_path / "run", ["model.hidden=[8]"])
    with pytest.raises(ConfigError, match="no last.npz"):
        resume_module.load_for_resume(tmp_path / "nothing")


def test_resume_refuses_a_checkpoint_without_training_state(data, tmp_path):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.meta.pop("sums"))
    assert_resume_refused(data, run, "not a resumable training checkpoint")
    run = tampered_run(data, tmp_path / "run2", lambda ckpt: ckpt.meta.update(rng={"bit_generator": "nonsense"}))
    assert_resume_refused(data, run, "random-generator state is damaged")


@pytest.mark.parametrize("value", [-1, 10 ** 50, "7"])
def test_resume_refuses_a_random_generator_state_out_of_range(data, tmp_path, value):
    """numpy raises OverflowError (not ValueError) for a PCG64 state outside 0..2^128."""
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.meta["rng"]["state"].update(state=value))
    assert_resume_refused(data, run, "random-generator state is damaged")


def test_resume_from_python_continues_only_in_the_checkpoints_own_folder(data, tmp_path):
    training.train(config(epochs=1), data, tmp_path / "a")
    training.train(config(epochs=1, seed=3), data, tmp_path / "b")
    before = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    ckpt = checkpoint.load(tmp_path / "a" / "last.npz")
    with pytest.raises(ConfigError, match="a run continues in its own folder"):
        training.train(config(epochs=2), data, tmp_path / "b", resume=ckpt)
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == before        # untouched


@pytest.mark.parametrize("change, key", [({"model": {"hidden": [8]}}, "model.hidden"),
                                         ({"train": {"epochs": 2, "batch_size": 25}}, "train.batch_size"),
                                         ({"train": {"epochs": 2, "seed": 5}}, "train.seed")])
def test_resume_from_python_refuses_what_set_may_not_change(data, tmp_path, change, key):
    run = tmp_path / "run"
    training.train(config(epochs=1), data, run)
    raw = config(epochs=1).to_dict()
    for section, values in change.items():
        raw[section].update(values)
    with pytest.raises(ConfigError, match=f"{key} cannot change when resuming"):
        training.train(from_dict(raw), data, run, resume=checkpoint.load(run / "last.npz"))
    training.train(config(epochs=2, lr=0.05), data, run, resume=checkpoint.load(run / "last.npz"))   # allowed


def test_resume_checks_the_file_that_was_loaded_not_where_latest_points_now(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    training.train(config(epochs=1), data, tmp_path / "runs" / "a")
    ckpt = checkpoint.load("runs/latest/last.npz")                      # a's, through the link
    training.train(config(epochs=1), data, tmp_path / "runs" / "b")       # latest now points to b
    with pytest.raises(ConfigError, match="a run continues in its own folder"):
        training.train(config(epochs=2), data, tmp_path / "runs" / "b", resume=ckpt)
    monkeypatch.chdir(tmp_path / "runs")                                 # a relative path, then another cwd
    training.train(config(epochs=2), data, tmp_path / "runs" / "a", resume=ckpt)
    with pytest.raises(ConfigError, match="a run resumes from its last.npz"):
        training.train(config(epochs=3), data, tmp_path / "runs" / "a",
                       resume=checkpoint.load(tmp_path / "runs" / "a" / "best.npz"))


def test_resume_from_python_without_data_reads_the_recorded_folder(tmp_path, mnist_gz_dir, monkeypatch):
    cfg = from_dict({"model": {"hidden": [8]}, "train": {"epochs": 1, "batch_size": 1000},
                     "data": {"validation": 1000}})
    training.train(cfg, load("mnist", mnist_gz_dir, validation=1000, download=False), tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPNET_DATA_DIR", raising=False)
    asked = []
    real_load = training.load_data

    def spy(name, folder, *args, **kwargs):
        asked.append(folder)
        return real_load(name, folder, *args, download=False, **kwargs)
    monkeypatch.setattr(training, "load_data", spy)
    longer = from_dict({**cfg.to_dict(), "train": {**cfg.to_dict()["train"], "epochs": 2}})
    training.train(longer, run_dir=tmp_path / "run", resume=checkpoint.load(tmp_path / "run" / "last.npz"))
    assert asked == [mnist_gz_dir.resolve()]


def test_resume_blames_a_bad_set_on_the_set(data, tmp_path):
    run = tmp_path / "run"
    training.train(config(epochs=1), data, run)
    with pytest.raises(ConfigError, match=r"^--set 'train.lr=-1': train.lr must be > 0, got -1$"):
        resume_module.load_for_resume(run, ["train.lr=-1"])


@pytest.mark.parametrize("value", [3, "", ["a"]])
def test_a_damaged_recorded_data_folder_is_refused(tmp_path, value):
    with pytest.raises(CheckpointError, match="its data folder is damaged"):
        resume_module.recorded_data_dir(tmp_path / "last.npz", {"data_dir": value})


@pytest.mark.parametrize("field, value", [("step", "x"), ("batch", -1), ("sums", "abc"), ("epoch", 1.5),
                                          ("best_val_accuracy", None), ("sums", [float("nan"), 0, 0]),
                                          ("sums", [0.0, float("inf"), 1]), ("seconds", float("inf")),
                                          ("seconds", -1.0), ("best_val_accuracy", float("nan"))])
def test_resume_refuses_a_damaged_training_state(data, tmp_path, field, value):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.meta.update({field: value}))
    assert_resume_refused(data, run, "training state is damaged")


def test_resume_refuses_optimizer_state_that_does_not_fit(data, tmp_path):
    run = tampered_run(data, tmp_path / "run",
                       lambda ckpt: ckpt.optimizer_state.update(u_W1=np.zeros((3, 3), np.float32)))
    assert_resume_refused(data, run, "optimiser state u_W1 does not fit")


def test_resume_refuses_weights_of_another_dtype_than_the_config(data, tmp_path):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: setattr(ckpt.config.train, "dtype", "float64"))
    assert_resume_refused(data, run, "its weights are float32 but its config says train.dtype float64")


def test_resume_refuses_momentum_state_of_an_older_bpnet(data, tmp_path):
    """Earlier bpnet kept momentum as v (unscaled by α) in v_*; using it as u = αv would silently
    drop or misscale the velocity, so such a checkpoint is refused, not half-resumed."""
    def to_old_format(ckpt):
        state = ckpt.optimizer_state
        for key in [k for k in state if k.startswith("u_")]:
            state["v_" + key[2:]] = state.pop(key) / 0.1
        state.pop("lr")
    run = tampered_run(data, tmp_path / "run", to_old_format)
    assert_resume_refused(data, run, "v_.* is not Momentum's .*cannot be resumed")


def test_a_refused_resume_leaves_the_run_folder_as_it_was(data, tmp_path):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.optimizer_state.update(lr=np.array(-1.0)))
    training.train(config(epochs=1), data, tmp_path / "other")           # `latest` now points at other
    before = (run / "config.yaml").read_bytes()
    assert_resume_refused(data, run, "optimiser state lr is damaged")
    assert (run / "config.yaml").read_bytes() == before
    assert (tmp_path / "latest").resolve() == (tmp_path / "other").resolve()


@pytest.mark.parametrize("optimizer, key, value", [
    ("momentum", "lr", np.array([0.1, 0.1])), ("momentum", "lr", np.array("abc")),
    ("momentum", "lr", np.array(np.nan)), ("momentum", "lr", np.array(-0.1)), ("momentum", "lr", np.array(0.0)),
    ("momentum", "lr", np.array(np.inf)), ("momentum", "lr", np.array(1)), ("momentum", "t", np.array(3)),
    ("adam", "t", np.array([1, 2])), ("adam", "t", np.array(-1)), ("adam", "t", np.array(1.5)),
    ("adam", "lr", np.array(0.1)),
])
def test_resume_refuses_damaged_optimizer_scalars(data, tmp_path, optimizer, key, value):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.optimizer_state.update({key: value}), optimizer)
    assert_resume_refused(data, run, f"optimiser state {key} is damaged")


@pytest.mark.parametrize("optimizer, change, match", [
    ("momentum", lambda state: state.pop("u_W1"), "optimiser state u_W1 is missing"),
    ("momentum", lambda state: [state.pop(k) for k in list(state)], "optimiser state u_W1 is missing"),
    ("momentum", lambda state: state.pop("lr"), "optimiser state lr is missing"),
    ("adam", lambda state: state.pop("v_b2"), "optimiser state v_b2 is missing"),
    ("adam", lambda state: state.pop("t"), "optimiser state t is missing"),
    ("momentum", lambda state: state["u_W1"].__setitem__((0, 0), np.nan), "u_W1 holds NaN or infinite"),
    ("adam", lambda state: state["m_b1"].__setitem__((0, 0), -np.inf), "m_b1 holds NaN or infinite"),
])
def test_resume_refuses_missing_or_broken_optimizer_state(data, tmp_path, optimizer, change, match):
    """Resuming without the velocities (or with NaN ones) would silently not continue the same run."""
    run = tampered_run(data, tmp_path / "run", lambda ckpt: change(ckpt.optimizer_state), optimizer)
    assert_resume_refused(data, run, match)


def test_a_batch_wider_than_a_chunk_trains_and_resumes_exactly(tmp_path):
    """batch_size 1500 > CHUNK: each step sums two chunks; a cut and resumed run is bit-identical."""
    wide = synthetic(n_train=3000)
    cfg = config(batch_size=1500, epochs=3, lr=0.5)
    straight = training.train(cfg, wide, tmp_path / "straight")
    assert straight.history[-1].train_loss < straight.history[0].train_loss
    with pytest.raises(Interrupted):
        training.train(cfg, wide, tmp_path / "cut", on_batch=interrupt_at_step(3))
    ckpt, cfg2 = resume_module.load_for_resume(tmp_path / "cut")
    training.train(cfg2, wide, tmp_path / "cut", resume=ckpt)
    assert_same_weights(tmp_path / "straight" / "last.npz", tmp_path / "cut" / "last.npz")
    assert_same_metrics(tmp_path / "straight", tmp_path / "cut")        # the diagnostics' gradient too


def test_resume_refuses_fewer_epochs_than_done_and_a_damaged_metrics_file(data, tmp_path):
    training.train(config(epochs=2), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="fewer than the 2 epochs"):
        resume_module.load_for_resume(tmp_path / "run", ["train.epochs=1"])
    with open(tmp_path / "run" / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "trunc')
    ckpt, cfg = resume_module.load_for_resume(tmp_path / "run", ["train.epochs=3"])
    with pytest.raises(CheckpointError, match="metrics.jsonl: line 3 is damaged"):
        training.train(cfg, data, tmp_path / "run", resume=ckpt)


def test_interrupt_at_an_epoch_end_that_is_not_reported_reports_nothing(data, tmp_path):
    """With log_every 2, a signal in epoch 1's last batch saves last.npz but adds no metrics line."""
    cfg = config(epochs=4, log_every=2)

    def interrupt_in_last_batch(epoch, batch, n_batches, loss):
        if epoch == 1 and batch == n_batches:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        training.train(cfg, data, tmp_path / "cut", on_batch=interrupt_in_last_batch)
    assert not (tmp_path / "cut" / "metrics.jsonl").exists()
    assert checkpoint.load(tmp_path / "cut" / "last.npz").meta["epoch"] == 1
    ckpt, cfg2 = resume_module.load_for_resume(tmp_path / "cut")
    training.train(cfg2, data, tmp_path / "cut", resume=ckpt)
    training.train(cfg, data, tmp_path / "straight")
    for name in ("metrics.jsonl",):
        cut = [json.loads(x) for x in (tmp_path / "cut" / name).read_text().splitlines()]
        straight = [json.loads(x) for x in (tmp_path / "straight" / name).read_text().splitlines()]
        assert [r["epoch"] for r in cut] == [r["epoch"] for r in straight] == [2, 4]
        assert [r["val_accuracy"] for r in cut] == [r["val_accuracy"] for r in straight]


def test_resume_refuses_a_position_past_the_end_of_an_epoch(data, tmp_path):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.meta.update(batch=999))
    ckpt, cfg = resume_module.load_for_resume(run, ["train.epochs=2"])
    with pytest.raises(CheckpointError, match="saved at batch 999 of an epoch of 12"):
        training.train(cfg, data, run, resume=ckpt)


def test_a_resumed_run_becomes_latest(data, tmp_path):
    runs = tmp_path / "runs"
    for name in ("a", "b"):
        training.train(config(epochs=1), data, runs / name)
    assert (runs / "latest").resolve() == (runs / "b").resolve()
    ckpt, cfg = resume_module.load_for_resume(runs / "a", ["train.epochs=2"])
    training.train(cfg, data, runs / "a", resume=ckpt)
    assert (runs / "latest").resolve() == (runs / "a").resolve()


# ----------------------------------------------------------------------------- regularisation and augmentation

EVERYTHING = {"model": {"hidden": [16, 12], "dropout": [0.3, 0.2], "input_dropout": 0.1},
              "train": {"epochs": 4, "batch_size": 50, "lr": 0.01, "optimizer": "adamw", "weight_decay": 0.01,
                        "schedule": "onecycle", "max_norm": 2.0, "label_smoothing": 0.1, "patience": 3},
              "augment": {"shift": 2, "rotate": 10, "scale": 0.1, "elastic_alpha": 8, "elastic_sigma": 4}}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_run_with_dropout_and_augmentation_resumes_bit_for_bit(data, tmp_path, signum):
    """Cut mid-epoch while the prefetch thread is batches ahead: the resumed run replays the
    shuffle, draws each batch's augmentation and dropout masks from its own generator, and ends
    with the weights, optimiser state and metrics of the run that was not cut."""
    cfg = from_dict(EVERYTHING)
    straight = training.train(cfg, data, tmp_path / "straight")
    with pytest.raises(Interrupted):                                    # step 29: epoch 3, batch 5 of 12
        training.train(cfg, data, tmp_path / "cut", on_batch=interrupt_at_step(29, signum))
    assert checkpoint.load(tmp_path / "cut" / "last.npz").meta["batch"] == 5
    ckpt, cfg2 = resume_module.load_for_resume(tmp_path / "cut")
    resumed = training.train(cfg2, data, tmp_path / "cut", resume=ckpt)
    assert_same_weights(tmp_path / "straight" / "last.npz", tmp_path / "cut" / "last.npz")
    a, b = (checkpoint.load(tmp_path / name / "last.npz").optimizer_state for name in ("straight", "cut"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    fields = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "diagnostics")
    assert [[getattr(h, f) for f in fields] for h in resumed.history] == \
           [[getattr(h, f) for f in fields] for h in straight.history]
    assert resumed.test == straight.test


def test_dropout_and_augmentation_change_what_is_learned_and_stay_seeded(data, tmp_path):
    """The masks and the transforms are really drawn (weights differ from a plain run), and drawn
    from the seed (the same seed gives the same weights)."""
    plain = {k: v for k, v in EVERYTHING.items() if k != "augment"}
    plain["model"] = {"hidden": [16, 12]}
    runs_ = {name: from_dict(raw) for name, raw in (("a", EVERYTHING), ("b", EVERYTHING), ("plain", plain))}
    for name, cfg in runs_.items():
        training.train(cfg, data, tmp_path / name)
    assert_same_weights(tmp_path / "a" / "last.npz", tmp_path / "b" / "last.npz")
    w_a, w_plain = (checkpoint.load(tmp_path / n / "last.npz").network.W[1] for n in ("a", "plain"))
    assert not np.array_equal(w_a, w_plain)


def test_early_stopping_state_is_resumed(data, tmp_path, monkeypatch):
    """A run cut after two epochs without improvement stops at the epoch the uncut one stopped at:
    the count of stale validations and the best value travel in last.npz."""
    curve = iter([])

    def scripted(network, split, on_chunk=None):
        return {"loss": 1.0, "accuracy": next(curve), "predictions": None}

    monkeypatch.setattr(training, "evaluate", scripted)
    cfg = config(epochs=10, patience=3)
    curve = iter([0.5, 0.6, 0.55, 0.58, 0.6, 0.59])
    straight = training.train(cfg, data, tmp_path / "straight")
    assert straight.stopped_early and [h.epoch for h in straight.history] == [1, 2, 3, 4, 5]
    curve = iter([0.5, 0.6, 0.55, 0.58])
    with pytest.raises(Interrupted):                      # after epoch 4's report, mid-epoch 5
        training.train(cfg, data, tmp_path / "cut", on_batch=interrupt_at_step(4 * 12 + 3))
    saved = checkpoint.load(tmp_path / "cut" / "last.npz").meta
    assert (saved["stale"], saved["best_val_accuracy"], saved["best_epoch"]) == (2, 0.6, 2)
    curve = iter([0.6, 0.59])
    ckpt, cfg2 = resume_module.load_for_resume(tmp_path / "cut")
    resumed = training.train(cfg2, data, tmp_path / "cut", resume=ckpt)
    assert resumed.stopped_early and [h.epoch for h in resumed.history] == [1, 2, 3, 4, 5]
    assert resumed.best_epoch == straight.best_epoch == 2
    assert_same_weights(tmp_path / "straight" / "last.npz", tmp_path / "cut" / "last.npz")


def test_a_checkpoint_of_a_bpnet_before_these_keys_loads_evaluates_and_resumes(data, tmp_path):
    """Written before dropout, schedules, early stopping and augment existed: its config has none of
    their keys and its state no stale count. Defaults fill them in, so it is the same run: it loads,
    evaluates and resumes to the weights of a run that was never stopped."""
    from bpnet.evaluate import evaluate

    cfg = config(epochs=3, schedule="cosine")
    training.train(cfg, data, tmp_path / "straight")
    with pytest.raises(Interrupted):
        training.train(cfg, data, tmp_path / "old", on_batch=interrupt_at_step(17))
    last = tmp_path / "old" / "last.npz"
    ckpt = checkpoint.load(last)
    old_config = {"data": cfg.to_dict()["data"],
                  "model": {k: v for k, v in cfg.to_dict()["model"].items() if k not in ("dropout", "input_dropout")},
                  "train": {k: v for k, v in cfg.to_dict()["train"].items()
                            if k in ("epochs", "batch_size", "lr", "schedule", "optimizer", "momentum", "beta1",
                                     "beta2", "weight_decay", "seed", "dtype", "log_every")}}
    meta = {k: v for k, v in ckpt.meta.items() if k not in ("stale", "best_val_loss", "config")}
    arrays = dict(ckpt.network.parameters())
    arrays.update({f"opt.{k}": v for k, v in ckpt.optimizer_state.items()})
    arrays["meta"] = np.array(json.dumps({**meta, "config": old_config}))
    np.savez(last, **arrays)                                  # as an older bpnet wrote it
    (tmp_path / "old" / "config.yaml").write_text(__import__("yaml").safe_dump(old_config))
    again = checkpoint.load(last)
    assert "dropout" not in json.loads(str(np.load(last)["meta"]))["config"]["model"]
    assert again.config == cfg
    assert evaluate(again.network, data.test)["accuracy"] == evaluate(ckpt.network, data.test)["accuracy"]
    ckpt2, cfg2 = resume_module.load_for_resume(tmp_path / "old")
    training.train(cfg2, data, tmp_path / "old", resume=ckpt2)
    assert_same_weights(tmp_path / "straight" / "last.npz", last)


@pytest.mark.parametrize("field, value", [("stale", -1), ("stale", 1.5), ("best_val_loss", float("nan")),
                                          ("best_val_loss", "low")])
def test_resume_refuses_a_damaged_early_stopping_state(data, tmp_path, field, value):
    run = tampered_run(data, tmp_path / "run", lambda ckpt: ckpt.meta.update({field: value}))
    assert_resume_refused(data, run, "training state is damaged")


# ----------------------------------------------------------------------------- killed outright

CHILD = """
import sys
import time
import numpy as np
from bpnet import resume, train
from bpnet.data import MNIST, Split
arrays = np.load(sys.argv[2])
data = MNIST(*(Split(arrays[s + "_x"], arrays[s + "_y"]) for s in ("train", "val", "test")), name="synthetic")
ckpt, config = resume.load_for_resume(sys.argv[1])
started = []


def on_batch(*args):                        # say so once training is under way, not while importing
    if not started:
        started.append(print("training", flush=True))
    time.sleep(0.01)                        # at most 100 steps a second: the kills come before the end


train.train(config, data, sys.argv[1], resume=ckpt, on_batch=on_batch)
"""


@pytest.mark.slow
def test_sigkill_at_random_times_leaves_no_litter_and_resumes_bit_for_bit(tmp_path):
    """SIGKILL gives no chance to save or clean up: a resumed run (dropout, augmentation in its
    thread, a checkpoint every epoch) is killed 12 times at random moments, often while writing
    a checkpoint. Each start removes the temporary files the kill before left; the last resume
    finishes, leaves no *.tmp, and ends with the weights of a run that was never stopped."""
    import subprocess
    import sys
    import time

    raw = {**EVERYTHING, "model": {"hidden": [16], "dropout": 0.2}}
    raw["train"] = {**EVERYTHING["train"], "epochs": 40, "patience": None, "schedule": "cosine"}
    cfg = from_dict(raw)
    data = synthetic(n_train=200, n_val=50, n_test=50)              # 4 batches an epoch
    arrays = {f"{s}_{k}": getattr(getattr(data, s), a) for s in ("train", "val", "test")
              for k, a in (("x", "images"), ("y", "labels"))}
    np.savez(tmp_path / "data.npz", **arrays)
    (tmp_path / "child.py").write_text(CHILD)
    run = tmp_path / "run"
    with pytest.raises(Interrupted):
        training.train(cfg, data, run, on_batch=interrupt_at_step(5))
    rng, litter = np.random.default_rng(), 0
    for _ in range(12):
        child = subprocess.Popen([sys.executable, str(tmp_path / "child.py"), str(run), str(tmp_path / "data.npz")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            assert line == "training\n", f"{line!r} {child.wait()} {child.stderr.read()}"
            time.sleep(rng.uniform(0, 0.12))          # the 160 steps take the children at least 1.6 s
        finally:
            child.kill()
            child.wait()
        litter += sum(name.endswith(".tmp") for name in os.listdir(run))
    epoch_before = checkpoint.load(run / "last.npz").meta["epoch"]
    ckpt, cfg2 = resume_module.load_for_resume(run)
    training.train(cfg2, data, run, resume=ckpt)
    assert not [name for name in os.listdir(run) if name.endswith(".tmp")]
    assert epoch_before < 40, "the kills came too late to cut the run"
    training.train(cfg, data, tmp_path / "straight")
    assert_same_weights(tmp_path / "straight" / "last.npz", run / "last.npz")
    assert_same_metrics(tmp_path / "straight", run)
    print(f"{litter} temporary files left by 12 kills, before the next start removed them")
