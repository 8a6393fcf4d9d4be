"""bpnet.batches: shuffled minibatches as column matrices, label smoothing, augmentation on the fly."""

import numpy as np

from bpnet.augment import AugmentConfig
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


def test_label_smoothing_targets_sum_to_one_and_keep_the_hard_labels(data):
    """Y ← (1 − ε)Y + ε/K (Szegedy et al. 2016): 1 − ε + ε/10 on the label, ε/10 elsewhere."""
    batches = Batches(data.train, 64, np.float32, label_smoothing=0.1)
    (A0, Y, labels), = batches.get(batches.order(np.random.default_rng(0)), 0)
    np.testing.assert_allclose(Y.sum(axis=0), 1, rtol=1e-6)
    assert np.allclose(Y[labels, np.arange(64)], 0.91) and np.isclose(Y.min(), 0.01)
    np.testing.assert_array_equal(np.argmax(Y, axis=0), labels)
    plain = Batches(data.train, 64, np.float32)
    (_, Y_plain, _), = plain.get(plain.order(np.random.default_rng(0)), 0)
    assert set(np.unique(Y_plain)) == {0, 1}


AUGMENT = AugmentConfig(shift=2, rotate=10, scale=0.1, shear=5, elastic_alpha=8, elastic_sigma=4)


def epoch_batches(batches, order, epoch, start=0):
    """Every batch of an epoch as copies (A⁰, Y, labels), made the way the training loop makes them."""
    with batches.epoch(order, epoch, start) as stream:
        return {i: [tuple(x.copy() for x in chunk) for chunk in chunks] for i, chunks in stream}


def test_augmented_batches_depend_on_seed_epoch_and_index_only(data):
    """Batch i of an epoch is the same whether made ahead in the prefetch thread or in this one,
    from the epoch's start or from batch 5 (a resumed epoch), and another epoch's is another."""
    batches = Batches(data.train, 50, np.float32, augment=AUGMENT, seed=3)
    assert batches.depth == 2                                  # made in a background thread
    order = batches.order(np.random.default_rng(0))
    ahead = epoch_batches(batches, order, epoch=1)
    inline = Batches(data.train, 50, np.float32, augment=AUGMENT, seed=3)
    inline.depth = 0
    assert epoch_batches(inline, order, epoch=1).keys() == ahead.keys() == set(range(12))
    for i, chunks in epoch_batches(inline, order, epoch=1).items():
        for x, y in zip(chunks[0], ahead[i][0]):
            np.testing.assert_array_equal(x, y)
    resumed = epoch_batches(batches, order, epoch=1, start=5)
    assert sorted(resumed) == list(range(5, 12))
    np.testing.assert_array_equal(resumed[7][0][0], ahead[7][0][0])
    other_epoch = epoch_batches(batches, order, epoch=2)
    assert not np.array_equal(other_epoch[7][0][0], ahead[7][0][0])
    # The labels and targets are the gathered examples', untouched by augmentation.
    np.testing.assert_array_equal(ahead[0][0][2], data.train.labels[order[:50]])
    plain = Batches(data.train, 50, np.float32)
    (A0, _, _), = plain.get(order, 0)
    assert not np.array_equal(ahead[0][0][0], A0) and 0 <= ahead[0][0][0].min() and ahead[0][0][0].max() <= 1


def test_augmentation_off_is_the_plain_fast_path(data):
    """Every transform at 0: no augmenter, no thread, the scaled rows bit for bit."""
    off = Batches(data.train, 50, np.float32, augment=AugmentConfig())
    assert off.augmenter is None and off.depth == 0
    order = off.order(np.random.default_rng(0))
    plain = Batches(data.train, 50, np.float32)
    for i, chunks in epoch_batches(off, order, 0).items():
        (A0, _, _), = plain.get(order, i)
        np.testing.assert_array_equal(chunks[0][0], A0)


def test_float64_and_wide_batches_are_augmented_too(data):
    """float64 rows get the float32 augmentation cast up; a batch of several chunks is made inline."""
    order = np.random.default_rng(0).permutation(len(data.train))
    b32 = Batches(data.train, 50, np.float32, augment=AUGMENT)
    b64 = Batches(data.train, 50, np.float64, augment=AUGMENT)
    (x32, _, _), = b32.get(order, 2, epoch=0)
    (x64, _, _), = b64.get(order, 2, epoch=0)
    assert x64.dtype == np.float64
    np.testing.assert_array_equal(x64, x32.astype(np.float64))
    wide = Batches(data.train, 300, np.float32, chunk=128, augment=AUGMENT)
    assert wide.depth == 0
    chunks = [c[0].shape[1] for c in wide.get(order, 0)]
    assert chunks == [128, 128, 44]
