"""Benchmark bpnet's training against PyTorch (CPU) and scikit-learn on the same workloads.

Usage:
    python scripts/bench.py                                   # everything, threads 1 and 2, 3 repeats
    python scripts/bench.py --tiny                            # smoke test, < 60 s
    python scripts/bench.py --workloads W1,W2 --threads 1 --repeats 5 --out benchmarks/w1w2.json

Workloads (MNIST, 55,000 training examples, float32, He init, softmax + cross-entropy):
    W1   784-128-10 ReLU, SGD with momentum 0.9, lr 0.05, batch 128
    W2   784-800-800-10 ReLU, same optimiser
    W3   784-10-10 ReLU, full-batch gradient descent, lr 0.1 (seed 001): seconds per iteration
    W4   a whole `bpnet train --config fast` process: wall seconds and the test accuracy it prints
    RSS  peak RSS of a whole `bpnet train --config mnist --set train.epochs=1` process
    AUG  what augmentation on the fly costs: W2's network and loop (bpnet only) without and with
         the ``augment:`` section of configs/mnist-best.yaml (--aug-set changes it), the augmented
         batches made in bpnet's prefetch thread; the ratio of s/epoch (target <= 1.3)

Method. Every measurement runs in a fresh worker process (this script with --worker)
whose OMP/OPENBLAS/MKL_NUM_THREADS are set to the thread count under test (and
torch.set_num_threads in the torch worker), so both BLAS libraries get the same
threads. Implementations alternate (bpnet, torch, sklearn, bpnet, torch, ...) for
``--repeats`` rounds. The reported s/epoch is the median over the epochs of all
repeats, leaving out each run's first epoch as warm-up when a run has two or more.

  * bpnet goes through the product's own loop, ``bpnet.train.train``; an epoch's
    time is its EpochRecord.seconds (training only: no validation, no checkpoints).
  * torch: the same layers, kaiming_normal_(fan_in, relu) weights and zero biases,
    torch.optim.SGD(momentum=0.9) (the same rule as bpnet's Momentum: v ← μv + g,
    p ← p − αv). Images are a float32 tensor made before timing; each epoch's
    randperm and the index_select of every batch are inside the timed loop, as
    bpnet's gather is. Both loops also accumulate the training loss and accuracy.
  * sklearn: MLPClassifier(solver='sgd', momentum=0.9, nesterovs_momentum=False,
    alpha=0) on float32 data, one partial_fit per epoch (its own Glorot init).

FLOPs per epoch, counted for the matrix products only (biases and activations left out),
for layer sizes n_0, ..., n_L and N training examples:

    layer 1:  4·N·n_0·n_1        forward Z = W A (2) + weight gradient Δ Aᵀ (2);
                                 no gradient with respect to the input is needed
    layer l:  6·N·n_{l-1}·n_l    forward (2) + weight gradient (2) + Wᵀ Δ (2)

bpnet's GFLOP/s = FLOPs per epoch / s per epoch, set against the float32 GEMM peak
(best of several numpy matmuls, 2·m·n·k / s) measured in the same run with the same threads.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from importlib import metadata, util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
ALL_WORKLOADS = ("W1", "W2", "W3", "W4", "RSS", "AUG")
AUG_CONFIG = "mnist-best"          # AUG's augmentation: this shipped config's augment section, then --aug-set
N_VAL = 5000
TINY_TRAIN, TINY_VAL = 2000, 1000


@dataclass(frozen=True)
class Workload:
    """A training workload that bpnet, torch and sklearn all run (W1-W3)."""

    name: str
    hidden: tuple
    optimizer: str          # bpnet's name: momentum or sgd
    lr: float
    batch_size: object      # an integer, or "full"
    epochs: int
    sklearn: bool           # whether sklearn runs it too

    @property
    def sizes(self):
        return (784, *self.hidden, 10)

    def describe(self):
        batch = "full batch" if self.batch_size == "full" else f"batch {self.batch_size}"
        return f"{'-'.join(map(str, self.sizes))} {self.optimizer} lr {self.lr} {batch}"


WORKLOADS = {
    "W1": Workload("W1", (128,), "momentum", 0.05, 128, epochs=5, sklearn=True),
    "W2": Workload("W2", (800, 800), "momentum", 0.05, 128, epochs=3, sklearn=True),
    "W3": Workload("W3", (10,), "sgd", 0.1, "full", epochs=100, sklearn=False),
}
TINY = {
    "W1": dict(epochs=2),
    "W2": dict(hidden=(64, 64), epochs=2),
    "W3": dict(epochs=50),
}


def workload(name, tiny=False, epochs=None):
    """The workload called ``name``, shrunk for --tiny, with --epochs applied."""
    w = WORKLOADS[name]
    if tiny:
        w = replace(w, **TINY[name])
    if epochs:
        w = replace(w, epochs=epochs)
    return w


def flops_per_epoch(sizes, n):
    """Training FLOPs of one epoch over n examples (see the module docstring)."""
    total = 4 * n * sizes[0] * sizes[1]
    for n_in, n_out in zip(sizes[1:], sizes[2:]):
        total += 6 * n * n_in * n_out
    return total


def median_epoch_seconds(runs):
    """The median over the epochs of all runs, each run's first epoch left out if it has two or more."""
    timed = []
    for run in runs:
        seconds = run["epoch_seconds"]
        timed += seconds[1:] if len(seconds) >= 2 else seconds
    return statistics.median(timed) if timed else None


