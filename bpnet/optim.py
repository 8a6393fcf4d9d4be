"""Optimisers: gradient descent, momentum, Adam and AdamW, updating parameters in place.

Each optimiser takes the network's parameter list [(name, array), ...] and the
matching gradients, and changes the arrays in place (W^l ← W^l − α ∂C/∂W^l for
plain gradient descent). L2 weight decay adds λW^l to the weight gradients,
the gradient of (λ/2)‖W^l‖²; biases are not decayed.

The state (velocities, moments, step count, last learning rate) is a dict of
arrays so checkpoints can store it and ``--resume`` can carry on exactly where
training stopped. Its scalar entries are named in ``SCALARS``; the others are
named ``<slot>_<parameter>`` and shaped like that parameter.
"""

import numpy as np

SCALARS = ("t", "lr")


class Optimizer:
    """The shared part: learning rate, weight decay and the state dict.

    SGD and momentum only ever use the gradient multiplied by α. The training loop
    has :meth:`bpnet.network.Network.backward` deliver α·g (it scales the small Δᴸ,
    which is free) and says so with ``step(..., scaled=True)``; otherwise ``step``
    multiplies by :attr:`gradient_scale` itself. That saves one pass over every
    parameter per step: 0.3–0.4 ms of a 784-800-800-10 step of 8–14 ms, measured
    alternating the two updates inside one training process.

    The training loop goes one step further: it asks :meth:`gradient_buffers` where the
    backward pass should write α·g, and with what factor β for what those arrays hold
    (``Network.backward(..., out=, beta=)``), then calls ``step(..., accumulated=True)``.
    For most optimisers these are scratch arrays and β = 0; momentum gives its velocities.
    """

    slots = ()          # per-parameter state arrays, stored as "<slot>_<parameter>"
    scalars = ()        # entries of SCALARS this optimiser keeps
    decoupled = False   # weight decay applied by update() itself, not added to the gradient

    def __init__(self, lr, weight_decay=0.0):
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state = {}
        self._scratch = None

    @property
    def gradient_scale(self):
        """The factor the update applies to each gradient first: α, or 1 for Adam."""
        return self.lr

    def _slot(self, key, like):
        """A state array shaped like ``like``, created as zeros on first use."""
        if key not in self.state:
            self.state[key] = np.zeros_like(like)
        return self.state[key]

    def gradient_buffers(self, params):
        """(arrays shaped like ``params``, β): where the next step's scaled gradients go, each
        array ← α·g + β·array. Here scratch arrays, whose contents β = 0 discards."""
        layout = [(p.shape, p.dtype) for _, p in params]
        if self._scratch is None or [(a.shape, a.dtype) for a in self._scratch] != layout:
            self._scratch = [np.empty_like(param) for _, param in params]
        return self._scratch, 0.0

    def step(self, params, grads, scaled=False, accumulated=False):
        """Update the parameters in place. ``grads`` are overwritten (they are scratch space);
        ``scaled=True`` says they arrive already multiplied by :attr:`gradient_scale`, and
        ``accumulated=True`` that they are :meth:`gradient_buffers`' arrays, filled as it said."""
        scaled = scaled or accumulated
        scale = self.gradient_scale
        for (name, param), grad in zip(params, grads):
            one = param.dtype.type
            if not scaled and scale != 1.0:
                grad *= one(scale)
            # L2 decay: grad += λ·param (times the same scale), for weights only.
            if self.weight_decay and name.startswith("W") and not self.decoupled:
                grad += one(scale * self.weight_decay) * param
            self.update(name, param, grad)

    def load_state(self, state):
        self.state = {key: np.array(value) for key, value in state.items()}


class SGD(Optimizer):
    """Gradient descent (seed 001): p ← p − α g.  ``grad`` here is already α g."""

    def update(self, name, param, grad):
        param -= grad


