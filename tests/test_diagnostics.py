"""bpnet.diagnostics: gradient and weight norms, update ratios, dead and saturated units."""

import numpy as np
import pytest

from bpnet import diagnostics as d
from bpnet.network import Network
from bpnet.optim import SGD


def batch(n_in=20, N=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_in, N)), np.eye(10)[:, rng.integers(0, 10, N)]


def relu_network(seed=0):
    return Network([20, 50, 10], "relu", dtype=np.float64).initialise("he", np.random.default_rng(seed))


def test_norms_and_update_ratios_are_per_layer_frobenius_norms():
    W = [None, np.array([[3.0, 4.0]]), np.array([[1.0], [2.0], [2.0]])]
    assert d.weight_norms(W) == [5.0, 3.0]
    assert d.grad_norms([None, np.ones((2, 2)), np.zeros((1, 3))]) == [2.0, 0.0]
    after = [None, W[1] + [[0.3, 0.4]], W[2].copy()]
    assert d.update_ratios(W, after) == pytest.approx([0.1, 0.0])
    assert d.update_ratios([None, np.zeros((1, 2))], [None, np.ones((1, 2))]) == [None]


def test_sigmoid_units_with_large_weights_saturate():
    X, _ = batch()
    network = Network([20, 30, 10], "sigmoid", "sigmoid", "mse", dtype=np.float64)
    network.initialise("xavier", np.random.default_rng(0))
    Z, A = network.forward(X)
    calm = d.activity(network, Z, A)["saturated_fraction"]
    for l in (1, 2):
        network.W[l] *= 20
    Z, A = network.forward(X)
    hot = d.activity(network, Z, A)["saturated_fraction"]
    assert calm[0] < 0.05 and hot[0] > 0.5                  # the hidden layer: most entries
    assert len(hot) == 2 and hot[1] is None and calm[1] is None     # a sigmoid output is not counted
    assert hot[0] == np.mean((A[1] < 0.05) | (A[1] > 0.95))
    assert d.activity(network, Z, A)["dead_fraction"] is None        # no ReLU anywhere


def test_tanh_saturation_is_where_the_magnitude_passes_095():
    A = np.array([[0.0, 0.96, -0.99], [0.5, -0.2, 0.94]])
    assert d.saturated_fraction(A, "tanh") == pytest.approx(2 / 6)
    assert d.saturated_fraction(np.array([[0.01, 0.5, 0.97, 0.96]]), "sigmoid") == 0.75
    assert d.saturated_fraction(A, "relu") is None and d.saturated_fraction(A, "softmax") is None


def test_relu_units_with_very_negative_biases_are_dead():
    X, _ = batch()
    network = relu_network()
    Z, A = network.forward(X)
    alive = d.activity(network, Z, A)["dead_fraction"]
    network.b[1][...] = -1000
    Z, A = network.forward(X)
    dead = d.activity(network, Z, A)
    assert alive[0] < 0.3 and alive[1] is None              # the softmax output is never "dead"
    assert dead["dead_fraction"] == [1.0, None] and dead["saturated_fraction"] is None


@pytest.mark.parametrize("lr, more_dead", [(0.1, False), (100.0, True)])
def test_a_too_large_learning_rate_step_kills_relu_units(lr, more_dead):
    X, Y = batch()
    network = relu_network()
    Z, A = network.forward(X)
    before = d.activity(network, Z, A)["dead_fraction"][0]
    _, dW, db = network.gradients(X, Y)
    W_before = [None] + [w.copy() for w in network.W[1:]]
    SGD(lr).step(network.parameters(), [g for pair in zip(dW[1:], db[1:]) for g in pair])
    Z, A = network.forward(X)
    after = d.activity(network, Z, A)["dead_fraction"][0]
    assert (after > before + 0.3) == more_dead
    ratios = d.update_ratios(W_before, network.W)
    assert (min(ratios) > 1) == more_dead                    # the step is larger than the weights


def test_dead_units_over_a_set_taken_in_chunks():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(40, 30)) - 2.5                      # most units rarely active
    seen = None
    for start in range(0, 30, 7):
        seen = d.ever_active(Z[:, start:start + 7], seen)
    assert np.array_equal(seen, d.ever_active(Z))
    assert d.dead_fraction(seen) == np.mean(~(Z > 0).any(axis=1)) > 0


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_activity_over_chunks_equals_one_pass(activation):
    X, _ = batch(N=300)
    network = Network([20, 30, 25, 10], activation, dtype=np.float64).initialise("he", np.random.default_rng(1))
    network.b[2][:5] = -50                                   # five units of layer 2 dead (ReLU), saturated (tanh)
    counter = d.Activity(network)
    for start in range(0, 300, 70):
        counter.add(*network.forward(X[:, start:start + 70]))
    whole = d.activity(network, *network.forward(X))
    assert counter.fractions() == whole                       # counts, so exactly
    name = "dead_fraction" if activation == "relu" else "saturated_fraction"
    other = "saturated_fraction" if activation == "relu" else "dead_fraction"
    assert whole[other] is None and len(whole[name]) == 3 and whole[name][2] is None
    assert whole[name][1] >= 5 / 25
    assert d.Activity(network).fractions() == {"dead_fraction": None, "saturated_fraction": None}   # nothing seen


def test_of_step_measures_the_gradient_the_update_and_the_weights():
    X, Y = batch()
    network = relu_network()
    _, dW, db = network.gradients(X, Y)
    before = [None] + [w.copy() for w in network.W[1:]]
    SGD(0.5).step(network.parameters(), [g.copy() for pair in zip(dW[1:], db[1:]) for g in pair])
    step = d.of_step(before, network.W, dW)
    assert step["grad_norm"] == pytest.approx([np.linalg.norm(g) for g in dW[1:]])
    # plain SGD: ΔW = −α ∂C/∂W, so the update ratio is α‖g‖ / ‖W before‖
    assert step["update_ratio"] == pytest.approx([0.5 * np.linalg.norm(g) / np.linalg.norm(w)
                                                  for g, w in zip(dW[1:], before[1:])])
    assert step["weight_norm"] == pytest.approx([np.linalg.norm(w) for w in network.W[1:]])
    assert d.is_valid({**step, **d.activity(network, *network.forward(X))}, 2)


@pytest.mark.parametrize("value, layers, ok", [
    ({"grad_norm": [1.0, 2.0], "update_ratio": [1e-3, 2e-3], "weight_norm": [3, 4],
      "dead_fraction": [0.1, None], "saturated_fraction": None}, 2, True),
    ({"grad_norm": [1.0]}, None, True),
    ({"update_ratio": [None, 1e-3]}, None, True),            # W^1 was 0: no ratio
    ({"grad_norm": [None, 1.0]}, None, False),               # a gradient always has a norm
    ({"dead_fraction": [0.1, 0.2]}, None, False),            # the output layer is never counted
    ({"saturated_fraction": []}, None, False),
    ({"grad_norm": [1.0, 2.0]}, 3, False),                   # not one entry per layer
    ({"grad_norm": [1.0], "weight_norm": [1.0, 2.0]}, None, False),
    ({"dead_fraction": [1.5, None]}, None, False),
    ({"grad_norm": [-1.0]}, None, False),
    ({"grad_norm": [True]}, None, False),
    ({"grad_norm": None}, None, False),                      # only the fractions may be null as a whole
    ({"loss_norm": [1.0]}, None, False),
    ([1.0], None, False),
])
def test_is_valid(value, layers, ok):
    assert d.is_valid(value, layers) is ok
