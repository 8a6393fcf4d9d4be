"""bpnet.batches: shuffled minibatches as column matrices, label smoothing, augmentation on the fly."""

import numpy as np
import pytest

from bpnet.batches import Batches


def test_minibatches_cover_each_example_once_per_epoch(data):
    batches = Batches(data.train, 64, np.float32)
    order = batches.order(np.random.default_rng(0))
    seen = np.concatenate([order[i * 64:(i + 1) * 64] for i in range(batches.count)])
    assert sorted(seen) == list(range(len(data.train)))
    (A0, Y, labels), = batches.get(order, batches.count - 1)       # the short last batch, one chunk
    n = len(data.train) - 64 * (batches.count - 1)
    assert A0.shape == (784, n) and Y.shape == (10, n) and A0.dtype == np.float32
    np.testing.assert_array_equal(A0, data.train.images[order[-n:]].T * np.float32(1 / 255))
    np.testing.assert_array_equal(np.argmax(Y, axis=0), labels)


def test_a_wide_batch_comes_in_chunks_that_cover_it_in_order(data):
    batches = Batches(data.train, "full", np.float64, chunk=70)
    assert batches.count == 1 and batches.order(np.random.default_rng(0)) is None
    chunks = [(A0.copy(), Y.copy(), labels.copy()) for A0, Y, labels in batches.get(None, 0)]
    assert [c[0].shape[1] for c in chunks] == [70] * 8 + [40]                     # 600 examples
    np.testing.assert_array_equal(np.hstack([c[0] for c in chunks]), data.train.A0(np.float64))
    np.testing.assert_array_equal(np.hstack([c[1] for c in chunks]), data.train.Y(np.float64))
    np.testing.assert_array_equal(np.concatenate([c[2] for c in chunks]), data.train.labels)
