"""bpnet.prefetch: order, errors, closing without a leaked thread, buffer safety, exact resume."""

import threading
import time

import numpy as np
import pytest

from bpnet.augment import AugmentConfig, Augmenter
from bpnet.prefetch import AUGMENT, DROPOUT, Prefetcher, batch_rng

SEED = 7


class Producer:
    """Augmented batches of synthetic rows, each written into the buffers of its slot."""

    def __init__(self, slots, epoch=0, n=64, batch=8, delay=0.0):
        rng = np.random.default_rng(0)
        self.rows = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        self.rows.reshape(n, 28, 28)[:, :4] = self.rows.reshape(n, 28, 28)[:, -4:] = 0
        self.order = rng.permutation(n)
        self.batch, self.epoch, self.delay = batch, epoch, delay
        self.augmenter = Augmenter(AugmentConfig(shift=2, rotate=10, elastic_alpha=20), capacity=batch)
        self.buffers = np.full((slots, batch, 784), np.nan, np.float32)

    def __call__(self, i, slot):
        time.sleep(self.delay)
        idx = self.order[i * self.batch:(i + 1) * self.batch]
        out = self.buffers[slot, :len(idx)]
        self.augmenter(self.rows[idx], batch_rng(SEED, self.epoch, i, AUGMENT), out)
        return i, out


def run(depth, start=0, stop=None, epoch=0):
    """Copies of the batches a consumer gets, from ``start`` to the end or to ``stop``."""
    producer = Producer(depth + 2, epoch)
    got = []
    with Prefetcher(producer, 8, start=start, depth=depth) as batches:
        for i, out in batches:
            got.append(out.copy())
            if stop is not None and i + 1 == stop:
                break
    return got


def test_batches_come_in_order_and_do_not_depend_on_depth():
    inline = run(0)
    assert len(inline) == 8
    for depth in (1, 4):
        got = run(depth)
        assert all(np.array_equal(a, b) for a, b in zip(got, inline)) and len(got) == 8


def test_stopping_and_resuming_at_a_batch_is_exact_however_far_the_producer_ran_ahead():
    whole = run(3)
    first = run(3, stop=3)                 # the producer has made batches 3.. by now; they are dropped
    rest = run(1, start=3)
    assert all(np.array_equal(a, b) for a, b in zip(first + rest, whole)) and len(first + rest) == 8
    other_epoch = run(3, epoch=1)
    assert not np.array_equal(other_epoch[0], whole[0])


def test_batch_rng_streams_are_distinct_and_reproducible():
    keys = [(e, i, s) for e in range(2) for i in range(3) for s in (AUGMENT, DROPOUT)]
    draws = {key: batch_rng(SEED, *key).random() for key in keys}
    assert len(set(draws.values())) == len(draws)
    assert batch_rng(SEED, 1, 2, DROPOUT).random() == draws[1, 2, DROPOUT]


def test_a_batch_stays_intact_until_the_consumer_asks_for_the_next():
    depth = 2
    producer = Producer(depth + 2, delay=0.001)
    expected = [out.copy() for _, out in Prefetcher(Producer(1), 8, depth=0)]
    with Prefetcher(producer, 8, depth=depth) as batches:
        for i, out in batches:
            time.sleep(0.02)               # the producer fills the queue meanwhile
            assert np.array_equal(out, expected[i])


def test_an_error_in_the_producer_is_raised_in_the_consumer_after_the_batches_before_it():
    class Broken(Exception):
        pass

    def produce(i, slot):
        if i == 3:
            raise Broken(f"batch {i}")
        return i

    got = []
    before = threading.active_count()
    with pytest.raises(Broken, match="batch 3"):
        with Prefetcher(produce, 10, depth=2) as batches:
            for i in batches:
                got.append(i)
    assert got == [0, 1, 2] and threading.active_count() == before


def test_close_stops_a_blocked_producer_promptly_without_leaking_its_thread():
    before = threading.active_count()
    made = []

    def produce(i, slot):
        made.append(i)
        return i

    batches = Prefetcher(produce, 10_000, depth=2)
    assert next(batches) == 0
    time.sleep(0.05)                         # the producer blocks on the full queue
    started = time.perf_counter()
    batches.close()
    assert time.perf_counter() - started < 1.0
    assert threading.active_count() == before and len(made) <= 4
    assert list(batches) == []


def test_an_exception_in_the_consumer_closes_the_producer():
    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        with Prefetcher(lambda i, slot: i, 10_000, depth=4) as batches:
            for i in batches:
                if i == 5:
                    raise KeyboardInterrupt
    assert threading.active_count() == before


def test_negative_depth_is_refused():
    with pytest.raises(ValueError, match="depth"):
        Prefetcher(lambda i, slot: i, 3, depth=-1)
