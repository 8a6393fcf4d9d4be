"""The network's math: gradient checks, the seeds' worked examples, and properties of the pieces."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bpnet import blas
from bpnet.gradcheck import check, numerical_derivative
from bpnet.network import (ACTIVATIONS, HEADS, Network, Workspace, draw_masks, dropout_rates, mnist_sizes,
                           parameter_sizes, softmax)

HEAD_NAMES = sorted(HEADS)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def small_batch(sizes, N=5, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    A0 = rng.uniform(0, 1, size=(sizes[0], N)).astype(dtype)
    Y = np.eye(sizes[-1], dtype=dtype)[:, rng.integers(0, sizes[-1], size=N)]
    return A0, Y


def make_net(sizes, activation="relu", head=("softmax", "cross_entropy"), seed=0, init="xavier",
             dtype=np.float64):
    net = Network(sizes, activation, *head, dtype=dtype)
    return net.initialise(init, np.random.default_rng(seed))


# ----------------------------------------------------------------------------- gradient checks

@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("head", HEAD_NAMES)
@pytest.mark.parametrize("sizes", [[6, 4], [6, 5, 4], [7, 5, 3, 4]])
def test_backprop_matches_finite_differences_for_every_entry(activation, head, sizes):
    net = make_net(sizes, activation, head, seed=len(sizes))
    A0, Y = small_batch(sizes, N=7, seed=1)
    results = check(net, A0, Y, eps=1e-6)
    assert [name for name, _, _ in results] == [name for name, _ in net.parameters()]
    for name, error, n in results:
        assert n == dict(net.parameters())[name].size          # every entry was checked
        assert error < 1e-6, f"{name}: relative error {error:.2e}"


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("head", HEAD_NAMES)
def test_backprop_with_fixed_dropout_masks_matches_finite_differences(activation, head):
    """BP2 with the mask: Δ^l = ((W^{l+1})ᵀΔ^{l+1} ⊙ σ'(Z^l)) ⊙ M^l, the input masked too. With the
    masks held fixed C is an ordinary function of the parameters, and backprop must be its gradient."""
    sizes = [7, 6, 5, 4]
    net = make_net(sizes, activation, head, seed=3)
    for l in range(1, net.L + 1):      # a column dropped whole gives Z = b: b = 0 would sit on ReLU's kink
        net.b[l][...] = np.random.default_rng(l).uniform(0.1, 0.3, size=net.b[l].shape)
    A0, Y = small_batch(sizes, N=9, seed=2)
    masks = draw_masks([0.3, 0.5, 0.25], sizes, 9, np.random.default_rng(4), np.float64)
    assert all(np.any(M == 0) and np.any(M > 1) for M in masks)          # some units dropped, some kept
    for name, error, _ in check(net, A0, Y, masks=masks):
        assert error < 1e-6, f"{name}: relative error {error:.2e}"
    # ...and the masks matter: the unmasked gradient is not the masked one.
    _, dW, _ = net.gradients(A0, Y)
    _, dW_masked, _ = net.gradients(A0, Y, masks)
    assert not np.allclose(dW[1], dW_masked[1])


def test_gradient_check_with_masks_catches_backward_ignoring_them():
    sizes = [7, 6, 4]
    net = make_net(sizes, "tanh")
    A0, Y = small_batch(sizes, N=9, seed=2)
    masks = draw_masks([0.0, 0.5], sizes, 9, np.random.default_rng(4), np.float64)
    Z, A = net.forward(A0, masks=masks)
    dW, _ = net.backward(Z, A, Y)                                  # forgets the masks: wrong
    numeric = numerical_derivative(net, A0, Y, net.W[1], (0, 0), masks=masks)
    right = net.gradients(A0, Y, masks)[1][1][0, 0]
    assert right == pytest.approx(numeric, rel=1e-6) and dW[1][0, 0] != pytest.approx(numeric, rel=1e-3)


def test_dropout_masks_keep_the_expected_activation():
    """Inverted dropout: E[A ⊙ M] = A, because M is 1/(1 − p) with probability 1 − p. The mean
    activation of a layer over many columns with masks is that without, within sampling error."""
    sizes = [50, 200, 10]
    net = make_net(sizes, init="he", dtype=np.float32)
    A0 = np.random.default_rng(0).uniform(0, 1, size=(50, 4000)).astype(np.float32)
    plain = net.forward(A0)[1][1].copy()
    for p in (0.2, 0.5):
        masks = draw_masks([0.0, p], sizes, 4000, np.random.default_rng(1), np.float32)
        kept = np.count_nonzero(masks[1]) / masks[1].size
        assert abs(kept - (1 - p)) < 0.01                              # 800,000 draws: σ ≈ 0.0006
        assert set(np.unique(masks[1])) == {0, np.float32(1 / (1 - p))}
        dropped = net.forward(A0, masks=masks)[1][1]
        assert dropped.mean() == pytest.approx(plain.mean(), rel=0.01)
        assert np.count_nonzero(dropped) < np.count_nonzero(plain)


def test_forward_without_masks_is_unchanged_by_dropout_elsewhere():
    """Eval and predict call forward without masks: a network trained with dropout evaluates its
    weights as they are, deterministically, and draw_masks leaves what it was given alone."""
    sizes = [6, 5, 4]
    net = make_net(sizes)
    A0, _ = small_batch(sizes)
    before = net.predict_proba(A0).copy()
    workspace = Workspace()
    masks = draw_masks([0.5, 0.5], sizes, A0.shape[1], np.random.default_rng(0), np.float64, workspace)
    A0_copy = A0.copy()
    net.forward(A0, workspace, masks)
    np.testing.assert_array_equal(A0, A0_copy)                       # the input is masked into a copy
    np.testing.assert_array_equal(net.predict_proba(A0), before)
    assert draw_masks([0.0, 0.0], sizes, 3, np.random.default_rng(0), np.float64) == [None, None]


def test_dropout_rates_of_a_model():
    from bpnet.config import from_dict
    assert dropout_rates(from_dict({"model": {"hidden": [8, 4], "dropout": 0.5}}).model) == [0.0, 0.5, 0.5]
    model = from_dict({"model": {"hidden": [8, 4], "dropout": [0.1, 0.3], "input_dropout": 0.2}}).model
    assert dropout_rates(model) == [0.2, 0.1, 0.3]
    assert dropout_rates(from_dict({"model": {"hidden": []}}).model) == [0.0]


def test_soft_targets_give_the_general_cost_and_pass_the_gradient_check():
    """Label smoothing: each column of Y sums to 1 but is not one-hot. The cost must be
    −(1/N) Σ Y ⊙ log A (not −log Σ Y ⊙ A), whose gradient Δᴸ = Aᴸ − Y is."""
    sizes = [6, 5, 4]
    net = make_net(sizes)
    A0, Y = small_batch(sizes, N=7, seed=1)
    smooth = 0.9 * Y + 0.1 / 4
    Z, A = net.forward(A0)
    assert net.cost(Z, A, smooth) == pytest.approx(-(smooth * np.log(A[-1])).sum() / 7, rel=1e-12)
    assert net.cost(Z, A, Y) == pytest.approx(-(Y * np.log(A[-1])).sum() / 7, rel=1e-12)
    two_ones = Y.copy()                                  # N ones in all, but two in column 0, none in 1
    two_ones[:, 1] = 0
    two_ones[(np.argmax(Y[:, 0]) + 1) % 4, 0] = 1
    assert np.count_nonzero(two_ones == 1) == 7 == np.count_nonzero(two_ones)
    assert net.cost(Z, A, two_ones) == pytest.approx(-(two_ones * np.log(A[-1])).sum() / 7, rel=1e-12)
    for name, error, _ in check(net, A0, smooth):
        assert error < 1e-6, f"{name}: relative error {error:.2e}"


def test_gradient_check_refuses_a_float32_network():
    net = make_net([6, 4], dtype=np.float32)
    with pytest.raises(ValueError, match="float32 network.*dtype=np.float64"):
        check(net, *small_batch([6, 4], dtype=np.float32))


def test_wrong_shapes_and_names_are_clear_errors():
    net = make_net([6, 5, 4])
    A0, Y = small_batch([6, 5, 4])
    with pytest.raises(ValueError, match=r"A0 must be a column matrix \(6, N\).*got shape \(6,\)"):
        net.forward(A0[:, 0])
    with pytest.raises(ValueError, match=r"got shape \(5, 6\)"):
        net.forward(A0.T)
    Z, A = net.forward(A0)
    with pytest.raises(ValueError, match=r"Y must be shaped like the output Aᴸ, \(4, 5\).*got \(5, 4\)"):
        net.backward(Z, A, Y.T)
    with pytest.raises(ValueError, match="unknown activation 'softmax'; expected one of relu, sigmoid, tanh"):
        Network([6, 4], activation="softmax")
    with pytest.raises(ValueError, match="no output head softmax \\+ mse"):
        Network([6, 4], output="softmax", loss="mse")


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    """The check must be able to fail: break BP2 (drop σ') and it does."""
    net = make_net([6, 5, 4], "sigmoid")
    A0, Y = small_batch([6, 5, 4])
    monkeypatch.setattr(ACTIVATIONS["sigmoid"], "prime", staticmethod(lambda Z, A: np.ones_like(A)))
    errors = dict((name, err) for name, err, _ in check(net, A0, Y))
    assert errors["W1"] > 1e-2
    assert errors["W2"] < 1e-6                              # the last layer does not use σ'


def test_gradient_shapes_equal_parameter_shapes():
    net = make_net([9, 7, 5, 3])
    _, dW, db = net.gradients(*small_batch([9, 7, 5, 3]))
    for l in range(1, net.L + 1):
        assert dW[l].shape == net.W[l].shape and db[l].shape == net.b[l].shape



@pytest.mark.parametrize("head", HEAD_NAMES)
def test_backward_scale_multiplies_every_gradient(head):
    """backward(scale=α) is α times the gradients (the training loop passes the learning rate)."""
    sizes = [9, 7, 5, 3]
    net = make_net(sizes, "relu", head)
    A0, Y = small_batch(sizes)
    _, dW, db = net.gradients(A0, Y)
    Z, A = net.forward(A0)
    dW_s, db_s = net.backward(Z, A, Y, scale=0.37)
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(dW_s[l], 0.37 * dW[l], rtol=1e-12)
        np.testing.assert_allclose(db_s[l], 0.37 * db[l], rtol=1e-12)

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.9])
def test_backward_into_given_arrays_is_scale_g_plus_beta_times_their_contents(dtype, beta, monkeypatch):
    """backward(out=(dW, db), beta=β): dW^l ← scale·∂C/∂W^l + β·dW^l, written into those arrays,
    through BLAS in training's own layouts (the threshold lowered so these small layers reach it)."""
    monkeypatch.setattr(blas, "MIN_BLAS_SIZE", 0)
    found = blas.available()                        # its own check calls _call: done before the spy
    calls, real_call = [], blas._call
    monkeypatch.setattr(blas, "_call", lambda *args: calls.append(args[3].shape) or real_call(*args))
    sizes = [9, 7, 5, 3]
    net = make_net(sizes, dtype=dtype)
    A0, Y = small_batch(sizes, dtype=dtype)
    _, dW, db = net.gradients(A0, Y)
    rng = np.random.default_rng(3)
    out_W = [None] + [np.asarray(rng.normal(size=W.shape), dtype, order="F") for W in net.W[1:]]
    out_b = [None] + [np.asarray(rng.normal(size=b.shape), dtype) for b in net.b[1:]]
    before = [a.copy() for a in out_W[1:] + out_b[1:]]
    Z, A = net.forward(A0)
    got_W, got_b = net.backward(Z, A, Y, scale=0.37, out=(out_W, out_b), beta=beta)
    assert all(g is o for g, o in zip(got_W[1:] + got_b[1:], out_W[1:] + out_b[1:]))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for got, g, old in zip(got_W[1:] + got_b[1:], dW[1:] + db[1:], before):
        np.testing.assert_allclose(got, 0.37 * g + beta * old, rtol=tol, atol=tol)
    # Every weight product with β ≠ 0 went through BLAS (test_blas checks it is found).
    assert len(calls) == (net.L if beta and found else 0)


