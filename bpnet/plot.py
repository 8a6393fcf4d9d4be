"""Learning curves of a run: loss and accuracy per reported epoch, from its metrics.jsonl.

Needs matplotlib (``pip install matplotlib``, or the ``plot`` extra of this project);
nothing else in bpnet does. The figure is drawn with matplotlib's object API, not
pyplot, so a notebook's backend and open figures are left alone.
"""

import warnings
from pathlib import Path

from .errors import BpnetError, InputError
from .files import atomic_write
from .runs import read_metrics

FORMATS = ("png", "svg", "pdf")


def plot_run(run_dir, out=None):
    """Draw the loss and accuracy of the run in ``run_dir`` into ``out`` (default
    ``RUN/curves.png``; .png, .svg or .pdf). Returns the path written."""
    run_dir = Path(run_dir)
    out = run_dir / "curves.png" if out is None else Path(out)
    kind = out.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise InputError(f"{out}: the image must end in .png, .svg or .pdf")
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder")
    records = read_metrics(run_dir)
    if not records:
        raise InputError(f"{run_dir}: no epoch has been reported yet")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)          # like train --out
        with warnings.catch_warnings():     # a huge (yet finite) cost makes matplotlib warn; it still draws
            warnings.simplefilter("ignore", RuntimeWarning)
            figure = _figure(run_dir.resolve().name, records)
            atomic_write(out, lambda f: figure.savefig(f, format=kind))
    except OSError as exc:
        raise BpnetError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return out


def _figure(title, records):
    """Two panels, cost and accuracy against the epoch, train and validation in each."""
    Figure, MaxNLocator = _matplotlib()
    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    loss, accuracy = figure.subplots(1, 2)
    epochs = [r.epoch for r in records]
    nan = float("nan")          # a run without validation has null there: no line, not a crash
    loss.plot(epochs, [r.train_loss for r in records], "o-", label="train")
    accuracy.plot(epochs, [100 * r.train_accuracy for r in records], "o-", label="train")
    if any(r.val_loss is not None for r in records):
        loss.plot(epochs, [nan if r.val_loss is None else r.val_loss for r in records], "s-", label="validation")
        accuracy.plot(epochs, [nan if r.val_accuracy is None else 100 * r.val_accuracy for r in records],
                      "s-", label="validation")
    if all(r.train_loss > 0 and (r.val_loss is None or r.val_loss > 0) for r in records):
        loss.set_yscale("log")  # the cost falls by orders of magnitude; a log axis shows all of it
    loss.set(xlabel="epoch", ylabel="cost C", title="cost")
    accuracy.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for axes in (loss, accuracy):
        axes.grid(True, alpha=0.3)
        axes.legend()
        if len(epochs) <= 10:       # a tick at each reported epoch (and room around a single one)
            axes.set_xticks(epochs)
            axes.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(title)
    return figure


def _matplotlib():
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise BpnetError("plotting needs matplotlib: pip install matplotlib") from None
    return Figure, MaxNLocator
