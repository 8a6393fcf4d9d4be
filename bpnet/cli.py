"""The ``bpnet`` command: a thin layer over the Python API.

This is the only module that prints. Library code raises :class:`BpnetError`
subclasses; :class:`Group.invoke` turns them into one line ``Error: …`` on
stderr and the exit code the README documents (0 ok, 1 failure while working,
2 bad usage or input, 130/143 interrupted after saving).
"""

import json
import os
import signal
import sys
import traceback
from pathlib import Path

import click
import numpy as np

from . import __version__, answers
from .answers import UNSURE_BELOW  # noqa: F401  (the threshold predict --help states)
from .data import DATASETS
from .errors import BpnetError, CheckpointError, ConfigError, DataError, ImageError, Interrupted

DEFAULT_CHECKPOINT = "runs/latest/best.npz"


def _usage_line(exc):
    """A click usage error as bpnet's one line, with where to find the usage when click knows it."""
    see = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
    return f"Error: {exc.format_message()}{see}"


# Plain `bpnet` prints the help (exit 2 in click >= 8.2): that one stays as click shows it.
_SHOWS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


class Group(click.Group):
    """Runs a command and maps bpnet's exceptions to a message and an exit code."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:          # `bpnet --bogus`: the group's own options
            if isinstance(exc, _SHOWS_HELP):
                raise
            click.echo(_usage_line(exc), err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:                  # `bpnet --help | true`: as for a command's output
            _quiet(sys.stdout)
            sys.exit(141)

    def invoke(self, ctx):
        debug = ctx.params.get("debug", False)

        def fail(lines, code):
            if debug:
                traceback.print_exc()
            try:
                for line in lines:
                    click.echo(line, err=True)
            except BrokenPipeError:              # stderr is the closed pipe too (`2>&1 | head`)
                _quiet(sys.stderr)
            ctx.exit(code)

        try:
            return super().invoke(ctx)
        except click.UsageError as exc:          # a command's options or arguments, an unknown command
            fail([_usage_line(exc)], exc.exit_code)
        except Interrupted as exc:
            fail([f"Interrupted: {exc}"], exc.exit_code)
        except BpnetError as exc:
            fail([f"Error: {exc}", *(f"  {reason}" for reason in getattr(exc, "reasons", []))], exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`bpnet eval ... | head`): nothing is wrong, and nothing
            # more can be said to it.
            _quiet(sys.stdout)
            ctx.exit(141)
        except KeyboardInterrupt as exc:
            fail(["Interrupted: nothing was being saved; stopped."], 143 if isinstance(exc, Terminated) else 130)
        except (OSError, MemoryError) as exc:
            # The last resort for what the library could not foresee (a folder it may not
            # read, a name too long, a network too large for memory): still one line.
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            fail([f"Error: {where}{reason}"], 1)


def _quiet(stream):
    """Point ``stream`` at devnull, so that the flush at exit does not fail on a closed pipe again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _show_progress(quiet):
    """tqdm bars only on a terminal, and never with --quiet."""
    return not quiet and sys.stderr.isatty()


def _tqdm_factory(enabled):
    if not enabled:
        return None
    from tqdm import tqdm

    return lambda **kwargs: tqdm(leave=False, **kwargs)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="bpnet")
@click.option("--debug", is_flag=True, help="Show a traceback for handled errors too.")
def cli(debug):
    """bpnet: backpropagation from scratch with numpy, on MNIST.

    \b
    Example:
      bpnet train --config mnist
      bpnet eval runs/latest/best.npz
      bpnet predict my-digit.png
    """


# ----------------------------------------------------------------------------- download