# ----------------------------------------------------------------------------- independent oracles

@pytest.mark.parametrize("head", HEAD_NAMES)
def test_batched_gradients_are_the_mean_of_single_column_gradients(head):
    sizes = [6, 5, 4, 3]
    net = make_net(sizes, "tanh", head)
    A0, Y = small_batch(sizes, N=8)
    _, dW, db = net.gradients(A0, Y)
    singles = [net.gradients(A0[:, [n]], Y[:, [n]]) for n in range(8)]
    for l in range(1, net.L + 1):
        np.testing.assert_allclose(dW[l], np.mean([s[1][l] for s in singles], axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db[l], np.mean([s[2][l] for s in singles], axis=0), rtol=1e-12, atol=1e-15)


def test_per_weight_loops_equal_the_vectorised_gradients():
    """BP1-BP4 written entry by entry, as seed 000 states them, against the matrix form."""
    sizes = [4, 3, 2]
    net = make_net(sizes, "sigmoid", ("sigmoid", "mse"))
    A0, Y = small_batch(sizes, N=1)
    Z, A = net.forward(A0)
    _, dW, db = net.gradients(A0, Y)
    s_prime = lambda z: sigmoid(z) * (1 - sigmoid(z))
    delta = {2: [(A[2][j, 0] - Y[j, 0]) * s_prime(Z[2][j, 0]) for j in range(2)]}      # (1)
    delta[1] = [sum(net.W[2][k, j] * delta[2][k] for k in range(2)) * s_prime(Z[1][j, 0])
                for j in range(3)]                                                      # (2)
    for l in (1, 2):
        for j in range(sizes[l]):
            assert db[l][j, 0] == pytest.approx(delta[l][j], rel=1e-12)                 # (3)
            for k in range(sizes[l - 1]):
                assert dW[l][j, k] == pytest.approx(A[l - 1][k, 0] * delta[l][j], rel=1e-12)  # (4)


# ----------------------------------------------------------------------------- the seeds' examples

def test_seed_003_worked_example_3_4_2_sigmoid_network():
    """Seed 003: n1..n3 input, n4..n7 hidden, n8, n9 output, E = ½((n8 − y1)² + (n9 − y2)²).

    ∂E/∂w48 = (n8 − y1) σ'8 n4;  ∂E/∂b8 = (n8 − y1) σ'8;
    ∂E/∂w14 = ((n8 − y1) σ'8 w48 + (n9 − y2) σ'9 w49) σ'4 n1;  ∂E/∂b4 = (…) σ'4.
    W^1 row j holds the weights into hidden neuron n_{4+j}; W^2 row 0 those into n8.
    (The seed drops b9 for b8 inside σ'8 in one line; we use the derivation's b8.)
    """
    net = make_net([3, 4, 2], "sigmoid", ("sigmoid", "mse"), init="uniform", seed=3)
    x = np.array([[0.05], [0.9], [0.4]])
    y = np.array([[1.0], [0.0]])
    n4_7 = sigmoid(net.W[1] @ x + net.b[1])
    z8, z9 = (net.W[2] @ n4_7 + net.b[2])[:, 0]
    n8, n9 = sigmoid(z8), sigmoid(z9)
    s8, s9 = n8 * (1 - n8), n9 * (1 - n9)
    n4 = n4_7[0, 0]
    s4 = n4 * (1 - n4)
    w48, w49 = net.W[2][0, 0], net.W[2][1, 0]

    cost, dW, db = net.gradients(x, y)
    assert cost == pytest.approx(0.5 * ((n8 - y[0, 0]) ** 2 + (n9 - y[1, 0]) ** 2))
    assert dW[2][0, 0] == pytest.approx((n8 - y[0, 0]) * s8 * n4, rel=1e-12)
    assert db[2][0, 0] == pytest.approx((n8 - y[0, 0]) * s8, rel=1e-12)
    back = (n8 - y[0, 0]) * s8 * w48 + (n9 - y[1, 0]) * s9 * w49
    assert dW[1][0, 0] == pytest.approx(back * s4 * x[0, 0], rel=1e-12)
    assert db[1][0, 0] == pytest.approx(back * s4, rel=1e-12)


def test_seed_001_output_error_is_A_minus_Y():
    """Seed 001: for softmax + cross-entropy, δᴸ = ∂C/∂zᴸ = aᴸ − y (checked against dC/dZᴸ
    numerically)."""
    head = HEADS[("softmax", "cross_entropy")]
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(10, 4))
    Y = np.eye(10)[:, [3, 1, 4, 1]]
    A = softmax(Z)
    delta = head.delta(Z, A, Y)
    np.testing.assert_allclose(delta, A - Y)
    eps = 1e-6
    for i, n in [(0, 0), (3, 0), (7, 2), (1, 3)]:
        Zp, Zm = Z.copy(), Z.copy()
        Zp[i, n] += eps
        Zm[i, n] -= eps
        # C is the mean over N = 4 columns, so N · ∂C/∂Z_in is the single example's δ.
        numeric = 4 * (head.cost(Zp, softmax(Zp), Y) - head.cost(Zm, softmax(Zm), Y)) / (2 * eps)
        assert numeric == pytest.approx(delta[i, n], abs=1e-8)


