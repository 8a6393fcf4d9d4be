"""The multilayer perceptron of the seeds: forward pass and backpropagation.

Notation (seed 001, seed 004): layer l = 1..L has weights W^l of shape
(n_l, n_{l-1}) and biases b^l of shape (n_l, 1); a batch is a column matrix
A⁰ of shape (n_0, N), one example per column, with one-hot targets Y (n_L, N).

    Z^l = W^l A^{l-1} + b^l            A^l = σ(Z^l)             (forward)
    Δᴸ  = ∂C/∂Zᴸ  (from the output head, e.g. Aᴸ − Y)           (BP1)
    Δ^l = (W^{l+1})ᵀ Δ^{l+1} ⊙ σ'(Z^l)                          (BP2)
    ∂C/∂W^l = (1/N) Δ^l (A^{l-1})ᵀ      ∂C/∂b^l = (1/N) Σ_n Δ^l  (BP4, BP3)

Python lists are indexed like the superscripts: ``W[l]``, ``b[l]``, ``Z[l]``,
``A[l]`` for l = 1..L, ``A[0]`` is the input and ``W[0]``, ``Z[0]`` are None.
This module imports nothing from training.
"""

import numpy as np

from . import blas
from .data import N_CLASSES, N_PIXELS

# ----------------------------------------------------------------------------- activations
# Each activation gives σ(Z) and σ'(Z). σ' is also handed A = σ(Z), because for the
# sigmoid and tanh the derivative is cheapest written in terms of the output.


class ReLU:
    name = "relu"
    prime_reads_A = False           # σ' from Z alone (see Network.backward with dropout)

    @staticmethod
    def forward(Z, out=None):
        """ReLU(Z) = max(Z, 0)."""
        return np.maximum(Z, 0, out=out)

    @staticmethod
    def prime(Z, A):
        """ReLU'(Z) = 1 where Z > 0, else 0 (a boolean mask; multiplying by it is exact)."""
        return Z > 0


class Sigmoid:
    name = "sigmoid"
    prime_reads_A = True

    @staticmethod
    def forward(Z, out=None):
        """σ(Z) = 1 / (1 + e^{−Z}); e^{−Z} overflowing to inf gives the right limit, 0."""
        with np.errstate(over="ignore"):
            out = np.exp(np.negative(Z, out=out), out=out)
        out += 1
        return np.reciprocal(out, out=out)

    @staticmethod
    def prime(Z, A):
        """σ'(Z) = σ(Z)(1 − σ(Z)) = A(1 − A)."""
        return A * (1 - A)


class Tanh:
    name = "tanh"
    prime_reads_A = True

    @staticmethod
    def forward(Z, out=None):
        return np.tanh(Z, out=out)

    @staticmethod
    def prime(Z, A):
        """tanh'(Z) = 1 − tanh²(Z) = 1 − A²."""
        return 1 - A * A


ACTIVATIONS = {cls.name: cls for cls in (ReLU, Sigmoid, Tanh)}


# ----------------------------------------------------------------------------- output heads
# A head is the output activation together with its cost: it gives Aᴸ, the cost C
# (the mean over the N columns) and the output error Δᴸ = ∂C/∂Zᴸ for one example.


def softmax(Z, out=None):
    """Column-wise softmax, (n_L, N): e^{Z_ij} / Σ_i e^{Z_ij}, stable by subtracting each column's max."""
    out = np.subtract(Z, Z.max(axis=0), out=out)
    np.exp(out, out=out)
    # The column sums as 𝟙ᵀ E, a BLAS product: 3-6x faster than out.sum(axis=0) here.
    out /= np.matmul(np.ones(out.shape[0], out.dtype), out)
    return out


