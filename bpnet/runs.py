"""Run folders and their metrics file.

A run folder holds ``config.yaml``, ``metrics.jsonl`` (one JSON object per reported
epoch), ``last.npz`` (the latest state, resumable) and ``best.npz`` (the best
validation accuracy so far); a ``latest`` link beside it points at the newest run.
"""

import json
import math
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from .config import is_number
from .diagnostics import is_valid as valid_diagnostics
from .errors import BpnetError, CheckpointError, ConfigError
from .files import atomic_write, missing_folders, remove_empty_folders, remove_quietly, temp_file_pattern

# What a run writes into its folder, each through atomic_write.
RUN_FILES = ("config.yaml", "metrics.jsonl", "last.npz", "best.npz")
_STALE = temp_file_pattern(RUN_FILES)


def is_stale_temp_file(name):
    """Whether ``name`` is a temporary file of atomic_write to one of a run's files (see RUN_FILES)."""
    return _STALE.fullmatch(name) is not None


def remove_stale_temp_files(run_dir):
    """Remove the temporary files a run killed mid-write (SIGKILL, power loss) left in ``run_dir``:
    atomic_write removes its file on any exception, but a killed process runs no code. Only
    bpnet's own (``.last.npz.<random>.tmp`` and the like): nothing else there is ours to delete."""
    for entry in os.scandir(run_dir):
        if is_stale_temp_file(entry.name) and entry.is_file(follow_symlinks=False):
            remove_quietly(entry.path)


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
    # Per layer: gradient, update and weight norms, dead and saturated units (bpnet.diagnostics);
    # None in the records of a bpnet before them.
    diagnostics: "dict | None" = None



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
    # A run killed while writing its first file leaves only a temporary file: that folder is still free.
    if run_dir.exists() and (not run_dir.is_dir() or any(not is_stale_temp_file(p.name) for p in run_dir.iterdir())):
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
    """Create the run folder, remove the temporary files a killed run left in it and write its config.yaml."""
    run_dir = Path(run_dir)
    _make_run_dir(run_dir)
    remove_stale_temp_files(run_dir)
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



# ----------------------------------------------------------------------------- metrics.jsonl

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
            record = record_from(json.loads(line))
        except (ValueError, RecursionError):
            record = None
        if record is None or (records and record.epoch <= records[-1].epoch):
            raise CheckpointError(f"{path}: line {n} is damaged")
        records.append(record)
    return records


def record_from(fields):
    """The EpochRecord of a JSON object, or None if it is not one an epoch can have reported."""
    try:
        record = EpochRecord(**fields)
    except TypeError:
        return None
    return record if _valid_record(record) else None


def _valid_record(record):
    """What an epoch can have reported: epoch ≥ 1, costs and seconds ≥ 0, accuracies in [0, 1],
    all finite; the validation ones may be null (no validation set), and so may the diagnostics
    (a record of a bpnet before them)."""
    def loss(x):
        return is_finite(x) and x >= 0

    def accuracy(x):
        return is_finite(x) and 0 <= x <= 1

    return (is_count(record.epoch) and record.epoch >= 1 and is_count(record.step)
            and loss(record.train_loss) and accuracy(record.train_accuracy)
            and loss(record.seconds) and is_finite(record.lr)
            and (record.val_loss is None or loss(record.val_loss))
            and (record.val_accuracy is None or accuracy(record.val_accuracy))
            and (record.diagnostics is None or valid_diagnostics(record.diagnostics)))


def is_finite(value):
    """A JSON number that is not NaN or infinite (they would end up in metrics.jsonl)."""
    return is_number(value) and math.isfinite(value)


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

