"""The noise that the tour's claims are judged against.

A claim compares measurements that are themselves random: an accuracy on a finite test
set, a mean over a few draws. A margin fixed by hand on seed 0 can sit inside that noise for
another seed (``rosenblatt tour --seed N``), so the chapters compare against the noise itself.
"""

import math

import numpy as np


def accuracy_standard_error(accuracy, n):
    """The binomial standard error of an ``accuracy`` measured on ``n`` examples,
    ``sqrt(p (1 - p) / n)``.

    Parameters
    ----------
    accuracy : float
        A fraction in [0, 1] (not a percentage).
    n : int
        The number of examples, positive.

    Raises
    ------
    ValueError
        If ``accuracy`` is not in [0, 1] (NaN included) or ``n`` is not a positive integer.

    Examples
    --------
    >>> round(accuracy_standard_error(0.9, 900), 4)
    0.01
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"accuracy_standard_error: n must be a positive integer (the number "
                         f"of examples); got {n!r}")
    try:
        p = float(accuracy)
    except (TypeError, ValueError):
        p = math.nan
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"accuracy_standard_error: accuracy must be a fraction in [0, 1]; got "
                         f"{accuracy!r} (a percentage? divide it by 100)")
    return math.sqrt(p * (1.0 - p) / int(n))
