"""Produce the next batches in a background thread while the network trains on this one.

numpy's BLAS, ufuncs and ``take`` release the GIL, so gathering and augmenting batch i+1 (see
bpnet.augment) overlaps the matrix products of batch i.

Exact resume: a batch's random numbers come from its own generator, :func:`batch_rng`, keyed by
(seed, epoch, batch index, stream), never from a stream shared across batches. What batch i
is therefore does not depend on how far the producer ran ahead, on the queue's depth, or on
whether the epoch was cut by a checkpoint and resumed at batch i.

Key layout (the one place it is written down), ``np.random.default_rng([seed, epoch, index, stream])``:

    seed    train.seed, an integer >= 0
    epoch   the epochs done before this one (0 for the first epoch)
    index   the batch's index within the epoch, from 0
    stream  AUGMENT (0): the batch's augmentation; DROPOUT (1): the training step's dropout masks

The generator is made by SeedSequence hashing of the four words, about 8 µs.
"""

import queue
import threading

import numpy as np

AUGMENT = 0
DROPOUT = 1


def batch_rng(seed, epoch, index, stream=AUGMENT):
    """The generator of batch ``index`` of epoch ``epoch`` (0-based) for ``stream`` (see the key layout)."""
    return np.random.default_rng([seed, epoch, index, stream])


class _Failure:
    """The exception that stopped the producer, to be raised again in the consumer."""

    def __init__(self, error):
        self.error = error


_END = object()


class Prefetcher:
    """Iterate ``produce(i, slot)`` for i in range(start, count), computed ahead in a daemon thread.

    At most ``depth`` finished batches wait in the queue. ``produce`` writes batch i into its
    buffers number ``slot`` of ``slots`` (= depth + 2) and returns what the consumer gets: batch
    i's slot is written again only for batch i + slots, which the producer starts after the
    consumer has asked for batch i + 1. So a batch is valid until the consumer asks for the next.
    depth 0 produces each batch in the consumer's thread when asked (slot 0; no thread).

    An exception in ``produce`` is raised again, the same object, in the consumer when it
    reaches that batch. Use it as a context manager, or call :meth:`close`: the thread stops
    after the batch it is producing, also when the consumer stops early or fails.
    """

    def __init__(self, produce, count, start=0, depth=2):
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        self.produce, self.count, self.next_index, self.depth = produce, count, start, depth
        self.slots = depth + 2 if depth else 1
        self._stop = threading.Event()
        self._thread = None
        if depth and start < count:
            self._queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, args=(start,), name="bpnet-prefetch", daemon=True)
            self._thread.start()

    def _put(self, item):
        """Put ``item`` in the queue unless closed; False once closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, start):
        try:
            for i in range(start, self.count):
                if self._stop.is_set() or not self._put(self.produce(i, i % self.slots)):
                    return
            self._put(_END)
        except BaseException as error:         # noqa: B902 -- handed to the consumer, who raises it
            self._put(_Failure(error))

    def __iter__(self):
        return self

    def __next__(self):
        if self.next_index >= self.count or self._stop.is_set():
            raise StopIteration
        i = self.next_index
        if self._thread is None:
            item = self.produce(i, 0)
        else:
            item = self._queue.get()
            if item is _END:                   # not reached: count batches come first
                raise StopIteration
            if isinstance(item, _Failure):
                self.close()
                raise item.error
        self.next_index = i + 1
        return item

    def close(self):
        """Stop the producer and wait for its thread to end (after the batch it is producing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
