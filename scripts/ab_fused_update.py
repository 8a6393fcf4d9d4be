"""Before and after: momentum's update fused into the weight gradient's product, or not.

Alternates blocks of training steps on real MNIST between the two forms and reports the
median step time of each and the median of the paired differences (a block of one form
and the block next to it in time), which is steadier than either median on a noisy VM.

  fused    as bpnet.train.Run.step: backward writes μu + αg into the velocities u
           (bpnet.blas.gemm, β = μ), the optimiser does W ← W − u
  unfused  backward writes αg into scratch arrays, the optimiser does u ← μu + αg, W ← W − u

    OPENBLAS_NUM_THREADS=1 python scripts/ab_fused_update.py --hidden 800,800     # W2
"""

import argparse
import os
import time

import numpy as np

from bpnet import data
from bpnet.batches import Batches
from bpnet.config import from_dict
from bpnet.network import Network, Workspace
from bpnet.optim import make_optimizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="800,800", help="hidden widths, comma-separated")
    parser.add_argument("--blocks", type=int, default=60, help="blocks of each form")
    parser.add_argument("--steps", type=int, default=25, help="steps per block")
    parser.add_argument("--data-dir", default=os.environ.get("BPNET_DATA_DIR", "../shared/data/mnist"))
    args = parser.parse_args()

    mnist = data.load("mnist", args.data_dir, validation=5000, seed=0, download=False)
    hidden = [int(n) for n in args.hidden.split(",") if n]
    config = from_dict({"model": {"hidden": hidden}, "train": {"lr": 0.05, "optimizer": "momentum"}})
    network = Network.for_mnist(config.model).initialise("he", np.random.default_rng(0))
    optimizer, workspace, params = make_optimizer(config.train), Workspace(), network.parameters()
    batches = Batches(mnist.train, 128, np.float32)
    order = batches.order(np.random.default_rng(0))

    def step(i, fused):
        (A0, Y, _), = batches.get(order, i % batches.count)
        Z, A = network.forward(A0, workspace)
        if fused:
            grads, beta = optimizer.gradient_buffers(params)
            network.backward(Z, A, Y, workspace, scale=optimizer.gradient_scale,
                             out=([None, *grads[0::2]], [None, *grads[1::2]]), beta=beta)
            optimizer.step(params, grads, accumulated=True)
        else:
            dW, db = network.backward(Z, A, Y, workspace, scale=optimizer.gradient_scale)
            optimizer.step(params, [g for l in range(1, network.L + 1) for g in (dW[l], db[l])], scaled=True)

    for i in range(20):                                            # warm up both
        step(i, False), step(i, True)
    times = {False: [], True: []}
    for block in range(args.blocks):
        for fused in ((False, True) if block % 2 else (True, False)):
            start = time.perf_counter()
            for i in range(args.steps):
                step(i, fused)
            times[fused].append((time.perf_counter() - start) / args.steps * 1e3)
    diff = np.array(times[True]) - np.array(times[False])
    q1, q3 = np.percentile(diff, [25, 75])
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"{network.describe()}, batch 128, BLAS threads {threads}, {args.blocks} blocks of {args.steps} steps each")
    print(f"  unfused {np.median(times[False]):.2f} ms/step, fused {np.median(times[True]):.2f} ms/step (medians)")
    print(f"  fused − unfused, paired: median {np.median(diff):+.3f} ms, quartiles {q1:+.3f} .. {q3:+.3f} ms")


if __name__ == "__main__":
    main()
