"""Learning-rate schedules: the step size α of each gradient step."""

import math


def learning_rate(train_config, step, total_steps):
    """The learning rate for step ``step`` (0-based) of ``total_steps``.

    cosine: α·½(1 + cos(π·step/total)), large steps first and small ones at the end,
    which settles into a better minimum than a constant α in the same number of epochs.
    """
    if train_config.schedule == "cosine":
        return train_config.lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    return train_config.lr

