"""Splitting, standardising and one-hot encoding data.

Splits are deterministic: by default they use a fixed seed (0), not the
library generator, so that the same data always gives the same test set
whatever else a program draws (a test set must never leak into training
across runs). Standardisation is fitted on the training split only and then
applied to the others: the notes' feature standardisation
``x_hat = (x - mu) / sigma`` ("Batch normalization" applies the same formula
inside the network).
"""

import math
from fractions import Fraction

import numpy as np

from ..checks import positive_int, unit_interval
from ..randomness import resolve_rng


def _check_xy(X, y, where):
    X = _as_samples(X, where, "X")
    if y is not None:
        y = _as_samples(y, where, "y")
        if len(y) != len(X):
            raise ValueError(f"{where}: X has {len(X)} samples but y has {len(y)}")
    return X, y


def _as_samples(X, where, name):
    """``X`` as an array of samples: an array (n, ...), or a list of n samples of different
    shapes (variable-length sequences) as a 1-D object array holding them."""
    try:
        samples = np.asarray(X)
    except ValueError:  # NumPy refuses to stack samples of different shapes
        pass
    else:
        if samples.ndim == 0:  # len() would fail with "len() of unsized object"
            raise TypeError(f"{where}: {name} must be an array or list of samples, shape "
                            f"(n, ...); got {type(X).__name__} {X!r:.40}")
        return samples
    samples = np.empty(len(X), dtype=object)
    for i, sample in enumerate(X):  # element-wise: NumPy would try to broadcast nested lists
        samples[i] = sample
    return samples


# The allocation's exact search tracks every set of parts for every class and part:
# (classes + parts) x 2 ** parts numbers. Past this many (e.g. 16 parts, or 11 parts of 1000
# classes) it keeps each count within one sample by the simpler Gale-Ryser rule.
_EXACT_CELLS = 2 ** 20


def split(X, y=None, fractions=(0.8, 0.2), rng=0, stratify=False):
    """Shuffle and split data into parts of the given fractions.

    Parameters
    ----------
    X : array_like, shape (n, ...)
        Or a list of n samples of different shapes (variable-length sequences): the parts
        are then 1-D object arrays of those samples.
    y : array_like, shape (n, ...), optional
    fractions : sequence of float, default (0.8, 0.2)
        Positive, summing to 1, e.g. ``(0.7, 0.15, 0.15)`` for train/val/test.
    rng : Generator, int or None, default 0
        A fixed seed by default, so the split is the same every run.
    stratify : bool or array_like, default False
        Keep each class's proportion in every part. ``True`` stratifies on ``y``;
        an array of ``n`` class labels (scikit-learn's ``stratify=y``) on that
        array, whatever ``y`` is (``None``, or a regression target stratified on
        binned values such as ``np.digitize(y, bins)``); ``False`` or ``None``
        does not stratify. Labels are a 1-D array (or one column), or one-hot or
        probability rows (entries in [0, 1], each row summing to 1 within 1e-4),
        stratified by their arg-max (the first of equal maxima). The parts' sizes
        are those of the unstratified split; each class gets within one sample of
        class size x fraction in every part (a two-way largest-remainder rounding,
        equal remainders broken at random from ``rng``), so rows sum to the class
        sizes and columns to the parts'. Which samples of a class go where is
        random. Refused (ValueError), as in scikit-learn, for non-integer targets
        (regression), for 2-D targets that are not one-hot or probability rows
        (multi-output regression, multi-label) and for a class with a single
        sample; other types are a TypeError.

    Returns
    -------
    list of (X_part, y_part) pairs (or of X_part when ``y`` is None)

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> (Xtr, ytr), (Xva, yva), (Xte, yte) = rb.datasets.split(X, y, (0.6, 0.2, 0.2))
    >>> len(ytr), len(yva), len(yte)
    (6, 2, 2)
    >>> sorted(np.concatenate([ytr, yva, yte]).tolist()) == list(range(10))
    True
    """
    X, y = _check_xy(X, y, "split")
    try:
        fractions = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError):  # NumPy's "could not convert string to float" names no one
        raise ValueError(f"split: fractions must be >= 2 positive numbers summing to 1; got "
                         f"{fractions!r:.60}") from None
    if fractions.ndim != 1 or len(fractions) < 2 or np.any(fractions <= 0) \
            or not np.isclose(fractions.sum(), 1.0):
        raise ValueError(f"split: fractions must be >= 2 positive numbers summing to 1; "
                         f"got {fractions.tolist()}")
    n = len(X)
    sizes = np.diff([0, *np.round(np.cumsum(fractions)[:-1] * n).astype(int), n])
    if np.any(sizes <= 0):
        k = int(np.argmin(sizes))
        raise ValueError(f"split: part {k} (fraction {fractions[k]:g}) of {n} samples would be "
                         f"empty; give more samples or larger fractions")
    return _split(X, y, fractions, sizes, rng, stratify)


