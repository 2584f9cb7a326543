"""The perceptron (notes: "Perceptrons", "Activation functions", "XOR").

Rosenblatt's threshold neuron: output 1 if w . x + b > 0, else -1 (the
"classic spin" neuron, ``output="sign"``) or 0 (``output="binary"``). It
learns by Rosenblatt's rule, one example at a time:

    w <- w + lr (y - y_hat) x,    b <- b + lr (y - y_hat)

which changes the weights only when the example is misclassified. On
linearly separable data the rule stops making mistakes after finitely many
updates (Novikoff's theorem); on XOR, which no line separates, it never
classifies all four points.
"""

import numpy as np

from ..autodiff.tensor import Tensor
from ..checks import boolean, one_of, positive_float, positive_int
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..randomness import resolve_rng

OUTPUTS = {"sign": (-1.0, 1.0), "binary": (0.0, 1.0)}


class Perceptron(Module):
    """A single threshold neuron trained with Rosenblatt's rule.

    Parameters
    ----------
    n_inputs : int
    output : {"sign", "binary"}, default "sign"
        Outputs -1/1 or 0/1.
    lr : float, default 1.0
        The learning rate of the rule.
    dtype : default float64

    Attributes
    ----------
    W : Parameter, shape (n_inputs,)
        Weights, initially 0 (the rule needs no symmetry breaking).
    b : Parameter, shape (1,)
        Bias (minus the threshold), initially 0.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> p = rb.models.Perceptron(2)
    >>> errors = p.fit(X, [-1, -1, -1, 1], epochs=20)      # AND is separable
    >>> errors[-1], p.predict(X).tolist()
    (0, [-1.0, -1.0, -1.0, 1.0])
    """

    @classmethod
    def state_shapes(cls, config):
        """``W`` (n_inputs,) and ``b`` (1,)."""
        return {"W": (positive_int("Perceptron", "n_inputs", config["n_inputs"]),), "b": (1,)}

    def __init__(self, n_inputs, output="sign", lr=1.0, dtype=np.float64):
        self.n_inputs = positive_int("Perceptron", "n_inputs", n_inputs)
        self.output, self.lr = output, lr
        self._check_hyper("Perceptron")
        self.W = Parameter(np.zeros(self.n_inputs, dtype=dtype), requires_grad=False)
        self.b = Parameter(np.zeros(1, dtype=dtype), requires_grad=False)

    def _check_hyper(self, owner):
        """Check (and make plain) ``output`` and ``lr``: the constructor's checks, run again by
        :meth:`fit` and :meth:`config` for values set since (a file the constructor would
        refuse is never written)."""
        self.output = one_of(owner, "output", self.output, OUTPUTS)
        self.lr = positive_float(owner, "lr", self.lr)

    def config(self):
        """The constructor arguments (``dtype`` aside: the weights keep it) for ``rb.save``,
        checked as the constructor checks them."""
        self._check_hyper("save: Perceptron")
        return {"n_inputs": self.n_inputs, "output": self.output, "lr": self.lr}

    def _inputs(self, X, where):
        if isinstance(X, Tensor):
            X = X.data
        elif not isinstance(X, np.ndarray) and callable(getattr(X, "toarray", None)):
            # a SciPy sparse matrix: NumPy would read it as one object, and its ``data``
            # attribute holds only the stored non-zeros
            raise TypeError(f"Perceptron.{where}: X is a sparse matrix of shape "
                            f"{getattr(X, 'shape', '?')}; pass X.toarray() (the rule works on "
                            f"dense rows)")
        unreadable = (f"Perceptron({self.n_inputs}).{where}: X must hold numbers, shape "
                      f"(n, {self.n_inputs}); NumPy cannot read it as {self.W.dtype}")
        try:
            X = np.asarray(X)
        except ValueError as err:  # rows of different lengths: NumPy's message names no one
            raise ValueError(f"{unreadable} ({err})") from None
        if np.iscomplexobj(X):  # the cast below would drop the imaginary parts silently
            raise TypeError(f"Perceptron.{where}: X must hold real numbers; got complex dtype "
                            f"{X.dtype}")
        try:
            X = X.astype(self.W.dtype, copy=False)
        except (TypeError, ValueError) as err:  # text
            raise ValueError(f"{unreadable} ({err})") from None
        if X.ndim == 1:
            X = X[None]
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"Perceptron({self.n_inputs}).{where}: expected X of shape "
                             f"(n, {self.n_inputs}); got {X.shape}")
        if len(X) == 0 and where in ("fit", "score"):  # "converged" / NaN on nothing
            raise ValueError(f"Perceptron.{where}: X holds no examples (shape {X.shape}); give "
                             f"at least one")
        if not np.all(np.isfinite(X)):
            # NaN > 0 is False: a NaN row would get the low class, silently
            row = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise ValueError(f"Perceptron.{where}: X contains NaN or inf (first in row {row}); "
                             f"clean or impute the data first")
        return X

    def _targets(self, y, n, where):
        """``y`` as a vector of the output's two values in the perceptron's dtype (strings
        such as "-1", from a CSV column, read as numbers), or a ValueError naming ``where``:
        ``fit`` and ``score`` read targets alike."""
        low, high = OUTPUTS[self.output]
        if np.iscomplexobj(y):  # the cast would drop the imaginary parts silently
            raise ValueError(f"Perceptron.{where}: y must hold the numbers {low:g} and "
                             f"{high:g}; got complex dtype {np.asarray(y).dtype}")
        try:
            y = np.asarray(y, dtype=self.W.dtype).reshape(-1)
        except (TypeError, ValueError) as err:
            raise ValueError(f"Perceptron.{where}: y must hold the numbers {low:g} and "
                             f"{high:g}; got {y!r:.60} ({err})") from None
        if y.shape[0] != n:
            raise ValueError(f"Perceptron.{where}: X has {n} rows but y has {y.shape[0]}")
        if not np.all((y == low) | (y == high)):
            raise ValueError(f"Perceptron.{where}: with output={self.output!r} targets must be "
                             f"{low:g} or {high:g}; got {np.unique(y)[:5]}")
        return y

    def net(self, X):
        """The net input w . x + b, shape (n,)."""
        return self._inputs(X, "net") @ self.W.data + self.b.data[0]

    def predict(self, X):
        """The threshold output for each row of X: shape (n,), values -1/1 or 0/1, in the
        perceptron's dtype."""
        low, high = OUTPUTS[self.output]
        net = self._inputs(X, "predict") @ self.W.data + self.b.data[0]
        return np.where(net > 0, high, low).astype(self.W.dtype, copy=False)

    def forward(self, x):
        """The threshold outputs as a Tensor (no gradient: the rule does not need one)."""
        return Tensor(self.predict(x))

    def fit(self, X, y, epochs=100, shuffle=False, rng=None):
        """Apply Rosenblatt's rule, example by example, for up to ``epochs`` passes.

        Parameters
        ----------
        X : array_like, shape (n, n_inputs)
        y : array_like, shape (n,)
            Targets in {-1, 1} (``output="sign"``) or {0, 1} (``"binary"``).
        epochs : int, default 100
            Stops early after the first epoch without a mistake.
        shuffle : bool, default False
            Visit the examples in a new random order each epoch.
        rng : numpy.random.Generator, optional

        Returns
        -------
        list of int
            The number of misclassified examples in each epoch (also kept in
            ``self.errors_``); it ends with 0 when the data were separated.
        """
        self._check_hyper("Perceptron.fit")  # (set since construction, maybe)
        X = self._inputs(X, "fit")
        y = self._targets(y, len(X), "fit")
        low, high = OUTPUTS[self.output]
        epochs = positive_int("Perceptron.fit", "epochs", epochs)
        shuffle = boolean("Perceptron.fit", "shuffle", shuffle)
        w, b = self.W.data, self.b.data
        order = np.arange(len(X))
        gen = resolve_rng(rng) if shuffle else None
        self.errors_ = []
        for _ in range(epochs):
            if shuffle:
                gen.shuffle(order)
            mistakes = 0
            for i in order:
                x = X[i]
                y_hat = high if x @ w + b[0] > 0 else low
                if y_hat != y[i]:
                    delta = self.lr * (y[i] - y_hat)  # Rosenblatt's rule
                    w += delta * x
                    b += delta
                    mistakes += 1
            self.errors_.append(mistakes)
            if mistakes == 0:
                break
        return self.errors_

    def score(self, X, y):
        """The fraction of rows of X classified as y.

        ``y`` is read as :meth:`fit` reads it: the output's two values (-1/1 or 0/1),
        strings of numbers included; other targets are refused, not counted as misses.
        """
        pred = self.predict(self._inputs(X, "score"))
        return float(np.mean(pred == self._targets(y, len(pred), "score")))

    def extra_repr(self):
        return f"{self.n_inputs}, output={self.output!r}, lr={self.lr}"
