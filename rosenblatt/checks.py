"""Argument checks shared by every public entry point (STYLE.md: errors name the argument).

Each check takes the *owner* (the layer, optimizer or function the user called),
the argument's *name* and its *value*, and either returns the value in a
canonical type or raises a ``ValueError``/``TypeError`` whose message names all
three and what is accepted, e.g. ``"Dense: in_features must be a positive
integer; got 0"``. This module sits at the bottom of the package beside
``randomness``: every layer may import it.
"""

import codecs
import math

import numpy as np


def is_int(value):
    """True for Python and NumPy integers, False for bools (``True`` is not a size) and
    ``numpy.timedelta64`` (a NumPy integer subclass that ``int()`` cannot read)."""
    return (isinstance(value, (int, np.integer))
            and not isinstance(value, (bool, np.timedelta64)))


def _real(owner, name, value, wanted):
    """``value`` as a float when it is a real Python or NumPy number; else a TypeError.

    Bools, complex numbers (whose imaginary part ``float`` would drop with only a
    warning) and timedeltas are refused; an integer beyond float64's range is a
    ValueError that says it must be ``wanted``.
    """
    if isinstance(value, (complex, np.complexfloating, np.timedelta64)):
        raise TypeError(f"{owner}: {name} must be a real number; got {type(value).__name__}")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{owner}: {name} must be a number; got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # a Python int of more than ~308 digits
        raise ValueError(f"{owner}: {name} must be {wanted}; got {value!r:.20}... (beyond "
                         f"float64's range)") from None


def positive_int(owner, name, value, allow_zero=False):
    """Validate a count or size (``> 0``, or ``>= 0`` with ``allow_zero``); returns an int.

    Examples
    --------
    >>> positive_int("Dense", "in_features", 3)
    3
    >>> positive_int("Dense", "in_features", 0)
    Traceback (most recent call last):
    ...
    ValueError: Dense: in_features must be a positive integer; got 0
    """
    if not is_int(value) or value < 0 or (value == 0 and not allow_zero):
        kind = "a non-negative integer" if allow_zero else "a positive integer"
        raise ValueError(f"{owner}: {name} must be {kind}; got {value!r}")
    return int(value)


def int_at_least(owner, name, value, minimum):
    """Validate an integer ``>= minimum`` (a count whose floor is not 1); returns an int.

    Examples
    --------
    >>> int_at_least("moons", "n_samples", 1, 2)
    Traceback (most recent call last):
    ...
    ValueError: moons: n_samples must be an integer >= 2; got 1
    """
    if not is_int(value) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def positive_float(owner, name, value, allow_zero=False):
    """Validate a finite scalar ``> 0`` (or ``>= 0`` with ``allow_zero``); returns a float.

    Examples
    --------
    >>> positive_float("SGD", "lr", 0.1)
    0.1
    >>> positive_float("SGD", "lr", -1)
    Traceback (most recent call last):
    ...
    ValueError: SGD: lr must be finite and > 0; got -1.0
    """
    bound = ">= 0" if allow_zero else "> 0"
    value = _real(owner, name, value, f"finite and {bound}")
    ok = value >= 0 if allow_zero else value > 0
    if not ok or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be finite and {bound}; got {value!r}")
    return value


def finite_float(owner, name, value):
    """Validate a finite real number of either sign (a bound, a winding); returns a float.

    Examples
    --------
    >>> finite_float("sine", "low", -1)
    -1.0
    >>> finite_float("sine", "low", float("-inf"))
    Traceback (most recent call last):
    ...
    ValueError: sine: low must be a finite number; got -inf
    """
    value = _real(owner, name, value, "a finite number")
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number; got {value!r}")
    return value


def unit_interval(owner, name, value, closed_low=True, closed_high=False):
    """Validate a rate in ``[0, 1)`` (ends chosen by ``closed_low``/``closed_high``); a float.

    Examples
    --------
    >>> unit_interval("Dropout", "rate", 0.5)
    0.5
    >>> unit_interval("Adam", "beta1", 1.0)
    Traceback (most recent call last):
    ...
    ValueError: Adam: beta1 must be in [0, 1); got 1.0
    """
    value = positive_float(owner, name, value, allow_zero=True)
    if value > 1 or (value == 1 and not closed_high) or (value == 0 and not closed_low):
        low, high = "[0" if closed_low else "(0", "1]" if closed_high else "1)"
        raise ValueError(f"{owner}: {name} must be in {low}, {high}; got {value!r}")
    return value


def one_of(owner, name, value, choices):
    """Validate that ``value`` is one of ``choices`` (strings, usually); returns it.

    Examples
    --------
    >>> one_of("Conv2d", "padding", "sam", ("valid", "same", "full"))
    Traceback (most recent call last):
    ...
    ValueError: Conv2d: padding must be 'valid', 'same' or 'full'; got 'sam'
    """
    if isinstance(value, np.ndarray):  # `in` would compare it element-wise
        ok = False
    else:
        try:
            ok = value in choices
        except (TypeError, ValueError):  # unhashable (asked of a set) or no truth value
            ok = False
    if not ok:
        names = [repr(c) for c in choices]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValueError(f"{owner}: {name} must be {listed}; got {value!r:.80}")
    return value


def boolean(owner, name, value):
    """Validate a switch: True or False (a NumPy bool too); returns a Python bool.

    A string such as ``"no"`` or ``"false"`` (from a config file) is truthy, so it is
    refused rather than taken for True.

    Examples
    --------
    >>> boolean("Dense", "bias", "false")
    Traceback (most recent call last):
    ...
    TypeError: Dense: bias must be True or False; got 'false'
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False; got {value!r:.60}")
    return bool(value)


def codec(owner, name, value):
    """Validate a text encoding (a codec name such as ``"utf-8"`` or ``"latin-1"``);
    returns the codec's canonical name, so that ``"UTF8"`` and ``"utf_8"`` read ``"utf-8"``.

    Examples
    --------
    >>> codec("read_text", "encoding", "UTF8")
    'utf-8'
    >>> codec("read_text", "encoding", "utf9")
    Traceback (most recent call last):
    ...
    ValueError: read_text: unknown encoding 'utf9'; pass a codec name such as 'utf-8' or 'latin-1'
    """
    if not isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be a codec name (str); got "
                        f"{type(value).__name__}")
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise ValueError(f"{owner}: unknown {name} {value!r:.40}; pass a codec name such as "
                         f"'utf-8' or 'latin-1'") from None


def _holds_bool(value):
    """Whether a nested list or tuple holds a bool (NumPy would read ``true`` as 1)."""
    return any(isinstance(v, bool) or (isinstance(v, (list, tuple)) and _holds_bool(v))
               for v in value)


def real_array(owner, name, value, shape="an array"):
    """``value`` as a float64 array when it holds integers and floats only; otherwise a
    ValueError naming ``owner``, ``name`` and what it got. Strings ("1"), bools, complex
    numbers (whose imaginary part a cast would drop), ragged lists and integers beyond
    float64 are refused: what a hand-edited file may hold. ``shape`` words the expected
    array in the message (e.g. "a (steps, width) array")."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError, OverflowError):  # ragged lists
        a = None
    if a is None or a.dtype.kind not in "iuf" or (
            isinstance(value, (list, tuple)) and _holds_bool(value)):
        got = type(value).__name__ if a is None else f"{type(value).__name__} of {a.dtype}"
        raise ValueError(f"{owner}: {name} must be {shape} of numbers (integers or floats); "
                         f"got {got}")
    try:
        return a.astype(np.float64)
    except OverflowError:
        raise ValueError(f"{owner}: {name} holds an integer beyond float64's range") from None
