"""Shuffling and curriculum learning (notes: "Shuffling & curriculum learning").

"Generally you should shuffle your data every training epoch so the network
does not become biased towards a particular ordering. However, there are
cases in which your network may benefit from a meaningful ordering of input
data; this approach is called curriculum learning." A :class:`Curriculum`
presents examples from easy to hard (by a difficulty score), optionally
starting from the easiest fraction of the data and widening the pool to all
of it over the first epochs.
"""

import math

import numpy as np

from ..checks import boolean, positive_int, unit_interval
from ..randomness import resolve_rng


class Curriculum:
    """Order (and optionally restrict) the training examples by difficulty.

    Parameters
    ----------
    scores : array_like, shape (n_examples,)
        Difficulty of each example: lower is easier.
    start : float, default 1.0
        The fraction of the (easiest) examples used in the first epoch, in (0, 1];
        below 1 it needs ``epochs_to_full >= 2`` (a ValueError otherwise).
    epochs_to_full : int, default 1
        The pool grows linearly from ``start`` (epoch 0) to all examples
        (epoch ``epochs_to_full - 1``); 1 means all examples from the start.
    shuffle_pool : bool, default False
        Shuffle within the current pool instead of presenting it easy-first.

    Examples
    --------
    >>> c = Curriculum([0.9, 0.1, 0.5, 0.3], start=0.5, epochs_to_full=3)
    >>> c.order(0).tolist(), c.order(1).tolist(), c.order(2).tolist()
    ([1, 3], [1, 3, 2], [1, 3, 2, 0])
    """

    def __init__(self, scores, start=1.0, epochs_to_full=1, shuffle_pool=False):
        try:
            scores = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"Curriculum: scores must be numbers (one difficulty per example, "
                            f"lower is easier); got {scores!r:.60}") from None
        if scores.ndim != 1 or not np.all(np.isfinite(scores)):
            raise ValueError(f"Curriculum: scores must be a finite 1-D array (one per example); "
                             f"got shape {scores.shape}")
        start = unit_interval("Curriculum", "start", start, closed_low=False, closed_high=True)
        epochs_to_full = positive_int("Curriculum", "epochs_to_full", epochs_to_full)
        if start < 1 and epochs_to_full == 1:  # the pool would be whole from epoch 0
            raise ValueError(f"Curriculum: start={start:g} needs epochs_to_full >= 2 to widen "
                             f"the pool from it (with epochs_to_full=1 every epoch uses all "
                             f"examples); give epochs_to_full, or leave start at 1")
        self.scores = scores
        self.start, self.epochs_to_full = float(start), epochs_to_full
        self.shuffle_pool = boolean("Curriculum", "shuffle_pool", shuffle_pool)
        self._ranked = np.argsort(scores, kind="stable")

    def __len__(self):
        return self.scores.size

    def pool_size(self, epoch):
        """How many (easiest) examples epoch ``epoch`` uses."""
        if self.epochs_to_full == 1:  # the pool is whole from the first epoch
            frac = 1.0
        else:
            frac = self.start + (1 - self.start) * min(1.0, epoch / (self.epochs_to_full - 1))
        return max(1, math.ceil(frac * self.scores.size - 1e-9))

    def order(self, epoch, rng=None):
        """The example indices of epoch ``epoch``, easiest first (or shuffled within the pool).

        Parameters
        ----------
        epoch : int
        rng : numpy.random.Generator or int, optional
            Shuffles the pool with ``shuffle_pool`` (required then); an int
            seeds a fresh generator.
        """
        pool = self._ranked[:self.pool_size(epoch)]
        if self.shuffle_pool:
            if rng is None:
                raise ValueError("Curriculum.order: shuffle_pool needs an rng")
            try:
                rng = resolve_rng(rng)
            except (TypeError, ValueError) as err:  # not a Generator or seed; a negative seed
                raise type(err)(f"Curriculum.order: {err}") from None
            pool = pool[rng.permutation(pool.size)]
        return pool.copy()

    def __repr__(self):
        return (f"Curriculum({self.scores.size} examples, start={self.start}, "
                f"epochs_to_full={self.epochs_to_full}, shuffle_pool={self.shuffle_pool})")
