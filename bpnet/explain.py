"""The seeds' equations instantiated for one network: forward, backward and update, with shapes.

``explain(config)`` gives the facts as a JSON-able dict; ``format_text(facts)`` lays them out
for a terminal or a projector. Every equation names the function that computes it, read from
the object itself (``__module__``, ``__qualname__``), so a renamed function shows up here (and
fails the test that resolves each name) instead of going stale.

Equations are written plainly, ``Z^1 = W^1 A^0 + b^1`` and ``Σ_n`` (``^`` raises the digits or
the one letter after it, ``_`` lowers the lower-case letters or digits after it); the text
output turns them into ``Z¹ = W¹ A⁰ + b¹`` and ``Σₙ``.

Counting conventions: FLOPs are those of the matrix products, a multiply-add counted as 2 FLOPs
(2·m·k·n for an (m, k)(k, n) product); the elementwise work (biases, σ, σ', ⊙, column sums) is
O(Σ n_l) per example, small beside them, and not counted. Memory is what one training step
holds, in bytes of the config's dtype.
"""

import copy
import re
import unicodedata

import numpy as np

from . import network as network_module
from . import optim
from .config import config_name
from .network import Network, mnist_sizes, parameter_sizes

TRAIN_EXAMPLES = 60000            # MNIST and Fashion-MNIST alike; data.validation of them are held out


# ----------------------------------------------------------------------------- code references

def where(obj):
    """'bpnet/network.py Network.forward': the file and qualified name of a function or class."""
    return f"{obj.__module__.replace('.', '/')}.py {obj.__qualname__}"


def _schedule_function():
    """The function that computes the learning rate at a step (bpnet.schedules.learning_rate)."""
    from . import schedules

    return schedules.learning_rate


# ----------------------------------------------------------------------------- notation tables
# How each implementation is written in the seeds' notation. Anything missing from a table
# (an activation, head, optimiser or schedule added later) gets a generic line naming its code.

ACTIVATION_SYMBOLS = {"relu": "ReLU", "sigmoid": "σ", "tanh": "tanh"}


def _head_lines(head, L):
    """(equation, rule, code) for the output activation, the cost and Δᴸ of ``head``."""
    if head is network_module.SoftmaxCrossEntropy:
        return [(f"A^{L} = softmax(Z^{L})", "", head.forward),
                (f"C = −(1/N) Σ_n Σ_i Y_in log A^{L}_in", "cost", head.cost),
                (f"Δ^{L} = A^{L} − Y", "BP1", head.delta)]
    if head is network_module.SigmoidMSE:
        return [(f"A^{L} = σ(Z^{L})", "", head.forward),
                (f"C = (1/2N) Σ_n ‖A^{L}_n − Y_n‖^2", "cost", head.cost),
                (f"Δ^{L} = (A^{L} − Y) ⊙ σ'(Z^{L})", "BP1", head.delta)]
    name = "+".join(getattr(head, "name", (head.__name__,)))
    return [(f"A^{L} = {name}(Z^{L})", "", head.forward),
            (f"C = {head.__name__}.cost(Z^{L}, A^{L}, Y)", "cost", head.cost),
            (f"Δ^{L} = ∂C/∂Z^{L}", "BP1", head.delta)]


def _optimizer_lines(optimizer, scheduled=False):
    """(equation, values, code) of one update of every layer's W^l (b^l likewise)."""
    kind = type(optimizer)
    g = "∂C/∂W^l"
    if kind is optim.SGD:
        return [(f"W^l ← W^l − α {g}", f"α = {optimizer.lr:g}", [kind.update])]
    if kind is optim.Momentum:
        # With a schedule the velocity is rescaled by α/α', α' the previous step's α (see optim.Momentum).
        mu, previous = ("μ (α/α') U^l", ", α' = last step's α") if scheduled else ("μ U^l", "")
        return [(f"U^l ← {mu} + α {g}", f"μ = {optimizer.momentum:g}{previous}; done by Network.backward",
                 [kind.gradient_buffers]),
                ("W^l ← W^l − U^l", "U = αv of PyTorch's v ← μv + g", [kind.update])]
    if kind is optim.Adam:
        return [(f"M^l ← β_1 M^l + (1 − β_1) {g}", f"β₁ = {optimizer.beta1:g}", [kind.update]),
                (f"V^l ← β_2 V^l + (1 − β_2) ({g})^2", f"β₂ = {optimizer.beta2:g}; squared entrywise",
                 [kind.update]),
                ("W^l ← W^l − α M̂^l / (√V̂^l + ε)", f"ε = {optimizer.eps:g}", [kind.update]),
                ("M̂ = M / (1 − β_1^t),  V̂ = V / (1 − β_2^t)", "t = steps so far", [kind.step])]
    update = getattr(kind, "update", None) or getattr(kind, "step")
    return [(f"W^l ← {kind.__name__}(W^l, {g})", "", [update])]


