"""bpnet.schedules: the learning rate of each step, at the values each schedule's formula gives."""

import math

import pytest

from bpnet.config import from_dict
from bpnet.schedules import learning_rate, warmup_steps


def train(**keys):
    return from_dict({"train": {"lr": 0.2, **keys}}).train


def lrs(t, steps_per_epoch):
    return [learning_rate(t, s, steps_per_epoch) for s in range(t.epochs * steps_per_epoch)]


def test_cosine_schedule_goes_from_lr_to_zero():
    t = train(schedule="cosine", epochs=4)                    # 4 epochs of 25 steps: T = 100
    assert learning_rate(t, 0, 25) == pytest.approx(0.2)
    assert learning_rate(t, 50, 25) == pytest.approx(0.1)
    assert learning_rate(t, 100, 25) == pytest.approx(0.0)
    assert learning_rate(train(lr=0.1, epochs=4), 70, 25) == 0.1      # constant


def test_cosine_is_bit_for_bit_the_formula_it_always_was():
    """Runs before warm-up existed must not change: α·½(1 + cos(π·min(s, T)/T)) exactly."""
    t = train(schedule="cosine", lr=0.3, epochs=3)
    for s in range(0, 3 * 430 + 5):
        assert learning_rate(t, s, 430) == 0.3 * 0.5 * (1.0 + math.cos(math.pi * min(s, 1290) / 1290))


def test_step_schedule_drops_by_gamma_every_k_epochs():
    t = train(schedule="step", epochs=7, step_epochs=3, step_gamma=0.5)
    rates = lrs(t, 10)
    assert rates[:30] == [0.2] * 30                            # epochs 1-3
    assert rates[30:60] == [0.1] * 30                          # epochs 4-6: γ¹
    assert rates[60:] == [pytest.approx(0.05)] * 10            # epoch 7: γ²


def test_linear_warmup_then_cosine_over_the_remaining_steps():
    t = train(schedule="cosine", epochs=5, warmup_epochs=1)    # 10 steps an epoch: W = 10, T = 50
    assert warmup_steps(t, 10) == 10
    rates = lrs(t, 10)
    assert rates[:10] == [pytest.approx(0.2 * (s + 1) / 10) for s in range(10)]
    assert rates[10] == pytest.approx(0.2)                     # the cosine starts at α after warm-up
    assert rates[30] == pytest.approx(0.1)                     # half way through the 40 cosine steps
    assert learning_rate(t, 50, 10) == pytest.approx(0.0)
    assert all(a > b for a, b in zip(rates[10:], rates[11:]))


def test_warmup_with_step_and_constant_and_a_fraction_of_an_epoch():
    t = train(schedule="step", epochs=4, warmup_epochs=0.5, step_epochs=2, step_gamma=0.1)
    assert warmup_steps(t, 10) == 5
    rates = lrs(t, 10)
    assert rates[:5] == [pytest.approx(0.2 * (s + 1) / 5) for s in range(5)]
    assert rates[5:20] == [0.2] * 15 and rates[20:] == [pytest.approx(0.02)] * 20
    assert lrs(train(epochs=2, warmup_epochs=1), 4) == [pytest.approx(x) for x in (0.05, 0.1, 0.15, 0.2)] + [0.2] * 4
    whole = lrs(train(schedule="cosine", epochs=1, warmup_epochs=1), 4)         # warm-up is the whole run
    assert whole == [pytest.approx(x) for x in (0.05, 0.1, 0.15, 0.2)]


def test_one_cycle_rises_from_lr_over_25_to_lr_then_falls_to_nearly_zero():
    t = train(schedule="onecycle", epochs=10, onecycle_pct=0.3)      # T = 100, peak at step 30
    rates = lrs(t, 10)
    assert rates[0] == pytest.approx(0.2 / 25)
    assert rates[15] == pytest.approx(0.2 / 25 + (0.2 - 0.2 / 25) / 2)        # half way up (cosine)
    assert rates[30] == pytest.approx(0.2) and max(rates) == rates[30]
    assert rates[65] == pytest.approx(0.2 / 25e4 + (0.2 - 0.2 / 25e4) / 2)    # half way down
    assert learning_rate(t, 100, 10) == pytest.approx(0.2 / 25e4)
    assert all(a < b for a, b in zip(rates[:30], rates[1:31]))
    assert all(a > b for a, b in zip(rates[30:], rates[31:])) and min(rates) > 0


@pytest.mark.parametrize("schedule", ["constant", "cosine", "step", "onecycle"])
def test_every_schedule_keeps_every_step_positive(schedule):
    """Momentum divides by the previous step's α (see optim): no step before the last may have α = 0."""
    warmup = 0 if schedule == "onecycle" else 1
    rates = lrs(train(schedule=schedule, epochs=3, warmup_epochs=warmup, step_epochs=1), 7)
    assert min(rates) > 0
