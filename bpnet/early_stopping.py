"""Early stopping: end a run once the validation metric it watches has stopped improving.

After each validation the monitored metric (train.monitor: val_accuracy, higher is better, or
val_loss, lower is better) improves if it beats the best so far by more than train.min_delta;
the run keeps that epoch in best.npz, and stops after train.patience validations in a row
without an improvement (Prechelt 1998, "Early stopping — but when?"; Keras's EarlyStopping
rule). The best value and the count are part of the resumable state, so a resumed run stops
at the epoch the uninterrupted one would.
"""

# The training state's keys for it, with their values before the first validation. Checkpoints
# of bpnet versions before early stopping have neither and resume with these.
STATE = {"best_val_loss": None, "stale": 0}


def improved(monitor, value, best, min_delta):
    """Whether ``value`` of ``monitor`` beats ``best`` (None: nothing yet) by more than ``min_delta``."""
    if best is None:
        return True
    if monitor == "val_loss":
        return value < best - min_delta
    return value > best + min_delta


def best_value(monitor, state):
    """The best value so far of ``monitor`` in the training ``state`` (None before the first)."""
    if monitor == "val_loss":
        return state["best_val_loss"]
    return state["best_val_accuracy"] if state["best_val_accuracy"] >= 0 else None


def record(train_config, state, val):
    """Note the validation ``val`` ({"loss", "accuracy"}) of the epoch ``state`` has just done: True
    if it is the best so far (best.npz), else one more stale validation. With no validation
    set (None) every epoch counts as the best so far."""
    value = val["accuracy"] if train_config.monitor == "val_accuracy" else val["loss"]
    best = best_value(train_config.monitor, state)
    if value is None or improved(train_config.monitor, value, best, train_config.min_delta):
        state.update(best_val_accuracy=val["accuracy"] or 0.0, best_val_loss=val["loss"],
                     best_epoch=state["epoch"], stale=0)
        return True
    state["stale"] += 1
    return False


def should_stop(train_config, state):
    """Whether ``train.patience`` validations in a row have passed without an improvement."""
    return train_config.patience is not None and state["stale"] >= train_config.patience
