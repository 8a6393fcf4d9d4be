"""Where a training step's time goes: gather, forward, cost, backward, update, metrics.

Runs bpnet's own pieces (Batches, Network.forward/backward, the optimiser) on real
MNIST, exactly as bpnet.train.Run.step does, with a timer around each phase.

    python scripts/profile_step.py --hidden 800,800          # W2
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python scripts/profile_step.py --hidden 128
    python scripts/profile_step.py --hidden 800,800 --no-update   # the update's effect on the products
    python scripts/profile_step.py --hidden 800,800 --products    # the matrix products' share and GFLOP/s
    python scripts/profile_step.py --hidden 800,800 --bare        # those products alone: the step's ceiling
"""

import argparse
import os
import time

import numpy as np
from bench import gemm_worker

from bpnet import blas, data
from bpnet.batches import CHUNK, Batches
from bpnet.config import from_dict
from bpnet.network import Network, Workspace
from bpnet.optim import make_optimizer

PHASES = ("gather", "forward", "cost", "backward", "update", "metrics")


def product_flops(A, B):
    """2·m·k·n for A (m, k) times B (k, n), or a vector B (k,)."""
    return 2 * A.size * (B.shape[1] if B.ndim == 2 else 1)


def time_products(totals, calls):
    """Wrap np.matmul and blas.gemm, as the network calls them, so that each product's seconds
    and FLOPs (2·m·k·n) add up in ``totals`` and the call itself is appended to ``calls``;
    a product inside another (gemm's own matmul) counts once."""
    running = []

    def timed(function):
        def wrapper(A, B, *args, **kwargs):
            if running:
                return function(A, B, *args, **kwargs)
            running.append(True)
            calls.append((function, A, B, args, kwargs))
            start = time.perf_counter()
            try:
                return function(A, B, *args, **kwargs)
            finally:
                totals["products"] += time.perf_counter() - start
                totals["flops"] += product_flops(A, B)
                running.pop()
        return wrapper

    originals = np.matmul, blas.gemm
    np.matmul, blas.gemm = timed(np.matmul), timed(blas.gemm)

    def unwrap():
        np.matmul, blas.gemm = originals
    return unwrap


def time_bare(calls, steps):
    """The products of one step replayed back to back, on the same arrays, ``steps`` times:
    nothing else runs between them. The median ms per step and the GFLOP/s it gives."""
    flops = sum(product_flops(A, B) for _, A, B, _, _ in calls)
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        for function, A, B, args, kwargs in calls:
            function(A, B, *args, **kwargs)
        seconds.append(time.perf_counter() - start)
    median = float(np.median(seconds))
    return median * 1e3, flops / median / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="800,800", help="hidden widths, comma-separated")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--no-update", action="store_true", help="skip the optimiser step")
    parser.add_argument("--products", action="store_true",
                        help="also time every matrix product (inside forward and backward) and its GFLOP/s")
    parser.add_argument("--bare", action="store_true",
                        help="then replay one step's products alone, back to back, and set their GFLOP/s "
                             "against the GEMM peak as scripts/bench.py measures it")
    parser.add_argument("--data-dir", default=os.environ.get("BPNET_DATA_DIR", "../shared/data/mnist"))
    args = parser.parse_args()
    if args.batch_size > CHUNK:
        parser.error(f"--batch-size must be at most {CHUNK}: this times one-chunk minibatches")

    mnist = data.load("mnist", args.data_dir, validation=5000, seed=0, download=False)
    hidden = [int(n) for n in args.hidden.split(",") if n]
    config = from_dict({"model": {"hidden": hidden}, "train": {"lr": 0.05, "optimizer": "momentum"}})
    network = Network.for_mnist(config.model).initialise("he", np.random.default_rng(0))
    optimizer, workspace, params = make_optimizer(config.train), Workspace(), network.parameters()
    batches = Batches(mnist.train, args.batch_size, np.float32)
    order = batches.order(np.random.default_rng(0))

    totals, products, calls = dict.fromkeys(PHASES, 0.0), {"products": 0.0, "flops": 0}, []
    unwrap = time_products(products, calls) if args.products or args.bare else None
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            products.update(products=0.0, flops=0)
        calls.clear()
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
    if args.products or args.bare:
        share = products["products"] / args.steps
        gflops = products["flops"] / products["products"] / 1e9
        print(f"  of which matrix products {share * 1e3:.3f} ms  {share / step:5.1%}  ({gflops:.1f} GFLOP/s); "
              f"the rest {(step - share) * 1e3:.3f} ms")
    if args.bare:
        unwrap()
        bare_ms, bare_gflops = time_bare(calls, args.steps)
        flops = products["flops"] / args.steps
        peak = gemm_worker(argparse.Namespace(tiny=args.steps < 50))["peak_gflops"]
        print(f"  the same {len(calls)} products alone, back to back: {bare_ms:.3f} ms/step median "
              f"({bare_gflops:.1f} GFLOP/s)")
        print(f"  GEMM peak {peak:.1f} GFLOP/s: the whole step at {flops / step / 1e9 / peak:.0%} of it, "
              f"the products alone at {bare_gflops / peak:.0%}")


if __name__ == "__main__":
    main()