def test_seed_001_full_batch_update_by_hand():
    """One step of seed 001's gradient descent on a 3-column batch, with the sums spelt out."""
    net = make_net([4, 3, 2], "relu", seed=5)
    A0, Y = small_batch([4, 3, 2], N=3, seed=2)
    W1, W2 = net.W[1].copy(), net.W[2].copy()
    Z1 = W1 @ A0 + net.b[1]
    A1 = np.maximum(Z1, 0)
    Z2 = W2 @ A1 + net.b[2]
    A2 = np.exp(Z2) / np.exp(Z2).sum(axis=0)
    D2 = A2 - Y                                  # Δ(2) = A(2) − Y
    D1 = (Z1 > 0) * (W2.T @ D2)                  # Δ(1) = ReLU'(Z(1)) ⊙ (W(2))ᵀ Δ(2)
    _, dW, db = net.gradients(A0, Y)
    np.testing.assert_allclose(dW[1], D1 @ A0.T / 3)
    np.testing.assert_allclose(dW[2], D2 @ A1.T / 3)
    np.testing.assert_allclose(db[1], D1.sum(axis=1, keepdims=True) / 3)
    np.testing.assert_allclose(db[2], D2.sum(axis=1, keepdims=True) / 3)


def test_seed_004_dimensions():
    """Seed 004's 3-layer example: [W¹] 4×3, [W²] 2×4; ∂C/∂W² = δ²(a¹)ᵀ is 2×4, ∂C/∂W¹ is 4×3."""
    net = make_net([3, 4, 2], "sigmoid", ("sigmoid", "mse"))
    Z, A = net.forward(np.ones((3, 1)))
    assert [a.shape for a in A] == [(3, 1), (4, 1), (2, 1)]
    _, dW, _ = net.gradients(np.ones((3, 1)), np.array([[1.0], [0.0]]))
    assert dW[2].shape == (2, 4) and dW[1].shape == (4, 3)


