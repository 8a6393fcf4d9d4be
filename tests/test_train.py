"""The training loop: learning, run folder, determinism, interrupt and resume, divergence."""

import json
import os
import signal
from dataclasses import asdict

import numpy as np
import pytest

from bpnet import blas, checkpoint, files, train as training
from bpnet import resume as resume_module
from bpnet import runs
from bpnet.batches import Batches
from bpnet.config import from_dict
from bpnet.data import MNIST, Split, load
from bpnet.errors import BpnetError, CheckpointError, ConfigError, DivergedError, Interrupted
from bpnet.network import Network


def synthetic(n_train=600, n_val=100, n_test=100, seed=0):
    """Ten random 'digit' prototypes; an example is its class's prototype with noise: learnable."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, size=(10, 784))

    def split(n):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        noise = rng.integers(-100, 101, size=(n, 784))
        images = np.clip(prototypes[labels] + noise, 0, 255).astype(np.uint8)
        return Split(images, labels)

    return MNIST(split(n_train), split(n_val), split(n_test), name="synthetic")


def config(**train):
    base = {"model": {"hidden": [16]}, "train": {"epochs": 3, "batch_size": 50, "lr": 0.1, **train}}
    return from_dict(base)


@pytest.fixture(scope="module")
def data():
    return synthetic()


def weights(path):
    ckpt = checkpoint.load(path)
    return [p.copy() for _, p in ckpt.network.parameters()]


def assert_same_weights(path_a, path_b):
    for x, y in zip(weights(path_a), weights(path_b)):
        np.testing.assert_array_equal(x, y)


def interrupt_at_step(step, signum=signal.SIGINT):
    """An on_batch callback that sends ``signum`` to this process after global step ``step``."""
    def on_batch(epoch, batch, n_batches, loss):
        if (epoch - 1) * n_batches + batch == step:
            os.kill(os.getpid(), signum)
    return on_batch


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


def test_a_full_disk_when_writing_config_yaml_leaves_nothing(data, tmp_path, monkeypatch):
    def disk_full(path, write, suffix=".tmp"):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs, "atomic_write", disk_full)
    with pytest.raises(BpnetError, match=r"a/b/config.yaml: cannot write \(No space left on device\)"):
        training.train(config(), data, tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []


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


def test_check_new_run_dir_probes_without_keeping(tmp_path):
    (tmp_path / "a-file").write_text("in the way")
    with pytest.raises(BpnetError, match="a-file/run: cannot create the run folder"):
        runs.check_new_run_dir(tmp_path / "a-file" / "run")
    runs.check_new_run_dir(tmp_path / "new" / "run")       # can be made: only probed, not kept
    assert sorted(os.listdir(tmp_path)) == ["a-file"]


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


def test_minibatches_cover_each_example_once_per_epoch(data):
    batches = Batches(data.train, 64, np.float32)
    order = batches.order(np.random.default_rng(0))
    seen = np.concatenate([order[i * 64:(i + 1) * 64] for i in range(batches.count)])
    assert sorted(seen) == list(range(len(data.train)))
    (A0, Y, labels), = batches.get(order, batches.count - 1)       # the short last batch, one chunk
    n = len(data.train) - 64 * (batches.count - 1)
    assert A0.shape == (784, n) and Y.shape == (10, n) and A0.dtype == np.float32
    np.testing.assert_array_equal(A0, data.train.images[order[-n:]].T * np.float32(1 / 255))
    np.testing.assert_array_equal(np.argmax(Y, axis=0), labels)



def test_a_wide_batch_comes_in_chunks_that_cover_it_in_order(data):
    batches = Batches(data.train, "full", np.float64, chunk=70)
    assert batches.count == 1 and batches.order(np.random.default_rng(0)) is None
    chunks = [(A0.copy(), Y.copy(), labels.copy()) for A0, Y, labels in batches.get(None, 0)]
    assert [c[0].shape[1] for c in chunks] == [70] * 8 + [40]                     # 600 examples
    np.testing.assert_array_equal(np.hstack([c[0] for c in chunks]), data.train.A0(np.float64))
    np.testing.assert_array_equal(np.hstack([c[1] for c in chunks]), data.train.Y(np.float64))
    np.testing.assert_array_equal(np.concatenate([c[2] for c in chunks]), data.train.labels)


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


def tampered_run(data, run, change, optimizer="momentum"):
    """Train one epoch into ``run``, then rewrite its last.npz after ``change(ckpt)``."""
    training.train(config(epochs=1, optimizer=optimizer), data, run)
    ckpt = checkpoint.load(run / "last.npz")
    change(ckpt)
    checkpoint.save(run / "last.npz", ckpt.network, ckpt.config, ckpt.meta, ckpt.optimizer_state)
    return run


def assert_resume_refused(data, run, match):
    """load_for_resume (what --resume calls before it loads any data) refuses ``run``, and so
    does the Python API's train(resume=) with the same checkpoint."""
    with pytest.raises(CheckpointError, match=match):
        resume_module.load_for_resume(run, ["train.epochs=2"])
    ckpt = checkpoint.load(run / "last.npz")
    cfg = from_dict({**ckpt.config.to_dict(), "train": {**ckpt.config.to_dict()["train"], "epochs": 2}})
    with pytest.raises(CheckpointError, match=match):
        training.train(cfg, data, run, resume=ckpt)


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


@pytest.mark.parametrize("value", [3, "", ["a"]])
def test_a_damaged_recorded_data_folder_is_refused(tmp_path, value):
    with pytest.raises(CheckpointError, match="its data folder is damaged"):
        resume_module.recorded_data_dir(tmp_path / "last.npz", {"data_dir": value})


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


def test_resume_refuses_fewer_epochs_than_done_and_a_damaged_metrics_file(data, tmp_path):
    training.train(config(epochs=2), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="fewer than the 2 epochs"):
        resume_module.load_for_resume(tmp_path / "run", ["train.epochs=1"])
    with open(tmp_path / "run" / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 3, "trunc')
    ckpt, cfg = resume_module.load_for_resume(tmp_path / "run", ["train.epochs=3"])
    with pytest.raises(CheckpointError, match="metrics.jsonl: line 3 is damaged"):
        training.train(cfg, data, tmp_path / "run", resume=ckpt)


def test_a_new_run_refuses_a_folder_that_holds_files(data, tmp_path):
    training.train(config(epochs=1), data, tmp_path / "run")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        training.train(config(epochs=1), data, tmp_path / "run")


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