# ============================================================================= workers
# Each runs in its own process, started by run_worker below, and returns a dict
# that is printed as one JSON line on stdout.


def load_mnist(args):
    """MNIST as bpnet loads it (validation 5,000, seed 0); a 2,000-example subset with --tiny."""
    from bpnet.data import MNIST, Split, load

    data = load("mnist", args.data_dir, validation=N_VAL, seed=0, download=False)
    if args.tiny:
        data = MNIST(Split(data.train.images[:TINY_TRAIN], data.train.labels[:TINY_TRAIN]),
                     Split(data.val.images[:TINY_VAL], data.val.labels[:TINY_VAL]), data.test)
    return data


def bpnet_worker(w, args, augment=None):
    """Train with bpnet.train.train, the product's own loop; seconds from its EpochRecords.
    ``augment``: the config's augment section (AUG), none by default."""
    from bpnet.config import from_dict
    from bpnet.train import train

    config = from_dict({
        "augment": augment or {},
        "data": {"validation": N_VAL},
        "model": {"hidden": list(w.hidden), "activation": "relu", "output": "softmax",
                  "loss": "cross_entropy", "init": "he"},
        "train": {"epochs": w.epochs, "batch_size": w.batch_size, "lr": w.lr, "optimizer": w.optimizer,
                  "momentum": 0.9, "schedule": "constant", "seed": 0, "dtype": "float32", "log_every": 1},
    })
    data = load_mnist(args)
    with tempfile.TemporaryDirectory() as tmp:
        result = train(config, data, Path(tmp) / "run")
    return {"epoch_seconds": [r.seconds for r in result.history],
            "test_accuracy": result.test["accuracy"], "n_train": len(data.train)}