def _split(X, y, fractions, sizes, rng, stratify):
    """:func:`split` into parts of ``sizes`` samples (positive, summing to ``len(X)``);
    ``fractions`` set each class's share of a part when stratifying."""
    rng = resolve_rng(rng)
    n = len(X)
    labels = _stratify_labels(stratify, y, n)
    stratified = labels is not None
    if stratified:
        classes, inverse = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(inverse == c) for c in range(len(classes))]
        _check_class_sizes(classes, [len(g) for g in groups])
    else:
        groups = [np.arange(n)]
    groups = [rng.permutation(group) for group in groups]  # which samples: random per class
    if stratified:
        counts = _allocate(np.array([len(g) for g in groups]), fractions, sizes,
                           _side_stream(rng))
    else:
        counts = sizes[None, :]
    parts = [[] for _ in fractions]
    for group, count in zip(groups, counts):
        for part, idx in zip(parts, np.split(group, np.cumsum(count)[:-1])):
            part.append(idx)
    out = []
    for part in parts:
        idx = np.concatenate(part)
        if stratified:
            idx = rng.permutation(idx)  # don't leave the parts sorted by class
        out.append(X[idx] if y is None else (X[idx], y[idx]))
    return out


def _stratify_labels(stratify, y, n):
    """The labels to stratify on (``None``: no stratification) from split's ``stratify``."""
    if stratify is None or isinstance(stratify, (bool, np.bool_)):
        return _labels(y, "stratify=True", "y") if stratify else None
    if np.ndim(stratify) == 0:
        raise TypeError(f"split: stratify must be True, False or an array of class labels "
                        f"(scikit-learn's stratify=y); got {stratify!r}")
    labels = np.asarray(stratify)
    if len(labels) != n:
        raise ValueError(f"split: stratify has {len(labels)} labels but X has {n} samples")
    return _labels(labels, "stratify", "the stratify array")


