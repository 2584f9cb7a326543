"""Metrics reported by the training loop (accuracy, mean absolute/squared error).

A metric is ``fn(pred, target) -> (total, count)``, summed over batches and
divided at the end of the epoch, so per-epoch values are exact averages over
examples whatever the batch sizes.
"""

import numpy as np

#: Losses whose single-column outputs are logits or +-1 scores (threshold 0, not 0.5).
LOGIT_LOSSES = ("binary_cross_entropy_with_logits", "log_loss", "hinge")
#: Losses that take class labels.
CLASSIFICATION_LOSSES = ("cross_entropy", "nll", "max_margin", "binary_cross_entropy",
                         *LOGIT_LOSSES)


def accuracy(pred, target, threshold=0.5):
    """Number of correct predictions and number of examples.

    Several output columns: the arg-max against integer labels (or the
    arg-max of one-hot targets). One column: ``pred > threshold`` against
    targets in {0, 1}, or ``sign(pred)`` against targets in {-1, +1}.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim >= 2 and pred.shape[-1] > 1:
        guess = pred.argmax(axis=-1)
        truth = target.argmax(axis=-1) if target.shape == pred.shape else target
        return int(np.sum(guess == truth.reshape(guess.shape))), guess.size
    p = pred.reshape(-1)
    t = target.reshape(-1)
    if t.size and t.min() < 0:
        return int(np.sum(np.sign(p) == np.sign(t))), t.size
    return int(np.sum((p > threshold) == (t > 0.5))), t.size


def mae(pred, target):
    """Sum of absolute errors and the number of values."""
    diff = np.asarray(pred) - np.asarray(target).reshape(np.shape(pred))
    return float(np.abs(diff).sum()), diff.size


def mse(pred, target):
    """Sum of squared errors and the number of values."""
    diff = np.asarray(pred) - np.asarray(target).reshape(np.shape(pred))
    return float(np.square(diff).sum()), diff.size


METRICS = {"accuracy": accuracy, "acc": accuracy, "mae": mae, "mse": mse}


def resolve(metrics):
    """Names/callables -> list of (name, fn)."""
    out = []
    for m in metrics or ():
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"fit: unknown metric {m!r}; known: {sorted(METRICS)} "
                                 f"(or pass a callable fn(pred, target) -> (total, count))")
            out.append(("accuracy" if m == "acc" else m, METRICS[m]))
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"fit: a metric must be a name or a callable; got {type(m).__name__}")
    return out