def torch_worker(w, args):
    """The same network and optimiser in PyTorch, with the data as tensors made before timing."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    from bpnet.data import scale_rows

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = load_mnist(args)
    X = torch.from_numpy(scale_rows(data.train.images))                  # (N, 784) float32
    y = torch.from_numpy(data.train.labels.astype("int64"))
    layers = []
    for n_in, n_out in zip(w.sizes, w.sizes[1:]):
        linear = nn.Linear(n_in, n_out)
        nn.init.kaiming_normal_(linear.weight, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])                                   # logits; softmax is in the loss
    momentum = 0.9 if w.optimizer == "momentum" else 0.0
    optimizer = torch.optim.SGD(model.parameters(), lr=w.lr, momentum=momentum)
    n = len(y)
    batch = n if w.batch_size == "full" else w.batch_size

    epoch_seconds = []
    for _ in range(w.epochs):
        started = time.perf_counter()
        order = torch.randperm(n) if batch < n else None
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.int64)
        for i in range(0, n, batch):
            if order is None:
                xb, yb = X, y
            else:
                idx = order[i:i + batch]
                xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(yb)
            correct += (logits.detach().argmax(1) == yb).sum()
        epoch_seconds.append(time.perf_counter() - started)

    with torch.no_grad():
        X_test = torch.from_numpy(scale_rows(data.test.images))
        predicted = model(X_test).argmax(1).numpy()
    return {"epoch_seconds": epoch_seconds, "test_accuracy": float((predicted == data.test.labels).mean()),
            "n_train": n, "train_accuracy": correct.item() / n, "torch_version": torch.__version__,
            "torch_parallel_info": torch.__config__.parallel_info()}


def sklearn_worker(w, args):
    """MLPClassifier with the same sizes and optimiser, one partial_fit per epoch."""
    import warnings

    import numpy as np
    import sklearn
    from sklearn.neural_network import MLPClassifier

    from bpnet.data import scale_rows

    data = load_mnist(args)
    X, y = scale_rows(data.train.images), data.train.labels.astype(np.int64)
    model = MLPClassifier(hidden_layer_sizes=w.hidden, activation="relu", solver="sgd", momentum=0.9,
                          nesterovs_momentum=False, learning_rate_init=w.lr, batch_size=w.batch_size,
                          max_iter=1, warm_start=True, alpha=0.0, random_state=0)
    classes = np.arange(10)
    epoch_seconds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(w.epochs):
            started = time.perf_counter()
            model.partial_fit(X, y, classes=classes)
            epoch_seconds.append(time.perf_counter() - started)
    accuracy = model.score(scale_rows(data.test.images), data.test.labels.astype(np.int64))
    return {"epoch_seconds": epoch_seconds, "test_accuracy": float(accuracy), "n_train": len(y),
            "sklearn_version": sklearn.__version__}


GEMM_SHAPES = ((2048, 2048, 2048), (1024, 1024, 1024), (800, 128, 784), (128, 784, 128))   # (m, k, n)


def gemm_gflops(m, k, n, min_seconds):
    """Best-of-several GFLOP/s of a float32 (m×k)@(k×n) numpy matmul."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    out = np.matmul(a, b)                                               # warm-up
    best, runs, started = float("inf"), 0, time.perf_counter()
    while runs < 3 or time.perf_counter() - started < min_seconds:
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t)
        runs += 1
    return 2 * m * n * k / best / 1e9


def gemm_worker(args):
    """numpy's float32 GEMM throughput on a few shapes; the best is the machine's peak."""
    min_seconds = 0.05 if args.tiny else 0.5
    shapes = [{"m": m, "k": k, "n": n, "gflops": gemm_gflops(m, k, n, min_seconds)} for m, k, n in GEMM_SHAPES]
    return {"shapes": shapes, "peak_gflops": max(s["gflops"] for s in shapes)}


def threadpools():
    """The BLAS/OpenMP pools of this process and their thread counts (needs threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    # architecture: the kernels OpenBLAS runs (OPENBLAS_CORETYPE chooses them, where it is set)
    keys = ("internal_api", "num_threads", "version", "architecture", "filepath")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def worker_main(args):
    """Run one measurement and print its result as JSON (the last line of stdout)."""
    import resource

    if args.worker == "gemm":
        result = gemm_worker(args)
    else:
        w = workload(args.workload, args.tiny, args.epochs)
        if args.worker == "bpnet-aug":
            result = bpnet_worker(w, args, augment=json.loads(args.aug_json))
        else:
            result = {"bpnet": bpnet_worker, "torch": torch_worker, "sklearn": sklearn_worker}[args.worker](w, args)
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux
    result["threadpools"] = threadpools()
    print(json.dumps(result))


# ============================================================================= the driver


def thread_env(threads):
    """This process's environment with every BLAS/OpenMP thread count set to ``threads``."""
    return {**os.environ, **{var: str(threads) for var in THREAD_VARS}}


