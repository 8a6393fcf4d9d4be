"""Gradient checking: backpropagation against centred finite differences.

For a parameter entry θ, the numerical derivative is
    ∂C/∂θ ≈ (C(θ + ε) − C(θ − ε)) / 2ε,
whose error is O(ε²). Per parameter array the check reports the relative error
‖g_backprop − g_numerical‖ / (‖g_backprop‖ + ‖g_numerical‖) over the entries it
checked. Run it in float64: in float32 the rounding of C alone is ~1e-7/ε.
"""

import numpy as np


def _cost(network, A0, Y, masks=None):
    Z, A = network.forward(A0, masks=masks)
    return network.cost(Z, A, Y)


def numerical_derivative(network, A0, Y, param, index, eps=1e-6, masks=None):
    """(C(θ + ε) − C(θ − ε)) / 2ε for the entry ``index`` of the array ``param`` (restored after)."""
    saved = param[index]
    param[index] = saved + eps
    plus = _cost(network, A0, Y, masks)
    param[index] = saved - eps
    minus = _cost(network, A0, Y, masks)
    param[index] = saved
    return (plus - minus) / (2 * eps)


def relative_error(a, b):
    """‖a − b‖ / (‖a‖ + ‖b‖), and 0 when both are exactly zero."""
    denominator = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denominator) if denominator else 0.0


def check(network, A0, Y, eps=1e-6, entries=None, rng=None, masks=None):
    """Compare backprop with finite differences for every parameter array.

    masks: fixed dropout masks (see bpnet.network.draw_masks), the same in every forward pass,
    so that C is a smooth function of the parameters whose gradient backprop must give.
    entries: how many entries to check per array (all if None), drawn with ``rng``.
    Returns a list of (name, relative_error, n_checked), in checkpoint order.
    """
    if network.dtype != np.float64:
        raise ValueError(f"gradient check of a {network.dtype} network: its rounding alone would give "
                         f"relative errors near 1; build it with dtype=np.float64")
    rng = rng or np.random.default_rng(0)
    _, dW, db = network.gradients(A0, Y, masks)
    grads = dict(zip([name for name, _ in network.parameters()],
                     [g for l in range(1, network.L + 1) for g in (dW[l], db[l])]))
    results = []
    for name, param in network.parameters():
        flat = np.arange(param.size)
        if entries is not None and entries < param.size:
            flat = rng.choice(param.size, size=entries, replace=False)
        indices = [np.unravel_index(i, param.shape) for i in flat]
        analytic = np.array([grads[name][i] for i in indices])
        numeric = np.array([numerical_derivative(network, A0, Y, param, i, eps, masks) for i in indices])
        results.append((name, relative_error(analytic, numeric), len(indices)))
    return results
