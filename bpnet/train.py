"""Training by minibatch (or full-batch) gradient descent: the loop.

The loop reports through callbacks and a returned history; it never prints. What it
writes (the run folder, metrics.jsonl) is :mod:`bpnet.runs`; how it stops on a signal,
:mod:`bpnet.interrupts`; how a stopped run goes on, :mod:`bpnet.resume`; the batches,
:mod:`bpnet.batches`; the learning rate of each step, :mod:`bpnet.schedules`.
"""

import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import checkpoint, diagnostics, early_stopping
from .batches import Batches
from .data import load as load_data, resolve_data_dir
from .errors import CheckpointError, ConfigError, DivergedError, Interrupted
from .evaluate import evaluate
from .files import missing_folders
from .interrupts import StopFlag, interrupted_by_signal
from .network import Network, Workspace, draw_masks, dropout_rates
from .optim import apply_max_norm, make_optimizer
from .prefetch import DROPOUT, batch_rng
from .resume import STATE_KEYS, check_resumable, recorded_data_dir, resumed_history, rng_from_state
from .runs import (EpochRecord, check_new_run_dir, link_latest, new_run_dir, prepare_run_dir, read_metrics,
                   remove_unfinished_run, write_metrics)
from .schedules import learning_rate


@dataclass
class Result:
    run_dir: Path
    history: list           # of EpochRecord
    best_path: Path
    last_path: Path
    best_epoch: int
    test: dict              # loss and accuracy of best.npz on the test set
    stopped_early: bool = False     # by train.patience, before train.epochs


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