def run_measured(cmd, env):
    """Run ``cmd``; (exit code, stdout+stderr text, wall seconds, the child's own peak RSS in MB)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)           # wait4 gives this one child's rusage
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    return proc.returncode, text, wall, usage.ru_maxrss / 1024


def run_worker(args, impl, threads, workload_name=None):
    """Run one worker process; its result dict, or {'error': ...} if it failed."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl, "--threads", str(threads),
           "--data-dir", str(args.data_dir)]
    if workload_name:
        cmd += ["--workloads", workload_name]
    if args.tiny:
        cmd.append("--tiny")
    if args.epochs:
        cmd += ["--epochs", str(args.epochs)]
    if impl == "bpnet-aug":
        cmd += ["--aug-json", json.dumps(augment_settings(args))]
    proc = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True, cwd=ROOT)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr or proc.stdout).strip()[-2000:]}
    return json.loads(lines[-1])


def bpnet_command():
    """The installed `bpnet` script beside this Python, or `python -m bpnet`."""
    script = Path(sys.executable).parent / "bpnet"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bpnet"]


def run_cli_training(args, threads, config, overrides):
    """A whole `bpnet train` process: wall seconds, peak RSS and the test accuracy it printed."""
    shown = ["train", "--config", config, "--data-dir", str(args.data_dir), "--quiet"]
    for item in overrides:
        shown += ["--set", item]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = bpnet_command() + shown + ["--out", str(Path(tmp) / "run")]
        code, text, wall, rss = run_measured(cmd, thread_env(threads))
    match = re.search(r"test accuracy (\d+(?:\.\d+)?)%", text)
    record = {"threads": threads, "command": "bpnet " + " ".join(shown) + " --out TMP", "exit_code": code}
    if code != 0 or match is None:
        return {**record, "status": "not available", "output": text.strip()[-1000:]}
    return {**record, "status": "ok", "wall_seconds": wall, "rss_mb": rss,
            "test_accuracy": float(match.group(1)) / 100}


def implementations(args, w):
    """Which implementations run workload ``w``: bpnet, then torch and sklearn when wanted and importable."""
    impls = ["bpnet"]
    if not args.no_torch and util.find_spec("torch"):
        impls.append("torch")
    if w.sklearn and not args.no_sklearn and util.find_spec("sklearn"):
        impls.append("sklearn")
    return impls


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_workload(args, name, threads):
    """All repeats of one workload at one thread count, implementations alternating; raw runs."""
    w = workload(name, args.tiny, args.epochs)
    runs = []
    for repeat in range(args.repeats):
        for impl in implementations(args, w):
            result = run_worker(args, impl, threads, name)
            runs.append({"workload": name, "impl": impl, "threads": threads, "repeat": repeat, **result})
            if "error" in result:
                log(f"  {name} {impl} threads={threads}: FAILED\n{result['error']}")
            else:
                log(f"  {name} {impl} threads={threads} repeat {repeat}: "
                    f"{median_epoch_seconds([result]):.4f} s/epoch ({len(result['epoch_seconds'])} epochs), "
                    f"test accuracy {result['test_accuracy']:.2%}")
    return runs


def augment_settings(args):
    """AUG's augment section: mnist-best's with --aug-set applied (numbers, parsed as YAML)."""
    import yaml

    from bpnet.config import load

    settings = load(AUG_CONFIG).to_dict()["augment"]
    for item in args.aug_set:
        key, _, value = item.partition("=")
        settings[key.strip()] = yaml.safe_load(value)
    return settings


