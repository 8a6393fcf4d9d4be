"""Optimisers: one step worked out by hand for each, weight decay, state round trip."""

import numpy as np
import pytest

from bpnet.config import TrainConfig
from bpnet.optim import SCALARS, SGD, Adam, AdamW, Momentum, make_optimizer


def params_and_grads():
    W = np.array([[1.0, -2.0], [0.5, 0.0]])
    b = np.array([[0.1], [-0.1]])
    return [("W1", W), ("b1", b)], [np.array([[0.5, 0.5], [-1.0, 2.0]]), np.array([[1.0], [0.0]])]


def test_sgd_step_is_p_minus_lr_g():
    params, grads = params_and_grads()
    SGD(lr=0.1).step(params, [g.copy() for g in grads])
    # W − 0.1·g: 1 − 0.05 = 0.95, −2 − 0.05 = −2.05, 0.5 + 0.1 = 0.6, 0 − 0.2 = −0.2
    np.testing.assert_allclose(params[0][1], [[0.95, -2.05], [0.6, -0.2]])
    np.testing.assert_allclose(params[1][1], [[0.0], [-0.1]])


def test_momentum_two_steps_by_hand():
    params, grads = params_and_grads()
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.step(params, [g.copy() for g in grads])          # v = g;            W −= 0.1 g
    opt.step(params, [g.copy() for g in grads])          # v = 0.9 g + g;    W −= 0.1 · 1.9 g
    W0, g = params_and_grads()[0][0][1], grads[0]
    np.testing.assert_allclose(params[0][1], W0 - 0.1 * g - 0.19 * g)
    np.testing.assert_allclose(opt.state["u_W1"], 0.1 * 1.9 * g)     # u = α v


def test_adam_first_step_moves_each_entry_by_about_lr():
    params, grads = params_and_grads()
    opt = Adam(lr=0.01)
    W0 = params[0][1].copy()
    opt.step(params, [g.copy() for g in grads])
    # After bias correction m̂ = g and v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
    np.testing.assert_allclose(params[0][1], W0 - 0.01 * np.sign(grads[0]), atol=1e-7)
    assert int(opt.state["t"]) == 1


