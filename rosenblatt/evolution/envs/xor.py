"""XOR, the first test of NEAT (Stanley & Miikkulainen 2002, section 4.1)."""

import numpy as np

__all__ = ["XOR", "xor_fitness"]


class XOR:
    """The XOR task as the NEAT paper scores it.

    Fitness of a network with outputs ``o`` on the four patterns is
    ``max(4 - sum_i |o_i - t_i|, 0) ** 2``: at most 16, and falling as the
    error grows. The paper's ``(4 - error) ** 2`` assumes sigmoid outputs in
    [0, 1], where the error is at most 4 and the two agree; the cap keeps a
    network with unbounded outputs (a linear output layer) from being
    rewarded for outputs far off the targets. It is *solved* when every
    output is on the right side of 0.5.

    Attributes
    ----------
    X : ndarray, shape (4, 2)
    y : ndarray, shape (4, 1)

    Examples
    --------
    >>> import numpy as np
    >>> env = XOR()
    >>> float(env.fitness(env.y.astype(float)))
    16.0
    >>> bool(env.solved(np.array([[0.1], [0.9], [0.6], [0.4]])))
    True
    """

    n_inputs, n_outputs = 2, 1

    def __init__(self):
        self.X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        self.y = np.array([[0.0], [1.0], [1.0], [0.0]])

    def _outputs(self, outputs, where):
        """``outputs`` as a float array ``(..., 4, 1)``: one network's ``(4,)`` is reshaped
        explicitly; any other shape is refused (broadcast against ``y`` it would score
        every output against every target)."""
        o = np.asarray(outputs, dtype=np.float64)
        if o.shape == (4,):
            return o.reshape(4, 1)
        if o.shape[-2:] != (4, 1):
            raise ValueError(f"XOR.{where}: outputs must have shape (4, 1) (or (4,)) for one "
                             f"network, (P, 4, 1) for a population; got {o.shape}")
        return o

    def fitness(self, outputs):
        """``max(4 - sum |o - t|, 0)^2`` of outputs shaped ``(4, 1)`` (or ``(4,)``) or
        ``(P, 4, 1)``; another shape is a ValueError."""
        o = self._outputs(outputs, "fitness")
        left = 4.0 - np.abs(o - self.y).sum(axis=(-2, -1))
        if not left.ndim:  # one network
            return max(left, 0.0) ** 2
        # the cap as a masked assignment: np.maximum (or np.clip) here measurably slowed the
        # code after it on the Xeon this was measured on (NEAT's XOR evaluation by 5%); a mask
        # does not
        left[left < 0.0] = 0.0
        return left ** 2

    def solved(self, outputs):
        """True where all four outputs are on the right side of 0.5 (shapes as for
        :meth:`fitness`)."""
        o = self._outputs(outputs, "solved")
        return np.all((o > 0.5) == (self.y > 0.5), axis=(-2, -1))

    def __call__(self, network):
        """Fitness of one network or genome (its phenotype).

        ``network`` is a callable ``(4, 2) -> (4, 1)`` (or ``(4,)``), or ``-> (1, 4, 1)``
        for a population of one (HyperNEAT's ``SubstrateNetwork`` of size 1,
        a CNE ``PopulationModel`` of one individual); a larger population is
        scored by :meth:`evaluate`.
        """
        if not callable(network) and hasattr(network, "network"):
            network = network.network()
        out = np.asarray(network(self.X))
        if out.shape not in ((4,), (4, 1), (1, 4, 1)):
            raise ValueError(f"XOR: a network's outputs must have shape (4, 1), (4,) or "
                             f"(1, 4, 1); got {out.shape}; score a population with "
                             f"XOR().evaluate")
        f = np.ravel(self.fitness(out))
        return float(f[0])

    def evaluate(self, population_network):
        """Fitness of a population network ``(4, 2) -> (P, 4, 1)``, as an array ``(P,)``."""
        return self.fitness(population_network(self.X))


def xor_fitness(genome):
    """The NEAT paper's XOR fitness of one genome (a module-level function, so that it can
    be sent to worker processes by name)."""
    return XOR()(genome)