def run_augmentation(args, threads):
    """AUG: W2 without and with augmentation, alternating for --repeats rounds; a record per round."""
    records = []
    for repeat in range(args.repeats):
        pair = {impl: run_worker(args, impl, threads, "W2") for impl in ("bpnet", "bpnet-aug")}
        failed = [r["error"] for r in pair.values() if "error" in r]
        if failed:
            log(f"  AUG threads={threads}: FAILED\n{failed[0]}")
            records.append({"threads": threads, "repeat": repeat, "error": failed[0]})
            continue
        plain, augmented = (median_epoch_seconds([pair[i]]) for i in ("bpnet", "bpnet-aug"))
        record = {"threads": threads, "repeat": repeat, "plain_seconds": plain, "augmented_seconds": augmented,
                  "ratio": augmented / plain, "epochs": len(pair["bpnet"]["epoch_seconds"]),
                  "test_accuracy": {"plain": pair["bpnet"]["test_accuracy"],
                                    "augmented": pair["bpnet-aug"]["test_accuracy"]},
                  "loadavg": os.getloadavg()}
        log(f"  AUG threads={threads} repeat {repeat}: {plain:.3f} s/epoch plain, {augmented:.3f} augmented, "
            f"ratio {record['ratio']:.2f} (load {record['loadavg'][0]:.1f})")
        records.append(record)
    return records


def round_ratios(runs, name, threads):
    """bpnet/torch within each round of alternation (runs minutes apart see different machine
    speeds; the spread of these shows how much of a ratio is noise)."""
    ratios = []
    for repeat in sorted({r["repeat"] for r in runs}):
        pair = {r["impl"]: r for r in runs if (r["workload"], r["threads"], r["repeat"]) == (name, threads, repeat)
                and "error" not in r}
        if "bpnet" in pair and "torch" in pair:
            ratios.append(median_epoch_seconds([pair["bpnet"]]) / median_epoch_seconds([pair["torch"]]))
    return ratios


def summarise(runs, gemm, args):
    """One summary row per (workload, threads): medians, ratio, GFLOP/s against the GEMM peak."""
    rows = []
    for name, threads in dict.fromkeys((r["workload"], r["threads"]) for r in runs):
        w = workload(name, args.tiny, args.epochs)
        row = {"workload": name, "threads": threads, "description": w.describe()}
        for impl in ("bpnet", "torch", "sklearn"):
            mine = [r for r in runs if (r["workload"], r["threads"], r["impl"]) == (name, threads, impl)
                    and "error" not in r]
            row[impl] = None if not mine else {
                "seconds_per_epoch": median_epoch_seconds(mine),
                "test_accuracy": [r["test_accuracy"] for r in mine],
                "rss_mb": max(r["rss_mb"] for r in mine),
                "n_train": mine[0]["n_train"],
            }
        bp, th = row["bpnet"], row["torch"]
        row["ratio_bpnet_torch"] = bp["seconds_per_epoch"] / th["seconds_per_epoch"] if bp and th else None
        row["ratio_per_round"] = round_ratios(runs, name, threads)
        if bp:
            peak = gemm.get(threads, {}).get("peak_gflops")
            row["flops_per_epoch"] = flops_per_epoch(w.sizes, bp["n_train"])
            row["bpnet_gflops"] = row["flops_per_epoch"] / bp["seconds_per_epoch"] / 1e9
            row["peak_gflops"] = peak
            row["fraction_of_peak"] = row["bpnet_gflops"] / peak if peak else None
        rows.append(row)
    return rows


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform says."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def machine_info():
    """CPU, cores, library versions and numpy's BLAS configuration."""
    import numpy as np

    versions = {}
    for package in ("numpy", "torch", "scikit-learn", "bpnet"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas")
    except TypeError:                                  # numpy < 1.25 has no mode=
        blas = None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "platform": platform.platform(), "python": platform.python_version(), "versions": versions,
            "numpy_blas": blas, "loadavg_at_start": os.getloadavg(),
            "openblas_environment": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}}