class Momentum(Optimizer):
    """Heavy-ball momentum, as PyTorch writes it: v ← μ v + g, p ← p − α v.

    Stored as u = α v, which needs one pass fewer with α g given: u ← μ (α/α') u + α g,
    p ← p − u, where α' is the previous step's α (the ratio is 1 unless a schedule moves
    α; it keeps the two forms equal under a schedule too).

    In training, the first equation is done by the backward pass: :meth:`gradient_buffers`
    hands it the u arrays with β = μ (α/α'), so the weight gradient's product computes
    μ (α/α') u + α g straight into u (see bpnet.blas), and ``step(..., accumulated=True)``
    is left with p ← p − u.
    """

    slots, scalars = ("u",), ("lr",)

    def __init__(self, lr, momentum=0.9, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = float(momentum)
        self._mu, self._accumulated = self.momentum, False

    def _momentum(self):
        """μ (α/α'). The ratio is exactly 1 while α is constant; α' is never 0 (train.lr > 0,
        and a schedule reaches 0 only after the last step)."""
        previous = float(self.state.get("lr", self.lr))
        return self.momentum * (self.lr / previous) if previous > 0 else self.momentum

    def gradient_buffers(self, params):
        return [self._slot(f"u_{name}", param) for name, param in params], self._momentum()

    def step(self, params, grads, scaled=False, accumulated=False):
        self._mu, self._accumulated = self._momentum(), accumulated
        self.state["lr"] = np.array(self.lr)
        super().step(params, grads, scaled, accumulated)

    def update(self, name, param, grad):
        if self._accumulated:       # grad is u itself, already μ (α/α') u + α g (+ α λ p)
            param -= grad
            return
        u = self._slot(f"u_{name}", param)
        u *= param.dtype.type(self._mu)
        u += grad
        param -= u


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    p ← p − α m̂ / (√v̂ + ε) with the bias corrections m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)."""

    slots, scalars = ("m", "v"), ("t",)

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    @property
    def gradient_scale(self):
        return 1.0      # Adam divides by √v̂, so it needs the gradient itself

    def step(self, params, grads, scaled=False, accumulated=False):
        t = int(self.state.get("t", np.array(0))) + 1
        self.state["t"] = np.array(t)
        # α m̂/(√v̂ + ε) = α √(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε√(1−β₂ᵗ)): the formula exactly, with no
        # pass for the corrections. (The paper's "efficient version" adds ε itself to √v, which
        # moves a parameter with a tiny gradient less than the formula says.)
        self._step_size = self.lr * np.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        self._eps_t = self.eps * np.sqrt(1 - self.beta2 ** t)
        super().step(params, grads, scaled, accumulated)

    def update(self, name, param, grad):
        one = param.dtype.type
        m, v = self._slot(f"m_{name}", param), self._slot(f"v_{name}", param)
        m *= one(self.beta1)
        m += one(1 - self.beta1) * grad
        v *= one(self.beta2)
        v += one(1 - self.beta2) * np.square(grad, out=grad)
        denom = np.sqrt(v)
        denom += one(self._eps_t)
        param -= one(self._step_size) * m / denom                              # α m̂ / (√v̂ + ε)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled weight decay
    regularization"): p ← p − α (m̂/(√v̂ + ε) + λp) for the weights, the decay kept out of m and v,
    so that it is not divided by √v̂ (Adam's L2, λp added to g, decays weights with large
    gradients less). Biases are not decayed, as with bpnet's L2. PyTorch's AdamW is the same rule."""

    decoupled = True

    def update(self, name, param, grad):
        if self.weight_decay and name.startswith("W"):
            # p(1 − αλ) first: the Adam step below does not depend on p, so this is the formula.
            param *= param.dtype.type(1 - self.lr * self.weight_decay)
        super().update(name, param, grad)


OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "adam": Adam, "adamw": AdamW}


def make_optimizer(train_config):
    """The optimiser a :class:`bpnet.config.TrainConfig` asks for."""
    t = train_config
    if t.optimizer == "sgd":
        return SGD(t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "momentum":
        return Momentum(t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    if t.optimizer in ("adam", "adamw"):
        return OPTIMIZERS[t.optimizer](t.lr, beta1=t.beta1, beta2=t.beta2, weight_decay=t.weight_decay)
    raise ValueError(f"unknown optimizer {t.optimizer!r}")


def apply_max_norm(network, c):
    """Max-norm (Srivastava et al. 2014, section 5.1): every hidden unit j's incoming weight vector,
    row j of W^l for l = 1..L−1, is scaled back onto the ball ‖W^l_j‖ ≤ c after each step;
    rows inside it are left alone. The output layer is not constrained."""
    for l in range(1, network.L):
        W = network.W[l]                                                  # (n_l, n_{l-1})
        norms = np.sqrt(np.einsum("ij,ij->i", W, W))                      # (n_l,)
        if norms.max(initial=0.0) > c:
            c = W.dtype.type(c)
            W *= (c / np.maximum(norms, c))[:, None]                       # 1 where ‖W_j‖ ≤ c
