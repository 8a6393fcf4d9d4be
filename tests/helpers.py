"""What the training tests share: tiny synthetic data, a tiny config, and ways to compare and cut runs."""

import os
import signal
from dataclasses import asdict

import numpy as np
import pytest

from bpnet import checkpoint, runs, train as training
from bpnet import resume as resume_module
from bpnet.config import from_dict
from bpnet.data import MNIST, Split
from bpnet.errors import CheckpointError


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


def weights(path):
    ckpt = checkpoint.load(path)
    return [p.copy() for _, p in ckpt.network.parameters()]


def assert_same_weights(path_a, path_b):
    for x, y in zip(weights(path_a), weights(path_b)):
        np.testing.assert_array_equal(x, y)


def assert_same_metrics(run_a, run_b):
    """The two runs' metrics.jsonl hold the same records, diagnostics included, but for the seconds."""
    def records(run):
        return [{**asdict(r), "seconds": None} for r in runs.read_metrics(run)]
    a = records(run_a)
    assert a == records(run_b)
    assert a and all(r["diagnostics"] is not None for r in a)


def interrupt_at_step(step, signum=signal.SIGINT):
    """An on_batch callback that sends ``signum`` to this process after global step ``step``."""
    def on_batch(epoch, batch, n_batches, loss):
        if (epoch - 1) * n_batches + batch == step:
            os.kill(os.getpid(), signum)
    return on_batch


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
