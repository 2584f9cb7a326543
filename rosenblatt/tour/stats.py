"""The noise that the tour's claims are judged against.

A claim compares measurements that are themselves random: an accuracy on a finite test
set, a mean over a few draws. A margin fixed by hand on seed 0 can sit inside that noise for
another seed (``rosenblatt tour --seed N``), so the chapters compare against the noise itself.
"""

import math


def accuracy_standard_error(accuracy, n):
    """The binomial standard error of an ``accuracy`` measured on ``n`` examples,
    ``sqrt(p (1 - p) / n)``.

    Examples
    --------
    >>> round(accuracy_standard_error(0.9, 900), 4)
    0.01
    """
    return math.sqrt(accuracy * (1.0 - accuracy) / n)
