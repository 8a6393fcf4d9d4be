"""A training run described before it starts: its config, network, FLOPs, memory and time per epoch.

Nothing is trained, written or downloaded. The time is an estimate: a few training steps
(forward, backward and the optimiser's update, as bpnet.train.Run.step takes them) are timed
on random data of the batch's width and scaled to the epoch, and a forward pass for validation
likewise; random pixels cost what real ones do in dense products.
"""

import itertools
import time

import numpy as np
import yaml

from .data import Split, missing_files, resolve_data_dir
from .evaluate import evaluate
from .explain import TRAIN_EXAMPLES, explain, format_bytes, format_flops, memory
from .network import Network, Workspace
from .optim import make_optimizer

WARMUP, STEPS = 3, 20
MIN_SECONDS = 1.0            # and at least this long: on a busy machine a step now and then waits for a core
BUDGET = 5.0                 # but no longer than this (a very wide network takes fewer steps)
VALIDATION_SAMPLE = 2000     # examples of the validation pass actually timed


def step(network, optimizer, params, workspace, A0, Y):
    """One training step on one column chunk, done as bpnet.train.Run.step does it (what is timed
    here and in scripts/bench_augment.py): forward, cost, backward into the optimiser's buffers,
    update. Returns the activations A."""
    Z, A = network.forward(A0, workspace)
    network.cost(Z, A, Y)
    grads, beta = optimizer.gradient_buffers(params)
    network.backward(Z, A, Y, workspace, scale=optimizer.gradient_scale,
                     out=([None, *grads[0::2]], [None, *grads[1::2]]), beta=beta)
    optimizer.step(params, grads, accumulated=True)
    return A


def time_steps(config, steps=None, warmup=None, min_seconds=None, budget=None):
    """Mean seconds of a training step on one chunk of random data: (seconds, steps timed, columns).

    ``steps`` steps are timed after ``warmup`` untimed ones, for ``min_seconds`` at least (more steps
    if they are fast) and ``budget`` seconds at most (at least 3 steps). The mean, not the median:
    an epoch lasts the sum of its steps, the slow ones included.

    A batch wider than bpnet.batches.CHUNK is taken in chunks, each a forward and backward pass;
    here each chunk also gets the optimiser's update, a small overcount for full-batch runs.
    """
    from .batches import CHUNK, Batches

    steps, warmup = steps or STEPS, WARMUP if warmup is None else warmup
    min_seconds = MIN_SECONDS if min_seconds is None else min_seconds
    budget, t = budget or BUDGET, config.train
    rng = np.random.default_rng(t.seed)
    n_train = TRAIN_EXAMPLES - config.data.validation
    columns = min(n_train if t.batch_size == "full" else int(t.batch_size), n_train, CHUNK)
    split = Split(rng.integers(0, 256, size=(2 * columns, 784), dtype=np.uint8),
                  rng.integers(0, 10, size=2 * columns).astype(np.uint8))
    network = Network.for_mnist(config.model, t.dtype).initialise(config.model.init, rng)
    optimizer, workspace, params = make_optimizer(t), Workspace(), network.parameters()
    batches = Batches(split, columns, t.dtype)
    order = batches.order(rng)
    timed, started = [], None
    with np.errstate(all="ignore"):            # random labels may well diverge; the time is what counts
        for i in itertools.count():
            start = time.perf_counter()
            for A0, Y, labels in batches.get(order, i % batches.count):
                A = step(network, optimizer, params, workspace, A0, Y)
                int(np.count_nonzero(np.argmax(A[-1], axis=0) == labels))
            if i < warmup:
                continue
            timed.append(time.perf_counter() - start)
            started = start if started is None else started
            elapsed = time.perf_counter() - started
            if (len(timed) >= steps and elapsed >= min_seconds) or (len(timed) >= 3 and elapsed >= budget):
                break
    return float(np.mean(timed)), len(timed), columns


def time_validation(config, n):
    """Seconds of a validation pass over ``n`` examples, from a pass over a random sample of them."""
    if n == 0:
        return 0.0
    rng = np.random.default_rng(config.train.seed)
    sample = min(n, VALIDATION_SAMPLE)
    split = Split(rng.integers(0, 256, size=(sample, 784), dtype=np.uint8),
                  rng.integers(0, 10, size=sample).astype(np.uint8))
    network = Network.for_mnist(config.model, config.train.dtype).initialise(config.model.init, rng)
    start = time.perf_counter()
    with np.errstate(all="ignore"):
        evaluate(network, split)
    return (time.perf_counter() - start) * n / sample


