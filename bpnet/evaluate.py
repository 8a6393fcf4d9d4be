"""Measuring a network on a split: cost, accuracy, confusion matrix, per-class precision and recall."""

import numpy as np

from .data import N_CLASSES, one_hot, scale_rows

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


def evaluate(network, split, chunk=EVAL_CHUNK):
    """Cost, accuracy (a fraction) and the predictions of ``network`` on a :class:`bpnet.data.Split`."""
    total_cost, predictions = 0.0, np.empty(len(split), dtype=np.int64)
    for start, Z, A in forward_chunks(network, split.images, chunk):
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


def confusion_matrix(labels, predictions, n_classes=N_CLASSES):
    """counts[i, j] = how many examples of class i were predicted as j."""
    flat = labels.astype(np.int64) * n_classes + predictions
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(confusion):
    """Precision, recall and support of each class from a confusion matrix (0 where undefined)."""
    true_pos = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    rows = []
    for k in range(len(confusion)):
        rows.append({
            "class": k,
            "precision": true_pos[k] / predicted[k] if predicted[k] else 0.0,
            "recall": true_pos[k] / actual[k] if actual[k] else 0.0,
            "support": int(actual[k]),
        })
    return rows


def report(network, split):
    """Everything ``bpnet eval`` shows: loss, accuracy, confusion matrix, per-class metrics."""
    result = evaluate(network, split)
    confusion = confusion_matrix(split.labels, result["predictions"])
    return {
        "n": len(split),
        "loss": result["loss"],
        "accuracy": result["accuracy"],
        "confusion_matrix": confusion.tolist(),
        "per_class": per_class(confusion),
    }