class SoftmaxCrossEntropy:
    name = ("softmax", "cross_entropy")

    @staticmethod
    def forward(Z, out=None):
        return softmax(Z, out=out)

    @staticmethod
    def cost(Z, A, Y):
        """C = −(1/N) Σ_n Σ_i Y_in log A_in, which is −(1/N) Σ_n log A_{y_n, n} for one-hot Y.

        For one-hot Y (what bpnet's data gives) it is taken from the softmax the forward pass
        already computed: one pass to pick each column's A_{y_n, n}, and N logarithms instead
        of n_L·N exponentials and logarithms. Any other Y (soft targets, label smoothing), or
        a picked probability that underflowed below the smallest normal float (a loss above
        about 87 in float32), gets log-sum-exp on Z: the exact value instead of log 0.
        """
        N = Y.shape[1]
        # N entries are nonzero and all of them are 1 (3 µs here; a column-wise max took 12). A Y
        # like that with two 1s in a column has an empty column too, whose picked 0 lands below.
        if np.count_nonzero(Y) == N == np.count_nonzero(Y == 1):
            picked = np.einsum("in,in->n", A, Y)                               # (N,)
            if picked.min() >= np.finfo(A.dtype).tiny:
                return float(-np.log(picked).sum() / N)
        shifted = Z - Z.max(axis=0)
        log_A = shifted - np.log(np.exp(shifted).sum(axis=0))
        return float(-(Y * log_A).sum() / N)

    @staticmethod
    def delta(Z, A, Y, out=None):
        """Δᴸ = Aᴸ − Y: the softmax Jacobian and the derivative of −log cancel (seed 001, appendix),
        for every Y whose columns sum to 1."""
        return np.subtract(A, Y, out=out)


class SigmoidMSE:
    name = ("sigmoid", "mse")

    @staticmethod
    def forward(Z, out=None):
        return Sigmoid.forward(Z, out=out)

    @staticmethod
    def cost(Z, A, Y):
        """The quadratic cost of seeds 000 and 003: C = (1/2N) Σ_n ‖y(x) − aᴸ(x)‖²."""
        return float(0.5 * np.square(A - Y).sum() / Y.shape[1])

    @staticmethod
    def delta(Z, A, Y, out=None):
        """Δᴸ = ∇_a C ⊙ σ'(Zᴸ) = (Aᴸ − Y) ⊙ Aᴸ(1 − Aᴸ)   (BP1)."""
        out = np.subtract(A, Y, out=out)
        out *= Sigmoid.prime(Z, A)
        return out


HEADS = {cls.name: cls for cls in (SoftmaxCrossEntropy, SigmoidMSE)}

INIT_SCHEMES = ("he", "xavier", "uniform")        # see Network.initialise


# ----------------------------------------------------------------------------- buffers

class Workspace:
    """Arrays reused from one training step to the next, so a step allocates no large arrays.

    Without a workspace every call allocates fresh arrays, which is what a notebook
    wants; the training loop passes one because allocation and page faults cost
    as much as the small matrix products themselves.
    """

    def __init__(self):
        self.arrays = {}

    def get(self, name, l, shape, dtype, order):
        key = (name, l, shape)
        if key not in self.arrays:
            self.arrays[key] = np.empty(shape, dtype=dtype, order=order)
        return self.arrays[key]


def _empty(workspace, name, l, shape, dtype, order="F"):
    """A new or reused array. Layer matrices (n_l, N) are stored in order "F" (example-major):
    each example's column is contiguous, like the uint8 rows the batch was gathered from."""
    if workspace is None:
        return np.empty(shape, dtype=dtype, order=order)
    return workspace.get(name, l, shape, dtype, order)


# ----------------------------------------------------------------------------- dropout