def _schedule_lines(train_config, batches):
    """(equation, values, code) of the learning rate α at step t."""
    function, t = _schedule_function(), train_config
    if t.schedule == "constant":
        return [(f"α = {t.lr:g}", "constant", [function])]
    if t.schedule == "cosine":
        steps = f"T = {t.epochs} epochs × {batches:,} batches = {t.epochs * batches:,} steps"
        return [("α_t = α_0 · ½(1 + cos(π t / T))", f"α₀ = {t.lr:g}, {steps}", [function])]
    return [("α_t = α(t)", f"schedule {t.schedule}, α₀ = {t.lr:g}", [function])]


# ----------------------------------------------------------------------------- counting

def batch_columns(train_config, validation):
    """N, the examples in a batch: train.batch_size, or every training example for 'full'."""
    n_train = TRAIN_EXAMPLES - validation
    return n_train if train_config.batch_size == "full" else min(int(train_config.batch_size), n_train)


def layer_counts(sizes):
    """Per layer l = 1..L: parameters, and the FLOPs of its products per example.

    forward: W^l A^{l-1}, 2·n_l·n_{l-1}. backward: Δ^l (A^{l-1})ᵀ, 2·n_l·n_{l-1}, and for l > 1
    (W^l)ᵀ Δ^l, 2·n_l·n_{l-1} more; layer 1 has no Δ⁰ to compute, the input needs none.
    """
    elements = parameter_sizes(sizes)
    rows = []
    for l in range(1, len(sizes)):
        products = 2 * sizes[l] * sizes[l - 1]
        rows.append({"layer": l, "W": [sizes[l], sizes[l - 1]], "b": [sizes[l], 1],
                     "parameters": elements[f"W{l}"] + elements[f"b{l}"],
                     "forward_flops": products, "backward_flops": products * (2 if l > 1 else 1)})
    return rows


def gradients_in_optimizer_state(optimizer):
    """Whether the optimiser has backpropagation write its gradients into its own state (momentum's
    velocities), so that no separate gradient arrays exist; asked of a fresh copy of it."""
    probe = copy.deepcopy(optimizer)
    params = [("W1", np.zeros((1, 1), np.float32))]
    buffers, _ = probe.gradient_buffers(params)
    return any(buffer is value for buffer in buffers for value in probe.state.values())


def memory(sizes, N, dtype, optimizer, chunk=None):
    """Bytes one training step holds for a batch of N columns (see bpnet.batches.Batches, whose
    chunk caps the columns one pass takes): the input A⁰ and Y, Z^l, A^l and Δ^l of l = 1..L,
    the parameters, the gradients and the optimiser's state."""
    from .batches import CHUNK

    columns = min(N, chunk or CHUNK)
    itemsize = np.dtype(dtype).itemsize
    units = sum(sizes[1:])
    n_parameters = sum(parameter_sizes(sizes).values())
    slots = len(getattr(optimizer, "slots", ()))
    parts = {
        "input": (sizes[0] + sizes[-1]) * columns * itemsize + sizes[0] * columns,   # A⁰, Y, the uint8 rows
        "Z": units * columns * itemsize,
        "A": units * columns * itemsize,
        "delta": units * columns * itemsize,
        "parameters": n_parameters * itemsize,
        "gradients": 0 if gradients_in_optimizer_state(optimizer) else n_parameters * itemsize,
        "optimizer_state": slots * n_parameters * itemsize,
    }
    parts["total"] = sum(parts.values())
    return {"columns": columns, "dtype": str(np.dtype(dtype)), "bytes": parts}


# ----------------------------------------------------------------------------- the facts