# ----------------------------------------------------------------------------- pieces

@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (10, 3), elements=st.floats(-1e3, 1e3)), st.floats(-1e3, 1e3))
def test_softmax_columns_sum_to_one_and_ignore_shifts(Z, c):
    A = softmax(Z)
    assert np.all(np.isfinite(A)) and np.all(A >= 0)
    np.testing.assert_allclose(A.sum(axis=0), 1.0)
    np.testing.assert_allclose(softmax(Z + c), A, atol=1e-12)


def test_softmax_cost_is_finite_for_extreme_logits():
    head = HEADS[("softmax", "cross_entropy")]
    Z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    Y = np.array([[0.0, 0.0], [1.0, 1.0]])
    assert head.cost(Z, softmax(Z), Y) == pytest.approx(1000.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [1.0, 30.0, 200.0])
def test_softmax_cost_equals_log_sum_exp(dtype, spread):
    """The cost taken from Aᴸ equals −(1/N) Σ Y log softmax(Z) by log-sum-exp, including
    columns whose target probability underflows (spread 200: losses in the hundreds)."""
    rng = np.random.default_rng(3)
    Z = (rng.standard_normal((10, 64)) * spread).astype(dtype)
    Y = np.zeros((10, 64), dtype)
    Y[rng.integers(0, 10, 64), np.arange(64)] = 1
    Z64 = Z.astype(np.float64)
    shifted = Z64 - Z64.max(axis=0)
    expected = -(Y * (shifted - np.log(np.exp(shifted).sum(axis=0)))).sum() / 64
    cost = HEADS[("softmax", "cross_entropy")].cost(Z, softmax(Z), Y)
    assert cost == pytest.approx(expected, rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name):
    act = ACTIVATIONS[name]
    Z = np.linspace(-3, 3, 41) + 0.013          # avoids ReLU's kink at exactly 0
    eps = 1e-6
    numeric = (act.forward(Z + eps) - act.forward(Z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.prime(Z, act.forward(Z)), numeric, atol=1e-8)


def test_sigmoid_saturates_without_nan():
    A = ACTIVATIONS["sigmoid"].forward(np.array([-1e4, 0.0, 1e4], dtype=np.float32))
    np.testing.assert_array_equal(A, np.array([0.0, 0.5, 1.0], dtype=np.float32))


def test_float32_stays_float32_end_to_end():
    net = make_net([8, 6, 4], dtype=np.float32)
    A0, Y = small_batch([8, 6, 4], dtype=np.float32)
    Z, A = net.forward(A0)
    dW, db = net.backward(Z, A, Y)
    arrays_ = [a for a in Z[1:] + A + dW[1:] + db[1:]]
    assert {a.dtype for a in arrays_} == {np.dtype(np.float32)}


def test_workspace_gives_the_same_results_as_fresh_arrays():
    net = make_net([8, 6, 5, 4], dtype=np.float32)
    A0, Y = small_batch([8, 6, 5, 4], dtype=np.float32)
    ws = Workspace()
    for _ in range(2):                              # the second call reuses the buffers
        Z, A = net.forward(A0, ws)
        dW, db = net.backward(Z, A, Y, ws)
    _, dW_ref, db_ref = net.gradients(A0, Y)
    for l in range(1, net.L + 1):
        np.testing.assert_array_equal(dW[l], dW_ref[l])
        np.testing.assert_array_equal(db[l], db_ref[l])


def test_initialisation_is_deterministic_and_scaled():
    a = make_net([784, 300, 10], init="he", seed=7, dtype=np.float32)
    b = make_net([784, 300, 10], init="he", seed=7, dtype=np.float64)
    np.testing.assert_array_equal(a.W[1], b.W[1].astype(np.float32))   # same draws for both dtypes
    assert a.W[1].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    x = make_net([784, 300, 10], init="xavier", seed=7)
    assert x.W[1].std() == pytest.approx(np.sqrt(2 / (784 + 300)), rel=0.02)
    u = make_net([784, 300, 10], init="uniform", seed=7)
    assert u.W[1].min() >= -0.5 and u.W[1].max() < 0.5 and u.b[1].std() > 0.2
    assert np.all(a.b[1] == 0)
    assert not np.array_equal(make_net([784, 300, 10], init="he", seed=8).W[1], b.W[1])


def test_numerical_derivative_restores_the_parameter():
    net = make_net([4, 3])
    before = net.W[1].copy()
    numerical_derivative(net, *small_batch([4, 3]), net.W[1], (1, 2))
    np.testing.assert_array_equal(net.W[1], before)


def test_backward_refuses_a_beta_without_arrays_to_apply_it_to():
    net = make_net([6, 5, 4])
    A0, Y = small_batch([6, 5, 4])
    Z, A = net.forward(A0)
    with pytest.raises(ValueError, match="beta needs out="):
        net.backward(Z, A, Y, beta=0.9)


def test_parameter_sizes_count_every_entry_of_a_network():
    sizes = [784, 30, 10]
    assert mnist_sizes([30]) == sizes
    assert parameter_sizes(sizes) == {"W1": 784 * 30, "b1": 30, "W2": 30 * 10, "b2": 10}
    assert sum(parameter_sizes(sizes).values()) == Network(sizes).n_parameters()
