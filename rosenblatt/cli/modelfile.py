"""Reading a model written by ``rosenblatt train`` and applying its preprocessing."""

import sys

import numpy as np

from .errors import CLIError


def load(path):
    """(model in eval mode, the CLI metadata dict or {}) from a model file."""
    import rosenblatt as rb

    try:
        ckpt = rb.io.load_checkpoint(path)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"model path is a directory: {path} (give its model.safetensors)") from None
    except rb.FormatError as e:
        raise CLIError(f"cannot load model: {e}") from None
    meta = ckpt.metadata.get("cli", {}) if isinstance(ckpt.metadata, dict) else {}
    return ckpt.model.eval(), meta


def preprocess(x, meta, where):
    """Standardise inputs with the training set's mean and std (as saved by train)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    elif x.ndim > 2:
        x = x.reshape(len(x), -1)
    mean, std = meta.get("mean"), meta.get("std")
    if mean is not None:
        mean, std = np.asarray(mean), np.asarray(std)
        if x.shape[1] != mean.shape[0]:
            raise CLIError(f"{where} has {x.shape[1]} features per sample but the model was "
                           f"trained on {mean.shape[0]}")
        x = (x - mean) / std
        far = float(np.mean(np.abs(x) > 10)) if x.size else 0.0
        if far > 0.05:
            # Standardised training inputs hardly ever lie 10 std from the mean; this many
            # means another scale (e.g. raw 0..16 digit pixels where training used [0, 1]).
            dataset = meta.get("dataset", "the training data")
            print(f"rosenblatt: warning: {far:.0%} of the values in {where} lie more than 10 "
                  f"standard deviations from the training inputs' mean; give inputs on the "
                  f"scale of rb.datasets.load({dataset!r}) (the model standardises them "
                  f"itself)", file=sys.stderr)
    if not np.all(np.isfinite(x)):
        raise CLIError(f"{where} contains NaN or infinite values")
    x = x.astype(meta.get("dtype", "float32"))
    shape = meta.get("shape")
    return x.reshape(len(x), *shape) if shape else x
