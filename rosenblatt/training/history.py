"""The record of a training run, epoch by epoch (notes: "Tweaking hyperparameters").

The notes read learning curves to tune a network: "constant oscillation in
the error" means the learning rate is too high, "a slow decrease" that it is
too low. :class:`History` keeps every per-epoch number ``rb.fit`` computes
and draws those curves.
"""

import math
import re

#: Scores where a larger value is better (words of a logged name: ``val_f1_macro`` holds ``f1``).
LARGER_IS_BETTER = ("auc", "f1", "precision", "recall", "r2")


def auto_mode(name):
    """``"max"`` when a larger value of the logged quantity ``name`` is better, else ``"min"``.

    The "auto" rule of :meth:`History.best`, ``EarlyStopping``,
    ``ReduceLROnPlateau`` and tuning: accuracies (``accuracy``, ``val_acc``,
    ``top5_accuracy``), likelihoods (``pseudo_likelihood``, ``log_likelihood``),
    the area under a curve (``auc``, ``val_roc_auc``) and the library's other
    scores, F1, precision, recall and R^2 (``val_f1``, ``f1_macro``,
    ``precision_macro``, ``recall``, ``val_r2``: any name holding one of the
    words of :data:`LARGER_IS_BETTER`) are maximised; losses, errors and
    negated likelihoods (``neg_log_likelihood``, ``nll``) are minimised. The
    words are matched case-insensitively (``Accuracy`` is maximised too).

    Examples
    --------
    >>> auto_mode("val_accuracy"), auto_mode("pseudo_likelihood"), auto_mode("val_auc")
    ('max', 'max', 'max')
    >>> auto_mode("val_f1"), auto_mode("f1_macro"), auto_mode("val_r2")
    ('max', 'max', 'max')
    >>> auto_mode("val_loss"), auto_mode("neg_log_likelihood"), auto_mode("mae")
    ('min', 'min', 'min')
    >>> auto_mode("Accuracy"), auto_mode("val_Likelihood")
    ('max', 'max')
    """
    words = re.split(r"[^a-z0-9]+", str(name).lower())
    if any(w.startswith("neg") for w in words):
        return "min"
    if "acc" in str(name).lower() or "likelihood" in str(name).lower() or any(
            w in LARGER_IS_BETTER for w in words):
        return "max"
    return "min"


class History:
    """Per-epoch metrics of a ``rb.fit`` run.

    Attributes
    ----------
    epoch : list of int
        The epochs recorded (0-based).
    history : dict of str -> list of float
        ``loss``, the metrics (``accuracy`` ...), ``val_loss``, ``val_<metric>``,
        ``lr``, ``time`` and what callbacks add (``grad_norm/<layer>`` ...),
        one value per recorded epoch (NaN where an epoch lacks the key).
    stop_reason : str or None
        Why training ended early (early stopping), if it did.

    Examples
    --------
    >>> h = History()
    >>> h.append(0, {"loss": 1.0}); h.append(1, {"loss": 0.5, "val_loss": 0.7})
    >>> h["loss"], h["val_loss"][1], h.best("loss")
    ([1.0, 0.5], 0.7, (1, 0.5))
    """

    def __init__(self):
        self.epoch = []
        self.history = {}
        self.stop_reason = None

    def append(self, epoch, logs):
        """Record the numbers of one epoch."""
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            column = self.history.setdefault(key, [math.nan] * n)
            column.append(float(value))
        for column in self.history.values():
            if len(column) < n + 1:
                column.append(math.nan)

    def __getitem__(self, key):
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(f"History: no {key!r}; recorded {sorted(self.history)}") from None

    def __contains__(self, key):
        return key in self.history

    def __len__(self):
        return len(self.epoch)

    def keys(self):
        """The recorded names."""
        return self.history.keys()

    def last(self, key):
        """The value of ``key`` at the last recorded epoch."""
        return self[key][-1]

    def best(self, key, mode="auto"):
        """``(epoch, value)`` of the best value of ``key`` ("auto": :func:`auto_mode`, max for
        accuracies, likelihoods and scores such as F1 and R^2).

        On a tie the first best epoch wins, in both modes: the epoch whose weights
        ``EarlyStopping(restore_best=True)`` restores.

        Raises
        ------
        ValueError
            For a ``mode`` other than "auto", "min" or "max", or a ``key`` with no
            finite value.
        """
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"History.best: mode must be 'auto', 'min' or 'max'; got {mode!r}")
        values = self[key]
        if mode == "auto":
            mode = auto_mode(key)
        finite = [i for i, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            raise ValueError(f"History.best: {key!r} has no finite value")
        # max/min with a key return the first extreme element: ties go to the earliest epoch
        i = (max if mode == "max" else min)(finite, key=values.__getitem__)
        return self.epoch[i], values[i]

    def to_dict(self):
        """Plain JSON-able form (for checkpoints)."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()},
                "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, state):
        """Rebuild from :meth:`to_dict`'s output."""
        h = cls()
        h.epoch = [int(e) for e in state.get("epoch", [])]
        h.history = {str(k): [float(x) for x in v] for k, v in state.get("history", {}).items()}
        h.stop_reason = state.get("stop_reason")
        return h

    def plot(self, keys=None, ax=None):
        """Draw learning curves with matplotlib (imported here, only when plotting).

        Parameters
        ----------
        keys : str or list of str, optional
            Default: the losses on one axis and the accuracies on a twin axis.
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib Axes
        """
        try:
            import matplotlib.pyplot as plt  # optional dependency: only needed to plot
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'rosenblatt[plot]' "
                              "(or matplotlib)") from None
        if isinstance(keys, str):
            keys = [keys]
        if keys is not None:
            for key in keys:
                self[key]  # a KeyError naming the recorded keys, before drawing anything
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if keys is None:
            keys = [k for k in ("loss", "val_loss") if k in self.history]
            other = [k for k in self.history if "acc" in k.lower()]
        else:
            other = []
        for key in keys:
            ax.plot(self.epoch, self[key], label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(", ".join(keys) if len(keys) <= 2 else "value")
        handles, labels = ax.get_legend_handles_labels()
        if other:
            twin = ax.twinx()
            for key in other:
                twin.plot(self.epoch, self[key], linestyle="--", label=key)
            twin.set_ylabel("accuracy")
            h2, l2 = twin.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        if handles:
            ax.legend(handles, labels, loc="best")
        return ax

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({len(self.epoch)} epochs{': ' + last if last else ''})"
