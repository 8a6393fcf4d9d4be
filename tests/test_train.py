"""The training loop: learning, run folder, determinism, interrupt and resume, divergence."""

import json
import os
import signal

import numpy as np
import pytest

from bpnet import blas, checkpoint, files, train as training
from bpnet import resume as resume_module
from bpnet import runs
from bpnet.batches import Batches
from bpnet.config import from_dict
from bpnet.data import load
from bpnet.errors import BpnetError, ConfigError, DivergedError, Interrupted
from bpnet.network import Network
from helpers import config, weights


def test_training_learns_and_writes_the_run_folder(data, tmp_path):
    result = training.train(config(epochs=4), data, tmp_path / "run")
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["best.npz", "config.yaml", "last.npz", "metrics.jsonl"]
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3, 4]
    assert set(lines[0]) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}
    assert lines[-1]["train_loss"] < lines[0]["train_loss"]
    assert result.history[-1].val_accuracy > 0.5           # chance is 0.1
    assert 0 <= result.test["accuracy"] <= 1
    assert (tmp_path / "latest").resolve() == run.resolve()
    assert from_dict(__import__("yaml").safe_load((run / "config.yaml").read_text())) == config(epochs=4)
    best = checkpoint.load(result.best_path)
    assert best.meta["epoch"] == result.best_epoch
    assert best.meta["metrics"]["val_accuracy"] == max(h.val_accuracy for h in result.history)


