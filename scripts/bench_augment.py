"""What augmentation costs: per batch, and per epoch of training with the batches made in a background thread.

    python scripts/bench_augment.py                       # all parts, BLAS threads 1 and 2 (subprocesses)
    python scripts/bench_augment.py --threads 1 --batches 100 --repeats 3

Part 1 times one batch of 128 (median of --reps) at the first of --threads: gather + scale (no
augmentation, as bpnet.train.Batches), then gather + augment with affine maps only, elastic
only, and both, the parts of augmenting both, and scipy's map_coordinates on the same points
(what the sampling was before). Part 3, with part 1: two threads each make --gil-batches batches
at once, timed against the same batches made one after the other: a ratio near 1 means the GIL
serialises them, or that there is no free core (compare with np.sin, which releases it), 0.5 is
perfect overlap on two free cores; and, which load cannot blur, how fast another Python thread
runs during one long call of each (near 0 if the call holds the GIL, as the control).
Part 2 trains a 784-800-800-10 network (forward, backward and momentum update, as
bpnet.train.Run.step) for --batches batches, (a) made inline without augmentation, (b) made with
augmentation by a Prefetcher of depth 2 and (c) made inline with augmentation, in turn --repeats
times, and prints the median ratio of (b)'s time to (a)'s (target: at most 1.3), and of (c)'s.
Other processes on the machine slow them unevenly, and (b) most, whose thread needs the second
core: read the spread.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else sum(values[len(values) // 2 - 1:][:2]) / 2


def load_rows(data_dir):
    """The training rows and labels of MNIST (55,000 after validation), or synthetic ones if absent."""
    import numpy as np

    from bpnet import data
    try:
        mnist = data.load("mnist", data_dir, validation=5000, seed=0, download=False)
        return mnist.train.images, mnist.train.labels, "MNIST"
    except Exception:                                  # noqa: BLE001 -- any reason: use synthetic digits
        rng = np.random.default_rng(0)
        images = np.zeros((55000, 28, 28), np.uint8)
        images[:, 4:24, 8:20] = rng.integers(0, 256, (55000, 20, 12), dtype=np.uint8)
        return images.reshape(55000, 784), rng.integers(0, 10, 55000).astype(np.uint8), "synthetic"


def per_batch(args, rows):
    """Part 1: ms per batch of args.batch_size for each way of making it."""
    import numpy as np

    from bpnet.augment import AugmentConfig, Augmenter, ink_boxes
    from bpnet.data import scale_rows
    from bpnet.prefetch import batch_rng

    B = args.batch_size
    order = np.random.default_rng(0).permutation(len(rows))
    raw = np.empty((B, 784), np.uint8)
    out = np.empty((B, 784), np.float32)
    affine = dict(shift=2, rotate=15, scale=0.1, shear=10)
    elastic = dict(elastic_alpha=34, elastic_sigma=6)
    augmenters = {"affine only": Augmenter(AugmentConfig(**affine), B),
                  "elastic only": Augmenter(AugmentConfig(**elastic), B),
                  "affine + elastic": Augmenter(AugmentConfig(**affine, **elastic), B)}

    def timed(function):
        seconds = []
        for k in range(args.reps + 5):
            idx = order[(k * B) % (len(rows) - B):][:B]
            start = time.perf_counter()
            function(idx, k)
            seconds.append(time.perf_counter() - start)
        return median(seconds[5:]) * 1e3

    results = {"gather + scale (no augmentation)":
               timed(lambda idx, k: scale_rows(np.take(rows, idx, axis=0, out=raw, mode="clip"), out=out))}
    for name, augmenter in augmenters.items():
        results[f"gather + {name}"] = timed(lambda idx, k, a=augmenter: a(
            np.take(rows, idx, axis=0, out=raw, mode="clip"), batch_rng(0, 0, k), out))
    both = augmenters["affine + elastic"]
    images = raw.reshape(B, 28, 28)
    warp = both.draw(images, np.random.default_rng(0))
    results["  of which: batch_rng"] = timed(lambda idx, k: batch_rng(0, 0, k))
    results["  of which: draw (affine + elastic field)"] = timed(lambda idx, k: both.draw(images, batch_rng(0, 0, k)))
    results["  of which: elastic field alone"] = timed(lambda idx, k: both.elastic_field(batch_rng(0, 0, k), B))
    results["  of which: ink boxes"] = timed(lambda idx, k: ink_boxes(images))
    results["  of which: apply (tiles + grid + bilinear)"] = timed(lambda idx, k: both.apply(raw, warp, out))
    results["  of which: sampling grid"] = timed(lambda idx, k: both.grid(warp, B))
    sampler = Sampler(both, raw, warp, out)
    results["  of which: bilinear sampling alone"] = timed(lambda idx, k: sampler.bilinear())
    results["  for comparison: map_coordinates, same points"] = timed(lambda idx, k: sampler.map_coordinates())
    return results


class Sampler:
    """The bilinear sampling of one batch, by bpnet.augment.bilinear or by scipy's map_coordinates
    (order=1, as bpnet.augment used it before), on the same points of the same tiled batch."""

    def __init__(self, augmenter, raw, warp, out):
        import numpy as np

        from bpnet.augment import TILE
        n = len(raw)
        self.augmenter, self.n, self.out = augmenter, n, out.reshape(n, 28, 28)
        self.flat = augmenter._tiles(raw.reshape(n, 28, 28)).copy()
        self.coords = augmenter.grid(warp, n).copy()                                # within each tile
        self.work = self.coords.copy()
        self.global_coords = self.coords.astype(float)                              # within the tiled image
        self.global_coords[0] += (np.arange(n) * TILE)[:, None, None]
        self.image = self.flat[:n * TILE * TILE].reshape(n * TILE, TILE)

    def bilinear(self):
        import numpy as np

        from bpnet.augment import bilinear
        a, n = self.augmenter, self.n
        np.copyto(self.work, self.coords)                          # bilinear overwrites its coordinates
        return bilinear(self.flat, self.work, self.out, a.whole[:, :n], a.index[:n], a.tile_starts[:n], a.taps[:2, :n])

    def map_coordinates(self):
        from scipy import ndimage
        return ndimage.map_coordinates(self.image, self.global_coords, output=self.out, order=1, mode="nearest")


def during_one_call(rows, n=2048):
    """A direct test of the GIL, which the load cannot blur: the loop iterations per ms a
    pure-Python thread makes during one long call (n images, longer than the 5 ms switch
    interval). Near 0 if the call holds the GIL, as the control ``sum(range(...))`` does."""
    import threading

    import numpy as np

    from bpnet.augment import AugmentConfig, Augmenter
    raw, out = np.ascontiguousarray(rows[:n]), np.empty((n, 784), np.float32)
    augmenter = Augmenter(AugmentConfig(shift=2, rotate=15, scale=0.1, shear=10, elastic_alpha=34), n)
    sampler = Sampler(augmenter, raw, augmenter.draw(raw.reshape(n, 28, 28), np.random.default_rng(0)), out)
    x = out.ravel()
    calls = {f"bilinear sampling, {n} images": sampler.bilinear,
             f"map_coordinates, {n} images": sampler.map_coordinates,
             "np.sin of 1.6 M floats x 8": lambda: [np.sin(x, out=x) for _ in range(8)],
             "control: sum(range(2e7)), holds it": lambda: sum(range(20_000_000))}
    count, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    time.sleep(0.05)
    rates = {}
    for name, call in calls.items():
        n0, start = count[0], time.perf_counter()
        call()
        seconds = time.perf_counter() - start
        rates[name] = ((count[0] - n0) / (seconds * 1e3), seconds * 1e3)
    stop.set()
    thread.join()
    return rates


def threads_overlap(args, rows):
    """Part 3: does the work release the GIL? Wall time of 2 × --gil-batches batches made by two
    threads at once over that of the same batches made one after the other in this thread: 0.5
    if they overlap perfectly (two free cores), 1.0 if they are serialised (the GIL held). On a
    busy machine the second core is not free: compare with the reference, a ufunc that releases it."""
    import threading

    import numpy as np

    from bpnet.augment import AugmentConfig, Augmenter
    from bpnet.prefetch import batch_rng

    B, k = args.batch_size, args.gil_batches
    config = AugmentConfig(shift=2, rotate=15, scale=0.1, shear=10, elastic_alpha=34, elastic_sigma=6)
    workers = []
    for w in range(2):
        raw = np.ascontiguousarray(rows[w * B:(w + 1) * B])
        out = np.empty((B, 784), np.float32)
        augmenter = Augmenter(config, B)
        sampler = Sampler(augmenter, raw, augmenter.draw(raw.reshape(B, 28, 28), np.random.default_rng(w)), out)
        workers.append({"augmenter call (draw + apply)":
                        lambda i, a=augmenter, r=raw, o=out: a(r, batch_rng(0, 0, i), o),
                        "bilinear sampling alone": lambda i, s=sampler: s.bilinear(),
                        "map_coordinates alone (before)": lambda i, s=sampler: s.map_coordinates(),
                        "reference: np.sin, releases the GIL": lambda i, x=out: [np.sin(x, out=x) for _ in range(8)]})

    def run(work):
        for i in range(k):
            work(i)

    results = {"during one call": during_one_call(rows)}
    for name in workers[0]:
        ratios = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            run(workers[0][name])
            run(workers[1][name])
            serial = time.perf_counter() - start
            threads = [threading.Thread(target=run, args=(workers[w][name],)) for w in range(2)]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            ratios.append((time.perf_counter() - start) / serial)
        results[name] = {"ratios": ratios, "median": median(ratios), "serial ms per batch": serial / (2 * k) * 1e3}
    return results


def epoch_overlap(args, rows, labels):
    """Part 2: seconds for args.batches training steps, (a) inline without augmentation, (b) prefetched with it."""
    import numpy as np

    from bpnet.augment import AugmentConfig, Augmenter
    from bpnet.config import from_dict
    from bpnet.dryrun import step as train_step
    from bpnet.data import one_hot, scale_rows
    from bpnet.network import Network, Workspace
    from bpnet.optim import make_optimizer
    from bpnet.prefetch import Prefetcher, batch_rng

    B, count = args.batch_size, args.batches
    config = from_dict({"model": {"hidden": [800, 800]}, "train": {"lr": 0.05, "optimizer": "momentum"}})
    network = Network.for_mnist(config.model).initialise("he", np.random.default_rng(0))
    optimizer, workspace, params = make_optimizer(config.train), Workspace(), network.parameters()
    order = np.random.default_rng(0).permutation(len(rows))

    def step(A0, Y):
        train_step(network, optimizer, params, workspace, A0, Y)

    class Maker:
        """Batch i into buffers ``slot``: (A⁰ (784, B), Y (10, B)), augmented or not."""

        def __init__(self, slots, augment):
            self.raw = np.empty((slots, B, 784), np.uint8)
            self.rows = np.empty((slots, B, 784), np.float32)
            self.Y = np.zeros((slots, 10, B), np.float32, order="C")
            self.augmenter = Augmenter(AugmentConfig(shift=2, rotate=15, scale=0.1, shear=10,
                                                     elastic_alpha=34, elastic_sigma=6), B) if augment else None

        def __call__(self, i, slot):
            idx = order[(i * B) % (len(rows) - B):][:B]
            raw = np.take(rows, idx, axis=0, out=self.raw[slot], mode="clip")
            if self.augmenter is None:
                scale_rows(raw, out=self.rows[slot])
            else:
                self.augmenter(raw, batch_rng(0, 0, i), self.rows[slot])
            return self.rows[slot].T, one_hot(labels[idx], out=self.Y[slot])

    plain, augmented = Maker(1, augment=False), Maker(1, augment=True)

    def run_inline(maker=plain):
        start = time.perf_counter()
        for i in range(count):
            step(*maker(i, 0))
        return time.perf_counter() - start

    def run_prefetched():
        maker = Maker(args.depth + 2, augment=True)
        start = time.perf_counter()
        with Prefetcher(maker, count, depth=args.depth) as batches:
            for A0, Y in batches:
                step(A0, Y)
        return time.perf_counter() - start

    run_inline()                      # warm up: workspace, page faults, BLAS threads
    a, b, c = [], [], []
    for _ in range(args.repeats):
        a.append(run_inline())
        b.append(run_prefetched())
        c.append(run_inline(augmented))
    ratios, inline_ratios = [y / x for x, y in zip(a, b)], [z / x for x, z in zip(a, c)]
    return {"inline, no augmentation (s)": a, "prefetched, augmented (s)": b, "inline, augmented (s)": c,
            "ratios": ratios, "median ratio": median(ratios), "inline ratios": inline_ratios,
            "median inline ratio": median(inline_ratios), "ms per step (a)": median(a) / count * 1e3,
            "ms per step (b)": median(b) / count * 1e3, "ms per step (c)": median(c) / count * 1e3}


def child(args):
    rows, labels, source = load_rows(args.data_dir)
    result = {"threads": os.environ.get("OPENBLAS_NUM_THREADS"), "data": source}
    if not args.no_batch:
        result["per batch (ms)"] = per_batch(args, rows)
        result["two threads"] = threads_overlap(args, rows)
    result["overlap"] = epoch_overlap(args, rows, labels)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="BLAS thread counts to run, comma-separated")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=200, help="training steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each kind (alternating)")
    parser.add_argument("--reps", type=int, default=100, help="repetitions of each per-batch timing")
    parser.add_argument("--gil-batches", type=int, default=100, help="batches per thread in part 3")
    parser.add_argument("--depth", type=int, default=2, help="the Prefetcher's queue depth")
    parser.add_argument("--no-batch", action="store_true", help="skip part 1")
    parser.add_argument("--data-dir", default=os.environ.get("BPNET_DATA_DIR", "../shared/data/mnist"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    per_epoch = -(-55000 // args.batch_size)
    for n, threads in enumerate(args.threads.split(",")):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        argv = [sys.executable, __file__, "--child", *sys.argv[1:]] + (["--no-batch"] if n else [])
        result = json.loads(subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout)
        print(f"== BLAS threads {threads}, {result['data']} data, batch {args.batch_size}")
        for name, ms in result.get("per batch (ms)", {}).items():
            print(f"  {name:<50} {ms:7.3f} ms/batch  {ms * per_epoch / 1e3:6.2f} s per epoch of 55,000")
        for name, (rate, ms) in result.get("two threads", {}).pop("during one call", {}).items():
            print(f"  another thread's Python loop iterations per ms during one call of {name:<35} {rate:7.0f}"
                  f" ({ms:.0f} ms)")
        for name, r in result.get("two threads", {}).items():
            print(f"  two threads at once / one after the other, {name:<31} median {r['median']:.2f} of "
                  f"{', '.join(f'{x:.2f}' for x in r['ratios'])} ({r['serial ms per batch']:.2f} ms/batch alone)")
        o = result["overlap"]
        print(f"  training {args.batches} steps of 784-800-800-10: (a) inline, no augmentation "
              f"{o['ms per step (a)']:.2f} ms/step; (b) prefetched (depth {args.depth}), augmented "
              f"{o['ms per step (b)']:.2f} ms/step")
        print(f"  ratio (b)/(a): median {o['median ratio']:.3f} of {', '.join(f'{r:.3f}' for r in o['ratios'])}")
        print(f"  for comparison (c) inline, augmented {o['ms per step (c)']:.2f} ms/step, (c)/(a): median "
              f"{o['median inline ratio']:.3f} of {', '.join(f'{r:.3f}' for r in o['inline ratios'])}")


if __name__ == "__main__":
    main()
