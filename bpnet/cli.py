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

from . import __version__
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


class TrainReporter:
    """The tqdm bar over batches and the one line per reported epoch."""

    def __init__(self, epochs, show_bar):
        self.epochs, self.show_bar, self.bar, self.bar_epoch = epochs, show_bar, None, None

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
def train(config_path, overrides, out, data_dir, resume, quiet):
    """Train a network by backpropagation and save checkpoints.

    Writes RUN/config.yaml, RUN/metrics.jsonl, RUN/last.npz and RUN/best.npz
    (best validation accuracy); once RUN/last.npz exists, a `latest` link beside RUN
    points to it (a resumed RUN too). Ctrl-C
    (SIGTERM) saves RUN/last.npz and exits 130 (143); --resume RUN continues
    from it.

    \b
    Examples:
      bpnet train --config mnist
      bpnet train --config my-config.yaml --set train.epochs=5 --set model.hidden=[256,128]
      bpnet train --resume runs/latest --set train.epochs=20
    """
    from . import config as config_module
    from . import train as training
    from .interrupts import interrupted
    from .network import Network
    from .resume import load_for_resume, recorded_data_dir
    from .runs import check_new_run_dir, new_run_dir

    if resume:
        if config_path or out:
            raise click.UsageError("--resume takes the config and the folder from RUN; "
                                   "drop --config and --out (use --set train.epochs=N to extend)")
        ckpt, config = load_for_resume(resume, overrides)
        run_dir = Path(resume).resolve() if Path(resume).is_symlink() else Path(resume)
    else:
        config_path = config_path or "mnist"
        ckpt, config = None, config_module.load(config_path, overrides)
        run_dir = Path(out) if out else new_run_dir(config_module.config_name(config_path))
        check_new_run_dir(run_dir)

    show = _show_progress(quiet)
    recorded = recorded_data_dir(Path(resume) / "last.npz", ckpt.meta) if ckpt else None
    data = training.load_data_for(config, data_dir, progress=_tqdm_factory(show), recorded=recorded)
    network = ckpt.network if ckpt else Network.for_mnist(config.model, config.train.dtype)
    verb = "Resuming" if ckpt else "Training"
    click.echo(f"{verb} {network.describe()} ({network.n_parameters():,} parameters) on {data.name}: "
               f"{len(data.train)} train / {len(data.val)} val examples; run folder {run_dir}")
    reporter = TrainReporter(config.train.epochs, show)
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
             f"({round(report['accuracy'] * report['n'])}/{report['n']}), loss {report['loss']:.4f}",
             "",
             "confusion matrix (rows: true digit, columns: predicted)",
             "      " + "".join(f"{k:>6}" for k in range(10))]
    for k, row in enumerate(report["confusion_matrix"]):
        lines.append(f"{k:>6}" + "".join(f"{v:>6}" for v in row))
    lines += ["", "digit  precision  recall  support"]
    for row in report["per_class"]:
        lines.append(f"{row['class']:>5}  {row['precision']:>9.2%}  {row['recall']:>6.2%}  {row['support']:>7}")
    return "\n".join(lines)


@cli.command(name="eval")
@click.argument("checkpoint_path", metavar="CHECKPOINT", type=click.Path(dir_okay=False))
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              help="Which split to measure (val is the one held out during training).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Data folder (overrides $BPNET_DATA_DIR and the folder the checkpoint's run read).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def evaluate(checkpoint_path, split, data_dir, as_json):
    """Measure a checkpoint: loss, accuracy, confusion matrix, per-class precision and recall.

    \b
    Example:
      bpnet eval runs/latest/best.npz --split test
    """
    from . import checkpoint
    from .evaluate import report
    from .resume import recorded_data_dir
    from .train import load_data_for

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


# ----------------------------------------------------------------------------- predict

def _distribution(network, A0):
    """Output activations as probabilities; a sigmoid head's outputs are normalised to sum to 1.

    The normalisation is done on log σ(Z) = −log(1 + e^{−Z}), like a softmax: when all ten
    σ(Z) underflow to 0, dividing them would give 0/0, while the ratios are still defined.
    """
    if network.output == "softmax":
        return network.predict_proba(A0)
    Z, _ = network.forward(A0)
    from .network import softmax

    return softmax(-np.logaddexp(0, -Z[-1]))                             # (n_L, N)


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--checkpoint", "checkpoint_path", default=DEFAULT_CHECKPOINT, type=click.Path(dir_okay=False),
              help="The network to use.")
@click.option("--top", "top_k", type=click.IntRange(1, 10), default=1, help="Show the K most likely digits.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
def predict(images, checkpoint_path, top_k, as_json):
    """Say which digit each IMAGE shows (PNG, JPEG, BMP, GIF, TIFF, WebP).

    The image is brought to MNIST's convention first: grayscale, inverted if the
    background is light, cropped to the ink, scaled into 20x20 and centred by
    centre of mass in 28x28.

    \b
    Example:
      bpnet predict my-seven.png --top 3
    """
    from . import checkpoint
    from .images import load_images

    # No run with a checkpoint: say how to make one (a run stopped early gets its hint from load).
    saved = [Path(checkpoint_path).parent / name for name in ("best.npz", "last.npz")]
    if checkpoint_path == DEFAULT_CHECKPOINT and not any(path.is_file() for path in saved):
        raise CheckpointError(f"{checkpoint_path}: no such checkpoint (train one with `bpnet train` "
                              f"or pass --checkpoint)")
    network = checkpoint.load(checkpoint_path).network
    refused = 0
    for path in images:
        try:
            A0 = load_images([path], network.dtype)                              # (784, 1)
        except ImageError as exc:
            click.echo(f"Error: {exc}", err=True)      # one line per bad image, and go on with the others
            refused += 1
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            p = _distribution(network, A0)[:, 0]
        if not np.isfinite(p).all():
            click.echo(f"Error: {path}: the network's output is not finite for this image "
                       f"({checkpoint_path}'s weights overflow {network.dtype})", err=True)
            refused += 1
            continue
        order = np.argsort(-p, kind="stable")[:top_k]
        top = [{"digit": int(k), "probability": float(p[k])} for k in order]
        if as_json:
            click.echo(json.dumps({"file": path, "digit": top[0]["digit"],
                                   "probability": top[0]["probability"], "top": top}))
        else:
            others = "".join(f"  {t['digit']} {t['probability']:.1%}" for t in top[1:])
            click.echo(f"{path}: {top[0]['digit']} ({top[0]['probability']:.1%}){others}")
    if refused:
        click.get_current_context().exit(ImageError.exit_code)


# ----------------------------------------------------------------------------- plot

@cli.command()
@click.argument("run_dir", metavar="[RUN]", type=click.Path(), default="runs/latest")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="The image to write: .png, .svg or .pdf.  [default: RUN/curves.png]")
def plot(run_dir, out):
    """Draw a run's learning curves: cost and accuracy per reported epoch, train and
    validation, from RUN/metrics.jsonl (RUN defaults to runs/latest).

    Needs matplotlib: pip install matplotlib (or the project's plot extra).

    \b
    Example:
      bpnet plot runs/latest --out curves.svg
    """
    from .plot import plot_run

    click.echo(f"wrote {plot_run(run_dir, out)}")


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
