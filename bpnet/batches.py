"""Shuffled minibatches of a split, as the column matrices the network takes."""

import numpy as np

from .data import N_CLASSES, N_PIXELS, one_hot, scale_rows

CHUNK = 1024    # the widest column matrix one forward/backward pass takes (measured best of 512-4096)


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

    def __init__(self, split, batch_size, dtype, chunk=CHUNK, label_smoothing=0.0):
        self.split, self.dtype = split, np.dtype(dtype)
        self.label_smoothing = float(label_smoothing)
        n = len(split)
        self.size = n if batch_size == "full" else min(int(batch_size), n)
        self.count = -(-n // self.size)
        self.chunk = min(self.size, int(chunk))
        self.raw = np.empty((self.chunk, N_PIXELS), np.uint8)                  # (B, 784)
        self.rows = np.empty((self.chunk, N_PIXELS), self.dtype)               # (B, 784)
        self.Y = np.zeros((N_CLASSES, self.chunk), self.dtype, order="F")      # (10, B), like A

    def order(self, rng):
        """This epoch's permutation (no draw for full batch: the order does not matter)."""
        return None if self.count == 1 else rng.permutation(len(self.split))

    def length(self, i):
        """The number of examples in batch i (the last one may be short)."""
        return min(self.size, len(self.split) - i * self.size)

    def get(self, order, i):
        """Batch i as a generator of chunks (A⁰ (784, n), Y (10, n), labels (n,)).

        The chunks share buffers: each is valid until the next one is drawn.
        """
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
                raw = np.take(self.split.images, idx, axis=0, out=self.raw[:e - s], mode="clip")
                labels = self.split.labels[idx]
            n = e - s
            A0 = scale_rows(raw, out=self.rows[:n]).T                                # (784, n)
            yield A0, self.targets(labels, self.Y[:, :n]), labels                   # Y (10, n)

    def targets(self, labels, out):
        """One-hot Y (10, n), or with label smoothing (Szegedy et al. 2016) Y ← (1 − ε)Y + ε/K,
        K = 10: each column still sums to 1, so Δᴸ = Aᴸ − Y stays the cost's gradient."""
        Y = one_hot(labels, out=out)
        if self.label_smoothing:
            Y *= self.dtype.type(1 - self.label_smoothing)
            Y += self.dtype.type(self.label_smoothing / N_CLASSES)
        return Y

