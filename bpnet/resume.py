"""Resuming a run exactly where it stopped: reading last.npz back and checking that it can go on.

A checkpoint's ``meta`` holds the training state (``STATE_KEYS``) besides the arrays; the
checks here make sure it has the types and ranges the training loop relies on, that the
config changes only what ``--set`` may change on resuming, and that the optimiser's state
fits the network, so that a resumed run is bit for bit the run that was not stopped.
"""

import copy
import math
from pathlib import Path

import numpy as np

from . import checkpoint
from .errors import CheckpointError, ConfigError
from .optim import SCALARS, make_optimizer
from .runs import is_count, is_finite, record_from

RESUMABLE_OVERRIDES = ("train.epochs", "train.lr", "train.log_every")


STATE_KEYS = ("epoch", "step", "batch", "sums", "epoch_rng", "best_val_accuracy", "best_epoch", "rng")



def load_for_resume(run_dir, overrides=()):
    """The checkpoint and config to continue ``run_dir`` with, ``--set`` overrides applied.

    Only keys that do not change what was learned so far may be overridden:
    train.epochs (to extend a finished run), train.lr and train.log_every.
    """
    from .config import apply_overrides, blame, from_dict

    run_dir = Path(run_dir)
    last = run_dir / "last.npz"
    if not last.is_file():
        raise ConfigError(f"{run_dir}: no last.npz to resume from")
    ckpt = checkpoint.load(last)
    check_state(last, ckpt.meta)
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key not in RESUMABLE_OVERRIDES:
            raise ConfigError(f"--set {key} cannot change when resuming; only {', '.join(RESUMABLE_OVERRIDES)} can")
    try:
        config = from_dict(apply_overrides(copy.deepcopy(ckpt.config.to_dict()), overrides))
    except ConfigError as exc:
        raise blame(exc, overrides, str(last)) from None
    if config.train.epochs < ckpt.meta["epoch"]:
        raise ConfigError(f"train.epochs={config.train.epochs} is fewer than the {ckpt.meta['epoch']} "
                          f"epochs {run_dir} has already trained")
    check_resumable(last, ckpt, config)           # before any data is loaded
    return ckpt, config


def check_resumable(path, resume, config):
    """``resume`` can go on exactly where it stopped as the run folder's ``path`` (its last.npz):
    it is that file; ``config`` changes only what --set may change on resuming; its training
    state is sound (see check_state); and its weights and optimiser state are what this
    config's optimiser needs: the run's dtype, every state array, shaped like its parameter,
    finite, and nothing of another optimiser."""
    _check_same_run(path, resume, config)
    check_state(path, resume.meta)
    if resume.network.dtype != np.dtype(config.train.dtype):
        raise CheckpointError(f"{path}: its weights are {resume.network.dtype} but its config says "
                              f"train.dtype {config.train.dtype}")
    optimizer, state = make_optimizer(config.train), resume.optimizer_state
    params = resume.network.parameters()
    shapes = {name: (p.shape, p.dtype) for name, p in params}
    for key, value in state.items():
        slot, _, name = key.partition("_")
        if key in SCALARS:
            if not _valid_scalar(key, value) or key not in optimizer.scalars:
                raise CheckpointError(f"{path}: optimiser state {key} is damaged")
        elif slot not in optimizer.slots:
            # e.g. the v_* velocities that bpnet kept before it stored momentum as u = αv
            raise CheckpointError(f"{path}: optimiser state {key} is not {type(optimizer).__name__}'s "
                                  f"(a checkpoint of another bpnet version?); it cannot be resumed")
        elif name not in shapes or (value.shape, value.dtype) != shapes[name]:
            raise CheckpointError(f"{path}: optimiser state {key} does not fit the network")
        elif not np.isfinite(value).all():
            raise CheckpointError(f"{path}: optimiser state {key} holds NaN or infinite values")
    # Every step creates all of them, so a checkpoint past step 0 without one was tampered with.
    needed = [f"{slot}_{name}" for slot in optimizer.slots for name, _ in params] + list(optimizer.scalars)
    missing = [key for key in needed if key not in state]
    if missing and resume.meta["step"] > 0:
        raise CheckpointError(f"{path}: optimiser state {missing[0]} is missing; it cannot be resumed exactly")


