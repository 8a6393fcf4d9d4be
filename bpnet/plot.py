"""Learning curves of a run: loss, accuracy and learning rate per reported epoch, from its
metrics.jsonl; and the training diagnostics (bpnet.diagnostics), a panel per quantity with a
line per layer, where the records carry them.

Needs matplotlib (``pip install matplotlib``, or the ``plot`` extra of this project);
nothing else in bpnet does. The figure is drawn with matplotlib's object API, not
pyplot, so a notebook's backend and open figures are left alone.
"""

import math
import warnings
from pathlib import Path

from .errors import BpnetError, InputError
from .files import atomic_write
from .runs import read_metrics

FORMATS = ("png", "svg", "pdf")


def plot_run(run_dir, out=None):
    """Draw the loss, accuracy and learning rate (and diagnostics, if recorded) of the run in
    ``run_dir`` into ``out`` (default ``RUN/curves.png``; .png, .svg or .pdf). Returns the path written."""
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


DIAGNOSTICS = {                    # bpnet.diagnostics.QUANTITIES: panel title, logarithmic axis
    "grad_norm": ("gradient norm ‖∂C/∂Wˡ‖", True),
    "update_ratio": ("update ratio ‖ΔWˡ‖ / ‖Wˡ‖", True),
    "weight_norm": ("weight norm ‖Wˡ‖", True),
    "dead_fraction": ("dead ReLU units (fraction)", False),
    "saturated_fraction": ("saturated units (fraction)", False),
}


def _figure(title, records):
    """Cost, accuracy and learning rate against the epoch; below them, a panel per diagnostic
    quantity the records carry, a line per layer."""
    Figure, MaxNLocator = require_matplotlib()
    shown = [name for name in DIAGNOSTICS if any(_diagnostic(r, name) for r in records)]
    columns = math.lcm(3, len(shown)) if shown else 3
    figure = Figure(figsize=(14, 8 if shown else 4), dpi=100, layout="constrained")
    grid = figure.add_gridspec(2 if shown else 1, columns)
    third = columns // 3
    loss, accuracy, lr = (figure.add_subplot(grid[0, k * third:(k + 1) * third]) for k in range(3))
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
    lr.plot(epochs, [r.lr for r in records], "o-", color="tab:green")
    lr.set(xlabel="epoch", ylabel="α", title="learning rate (at the epoch's end)")
    panels = [loss, accuracy, lr]
    for k, name in enumerate(shown):
        width = columns // len(shown)
        axes = figure.add_subplot(grid[1, k * width:(k + 1) * width])
        _diagnostic_panel(axes, name, records, epochs)
        panels.append(axes)
    for axes in panels:
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend()
        if len(epochs) <= 10:       # a tick at each reported epoch (and room around a single one)
            axes.set_xticks(epochs)
            axes.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(title)
    return figure


def _diagnostic(record, name):
    """The list of ``name`` in a record's diagnostics, or None (no diagnostics, or not this one)."""
    diagnostics = getattr(record, "diagnostics", None) or {}
    return diagnostics.get(name)


def _diagnostic_panel(axes, name, records, epochs):
    """One line per layer l = 1..L of the quantity ``name`` (a gap where a record has none).

    The norms span orders of magnitude (an update ratio falls from 1e-3 to 1e-12 as a cosine
    schedule reaches 0), so their axis is logarithmic, and an exact 0 (a float32 update too
    small to move a weight) is a gap rather than a reason to squash the rest on a linear axis."""
    title, logarithmic = DIAGNOSTICS[name]
    layers = max(len(_diagnostic(r, name) or []) for r in records)
    drawn = False
    for l in range(layers):
        column = []
        for r in records:
            value = (_diagnostic(r, name) or [])[l:l + 1]
            missing = not value or value[0] is None or (logarithmic and value[0] <= 0)
            column.append(float("nan") if missing else value[0])
        if not all(math.isnan(v) for v in column):
            axes.plot(epochs, column, "o-", markersize=3, label=f"layer {l + 1}")
            drawn = True
    if logarithmic and drawn:
        axes.set_yscale("log")
    elif not logarithmic:
        axes.set_ylim(bottom=0)
    axes.set(xlabel="epoch", title=title)


def require_matplotlib():
    """matplotlib's Figure and MaxNLocator, or a :class:`BpnetError` saying how to install it."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise BpnetError("plotting needs matplotlib: pip install matplotlib") from None
    return Figure, MaxNLocator
