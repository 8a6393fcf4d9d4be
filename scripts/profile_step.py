"""Where a training step's time goes: gather, forward, cost, backward, update, metrics.

Runs bpnet's own pieces (Batches, Network.forward/backward, the optimiser) on real
MNIST, exactly as bpnet.train.Run.step does, with a timer around each phase.

    python scripts/profile_step.py --hidden 800,800          # W2
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python scripts/profile_step.py --hidden 128
    python scripts/profile_step.py --hidden 800,800 --no-update   # the update's effect on the products
    python scripts/profile_step.py --hidden 800,800 --products    # the matrix products' share and GFLOP/s
"""

import argparse
import os
import time

import numpy as np

from bpnet import blas, data, train
from bpnet.config import from_dict
from bpnet.network import Network, Workspace
from bpnet.optim import make_optimizer

PHASES = ("gather", "forward", "cost", "backward", "update", "metrics")


def time_products(totals):
    """Wrap np.matmul and blas.gemm, as the network calls them, so that each product's seconds
    and FLOPs (2·m·k·n) add up in ``totals``; a product inside another (gemm's own matmul)
    counts once."""
    running = []

    def timed(function):
        def wrapper(A, B, *args, **kwargs):
            if running:
                return function(A, B, *args, **kwargs)
            running.append(True)
            start = time.perf_counter()
            try:
                return function(A, B, *args, **kwargs)
            finally:
                totals["products"] += time.perf_counter() - start
                totals["flops"] += 2 * A.size * (B.shape[1] if B.ndim == 2 else 1)
                running.pop()
        return wrapper

    np.matmul, blas.gemm = timed(np.matmul), timed(blas.gemm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="800,800", help="hidden widths, comma-separated")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--no-update", action="store_true", help="skip the optimiser step")
    parser.add_argument("--products", action="store_true",
                        help="also time every matrix product (inside forward and backward) and its GFLOP/s")
    parser.add_argument("--data-dir", default=os.environ.get("BPNET_DATA_DIR", "../shared/data/mnist"))
    args = parser.parse_args()
    if args.batch_size > train.CHUNK:
        parser.error(f"--batch-size must be at most {train.CHUNK}: this times one-chunk minibatches")

    mnist = data.load("mnist", args.data_dir, validation=5000, seed=0, download=False)
    hidden = [int(n) for n in args.hidden.split(",") if n]
    config = from_dict({"model": {"hidden": hidden}, "train": {"lr": 0.05, "optimizer": "momentum"}})
    network = Network.for_mnist(config.model).initialise("he", np.random.default_rng(0))
    optimizer, workspace, params = make_optimizer(config.train), Workspace(), network.parameters()
    batches = train.Batches(mnist.train, args.batch_size, np.float32)
    order = batches.order(np.random.default_rng(0))

    totals, products = dict.fromkeys(PHASES, 0.0), {"products": 0.0, "flops": 0}
    if args.products:
        time_products(products)
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            products.update(products=0.0, flops=0)
        marks = [time.perf_counter()]
        (A0, Y, labels), = batches.get(order, i % batches.count)          # a minibatch is one chunk
        marks.append(time.perf_counter())
        Z, A = network.forward(A0, workspace)
        marks.append(time.perf_counter())
        network.cost(Z, A, Y)
        marks.append(time.perf_counter())
        # As Run.step: backward writes into the optimiser's arrays (momentum: u ← μu + αg).
        grads, beta = optimizer.gradient_buffers(params)
        network.backward(Z, A, Y, workspace, scale=optimizer.gradient_scale,
                         out=([None, *grads[0::2]], [None, *grads[1::2]]), beta=beta)
        marks.append(time.perf_counter())
        if not args.no_update:
            optimizer.step(params, grads, accumulated=True)
        marks.append(time.perf_counter())
        int(np.count_nonzero(np.argmax(A[-1], axis=0) == labels))
        marks.append(time.perf_counter())
        if i >= args.warmup:
            for phase, start, end in zip(PHASES, marks, marks[1:]):
                totals[phase] += end - start

    step = sum(totals.values()) / args.steps
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"{network.describe()}, batch {args.batch_size}, BLAS threads {threads}: {step * 1e3:.3f} ms/step")
    for phase in PHASES:
        share = totals[phase] / args.steps
        print(f"  {phase:<9} {share * 1e3:7.3f} ms  {share / step:5.1%}")
    if args.products:
        share = products["products"] / args.steps
        gflops = products["flops"] / products["products"] / 1e9
        print(f"  of which matrix products {share * 1e3:.3f} ms  {share / step:5.1%}  ({gflops:.1f} GFLOP/s); "
              f"the rest {(step - share) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
