"""bpnet.early_stopping: what counts as an improvement, and when a run stops."""

from bpnet import early_stopping
from bpnet.config import from_dict


def test_improvement_is_by_more_than_min_delta_in_the_monitors_direction():
    assert early_stopping.improved("val_accuracy", 0.5, None, 0.1)             # the first always is
    assert early_stopping.improved("val_accuracy", 0.92, 0.9, 0.01)
    assert not early_stopping.improved("val_accuracy", 0.905, 0.9, 0.01)
    assert not early_stopping.improved("val_accuracy", 0.9, 0.9, 0.0)         # equal is not better
    assert early_stopping.improved("val_loss", 0.2, 0.3, 0.05)
    assert not early_stopping.improved("val_loss", 0.26, 0.3, 0.05)
    assert not early_stopping.improved("val_loss", 0.4, 0.3, 0.0)


def test_record_counts_stale_validations_and_should_stop_at_patience():
    t = from_dict({"train": {"patience": 2, "monitor": "val_loss"}}).train
    state = {"epoch": 1, "best_val_accuracy": -1.0, "best_epoch": 0, **early_stopping.STATE}
    assert early_stopping.record(t, state, {"loss": 0.5, "accuracy": 0.8})
    assert (state["best_epoch"], state["best_val_loss"], state["best_val_accuracy"]) == (1, 0.5, 0.8)
    state["epoch"] = 2
    assert not early_stopping.record(t, state, {"loss": 0.6, "accuracy": 0.9})    # accuracy is not watched
    assert state["stale"] == 1 and not early_stopping.should_stop(t, state)
    state["epoch"] = 3
    assert not early_stopping.record(t, state, {"loss": 0.5, "accuracy": 0.9})
    assert state["stale"] == 2 and early_stopping.should_stop(t, state) and state["best_epoch"] == 1
    off = from_dict({}).train
    assert not early_stopping.should_stop(off, {**state, "stale": 10 ** 6})
    no_validation = {"loss": None, "accuracy": None}
    assert early_stopping.record(off, state, no_validation) and state["stale"] == 0
