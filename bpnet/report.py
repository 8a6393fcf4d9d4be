"""An evaluation report a person can look at: figures, every number as JSON, and one HTML page.

``write_report(network, split, folder)`` writes into ``folder``:

- ``confusion.png``: the confusion matrix as a heat map, the count written in each cell;
- ``mistakes.png``: the test images the network got wrong most confidently;
- ``calibration.png``: the reliability diagram (accuracy against confidence, per bin) with
  the expected calibration error (Guo et al. 2017) in its title;
- ``weights.png``: the first layer's weights, each hidden unit's 784 as a 28x28 image;
- ``report.json``: every number (accuracy, loss, ECE and its bins, confusion matrix,
  per-class precision, recall and F1, the mistakes shown);
- ``report.html``: all of it on one page, images embedded, nothing fetched from anywhere.

Needs matplotlib, like bpnet.plot.
"""

import base64
import html
import io
import json
import warnings
from pathlib import Path

import numpy as np

from .errors import BpnetError, InputError
from .evaluate import calibration, ece, measure  # noqa: F401  (ece: part of this module's API)
from .files import atomic_write, missing_folders, remove_empty_folders, remove_quietly
from .plot import require_matplotlib

FIGURES = ("confusion.png", "mistakes.png", "calibration.png", "weights.png")
FILES = FIGURES + ("report.json", "report.html")
N_BINS = 15              # Guo et al.'s choice
N_MISTAKES = 36
N_UNITS = 100
DPI = 100


def check_folder(folder):
    """Refuse a ``folder`` that holds anything (a report never overwrites files), and say now if
    matplotlib is missing; the folders that writing the report would create."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file, not a folder for the report")
    if folder.is_dir() and any(folder.iterdir()):
        raise InputError(f"{folder}: already holds files; give the report an empty or new folder")
    require_matplotlib()
    return missing_folders(folder)


def write_report(network, split, folder, title="", n_bins=N_BINS, n_mistakes=N_MISTAKES):
    """Measure ``network`` on ``split`` (a :class:`bpnet.data.Split`) and write the report's files
    into ``folder`` (created if missing; refused if it holds anything). Returns report.json's dict."""
    folder = Path(folder)
    created = check_folder(folder)
    with np.errstate(over="ignore", invalid="ignore"):
        result, P = measure(network, split, n_bins)
    if not np.isfinite(result["loss"]):
        raise InputError(f"the network's outputs are not finite on this split (its weights overflow "
                         f"{network.dtype}); no report written")
    mistakes = confident_mistakes(P, split.labels, n_mistakes)
    facts = {"title": title, "network": network.describe(), **result, "mistakes": mistakes}
    figures = {"confusion.png": lambda: confusion_figure(np.array(result["confusion_matrix"])),
               "mistakes.png": lambda: mistakes_figure(split.images, mistakes),
               "calibration.png": lambda: calibration_figure(result["calibration_bins"], result["ece"]),
               "weights.png": lambda: weights_figure(network.W[1])}
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        images = {}
        for name, draw in figures.items():
            images[name] = _png(draw())
            _write(folder / name, images[name], written)
        _write(folder / "report.json", json.dumps(facts, indent=1).encode(), written)
        _write(folder / "report.html", page(facts, images).encode(), written)
    except BaseException as exc:
        for path in written:
            remove_quietly(path)
        remove_empty_folders(created)
        if isinstance(exc, OSError):
            raise BpnetError(f"{folder}: cannot write the report ({exc.strerror or exc})") from None
        raise
    return facts


def _write(path, data, written):
    atomic_write(path, lambda f: f.write(data))
    written.append(path)


def _png(figure):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def confident_mistakes(P, labels, k=N_MISTAKES):
    """The ``k`` wrong predictions made with the highest probability, most confident first:
    [{index, true, predicted, probability, probability_true}]."""
    predicted = np.argmax(P, axis=0)
    wrong = np.flatnonzero(predicted != labels)
    confidence = P[predicted[wrong], wrong]
    order = wrong[np.argsort(-confidence, kind="stable")[:k]]
    return [{"index": int(n), "true": int(labels[n]), "predicted": int(predicted[n]),
             "probability": float(P[predicted[n], n]), "probability_true": float(P[labels[n], n])}
            for n in order]