def test_adam_is_its_formula_step_by_step():
    """p ← p − α m̂/(√v̂ + ε), written out in float64 for five steps of changing gradients;
    a gradient of 1e-7 (where ε matters) included."""
    rng = np.random.default_rng(0)
    params, _ = params_and_grads()
    W, b = params[0][1].copy(), params[1][1].copy()
    m, v = [np.zeros_like(W), np.zeros_like(b)], [np.zeros_like(W), np.zeros_like(b)]
    opt, lr, b1, b2, eps = Adam(lr=0.5, eps=1e-6), 0.5, 0.9, 0.999, 1e-6
    for t in range(1, 6):
        grads = [rng.normal(size=W.shape), np.array([[1e-7], [-2e-7]])]
        opt.step(params, [g.copy() for g in grads])
        for k, (p, g) in enumerate(zip((W, b), grads)):
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            p -= lr * (m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(params[0][1], W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(params[1][1], b, rtol=1e-12, atol=1e-15)
    # One step of g = 1e-7 moves b by α·g/(g + ε) = 0.5/11 each time, not α·g/(g + ε/√(1−β₂)).
    assert abs(b[0, 0] - 0.1 + 5 * 0.5 * 1e-7 / (1e-7 + 1e-6)) < 1e-12


def test_adamw_is_its_formula_step_by_step():
    """AdamW (Loshchilov & Hutter 2019): p ← p − α(m̂/(√v̂ + ε) + λp) on the weights, with m and v
    the moments of the gradient alone; biases move by Adam's step only. Five steps, α moving."""
    rng = np.random.default_rng(1)
    params, _ = params_and_grads()
    W, b = params[0][1].copy(), params[1][1].copy()
    m, v = [np.zeros_like(W), np.zeros_like(b)], [np.zeros_like(W), np.zeros_like(b)]
    opt, b1, b2, eps, lam = AdamW(lr=0.1, weight_decay=0.3), 0.9, 0.999, 1e-8, 0.3
    for t, lr in enumerate((0.1, 0.05, 0.2, 0.1, 0.01), start=1):
        opt.lr = lr
        grads = [rng.normal(size=W.shape), rng.normal(size=b.shape)]
        opt.step(params, [g.copy() for g in grads])
        for k, (p, g) in enumerate(zip((W, b), grads)):
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            decay = lam * p if k == 0 else 0.0
            p -= lr * ((m[k] / (1 - b1 ** t)) / (np.sqrt(v[k] / (1 - b2 ** t)) + eps) + decay)
        np.testing.assert_allclose(params[0][1], W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(params[1][1], b, rtol=1e-12, atol=1e-15)


def test_adamw_decay_is_not_adams_l2():
    """With zero gradients Adam's L2 moves each weight by about α·sign(W) (λW normalised by √v̂);
    AdamW shrinks it by the factor 1 − αλ. Without decay the two are the same optimiser."""
    params, grads = params_and_grads()
    zero = [np.zeros_like(g) for g in grads]
    W0 = params[0][1].copy()
    l2 = [(n, p.copy()) for n, p in params]
    AdamW(lr=0.01, weight_decay=0.5).step(params, [z.copy() for z in zero])
    Adam(lr=0.01, weight_decay=0.5).step(l2, [z.copy() for z in zero])
    np.testing.assert_allclose(params[0][1], W0 * (1 - 0.01 * 0.5), rtol=1e-12)
    np.testing.assert_allclose(l2[0][1], W0 - 0.01 * np.sign(W0), atol=1e-7)
    a, b = params_and_grads()[0], params_and_grads()[0]
    Adam(lr=0.01).step(a, [g.copy() for g in grads])
    AdamW(lr=0.01).step(b, [g.copy() for g in grads])
    for (_, x), (_, y) in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_weight_decay_applies_to_weights_not_biases():
    params, grads = params_and_grads()
    zero = [np.zeros_like(g) for g in grads]
    SGD(lr=0.1, weight_decay=0.5).step(params, zero)
    W0, b0 = params_and_grads()[0][0][1], params_and_grads()[0][1][1]
    np.testing.assert_allclose(params[0][1], W0 * (1 - 0.1 * 0.5))   # gradient of (λ/2)‖W‖² is λW
    np.testing.assert_allclose(params[1][1], b0)


def test_float32_parameters_stay_float32():
    W = np.ones((3, 3), np.float32)
    for opt in (SGD(0.1), Momentum(0.1, 0.9), Adam(0.1), AdamW(0.1, weight_decay=0.1)):
        opt.step([("W1", W)], [np.full((3, 3), 0.5, np.float32)])
        slots = [v for k, v in opt.state.items() if k not in SCALARS]
        assert W.dtype == np.float32 and all(v.dtype == np.float32 for v in slots)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw"])
def test_state_round_trip_continues_identically(name):
    config = TrainConfig(optimizer=name, lr=0.05)
    a, b = make_optimizer(config), make_optimizer(config)
    pa, grads = params_and_grads()
    pb = [(n, p.copy()) for n, p in pa]
    a.step(pa, [g.copy() for g in grads])
    b.step(pb, [g.copy() for g in grads])
    b2 = make_optimizer(config)
    b2.load_state({k: v.copy() for k, v in b.state.items()})
    a.step(pa, [g.copy() for g in grads])
    b2.step(pb, [g.copy() for g in grads])
    for (_, x), (_, y) in zip(pa, pb):
        np.testing.assert_array_equal(x, y)


def test_momentum_under_a_changing_lr_is_pytorchs_form():
    """u = αv with the ratio α/α' equals v ← μv + g, p ← p − αv step for step, α moving."""
    params, grads = params_and_grads()
    opt = Momentum(lr=0.1, momentum=0.9)
    W = params[0][1].copy()
    v = np.zeros_like(W)
    for lr in (0.1, 0.05, 0.2, 0.01):
        opt.lr = lr
        opt.step(params, [g.copy() for g in grads])
        v = 0.9 * v + grads[0]
        W = W - lr * v
        np.testing.assert_allclose(params[0][1], W, rtol=1e-12)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw"])
def test_prescaled_gradients_give_the_same_step(name):
    """step(grads · gradient_scale, scaled=True), as the training loop calls it, equals step(grads)."""
    config = TrainConfig(optimizer=name, lr=0.05, weight_decay=0.01)
    a, b = make_optimizer(config), make_optimizer(config)
    pa, grads = params_and_grads()
    pb = [(n, p.copy()) for n, p in pa]
    for _ in range(3):
        a.step(pa, [g.copy() for g in grads])
        b.step(pb, [g * b.gradient_scale for g in grads], scaled=True)
    for (_, x), (_, y) in zip(pa, pb):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    assert (a.gradient_scale == 1.0) == (name in ("adam", "adamw"))


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "adamw"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_gradients_written_into_gradient_buffers_give_the_same_steps(name, weight_decay):
    """The training loop's form: backward fills gradient_buffers' arrays (α·g + β·array; for
    momentum that is u ← μu + αg), then step(accumulated=True). Same parameters as step(g),
    with α moving between steps as a schedule moves it."""
    config = TrainConfig(optimizer=name, lr=0.05, weight_decay=weight_decay)
    a, b = make_optimizer(config), make_optimizer(config)
    pa, grads = params_and_grads()
    pb = [(n, p.copy()) for n, p in pa]
    for step, lr in enumerate((0.05, 0.05, 0.02, 0.08)):
        a.lr = b.lr = lr
        g_t = [g * (1 + step) for g in grads]                 # a different gradient each step
        a.step(pa, [g.copy() for g in g_t])
        buffers, beta = b.gradient_buffers(pb)
        for buffer, g in zip(buffers, g_t):                   # what backward(out=, beta=) does
            buffer[...] = b.gradient_scale * g + beta * buffer
        b.step(pb, buffers, accumulated=True)
        for (_, x), (_, y) in zip(pa, pb):
            np.testing.assert_allclose(x, y, rtol=1e-12)
    for key in a.state:
        np.testing.assert_allclose(a.state[key], b.state[key], rtol=1e-12)
    # Only momentum's buffers are its state (its velocities); the others are scratch.
    assert any(buffers[0] is value for value in b.state.values()) == (name == "momentum")


def test_momentum_beta_is_mu_times_the_ratio_of_learning_rates():
    params, _ = params_and_grads()
    opt = Momentum(lr=0.1, momentum=0.9)
    assert opt.gradient_buffers(params)[1] == 0.9               # no previous α yet
    opt.step(params, [np.zeros_like(p) for _, p in params])
    opt.lr = 0.05
    assert opt.gradient_buffers(params)[1] == pytest.approx(0.9 * 0.05 / 0.1)


def test_scratch_buffers_follow_the_parameters_dtype():
    opt = SGD(lr=0.1)
    params32 = [("W1", np.zeros((2, 2), np.float32))]
    params64 = [("W1", np.zeros((2, 2), np.float64))]
    assert opt.gradient_buffers(params32)[0][0].dtype == np.float32
    assert opt.gradient_buffers(params64)[0][0].dtype == np.float64


def test_max_norm_rescales_only_rows_above_c_of_hidden_layers():
    from bpnet.network import Network
    from bpnet.optim import apply_max_norm

    net = Network([4, 3, 2], dtype=np.float32)
    net.W[1][...] = [[3, 4, 0, 0], [0.3, 0.4, 0, 0], [0, 0, 0, 10]]          # row norms 5, 0.5, 10
    net.W[2][...] = 100
    apply_max_norm(net, 2.0)
    np.testing.assert_allclose(net.W[1], [[1.2, 1.6, 0, 0], [0.3, 0.4, 0, 0], [0, 0, 0, 2]], rtol=1e-6)
    assert (net.W[2] == 100).all()                                           # the output layer is free
    assert net.W[1].dtype == np.float32 and net.W[1].flags.f_contiguous
