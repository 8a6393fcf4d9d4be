"""What the training diagnostics cost an epoch (target: at most 3% of it), measured in one process.

Diagnostics add two things to an epoch (bpnet.train.Run.step and Run.report):
  probe     the epoch's last step copies W, runs a second backward pass into buffers of its
            own and takes the norms: timed as Run.step on the last batch index minus Run.step
            on another index, alternating, median of the paired differences;
  activity  the validation pass counts dead and saturated units (diagnostics.Activity through
            evaluate's on_chunk): evaluate with it minus evaluate without, alternating.
The epoch it is compared with is (batches per epoch) × the median plain step + the validation
pass. Timing both forms in turns in one process is far steadier on a shared VM than whole runs.

    BPNET_DATA_DIR=/work/shared/data/mnist python scripts/diagnostics_overhead.py --config mnist
"""

import argparse
import statistics
import tempfile
import time

from bpnet import config as config_module
from bpnet.diagnostics import Activity
from bpnet.evaluate import evaluate
from bpnet.train import Run, load_data_for


def paired(a, b, rounds):
    """Median seconds of a() and of b(), and the median of b − a over rounds taken in turns."""
    ta, tb = [], []
    for _ in range(rounds):
        for f, times in ((a, ta), (b, tb)):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb), statistics.median(y - x for x, y in zip(ta, tb))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="mnist", help="a shipped config's name or a YAML file")
    parser.add_argument("--steps", type=int, default=400, help="pairs of steps")
    parser.add_argument("--evals", type=int, default=20, help="pairs of validation passes")
    args = parser.parse_args()

    config = config_module.load(args.config)
    data = load_data_for(config)
    with tempfile.TemporaryDirectory() as folder:
        run = Run(config, data, folder)
        last = run.batches.count - 1
        chunks = list(run.batches.get(None, 0))           # one batch, trained on again and again
        n = run.batches.length(0)
        plain, probed, probe = paired(lambda: run.step(chunks, n, 0), lambda: run.step(chunks, n, last), args.steps)
        activity = Activity(run.network)
        val, counted, count = paired(lambda: evaluate(run.network, data.val),
                                     lambda: evaluate(run.network, data.val, on_chunk=activity.add), args.evals)
    epoch = run.batches.count * plain + val
    print(f"{config_module.config_name(args.config)}: {run.network.describe()}, {run.batches.count} steps an epoch")
    print(f"step {plain * 1e3:.3f} ms, last step with the probe {probed * 1e3:.3f} ms: +{probe * 1e3:.3f} ms")
    print(f"validation pass {val * 1e3:.2f} ms, counting units {counted * 1e3:.2f} ms: +{count * 1e3:.3f} ms")
    print(f"epoch ≈ {epoch:.3f} s; diagnostics +{(probe + count) * 1e3:.2f} ms = {(probe + count) / epoch:.3%}")


if __name__ == "__main__":
    main()
