"""Visual discrimination (Stanley, D'Ambrosio & Gauci 2009): find the larger object.

An ``11 x 11`` retina shows two objects, a ``1 x 1`` and a ``3 x 3`` square;
the network's output field (a substrate of the same geometry) must peak at
the centre of the large one. The 75 trials place the large object's centre
at the 25 points of a 5 x 5 grid and the small one 5 cells away to the right,
below, or diagonally (wrapping round). At a higher ``resolution`` the same
scene is drawn with every object scaled by ``resolution / 11``, so a CPPN
evolved at 11 x 11 can be painted on, say, 33 x 33 without further evolution.
"""

import numpy as np

from ...checks import positive_float, positive_int

__all__ = ["VisualDiscrimination"]


class VisualDiscrimination:
    """The visual discrimination task at a given retina resolution.

    Parameters
    ----------
    resolution : int, default 11
        Retina side, at least 6 (11 in the paper; a multiple of 11 scales the
        objects; below 6 the large object would shrink to one cell like the
        small one). At an odd multiple (33, 55) the large object has a centre
        cell; at an even one (22) its centre falls between four cells, so no
        output peak reaches it: see :attr:`best_fitness`.
    alpha : float, default 100.0
        Fitness is ``10000 / (alpha + sum of squared distances)`` between
        the output peak and the large object's centre, in 11-grid units
        (after Gauci & Stanley's score).

    Attributes
    ----------
    X : ndarray (75, resolution**2)
        The retina images, row-major.
    targets : ndarray (75, 2)
        Large-object centres (x, y) in 11-grid units.
    best_fitness : float
        The fitness of a perfect network at this resolution (its peak on the
        cell nearest each large object's centre): 100 at 11 and 33, 91.4 at 22.
    n_inputs, n_outputs : int
        ``resolution**2``: one input per retina cell and one output per field
        cell, for a direct encoding (NEAT, CNE, CoSyNE, ESP: the P-NEAT
        baseline of Gauci & Stanley 2007) rather than HyperNEAT's substrate.

    Examples
    --------
    >>> env = VisualDiscrimination()
    >>> env.X.shape, int(env.X[0].sum())
    ((75, 121), 10)
    """

    def __init__(self, resolution=11, alpha=100.0):
        self.resolution = positive_int("VisualDiscrimination", "resolution", resolution)
        if self.resolution < 6:
            raise ValueError(f"VisualDiscrimination: resolution must be at least 6 (below, "
                             f"the 3 x 3 object is drawn as one cell like the 1 x 1 one, and "
                             f"there is no larger object to find); got {self.resolution}")
        self.alpha = positive_float("VisualDiscrimination", "alpha", alpha)
        r = self.resolution
        self.n_inputs = self.n_outputs = r * r
        k = r / 11.0
        images, targets = [], []
        for cy in (1, 3, 5, 7, 9):
            for cx in (1, 3, 5, 7, 9):
                for dx, dy in ((5, 0), (0, 5), (5, 5)):
                    img = np.zeros((r, r))
                    self._square(img, cx, cy, 3, k)
                    self._square(img, (cx + dx) % 11, (cy + dy) % 11, 1, k)
                    images.append(img.ravel())
                    targets.append((cx, cy))
        self.X = np.array(images)
        self.targets = np.array(targets, dtype=np.float64)
        # a perfect field peaks on the cell nearest each target: its distances are the least
        cells = self.peaks(np.eye(r * r))  # (r*r, 2): every cell's position in 11-units
        nearest = np.linalg.norm(self.targets[:, None, :] - cells[None], axis=-1).min(axis=1)
        self.best_fitness = float(10000.0 / (self.alpha + (nearest ** 2).sum()))

    @staticmethod
    def _square(img, cx, cy, size, k):
        """Fill a ``size x size`` (in 11-units) square centred on cell (cx, cy), wrapping."""
        r = img.shape[0]
        half = size * k / 2.0
        centre = ((cx + 0.5) * k, (cy + 0.5) * k)
        lo = [int(round(c - half)) for c in centre]
        n = max(1, int(round(size * k)))
        ys = [(lo[1] + i) % r for i in range(n)]
        xs = [(lo[0] + i) % r for i in range(n)]
        img[np.ix_(ys, xs)] = 1.0

    def peaks(self, outputs):
        """Positions (in 11-grid units) of each output field's maximum: ``(..., 75, 2)``."""
        o = np.asarray(outputs)
        idx = np.argmax(o, axis=-1)
        k = self.resolution / 11.0
        y, x = np.divmod(idx, self.resolution)
        return np.stack([(x + 0.5) / k - 0.5, (y + 0.5) / k - 0.5], axis=-1)

    def distances(self, outputs):
        """Distance of each trial's peak from the large object's centre (11-grid units).

        ``outputs``: ``(75, resolution**2)`` fields, or ``(P, 75, resolution**2)``; another
        shape is a ValueError (a narrower field would put every peak in its first cells, one
        row would be broadcast over the 75 trials).
        """
        o = np.asarray(outputs)
        n = self.n_outputs
        if o.ndim not in (2, 3) or o.shape[-2:] != (len(self.targets), n):
            raise ValueError(f"VisualDiscrimination: outputs must be one output field of "
                             f"{n} cells (resolution {self.resolution} squared) per trial, "
                             f"shape ({len(self.targets)}, {n}) for one network or (P, "
                             f"{len(self.targets)}, {n}) for a population; got {o.shape}")
        return np.linalg.norm(self.peaks(o) - self.targets, axis=-1)

    def fitness(self, outputs):
        """``10000 / (alpha + sum of squared distances)`` per network; NaN for a network
        with a NaN output (its peak would be read off its first NaN cell), as XOR's fitness
        is, so the algorithms' ``on_error`` handles it."""
        d = self.distances(outputs)
        f = 10000.0 / (self.alpha + (d ** 2).sum(axis=-1))
        o = np.asarray(outputs)
        if o.dtype.kind not in "fc":  # (integers hold no NaN)
            return f
        broken = np.isnan(o).any(axis=(-2, -1))
        return np.where(broken, np.nan, f) if broken.any() else f

    def __call__(self, network):
        """Fitness of one network (callable ``(75, n) -> (75, n)`` or ``-> (1, 75, n)``) or
        genome (its phenotype)."""
        if not callable(network) and hasattr(network, "network"):
            network = network.network()
        out = np.asarray(network(self.X))
        return float(np.ravel(self.fitness(out))[0])

    def evaluate(self, population_network):
        """Fitness ``(P,)`` of a population network ``(75, n) -> (P, 75, n)``."""
        return self.fitness(population_network(self.X))
