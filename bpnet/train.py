"""Training by minibatch (or full-batch) gradient descent, with a run folder and resumable state.

The loop reports through callbacks and a returned history; it never prints.
A run folder holds ``config.yaml``, ``metrics.jsonl`` (one JSON object per
reported epoch), ``last.npz`` (the latest state, resumable) and ``best.npz``
(the best validation accuracy so far); a ``latest`` link beside it points at the newest run.
"""

import copy
import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from . import checkpoint
from .config import is_number
from .data import N_CLASSES, N_PIXELS, load as load_data, one_hot, resolve_data_dir, scale_rows
from .errors import BpnetError, CheckpointError, ConfigError, DivergedError, Interrupted
from .evaluate import evaluate
from .files import atomic_write, missing_folders, remove_empty_folders, remove_quietly
from .network import Network, Workspace
from .optim import SCALARS, make_optimizer

RESUMABLE_OVERRIDES = ("train.epochs", "train.lr", "train.log_every")
STATE_KEYS = ("epoch", "step", "batch", "sums", "epoch_rng", "best_val_accuracy", "best_epoch", "rng")


@dataclass
class EpochRecord:
    """One line of metrics.jsonl."""

    epoch: int
    step: int
    train_loss: float
    train_accuracy: float
    val_loss: "float | None"        # None without a validation set
    val_accuracy: "float | None"
    seconds: float          # training only, without validation
    lr: float


@dataclass
class Result:
    run_dir: Path
    history: list           # of EpochRecord
    best_path: Path
    last_path: Path
    best_epoch: int
    test: dict              # loss and accuracy of best.npz on the test set


# ----------------------------------------------------------------------------- run folders