class Run:
    """One training run: the network, the optimiser, the data and the resumable state.

    ``state`` is everything ``--resume`` needs besides the arrays: the epochs and steps
    done, the position inside an interrupted epoch with its partial sums, the random
    generator's state at the start of that epoch (to replay its shuffle) and now, and
    the best validation so far with the validations since (see early_stopping).
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
                          "epoch_rng": None, "best_val_accuracy": -1.0, "best_epoch": 0, **early_stopping.STATE}
            self.history = []
        else:
            check_resumable(self.last_path, resume, config)     # train(resume=) from Python skips load_for_resume
            self.network = resume.network
            self.optimizer.load_state(resume.optimizer_state)
            self.state = {k: resume.meta[k] for k in STATE_KEYS if k != "rng"}
            self.state.update({k: resume.meta.get(k, v) for k, v in early_stopping.STATE.items()})
            self.state["seconds"] = float(resume.meta.get("seconds", 0.0))
            # Stopped mid-epoch: replay this epoch's shuffle from the state it started with.
            self.rng = rng_from_state(resume.meta["epoch_rng"] if self.state["batch"] else resume.meta["rng"])
            self.history = resumed_history(read_metrics(self.run_dir), resume, self.last_path)
        self.batches = Batches(data.train, self.t.batch_size, self.t.dtype, label_smoothing=self.t.label_smoothing,
                               augment=config.augment, seed=self.t.seed)
        self.dropout = dropout_rates(config.model)
        self.workspace = Workspace()
        self.params = self.network.parameters()
        self.last_step = None           # the diagnostics of the latest epoch's last step (see step)
        self._gradient = None           # where that step's ∂C/∂W goes (see _gradient_buffers)
        if resume is not None:
            if resume.meta["batch"] >= self.batches.count:
                raise CheckpointError(f"{self.last_path}: saved at batch {resume.meta['batch']} "
                                      f"of an epoch of {self.batches.count}")
        # Only a run that can start touches the folder: a refused resume leaves it as it was.
        # `latest` moves to a new run once it has a last.npz (see save).
        prepare_run_dir(self.run_dir, config)
        if resume is not None:
            link_latest(self.run_dir)

    def step(self, chunks, n, index=None):
        """One gradient step on a batch of ``n`` examples given as column chunks (see Batches),
        batch ``index`` of the current epoch (its dropout masks' generator; see dropout_rng).

        Returns the batch's mean cost and the number it classified correctly, before the step.
        The epoch's last step also measures itself for the diagnostics (see :meth:`report`).
        """
        network, state, optimizer = self.network, self.state, self.optimizer
        optimizer.lr = learning_rate(self.t, state["step"], self.batches.count)
        rng = self.dropout_rng(index) if any(self.dropout) else None
        loss, correct = 0.0, 0
        # backward writes α·g into the optimiser's own arrays: into its velocities for momentum,
        # whose update is then part of the gradient's product (see optim and blas).
        grads, beta = optimizer.gradient_buffers(self.params)
        dW, db = [None, *grads[0::2]], [None, *grads[1::2]]
        probe = index == self.batches.count - 1
        if probe:
            W_before = [None] + [W.copy(order="K") for W in network.W[1:]]       # W's own layout: 10x faster
            gradient = self._gradient_buffers()
        for c, (A0, Y, labels) in enumerate(chunks):
            masks = None if rng is None else draw_masks(self.dropout, network.sizes, len(labels), rng,
                                                        network.dtype, self.workspace)
            Z, A = network.forward(A0, self.workspace, masks)
            cost, m = network.cost(Z, A, Y), len(labels)
            if not math.isfinite(cost):
                raise _diverged(f"the loss became {cost}", state["epoch"] + 1, state["step"] + 1,
                                optimizer.lr, self.last_path)
            loss += cost * (m / n)          # m / n is exactly 1 for a batch of one chunk
            correct += int(np.count_nonzero(np.argmax(A[-1], axis=0) == labels))
            if probe:       # ∂C/∂W itself: what the optimiser's arrays receive is α·g mixed with its state
                network.backward(Z, A, Y, self.workspace, scale=m / n, out=gradient, beta=float(c > 0), masks=masks)
            # The optimiser's α and this chunk's share m/n of the mean come in through Δᴸ,
            # sparing the optimiser a pass over the parameters (see optim). The chunks of a
            # wide batch add up: ∂C/∂W^l = Σ_c (m_c/n) ∂C_c/∂W^l, so β = 1 after the first.
            network.backward(Z, A, Y, self.workspace, scale=optimizer.gradient_scale * m / n,
                             out=(dW, db), beta=beta, masks=masks)
            beta = 1.0
        optimizer.step(self.params, grads, accumulated=True)
        if self.t.max_norm is not None:
            apply_max_norm(network, self.t.max_norm)
        if probe:
            self.last_step = diagnostics.of_step(W_before, network.W, gradient[0])
        state["step"] += 1
        return loss, correct

    def _gradient_buffers(self):
        """(dW, db) lists indexed like W, b, for the gradient the diagnostics measure; made once."""
        if self._gradient is None:
            self._gradient = ([None] + [np.empty_like(W) for W in self.network.W[1:]],
                              [None] + [np.empty_like(b) for b in self.network.b[1:]])
        return self._gradient

    def dropout_rng(self, index):
        """The generator of the dropout masks of batch ``index`` of the current epoch: its own,
        keyed by (seed, epoch, batch), so a resumed epoch draws the masks the uncut one drew."""
        return batch_rng(self.t.seed, self.state["epoch"], index, DROPOUT)

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
        with self.batches.epoch(order, state["epoch"], state["batch"]) as batches:
            for i, chunks in batches:
                n = self.batches.length(i)
                loss, correct = self.step(chunks, n, i)
                sums = [sums[0] + loss * n, sums[1] + correct, sums[2] + n]
                if on_batch is not None:
                    on_batch(epoch, i + 1, self.batches.count, loss)
                if stop.signum is not None and i + 1 < self.batches.count:
                    state.update(batch=i + 1, sums=sums, seconds=time.perf_counter() - started)
                    self.save(self.last_path)
                    raise interrupted_by_signal(stop.signum, self.last_path, self.run_dir)
        state.update(epoch=epoch, batch=0, sums=[0.0, 0, 0], seconds=0.0)
        return time.perf_counter() - started, sums

    def report(self, seconds, sums):
        """Validate, save best.npz if it improved and last.npz, append to metrics.jsonl.

        The record's diagnostics (bpnet.diagnostics), per layer l = 1..L, cost almost nothing:
        grad_norm is ‖∂C/∂W^l‖_F of the mean cost of the epoch's last batch at the weights before
        its step, as that step saw it (its dropout masks and smoothed labels; without weight decay's
        λW), from one extra backward pass per epoch; update_ratio is ‖ΔW^l‖_F / ‖W^l‖_F of that step
        (ΔW^l everything the step changed: momentum, decay and max-norm included; the weights before
        it are copied); weight_norm is ‖W^l‖_F at the epoch's end; dead_fraction and
        saturated_fraction are counted over the validation set during its pass (null without one).
        None of them draws random numbers, so a resumed run reports what the uncut one did.
        """
        state, data = self.state, self.data
        activity = diagnostics.Activity(self.network)
        val = (evaluate(self.network, data.val, on_chunk=activity.add) if len(data.val)
               else {"loss": None, "accuracy": None})
        # The epoch's last step may have broken the weights after its loss was checked.
        finite = val["loss"] is None or math.isfinite(val["loss"])
        if not (finite and all(np.isfinite(p).all() for _, p in self.params)):
            raise _diverged("the weights or the validation loss became NaN or infinite", state["epoch"],
                            state["step"], self.optimizer.lr, self.last_path)
        measured = {**(self.last_step or {}), **activity.fractions()}
        if not diagnostics.is_valid(measured, self.network.L):        # never write a line read_metrics refuses
            raise _diverged("the gradient became NaN or infinite", state["epoch"], state["step"],
                            self.optimizer.lr, self.last_path)
        record = EpochRecord(state["epoch"], state["step"], sums[0] / sums[2], sums[1] / sums[2],
                             val["loss"], val["accuracy"], seconds, self.optimizer.lr, measured)
        if early_stopping.record(self.t, state, val):          # the best so far by train.monitor
            self.save(self.best_path, record)
        self.save(self.last_path, record)
        # After last.npz: a crash in between leaves metrics.jsonl a line short, and the
        # resumed run takes that line from last.npz (see resumed_history).
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
    return Result(run.run_dir, run.history, run.best_path, run.last_path, run.state["best_epoch"], test,
                  run.state["epoch"] < config.train.epochs)


def _train_and_test(run, stop, on_batch, on_epoch):
    """The epochs still to do, then the test set's loss and accuracy of best.npz."""
    t = run.t
    # A diverging run overflows on its way to NaN; the loss check in Run.step reports it once.
    with np.errstate(over="ignore", invalid="ignore"):
        while run.state["epoch"] < t.epochs and not early_stopping.should_stop(t, run.state):
            seconds, sums = run.epoch(stop, on_batch)
            epoch = run.state["epoch"]
            if epoch % t.log_every == 0 or epoch == t.epochs:
                record = run.report(seconds, sums)
                if on_epoch is not None:
                    on_epoch(record)
            elif stop.signum is not None:
                run.save(run.last_path)          # what an uninterrupted run would not have reported
            if stop.signum is not None:
                raise interrupted_by_signal(stop.signum, run.last_path, run.run_dir)
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