# ----------------------------------------------------------------------------- figures

def confusion_figure(confusion):
    """Counts (rows: true class, columns: predicted) on a logarithmic colour scale, so that the
    few mistakes show beside the diagonal's thousands; each cell's count written in it."""
    Figure, _ = require_matplotlib()
    from matplotlib.colors import LogNorm

    figure = Figure(figsize=(7, 6), layout="constrained")
    axes = figure.subplots()
    shown = np.ma.masked_equal(confusion, 0)
    vmax = max(int(confusion.max()), 2)
    image = axes.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=vmax))
    n = len(confusion)
    for i in range(n):
        for j in range(n):
            count = int(confusion[i, j])
            if count:
                dark = np.log(count) > 0.6 * np.log(vmax)
                axes.text(j, i, str(count), ha="center", va="center", fontsize=8,
                          color="white" if dark else "black")
    axes.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true",
             title=f"confusion matrix ({int(confusion.sum()):,} examples; a blank cell is a count of 0)")
    figure.colorbar(image, ax=axes, label="count (log scale)")
    return figure


def mistakes_figure(images, mistakes, columns=6):
    """Each mistake's image with its true class, the prediction and the probability given to it.

    One mosaic in one axes, the labels written above the tiles: as fast to draw as one image,
    where an axes per image took a second.
    """
    Figure, _ = require_matplotlib()
    rows = max(1, -(-len(mistakes) // columns))
    cell_w, cell_h = 34, 46                                  # a 28x28 tile, room for two lines above it
    mosaic = np.full((rows * cell_h, columns * cell_w), np.nan)
    figure = Figure(figsize=(1.5 * columns, 2.0 * rows + 0.4), layout="constrained")
    axes = figure.subplots()
    for k, m in enumerate(mistakes):
        r, c = divmod(k, columns)
        top, left = r * cell_h + (cell_h - 28), c * cell_w + 3
        mosaic[top:top + 28, left:left + 28] = images[m["index"]].reshape(28, 28)
        axes.text(left + 14, top - 2, f"#{m['index']}: {m['true']} → {m['predicted']}\n{m['probability']:.1%}",
                  ha="center", va="bottom", fontsize=9)
    from matplotlib import colormaps

    axes.imshow(mosaic, cmap=colormaps["gray_r"].with_extremes(bad="white"), vmin=0, vmax=255,
                interpolation="nearest")
    axes.set_axis_off()
    what = "most confident mistakes: true → predicted, probability of the prediction"
    figure.suptitle(what if mistakes else "no mistakes on this split")
    return figure


def calibration_figure(bins, ece_value):
    """The reliability diagram: accuracy per confidence bin as bars, each bin's mean confidence
    as a mark, the diagonal of perfect calibration; below, how many examples fell in each bin."""
    Figure, _ = require_matplotlib()
    figure = Figure(figsize=(6, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    full = [b for b in bins if b["count"]]
    width = bins[0]["upper"] - bins[0]["lower"]
    lower, accuracy = [b["lower"] for b in full], [b["accuracy"] for b in full]
    top.bar(lower, accuracy, width=width, align="edge", edgecolor="black", linewidth=0.5, label="accuracy")
    # The gap: from the bin's accuracy to its mean confidence (below the diagonal: overconfident).
    top.bar(lower, [b["confidence"] - b["accuracy"] for b in full], bottom=accuracy, width=width, align="edge",
            color="tab:red", alpha=0.3, edgecolor="tab:red", hatch="//", label="gap to the mean confidence")
    top.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy",
            title=f"reliability diagram: ECE = {ece_value:.2%} ({len(bins)} bins)")
    top.legend(loc="upper left")
    top.grid(True, alpha=0.3)
    bottom.bar([b["lower"] for b in bins], [b["count"] for b in bins], width=width, align="edge",
               edgecolor="black", linewidth=0.5, color="tab:gray")
    if any(b["count"] for b in bins):
        bottom.set_yscale("log")
    bottom.set(xlabel="confidence (the largest probability)", ylabel="examples")
    bottom.grid(True, alpha=0.3)
    return figure


def weights_mosaic(W, units=N_UNITS, gap=1):
    """The first ``units`` rows of W¹ (n_1, 784) as 28x28 tiles in a square-ish grid, each tile
    divided by its own largest |w| (so in [−1, 1]); NaN between tiles."""
    k = min(units, len(W))
    columns = int(np.ceil(np.sqrt(k)))
    rows = -(-k // columns)
    side = 28 + gap
    mosaic = np.full((rows * side - gap, columns * side - gap), np.nan)
    scale = np.abs(W[:k]).max(axis=1)
    tiles = W[:k] / np.where(scale > 0, scale, 1)[:, None]
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        mosaic[r * side:r * side + 28, c * side:c * side + 28] = tile.reshape(28, 28)
    return mosaic


def weights_figure(W):
    """What the first layer's units look for: W¹'s rows as images, red positive, blue negative."""
    Figure, _ = require_matplotlib()
    k = min(N_UNITS, len(W))
    figure = Figure(figsize=(8.5, 7.5), layout="constrained")
    axes = figure.subplots()
    from matplotlib import colormaps

    cmap = colormaps["RdBu_r"].with_extremes(bad="white")
    image = axes.imshow(weights_mosaic(np.asarray(W, dtype=np.float64)), cmap=cmap, vmin=-1, vmax=1,
                        interpolation="nearest")
    axes.set_axis_off()
    figure.suptitle(f"first-layer weights W¹: {k} of {len(W)} units, each 28x28, scaled by its own largest |w|")
    figure.colorbar(image, ax=axes, shrink=0.6, label="w / max|w| of the unit")
    return figure


# ----------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { padding: 0.2em 0.8em; text-align: right; border-bottom: 1px solid #eee; }
th { background: #f4f4f4; } img { max-width: 100%; } .big { font-size: 1.3em; }
"""


def _image(name, images):
    data = base64.b64encode(images[name]).decode("ascii")
    return f'<img alt="{name}" src="data:image/png;base64,{data}">'


def _rows(header, rows):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(facts, images):
    """One self-contained HTML page: the numbers and the figures (PNG data URIs), no scripts."""
    e = html.escape
    per_class = _rows(["class", "precision", "recall", "F1", "support"],
                      [[r["class"], f"{r['precision']:.2%}", f"{r['recall']:.2%}", f"{r['f1']:.2%}", r["support"]]
                       for r in facts["per_class"]])
    mistakes = _rows(["example", "true", "predicted", "probability", "probability of the true class"],
                     [[m["index"], m["true"], m["predicted"], f"{m['probability']:.2%}",
                       f"{m['probability_true']:.2%}"] for m in facts["mistakes"]])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bpnet report {e(facts['title'])}</title>
<style>{STYLE}</style></head><body>
<h1>bpnet report</h1>
<p>{e(facts['title'])}<br>{e(facts['network'])}, {facts['n']:,} examples</p>
<p class="big">accuracy {facts['accuracy']:.2%} &middot; loss {facts['loss']:.4f} &middot;
expected calibration error {facts['ece']:.2%}</p>
<h2>Confusion matrix</h2>{_image('confusion.png', images)}
<h2>Per class</h2>{per_class}
<h2>Calibration</h2>
<p>Examples are put in {len(facts['calibration_bins'])} bins by their confidence (the largest probability);
a calibrated network is right as often as it is confident, on the diagonal. ECE is the
examples' average distance from it (Guo et al. 2017).</p>{_image('calibration.png', images)}
<h2>Most confident mistakes</h2>{_image('mistakes.png', images)}{mistakes}
<h2>What the first layer learned</h2>
<p>Each tile is one hidden unit's 784 weights as a 28x28 image: red pixels excite the unit, blue ones
inhibit it. A pixel blank in every training image never receives a gradient (∂C/∂W¹ = (1/N) Δ¹(A⁰)ᵀ
is 0 where A⁰ is), so its weights keep their random start; pixels rarely inked move little: hence the
noisy edges around the strokes.</p>{_image('weights.png', images)}
</body></html>
"""