def explain(config, batch=None, name=None):
    """The equations, shapes, parameters, FLOPs and memory of training ``config``'s network.

    batch: N for the shapes and the memory (default: the config's train.batch_size).
    name: what the config is called (a shipped name or a file), for the header.
    Returns a JSON-able dict; :func:`format_text` lays it out.
    """
    m, t = config.model, config.train
    sizes = mnist_sizes(m.hidden)
    L = len(sizes) - 1
    n_train = TRAIN_EXAMPLES - config.data.validation
    N = int(batch) if batch is not None else batch_columns(t, config.data.validation)
    activation, head = network_module.ACTIVATIONS[m.activation], network_module.HEADS[(m.output, m.loss)]
    sigma = ACTIVATION_SYMBOLS.get(m.activation, activation.__name__)
    optimizer = optim.make_optimizer(t)
    batches = -(-n_train // batch_columns(t, config.data.validation))

    def line(equation, shapes="", rule="", code=()):
        return {"equation": equation, "shapes": shapes, "rule": rule, "code": [where(c) for c in code]}

    forward, backward = [], []
    for l in range(1, L + 1):
        n, m_ = sizes[l], sizes[l - 1]
        forward.append(line(f"Z^{l} = W^{l} A^{l - 1} + b^{l}", f"({n}, N) = ({n}, {m_})({m_}, N) + ({n}, 1)",
                            "", [Network.forward]))
        if l < L:
            forward.append(line(f"A^{l} = {sigma}(Z^{l})", f"({n}, N)", "", [activation.forward]))
    out, cost, delta = _head_lines(head, L)
    forward += [line(out[0], f"({sizes[L]}, N)", "", [out[2]]), line(cost[0], "scalar", "", [cost[2]])]
    backward.append(line(delta[0], f"({sizes[L]}, N)", delta[1], [delta[2]]))
    for l in range(L, 0, -1):
        n, m_ = sizes[l], sizes[l - 1]
        backward.append(line(f"∂C/∂W^{l} = (1/N) Δ^{l} (A^{l - 1})^T", f"({n}, {m_}) = ({n}, N)(N, {m_})",
                             "BP4", [Network.backward]))
        backward.append(line(f"∂C/∂b^{l} = (1/N) Σ_n Δ^{l}", f"({n}, 1)", "BP3", [Network.backward]))
        if l > 1:
            backward.append(line(f"Δ^{l - 1} = (W^{l})^T Δ^{l} ⊙ {sigma}'(Z^{l - 1})",
                                 f"({m_}, N) = ({m_}, {n})({n}, N) ⊙ ({m_}, N)", "BP2",
                                 [Network.backward, activation.prime]))

    update = [line(eq, values, "", code) for eq, values, code in _schedule_lines(t, batches)]
    if t.weight_decay:
        update.append(line("∂C/∂W^l ← ∂C/∂W^l + λ W^l", f"λ = {t.weight_decay:g}; biases not decayed", "",
                           [optim.Optimizer.step]))
    update += [line(eq, values, "", code) for eq, values, code in _optimizer_lines(optimizer, t.schedule != "constant")]

    layers = layer_counts(sizes)
    forward_flops = sum(r["forward_flops"] for r in layers)
    backward_flops = sum(r["backward_flops"] for r in layers)
    folded = optimizer.gradient_scale != 1.0
    return {
        "network": f"{'-'.join(map(str, sizes))} {m.activation}, {m.output} + {m.loss}",
        "config": name if name is not None else config_name(None),
        "sizes": sizes, "L": L, "N": N, "dtype": t.dtype,
        "batch_size": t.batch_size, "train_examples": n_train, "batches_per_epoch": batches,
        "optimizer": type(optimizer).__name__, "schedule": t.schedule,
        "legend": _legend(N, L, t, activation, sigma, folded),
        "forward": forward, "backward": backward, "update": update,
        "layers": layers,
        "parameters": sum(r["parameters"] for r in layers),
        "flops": {"forward_per_example": forward_flops, "backward_per_example": backward_flops,
                  "per_batch": (forward_flops + backward_flops) * N,
                  "convention": "matrix products only; a multiply-add counts as 2 FLOPs"},
        "memory": memory(sizes, N, t.dtype, optimizer),
    }


def _legend(N, L, train_config, activation, sigma, folded):
    full = " (batch_size full: every training example)" if train_config.batch_size == "full" else ""
    prime = (activation.prime.__doc__ or "").strip().split("\n")[0]
    legend = [f"N = {N}: examples in a batch, one per column{full}",
              f"L = {L}: layers with weights, l = 1..L; A^0 is the input (pixels in [0, 1]), Y the one-hot targets",
              "⊙: entrywise product; ^T: transpose; Σ_n: sum over the N columns"]
    if prime and L > 1:             # the hidden layers' σ' (a network without any has none)
        legend.append(prime)
    if folded:
        legend.append("α and 1/N are folded into Δ^L, so Network.backward hands the optimiser α·∂C/∂W^l")
    return legend


# ----------------------------------------------------------------------------- text

SUPERSCRIPTS = str.maketrans("0123456789+-−LTtlnNi", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻ᴸᵀᵗˡⁿᴺⁱ")
SUBSCRIPTS = str.maketrans("0123456789inltj", "₀₁₂₃₄₅₆₇₈₉ᵢₙₗₜⱼ")


def pretty(text):
    """'Z^12 = W^12 A^11' → 'Z¹² = W¹² A¹¹', 'Σ_n' → 'Σₙ', 'β_1^t' → 'β₁ᵗ' (what has no Unicode
    super- or subscript is left as written)."""
    def raise_(match):
        return match.group(1).translate(SUPERSCRIPTS) if match.group(1).isalnum() else match.group(0)

    text = re.sub(r"_([0-9]+|[inltj]+)(?![A-Za-z0-9])", lambda m: m.group(1).translate(SUBSCRIPTS), text)
    return re.sub(r"\^([0-9]+|[LTtlnNi](?![a-z]))", raise_, text)


def _width(text):
    """Columns ``text`` takes on a terminal: a combining accent (the hat of M̂) takes none."""
    return sum(not unicodedata.combining(c) for c in text)


def _common_file(codes):
    """'bpnet/network.py Network.backward, ReLU.prime': one file named once."""
    files = [c.split(" ", 1) for c in codes]
    if len({f for f, _ in files}) == 1:
        return f"{files[0][0]} " + ", ".join(name for _, name in files)
    return ", ".join(codes)


def _table(sections, indent="  "):
    """Equation | shapes or values | rule | code; the equations aligned over all ``sections``
    [(title, lines)], the other columns within each section."""
    rows = {title: [(pretty(x["equation"]), pretty(x["shapes"]), x["rule"], _common_file(x["code"]))
                    for x in lines] for title, lines in sections}
    first = max(_width(row[0]) for table in rows.values() for row in table)
    out = []
    for title, _ in sections:
        widths = [first] + [max(_width(row[k]) for row in rows[title]) for k in (1, 2)]
        out += ["", pretty(title)]
        for row in rows[title]:
            cells = [row[k] + " " * (widths[k] - _width(row[k])) for k in range(3) if widths[k]] + [row[3]]
            out.append((indent + "   ".join(cells)).rstrip())
    return out


def format_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def format_flops(n):
    for unit, size in (("GFLOP", 1e9), ("MFLOP", 1e6), ("kFLOP", 1e3)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,} FLOP"


def layer_table(facts):
    """Parameters and FLOPs per example of each layer, and their totals."""
    head = ["layer", "W", "b", "parameters", "forward FLOPs", "backward FLOPs"]
    rows = [[str(r["layer"]), "({}, {})".format(*r["W"]), "({}, {})".format(*r["b"]), f"{r['parameters']:,}",
             f"{r['forward_flops']:,}", f"{r['backward_flops']:,}"] for r in facts["layers"]]
    f = facts["flops"]
    rows.append(["total", "", "", f"{facts['parameters']:,}", f"{f['forward_per_example']:,}",
                 f"{f['backward_per_example']:,}"])
    widths = [max(len(row[k]) for row in [head] + rows) for k in range(len(head))]
    return ["  " + "  ".join(cell.rjust(w) if k > 2 else cell.ljust(w) for k, (cell, w) in enumerate(zip(row, widths)))
            for row in [head] + rows]


def memory_lines(memory, N):
    b = memory["bytes"]
    chunked = f" (taken in chunks of {memory['columns']:,} columns)" if memory["columns"] < N else ""
    names = [("input", "input A⁰, Y (and uint8 rows)"), ("Z", "Z¹..Zᴸ"), ("A", "A¹..Aᴸ"),
             ("delta", "Δ¹..Δᴸ"), ("parameters", "parameters W, b"), ("gradients", "gradients"),
             ("optimizer_state", "optimiser state"), ("total", "total")]
    out = [f"Memory of one training step, N = {N:,}{chunked}, {memory['dtype']}"]
    for key, label in names:
        note = ""
        if key == "gradients" and b[key] == 0 and b["optimizer_state"]:
            note = "   (written straight into the optimiser's state)"
        out.append(f"  {label:<31} {format_bytes(b[key]):>12}{note}")
    return out


def format_text(facts):
    """The facts of :func:`explain` as aligned text, Unicode super- and subscripts."""
    f = facts["flops"]
    lines = [f"{facts['network']}   (config {facts['config']}, {facts['dtype']})", ""]
    lines += [pretty(x) for x in facts["legend"]]
    lines += _table([("Forward pass", facts["forward"]),
                     ("Backward pass: backpropagation, output layer first", facts["backward"]),
                     (f"Update of each layer l by {facts['optimizer']} (b^l likewise)",
                      facts["update"])])
    lines += ["", f"Parameters and FLOPs per example ({f['convention']})"] + layer_table(facts)
    ratio = f["backward_per_example"] / f["forward_per_example"]
    lines += ["", f"per example: forward {format_flops(f['forward_per_example'])}, backward "
                  f"{format_flops(f['backward_per_example'])} ({ratio:.2f}x forward, not 2x: "
                  f"layer 1 computes no Δ⁰)",
              f"per batch of N = {facts['N']:,}: {format_flops(f['per_batch'])}"]
    lines += [""] + memory_lines(facts["memory"], facts["N"])
    return "\n".join(lines)