def test_same_seed_same_weights_other_seed_other_weights(data, tmp_path):
    training.train(config(), data, tmp_path / "a")
    training.train(config(), data, tmp_path / "b")
    training.train(config(seed=1), data, tmp_path / "c")
    a, b, c = (weights(tmp_path / name / "last.npz") for name in "abc")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_a_crash_before_metrics_are_written_loses_no_epoch(data, tmp_path, monkeypatch):
    write = training.write_metrics

    def crash_at_epoch_2(run_dir, records):          # killed between last.npz and metrics.jsonl
        if records[-1].epoch == 2:
            raise KeyboardInterrupt
        write(run_dir, records)

    monkeypatch.setattr(training, "write_metrics", crash_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        training.train(config(), data, tmp_path / "run")
    assert [r.epoch for r in runs.read_metrics(tmp_path / "run")] == [1]
    assert not [p for p in os.listdir(tmp_path / "run") if p.startswith(".")]     # no temporary file

    monkeypatch.setattr(training, "write_metrics", write)
    ckpt, cfg = resume_module.load_for_resume(tmp_path / "run")
    result = training.train(cfg, data, tmp_path / "run", resume=ckpt)
    straight = training.train(config(), data, tmp_path / "straight")
    for records in (result.history, runs.read_metrics(tmp_path / "run")):
        assert [r.epoch for r in records] == [1, 2, 3]
        assert [r.train_loss for r in records] == [r.train_loss for r in straight.history]


def test_divergence_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(data, tmp_path):
    cfg = config(epochs=3, optimizer="sgd", lr=0.1)
    run = tmp_path / "run"
    training.train(from_dict({**cfg.to_dict(), "train": {**cfg.to_dict()["train"], "epochs": 1}}), data, run)
    before = (run / "last.npz").read_bytes()
    ckpt, cfg2 = resume_module.load_for_resume(run, ["train.epochs=3", "train.lr=1e30"])
    with pytest.raises(DivergedError) as info:
        training.train(cfg2, data, run, resume=ckpt)
    message = str(info.value)
    assert "epoch 2" in message and "step" in message and "1e+30" in message
    assert str(run / "last.npz") in message and "untouched" in message
    assert (run / "last.npz").read_bytes() == before


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(data, tmp_path):
    training.train(config(epochs=1), data, tmp_path / "runs" / "good")
    with pytest.raises(DivergedError, match="no checkpoint had been saved yet, so what the run wrote is removed"):
        training.train(config(lr=1e30, optimizer="sgd"), data, tmp_path / "runs" / "new" / "bad")
    assert sorted(os.listdir(tmp_path / "runs")) == ["good", "latest"]     # not even runs/new
    assert (tmp_path / "runs" / "latest").resolve() == (tmp_path / "runs" / "good").resolve()


def test_a_full_disk_before_the_first_last_npz_leaves_nothing(data, tmp_path, monkeypatch):
    replace = os.replace

    def disk_full_at_last(source, target):             # best.npz fits, last.npz does not
        if os.path.basename(target) == "last.npz":
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(files.os, "replace", disk_full_at_last)
    with pytest.raises(BpnetError, match=r"run/last.npz: cannot save checkpoint \(No space left on device\)"):
        training.train(config(), data, tmp_path / "run")
    assert os.listdir(tmp_path) == []


def test_a_signal_while_measuring_the_test_set_stops_after_saving(data, tmp_path, monkeypatch):
    measure = training.Run.test

    def terminated_during_test(run):
        os.kill(os.getpid(), signal.SIGTERM)
        return measure(run)

    monkeypatch.setattr(training.Run, "test", terminated_during_test)
    with pytest.raises(Interrupted, match="by SIGTERM after training finished and was saved") as info:
        training.train(config(epochs=2), data, tmp_path / "run")
    assert info.value.exit_code == 143
    assert checkpoint.load(tmp_path / "run" / "last.npz").meta["epoch"] == 2
    monkeypatch.setattr(training.Run, "test", measure)
    straight = training.train(config(epochs=2), data, tmp_path / "straight").test      # the same run
    assert f"test accuracy {straight['accuracy']:.2%} (loss {straight['loss']:.4f}) of " in str(info.value)


def test_full_batch_gradient_descent_is_the_seed_001_update(data, tmp_path):
    """One epoch of batch_size 'full' with SGD is W ← W − α ∂C/∂W over all training columns."""
    cfg = from_dict({"model": {"hidden": [8]},
                     "train": {"epochs": 1, "batch_size": "full", "optimizer": "sgd", "lr": 0.5}})
    net = Network.for_mnist(cfg.model).initialise("he", np.random.default_rng(0))
    _, dW, db = net.gradients(data.train.A0(), data.train.Y())
    training.train(cfg, data, tmp_path / "run")
    after = checkpoint.load(tmp_path / "run" / "last.npz").network
    np.testing.assert_allclose(after.W[1], net.W[1] - 0.5 * dW[1], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(after.b[2], net.b[2] - 0.5 * db[2], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("min_blas_size", [0, None], ids=["through-blas", "default-threshold"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_chunked_steps_equal_one_pass_over_the_batch(data, tmp_path, optimizer, min_blas_size, monkeypatch):
    """Σ over chunks of (m/N)·(chunk gradient) is the full-batch gradient: the same steps, whether
    the chunks add up (β = 1) inside BLAS or in numpy (these layers are below the threshold)."""
    if min_blas_size is not None:
        monkeypatch.setattr(blas, "MIN_BLAS_SIZE", min_blas_size)
    cfg = config(batch_size="full", optimizer=optimizer, dtype="float64", weight_decay=0.01)
    runs = [training.Run(cfg, data, tmp_path / name) for name in ("whole", "chunks")]
    whole = Batches(data.train, "full", np.float64)
    chunked = Batches(data.train, "full", np.float64, 70)
    for _ in range(3):
        a = runs[0].step(whole.get(None, 0), len(data.train))
        b = runs[1].step(chunked.get(None, 0), len(data.train))
        assert b[0] == pytest.approx(a[0], rel=1e-12) and b[1] == a[1]
    for (_, x), (_, y) in zip(runs[0].params, runs[1].params):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-13)

def test_real_mnist_one_epoch_learns(mnist_gz_dir, tmp_path):
    """Integration: one epoch of a small network on real MNIST gets well above chance."""
    mnist = load("mnist", mnist_gz_dir, validation=5000, seed=0, download=False)
    cfg = from_dict({"model": {"hidden": [32]}, "train": {"epochs": 1}})
    result = training.train(cfg, mnist, tmp_path / "run")
    assert result.history[0].val_accuracy > 0.9
    assert result.test["accuracy"] > 0.9


def test_a_run_records_the_absolute_data_folder_it_read(tmp_path, mnist_gz_dir, monkeypatch):
    monkeypatch.chdir(mnist_gz_dir)
    mnist = load("mnist", ".", validation=1000, download=False)
    assert mnist.folder == mnist_gz_dir.resolve()
    run = tmp_path / "run"
    training.train(from_dict({"model": {"hidden": [8]}, "train": {"epochs": 1, "batch_size": 1000},
                              "data": {"validation": 1000}}), mnist, run)
    for name in ("last.npz", "best.npz"):
        meta = checkpoint.load(run / name).meta
        assert meta["data_dir"] == str(mnist_gz_dir.resolve())
        assert resume_module.recorded_data_dir(run / name, meta) == str(mnist_gz_dir.resolve())


def test_data_must_be_the_split_the_config_describes(tmp_path, mnist_gz_dir):
    """eval and --resume rebuild the split from the config: training on another would mix them."""
    mnist = load("mnist", mnist_gz_dir, validation=1000, seed=0, download=False)
    cfg = {"model": {"hidden": [8]}, "train": {"epochs": 1, "batch_size": 1000, "seed": 1},
           "data": {"validation": 1000}}
    with pytest.raises(ConfigError, match="split by seed 0, but the config asks for mnist with 1000 by seed 1"):
        training.train(from_dict(cfg), mnist, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    cfg["train"]["seed"] = 0
    training.train(from_dict(cfg), mnist, tmp_path / "run")
    # With no validation examples the seed splits nothing: any seed is the same data.
    whole = load("mnist", mnist_gz_dir, validation=0, seed=0, download=False)
    cfg.update(data={"validation": 0}, train={**cfg["train"], "seed": 7})
    training.train(from_dict(cfg), whole, tmp_path / "run2")


def test_data_of_the_callers_own_is_not_recorded(data, tmp_path):
    training.train(config(epochs=1), data, tmp_path / "run")
    meta = checkpoint.load(tmp_path / "run" / "last.npz").meta
    assert "data_dir" not in meta and resume_module.recorded_data_dir(tmp_path, meta) is None


def test_the_recorded_data_folder_comes_after_data_dir_and_the_environment(monkeypatch, tmp_path):
    """--data-dir > $BPNET_DATA_DIR > the folder a checkpoint's run read, if it exists > the config's data.dir."""
    asked = []
    monkeypatch.setattr(training, "load_data", lambda name, folder, *args, **kwargs: asked.append(folder))
    cfg = from_dict({"data": {"dir": "/config/dir"}})
    monkeypatch.delenv("BPNET_DATA_DIR", raising=False)
    recorded = str(tmp_path)
    training.load_data_for(cfg, recorded=recorded)
    training.load_data_for(cfg, "/cli/dir", recorded=recorded)
    training.load_data_for(cfg)
    training.load_data_for(cfg, recorded=str(tmp_path / "gone"))        # another machine's folder
    monkeypatch.setenv("BPNET_DATA_DIR", "/env/dir")
    training.load_data_for(cfg, recorded=recorded)
    assert [str(folder) for folder in asked] == [recorded, "/cli/dir", "/config/dir", "/config/dir", "/env/dir"]




# ----------------------------------------------------------------------------- early stopping, regularisation

def scripted_validation(monkeypatch, accuracies=None, losses=None):
    """Make the run's validation report these numbers, one epoch after the other (and the test set
    measured at the end the next ones)."""
    n = len(accuracies or losses)
    acc, loss = iter(accuracies or [0.5] * n), iter(losses or [1.0] * n)
    monkeypatch.setattr(training, "evaluate", lambda network, split, on_chunk=None: {
        "loss": next(loss), "accuracy": next(acc), "predictions": None})


def test_early_stopping_stops_after_patience_validations_without_improvement(data, tmp_path, monkeypatch):
    """val_accuracy 0.5, 0.6, 0.55, 0.58, 0.6 (equal is no improvement), 0.59: with patience 3 the run
    stops after epoch 5, the third in a row not above 0.6, and keeps epoch 2 as best.npz."""
    scripted_validation(monkeypatch, [0.5, 0.6, 0.55, 0.58, 0.6, 0.59, 0.99])
    result = training.train(config(epochs=10, patience=3), data, tmp_path / "run")
    assert result.stopped_early
    assert [h.epoch for h in result.history] == [1, 2, 3, 4, 5]
    assert result.best_epoch == 2 and checkpoint.load(result.best_path).meta["epoch"] == 2
    assert checkpoint.load(result.last_path).meta["epoch"] == 5


def test_early_stopping_on_the_loss_with_min_delta(data, tmp_path, monkeypatch):
    """monitor val_loss, min_delta 0.05: 1.0, 0.9 (better), 0.87 and 0.86 (less than 0.05 better than
    0.9: not improvements), 0.8 (better), 0.79, 0.78: patience 2 stops after epoch 7; best is epoch 5."""
    scripted_validation(monkeypatch, losses=[1.0, 0.9, 0.87, 0.86, 0.8, 0.79, 0.78, 0.5])
    result = training.train(config(epochs=10, patience=2, monitor="val_loss", min_delta=0.05), data, tmp_path / "a")
    assert [h.epoch for h in result.history] == [1, 2, 3, 4] and result.best_epoch == 2
    scripted_validation(monkeypatch, losses=[1.0, 0.9, 0.87, 0.8, 0.79, 0.78, 0.5])
    result = training.train(config(epochs=10, patience=2, monitor="val_loss", min_delta=0.05), data, tmp_path / "b")
    assert [h.epoch for h in result.history] == [1, 2, 3, 4, 5, 6] and result.best_epoch == 4
    assert checkpoint.load(result.best_path).meta["best_val_loss"] == 0.8


def test_without_patience_the_run_goes_to_the_end_and_best_follows_the_monitor(data, tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [0.9, 0.5, 0.5, 0.5], [0.3, 0.2, 0.4, 0.4])
    result = training.train(config(epochs=3, monitor="val_loss"), data, tmp_path / "run")
    assert not result.stopped_early and len(result.history) == 3
    assert result.best_epoch == 2                                   # the lowest loss, not the best accuracy


def test_max_norm_keeps_every_hidden_units_weights_in_the_ball(data, tmp_path):
    cfg = from_dict({"model": {"hidden": [32, 16]}, "train": {"epochs": 2, "batch_size": 50, "lr": 0.5,
                                                               "max_norm": 1.5}})
    net = checkpoint.load(training.train(cfg, data, tmp_path / "run").last_path).network
    for l in (1, 2):
        norms = np.linalg.norm(net.W[l], axis=1)
        assert norms.max() <= 1.5 * (1 + 1e-6) and norms.max() > 1.4   # active: rows were pushed onto it
    free = checkpoint.load(training.train(config(epochs=2, lr=0.5), data, tmp_path / "free").last_path).network
    assert np.linalg.norm(free.W[1], axis=1).max() > 1.5


def test_label_smoothing_trains_with_accuracy_from_the_hard_labels(data, tmp_path):
    smooth = training.train(config(epochs=3, label_smoothing=0.2), data, tmp_path / "smooth")
    plain = training.train(config(epochs=3), data, tmp_path / "plain")
    assert smooth.history[-1].val_accuracy > 0.5 and smooth.history[-1].train_accuracy > 0.5
    # The smoothed targets' cross-entropy has a floor above 0 (the targets' entropy, 0.50 nats at
    # ε = 0.2): the training loss stays well above the plain one's; validation uses one-hot targets.
    assert smooth.history[-1].train_loss > 0.5 > plain.history[-1].train_loss


# ----------------------------------------------------------------------------- diagnostics

def diagnosed(data, tmp_path, name, hidden=(16,), **train):
    """The diagnostics of each reported epoch of a short run, as metrics.jsonl holds them."""
    cfg = from_dict({"model": {"hidden": list(hidden), "activation": train.pop("activation", "relu"),
                               "init": train.pop("init", "he")},
                     "train": {"epochs": 2, "batch_size": 50, "lr": 0.1, "optimizer": "sgd", **train}})
    training.train(cfg, data, tmp_path / name)
    return [r.diagnostics for r in runs.read_metrics(tmp_path / name)]


def test_each_reported_epoch_records_the_gradient_update_and_weights_of_its_last_step(data, tmp_path):
    """Full-batch SGD: one step an epoch, W ← W − α ∂C/∂W, so epoch 2's diagnostics can be
    measured independently from epoch 1's last.npz."""
    from bpnet import diagnostics
    from bpnet.data import one_hot, scale_rows

    cfg = config(epochs=1, batch_size="full", optimizer="sgd", lr=0.5)
    training.train(cfg, data, tmp_path / "one")
    network = checkpoint.load(tmp_path / "one" / "last.npz").network
    _, dW, _ = network.gradients(scale_rows(data.train.images).T, one_hot(data.train.labels))
    ckpt, cfg2 = resume_module.load_for_resume(tmp_path / "one", ["train.epochs=2"])
    training.train(cfg2, data, tmp_path / "one", resume=ckpt)
    first, second = (r.diagnostics for r in runs.read_metrics(tmp_path / "one"))
    assert diagnostics.is_valid(second, 2) and second["saturated_fraction"] is None
    assert second["grad_norm"] == pytest.approx([np.linalg.norm(g) for g in dW[1:]], rel=1e-4)
    # ‖ΔW‖ = α‖∂C/∂W‖, relative to the weights before the step, which epoch 1 ended with
    assert second["update_ratio"] == pytest.approx(
        [0.5 * g / w for g, w in zip(second["grad_norm"], first["weight_norm"])], rel=1e-4)
    last = checkpoint.load(tmp_path / "one" / "last.npz").network
    assert second["weight_norm"] == pytest.approx([np.linalg.norm(w) for w in last.W[1:]], rel=1e-5)
    assert 0 <= second["dead_fraction"][0] <= 1 and second["dead_fraction"][1] is None


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_sigmoid_and_tanh_units_saturate_with_large_initial_weights(data, tmp_path, activation):
    # uniform: W ~ U(−0.5, 0.5) over 784 inputs, so |Z| is in the tens; xavier keeps it near 1
    calm = diagnosed(data, tmp_path, "calm", activation=activation, init="xavier")
    hot = diagnosed(data, tmp_path, "hot", activation=activation, init="uniform")
    assert all(d["dead_fraction"] is None and d["saturated_fraction"][1] is None for d in calm + hot)
    assert calm[-1]["saturated_fraction"][0] < 0.2 < 0.5 < hot[-1]["saturated_fraction"][0]


def test_a_too_large_learning_rate_leaves_most_relu_units_dead(data, tmp_path):
    sane = diagnosed(data, tmp_path, "sane", hidden=[32], lr=0.03)
    wild = diagnosed(data, tmp_path, "wild", hidden=[32], lr=1.0)
    assert all(d["saturated_fraction"] is None and d["dead_fraction"][1] is None for d in sane + wild)
    assert sane[-1]["dead_fraction"][0] < 0.3 and wild[-1]["dead_fraction"][0] > 0.5


def test_diagnostics_without_a_validation_set_have_no_fractions(tmp_path):
    from helpers import synthetic

    measured = diagnosed(synthetic(n_val=0), tmp_path, "run", epochs=1)[0]
    assert measured["dead_fraction"] is None and measured["saturated_fraction"] is None
    assert len(measured["grad_norm"]) == len(measured["update_ratio"]) == len(measured["weight_norm"]) == 2