@cli.command()
@click.option("--dataset", type=click.Choice(list(DATASETS)), default="mnist",
              help="Which dataset to fetch.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the files (default: $BPNET_DATA_DIR, else ./data, or ./data/DATASET "
                   "for a dataset other than mnist).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def download(dataset, data_dir, quiet):
    """Download and verify a dataset's four IDX files.

    Files already present and valid are not fetched again. $BPNET_MIRROR, a base
    URL, is tried before the built-in mirrors.

    \b
    Example:
      bpnet download --dataset fashion-mnist
    """
    from .data import resolve_data_dir
    from .download import download as fetch

    folder = resolve_data_dir(data_dir, dataset=dataset)
    paths = fetch(dataset, folder, progress=_tqdm_factory(_show_progress(quiet)))
    click.echo(f"{dataset}: {len(paths)} files verified in {folder}")


# ----------------------------------------------------------------------------- train

def _epoch_line(record, epochs):
    val = ("val –" if record.val_loss is None
           else f"val loss {record.val_loss:.4f} acc {record.val_accuracy:6.2%}")
    return (f"epoch {record.epoch:>{len(str(epochs))}}/{epochs}  "
            f"train loss {record.train_loss:.4f} acc {record.train_accuracy:6.2%}  "
            f"{val}  {record.seconds:6.2f} s")


def _short_exponent(x):
    return f"{x:.1e}".replace("e-0", "e-").replace("e+0", "e") if x else "0"          # 1.2e-03 → 1.2e-3


# What --verbose shows of an epoch's diagnostics (bpnet.diagnostics): label, format of one layer's value.
_DIAGNOSTICS_SHOWN = (("grad_norm", "|g|", "{:.3g}".format), ("update_ratio", "|ΔW|/|W|", _short_exponent),
                      ("weight_norm", "|W|", "{:.3g}".format), ("dead_fraction", "dead", "{:.1%}".format),
                      ("saturated_fraction", "saturated", "{:.1%}".format))


def _diagnostics_line(diagnostics):
    """One line of an epoch's diagnostics, a value per layer l = 1..L joined by '/', '–' where a
    quantity does not apply (the output layer's dead and saturated fractions):
    ``  layers 1/2/3: |g| 0.12/0.05/0.03  |ΔW|/|W| 1.2e-3/…  |W| 21.4/…  dead 3.1%/0.0%/–``."""
    parts = []
    for name, label, form in _DIAGNOSTICS_SHOWN:
        values = diagnostics.get(name)
        if values:
            parts.append(f"{label} " + "/".join("–" if x is None else form(x) for x in values))
    layers = max((len(v) for v in diagnostics.values() if v), default=0)
    return f"  layers {'/'.join(str(l) for l in range(1, layers + 1))}: " + "  ".join(parts)


class TrainReporter:
    """The tqdm bar over batches and the one line per reported epoch (and its diagnostics if ``verbose``)."""

    def __init__(self, epochs, show_bar, verbose=False):
        self.epochs, self.show_bar, self.bar, self.bar_epoch = epochs, show_bar, None, None
        self.verbose = verbose

    def on_batch(self, epoch, batch, n_batches, loss):
        if not self.show_bar:
            return
        if self.bar_epoch != epoch:
            self.close()
            from tqdm import tqdm

            self.bar = tqdm(total=n_batches, initial=batch - 1, desc=f"epoch {epoch}", leave=False,
                            unit="batch", file=sys.stderr)
            self.bar_epoch = epoch
        self.bar.update(1)
        if batch % 50 == 0:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch(self, record):
        self.close()
        click.echo(_epoch_line(record, self.epochs))
        if self.verbose and record.diagnostics:
            click.echo(_diagnostics_line(record.diagnostics))

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar, self.bar_epoch = None, None


@cli.command()
@click.option("--config", "config_path", default=None,
              help="A YAML file, or the name of a shipped config (mnist, fast, seed-fullbatch, "
                   "sigmoid-mse, fashion-mnist, mnist-best, fashion-mnist-best).  [default: mnist]")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set train.lr=0.1 --set model.hidden=[256,128]. Repeatable.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder (default: runs/<config name>-<timestamp>).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data folder (overrides $BPNET_DATA_DIR, the folder a resumed run read, and the config's data.dir).")
@click.option("--resume", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this folder from its last.npz.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (they are off anyway when not on a terminal).")
@click.option("--verbose", "-v", is_flag=True,
              help="After each epoch's line, one of its diagnostics per layer: gradient norm |g|, update ratio "
                   "|ΔW|/|W|, weight norm |W|, dead ReLU and saturated units (all in RUN/metrics.jsonl).")
@click.option("--dry-run", is_flag=True,
              help="Show the resolved config, network, FLOPs, memory and an estimated time per epoch; "
                   "train, write and download nothing.")
def train(config_path, overrides, out, data_dir, resume, quiet, verbose, dry_run):
    """Train a network by backpropagation and save checkpoints.

    Writes RUN/config.yaml, RUN/metrics.jsonl, RUN/last.npz and RUN/best.npz
    (best validation accuracy, or loss with train.monitor: val_loss); once
    RUN/last.npz exists, a `latest` link beside RUN points to it (a resumed RUN
    too). Ctrl-C
    (SIGTERM) saves RUN/last.npz and exits 130 (143); --resume RUN continues
    from it.

    \b
    Examples:
      bpnet train --config mnist
      bpnet train --config my-config.yaml --set train.epochs=5 --set model.hidden=[256,128]
      bpnet train --resume runs/latest --set train.epochs=20
      bpnet train --config mnist --set model.hidden=[800,800] --dry-run
    """
    from . import config as config_module
    from . import train as training
    from .interrupts import interrupted
    from .network import Network
    from .resume import load_for_resume, recorded_data_dir
    from .runs import check_new_run_dir, new_run_dir

    if resume and (config_path or out):
        raise click.UsageError("--resume takes the config and the folder from RUN; "
                               "drop --config and --out (use --set train.epochs=N to extend)")
    if resume:
        ckpt, config = load_for_resume(resume, overrides)
    else:
        config_path = config_path or "mnist"
        ckpt, config = None, config_module.load(config_path, overrides)
    if dry_run:
        from . import dryrun

        name = f"of {resume}" if resume else config_path
        return click.echo(dryrun.format_text(dryrun.dry_run(config, data_dir, name=name)))
    if resume:
        run_dir = Path(resume).resolve() if Path(resume).is_symlink() else Path(resume)
    else:
        run_dir = Path(out) if out else new_run_dir(config_module.config_name(config_path))
        check_new_run_dir(run_dir)

    show = _show_progress(quiet)
    recorded = recorded_data_dir(Path(resume) / "last.npz", ckpt.meta) if ckpt else None
    data = training.load_data_for(config, data_dir, progress=_tqdm_factory(show), recorded=recorded)
    network = ckpt.network if ckpt else Network.for_mnist(config.model, config.train.dtype)
    verb = "Resuming" if ckpt else "Training"
    click.echo(f"{verb} {network.describe()} ({network.n_parameters():,} parameters) on {data.name}: "
               f"{len(data.train)} train / {len(data.val)} val examples; run folder {run_dir}")
    reporter = TrainReporter(config.train.epochs, show, verbose)
    try:
        result = training.train(config, data, run_dir, resume=ckpt,
                                 on_batch=reporter.on_batch, on_epoch=reporter.on_epoch)
    except BrokenPipeError:
        # `bpnet train | head`: the run stops, as on a signal. An epoch's line is written after
        # its last.npz, so that checkpoint holds every epoch the reader saw; say so on stderr.
        last = run_dir / "last.npz"
        if not last.exists():
            raise
        _quiet(sys.stdout)
        raise interrupted("the reader of the output went away", signal.SIGPIPE, last, run_dir) from None
    finally:
        reporter.close()
    if result.stopped_early:
        t = config.train
        click.echo(f"stopped early after epoch {result.history[-1].epoch} of {t.epochs}: {t.monitor} did not "
                   f"improve by more than {t.min_delta} in {t.patience} validations (train.patience)")
    click.echo(f"best epoch {result.best_epoch}: {result.best_path}")
    click.echo(f"test accuracy {result.test['accuracy']:.2%} (loss {result.test['loss']:.4f})")


# ----------------------------------------------------------------------------- eval

def _format_report(report, split):
    lines = [f"{split}: accuracy {report['accuracy']:.2%} "
             f"({round(report['accuracy'] * report['n'])}/{report['n']}), loss {report['loss']:.4f}, "
             f"ECE {report['ece']:.2%}",
             "",
             "confusion matrix (rows: true digit, columns: predicted)",
             "      " + "".join(f"{k:>6}" for k in range(10))]
    for k, row in enumerate(report["confusion_matrix"]):
        lines.append(f"{k:>6}" + "".join(f"{v:>6}" for v in row))
    lines += ["", "digit  precision  recall      F1  support"]
    for row in report["per_class"]:
        lines.append(f"{row['class']:>5}  {row['precision']:>9.2%}  {row['recall']:>6.2%}  {row['f1']:>6.2%}"
                     f"  {row['support']:>7}")
    return "\n".join(lines)


@cli.command(name="eval")
@click.argument("checkpoint_path", metavar="CHECKPOINT", type=click.Path(dir_okay=False))
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              help="Which split to measure (val is the one held out during training).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data folder (overrides $BPNET_DATA_DIR and the folder the checkpoint's run read).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Also write figures, report.json and report.html into this new or empty folder "
                   "(needs matplotlib).")
def evaluate(checkpoint_path, split, data_dir, as_json, report_dir):
    """Measure a checkpoint: loss, accuracy, calibration error (ECE), confusion matrix,
    per-class precision, recall and F1.

    \b
    Examples:
      bpnet eval runs/latest/best.npz --split test
      bpnet eval runs/latest/best.npz --report report/
    """
    from . import checkpoint
    from . import report as report_module
    from .evaluate import report
    from .resume import recorded_data_dir
    from .train import load_data_for

    if report_dir:
        report_module.check_folder(report_dir)          # before the data is read
    ckpt = checkpoint.load(checkpoint_path)
    data = load_data_for(ckpt.config, data_dir, progress=_tqdm_factory(_show_progress(as_json)),
                         recorded=recorded_data_dir(checkpoint_path, ckpt.meta))
    if not len(getattr(data, split)):
        raise DataError(f"{checkpoint_path}: the {split} split is empty (trained with data.validation 0)")
    with np.errstate(over="ignore", invalid="ignore"):          # an overflow is reported once, below
        result = report(ckpt.network, getattr(data, split))
    if not np.isfinite(result["loss"]):
        raise CheckpointError(f"{checkpoint_path}: the network's outputs are not finite on the {split} split "
                              f"(its weights overflow {ckpt.network.dtype})")
    if as_json:
        click.echo(json.dumps({"checkpoint": str(checkpoint_path), "dataset": data.name, "split": split,
                               **result}))
    else:
        click.echo(f"{checkpoint_path}: {ckpt.network.describe()}, epoch {ckpt.meta.get('epoch', '?')}")
        click.echo(_format_report(result, split))
    if report_dir:
        report_module.write_report(ckpt.network, getattr(data, split), report_dir,
                                   title=f"{checkpoint_path}, {data.name} {split} split")
        click.echo(f"wrote {Path(report_dir) / 'report.html'} and its figures", err=as_json)


# ----------------------------------------------------------------------------- predict

@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--checkpoint", "checkpoint_path", default=DEFAULT_CHECKPOINT, type=click.Path(dir_okay=False),
              help="The network to use.")
@click.option("--top", "top_k", type=click.IntRange(1, 10), default=None, metavar="K",
              show_default="1, and 3 bars with --show",
              help="Show the K most likely digits.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per image per line: file, digit, probability, top, unsure; with "
                   "--digits also digits (a string) and per_digit, and for several digits digit and top "
                   "are null and probability is the lowest.")
@click.option("--digits", "several", is_flag=True,
              help="Read a row of digits, left to right, as one number (e.g. a year).")
@click.option("--show", "draw", is_flag=True,
              help="Draw the 28x28 input the network saw, beside bars of the likeliest digits.")
@click.option("--color/--no-color", default=None, show_default="on a terminal, unless NO_COLOR is set",
              help="Draw --show's pixels in their shades of gray (ANSI colours).")
@click.option("--save-steps", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write DIR/NAME.steps.png per image: the preprocessing stages side by side.")
@click.option("--save-preprocessed", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write DIR/NAME.28x28.png per digit (NAME.1.28x28.png, ... with --digits): the "
                   "network's input, which predict reads back unchanged.")
def predict(images, checkpoint_path, top_k, as_json, several, draw, color, save_steps, save_preprocessed):
    """Say which digit each IMAGE shows (PNG, JPEG, BMP, GIF, TIFF, WebP).

    IMAGES are files, folders (their image files, sorted; other files are
    skipped and counted) or quoted patterns such as 'photos/*.jpg'.

    Each image is brought to MNIST's convention first: gray, uneven lighting
    flattened, the ink thresholded (ruled lines and specks removed), the digit
    cropped, scaled into 20x20 and centred by mass in 28x28. --save-steps
    shows each stage, --show the 28x28 the network saw.

    An answer below 60% probability is flagged unsure, with the runner-up
    (with --digits, if any digit is). An image that cannot be read or shows no
    digit is an error line; the others are still read, and the exit code is 2.

    \b
    Examples:
      bpnet predict my-seven.png --top 3
      bpnet predict photos/ --show
      bpnet predict year.jpg --digits --save-steps steps/
    """
    from . import checkpoint

    if draw and as_json:
        raise click.UsageError("--show draws for people and --json writes for programs: choose one")
    # No run with a checkpoint: say how to make one (a run stopped early gets its hint from load).
    saved = [Path(checkpoint_path).parent / name for name in ("best.npz", "last.npz")]
    if checkpoint_path == DEFAULT_CHECKPOINT and not any(path.is_file() for path in saved):
        raise CheckpointError(f"{checkpoint_path}: no such checkpoint (train one with `bpnet train` "
                              f"or pass --checkpoint)")
    network = checkpoint.load(checkpoint_path).network
    writer = _StageWriter(_output_folder(save_steps, "--save-steps"),
                          _output_folder(save_preprocessed, "--save-preprocessed"))
    colors = _color_mode(color) if draw else False
    refused = 0
    for path in _image_paths(images):
        try:
            if isinstance(path, ImageError):
                raise path
            stages, P = _read(path, network, several, checkpoint_path)
        except ImageError as exc:
            click.echo(f"Error: {exc}", err=True)      # one line per bad image, and go on with the others
            refused += 1
            continue
        if as_json:
            click.echo(json.dumps(answers.record(path, P, top_k or 1, several)))
        else:
            click.echo(answers.line(path, P, top_k or 1))
        if draw:
            click.echo(_drawing(stages, P, top_k or 3, colors), color=bool(colors))   # click strips colour off a tty
        writer.write(path, stages)
    for line in writer.summary():
        click.echo(line, err=True)
    if refused:
        click.get_current_context().exit(ImageError.exit_code)


def _image_paths(arguments):
    """The image files the IMAGES arguments name, in order; an argument naming none yields its ImageError.

    A folder's skipped files are said on stderr as its files come up.
    """
    from .image_files import find_images

    for argument in arguments:
        try:
            found = find_images(argument)
        except ImageError as exc:
            yield exc
            continue
        if found.skipped:
            n = found.skipped
            click.echo(f"skipped {n} {'file that is not an image' if n == 1 else 'files that are not images'} "
                       f"in {argument}", err=True)
        yield from found.paths


def _read(path, network, several, checkpoint_path):
    """The stages of each digit in the image file and their probabilities P, (10, n digits)."""
    from .data import columns
    from .evaluate import distribution
    from .images import load_digits, load_stages

    stages = load_digits(path) if several else [load_stages(path)]
    if not stages:
        raise ImageError(f"{path}: no digit found")
    A0 = columns(np.stack([s.mnist.reshape(-1) for s in stages]), network.dtype)    # (784, n)
    with np.errstate(over="ignore", invalid="ignore"):
        P = distribution(network, *network.forward(A0))
    if not np.isfinite(P).all():
        raise ImageError(f"{path}: the network's output is not finite for this image "
                         f"({checkpoint_path}'s weights overflow {network.dtype})")
    return stages, P


def _drawing(stages, P, k, colors):
    """--show: each digit's 28x28 input beside its ``k`` likeliest digits as bars."""
    from .show import digit_and_bars

    blocks = [digit_and_bars(s.mnist, p, k=k, color=colors) for s, p in zip(stages, P.T)]
    if len(blocks) > 1:
        blocks = [f"digit {n} of {len(blocks)}\n{block}" for n, block in enumerate(blocks, 1)]
    return "\n".join(blocks)


def _stdout_is_terminal():
    return sys.stdout.isatty()


def _color_mode(flag):
    from .show import color_mode

    return color_mode(flag, _stdout_is_terminal(), os.environ)


def _output_folder(folder, option):
    """``folder`` made if missing (a Path), or None when the option was not given; a usage error if it cannot be."""
    if folder is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.BadParameter(f"cannot make the folder {folder} ({exc.strerror or exc})",
                                 param_hint=f"'{option}'") from None
    return Path(folder)


class _StageWriter:
    """--save-steps and --save-preprocessed: each image's PNGs, named after it and never after another."""

    def __init__(self, steps_dir, inputs_dir):
        self.steps_dir, self.inputs_dir = steps_dir, inputs_dir
        self.names, self.counts = set(), {"steps": 0, "inputs": 0}

    def write(self, path, stages):
        if not (self.steps_dir or self.inputs_dir):
            return
        from PIL import Image

        from .show import steps_strip

        name = self._unique(Path(path).stem)
        if self.steps_dir:
            _save_png(self.steps_dir / f"{name}.steps.png", steps_strip(stages if len(stages) > 1 else stages[0]))
            self.counts["steps"] += 1
        if self.inputs_dir:
            for n, s in enumerate(stages, 1):
                number = f".{n}" if len(stages) > 1 else ""
                _save_png(self.inputs_dir / f"{name}{number}.28x28.png", Image.fromarray(s.mnist))
                self.counts["inputs"] += 1

    def _unique(self, stem):
        """``stem``, or ``stem-2``, ``stem-3``, ... when an earlier image of this run had it."""
        name, n = stem, 1
        while name in self.names:
            n += 1
            name = f"{stem}-{n}"
        self.names.add(name)
        return name

    def summary(self):
        """What was written, a line per folder (for stderr: stdout holds the answers)."""
        for folder, n, what in ((self.steps_dir, self.counts["steps"], "step strip"),
                                (self.inputs_dir, self.counts["inputs"], "28x28 input")):
            if folder:
                yield f"wrote {n} {what}{'' if n == 1 else 's'} in {folder}"


def _save_png(path, image):
    from .files import atomic_write

    atomic_write(path, lambda f: image.save(f, format="PNG"))


# ----------------------------------------------------------------------------- plot

@cli.command()
@click.argument("run_dir", metavar="[RUN]", type=click.Path(), default="runs/latest")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="The image to write: .png, .svg or .pdf.  [default: RUN/curves.png]")
def plot(run_dir, out):
    """Draw a run's learning curves: cost and accuracy per reported epoch, train and
    validation, and the learning rate, from RUN/metrics.jsonl (RUN defaults to runs/latest);
    below them the training diagnostics per layer, where the records carry them.

    Needs matplotlib: pip install matplotlib (or the project's plot extra).

    \b
    Example:
      bpnet plot runs/latest --out curves.svg
    """
    from .plot import plot_run

    click.echo(f"wrote {plot_run(run_dir, out)}")


# ----------------------------------------------------------------------------- explain, info

@cli.command(name="explain")
@click.option("--config", "config_path", default="mnist", help="Config whose network to explain.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option("--batch", type=click.IntRange(1), default=None,
              help="N, the examples in a batch, for shapes and memory.  [default: train.batch_size]")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (equations written plainly).")
def explain_command(config_path, overrides, batch, as_json):
    """Show backpropagation for a config's network: each equation of the forward pass, the backward
    pass and the update with its shapes and the function that computes it; parameters, FLOPs and
    memory per batch.

    \b
    Example:
      bpnet explain --config sigmoid-mse --batch 1
    """
    from . import config as config_module
    from .explain import explain, format_text

    facts = explain(config_module.load(config_path, overrides), batch=batch, name=config_path)
    click.echo(json.dumps(facts) if as_json else format_text(facts))


@cli.command()
@click.argument("checkpoint_path", metavar="[CHECKPOINT]", type=click.Path(dir_okay=False),
                default="runs/latest/last.npz")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(checkpoint_path, as_json):
    """Describe a checkpoint (default: runs/latest/last.npz): network, training progress, metrics
    at save, data folder, bpnet version, config, and whether training can resume from it.

    \b
    Example:
      bpnet info runs/latest/last.npz
    """
    from .info import format_text, info as describe

    facts = describe(checkpoint_path)
    click.echo(json.dumps(facts) if as_json else format_text(facts))


# ----------------------------------------------------------------------------- gradcheck

@cli.command()
@click.option("--config", "config_path", default="mnist", help="Config whose network to check.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option("--entries", type=click.IntRange(1), default=20,
              help="Entries checked per parameter array (chosen at random).")
@click.option("--examples", type=click.IntRange(1), default=8, help="Random input columns in the batch.")
@click.option("--tolerance", type=float, default=1e-6, help="Largest relative error that passes.")
def gradcheck(config_path, overrides, entries, examples, tolerance):
    """Check backpropagation against centred finite differences, in float64.

    Builds the config's network (its activation, output and loss), draws a random
    batch and compares each sampled gradient entry; exits 1 if any array's
    relative error is above the tolerance.

    \b
    Example:
      bpnet gradcheck --config sigmoid-mse --entries 50
    """
    from . import config as config_module
    from .data import N_CLASSES, N_PIXELS, one_hot
    from .gradcheck import check
    from .network import Network

    if not 0 <= tolerance < float("inf"):         # a NaN tolerance would pass every check
        raise ConfigError(f"--tolerance must be a finite number >= 0, got {tolerance}")
    config = config_module.load(config_path, overrides)
    rng = np.random.default_rng(config.train.seed)
    network = Network.for_mnist(config.model, np.float64).initialise(config.model.init, rng)
    A0 = rng.uniform(0, 1, size=(N_PIXELS, examples))                           # (784, N)
    Y = one_hot(rng.integers(0, N_CLASSES, size=examples), np.float64)           # (10, N)
    click.echo(f"gradient check of {network.describe()} on {examples} random examples (float64):")
    worst = 0.0
    for name, error, n in check(network, A0, Y, entries=entries, rng=rng):
        worst = max(worst, error)
        click.echo(f"  {name:>4}  {n:>5} entries  relative error {error:.2e}")
    if worst > tolerance:
        raise BpnetError(f"gradient check failed: largest relative error {worst:.2e} > {tolerance:g}")
    click.echo(f"passed: largest relative error {worst:.2e} (<= {tolerance:g})")


class Terminated(KeyboardInterrupt):
    """SIGTERM outside the training loop (which saves first, see train.StopFlag): raised like
    Ctrl-C, so a download in progress cleans up its temporary file the same way."""


def _terminate(signum, frame):
    raise Terminated


def main():
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="bpnet")


if __name__ == "__main__":
    main()
