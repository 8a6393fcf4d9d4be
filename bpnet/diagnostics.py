"""Training diagnostics per layer l = 1..L, computed from arrays: is backpropagation healthy?

- ``grad_norm``: ‖∂C/∂W^l‖_F, the size of the gradient (vanishing or exploding gradients);
- ``update_ratio``: ‖ΔW^l‖_F / ‖W^l‖_F of one update, ΔW^l = W^l after − W^l before (about
  1e-3 is the usual healthy size: much smaller learns slowly, much larger is unstable);
- ``weight_norm``: ‖W^l‖_F;
- ``dead_fraction``: for a ReLU hidden layer, the fraction of its units that are inactive
  (Z^l ≤ 0) for every example of a set, e.g. the validation set. Such a unit passes no gradient
  (ReLU'(Z) = 0), so it never learns again. None for other layers and for the output layer;
- ``saturated_fraction``: for a sigmoid or tanh hidden layer, the fraction of activations, over
  units and examples, where σ' is small: A < 0.05 or A > 0.95 for the sigmoid (σ' < 0.0475, a
  fifth of its peak 0.25), |A| > 0.95 for tanh (tanh' < 0.0975, a tenth of its peak 1). Gradients
  through those entries nearly vanish. None for other layers and for the output layer, whatever
  its activation: a trained sigmoid output is meant to sit near 0 or 1, so its saturation is
  confidence, not a stuck unit.

In metrics.jsonl they appear as an optional field of an epoch's record, each a list indexed by
layer (layer l at index l − 1), so a fraction's last entry, the output layer's, is always null:
``"diagnostics": {"grad_norm": [...], "update_ratio": [...], "weight_norm": [...],
"dead_fraction": [...] or null, "saturated_fraction": [...] or null}``.
How training measures them each reported epoch is :mod:`bpnet.train`'s ``Run.report``.
"""

import math

import numpy as np

QUANTITIES = ("grad_norm", "update_ratio", "weight_norm", "dead_fraction", "saturated_fraction")
FRACTIONS = ("dead_fraction", "saturated_fraction")
NULLABLE = ("update_ratio", *FRACTIONS)      # entries that may be null (see is_valid)
SIGMOID_SATURATED = 0.05         # A < 0.05 or A > 1 − 0.05
TANH_SATURATED = 0.95            # |A| > 0.95
SATURATING = ("sigmoid", "tanh")


def _norm(X):
    """‖X‖_F, summed in float64 by numpy's own loop: np.linalg.norm's BLAS dot took 2–8 ms for a
    784 × 256 matrix on a busy 2-core machine (waking BLAS threads), this 0.1 ms."""
    x = np.asarray(X).ravel(order="K")
    return math.sqrt(float(np.einsum("i,i->", x, x, dtype=np.float64)))


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


class Activity:
    """dead_fraction and saturated_fraction of the hidden layers over a set of examples taken
    in chunks of columns, counted as the chunks go by (no chunk's Z and A are kept)::

        activity = Activity(network)
        for Z, A in passes:             # e.g. evaluate(network, split, on_chunk=activity.add)
            activity.add(Z, A)
        activity.fractions()            # {"dead_fraction": [...] or None, "saturated_fraction": ...}
    """

    def __init__(self, network):
        self.names = layer_activations(network)
        self.hidden = range(1, network.L)                   # l = 1..L−1: the output layer is never counted
        self.active = {l: None for l in self.hidden if self.names[l - 1] == "relu"}
        self.saturated = {l: [0, 0] for l in self.hidden if self.names[l - 1] in SATURATING}   # [saturated, entries]

    def add(self, Z, A):
        """Count one forward pass's Z^l, A^l (n_l, N), lists indexed by l like Network.forward's."""
        for l in self.active:
            self.active[l] = ever_active(Z[l], self.active[l])
        for l, counts in self.saturated.items():
            mask = saturated(A[l], self.names[l - 1])
            counts[0] += int(np.count_nonzero(mask))
            counts[1] += mask.size

    def fractions(self):
        """Lists over l = 1..L, None where a fraction does not apply; a list that applies nowhere,
        or before any example was seen, is None."""
        L = len(self.names)
        dead = [dead_fraction(self.active[l]) if self.active.get(l) is not None else None for l in range(1, L + 1)]
        sat = [self.saturated[l][0] / self.saturated[l][1] if self.saturated.get(l, [0, 0])[1] else None
               for l in range(1, L + 1)]
        return {"dead_fraction": _or_none(dead), "saturated_fraction": _or_none(sat)}


def _or_none(values):
    return values if any(x is not None for x in values) else None


def activity(network, Z, A):
    """dead_fraction and saturated_fraction of the hidden layers in one forward pass (see :class:`Activity`)."""
    counter = Activity(network)
    counter.add(Z, A)
    return counter.fractions()


def of_step(W_before, W_after, dW):
    """grad_norm, update_ratio and weight_norm (lists over l = 1..L) of one step that took the
    weights from ``W_before`` to ``W_after`` with the gradient ``dW`` (lists indexed like Network.W)."""
    return {"grad_norm": grad_norms(dW), "update_ratio": update_ratios(W_before, W_after),
            "weight_norm": weight_norms(W_after)}


def is_valid(diagnostics, layers=None):
    """Whether ``diagnostics`` (a record's field, read from JSON) is what this module describes:
    a mapping of the known quantities to lists of finite numbers ≥ 0 (fractions ≤ 1), all of one
    length (``layers`` if given). Entries may be null only where a quantity can be undefined: an
    update ratio (W^l was 0) and the fractions, whose output-layer entry always is, and the two
    fractions may be null as a whole."""
    if not isinstance(diagnostics, dict) or not set(diagnostics) <= set(QUANTITIES):
        return False
    lengths = set()
    for name, values in diagnostics.items():
        if values is None and name in FRACTIONS:
            continue
        if not isinstance(values, list) or (name in FRACTIONS and (not values or values[-1] is not None)):
            return False
        for x in values:
            if x is None and name in NULLABLE:
                continue
            number = isinstance(x, (int, float)) and not isinstance(x, bool)
            if not number or not math.isfinite(x) or x < 0 or (name in FRACTIONS and x > 1):
                return False
        lengths.add(len(values))
    return len(lengths) <= 1 and (layers is None or lengths <= {layers})
