"""Training diagnostics per layer l = 1..L, computed from arrays: is backpropagation healthy?

- ``grad_norm``: ‖∂C/∂W^l‖_F, the size of the gradient (vanishing or exploding gradients);
- ``update_ratio``: ‖ΔW^l‖_F / ‖W^l‖_F of one update, ΔW^l = W^l after − W^l before (about
  1e-3 is the usual healthy size: much smaller learns slowly, much larger is unstable);
- ``weight_norm``: ‖W^l‖_F;
- ``dead_fraction``: for a ReLU layer, the fraction of its units that are inactive (Z^l ≤ 0)
  for every example of a set, e.g. the validation pass. Such a unit passes no gradient
  (ReLU'(Z) = 0), so it never learns again. None for other layers;
- ``saturated_fraction``: for a sigmoid or tanh layer, the fraction of activations, over units
  and examples, where σ' is small: A < 0.05 or A > 0.95 for the sigmoid (σ' < 0.0475, a fifth
  of its peak 0.25), |A| > 0.95 for tanh (tanh' < 0.0975, a tenth of its peak 1). Gradients
  through those entries nearly vanish. None for other layers (and a softmax output).

In metrics.jsonl they appear as an optional field of an epoch's record, each a list indexed by
layer (layer l at index l − 1):
``"diagnostics": {"grad_norm": [...], "update_ratio": [...], "weight_norm": [...],
"dead_fraction": [...] or null, "saturated_fraction": [...] or null}``.
"""

import math

import numpy as np

QUANTITIES = ("grad_norm", "update_ratio", "weight_norm", "dead_fraction", "saturated_fraction")
FRACTIONS = ("dead_fraction", "saturated_fraction")
SIGMOID_SATURATED = 0.05         # A < 0.05 or A > 1 − 0.05
TANH_SATURATED = 0.95            # |A| > 0.95


def _norm(X):
    return float(np.linalg.norm(np.asarray(X, dtype=np.float64)))


def grad_norms(dW):
    """[‖∂C/∂W^l‖_F for l = 1..L], from a list indexed like Network.W (dW[0] is None)."""
    return [_norm(g) for g in dW[1:]]


def weight_norms(W):
    """[‖W^l‖_F for l = 1..L]."""
    return [_norm(w) for w in W[1:]]


def update_ratios(W_before, W_after):
    """[‖W^l_after − W^l_before‖_F / ‖W^l_before‖_F for l = 1..L] (None where W^l_before is 0)."""
    ratios = []
    for before, after in zip(W_before[1:], W_after[1:]):
        step, size = _norm(np.subtract(after, before, dtype=np.float64)), _norm(before)
        ratios.append(step / size if size else None)
    return ratios


def ever_active(Z, seen=None):
    """(n_l,) booleans: unit i had Z_in > 0 for some column n of Z (n_l, N), or was already ``seen``
    active (pass the previous result to go over a set in chunks)."""
    active = (np.asarray(Z) > 0).any(axis=1)
    return active if seen is None else active | seen


def dead_fraction(seen):
    """The fraction of units never active, from :func:`ever_active`'s booleans."""
    seen = np.asarray(seen)
    return float(1.0 - seen.mean()) if seen.size else 0.0


def saturated(A, activation):
    """The entries of A^l (n_l, N) where ``activation`` ('sigmoid' or 'tanh') saturates, as a
    boolean array; None for an activation that does not saturate (relu, softmax)."""
    A = np.asarray(A)
    if activation == "sigmoid":
        return (A < SIGMOID_SATURATED) | (A > 1 - SIGMOID_SATURATED)
    if activation == "tanh":
        return np.abs(A) > TANH_SATURATED
    return None


def saturated_fraction(A, activation):
    """The fraction of A^l's entries (units × examples) that are saturated, or None (see :func:`saturated`)."""
    mask = saturated(A, activation)
    return None if mask is None else (float(mask.mean()) if mask.size else 0.0)


def layer_activations(network):
    """The activation of each layer l = 1..L by name: the hidden one, then the head's output."""
    return [network.activation_name] * (network.L - 1) + [network.output]


def activity(network, Z, A):
    """dead_fraction and saturated_fraction of one forward pass (lists over l = 1..L, None where
    they do not apply; a list that applies nowhere is None). For a set taken in chunks, combine
    :func:`ever_active` over the chunks and weight :func:`saturated_fraction` by columns."""
    names = layer_activations(network)
    dead = [dead_fraction(ever_active(Z[l])) if names[l - 1] == "relu" else None
            for l in range(1, network.L + 1)]
    sat = [saturated_fraction(A[l], names[l - 1]) for l in range(1, network.L + 1)]
    return {"dead_fraction": dead if any(x is not None for x in dead) else None,
            "saturated_fraction": sat if any(x is not None for x in sat) else None}


def is_valid(diagnostics, layers=None):
    """Whether ``diagnostics`` (a record's field, read from JSON) is what this module describes:
    a mapping of the known quantities to lists of finite numbers ≥ 0 or nulls (fractions ≤ 1),
    all of one length (``layers`` if given), the two fractions possibly null as a whole."""
    if not isinstance(diagnostics, dict) or not set(diagnostics) <= set(QUANTITIES):
        return False
    lengths = set()
    for name, values in diagnostics.items():
        if values is None and name in FRACTIONS:
            continue
        if not isinstance(values, list):
            return False
        for x in values:
            if x is None:
                continue
            number = isinstance(x, (int, float)) and not isinstance(x, bool)
            if not number or not math.isfinite(x) or x < 0 or (name in FRACTIONS and x > 1):
                return False
        lengths.add(len(values))
    return len(lengths) <= 1 and (layers is None or lengths <= {layers})
