"""Measuring a network on a split: cost, accuracy, confusion matrix, per-class precision, recall
and F1, and calibration (how far the confidence of a prediction is from its accuracy)."""

import numpy as np

from .data import N_CLASSES, one_hot, scale_rows
from .network import softmax

EVAL_CHUNK = 10000   # columns per forward pass: large enough for fast products, small enough for memory


def forward_chunks(network, images, chunk=EVAL_CHUNK):
    """Yield (start, Z, A) for consecutive chunks of uint8 rows (N, 784), scaled like training data.

    Every chunk's A[0] is a view of one buffer, which the next chunk overwrites: copy what you keep.
    """
    buffer = np.empty((min(chunk, len(images)), images.shape[1]), dtype=network.dtype)
    for start in range(0, len(images), chunk):
        rows = images[start:start + chunk]
        A0 = scale_rows(rows, out=buffer[:len(rows)]).T                 # (784, n)
        Z, A = network.forward(A0)
        yield start, Z, A


def evaluate(network, split, chunk=EVAL_CHUNK, on_chunk=None):
    """Cost, accuracy (a fraction) and the predictions of ``network`` on a :class:`bpnet.data.Split`.

    ``on_chunk(Z, A)`` sees each chunk's forward pass, e.g. to count what the hidden units do
    (training's diagnostics, see bpnet.diagnostics.Activity); the arrays are reused afterwards.
    """
    total_cost, predictions = 0.0, np.empty(len(split), dtype=np.int64)
    for start, Z, A in forward_chunks(network, split.images, chunk):
        if on_chunk is not None:
            on_chunk(Z, A)
        n = A[-1].shape[1]
        Y = one_hot(split.labels[start:start + n], network.dtype)
        total_cost += network.cost(Z, A, Y) * n
        predictions[start:start + n] = np.argmax(A[-1], axis=0)
    n = max(len(split), 1)
    return {
        "loss": total_cost / n,
        "accuracy": float(np.mean(predictions == split.labels)) if len(split) else 0.0,
        "predictions": predictions,
    }


def distribution(network, Z, A):
    """The outputs of a forward pass as probabilities, (n_L, N): Aᴸ for a softmax head; a sigmoid
    head's outputs normalised to sum to 1, done on log σ(Z) = −log(1 + e^{−Z}) like a softmax, so
    that ten σ(Z) that all underflow to 0 still give their ratios rather than 0/0."""
    if network.output == "softmax":
        return A[-1]
    return softmax(-np.logaddexp(0, -Z[-1]))


def probabilities(network, split, chunk=EVAL_CHUNK):
    """The network's probability of each class for each example of ``split``, (n_L, N)."""
    P = np.empty((network.sizes[-1], len(split)), dtype=network.dtype)
    for start, Z, A in forward_chunks(network, split.images, chunk):
        P[:, start:start + A[-1].shape[1]] = distribution(network, Z, A)
    return P


def calibration(P, labels, n_bins=15):
    """Reliability of the confidences max_k P_kn (Guo et al. 2017, "On calibration of modern neural
    networks"): examples binned by confidence into ``n_bins`` equal-width bins ((m−1)/M, m/M], and

        ECE = Σ_m (|B_m| / N) · |accuracy(B_m) − confidence(B_m)|

    P: (n_L, N) probabilities; labels: (N,). Returns {"ece", "bins": [{lower, upper, count,
    accuracy, confidence}]}; an empty bin has count 0 and accuracy, confidence None.
    """
    confidence = P.max(axis=0).astype(np.float64)
    correct = np.argmax(P, axis=0) == labels
    which = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    hits = np.bincount(which, weights=correct, minlength=n_bins)
    sure = np.bincount(which, weights=confidence, minlength=n_bins)
    bins, ece = [], 0.0
    for m in range(n_bins):
        n = int(count[m])
        accuracy, mean = (hits[m] / n, sure[m] / n) if n else (None, None)
        if n:
            ece += n / len(labels) * abs(accuracy - mean)
        bins.append({"lower": m / n_bins, "upper": (m + 1) / n_bins, "count": n,
                     "accuracy": accuracy, "confidence": mean})
    return {"ece": float(ece), "bins": bins}


def ece(P, labels, n_bins=15):
    """The expected calibration error of probabilities P (n_L, N) for ``labels`` (see :func:`calibration`)."""
    return calibration(P, labels, n_bins)["ece"]


def confusion_matrix(labels, predictions, n_classes=N_CLASSES):
    """counts[i, j] = how many examples of class i were predicted as j."""
    flat = labels.astype(np.int64) * n_classes + predictions
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(confusion):
    """Precision, recall, F1 = 2PR/(P + R) and support of each class from a confusion matrix
    (0 where undefined)."""
    true_pos = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    rows = []
    for k in range(len(confusion)):
        precision = true_pos[k] / predicted[k] if predicted[k] else 0.0
        recall = true_pos[k] / actual[k] if actual[k] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class": k, "precision": precision, "recall": recall, "f1": f1, "support": int(actual[k])})
    return rows


def report(network, split, n_bins=15):
    """Everything ``bpnet eval`` shows: loss, accuracy, ECE, confusion matrix, per-class metrics."""
    result = measure(network, split, n_bins)[0]
    del result["calibration_bins"]
    return result


def measure(network, split, n_bins=15):
    """(:func:`report`'s dict with the calibration bins too, the probabilities P (n_L, N))."""
    result = evaluate(network, split)
    P = probabilities(network, split)
    confusion = confusion_matrix(split.labels, result["predictions"])
    reliability = calibration(P, split.labels, n_bins)
    return {
        "n": len(split),
        "loss": result["loss"],
        "accuracy": result["accuracy"],
        "ece": reliability["ece"],
        "confusion_matrix": confusion.tolist(),
        "per_class": per_class(confusion),
        "calibration_bins": reliability["bins"],
    }, P