def dry_run(config, data_dir=None, name=None, steps=None, warmup=None, min_seconds=None):
    """What training ``config`` would take, as a JSON-able dict; nothing is trained or written.

    data_dir: where training would look for the data (as ``bpnet train --data-dir``): reported as
    present or not, never read or downloaded.
    """
    facts = explain(config, name=name)
    t, n_val = config.train, config.data.validation
    n_train, N = facts["train_examples"], facts["N"]
    folder = resolve_data_dir(data_dir, config.data.dir, config.data.dataset)
    warmup = WARMUP if warmup is None else warmup
    step_seconds, timed, columns = time_steps(config, steps, warmup, min_seconds)
    chunks = -(-n_train // columns)                     # chunk-steps per epoch: batches, or a full batch's chunks
    train_seconds, val_seconds = step_seconds * n_train / columns, time_validation(config, n_val)
    reports = len({e for e in range(1, t.epochs + 1) if e % t.log_every == 0 or e == t.epochs})
    f = facts["flops"]
    step_flops = (f["forward_per_example"] + f["backward_per_example"]) * columns
    return {
        "config": config.to_dict(),
        "config_name": facts["config"],
        "network": facts["network"],
        "parameters": facts["parameters"],
        "dtype": t.dtype,
        "data": {"dataset": config.data.dataset, "folder": str(folder), "present": not missing_files(folder),
                 "train": n_train, "validation": n_val, "of": TRAIN_EXAMPLES},
        "batch": {"size": N, "per_epoch": facts["batches_per_epoch"],
                  "last": n_train - (facts["batches_per_epoch"] - 1) * N,
                  "chunk_columns": columns, "chunks_per_epoch": chunks},
        "flops_per_epoch": {"training": (f["forward_per_example"] + f["backward_per_example"]) * n_train,
                            "validation": f["forward_per_example"] * n_val, "convention": f["convention"]},
        "memory": memory(facts["sizes"], N, t.dtype, make_optimizer(t)),
        "estimate": {"step_seconds": step_seconds, "steps_timed": timed, "warmup_steps": warmup,
                     "gflops_per_second": step_flops / step_seconds / 1e9,
                     "training_seconds_per_epoch": train_seconds, "validation_seconds": val_seconds,
                     "validations": reports,
                     "run_seconds": t.epochs * train_seconds + reports * val_seconds,
                     "method": f"the mean of {timed:,} steps timed on random data after {warmup} warm-up steps, "
                               f"times the epoch's {chunks:,} steps of {columns:,} columns; on this machine "
                               f"at its present load"},
    }


def _seconds(s):
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s" if s < 120 else f"{s / 60:.1f} min"


def format_text(facts):
    """The facts of :func:`dry_run` as text."""
    d, b, e, fl = facts["data"], facts["batch"], facts["estimate"], facts["flops_per_epoch"]
    config = yaml.safe_dump(facts["config"], sort_keys=False).rstrip().replace("\n", "\n  ")
    where = "present" if d["present"] else "not there: training would download it"
    last = f" (the last {b['last']:,})" if b["last"] != b["size"] else ""
    chunked = f", each taken in {b['chunks_per_epoch']:,} chunks of {b['chunk_columns']:,}" \
        if b["chunk_columns"] < b["size"] else ""
    lines = [
        "Dry run: nothing is trained, written or downloaded.",
        f"config {facts['config_name']}, resolved:",
        "  " + config,
        f"network  {facts['network']}: {facts['parameters']:,} parameters, {facts['dtype']}",
        f"data     {d['dataset']} in {d['folder']} ({where})",
        f"         {d['train']:,} training examples ({d['of']:,} − {d['validation']:,} held out for validation)",
        f"epoch    {b['per_epoch']:,} batches of {b['size']:,}{last}{chunked}",
        f"FLOPs    {format_flops(fl['training'])} training + {format_flops(fl['validation'])} validation per epoch "
        f"({fl['convention']})",
        f"memory   {format_bytes(facts['memory']['bytes']['total'])} for a training step "
        f"(bpnet explain lists the parts)",
        f"time     ≈ {_seconds(e['training_seconds_per_epoch'])} training per epoch "
        f"({_seconds(e['step_seconds'])} a step, {e['gflops_per_second']:.1f} GFLOP/s) "
        f"+ {_seconds(e['validation_seconds'])} per validation pass",
        f"         ≈ {_seconds(e['run_seconds'])} for the run ({facts['config']['train']['epochs']} epochs, "
        f"{e['validations']} validation passes)",
        f"         an estimate: {e['method']}",
    ]
    return "\n".join(lines)
