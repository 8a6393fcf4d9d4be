"""Learning-rate schedules: the step size α of each gradient step.

Every schedule is a function of the step (0-based) and the run's length in steps, T = epochs ·
steps per epoch, scaled by train.lr = α:

    constant   α
    cosine     α·½(1 + cos(π·s/T))                               (Loshchilov & Hutter 2017, no restarts)
    step       α·γ^⌊e/k⌋, e = the epochs done before step s,      (train.step_gamma γ, train.step_epochs k)
    onecycle   from α/25 up to α over the first p·T steps, then down to α/25/10⁴ at T, both halves
               cosine-shaped                                      (Smith & Topin 2019; train.onecycle_pct p)

A linear warm-up (train.warmup_epochs, W steps; Goyal et al. 2017) multiplies the first W steps of
constant, cosine or step by (s + 1)/W; cosine then anneals over the T − W steps after it.
"""

import math

ONECYCLE_START = 25.0          # α/25 at the start: PyTorch OneCycleLR's div_factor
ONECYCLE_END = 1e4             # (α/25)/10⁴ at the end: its final_div_factor


def learning_rate(train_config, step, steps_per_epoch):
    """The learning rate of step ``step`` (0-based) of a run of ``train.epochs`` epochs of
    ``steps_per_epoch`` steps each (see the module docstring for the formulas)."""
    t = train_config
    total = t.epochs * steps_per_epoch
    if t.schedule == "onecycle":
        return _one_cycle(t.lr, step, total, t.onecycle_pct)
    warmup = warmup_steps(t, steps_per_epoch)
    factor = (step + 1) / warmup if step < warmup else 1.0
    if t.schedule == "cosine":
        done, length = min(max(step - warmup, 0), total - warmup), max(total - warmup, 1)
        return factor * t.lr * 0.5 * (1.0 + math.cos(math.pi * done / length))
    if t.schedule == "step":
        return factor * t.lr * t.step_gamma ** (step // steps_per_epoch // t.step_epochs)
    return factor * t.lr


def warmup_steps(train_config, steps_per_epoch):
    """W = round(warmup_epochs · steps per epoch), the steps of the linear warm-up."""
    return round(train_config.warmup_epochs * steps_per_epoch)


def _one_cycle(lr, step, total, pct):
    """Cosine up from lr/25 to lr over the first ⌊pct·T⌋ steps, cosine down to lr/25/10⁴ at T."""
    start, end = lr / ONECYCLE_START, lr / ONECYCLE_START / ONECYCLE_END
    rise = max(int(pct * total), 1)
    if step < rise:
        return start + (lr - start) * 0.5 * (1.0 - math.cos(math.pi * step / rise))
    done = min(step - rise, total - rise) / max(total - rise, 1)
    return end + (lr - end) * 0.5 * (1.0 + math.cos(math.pi * done))