# ----------------------------------------------------------------------------- the report

def fmt(value, spec):
    return "–" if value is None else format(value, spec)


def seconds(value):
    return fmt(value, ".4f" if value is not None and value < 1 else ".3f")


def spread(row):
    """' (0.62–0.71)': the lowest and highest per-round ratio, when there are several rounds."""
    ratios = row.get("ratio_per_round") or []
    return f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""


def markdown(report):
    """The report as Markdown tables."""
    lines = ["| workload | threads | bpnet s/epoch | torch s/epoch | bpnet/torch (per round) | sklearn s/epoch "
             "| bpnet GFLOP/s | GEMM peak GFLOP/s | of peak | test acc % bpnet/torch/sklearn "
             "| peak RSS MB bpnet/torch/sklearn |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["summary"]:
        impls = [row[i] for i in ("bpnet", "torch", "sklearn")]
        acc = " / ".join("–" if s is None else fmt(100 * statistics.median(s["test_accuracy"]), ".2f") for s in impls)
        rss = " / ".join("–" if s is None else fmt(s["rss_mb"], ".0f") for s in impls)
        per_epoch = [None if s is None else s["seconds_per_epoch"] for s in impls]
        lines.append(f"| {row['workload']} {row['description']} | {row['threads']} | {seconds(per_epoch[0])} "
                     f"| {seconds(per_epoch[1])} | {fmt(row['ratio_bpnet_torch'], '.2f')}{spread(row)} "
                     f"| {seconds(per_epoch[2])} "
                     f"| {fmt(row.get('bpnet_gflops'), '.1f')} | {fmt(row.get('peak_gflops'), '.1f')} "
                     f"| {fmt(row.get('fraction_of_peak'), '.0%')} | {acc} | {rss} |")
    if report["w4"]:
        lines += ["", "| W4 time to 98% | threads | wall s (median) | test accuracy % | peak RSS MB |",
                  "|---|---|---|---|---|"]
        for threads in dict.fromkeys(r["threads"] for r in report["w4"]):
            ok = [r for r in report["w4"] if r["threads"] == threads and r["status"] == "ok"]
            if not ok:
                lines.append(f"| `{report['w4'][0]['command']}` | {threads} | not available | – | – |")
                continue
            lines.append(f"| `{ok[0]['command']}` | {threads} "
                         f"| {statistics.median(r['wall_seconds'] for r in ok):.2f} "
                         f"| {' / '.join(fmt(100 * r['test_accuracy'], '.2f') for r in ok)} "
                         f"| {max(r['rss_mb'] for r in ok):.0f} |")
    if report.get("augmentation"):
        w2 = workload("W2", report["settings"]["tiny"], report["settings"]["epochs"])
        lines += ["", f"| AUG {w2.describe()}, augment {report['settings']['augment']} | threads "
                      "| plain s/epoch | augmented s/epoch | ratio median (per round) |", "|---|---|---|---|---|"]
        for threads in dict.fromkeys(r["threads"] for r in report["augmentation"]):
            ok = [r for r in report["augmentation"] if r["threads"] == threads and "error" not in r]
            if not ok:
                lines.append(f"| | {threads} | not available | – | – |")
                continue
            ratios = [r["ratio"] for r in ok]
            lines.append(f"| | {threads} | {statistics.median(r['plain_seconds'] for r in ok):.3f} "
                         f"| {statistics.median(r['augmented_seconds'] for r in ok):.3f} "
                         f"| {statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)}) |")
    rss = report["rss_default_config"]
    if rss:
        value = f"{rss['rss_mb']:.0f} MB" if rss["status"] == "ok" else "not available"
        lines += ["", f"Peak RSS of training the default config (`{rss['command']}`, threads {rss['threads']}): "
                      f"{value}"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS), help="comma-separated: W1,W2,W3,W4,RSS,AUG")
    p.add_argument("--threads", default=None, help="comma-separated thread counts (default 1,2; --tiny: 1)")
    p.add_argument("--repeats", type=int, default=None, help="rounds of alternating runs (default 3; --tiny: 1)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of every W1-W3 run (default per workload)")
    p.add_argument("--data-dir", default=None,
                   help="MNIST .gz folder (default $BPNET_DATA_DIR or ../shared/data/mnist)")
    p.add_argument("--tiny", action="store_true", help="smoke mode: 2,000 examples, small W2, few epochs")
    p.add_argument("--out", default=None, help="JSON results (default benchmarks/<tiny|bench>-<time>.json)")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch")
    p.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    p.add_argument("--w4-config", default="fast", help="the config W4 trains (default fast)")
    p.add_argument("--w4-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra --set for W4 (--tiny adds train.epochs=1)")
    p.add_argument("--aug-set", action="append", default=[], metavar="KEY=VALUE",
                   help=f"AUG's augmentation, changed from {AUG_CONFIG}'s, e.g. --aug-set elastic_alpha=34 "
                        "--aug-set elastic_sigma=4")
    p.add_argument("--worker", choices=["bpnet", "bpnet-aug", "torch", "sklearn", "gemm"], help=argparse.SUPPRESS)
    p.add_argument("--aug-json", default="{}", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.data_dir = Path(args.data_dir or os.environ.get("BPNET_DATA_DIR") or ROOT.parent / "shared/data/mnist")
    args.threads = [int(t) for t in (args.threads or ("1" if args.tiny else "1,2")).split(",")]
    args.repeats = args.repeats or (1 if args.tiny else 3)
    args.workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(ALL_WORKLOADS)
    if unknown:
        p.error(f"unknown workloads {', '.join(sorted(unknown))}; choose from {', '.join(ALL_WORKLOADS)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        args.threads, args.workload = args.threads[0], args.workloads[0]
        return worker_main(args)

    stamp = datetime.now(timezone.utc)
    out = Path(args.out or ROOT / "benchmarks" / f"{'tiny' if args.tiny else 'bench'}-{stamp:%Y%m%d-%H%M%S}.json")
    report = {"timestamp": stamp.isoformat(timespec="seconds"), "argv": sys.argv[1:],
              "settings": {"workloads": args.workloads, "threads": args.threads, "repeats": args.repeats,
                           "epochs": args.epochs, "tiny": args.tiny, "data_dir": str(args.data_dir),
                           "augment": augment_settings(args),
                           "workload_definitions": {n: asdict(workload(n, args.tiny, args.epochs))
                                                    for n in WORKLOADS}},
              "machine": machine_info(), "gemm": {}, "runs": [], "w4": [], "rss_default_config": None,
              "augmentation": []}
    if report["machine"]["loadavg_at_start"][0] > 0.5:
        log(f"note: load average {report['machine']['loadavg_at_start'][0]:.1f}: other processes are running, "
            "timings will be noisy")
    w4_overrides = args.w4_set + (["train.epochs=1"] if args.tiny else [])

    for threads in args.threads:
        log(f"threads {threads}: GEMM peak")
        report["gemm"][threads] = run_worker(args, "gemm", threads)
        for name in args.workloads:
            if name in WORKLOADS:
                report["runs"] += run_workload(args, name, threads)
            elif name == "W4":
                for _ in range(args.repeats):
                    record = run_cli_training(args, threads, args.w4_config, w4_overrides)
                    log(f"  W4 threads={threads}: {record['status']}"
                        + (f", {record['wall_seconds']:.2f} s" if record["status"] == "ok" else ""))
                    report["w4"].append(record)
            elif name == "AUG":
                report["augmentation"] += run_augmentation(args, threads)
    if "RSS" in args.workloads:
        report["rss_default_config"] = run_cli_training(args, max(args.threads), "mnist", ["train.epochs=1"])

    report["machine"]["loadavg_at_end"] = os.getloadavg()
    report["summary"] = summarise(report["runs"], report["gemm"], args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