def _valid_scalar(key, value):
    """``t`` (Adam's step count) is an integer ≥ 0; ``lr`` (momentum's last α) a finite float > 0."""
    if value.shape != ():
        return False
    if key == "t":
        return value.dtype.kind in "iu" and int(value) >= 0
    return value.dtype.kind == "f" and math.isfinite(float(value)) and float(value) > 0


def _check_same_run(last_path, resume, config):
    """``resume`` was loaded from ``last_path`` (where known), and ``config`` is its config but
    for what --set may change on resuming."""
    if resume.path is not None:
        loaded, last = Path(resume.path).resolve(), Path(last_path).resolve()
        if loaded.parent == last.parent and loaded != last:
            raise ConfigError(f"{resume.path}: a run resumes from its last.npz, {last_path}")
        if loaded != last:
            raise ConfigError(f"{resume.path} is not {last_path}: a run continues in its own folder")
    theirs, ours = resume.config.to_dict(), config.to_dict()
    for section, values in ours.items():
        for key, value in values.items():
            name, before = f"{section}.{key}", theirs.get(section, {}).get(key)
            if name not in RESUMABLE_OVERRIDES and before != value:
                raise ConfigError(f"{name} cannot change when resuming ({before!r} in {last_path}, {value!r} now); "
                                  f"only {', '.join(RESUMABLE_OVERRIDES)} can")


def check_state(path, meta):
    """The training state in a checkpoint's metadata has the types and ranges train() relies on."""
    missing = [key for key in STATE_KEYS if key not in meta]
    if missing:
        raise CheckpointError(f"{path}: not a resumable training checkpoint (no {', '.join(missing)})")
    sums = meta["sums"]
    ok = (all(is_count(meta[k]) for k in ("epoch", "step", "batch", "best_epoch"))
          and is_finite(meta["best_val_accuracy"])
          and is_finite(meta.get("seconds", 0.0)) and meta.get("seconds", 0.0) >= 0
          and isinstance(sums, list) and len(sums) == 3 and all(is_finite(x) for x in sums))
    # Early stopping's keys (optional: older checkpoints have none; see early_stopping.STATE).
    loss = meta.get("best_val_loss")
    ok = ok and is_count(meta.get("stale", 0)) and (loss is None or (is_finite(loss) and loss >= 0))
    if not ok:
        raise CheckpointError(f"{path}: its training state is damaged")
    try:
        rng_from_state(meta["rng"])
        if meta["batch"]:
            rng_from_state(meta["epoch_rng"])
    except (TypeError, ValueError, KeyError, OverflowError):
        raise CheckpointError(f"{path}: its random-generator state is damaged") from None


def rng_from_state(state):
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


def resumed_history(records, resume, last_path):
    """The metrics of the epochs ``last.npz`` has done: those in metrics.jsonl, and the last
    one from the checkpoint itself if the run stopped before metrics.jsonl was written."""
    done = resume.meta["epoch"]
    history = [record for record in records if record.epoch <= done]
    saved = resume.meta.get("metrics")
    if saved is not None and (not history or history[-1].epoch < done):
        record = record_from(saved) if isinstance(saved, dict) else None
        if record is None:
            raise CheckpointError(f"{last_path}: its metrics are damaged")
        history.append(record)
    return history


def recorded_data_dir(path, meta):
    """The data folder the run that saved checkpoint ``path`` read (absolute), or None if it has none."""
    folder = meta.get("data_dir")
    if folder is not None and not (isinstance(folder, str) and folder):
        raise CheckpointError(f"{path}: its data folder is damaged")
    return folder