def draw_masks(rates, sizes, N, rng, dtype, workspace=None):
    """Inverted-dropout masks (Srivastava et al. 2014) for a batch of N columns.

    ``rates[l]`` is the probability p_l of dropping a unit of layer l = 0..L−1 (0: the input
    pixels). Returns M[l] of shape (n_l, N), each entry 1/(1 − p_l) with probability 1 − p_l
    and 0 otherwise (None where p_l = 0): multiplying A^l by it keeps E[A^l] as it was, so the
    network is evaluated without masks and without rescaling. Drawn in float32 or float64
    uniforms from ``rng`` (U ≥ p keeps), one layer after the other.
    """
    masks, dtype = [], np.dtype(dtype)
    for l, p in enumerate(rates):
        if not p:
            masks.append(None)
            continue
        M = _empty(workspace, "M", l, (sizes[l], N), dtype)
        U = rng.random((N, sizes[l]), dtype=dtype, out=M.T)                        # M.T is C-contiguous
        keep = np.greater_equal(U, dtype.type(p), out=_empty(workspace, "keep", l, U.shape, bool, "C"))
        masks.append(np.multiply(keep, dtype.type(1 / (1 - p)), out=M.T).T)       # (n_l, N)
    return masks


# ----------------------------------------------------------------------------- network

def dropout_rates(model):
    """[p_0, p_1, ..., p_{L−1}]: the dropout probability of the input and of each hidden layer
    that a :class:`bpnet.config.ModelConfig` asks for (``dropout`` one float for all, or a list)."""
    hidden = model.dropout if isinstance(model.dropout, list) else [model.dropout] * len(model.hidden)
    return [float(model.input_dropout), *map(float, hidden)]


def mnist_sizes(hidden):
    """[784, *hidden, 10]: the layer sizes of an MNIST network with these hidden widths."""
    return [N_PIXELS, *hidden, N_CLASSES]


def parameter_sizes(sizes):
    """The number of entries of W1..WL and b1..bL for layer sizes [n_0, ..., n_L]."""
    elements = {}
    for l in range(1, len(sizes)):
        elements.update({f"W{l}": sizes[l] * sizes[l - 1], f"b{l}": sizes[l]})
    return elements