def new_run_dir(name, root="runs"):
    """A fresh folder ``root/<name>-<YYYYmmdd-HHMMSS>`` (a suffix keeps it unique)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{name}-{stamp}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


def link_latest(run_dir):
    """Point ``<parent>/latest`` at ``run_dir`` (a relative symlink, replaced atomically)."""
    run_dir = Path(run_dir)
    link = run_dir.parent / "latest"
    if run_dir.name == "latest" or (link.exists() and not link.is_symlink()):
        return              # never replace a folder or file that someone named "latest"
    tmp = run_dir.parent / f".latest.{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(run_dir.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        pass   # a filesystem without symlinks: `latest` is a convenience, not the record


def check_new_run_dir(run_dir):
    """A new run must not write into a folder that already holds files (another run's), and
    must be able to create its folder: both are known before any data is loaded."""
    run_dir = Path(run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise ConfigError(f"{run_dir}: already exists and is not empty; "
                          f"continue it with --resume {run_dir} or choose another --out")
    created = missing_folders(run_dir)
    try:
        _make_run_dir(run_dir)
    finally:
        remove_empty_folders(created)           # only a probe: Run creates it for real


def _make_run_dir(run_dir):
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BpnetError(f"{run_dir}: cannot create the run folder ({exc.strerror or exc})") from None


def prepare_run_dir(run_dir, config):
    """Create the run folder and write its config.yaml."""
    run_dir = Path(run_dir)
    _make_run_dir(run_dir)
    try:
        atomic_write(run_dir / "config.yaml", lambda f: f.write(config.to_yaml().encode()))
    except OSError as exc:
        raise BpnetError(f"{run_dir / 'config.yaml'}: cannot write ({exc.strerror or exc})") from None
    return run_dir


def remove_unfinished_run(run_dir, created):
    """Take back what a new run wrote before its first last.npz: a folder that can neither be
    resumed nor reused with --out helps nobody. ``created``: the folders the run made."""
    for name in ("best.npz", "metrics.jsonl", "config.yaml"):
        remove_quietly(Path(run_dir) / name)
    remove_empty_folders(created)


def write_metrics(run_dir, records):
    """Write metrics.jsonl whole, through a temporary file: a crash leaves the old file or the
    new one, never half a line (a few hundred bytes an epoch, so rewriting costs nothing)."""
    text = "".join(json.dumps(asdict(record)) + "\n" for record in records)
    try:
        atomic_write(Path(run_dir) / "metrics.jsonl", lambda f: f.write(text.encode()))
    except OSError as exc:
        raise BpnetError(f"{run_dir}/metrics.jsonl: cannot write ({exc.strerror or exc})") from None


def read_metrics(run_dir):
    """The EpochRecords of metrics.jsonl (an empty list if there is none yet)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise CheckpointError(f"{path}: not UTF-8 text") from None
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = _record(json.loads(line))
        except (ValueError, RecursionError):
            record = None
        if record is None or (records and record.epoch <= records[-1].epoch):
            raise CheckpointError(f"{path}: line {n} is damaged")
        records.append(record)
    return records


def _record(fields):
    """The EpochRecord of a JSON object, or None if it is not one an epoch can have reported."""
    try:
        record = EpochRecord(**fields)
    except TypeError:
        return None
    return record if _valid_record(record) else None


def _valid_record(record):
    """What an epoch can have reported: epoch ≥ 1, costs and seconds ≥ 0, accuracies in [0, 1],
    all finite; the validation ones may be null (no validation set)."""
    def loss(x):
        return _is_finite(x) and x >= 0

    def accuracy(x):
        return _is_finite(x) and 0 <= x <= 1

    return (_is_count(record.epoch) and record.epoch >= 1 and _is_count(record.step)
            and loss(record.train_loss) and accuracy(record.train_accuracy)
            and loss(record.seconds) and _is_finite(record.lr)
            and (record.val_loss is None or loss(record.val_loss))
            and (record.val_accuracy is None or accuracy(record.val_accuracy)))


# ----------------------------------------------------------------------------- signals

class StopFlag:
    """Turns SIGINT and SIGTERM into a flag that the loop checks after each batch.

    The current batch finishes and the state is saved before the loop stops. A
    second Ctrl-C stops at once (the last saved checkpoint stays as it was).
    """

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


# ----------------------------------------------------------------------------- the loop

def load_data_for(config, data_dir=None, progress=None, recorded=None):
    """The dataset, validation split and data folder (``data_dir`` first) that ``config`` names.

    ``recorded`` is the folder a checkpoint's run read its data from (see :func:`recorded_data_dir`);
    it stands in for the config's ``data.dir``, which it is, resolved, unless the run was given
    ``--data-dir`` or ``$BPNET_DATA_DIR``. Only while it exists, though: a checkpoint from another
    machine must not make bpnet create that machine's folders here and download into them.
    """
    if recorded is not None and not Path(recorded).is_dir():
        recorded = None
    folder = resolve_data_dir(data_dir, recorded or config.data.dir, config.data.dataset)
    return load_data(config.data.dataset, folder, config.data.validation, config.train.seed, progress=progress)


def check_data_fits(config, data):
    """Data made by :func:`bpnet.data.load` is the split ``config`` describes, so that eval and
    --resume, which rebuild it from the config, see the same validation set."""
    if getattr(data, "seed", None) is None:          # made by the caller: theirs to keep straight
        return
    # With no validation examples every seed gives the same split.
    made = (data.name, len(data.val), data.seed if len(data.val) else None)
    wanted = (config.data.dataset, config.data.validation, config.train.seed if len(data.val) else None)
    if made != wanted:
        raise ConfigError(f"the data is {made[0]} with {made[1]} validation examples split by seed {made[2]}, "
                          f"but the config asks for {wanted[0]} with {wanted[1]} by seed {wanted[2]}; "
                          f"load it with bpnet.train.load_data_for(config)")


def recorded_data_dir(path, meta):
    """The data folder the run that saved checkpoint ``path`` read (absolute), or None if it has none."""
    folder = meta.get("data_dir")
    if folder is not None and not (isinstance(folder, str) and folder):
        raise CheckpointError(f"{path}: its data folder is damaged")
    return folder


CHUNK = 1024    # the widest column matrix one forward/backward pass takes (measured best of 512-4096)


class Batches:
    """Shuffled minibatches of a split, each given as column chunks (A⁰, Y, labels).

    Examples are uint8 rows; a batch gathers whole rows (contiguous memory) and
    scales them into a float buffer of shape (B, 784), whose transpose is the
    column matrix A⁰ (784, B) the math wants, a view, not a copy.

    A batch wider than ``chunk`` columns (full-batch gradient descent) comes in
    chunks of at most ``chunk`` columns, whose gradients the training step adds up:
    ∂C/∂W^l = (1/N) Σ_c Δ^l_c (A^{l-1}_c)ᵀ. A chunk's A⁰ is converted from uint8 on the
    fly and is still in cache for its backward pass; for seed 001's 784-10-10 network
    that measured about 20% faster than passes over a float copy of the whole split,
    a copy (172 MB for MNIST) that is then never made.
    """

    def __init__(self, split, batch_size, dtype, chunk=CHUNK):
        self.split, self.dtype = split, np.dtype(dtype)
        n = len(split)
        self.size = n if batch_size == "full" else min(int(batch_size), n)
        self.count = -(-n // self.size)
        self.chunk = min(self.size, int(chunk))
        self.raw = np.empty((self.chunk, N_PIXELS), np.uint8)                  # (B, 784)
        self.rows = np.empty((self.chunk, N_PIXELS), self.dtype)               # (B, 784)
        self.Y = np.zeros((N_CLASSES, self.chunk), self.dtype, order="F")      # (10, B), like A

    def order(self, rng):
        """This epoch's permutation (no draw for full batch: the order does not matter)."""
        return None if self.count == 1 else rng.permutation(len(self.split))

    def length(self, i):
        """The number of examples in batch i (the last one may be short)."""
        return min(self.size, len(self.split) - i * self.size)

    def get(self, order, i):
        """Batch i as a generator of chunks (A⁰ (784, n), Y (10, n), labels (n,)).

        The chunks share buffers: each is valid until the next one is drawn.
        """
        start = i * self.size
        for s in range(start, start + self.length(i), self.chunk):
            e = min(s + self.chunk, start + self.length(i))
            if order is None:
                raw, labels = self.split.images[s:e], self.split.labels[s:e]
            else:
                # Gathering whole uint8 rows into a reused buffer and then converting was the
                # fastest gather measured (a quarter of the bytes of a float32 copy of the data).
                # mode="clip" lets np.take write straight into the buffer (the default "raise"
                # copies through a temporary, slower than fancy indexing); a permutation's
                # indices are always in range.
                idx = order[s:e]
                raw = np.take(self.split.images, idx, axis=0, out=self.raw[:e - s], mode="clip")
                labels = self.split.labels[idx]
            n = e - s
            A0 = scale_rows(raw, out=self.rows[:n]).T                                # (784, n)
            yield A0, one_hot(labels, out=self.Y[:, :n]), labels                    # Y (10, n)


def learning_rate(train_config, step, total_steps):
    """The learning rate for step ``step`` (0-based) of ``total_steps``.

    cosine: α·½(1 + cos(π·step/total)), large steps first and small ones at the end,
    which settles into a better minimum than a constant α in the same number of epochs.
    """
    if train_config.schedule == "cosine":
        return train_config.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    return train_config.lr


def _resumed_history(records, resume, last_path):
    """The metrics of the epochs ``last.npz`` has done: those in metrics.jsonl, and the last
    one from the checkpoint itself if the run stopped before metrics.jsonl was written."""
    done = resume.meta["epoch"]
    history = [record for record in records if record.epoch <= done]
    saved = resume.meta.get("metrics")
    if saved is not None and (not history or history[-1].epoch < done):
        record = _record(saved) if isinstance(saved, dict) else None
        if record is None:
            raise CheckpointError(f"{last_path}: its metrics are damaged")
        history.append(record)
    return history


def _rng_from_state(state):
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng


class Run:
    """One training run: the network, the optimiser, the data and the resumable state.

    ``state`` is everything ``--resume`` needs besides the arrays: the epochs and steps
    done, the position inside an interrupted epoch with its partial sums, the random
    generator's state at the start of that epoch (to replay its shuffle) and now, and
    the best validation accuracy so far.
    """

    def __init__(self, config, data, run_dir, resume=None):
        self.config, self.data, self.t = config, data, config.train
        self.run_dir = Path(run_dir)
        self.last_path, self.best_path = self.run_dir / "last.npz", self.run_dir / "best.npz"
        self.optimizer = make_optimizer(self.t)
        if resume is None:
            self.rng = np.random.default_rng(self.t.seed)
            self.network = Network.for_mnist(config.model, self.t.dtype).initialise(config.model.init, self.rng)
            self.state = {"epoch": 0, "step": 0, "batch": 0, "sums": [0.0, 0, 0],
                          "epoch_rng": None, "best_val_accuracy": -1.0, "best_epoch": 0}
            self.history = []
        else:
            check_resumable(self.last_path, resume, config)     # train(resume=) from Python skips load_for_resume
            self.network = resume.network
            self.optimizer.load_state(resume.optimizer_state)
            self.state = {k: resume.meta[k] for k in STATE_KEYS if k != "rng"}
            self.state["seconds"] = float(resume.meta.get("seconds", 0.0))
            # Stopped mid-epoch: replay this epoch's shuffle from the state it started with.
            self.rng = _rng_from_state(resume.meta["epoch_rng"] if self.state["batch"] else resume.meta["rng"])
            self.history = _resumed_history(read_metrics(self.run_dir), resume, self.last_path)
        self.batches = Batches(data.train, self.t.batch_size, self.t.dtype)
        self.workspace = Workspace()
        self.params = self.network.parameters()
        if resume is not None:
            if resume.meta["batch"] >= self.batches.count:
                raise CheckpointError(f"{self.last_path}: saved at batch {resume.meta['batch']} "
                                      f"of an epoch of {self.batches.count}")
        # Only a run that can start touches the folder: a refused resume leaves it as it was.
        # `latest` moves to a new run once it has a last.npz (see save).
        prepare_run_dir(self.run_dir, config)
        if resume is not None:
            link_latest(self.run_dir)
        self.total_steps = self.t.epochs * self.batches.count

    def step(self, chunks, n):
        """One gradient step on a batch of ``n`` examples given as column chunks (see Batches).

        Returns the batch's mean cost and the number it classified correctly, before the step.
        """
        network, state, optimizer = self.network, self.state, self.optimizer
        optimizer.lr = learning_rate(self.t, state["step"], self.total_steps)
        loss, correct = 0.0, 0
        # backward writes α·g into the optimiser's own arrays: into its velocities for momentum,
        # whose update is then part of the gradient's product (see optim and blas).
        grads, beta = optimizer.gradient_buffers(self.params)
        dW, db = [None, *grads[0::2]], [None, *grads[1::2]]
        for A0, Y, labels in chunks:
            Z, A = network.forward(A0, self.workspace)
            cost, m = network.cost(Z, A, Y), len(labels)
            if not math.isfinite(cost):
                raise _diverged(f"the loss became {cost}", state["epoch"] + 1, state["step"] + 1,
                                optimizer.lr, self.last_path)
            loss += cost * (m / n)          # m / n is exactly 1 for a batch of one chunk
            correct += int(np.count_nonzero(np.argmax(A[-1], axis=0) == labels))
            # The optimiser's α and this chunk's share m/n of the mean come in through Δᴸ,
            # sparing the optimiser a pass over the parameters (see optim). The chunks of a
            # wide batch add up: ∂C/∂W^l = Σ_c (m_c/n) ∂C_c/∂W^l, so β = 1 after the first.
            network.backward(Z, A, Y, self.workspace, scale=optimizer.gradient_scale * m / n,
                             out=(dW, db), beta=beta)
            beta = 1.0
        optimizer.step(self.params, grads, accumulated=True)
        state["step"] += 1
        return loss, correct

    def epoch(self, stop, on_batch=None):
        """Train the rest of the current epoch; its (seconds, [loss sum, correct, seen]).

        On a signal, saves the position inside the epoch and raises :class:`Interrupted`.
        """
        state, epoch = self.state, self.state["epoch"] + 1
        if state["batch"] == 0:
            state["epoch_rng"] = self.rng.bit_generator.state
        # An epoch cut by a signal carries its seconds so far into the resumed run.
        started = time.perf_counter() - state.get("seconds", 0.0)
        order = self.batches.order(self.rng)
        sums = list(state["sums"])
        for i in range(state["batch"], self.batches.count):
            n = self.batches.length(i)
            loss, correct = self.step(self.batches.get(order, i), n)
            sums = [sums[0] + loss * n, sums[1] + correct, sums[2] + n]
            if on_batch is not None:
                on_batch(epoch, i + 1, self.batches.count, loss)
            if stop.signum is not None and i + 1 < self.batches.count:
                state.update(batch=i + 1, sums=sums, seconds=time.perf_counter() - started)
                self.save(self.last_path)
                raise _interrupted(stop.signum, self.last_path, self.run_dir)
        state.update(epoch=epoch, batch=0, sums=[0.0, 0, 0], seconds=0.0)
        return time.perf_counter() - started, sums

    def report(self, seconds, sums):
        """Validate, save best.npz if it improved and last.npz, append to metrics.jsonl."""
        state, data = self.state, self.data
        val = evaluate(self.network, data.val) if len(data.val) else {"loss": None, "accuracy": None}
        # The epoch's last step may have broken the weights after its loss was checked.
        finite = val["loss"] is None or math.isfinite(val["loss"])
        if not (finite and all(np.isfinite(p).all() for _, p in self.params)):
            raise _diverged("the weights or the validation loss became NaN or infinite", state["epoch"],
                            state["step"], self.optimizer.lr, self.last_path)
        record = EpochRecord(state["epoch"], state["step"], sums[0] / sums[2], sums[1] / sums[2],
                             val["loss"], val["accuracy"], seconds, self.optimizer.lr)
        # With no validation set every reported epoch counts as the best so far.
        if val["accuracy"] is None or val["accuracy"] > state["best_val_accuracy"]:
            state.update(best_val_accuracy=val["accuracy"] or 0.0, best_epoch=state["epoch"])
            self.save(self.best_path, record)
        self.save(self.last_path, record)
        # After last.npz: a crash in between leaves metrics.jsonl a line short, and the
        # resumed run takes that line from last.npz (see _resumed_history).
        write_metrics(self.run_dir, self.history + [record])
        self.history.append(record)
        return record

    def save(self, path, record=None):
        meta = dict(self.state, rng=self.rng.bit_generator.state)
        # So that eval and --resume read the same data without being told --data-dir again.
        folder = getattr(self.data, "folder", None)         # an MNIST of the caller's may have none
        if folder is not None:
            meta["data_dir"] = str(folder)
        if record is not None:
            meta["metrics"] = asdict(record)
        first = path == self.last_path and not path.exists()
        checkpoint.save(path, self.network, self.config, meta=meta, optimizer_state=self.optimizer.state)
        if first:
            link_latest(self.run_dir)

    def test(self):
        """Loss and accuracy of best.npz on the test set (measured once, at the end)."""
        result = evaluate(checkpoint.load(self.best_path).network, self.data.test)
        result.pop("predictions")
        return result


def train(config, data=None, run_dir=None, resume=None, on_batch=None, on_epoch=None,
          data_dir=None, progress=None):
    """Train the network that ``config`` describes; a :class:`Result`.

    data: a :class:`bpnet.data.MNIST` (loaded from ``data_dir`` per the config if None).
    run_dir: where to write; a new ``runs/run-<time>`` folder if None.
    resume: a :class:`bpnet.checkpoint.Checkpoint` (``last.npz``) to continue from.
    on_batch(epoch, batch, n_batches, loss) and on_epoch(record) report progress.
    """
    if data is None:
        recorded = recorded_data_dir(resume.path, resume.meta) if resume else None
        data = load_data_for(config, data_dir, progress, recorded)
    check_data_fits(config, data)
    run_dir = run_dir or new_run_dir("run")
    if resume is None:
        check_new_run_dir(run_dir)
    created = [] if resume else missing_folders(run_dir)      # see remove_unfinished_run
    try:
        run = Run(config, data, run_dir, resume)
        with StopFlag() as stop:
            test = _train_and_test(run, stop, on_batch, on_epoch)
    except BaseException:
        if resume is None and not (Path(run_dir) / "last.npz").exists():
            remove_unfinished_run(run_dir, created)
        raise
    return Result(run.run_dir, run.history, run.best_path, run.last_path, run.state["best_epoch"], test)


def _train_and_test(run, stop, on_batch, on_epoch):
    """The epochs still to do, then the test set's loss and accuracy of best.npz."""
    t = run.t
    # A diverging run overflows on its way to NaN; the loss check in Run.step reports it once.
    with np.errstate(over="ignore", invalid="ignore"):
        while run.state["epoch"] < t.epochs:
            seconds, sums = run.epoch(stop, on_batch)
            epoch = run.state["epoch"]
            if epoch % t.log_every == 0 or epoch == t.epochs:
                record = run.report(seconds, sums)
                if on_epoch is not None:
                    on_epoch(record)
            elif stop.signum is not None:
                run.save(run.last_path)          # what an uninterrupted run would not have reported
            if stop.signum is not None:
                raise _interrupted(stop.signum, run.last_path, run.run_dir)
    test = run.test()
    if stop.signum is not None:          # the signal came during the test: it finished, so say it
        name = signal.Signals(stop.signum).name
        raise Interrupted(f"interrupted by {name} after training finished and was saved; test accuracy "
                          f"{test['accuracy']:.2%} (loss {test['loss']:.4f}) of {run.best_path}",
                          stop.signum, run.last_path)
    return test


def _diverged(what, epoch, step, lr, last_path):
    saved = (f"the last good checkpoint {last_path} is untouched" if last_path.exists()
             else "no checkpoint had been saved yet, so what the run wrote is removed")
    return DivergedError(
        f"training diverged: {what} at epoch {epoch}, step {step} with learning rate {lr}; "
        f"{saved}; try a smaller train.lr"
    )


def _interrupted(signum, last_path, run_dir):
    return interrupted(f"interrupted by {signal.Signals(signum).name}", signum, last_path, run_dir)


def interrupted(why, signum, last_path, run_dir):
    """The :class:`Interrupted` of a run stopped for ``why`` after saving ``last_path``: how to go on."""
    return Interrupted(f"{why}; saved {last_path}; continue with: bpnet train --resume {run_dir}", signum, last_path)


# ----------------------------------------------------------------------------- resume

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
    _check_state(last, ckpt.meta)
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
    state is sound (see _check_state); and its weights and optimiser state are what this
    config's optimiser needs: the run's dtype, every state array, shaped like its parameter,
    finite, and nothing of another optimiser."""
    _check_same_run(path, resume, config)
    _check_state(path, resume.meta)
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


def _is_finite(value):
    """A JSON number that is not NaN or infinite (they would end up in metrics.jsonl)."""
    return is_number(value) and math.isfinite(value)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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


def _check_state(path, meta):
    """The training state in a checkpoint's metadata has the types and ranges train() relies on."""
    missing = [key for key in STATE_KEYS if key not in meta]
    if missing:
        raise CheckpointError(f"{path}: not a resumable training checkpoint (no {', '.join(missing)})")
    sums = meta["sums"]
    ok = (all(_is_count(meta[k]) for k in ("epoch", "step", "batch", "best_epoch"))
          and _is_finite(meta["best_val_accuracy"])
          and _is_finite(meta.get("seconds", 0.0)) and meta.get("seconds", 0.0) >= 0
          and isinstance(sums, list) and len(sums) == 3 and all(_is_finite(x) for x in sums))
    if not ok:
        raise CheckpointError(f"{path}: its training state is damaged")
    try:
        _rng_from_state(meta["rng"])
        if meta["batch"]:
            _rng_from_state(meta["epoch_rng"])
    except (TypeError, ValueError, KeyError, OverflowError):
        raise CheckpointError(f"{path}: its random-generator state is damaged") from None