def _labels(y, option, name):
    """The class of each sample for stratifying: labels, or the arg-max of one-hot or
    probability rows. ``option`` and ``name`` say where ``y`` came from, for the errors."""
    if y is None:
        raise ValueError("split: stratify=True needs labels y (or pass the labels as stratify=)")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2:
        return _argmax_of_rows(y, option, name)
    if y.ndim != 1:
        raise ValueError(f"split: {option} needs labels of shape (n,) or one-hot rows "
                         f"(n, classes); got {name} of shape {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        bad = y[~(np.isfinite(y) & (y == np.round(y)))][0]
        raise ValueError(f"split: {option} needs class labels; {name} holds non-integer values "
                         f"(e.g. {bad.item()!r}), as a regression target does; use stratify=False "
                         f"(or stratify on binned targets, e.g. stratify=np.digitize(y, bins))")
    return y


def _argmax_of_rows(y, option, name):
    """The arg-max of each row of ``y``, which must be one-hot or probability rows: entries in
    [0, 1], each row summing to 1 (within 1e-4, the round-off of a float32 softmax). The
    arg-max of anything else (multi-output regression, multi-label rows) is no class."""
    if y.dtype.kind not in "biuf":
        raise ValueError(f"split: {option} needs labels of shape (n,) or one-hot rows "
                         f"(n, classes); got {name} of shape {y.shape} and dtype {y.dtype}")
    rows = y.astype(np.float64)
    inside = np.all(np.isfinite(rows) & (rows >= 0) & (rows <= 1), axis=1)
    sums = rows.sum(axis=1)
    bad = np.flatnonzero(~inside | ~(np.abs(sums - 1) <= 1e-4))
    if len(bad):
        i = bad[0]
        why = "an entry outside [0, 1]" if not inside[i] else f"it sums to {sums[i]:.6g}"
        raise ValueError(f"split: {option} stratifies {name} of shape {y.shape} by the arg-max "
                         f"of its rows, which must be one-hot or probability rows; row {i} is "
                         f"{y[i].tolist()} ({why}), as in multi-output regression and "
                         f"multi-label targets; use stratify=False, or pass class labels as "
                         f"stratify=")
    return y.argmax(axis=1)


def _check_class_sizes(classes, class_sizes):
    """Every class needs 2 samples to be in more than one part (scikit-learn refuses 1 too)."""
    k = int(np.argmin(class_sizes))
    if class_sizes[k] < 2:
        raise ValueError(f"split: stratify=True needs at least 2 samples of every class; "
                         f"class {classes[k].item()!r} has only {class_sizes[k]} member; remove "
                         f"or merge the rare classes, or use stratify=False")


def _side_stream(rng):
    """A generator for the allocation's tie-breaks that leaves ``rng``'s stream as it was (a
    jumped copy of its bit generator), so the samples drawn and the parts' order are those
    of a split without ties; ``rng`` itself where its bit generator cannot jump."""
    jumped = getattr(rng.bit_generator, "jumped", None)
    return np.random.Generator(jumped()) if callable(jumped) else rng


def _allocate(class_sizes, fractions, sizes, rng):
    """Samples of each class in each part: rows sum to the class sizes, columns to the parts'
    ``sizes`` (as an unstratified split rounds them), each within one sample of its quota
    class size x fraction.

    A two-way largest-remainder rounding. Every class gets the floor of each quota; its
    remaining samples (one per part at most) go, part after part, to the largest remainders
    (equal remainders: at random, from ``rng``, not by class label, or the low classes would
    always get the extra samples), taking a class only where the classes' remaining extras
    can still fill the later parts. With two parts this is Hamilton's method on the first
    part's quotas.
    """
    n_parts = len(fractions)
    quota = class_sizes[:, None] * fractions
    quota[:, -1] = class_sizes - quota[:, :-1].sum(axis=1)  # rows sum to the class sizes
    whole = np.round(quota)  # round-off must not turn a whole quota into a fraction
    quota = np.where(np.isclose(quota, whole, rtol=1e-12, atol=1e-12), whole, quota)
    counts = np.floor(quota).astype(int)
    remainder = quota - counts
    ties = rng.random((n_parts - 1, len(class_sizes)))
    owed = class_sizes - counts.sum(axis=1)  # extra samples each class still places
    need = sizes - counts.sum(axis=0)  # extra samples each part still takes
    for p in np.flatnonzero(need < 0):  # a part rounded below its (whole) quotas gives back
        give = np.lexsort((-counts[:, p], remainder[:, p]))
        give = give[counts[give, p] > 0][:-need[p]]
        counts[give, p] -= 1
        owed[give] += 1
        need[p] = 0
    orders = [np.lexsort((ties[p], -remainder[:, p])) for p in range(n_parts - 1)]
    if (len(class_sizes) + n_parts) << n_parts > _EXACT_CELLS:
        _extras_by_gale_ryser(counts, owed, need, orders)
    else:
        _extras_by_hall(counts, remainder > 0, owed, need, orders)
    counts[:, -1] += owed
    return counts


def _extras_by_hall(counts, fraction, owed, need, orders):
    """Give the classes' extra samples (``owed``) to all parts but the last (in place).

    Extras go only where a quota has a fraction, so each count is strictly within one
    sample of its quota and whole quotas are met exactly, unless the parts' rounded sizes
    leave no such allocation (then any class may take an extra sample anywhere, and a count
    may be one off a whole quota). A class is taken in part p, in the order ``orders[p]``,
    only if the later parts can still be filled: Hall's condition over every set T of parts,
    ``need(T) <= sum_c min(owed_c, free parts of class c in T)`` (max-flow/min-cut).
    """
    n_parts = counts.shape[1]
    sets = (np.arange(2 ** n_parts)[:, None] >> np.arange(n_parts)) & 1  # every set of parts
    demand = sets @ need
    free = fraction.astype(int)  # parts where an extra sample of a class may still go
    reach = _count_in(free, sets)  # the free parts of each class within each set
    supply = np.minimum(owed[:, None], reach).sum(axis=0)
    if not np.all(demand <= supply):
        free[:] = 1
        reach = _count_in(free, sets)
        supply = np.minimum(owed[:, None], reach).sum(axis=0)
    for p, order in enumerate(orders):
        order = order[(owed[order] > 0) & (free[order, p] > 0)]
        top = order[:need[p]]
        gain = np.minimum(owed[top, None] - 1, reach[top] - sets[:, p]) \
            - np.minimum(owed[top, None], reach[top])
        if np.all(demand - len(top) * sets[:, p] <= supply + gain.sum(axis=0)):
            # the plain largest remainders leave the later parts fillable: take them
            counts[top, p] += 1
            owed[top] -= 1
            need[p] -= len(top)
            free[top, p] = 0
            reach[top] -= sets[:, p]
            supply += gain.sum(axis=0)
            demand -= len(top) * sets[:, p]
            continue
        for c in order:
            if need[p] == 0:
                break
            free[c, p] = 0  # decided: taken or passed over
            was = np.minimum(owed[c], reach[c])
            reach[c] -= sets[:, p]
            if np.all(demand - sets[:, p] <= supply - was + np.minimum(owed[c] - 1, reach[c])):
                counts[c, p] += 1
                owed[c] -= 1
                need[p] -= 1
                demand -= sets[:, p]
            supply += np.minimum(owed[c], reach[c]) - was


def _count_in(free, sets):
    """``free @ sets.T`` (0/1 matrices) by a floating-point product: exact for such counts,
    and many times faster than NumPy's integer product."""
    return (free.astype(np.float64) @ sets.T.astype(np.float64)).astype(int)


def _extras_by_gale_ryser(counts, owed, need, orders):
    """As :func:`_extras_by_hall` for many parts and classes, with any class free to take an
    extra sample in any part: the later parts stay fillable by Gale and Ryser's condition,
    so each count is within one sample of its quota (but may be one off a whole quota)."""
    for p, order in enumerate(orders):
        later = np.sort(need[p + 1:])[::-1]
        j = np.arange(1, len(later) + 1)
        # taking class c lowers the classes' supply to every j >= owed[c] later parts by one
        slack = np.r_[0, np.minimum(owed[:, None], j).sum(axis=0) - np.cumsum(later)]
        order = order[owed[order] > 0]
        top = order[:need[p]]
        used = np.cumsum(np.bincount(np.minimum(owed[top], len(slack)),
                                     minlength=len(slack) + 1))[:-1]
        if np.all(used <= slack):  # the plain largest remainders leave them fillable
            counts[top, p] += 1
            owed[top] -= 1
            need[p] -= len(top)
            continue
        used = np.zeros_like(slack)
        for c in order:
            if need[p] == 0:
                break
            low = owed[c]
            if low >= len(slack) or np.all(used[low:] < slack[low:]):
                counts[c, p] += 1
                owed[c] -= 1
                need[p] -= 1
                used[low:] += 1


def train_test_split(X, y=None, test_size=0.2, rng=0, stratify=False):
    """Split into train and test parts: ``X_train, X_test, y_train, y_test`` (scikit-learn's order).

    Parameters
    ----------
    test_size : float in (0, 1), default 0.2
        The test part holds ``test_size n`` samples rounded to the nearest
        integer, halves up (``test_size=0.25`` of 10 samples: 3), stratified or not;
        a split that leaves either part empty is a ValueError. scikit-learn's
        ``train_test_split`` rounds every fraction up (``ceil(test_size n)``), so
        its test part can be one sample larger (0.2 of 12 samples: 3 there, 2 here).
    rng, stratify :
        As in :func:`split`: ``stratify=True`` stratifies on ``y`` (labels, or
        one-hot or probability rows), an array of labels (scikit-learn's
        ``stratify=y``) on that array; each class gets its share of the test
        count by largest remainder.

    Returns
    -------
    X_train, X_test, y_train, y_test (or X_train, X_test when ``y`` is None)
    """
    test_size = unit_interval("train_test_split", "test_size", test_size, closed_low=False)
    X, y = _check_xy(X, y, "train_test_split")
    n = len(X)
    # halves up, as scikit-learn's ceil; np.round's half-to-even sent 2.5 down but 3.5 up. The
    # product is taken on the decimal the float prints as (0.29, not 0.28999999999999998):
    # in floating point 0.29 * 50 is 14.499999999999998, a half sent down.
    n_test = math.floor(Fraction(repr(test_size)) * n + Fraction(1, 2))
    if n_test == 0 or n_test == n:
        empty = "test" if n_test == 0 else "train"
        raise ValueError(f"train_test_split: test_size={test_size!r} of {n} samples leaves the "
                         f"{empty} part empty ({n_test} test samples); give more samples or "
                         f"another test_size")
    train, test = _split(X, y, np.array([1 - test_size, test_size]), np.array([n - n_test, n_test]),
                         rng, stratify)
    if y is None:
        return train, test
    return train[0], test[0], train[1], test[1]


def is_constant_feature(mean, std, n_samples):
    """True where a feature's spread is indistinguishable from round-off: a constant feature.

    scikit-learn's rule (``StandardScaler``; Chan, Golub and LeVeque's error bound of
    the two-pass variance): constant when ``var <= n eps var + (n eps mean)^2``
    (``eps`` of float64), evaluated here as
    ``std sqrt(1 - n eps) <= n eps |mean|`` so that ``std ** 2`` cannot overflow.

    Parameters
    ----------
    mean, std : array_like
        Per-feature mean and (population) standard deviation, in float64.
    n_samples : int
        The number of values each statistic was computed from.

    Returns
    -------
    ndarray of bool, the broadcast shape of ``mean`` and ``std``
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    n_eps = n_samples * np.finfo(np.float64).eps
    return std * np.sqrt(max(1.0 - n_eps, 0.0)) <= n_eps * np.abs(mean)


class Standardizer:
    """Feature standardisation fitted on training data: ``(x - mean) / std``.

    Features with zero spread, or a spread within the round-off of computing it
    (:func:`is_constant_feature`, as scikit-learn's StandardScaler), are only
    centred (divided by 1): dividing round-off noise by itself would turn a
    constant input into a random +-1 one. The statistics are NumPy's ``mean`` and
    ``std``, computed on each feature divided by a power of two near its largest
    ``|x|``: bit for bit the same for ordinary data, and finite for any finite data
    (scikit-learn's StandardScaler gives a NaN scale for a column like
    ``[1e200, -1e200, 3e199]``, whose squares overflow, and treats ``[1e-300, 2e-300]``,
    whose squares underflow, as constant).

    Parameters
    ----------
    axis : int or tuple, default 0
        The sample axes (``(0, 2, 3)`` standardises images per channel).

    Attributes
    ----------
    mean_, std_ : ndarray (broadcastable to the data)
    """

    def __init__(self, axis=0):
        self.axis = axis

    def fit(self, X):
        """Learn the mean and standard deviation of ``X``; returns self."""
        X = np.asarray(X)
        if X.dtype.kind not in "fiub" or X.size == 0:
            raise ValueError(f"Standardizer.fit: X must be a non-empty numeric array; got "
                             f"{X.dtype} of shape {X.shape}")
        X64 = X.astype(np.float64)  # a copy: scaled in place below
        if not np.all(np.isfinite(X64)):
            raise ValueError("Standardizer.fit: X contains NaN or inf")
        try:
            peak = np.maximum(X64.max(axis=self.axis, keepdims=True),  # max |x|, no temporary
                              -X64.min(axis=self.axis, keepdims=True))
        except (ValueError, TypeError):  # NumPy's AxisError is a ValueError
            raise ValueError(f"Standardizer.fit: axis {self.axis!r} is out of range for X of "
                             f"shape {X64.shape}; pass an axis (or tuple of axes) of X") from None
        # The statistics of X / scale, scale a power of two near each feature's largest
        # |value|: the sums and squares then neither overflow (|x| ~ 1e200: std_ would be inf)
        # nor underflow (|x| ~ 1e-300: std_ would be 0), and elsewhere the results are bit
        # for bit those of X itself (scaling by a power of two is exact).
        scale = np.ldexp(1.0, np.frexp(peak)[1] - 1)  # |X / scale| < 2; 0.5 for all-zero
        X64 /= scale
        self.mean_ = X64.mean(axis=self.axis, keepdims=True) * scale
        std = X64.std(axis=self.axis, keepdims=True) * scale
        n = X64.size // self.mean_.size
        self.std_ = np.where(is_constant_feature(self.mean_, std, n), 1.0, std)
        return self

    def transform(self, X):
        """Standardise ``X`` with the fitted statistics (float32 unless X is float64).

        ``X`` holds real numbers (complex or text is a ValueError, as in :meth:`fit`) and
        has the fitted data's shape off the sample axes; one sample without them (shape
        ``(n_features,)`` for ``axis=0``) is accepted and keeps its shape.
        """
        if not hasattr(self, "mean_"):
            raise ValueError("Standardizer.transform: call fit() first")
        X = np.asarray(X)
        self._check_width(X, "transform")
        dtype = np.float64 if X.dtype == np.float64 else np.float32
        # X's own shape: a single sample (n_features,) must not gain mean_'s sample axis
        return ((X - self.mean_) / self.std_).astype(dtype).reshape(X.shape)

    def _check_width(self, X, where):
        """``X`` is numeric (as :meth:`fit` requires) and has the fitted data's shape off the
        sample axes (else a named ValueError)."""
        if X.dtype.kind not in "fiub":  # complex: the float cast would drop the imaginary part
            raise ValueError(f"Standardizer.{where}: X must be a numeric array (as fit takes); "
                             f"got {X.dtype} of shape {X.shape}")
        try:  # the statistics must broadcast onto X without widening any of its axes, nor
            # add any: axes of theirs before X's (a sample lacking a feature axis) must be 1
            fits = np.broadcast_shapes(X.shape, self.mean_.shape) == (1,) * (
                self.mean_.ndim - X.ndim) + X.shape if X.ndim else False
        except ValueError:
            fits = False
        if not fits:
            axes = tuple(np.atleast_1d(self.axis).tolist())  # an int, NumPy int or tuple
            fitted = tuple("n" if i in axes or i - self.mean_.ndim in axes else k
                           for i, k in enumerate(self.mean_.shape))
            raise ValueError(f"Standardizer.{where}: fitted on data of shape "
                             f"{fitted}; got {X.shape}")

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, Z):
        """Undo :meth:`transform` (the result has ``Z``'s shape)."""
        if not hasattr(self, "mean_"):
            raise ValueError("Standardizer.inverse_transform: call fit() first")
        Z = np.asarray(Z)
        self._check_width(Z, "inverse_transform")
        out = (Z * self.std_ + self.mean_).astype(Z.dtype if Z.dtype.kind == "f" else np.float32)
        return out.reshape(Z.shape)  # a single sample keeps its shape, as in transform


def standardize(X_train, *others, axis=0):
    """Standardise ``X_train`` with its own statistics and ``others`` with the same ones.

    Returns
    -------
    tuple of arrays: ``(X_train_std, *others_std)``

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> train, test = rb.datasets.standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    >>> train.ravel().tolist(), test.ravel().tolist()
    ([-1.0, 1.0], [3.0])
    """
    scaler = Standardizer(axis).fit(X_train)
    return tuple(scaler.transform(X) for X in (X_train, *others))


def one_hot(labels, n_classes=None, dtype=np.float32):
    """One-hot rows: label k becomes zeros with a 1 in column k (notes: "one-hot encoding").

    Parameters
    ----------
    labels : array_like of int, shape (n,) (any shape: a last axis is added)
    n_classes : int, optional
        Defaults to ``max(labels) + 1``.

    Returns
    -------
    ndarray, shape labels.shape + (n_classes,)

    Examples
    --------
    >>> import rosenblatt as rb
    >>> rb.datasets.one_hot([2, 0], 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    labels = np.asarray(labels)
    integral = labels.dtype.kind in "biu" or (  # booleans: the classes 0 and 1
        labels.dtype.kind == "f" and np.all(labels == np.round(labels)))
    if labels.size and not integral:
        raise ValueError(f"one_hot: labels must be integers; got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:  # checked before the cast, which could wrap around
        raise ValueError(f"one_hot: labels must be non-negative; got {labels.min().item()!r}")
    if labels.size and labels.max() >= 2 ** 62:  # the int64 cast would overflow
        raise ValueError(f"one_hot: label {labels.max().item()!r} is too large for a class index "
                         f"(one_hot builds one column per class)")
    labels = labels.astype(np.int64)
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    else:
        n_classes = positive_int("one_hot", "n_classes", n_classes, allow_zero=not labels.size)
    if labels.size and labels.max() >= n_classes:
        raise ValueError(f"one_hot: label {labels.max()} does not fit n_classes={n_classes}")
    out = np.zeros(labels.shape + (n_classes,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out
