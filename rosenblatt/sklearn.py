"""scikit-learn estimators backed by rosenblatt networks: ``MLPClassifier``, ``MLPRegressor``.

Multilayer perceptrons (notes: "Feed-forward neural networks", trained by
"Backpropagation" with the notes' optimizers, L2 "Regularization" and
"Dropout") behind scikit-learn's estimator interface, so they work in
``Pipeline``, ``GridSearchCV``, ``cross_val_score`` ... Parameter names follow
``sklearn.neural_network`` where they exist (``hidden_layer_sizes``,
``activation``, ``alpha``, ``batch_size``, ``learning_rate_init``,
``max_iter``, ``tol``, ``n_iter_no_change``, ``shuffle``, ``random_state``,
``momentum``, ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``,
``warm_start``; and ``partial_fit``); ``optimizer`` (sklearn's ``solver``) and
``dropout`` are rosenblatt's.

Both pass ``sklearn.utils.estimator_checks.check_estimator`` with no check
skipped (tests/test_sklearn.py runs it). Needs scikit-learn
(``pip install rosenblatt[data]``).
"""

import functools
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as err:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "rosenblatt.sklearn needs scikit-learn >= 1.6: pip install rosenblatt[data]"
    ) from err

from . import nn, optim
from .autodiff import Tensor, no_grad
from .checks import boolean, int_at_least, is_int, positive_float, positive_int, unit_interval
from .nn import losses

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid, "sigmoid": nn.Sigmoid,
                "identity": nn.Identity}
_OPTIMIZERS = {"adam": optim.Adam, "sgd": optim.SGD, "rmsprop": optim.RMSprop,
               "adagrad": optim.Adagrad, "lbfgs": optim.LBFGS}


def _generator(random_state):
    """A numpy Generator from scikit-learn's ``random_state`` conventions."""
    if random_state is None:
        from .randomness import resolve_rng

        return np.random.default_rng(resolve_rng(None).integers(2**63))
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise ValueError(f"random_state must be None, an int, a Generator or a RandomState; "
                     f"got {random_state!r}")


def _unchanged_if_failed(fit):
    """Decorate a ``fit``: if it raises, the estimator is left exactly as it was before.

    A fit that fails half-way (a diverged loss, a bad parameter found late) must not publish
    a half-trained network or a mix of two fits' attributes: the estimator keeps its previous
    model, or stays unfitted (NotFittedError). Fits build new objects for everything they
    set, so restoring the attribute dictionary restores the estimator.
    """
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise
    return wrapper


def _weights(model):
    """Copies of the Dense layers' weights and biases of ``model``, in order."""
    return [(layer.W.data.copy(), layer.b.data.copy()) for layer in model
            if isinstance(layer, nn.Dense)]


def _set_weights(model, weights):
    """Copy :func:`_weights` into ``model``'s Dense layers (in place, in their dtype)."""
    for layer, (W, b) in zip([m for m in model if isinstance(m, nn.Dense)], weights):
        layer.W.data[...] = W
        layer.b.data[...] = b


def _check_float32_range(name, **arrays):
    """Refuse validated float64 ``arrays`` with finite values beyond float32's range.

    The networks train in float32, where such values become infinities and would surface as
    a diverged loss or "NaN or infinite values"; one pass over the data per fit.
    """
    limit = np.finfo(np.float32).max
    for what, values in arrays.items():
        if values.size and np.abs(values).max() > limit:
            raise ValueError(f"{name}: {what} holds values beyond float32's range "
                             f"(|value| up to {np.abs(values).max():.3g} > {limit:.3g}); the "
                             f"network trains in float32: scale the data")


def _check_float32_squares(name, y):
    """Refuse regression targets whose squared error would overflow float32.

    The training loss sums squared residuals in float32: a target beyond
    ``sqrt(float32 max)`` (about 1.8e19) overflows it at the initial weights, whatever the
    learning rate; one pass over ``y`` per fit.
    """
    limit = float(np.sqrt(np.finfo(np.float32).max))
    if y.size and np.abs(y).max() > limit:
        raise ValueError(f"{name}: y holds values too large for the float32 squared error "
                         f"(|value| up to {np.abs(y).max():.3g} > {limit:.3g}, whose square "
                         f"overflows float32); the network trains in float32: scale the data "
                         f"(e.g. sklearn.compose.TransformedTargetRegressor)")


def _float32(name, **arrays):
    """The validated float64 ``arrays`` in float32 (the training dtype), range checked."""
    _check_float32_range(name, **arrays)
    out = [values.astype(np.float32) for values in arrays.values()]
    return out[0] if len(out) == 1 else out


def _has_partial_fit(estimator):
    """partial_fit exists for the minibatch optimizers (scikit-learn's rule for its solvers)."""
    if estimator.optimizer == "lbfgs":
        raise AttributeError(f"{type(estimator).__name__} with optimizer='lbfgs' has no "
                             f"partial_fit: L-BFGS minimises the full-batch objective; use a "
                             f"minibatch optimizer such as 'adam' or 'sgd'")
    return True