class Network:
    """A fully connected network with layer sizes ``sizes`` = [n_0, n_1, ..., n_L].

    ``W[l]`` (n_l, n_{l-1}) and ``b[l]`` (n_l, 1) for l = 1..L. Hidden layers use
    ``activation``; the last layer uses the head (``output``, ``loss``).
    """

    def __init__(self, sizes, activation="relu", output="softmax", loss="cross_entropy",
                 dtype=np.float32):
        self.sizes = [int(n) for n in sizes]
        self.activation_name, self.output, self.loss = activation, output, loss
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        if (output, loss) not in HEADS:
            heads = ", ".join(f"{o} + {c}" for o, c in HEADS)
            raise ValueError(f"no output head {output} + {loss}; expected one of {heads}")
        self.activation = ACTIVATIONS[activation]
        self.head = HEADS[(output, loss)]
        self.dtype = np.dtype(dtype)
        # W^l is stored input-major (order "F": (W^l)ᵀ is the contiguous array), so that every
        # product below is a plain row-major GEMM with the long dimension first; see forward.
        self.W = [None] + [np.zeros((n, m), self.dtype, order="F") for m, n in zip(self.sizes, self.sizes[1:])]
        self.b = [None] + [np.zeros((n, 1), self.dtype) for n in self.sizes[1:]]

    @classmethod
    def for_mnist(cls, model, dtype=np.float32):
        """The network a :class:`bpnet.config.ModelConfig` describes: sizes [784, *hidden, 10]."""
        return cls(mnist_sizes(model.hidden), model.activation, model.output, model.loss, dtype)

    @property
    def L(self):
        """The number of layers with weights."""
        return len(self.sizes) - 1

    def parameters(self):
        """(name, array) pairs in checkpoint order: W1, b1, ..., WL, bL."""
        pairs = []
        for l in range(1, self.L + 1):
            pairs += [(f"W{l}", self.W[l]), (f"b{l}", self.b[l])]
        return pairs

    def n_parameters(self):
        return sum(array.size for _, array in self.parameters())

    def initialise(self, scheme, rng):
        """Draw W^l from ``scheme`` with a numpy Generator; biases start at 0.

        he:      W ~ N(0, 2 / n_{l-1})                  (He et al. 2015, for ReLU)
        xavier:  W ~ N(0, 2 / (n_{l-1} + n_l))          (Glorot & Bengio 2010)
        uniform: W, b ~ U(−0.5, 0.5)                    (the classic from-scratch recipe of seed 001)
        Draws are made in float64 and then cast, so both dtypes start from the same values.
        """
        for l in range(1, self.L + 1):
            n_out, n_in = self.W[l].shape
            if scheme == "he":
                W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
            elif scheme == "xavier":
                W = rng.normal(0.0, np.sqrt(2.0 / (n_in + n_out)), size=(n_out, n_in))
            elif scheme == "uniform":
                W = rng.uniform(-0.5, 0.5, size=(n_out, n_in))
                self.b[l][...] = rng.uniform(-0.5, 0.5, size=(n_out, 1))
            else:
                raise ValueError(f"unknown init scheme {scheme!r}")
            self.W[l][...] = W
        return self

    def forward(self, A0, workspace=None, masks=None):
        """The forward pass: Z^l = W^l A^{l-1} + b^l, A^l = σ(Z^l) for l = 1..L.

        A0: (n_0, N). Returns the lists Z and A (Z[0] is None, A[0] is A0, A[L] the output).
        ``masks`` (training with dropout, see :func:`draw_masks`): A^l = σ(Z^l) ⊙ M^l for
        l = 0..L−1 where M^l is not None (A[0] is then A0 ⊙ M⁰, a new array).
        """
        if np.ndim(A0) != 2 or A0.shape[0] != self.sizes[0]:
            raise ValueError(f"forward: A0 must be a column matrix ({self.sizes[0]}, N), one example "
                             f"per column; got shape {np.shape(A0)}")
        N = A0.shape[1]
        if masks is not None and masks[0] is not None:
            A0 = np.multiply(A0, masks[0], out=_empty(workspace, "A", 0, A0.shape, self.dtype))
        Z, A = [None], [A0]
        for l in range(1, self.L + 1):
            shape = (self.sizes[l], N)
            Zl = _empty(workspace, "Z", l, shape, self.dtype)                     # (n_l, N)
            # Z = W A computed as Zᵀ = Aᵀ Wᵀ: with A, Z example-major and W input-major all
            # three are C-contiguous, a plain GEMM with the batch as its long dimension
            # (scripts/gemm_layouts.py measures each product in each layout).
            np.matmul(A[l - 1].T, self.W[l].T, out=Zl.T)
            Zl += self.b[l]                                   # b^l (n_l, 1) added to every column
            sigma = self.head.forward if l == self.L else self.activation.forward
            Z.append(Zl)
            A.append(sigma(Zl, out=_empty(workspace, "A", l, shape, self.dtype)))       # (n_l, N)
            if masks is not None and l < self.L and masks[l] is not None:
                A[l] *= masks[l]                                                        # ⊙ M^l
        return Z, A

    def backward(self, Z, A, Y, workspace=None, scale=1.0, out=None, beta=0.0, masks=None):
        """Backpropagation: the gradients of the mean cost C over the N columns.

        Δᴸ from the head (BP1), then Δ^l = (W^{l+1})ᵀ Δ^{l+1} ⊙ σ'(Z^l) (BP2),
        ∂C/∂W^l = (1/N) Δ^l (A^{l-1})ᵀ (BP4) and ∂C/∂b^l = (1/N) Σ_n Δ^l (BP3).
        Returns lists dW, db indexed like W, b (dW[0] is None), shapes equal to the parameters',
        multiplied by ``scale`` (the training loop passes the learning rate α, see optim).

        ``out=(dW, db)`` gives the arrays to write into, and then ``beta`` says what becomes of
        what they hold: dW^l ← scale·∂C/∂W^l + β·dW^l, as BLAS's C ← αAB + βC does in the same
        product. β = 1 adds up a batch given in chunks; β = μ is momentum's u ← μu + αg.

        With the dropout ``masks`` the forward pass used, BP2 becomes
        Δ^l = ((W^{l+1})ᵀ Δ^{l+1} ⊙ σ'(Z^l)) ⊙ M^l: a dropped unit passes no error back, a kept
        one its error times 1/(1 − p), as it passed its activation forward.

        The 1/N of the mean and the scale are applied once, to the small Δᴸ (n_L, N): by
        linearity every Δ^l below and every gradient then carries them, with no extra pass
        over the gradients. Each product is written transposed, like the forward pass, for
        the memory layout.
        """
        if np.shape(Y) != A[-1].shape:
            raise ValueError(f"backward: Y must be shaped like the output Aᴸ, {A[-1].shape} (one column "
                             f"per example); got {np.shape(Y)}")
        L, N = self.L, Y.shape[1]
        if out is None and beta != 0:
            raise ValueError("backward: beta needs out=(dW, db), the arrays it scales")
        if out is None:
            dW = [None] + [_empty(workspace, "dW", l, self.W[l].shape, self.dtype) for l in range(1, L + 1)]
            db = [None] + [_empty(workspace, "db", l, self.b[l].shape, self.dtype) for l in range(1, L + 1)]
        else:
            dW, db = out
        ones = np.ones(N, self.dtype)                                          # 𝟙, (N,)
        delta = self.head.delta(Z[L], A[L], Y, out=_empty(workspace, "delta", L, Y.shape, self.dtype))
        delta *= self.dtype.type(scale / N)                                    # (n_L, N) = scale·Δᴸ / N
        for l in range(L, 0, -1):
            # (∂C/∂W)ᵀ = A^{l-1} (Δ^l)ᵀ: under load, 2-thread OpenBLAS ran the direct Δ Aᵀ
            # of the full batch 40x slower than this form.
            blas.gemm(A[l - 1], delta.T, dW[l].T, beta)                                        # (n_l, n_{l-1})
            # ∂C/∂b^l = Δ^l 𝟙, the sum over the columns as a matrix-vector product: BLAS
            # measured 2–6x faster than np.sum along the rows of an example-major array.
            blas.gemv(delta, ones, db[l][:, 0], beta)                                          # (n_l,)
            if l > 1:
                previous = _empty(workspace, "delta", l - 1, (self.sizes[l - 1], N), self.dtype)
                # (W^l)ᵀ Δ^l written as (Δᵀ W)ᵀ, again so the result comes out example-major.
                delta = np.matmul(delta.T, self.W[l], out=previous.T).T                        # (n_{l-1}, N)
                mask = None if masks is None else masks[l - 1]
                A_prev = A[l - 1]
                if mask is not None and self.activation.prime_reads_A:
                    A_prev = self.activation.forward(Z[l - 1])       # A^{l-1} is masked: σ(Z) again
                delta *= self.activation.prime(Z[l - 1], A_prev)                                # ⊙ σ'(Z^{l-1})
                if mask is not None:
                    delta *= mask                                                               # ⊙ M^{l-1}
        return dW, db

    def cost(self, Z, A, Y):
        """The head's cost C for the batch (a Python float)."""
        return self.head.cost(Z[self.L], A[self.L], Y)

    def gradients(self, A0, Y, masks=None):
        """Convenience: forward and backward for one batch (with fixed dropout ``masks``); (cost, dW, db)."""
        Z, A = self.forward(A0, masks=masks)
        dW, db = self.backward(Z, A, Y, masks=masks)
        return self.cost(Z, A, Y), dW, db

    def predict_proba(self, A0):
        """The output activations Aᴸ, (n_L, N)."""
        return self.forward(A0)[1][-1]

    def describe(self):
        """A short human description, e.g. '784-256-10 relu, softmax + cross_entropy'."""
        return f"{'-'.join(map(str, self.sizes))} {self.activation_name}, {self.output} + {self.loss}"
