"""Dropout (notes: "Dropout", both code listings: classic and inverted).

``rate`` is the fraction of units dropped; the notes' ``p = 1 - rate`` is the
probability of keeping a unit. In training every unit is kept with
probability p (mask U = rand < p) and dropped (set to 0) otherwise:

- inverted (the default, the notes' second listing): the kept units are
  scaled by 1/p at training time, H * (U / p); at test time nothing changes;
- classic (``inverted=False``, the first listing): H * U at training time,
  and at test time every activation is scaled by p.

Either way the expected output of a unit is the same in training and test.
"""

import numpy as np

from ..autodiff.tensor import _make as make
from ..checks import boolean
from ..randomness import resolve_rng
from ._operands import as_tensor
from .dense import _input_array
from .module import ErrorName, Module, no_state


def check_rate(rate, where):
    """``rate`` as a float in [0, 1) (1 would drop everything and scale by 1/0); raises
    ValueError naming ``where`` otherwise."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not 0 <= rate < 1:
        raise ValueError(f"{where}: rate (the fraction dropped) must be in [0, 1); got "
                         f"{rate!r}")
    return float(rate)


def dropout(x, rate=0.5, training=True, inverted=True, rng=None, *, where="dropout"):
    """Drop each element of ``x`` with probability ``rate`` (see the module docstring).

    Parameters
    ----------
    x : Tensor or array_like
    rate : float in [0, 1)
    training : bool, default True
    inverted : bool, default True
        ``training`` and ``inverted`` are True or False (a NumPy bool too); anything
        else, such as the string ``"False"``, is a TypeError.
    rng : numpy.random.Generator, optional
    where : str, default "dropout"
        The name error messages start with (a layer passes its own).

    Returns
    -------
    Tensor, the shape of ``x``. The gradient is masked (and scaled) the same way.
    """
    rate = check_rate(rate, where)
    if training is not True and training is not False:  # a string such as "False" is truthy
        training = boolean(where, "training", training)
    if inverted is not True and inverted is not False:
        inverted = boolean(where, "inverted", inverted)
    x = as_tensor(x, where)
    keep = 1.0 - rate
    if not training:
        if inverted or rate == 0:
            return x
        scale = x.dtype.type(keep)  # classic dropout: scale the activations at test time
        return make(x.data * scale, (x,), lambda g: (g * scale,))
    if rate == 0:
        return x
    mask = resolve_rng(rng).random(x.shape, dtype=np.float32) < keep  # U = rand < p
    mask = mask.astype(x.dtype)
    if inverted:
        mask *= x.dtype.type(1 / keep)  # U / p
    return make(x.data * mask, (x,), lambda g: (g * mask,))


class Dropout(Module):
    """Randomly drop units in training; off in ``eval()``.

    Parameters
    ----------
    rate : float, default 0.5
        The fraction of units dropped, in [0, 1).
    inverted : bool, default True
        Scale by 1/(1 - rate) at training time (True) or by (1 - rate) at
        test time (False, the classic form).
    rng : numpy.random.Generator or int, optional
        Draws the masks (the library generator when omitted); an int seeds one
        generator, made once, whose stream the calls continue.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> layer = rb.nn.Dropout(0.5, rng=np.random.default_rng(0))
    >>> sorted(set(layer(rb.tensor(np.ones(1000))).data.tolist()))
    [0.0, 2.0]
    >>> layer.eval()(rb.tensor([1.0, 1.0, 1.0])).data
    array([1., 1., 1.], dtype=float32)
    """

    state_shapes = classmethod(no_state)  # no parameters or buffers

    def __init__(self, rate=0.5, inverted=True, rng=None):
        self.rate = check_rate(rate, "Dropout")
        self.inverted = boolean("Dropout", "inverted", inverted)
        # an int seed is resolved once, here: re-seeding at each call would draw one mask forever;
        # None draws from the library generator at the time of each call
        self.rng = None if rng is None else resolve_rng(rng)

    def forward(self, x):
        where = ErrorName(self)  # what its errors start with (formatted if one is)
        if isinstance(x, tuple):  # a recurrent layer's (outputs, state): Dense's message
            _input_array(x, where)
        mark = getattr(self.rng, "per_example", None)  # under DataParallel: batch draws
        if mark is not None and self.training:
            with mark(x):
                return dropout(x, self.rate, self.training, self.inverted, self.rng, where=where)
        return dropout(x, self.rate, self.training, self.inverted, self.rng, where=where)

    def extra_repr(self):
        return f"rate={self.rate}" + ("" if self.inverted else ", inverted=False")