class _BaseMLP(BaseEstimator):
    """Shared parameters, network construction and the training loop."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", alpha=1e-4,
                 batch_size="auto", learning_rate_init=1e-3, max_iter=200, tol=1e-4,
                 n_iter_no_change=10, shuffle=True, random_state=None, optimizer="adam",
                 momentum=0.9, nesterovs_momentum=True, dropout=0.0, early_stopping=False,
                 validation_fraction=0.1, warm_start=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.optimizer = optimizer
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.dropout = dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start

    # -- validation ---------------------------------------------------------------------
    def _check_params(self):
        name = type(self).__name__
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)):
            sizes = [sizes]
        elif isinstance(sizes, (tuple, list)) or (isinstance(sizes, np.ndarray)
                                                  and sizes.ndim == 1):
            sizes = list(sizes)
        else:  # None, 5.0, "8": a clear error, not Python's "not iterable"
            raise ValueError(f"{name}: hidden_layer_sizes must be positive integers; "
                             f"got {sizes!r}")
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                   for s in sizes):
            raise ValueError(f"{name}: hidden_layer_sizes must be positive integers; "
                             f"got {self.hidden_layer_sizes!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of {sorted(_ACTIVATIONS)}; "
                             f"got {self.activation!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"{name}: optimizer must be one of {sorted(_OPTIMIZERS)}; "
                             f"got {self.optimizer!r}")
        # Types first (alpha=None, "0.1"), then ranges: the checks name the estimator.
        positive_float(name, "alpha", self.alpha, allow_zero=True)
        positive_float(name, "learning_rate_init", self.learning_rate_init)
        positive_int(name, "max_iter", self.max_iter)  # 2.5 epochs or True are no count
        positive_float(name, "tol", self.tol, allow_zero=True)
        positive_int(name, "n_iter_no_change", self.n_iter_no_change)
        unit_interval(name, "dropout", self.dropout)
        unit_interval(name, "momentum", self.momentum)  # [0, 1), as SGD and RMSprop take it
        boolean(name, "shuffle", self.shuffle)
        boolean(name, "nesterovs_momentum", self.nesterovs_momentum)
        boolean(name, "early_stopping", self.early_stopping)
        boolean(name, "warm_start", self.warm_start)
        positive_float(name, "validation_fraction", self.validation_fraction, allow_zero=True)
        if self.early_stopping:  # (0, 1) only matters when a part is held out
            unit_interval(name, "validation_fraction", self.validation_fraction,
                          closed_low=False)
        if self.optimizer == "lbfgs" and (self.dropout > 0 or self.early_stopping):
            raise ValueError(f"{name}: optimizer='lbfgs' searches along lines of one "
                             f"deterministic full-batch objective: it takes no dropout (got "
                             f"{self.dropout}) and no early_stopping (got "
                             f"{self.early_stopping}); use 'adam' or 'sgd' for those")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto") and not (
                is_int(self.batch_size) and self.batch_size >= 1):
            raise ValueError(f"{name}: batch_size must be 'auto' or a positive integer; "
                             f"got {self.batch_size!r}")
        return [int(s) for s in sizes]

    # -- the network --------------------------------------------------------------------
    def _build(self, n_in, n_out, sizes, rng, dropout_rng=None):
        """The network, its weights drawn from ``rng``, its dropout masks from
        ``dropout_rng`` (default ``rng``; see :meth:`_dropout_generator`)."""
        dropout_rng = rng if dropout_rng is None else dropout_rng
        act = _ACTIVATIONS[self.activation]
        init = "he" if self.activation == "relu" else "glorot_uniform"
        layers, width = [], n_in
        for size in sizes:
            layers += [nn.Dense(width, size, init=init, rng=rng), act()]
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout, rng=dropout_rng))
            width = size
        layers.append(nn.Dense(width, n_out, init="glorot_uniform", rng=rng))
        return nn.Sequential(*layers)

    def _train(self, X, targets, n_out, incremental=False):
        """Minibatch training on float32 ``X``; sets the fitted attributes.

        A cold fit builds a new network. With ``warm_start`` (fit) or ``incremental``
        (partial_fit: one epoch) a fitted estimator continues from its weights, its
        ``loss_curve_`` and its stopping rule's state, as scikit-learn's; partial_fit also
        keeps the optimizer's state (moments, step count) from the call before.
        """
        name = type(self).__name__
        sizes = self._check_params()
        continuing = hasattr(self, "model_") and (incremental or self.warm_start)
        if incremental and self.early_stopping:
            raise ValueError(f"{name}.partial_fit: early_stopping holds out part of each fit's "
                             f"data, which partial_fit does not do; set early_stopping=False")
        rng = _generator(self.random_state)
        if self.early_stopping:
            X, targets, X_val, t_val = self._hold_out(X, targets, rng)
        n = len(X)
        model = self._build(X.shape[1], n_out, sizes, rng, self._dropout_generator(rng, continuing))
        if continuing:
            self._continue_from(model, sizes, n_out)
        self.model_ = model
        if self.optimizer == "lbfgs":
            return self._train_lbfgs(X, targets, n_out)
        kwargs = {"momentum": self.momentum} if self.optimizer in ("sgd", "rmsprop") else {}
        if self.optimizer == "sgd":  # scikit-learn's Nesterov step is PyTorch's, as SGD's
            kwargs["nesterov"] = bool(self.nesterovs_momentum) and self.momentum > 0
        opt = _OPTIMIZERS[self.optimizer](model.parameters(), lr=self.learning_rate_init,
                                          **kwargs)
        saved = getattr(self, "_optimizer_state", None)
        if incremental and continuing and saved and saved["algorithm"] == type(opt).__name__:
            # scikit-learn's partial_fit keeps its optimizer; the hyper-parameters are today's
            opt.load_state_dict({k: v for k, v in saved.items() if k not in opt.hyperparameters})
        weights = [layer.W for layer in model if isinstance(layer, nn.Dense)]
        seed = np.array(self._data_weight(n_out), np.float32)  # d(trained loss)/d(reported)
        batch = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        progress = getattr(self, "_progress", None) if continuing else None
        if progress is None or progress["early_stopping"] != self.early_stopping:
            progress = {"best": np.inf, "stall": 0, "best_weights": None}
        best, stall, best_weights = progress["best"], progress["stall"], progress["best_weights"]
        old_curve = getattr(self, "loss_curve_", None) if continuing else None
        loss_curve = list(old_curve or [])  # new lists: a failed fit leaves the old ones
        old_scores = getattr(self, "validation_scores_", None) if continuing else None
        validation_scores = list(old_scores or []) if self.early_stopping else None
        model.train()
        for epoch in range(1 if incremental else int(self.max_iter)):
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            total = 0.0
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                opt.zero_grad()
                loss = self._loss(model(Tensor(X[idx])), targets[idx])
                loss.backward(seed)
                # L2 penalty alpha/(2 batch) ||W||^2 on each batch, as scikit-learn's: in the
                # gradient and in the reported loss, where it counts once per batch (so
                # loss_curve_ and the tol rule see scikit-learn's numbers)
                penalty = 0.0
                if self.alpha:
                    penalty = 0.5 * self.alpha * sum(
                        float(np.sum(W.data.astype(np.float64) ** 2)) for W in weights)
                for W in weights:
                    W.grad += (self.alpha / len(idx)) * W.data
                opt.step()
                total += float(loss.data) * len(idx) + penalty  # the batch's loss x its size
            epoch_loss = total / n
            if not np.isfinite(epoch_loss):
                cause = self._overflow_cause(targets, batch) if epoch == 0 else None
                raise ValueError(f"{name}: the loss diverged (epoch {epoch + 1}); " + (
                    cause or f"lower learning_rate_init (now {self.learning_rate_init})"))
            loss_curve.append(epoch_loss)
            if self.early_stopping:  # the notes' early stopping: watch held-out data
                score = self._validation_score(model, X_val, t_val)
                if not np.isfinite(score):
                    raise ValueError(f"{name}: the validation score is not finite ({score}, "
                                     f"epoch {epoch + 1}); lower learning_rate_init (now "
                                     f"{self.learning_rate_init})")
                validation_scores.append(score)
                # scikit-learn's rule: a score equal to best + tol is an improvement (with
                # tol=0 a plateau of validation accuracy at its best does not stop the fit)
                improved, current = score >= -best + self.tol, -score
                if score > -best:
                    best_weights = _weights(model)
            else:
                improved, current = epoch_loss <= best - self.tol, epoch_loss
            stall = 0 if improved else stall + 1
            best = min(best, current)
            # as scikit-learn: stop when the count exceeds n_iter_no_change
            if stall > self.n_iter_no_change and not incremental:
                break
        else:
            if not incremental:
                warnings.warn(f"{name}: max_iter={self.max_iter} reached before the loss "
                              f"converged", ConvergenceWarning, stacklevel=4)
        self.best_validation_score_ = None  # set below when early stopping keeps a best state
        if best_weights is not None:  # keep the best weights seen on the validation data
            _set_weights(model, best_weights)
            self.best_validation_score_ = -best
        # scikit-learn's best_loss_: the lowest loss_curve_ value since the first fit (the
        # stopping rule's best); None with early stopping, which keeps the validation score's
        self.best_loss_ = None if self.early_stopping else float(best)
        self._progress = {"best": best, "stall": stall, "best_weights": best_weights,
                          "early_stopping": self.early_stopping}
        self._optimizer_state = opt.state_dict()
        self.loss_curve_, self.validation_scores_ = loss_curve, validation_scores
        self.n_iter_ = epoch + 1  # epochs of this call, as scikit-learn's
        self.loss_ = loss_curve[-1]
        # Predict in float64: results then do not depend on how rows are batched (BLAS blocks
        # float32 sums differently for different batch sizes; scikit-learn checks invariance).
        model.eval().astype(np.float64)
        return self

    def _dropout_generator(self, rng, continuing):
        """The generator of the Dropout layers' masks in this call.

        A fresh fit draws them from ``rng``, the call's generator (as the shuffles). Each
        call starts ``rng`` anew from ``random_state`` and, as scikit-learn's, so replays the
        shuffles and the hold-out of the first call; masks replayed that way would make
        every partial_fit call (or warm_start fit) drop the same units, a fixed thinned
        network instead of dropout. So a continued call with an int ``random_state`` draws
        its masks from a child stream of that seed, keyed by the epochs trained before it:
        the same sequence of calls gives the same masks (scikit-learn's meaning of an int
        ``random_state``), and no two calls the same. None, a Generator or a RandomState
        already give each call new draws.
        """
        if not (continuing and is_int(self.random_state)):
            return rng
        epochs_before = len(self.loss_curve_ or [])  # None after an lbfgs fit (no dropout)
        return np.random.default_rng(np.random.SeedSequence(int(self.random_state),
                                                            spawn_key=(epochs_before,)))

    def _continue_from(self, model, sizes, n_out):
        """Copy the fitted network's weights into the new float32 ``model`` (warm start)."""
        old = [(layer.W.shape, layer.b.shape) for layer in self.model_
               if isinstance(layer, nn.Dense)]
        new = [(layer.W.shape, layer.b.shape) for layer in model if isinstance(layer, nn.Dense)]
        if old != new:
            fitted = [w[1] for w, _ in old]
            raise ValueError(f"{type(self).__name__}: warm_start and partial_fit continue the "
                             f"fitted network, of layer widths {fitted[:-1]} and {fitted[-1]} "
                             f"outputs; got hidden_layer_sizes={sizes} and {n_out} outputs. "
                             f"Set warm_start=False (or fit a new estimator) to change them")
        _set_weights(model, _weights(self.model_))

    def _train_lbfgs(self, X, targets, n_out):
        """scikit-learn's ``solver="lbfgs"``: the full-batch objective, loss plus
        ``alpha / (2 n) ||W||^2``, minimised by L-BFGS for at most ``max_iter`` iterations,
        stopping when every gradient component is below ``tol``."""
        weights = [layer.W for layer in self.model_ if isinstance(layer, nn.Dense)]
        n = len(X)
        x = Tensor(X)
        opt = optim.LBFGS(self.model_.parameters(), max_iter=int(self.max_iter),
                          max_eval=max(15000, int(self.max_iter)), tolerance_grad=self.tol,
                          history_size=10)

        scale = self._data_weight(n_out)

        def penalty():
            return sum((W * W).sum() for W in weights) * (0.5 * self.alpha / n)

        def objective():
            loss = self._loss(self.model_(x), targets)
            if scale != 1:
                loss = loss * scale
            if self.alpha:
                loss = loss + penalty()
            return loss

        self.model_.train()
        value = opt.step(objective)
        if not np.isfinite(value):
            raise ValueError(f"{type(self).__name__}: the objective is not finite ({value}) at "
                             f"the initial weights")
        if opt.iterations >= int(self.max_iter):
            warnings.warn(f"{type(self).__name__}: max_iter={self.max_iter} L-BFGS iterations "
                          f"reached before the gradient fell below tol={self.tol}",
                          ConvergenceWarning, stacklevel=5)
        self.n_iter_ = opt.iterations
        if scale != 1:  # report the mean over outputs, as scikit-learn's loss_
            reg = float(penalty().data) if self.alpha else 0.0
            value = (value - reg) / scale + reg
        self.loss_ = float(value)
        self.loss_curve_ = None  # as scikit-learn: no per-epoch curve for lbfgs
        self.validation_scores_ = None
        self.best_validation_score_ = self.best_loss_ = None
        self._progress = self._optimizer_state = None
        self.model_.eval().astype(np.float64)
        return self

    def _continuing(self):
        """True when this fit continues the fitted network (warm_start); the first fit, or a
        fit without warm_start, starts afresh and may change the data's shape."""
        return isinstance(self.warm_start, (bool, np.bool_)) and bool(self.warm_start) and \
            hasattr(self, "model_")

    def _data_weight(self, n_out):
        """How many times the reported data loss the training loss is (1; see MLPRegressor)."""
        return 1

    def _overflow_cause(self, targets, batch):
        """Why a first epoch's loss was not finite, when the data (not the learning rate)
        explains it; None otherwise (see MLPRegressor). Runs only after a divergence."""
        return None

    def _hold_out(self, X, targets, rng):
        """Split off ``validation_fraction`` of the data (stratified for classifiers):
        ``ceil(validation_fraction n)`` rows, as scikit-learn's ``train_test_split``."""
        from .datasets import split

        n_val = int(np.ceil(self.validation_fraction * len(X)))
        if n_val < 2 or n_val > len(X) - 1:
            raise ValueError(f"{type(self).__name__}: early_stopping needs more samples: "
                             f"validation_fraction={self.validation_fraction} of {len(X)} "
                             f"leaves {n_val} for validation")
        stratify = isinstance(self, ClassifierMixin) and np.bincount(targets).min() >= 2
        index = np.arange(len(X))
        # fractions that split() rounds to exactly n_val held-out rows
        train, val = split(index, targets if stratify else None,
                           ((len(X) - n_val) / len(X), n_val / len(X)), rng=rng,
                           stratify=stratify)
        train, val = (train[0], val[0]) if stratify else (train, val)
        return X[train], targets[train], X[val], targets[val]

    def _validation_score(self, model, X_val, t_val):
        model.eval()
        with no_grad():
            out = model(Tensor(X_val)).data.astype(np.float64)
        model.train()
        return self._score_outputs(out, t_val)

    def _forward(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with no_grad():
            return self.model_(Tensor(X)).data

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multilayer perceptron classifier: softmax outputs, cross-entropy loss.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity"}, default "relu"
    alpha : float, default 1e-4
        L2 penalty ``alpha/2 ||W||^2`` (averaged per sample, as scikit-learn).
    batch_size : int or "auto", default "auto"
        ``min(200, n_samples)`` for "auto".
    learning_rate_init : float, default 1e-3
    max_iter : int, default 200
        Epochs.
    tol, n_iter_no_change : float, int
        Stop when the training loss has not fallen to ``best - tol`` or below for more
        than ``n_iter_no_change`` consecutive epochs (with ``early_stopping``: when the
        validation score has not risen to ``best + tol`` or above), i.e. after
        ``n_iter_no_change + 1`` epochs without improvement, as scikit-learn: with
        ``tol=0`` an epoch that equals the best value counts as an improvement.
    shuffle : bool, default True
    random_state : int, Generator, RandomState or None
        None draws a seed from the library generator (``rb.seed``). An int makes the same
        sequence of calls give the same model. As scikit-learn's, each call (``fit``,
        ``partial_fit``) starts its shuffles and hold-out from it anew (so a warm_start fit
        holds out the same rows); the dropout masks of a continued call come from a stream
        of their own, keyed by the epochs before it, so no two calls drop the same units.
    optimizer : {"adam", "sgd", "rmsprop", "adagrad", "lbfgs"}, default "adam"
        "lbfgs" is scikit-learn's ``solver="lbfgs"``: the whole training set at once,
        ``max_iter`` L-BFGS iterations at most, stopping when every gradient component is
        below ``tol``; no dropout or early stopping, and no ``loss_curve_`` (None).
    momentum : float, default 0.9
        For "sgd" and "rmsprop".
    nesterovs_momentum : bool, default True
        For "sgd" with ``momentum > 0``: Nesterov's momentum, as scikit-learn's default
        (:class:`rosenblatt.optim.SGD` with ``nesterov=True``; the same steps as
        scikit-learn's); False for classical (heavy-ball) momentum.
    dropout : float in [0, 1), default 0.0
        Dropout rate after each hidden layer (training only).
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified),
        stop when its score (accuracy; R^2 for the regressor) stops improving
        and keep the best weights (notes: "Early stopping").
    validation_fraction : float in (0, 1), default 0.1
        ``ceil(validation_fraction n)`` samples are held out, as scikit-learn.
    warm_start : bool, default False
        As scikit-learn's: ``fit`` on a fitted estimator continues from its weights
        (a new optimizer, ``max_iter`` more epochs at most), appends to ``loss_curve_``
        (and ``validation_scores_``) and carries the stopping rule's best value and
        count over; the data must keep its features (and classes, or outputs) and the
        network its layers. ``partial_fit`` always continues.

    Attributes
    ----------
    classes_ : ndarray
    model_ : rb.nn.Sequential
        The trained network (logits out), trained in float32 and kept in
        float64 for prediction; save it with ``rb.save``.
    loss_curve_ : list of float
        The loss of each epoch: the data loss plus the L2 penalty of each minibatch,
        averaged over the minibatches weighted by size (scikit-learn's numbers); the
        ``tol`` rule compares these.
    validation_scores_ : list of float or None
        Per epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        With ``early_stopping``; None without (as scikit-learn).
    best_loss_ : float or None
        The lowest ``loss_curve_`` value (across warm starts and partial_fit calls, as the
        ``tol`` rule counts it); None with ``early_stopping`` (see
        ``best_validation_score_``) and for ``optimizer="lbfgs"``, as scikit-learn.
    loss_, n_features_in_
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``), as scikit-learn's.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, y = rb.datasets.moons(200, noise=0.1, rng=0)
    >>> clf = rb.sklearn.MLPClassifier((16,), learning_rate_init=0.01, batch_size=32,
    ...                                random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95
    True
    """

    @_unchanged_if_failed
    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,); returns self.

        With ``warm_start`` a fitted classifier continues from its weights; ``y`` must then
        hold the same classes as before (as scikit-learn's).
        """
        warm = self._continuing()
        X, y = validate_data(self, X, y, dtype=np.float64, reset=not warm)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(f"{type(self).__name__}: warm_start continues a classifier of the "
                             f"classes {self.classes_.tolist()}; y has {classes.tolist()}. Set "
                             f"warm_start=False to fit other classes")
        self.classes_ = classes
        return self._train(_float32(type(self).__name__, X=X), codes.astype(np.int64),
                           len(self.classes_))

    @available_if(_has_partial_fit)
    @_unchanged_if_failed
    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X`` (n_samples, n_features) and labels ``y``; returns self.

        Parameters
        ----------
        X : array_like (n_samples, n_features)
        y : array_like (n_samples,)
        classes : array_like, optional
            Every label of the whole stream: needed on the first call (a batch need not
            hold every class), optional later (then it must be the same).

        Notes
        -----
        As scikit-learn's: the first call builds the network; every call runs one epoch in
        minibatches of ``batch_size``, keeps the optimizer's state between calls and appends
        to ``loss_curve_`` (``n_iter_`` is 1); a fitted classifier continues. Not available
        for ``optimizer="lbfgs"``, nor with ``early_stopping``.
        """
        name = type(self).__name__
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"{name}.partial_fit: classes={classes.tolist()} differs from "
                                 f"the fitted classes {self.classes_.tolist()}")
        elif first:
            raise ValueError(f"{name}.partial_fit: pass classes= (every label of the data "
                             f"stream) on the first call")
        if first:
            self.classes_ = classes
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(f"{name}.partial_fit: y holds labels not in classes_ "
                             f"{self.classes_.tolist()}: {unseen.tolist()}")
        codes = np.searchsorted(self.classes_, y)
        return self._train(_float32(name, X=X), codes.astype(np.int64), len(self.classes_),
                           incremental=True)

    def _loss(self, logits, codes):
        return losses.cross_entropy(logits, codes)

    def _score_outputs(self, logits, codes):
        return float(np.mean(np.argmax(logits, axis=1) == codes))  # accuracy

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        z = self._forward(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, as scikit-learn's: -inf where a probability underflowed
        to 0 (so that the two always agree)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each sample."""
        scores = self._forward(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(scores, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multilayer perceptron regressor: linear outputs, half the mean squared error.

    Parameters are those of :class:`MLPClassifier`. ``y`` may be
    (n_samples,) or (n_samples, n_outputs); the network trains in float32, so targets
    beyond about 1.8e19 in absolute value (whose squared error overflows float32) are
    refused: scale them.

    Trained as scikit-learn's: the gradient is that of
    ``sum((y - f(x))^2) / (2 n) + alpha / (2 n) ||W||^2`` (the sum over outputs, the mean
    over the n samples), so ``alpha`` regularises as strongly as scikit-learn's for any
    number of outputs; ``loss_`` / ``loss_curve_`` report, as scikit-learn's, the data term
    averaged over outputs too, ``mean((y - f(x))^2) / 2``, plus the penalty. The half is the
    notes' derivation-friendly squared error, whose gradient is f(x) - y.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, y = rb.datasets.sine(200, noise=0.05, rng=0)
    >>> reg = rb.sklearn.MLPRegressor((32,), activation="tanh", batch_size=32,
    ...                               learning_rate_init=0.01, random_state=0).fit(X, y.ravel())
    >>> reg.score(X, y.ravel()) > 0.9
    True
    """

    @_unchanged_if_failed
    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y``; returns self.

        With ``warm_start`` a fitted regressor continues from its weights (``y`` must have
        as many outputs as before).
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True,
                             reset=not self._continuing())
        self._y_ndim = y.ndim
        X, targets = _float32(type(self).__name__, X=X, y=y.reshape(len(y), -1))
        _check_float32_squares(type(self).__name__, targets)
        return self._train(X, targets, targets.shape[1])

    @available_if(_has_partial_fit)
    @_unchanged_if_failed
    def partial_fit(self, X, y):
        """One epoch over ``X`` (n_samples, n_features) and targets ``y``; returns self.

        As scikit-learn's: the first call builds the network; every call runs one epoch in
        minibatches of ``batch_size``, keeps the optimizer's state between calls and appends
        to ``loss_curve_`` (``n_iter_`` is 1); a fitted regressor continues. Not available
        for ``optimizer="lbfgs"``, nor with ``early_stopping``.
        """
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True,
                             reset=first)
        self._y_ndim = y.ndim
        X, targets = _float32(type(self).__name__, X=X, y=y.reshape(len(y), -1))
        _check_float32_squares(type(self).__name__, targets)
        return self._train(X, targets, targets.shape[1], incremental=True)

    def _loss(self, pred, target):
        return losses.mse(pred, target, half=True)  # scikit-learn's squared_loss, as reported

    def _data_weight(self, n_out):
        # scikit-learn reports the mean over samples and outputs but trains on the gradient
        # of the sum over outputs (its deltas are (f(x) - y) / n_samples)
        return n_out

    def _overflow_cause(self, targets, batch):
        # the float32 loss sums a batch's squared residuals; at small initial outputs they
        # are about the targets' squares
        largest = float(np.abs(targets).max()) if targets.size else 0.0
        if largest ** 2 * batch * targets.shape[1] < np.finfo(np.float32).max:
            return None
        return (f"the squared error of targets this large (|y| up to {largest:.3g}, "
                f"{batch} rows a batch) overflows float32, whatever the learning rate: "
                f"scale y (e.g. sklearn.compose.TransformedTargetRegressor)")

    def _score_outputs(self, pred, target):
        from sklearn.metrics import r2_score

        return float(r2_score(target, pred))

    def predict(self, X):
        """Predicted targets, shaped like the ``y`` given to fit."""
        out = self._forward(X)
        return out.ravel() if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# -- restricted Boltzmann machines (notes: "Restricted Boltzmann machines") --------------------
import time  # noqa: E402  (this block's imports sit beside the RBM estimator they serve)

import scipy.sparse  # noqa: E402
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from .models.rbm import RBM  # noqa: E402
from .optim.sgd import SGD  # noqa: E402


def _dense(X):
    """``X`` as a dense array: a scipy sparse matrix is converted (memory of its dense rows)."""
    return X.toarray() if scipy.sparse.issparse(X) else X


class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """scikit-learn's ``BernoulliRBM``, backed by :class:`rosenblatt.models.RBM`.

    Same constructor, attributes and behaviour as
    ``sklearn.neural_network.BernoulliRBM``: persistent CD-1 (stochastic
    maximum likelihood) on unshuffled minibatches of ``batch_size`` rows (the
    last one shorter), each update divided by the batch's rows, weights drawn from
    N(0, 0.01^2), ``transform`` gives p(h = 1 | v), ``score_samples`` the
    one-bit pseudo-likelihood, ``gibbs`` one Gibbs step, ``partial_fit`` one
    update on the given rows (``set_params`` between calls takes effect, ``k``
    and ``persistent`` too). Like scikit-learn's, it does not check that the
    data lie in [0, 1] (``rb.models.RBM`` does). Usable in a ``Pipeline``;
    a pickled or deep-copied estimator trains on. scipy sparse input is taken as
    scikit-learn's is (converted to CSR); the model computes on dense arrays, so
    ``fit`` and ``partial_fit`` densify one minibatch at a time, while ``transform``,
    ``score_samples`` and ``gibbs`` densify all the rows given: the memory of a dense
    (n_samples, n_features) array (transform large sparse data in chunks of rows).

    Parameters
    ----------
    n_components : int, default 256
        Hidden units.
    learning_rate : float, default 0.1
    batch_size : int, default 10
    n_iter : int, default 10
        Passes over the data.
    verbose : int, default 0
        Print the pseudo-likelihood after each pass.
    random_state : None, int, numpy Generator or RandomState
    k : int, default 1
        Gibbs steps per update (rosenblatt's; scikit-learn's is 1).
    persistent : bool, default True
        PCD as scikit-learn; False for CD-k (rosenblatt's).
    momentum : float, default 0
        rosenblatt's; scikit-learn's has none.

    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
    intercept_hidden_ : ndarray (n_components,)
    intercept_visible_ : ndarray (n_features,)
    h_samples_ : ndarray (batch_size, n_components)
        The persistent chains' hidden states (PCD; None for CD).
    rbm_ : rosenblatt.models.RBM
        The model (its ``W`` is ``components_.T``).

    Notes
    -----
    scikit-learn corrupts a random bit of each row in ``score_samples``; here
    the bit is a fixed pseudo-random function of the row's values, so a row
    scores the same alone or in any batch (``check_estimator`` asks this of
    every method) and the estimate stays unbiased over rows.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> model = rb.sklearn.BernoulliRBM(n_components=2, random_state=0).fit(X)
    >>> model.transform(X).shape
    (4, 2)
    """

    def __init__(self, n_components=256, learning_rate=0.1, batch_size=10, n_iter=10,
                 verbose=0, random_state=None, k=1, persistent=True, momentum=0.0):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.persistent = persistent
        self.momentum = momentum

    # the fitted parameters, always in step with rbm_ (views, never stale copies); setting one
    # (scikit-learn's idiom to load or initialise weights) writes into rbm_'s arrays in place
    def _set_fitted(self, name, value, target, shape):
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{type(self).__name__}: {name} must be numeric; got dtype "
                            f"{value.dtype}")
        if value.shape != shape:
            raise ValueError(f"{type(self).__name__}: {name} must have shape {shape}; got "
                             f"{value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{type(self).__name__}: {name} must be finite; got NaN or "
                             f"infinite values")
        target[...] = value  # in place: the views into the flat vector stay

    components_ = property(lambda self: self._fitted().W.data.T)
    intercept_hidden_ = property(lambda self: self._fitted().c.data)
    intercept_visible_ = property(lambda self: self._fitted().b.data)

    @components_.setter
    def components_(self, value):
        if not hasattr(self, "rbm_"):  # a fresh estimator: built from the weights' shape
            self._start_from(value)
        rbm = self.rbm_
        self._set_fitted("components_", value, rbm.W.data.T, (rbm.n_hidden, rbm.n_visible))

    def _start_from(self, value):
        """Build ``rbm_`` for weights ``value`` (n_components, n_features) set on a fresh
        estimator (scikit-learn's idiom to initialise or restore an RBM)."""
        name = type(self).__name__
        value = np.asarray(value)
        if value.ndim != 2 or value.shape[0] < 1 or value.shape[1] < 1:
            raise ValueError(f"{name}: components_ must have shape (n_components, n_features); "
                             f"got {value.shape}")
        if is_int(self.n_components) and value.shape[0] != self.n_components:
            raise ValueError(f"{name}: components_ must have n_components={self.n_components} "
                             f"rows; got shape {value.shape}. Set n_components="
                             f"{value.shape[0]} first (set_params)")
        dtype = np.float32 if value.dtype == np.float32 else np.float64
        self._start(value.shape[1], dtype)
        self.n_features_in_ = int(value.shape[1])

    def _built(self, name):
        if not hasattr(self, "rbm_"):
            raise NotFittedError(f"{type(self).__name__}: set components_ (or fit) before "
                                 f"{name}: the weights decide the model's shape")
        return self.rbm_

    @intercept_hidden_.setter
    def intercept_hidden_(self, value):
        rbm = self._built("intercept_hidden_")
        self._set_fitted("intercept_hidden_", value, rbm.c.data, (rbm.n_hidden,))

    @intercept_visible_.setter
    def intercept_visible_(self, value):
        rbm = self._built("intercept_visible_")
        self._set_fitted("intercept_visible_", value, rbm.b.data, (rbm.n_visible,))

    h_samples_ = property(lambda self: self._fitted()._chains)

    @h_samples_.setter
    def h_samples_(self, value):
        """The persistent chains' hidden states (n_chains, n_components), values in [0, 1]."""
        rbm = self._built("h_samples_")
        name = type(self).__name__
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise TypeError(f"{name}: h_samples_ must be numeric; got dtype {value.dtype}")
        if value.ndim != 2 or value.shape[0] < 1 or value.shape[1] != rbm.n_hidden:
            raise ValueError(f"{name}: h_samples_ must have shape (n_chains, "
                             f"{rbm.n_hidden}) (n_components={rbm.n_hidden}); got "
                             f"{value.shape}")
        if not np.all(np.isfinite(value)) or value.min() < 0 or value.max() > 1:
            raise ValueError(f"{name}: h_samples_ must hold hidden states in [0, 1]; got "
                             f"values in [{value.min()!r}, {value.max()!r}]")
        rbm._chains = value.astype(rbm.W.data.dtype)  # a copy: the caller's array stays theirs

    # get_feature_names_out (bernoullirbm0, ...) and set_output read it
    _n_features_out = property(lambda self: self._fitted().n_hidden)

    def _fitted(self):
        check_is_fitted(self, "rbm_")
        return self.rbm_

    def _check_params(self):
        name = type(self).__name__
        for pname, minimum in (("n_components", 1), ("batch_size", 1), ("n_iter", 0), ("k", 1)):
            int_at_least(name, pname, getattr(self, pname), minimum)
        positive_float(name, "learning_rate", self.learning_rate)
        unit_interval(name, "momentum", self.momentum)
        boolean(name, "persistent", self.persistent)
        if not (is_int(self.verbose) or isinstance(self.verbose, (bool, np.bool_))):
            raise TypeError(f"{name}: verbose must be an integer or a bool; got "
                            f"{self.verbose!r}")

    def _start(self, n_features, dtype):
        self._check_params()
        rng = _generator(self.random_state)
        self.random_state_ = rng
        self.rbm_ = RBM(n_features, int(self.n_components), k=int(self.k),
                        persistent=bool(self.persistent), lr=float(self.learning_rate),
                        momentum=float(self.momentum), rng=rng, dtype=dtype)
        self._optimizer = SGD(self.rbm_.vector, lr=float(self.learning_rate),
                              momentum=float(self.momentum))
        if self.rbm_.persistent:  # batch_size chains from all-zero hidden states, as scikit-learn
            self.rbm_._chains = np.zeros((int(self.batch_size), int(self.n_components)), dtype)
        # which bit score_samples flips is a hash of the row: integer weights, exact sums
        self._flip_weights = rng.integers(1, 2**20, n_features)

    def __setstate__(self, state):
        super().__setstate__(state)
        opt = self.__dict__.get("_optimizer")
        if opt is not None and opt.vec is not self.rbm_.vector:
            # A copy (pickle, deepcopy) holds W, b and c as arrays of their own: rbm_.vector
            # packs them again; the optimizer moves to it, its velocity carried over.
            self._optimizer = SGD(self.rbm_.vector, lr=opt.lr, momentum=opt.momentum)
            self._optimizer.load_state_dict(opt.state_dict())

    def _apply_settings(self):
        """set_params between partial_fit calls takes effect: the optimizer's learning rate
        and momentum, and the model's k and persistent (PCD chains start from all-zero hidden
        states, as in a new fit; CD drops them)."""
        self._check_params()
        self._optimizer.lr = float(self.learning_rate)
        self._optimizer.momentum = float(self.momentum)
        rbm = self.rbm_
        rbm.k = int(self.k)
        if bool(self.persistent) != rbm.persistent:
            rbm.persistent = bool(self.persistent)
            rbm._chains = (np.zeros((int(self.batch_size), rbm.n_hidden), rbm.W.dtype)
                           if rbm.persistent else None)

    def _update(self, v):
        rbm = self.rbm_
        negatives = rbm.cd_gradient(v, self.random_state_)
        B, M = len(v), len(negatives)
        if B != M:
            # PCD with a batch of other than batch_size rows (the last one, or partial_fit):
            # rbm_ averages the negative phase over its M chains, scikit-learn divides it by
            # the batch's B rows, as the positive phase. Add (1/B - 1/M) x the negative sums.
            extra = 1.0 / B - 1.0 / M
            h = rbm._hidden_probs(negatives)
            rbm.W.grad += extra * (negatives.T @ h)
            rbm.b.grad += extra * negatives.sum(axis=0)
            rbm.c.grad += extra * h.sum(axis=0)
        self._optimizer.step()

    @_unchanged_if_failed
    def fit(self, X, y=None):
        """Train for ``n_iter`` passes over X (n_samples, n_features); returns self."""
        X = validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32))
        self._start(X.shape[1], X.dtype)
        batch = int(self.batch_size)
        for iteration in range(int(self.n_iter)):
            start = time.perf_counter()
            # unshuffled batches of batch_size rows, the last one shorter: scikit-learn's
            for lo in range(0, X.shape[0], batch):
                self._update(_dense(X[lo:lo + batch]))
            if not np.all(np.isfinite(self.rbm_.W.data)):
                raise ValueError(f"{type(self).__name__}: the weights diverged (pass "
                                 f"{iteration + 1}); lower learning_rate")
            if self.verbose:
                print(f"[{type(self).__name__}] Iteration {iteration + 1}, pseudo-likelihood = "
                      f"{self.score_samples(X).mean():.2f}, "
                      f"time = {time.perf_counter() - start:.2f}s")
        return self

    def partial_fit(self, X, y=None):
        """One update on the rows of X (one minibatch); the first call initialises."""
        first = not hasattr(self, "rbm_")
        X = validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32),
                          reset=first)
        if first:
            self._start(X.shape[1], X.dtype)
        else:
            self._apply_settings()
        self._update(_dense(X).astype(self.rbm_.W.dtype, copy=False))
        return self

    def _data(self, X, promote=False):
        """X checked, dense, in the model's dtype; with ``promote``, in the wider of the two
        (float64 data on a float32 model stay float64, as scikit-learn computes)."""
        check_is_fitted(self, "rbm_")
        X = _dense(validate_data(self, X, accept_sparse="csr", dtype=(np.float64, np.float32),
                                 reset=False))
        dtype = np.result_type(X.dtype, self.rbm_.W.dtype) if promote else self.rbm_.W.dtype
        return X.astype(dtype, copy=False)

    def transform(self, X):
        """p(h = 1 | v) for each row: (n_samples, n_components)."""
        X = self._data(X, promote=True)  # first: NotFittedError before rbm_ is read
        return self.rbm_._hidden_probs(X)

    def score_samples(self, X):
        """The pseudo-likelihood of each row (one flipped bit stands for all): (n_samples,)."""
        X = self._data(X, promote=True)
        levels = np.clip(np.round(X.astype(np.float64) * 255), -1e6, 1e6).astype(np.int64)
        flips = (levels @ self._flip_weights) % X.shape[1]
        # in the model's dtype (float32 for float32 data), as scikit-learn's
        return self.rbm_._pseudo_likelihood(X, flips).astype(X.dtype, copy=False)

    def gibbs(self, v):
        """One Gibbs step v -> h -> v; returns the sampled visible states (booleans)."""
        v = self._data(v)
        return self.rbm_.gibbs(v, 1, rng=self.random_state_) > 0.5

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags


# -- unsupervised: autoencoders and sparse coding (notes: "Autoencoders", "Sparse Coding") ----


class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A shallow autoencoder as a scikit-learn transformer: ``transform`` gives the codes.

    Wraps :class:`rosenblatt.models.Autoencoder` (trained with Adam through ``rb.fit``), so it
    can sit in a ``Pipeline`` before a classifier (learned features; notes: "Unsupervised
    neural networks").

    Parameters
    ----------
    n_hidden : int, default 100
    activation : {"sigmoid", "tanh", "relu", "linear"}, default "sigmoid"
    output : {"linear", "sigmoid"}, default "linear"
        "sigmoid" (with the cross-entropy loss) needs data in [0, 1]; "linear" takes any data.
    loss : {"cross_entropy", "squared_error"} or None, default None
    tied : bool, default False
    sparsity, sparsity_weight, noise, contractive, hidden_dropout
        As :class:`rosenblatt.models.Autoencoder`.
    batch_size : int, default 32
    learning_rate_init : float, default 1e-3
    max_iter : int, default 50
        Epochs.
    random_state : int, Generator, RandomState or None

    Attributes
    ----------
    model_ : rosenblatt.models.Autoencoder
        Trained in float32, kept in float64 for ``transform``.
    loss_curve_ : list of float
    n_iter_, n_features_in_

    Examples
    --------
    >>> import rosenblatt as rb
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = rb.datasets.load_digits()
    >>> ae = rb.sklearn.Autoencoder(32, output="sigmoid", max_iter=20, learning_rate_init=3e-3,
    ...                             random_state=0)
    >>> pipe = make_pipeline(ae, LogisticRegression(max_iter=500)).fit(X[:500], y[:500])
    >>> pipe.score(X[500:800], y[500:800]) > 0.75
    True
    """

    def __init__(self, n_hidden=100, activation="sigmoid", output="linear", loss=None,
                 tied=False, sparsity=None, sparsity_weight=3.0, noise=None, contractive=0.0,
                 hidden_dropout=0.0, batch_size=32, learning_rate_init=1e-3, max_iter=50,
                 random_state=None):
        self.n_hidden = n_hidden
        self.activation = activation
        self.output = output
        self.loss = loss
        self.tied = tied
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.noise = noise
        self.contractive = contractive
        self.hidden_dropout = hidden_dropout
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.random_state = random_state

    @_unchanged_if_failed
    def fit(self, X, y=None):
        """Train on ``X`` (n_samples, n_features); ``y`` is ignored. Returns self."""
        from .models.autoencoder import Autoencoder as Network
        from .training.fit import DivergenceError

        X = validate_data(self, X, dtype=np.float64)
        name = type(self).__name__
        positive_int(name, "max_iter", self.max_iter)
        positive_int(name, "batch_size", self.batch_size)
        positive_float(name, "learning_rate_init", self.learning_rate_init)
        boolean(name, "tied", self.tied)
        _check_float32_range(name, X=X)  # the model trains in float32
        rng = _generator(self.random_state)
        self.model_ = Network(X.shape[1], self.n_hidden, activation=self.activation,
                              output=self.output, loss=self.loss, tied=self.tied,
                              sparsity=self.sparsity, sparsity_weight=self.sparsity_weight,
                              noise=self.noise, contractive=self.contractive,
                              hidden_dropout=self.hidden_dropout, rng=rng)
        opt = optim.Adam(self.model_.parameters(), lr=self.learning_rate_init)
        try:
            history = self.model_.fit(X, epochs=int(self.max_iter),
                                      batch_size=min(int(self.batch_size), len(X)),
                                      optimizer=opt)
        except DivergenceError as err:
            raise ValueError(f"{name}: the loss diverged; lower learning_rate_init (now "
                             f"{self.learning_rate_init}) or scale the data") from err
        self.loss_curve_ = list(history["loss"])
        self.n_iter_ = len(self.loss_curve_)
        # float64 codes: results then do not depend on how rows are batched
        self.model_.eval().astype(np.float64)
        return self

    # get_feature_names_out (autoencoder0, ...) and set_output read it
    _n_features_out = property(lambda self: check_is_fitted(self, "model_")
                               or self.model_.n_hidden)

    def transform(self, X):
        """The codes of ``X``: (n_samples, n_hidden)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.transform(X)

    def inverse_transform(self, H):
        """Decode codes ``H`` (n_samples, n_hidden) back to the input space."""
        check_is_fitted(self, "model_")
        with no_grad():
            return self.model_.decode(np.asarray(H, dtype=np.float64)).data

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class SparseCoding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Sparse coding as a scikit-learn transformer: ``transform`` gives the sparse codes.

    Wraps :class:`rosenblatt.models.SparseCoding` (notes: "Sparse Coding"); the objective is
    (1/T) sum_t 1/2 ||x_t - D h_t||^2 + lam ||h_t||_1, scikit-learn's dictionary-learning
    objective with ``alpha = lam``.

    Parameters
    ----------
    n_atoms : int, default 32
    lam : float, default 0.1
    dictionary_norm : {"unit", "at_most_one"}, default "unit"
    solver : {"fista", "ista", "coordinate_descent"}, default "fista"
    max_iter : int, default 10
        Epochs over the data.
    batch_size : int, default 256
    tol : float, default 1e-4
        Code inference tolerance.
    random_state : int, Generator, RandomState or None

    Attributes
    ----------
    model_ : rosenblatt.models.SparseCoding
    components_ : ndarray, shape (n_atoms, n_features)
        The atoms as rows (scikit-learn's layout; ``model_.dictionary`` is its transpose).
    n_iter_, n_features_in_

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, _ = rb.datasets.load_digits()
    >>> sc = rb.sklearn.SparseCoding(16, lam=0.2, max_iter=2, random_state=0).fit(X[:300])
    >>> sc.transform(X[:4]).shape, sc.components_.shape
    ((4, 16), (16, 64))
    """

    def __init__(self, n_atoms=32, lam=0.1, dictionary_norm="unit", solver="fista",
                 max_iter=10, batch_size=256, tol=1e-4, random_state=None):
        self.n_atoms = n_atoms
        self.lam = lam
        self.dictionary_norm = dictionary_norm
        self.solver = solver
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.tol = tol
        self.random_state = random_state

    @_unchanged_if_failed
    def fit(self, X, y=None):
        """Learn the dictionary from ``X`` (n_samples, n_features); ``y`` is ignored."""
        from .models.sparse_coding import SparseCoding as Model

        X = validate_data(self, X, dtype=np.float64)
        name = type(self).__name__
        # The estimator's names (max_iter, not the model's epochs) in the messages.
        positive_int(name, "max_iter", self.max_iter)
        positive_int(name, "batch_size", self.batch_size)
        positive_float(name, "lam", self.lam, allow_zero=True)
        positive_float(name, "tol", self.tol, allow_zero=True)
        self.model_ = Model(self.n_atoms, self.lam, dictionary_norm=self.dictionary_norm,
                            solver=self.solver, rng=_generator(self.random_state),
                            tol=self.tol)
        self.model_.fit(X, epochs=self.max_iter, batch_size=self.batch_size)
        self.components_ = self.model_.dictionary.T.copy()
        self.n_iter_ = len(self.model_.history)
        return self

    # get_feature_names_out (sparsecoding0, ...) and set_output read it
    _n_features_out = property(lambda self: check_is_fitted(self, "model_")
                               or self.components_.shape[0])

    def transform(self, X):
        """The sparse codes of ``X``: (n_samples, n_atoms)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.transform(X)

    def inverse_transform(self, H):
        """The reconstructions D h of codes ``H`` (n_samples, n_atoms)."""
        check_is_fitted(self, "model_")
        H = np.asarray(H, dtype=np.float64)
        n_atoms = self.components_.shape[0]
        if H.ndim != 2 or H.shape[1] != n_atoms:
            raise ValueError(f"{type(self).__name__}.inverse_transform: H must have shape "
                             f"(n_samples, {n_atoms}); got {H.shape}")
        if not np.isfinite(H).all():
            raise ValueError(f"{type(self).__name__}.inverse_transform: H contains NaN or "
                             f"infinite values")
        return H @ self.components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
