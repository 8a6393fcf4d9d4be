"""Optimisers: gradient descent, momentum and Adam, updating parameters in place.

Each optimiser takes the network's parameter list [(name, array), ...] and the
matching gradients, and changes the arrays in place (W^l ← W^l − α ∂C/∂W^l for
plain gradient descent). L2 weight decay adds λW^l to the weight gradients,
the gradient of (λ/2)‖W^l‖²; biases are not decayed.

The state (velocities, moments, step count) is a dict of arrays so checkpoints
can store it and ``--resume`` can carry on exactly where training stopped.
"""

import numpy as np


class Optimizer:
    """The shared part: learning rate, weight decay and the state dict."""

    def __init__(self, lr, weight_decay=0.0):
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state = {}

    def _decay(self, name, param, grad):
        """grad += λ·param for weights (names W1..WL), in place."""
        if self.weight_decay and name.startswith("W"):
            grad += param.dtype.type(self.weight_decay) * param

    def _slot(self, key, like):
        """A state array shaped like ``like``, created as zeros on first use."""
        if key not in self.state:
            self.state[key] = np.zeros_like(like)
        return self.state[key]

    def step(self, params, grads):
        for (name, param), grad in zip(params, grads):
            self._decay(name, param, grad)
            self.update(name, param, grad)

    def load_state(self, state):
        self.state = {key: np.array(value) for key, value in state.items()}


class SGD(Optimizer):
    """Gradient descent (seed 001): p ← p − α g."""

    def update(self, name, param, grad):
        # Scaling the gradient in place (it is recomputed next step) saves a temporary.
        grad *= param.dtype.type(self.lr)
        param -= grad


class Momentum(Optimizer):
    """Heavy-ball momentum, as PyTorch writes it: v ← μ v + g, p ← p − α v."""

    def __init__(self, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = float(momentum)

    def update(self, name, param, grad):
        v = self._slot(f"v_{name}", param)
        v *= param.dtype.type(self.momentum)
        v += grad
        np.multiply(v, param.dtype.type(self.lr), out=grad)   # grad is free now: reuse it for α v
        param -= grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    p ← p − α m̂ / (√v̂ + ε) with the bias corrections m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)."""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def step(self, params, grads):
        t = int(self.state.get("t", np.array(0))) + 1
        self.state["t"] = np.array(t)
        self._alpha_t = self.lr * np.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        super().step(params, grads)

    def update(self, name, param, grad):
        one = param.dtype.type
        m, v = self._slot(f"m_{name}", param), self._slot(f"v_{name}", param)
        m *= one(self.beta1)
        m += one(1 - self.beta1) * grad
        v *= one(self.beta2)
        v += one(1 - self.beta2) * np.square(grad, out=grad)
        # The bias corrections folded into one step size (the paper's "efficient version").
        denom = np.sqrt(v)
        denom += one(self.eps)
        param -= one(self._alpha_t) * m / denom


def make_optimizer(train_config):
    """The optimiser a :class:`bpnet.config.TrainConfig` asks for."""
    t = train_config
    if t.optimizer == "sgd":
        return SGD(t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "momentum":
        return Momentum(t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return Adam(t.lr, beta1=t.beta1, beta2=t.beta2, weight_decay=t.weight_decay)
    raise ValueError(f"unknown optimizer {t.optimizer!r}")
