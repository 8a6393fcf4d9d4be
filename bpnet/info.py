"""What a checkpoint holds: its network, config, training progress and metrics, and whether a
run can be resumed from it. Read and validated by bpnet.checkpoint; nothing is changed."""

import textwrap
from pathlib import Path

from . import checkpoint
from .errors import BpnetError


def resumable(ckpt):
    """(True, how) if ``bpnet train --resume`` can go on from ``ckpt``, else (False, why): the checks
    training itself makes (bpnet.resume.check_resumable) on the run folder's last.npz."""
    from .resume import check_resumable, check_state

    folder = Path(ckpt.path).parent
    try:
        check_state(ckpt.path, ckpt.meta)          # first: a file that is no run's says so, not "not last.npz"
        check_resumable(folder / "last.npz", ckpt, ckpt.config)
    except BpnetError as exc:
        why = str(exc)
        if Path(ckpt.path).name == "best.npz":
            why = f"best.npz holds the best epoch's weights; a run resumes from its last.npz ({folder / 'last.npz'})"
        return False, why
    done, epochs = ckpt.meta["epoch"], ckpt.config.train.epochs
    more = (f"; it finished all {epochs} epochs: add more with --set train.epochs=N" if done >= epochs
            else f" (epoch {done} of {epochs} done)")
    return True, f"bpnet train --resume {folder}{more}"


def info(path):
    """The facts about the checkpoint at ``path`` as a JSON-able dict (a CheckpointError if it is
    missing or not a bpnet checkpoint)."""
    ckpt = checkpoint.load(path)
    meta, network = ckpt.meta, ckpt.network
    can, how = resumable(ckpt)
    metrics = meta.get("metrics")
    return {
        "checkpoint": str(path),
        "file_bytes": Path(path).stat().st_size,
        "network": network.describe(),
        "sizes": network.sizes,
        "parameters": network.n_parameters(),
        "dtype": str(network.dtype),
        "epoch": meta.get("epoch"),
        "epochs": ckpt.config.train.epochs,
        "step": meta.get("step"),
        "metrics": metrics if isinstance(metrics, dict) else None,
        "data_dir": meta.get("data_dir"),
        "bpnet_version": meta.get("bpnet_version"),
        "optimizer_state": sorted(ckpt.optimizer_state),
        "resumable": can,
        "resume": how,
        "config": ckpt.config.to_dict(),
    }


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} bytes"


def _metrics(m):
    if not m:
        return "none recorded"
    val = "no validation" if m.get("val_loss") is None else \
        f"val loss {m['val_loss']:.4f} acc {m['val_accuracy']:.2%}"
    return f"train loss {m['train_loss']:.4f} acc {m['train_accuracy']:.2%}, {val} (epoch {m['epoch']})"


def format_text(facts):
    """The facts of :func:`info` as aligned lines."""
    f, unknown = facts, "unknown"
    c = f["config"]
    epoch = "unknown" if f["epoch"] is None else f"{f['epoch']} of {f['epochs']}, step {f['step']}"
    lines = []
    for section, values in c.items():
        text = f"{section}: " + ", ".join(f"{k}={'null' if v is None else v}" for k, v in values.items())
        lines += textwrap.wrap(text, width=100, subsequent_indent="  ")
    config = ("\n" + " " * 13).join(lines)
    rows = [
        ("network", f"{f['network']}: {f['parameters']:,} parameters, {f['dtype']}"),
        ("epoch", epoch),
        ("metrics", _metrics(f["metrics"])),
        ("data", f"{c['data']['dataset']}, {c['data']['validation']:,} held out for validation, "
                 f"read from {f['data_dir'] or unknown}"),
        ("file", f"{_size(f['file_bytes'])}, written by bpnet {f['bpnet_version'] or unknown}"),
        ("resumable", ("yes: " if f["resumable"] else "no: ") + f["resume"]),
        ("config", config),
    ]
    return "\n".join([f"{f['checkpoint']}"] + [f"  {name:<10} {text}" for name, text in rows])
