"""Shuffled minibatches of a split, as the column matrices the network takes, augmented on the fly if asked."""

from typing import NamedTuple

import numpy as np

from .augment import Augmenter
from .data import N_CLASSES, N_PIXELS, one_hot, scale_rows
from .prefetch import AUGMENT, Prefetcher, batch_rng

CHUNK = 1024    # the widest column matrix one forward/backward pass takes (measured best of 512-4096)
PREFETCH_DEPTH = 2      # augmented batches made ahead of the one training


class Buffers(NamedTuple):
    """What one batch is made in; the prefetcher cycles through several (its slots)."""

    raw: np.ndarray         # uint8 (B, 784), the gathered rows
    rows: np.ndarray        # float (B, 784), scaled or augmented; its transpose is A⁰
    Y: np.ndarray           # (10, B)


class Batches:
    """Shuffled minibatches of a split, each given as column chunks (A⁰, Y, labels).

    Examples are uint8 rows; a batch gathers whole rows (contiguous memory) and
    scales them into a float buffer of shape (B, 784), whose transpose is the
    column matrix A⁰ (784, B) the math wants, a view, not a copy.

    A batch wider than ``chunk`` columns (full-batch gradient descent) comes in
    chunks of at most ``chunk`` columns, whose gradients the training step adds up:
    ∂C/∂W^l = (1/N) Σ_c Δ^l_c (A^{l-1}_c)ᵀ. A chunk's A⁰ is converted from uint8 on the
    fly and is still in cache for its backward pass; for seed 001's 784-10-10 network
    that measured about 20% faster than passes over a float copy of the whole split,
    a copy (172 MB for MNIST) that is then never made.
    """

    def __init__(self, split, batch_size, dtype, chunk=CHUNK, label_smoothing=0.0, augment=None, seed=0):
        self.split, self.dtype = split, np.dtype(dtype)
        self.label_smoothing = float(label_smoothing)
        n = len(split)
        self.size = n if batch_size == "full" else min(int(batch_size), n)
        self.count = -(-n // self.size)
        self.chunk = min(self.size, int(chunk))
        self.buffers = []                                                      # one Buffers per slot
        self.augmenter = Augmenter(augment, self.chunk) if augment is not None and augment.enabled else None
        self.seed = seed
        # Augmenting costs about as much as a small network's step: done in a background thread
        # while the step runs. Without it a batch is a gather and a scale (~0.1 ms), for which a
        # thread does not pay; nor for a batch of several chunks, whose buffers it would multiply.
        self.depth = PREFETCH_DEPTH if self.augmenter is not None and self.size == self.chunk else 0

    def order(self, rng):
        """This epoch's permutation (no draw for full batch: the order does not matter)."""
        return None if self.count == 1 else rng.permutation(len(self.split))

    def length(self, i):
        """The number of examples in batch i (the last one may be short)."""
        return min(self.size, len(self.split) - i * self.size)

    def epoch(self, order, epoch, start=0):
        """Batches ``start``..count−1 of an epoch in ``order`` (epoch: the epochs done before it),
        as (i, chunks) pairs from a :class:`bpnet.prefetch.Prefetcher`, a context manager. With
        augmentation the next batches are made in a background thread while this one trains."""
        if self.depth == 0:
            return Prefetcher(lambda i, slot: (i, self.get(order, i, epoch)), self.count, start, depth=0)
        return Prefetcher(lambda i, slot: (i, list(self.get(order, i, epoch, slot))), self.count, start,
                          depth=self.depth)

    def get(self, order, i, epoch=0, slot=0):
        """Batch i as a generator of chunks (A⁰ (784, n), Y (10, n), labels (n,)), in the buffers of
        ``slot``; augmented, if asked, from the batch's own generator (batch_rng(seed, epoch, i)).

        The chunks share buffers: each is valid until the next one is drawn.
        """
        buffers = self._buffers(slot)
        rng = batch_rng(self.seed, epoch, i, AUGMENT) if self.augmenter is not None else None
        start = i * self.size
        for s in range(start, start + self.length(i), self.chunk):
            e = min(s + self.chunk, start + self.length(i))
            if order is None:
                raw, labels = self.split.images[s:e], self.split.labels[s:e]
            else:
                # Gathering whole uint8 rows into a reused buffer and then converting was the
                # fastest gather measured (a quarter of the bytes of a float32 copy of the data).
                # mode="clip" lets np.take write straight into the buffer (the default "raise"
                # copies through a temporary, slower than fancy indexing); a permutation's
                # indices are always in range.
                idx = order[s:e]
                raw = np.take(self.split.images, idx, axis=0, out=buffers.raw[:e - s], mode="clip")
                labels = self.split.labels[idx]
            n = e - s
            A0 = self._scale(raw, rng, buffers.rows[:n]).T                          # (784, n)
            yield A0, self.targets(labels, buffers.Y[:, :n]), labels                # Y (10, n)

    def _scale(self, raw, rng, out):
        """The float rows (n, 784) of uint8 rows: scaled to [0, 1], or augmented (in float32)."""
        if self.augmenter is None:
            return scale_rows(raw, out=out)
        if out.dtype == np.float32:
            return self.augmenter(raw, rng, out=out)
        out[...] = self.augmenter(raw, rng)
        return out

    def _buffers(self, slot):
        while len(self.buffers) <= slot:
            self.buffers.append(Buffers(
                np.empty((self.chunk, N_PIXELS), np.uint8),                    # raw (B, 784)
                np.empty((self.chunk, N_PIXELS), self.dtype),                  # rows (B, 784)
                np.zeros((N_CLASSES, self.chunk), self.dtype, order="F")))     # Y (10, B), like A
        return self.buffers[slot]

    def targets(self, labels, out):
        """One-hot Y (10, n), or with label smoothing (Szegedy et al. 2016) Y ← (1 − ε)Y + ε/K,
        K = 10: each column still sums to 1, so Δᴸ = Aᴸ − Y stays the cost's gradient."""
        Y = one_hot(labels, out=out)
        if self.label_smoothing:
            Y *= self.dtype.type(1 - self.label_smoothing)
            Y += self.dtype.type(self.label_smoothing / N_CLASSES)
        return Y

