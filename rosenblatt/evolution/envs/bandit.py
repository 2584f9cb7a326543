"""A two-armed bandit whose paying arm changes between lifetimes, for a whole population.

The reward-based task of the plastic-network papers (Soltoggio et al. 2008's
foraging bee, Risi & Stanley 2010's T-maze with reward switching) in its
simplest form. At the start of each lifetime one arm, left or right, is drawn
to pay; the network then chooses an arm ``trials`` times. Its one input is the
reward of its last choice (1 if that arm paid, 0 if not, 0 before the first
choice); its first output chooses (``> 0``: right, else left); it scores the
rewards it collects. No choice can be right in every lifetime, so a network
scores well only by learning within its lifetime which arm pays.

Notes
-----
A network with fixed weights and no memory (a feed-forward network evolved by
CNE or NEAT) chooses as a function of its input alone. Its first choice ``a``
answers the input 0, and after a loss the input is 0 again: in a lifetime
where ``a`` does not pay it chooses ``a`` for ever and collects nothing, in one
where ``a`` pays it collects at most every reward. Over lifetimes that pay on
each side equally often (``sides="balanced"``) it therefore collects at most
half of the rewards: no better than a fixed guess. A network that learns can
collect all but one in the worst lifetimes (the first choice is a guess):
``1 - 1 / (2 trials)`` of them.

The bound of one half holds without a switch (``switch_at=None``) only. Once
the paying arm switches, "after a loss ``a``" no longer means "for ever": a
fixed network choosing left after a loss and right after a win alternates
while left pays and stays right once right pays, and collects 0.65 of the
rewards with ``trials=20, switch_at=5`` (0.6 at ``switch_at=7``).
"""

import numpy as np

from ...checks import is_int, one_of, positive_int
from ...nn.module import Module
from ...randomness import generator, resolve_rng
from ._networks import one_network

__all__ = ["TwoArmedBandit"]

SIDES = ("balanced", "random")


class TwoArmedBandit:
    """A two-armed bandit: left or right pays, drawn anew each lifetime.

    Parameters
    ----------
    trials : int, default 20
        Choices per lifetime.
    lifetimes : int, default 2
        Lifetimes per network per evaluation (the network starts each afresh:
        ``reset``).
    sides : {"balanced", "random"}, default "balanced"
        Half of the lifetimes pay left and half right (``lifetimes`` even;
        every network faces the same lifetimes, no noise in the fitness), or
        each lifetime's paying arm is drawn from ``rng``, one draw per
        evaluation shared by the whole population (with ``vectorized=True``,
        NEAT and CNE call :meth:`evaluate` once per sub-population of up to
        32 under an executor, once for the whole population serially: one
        draw each).
    switch_at : int, optional
        From this trial on the other arm pays (reversal learning, as in the
        papers' reward switching): a network must notice and re-learn. A
        fixed network can then beat one half (see the module's Notes).
    rng : numpy.random.Generator or int, optional
        For ``sides="random"``. Default: the library generator at the time of
        each draw (the one ``rb.seed`` resets, or the one
        :func:`rosenblatt.randomness.using` installs), so NEAT and CNE, which
        score each individual or sub-population with a generator of their
        own (read from their ``rng``), get the same draws from the same seed,
        serially or on any executor (serially vectorised: the draws of an
        executor's first sub-population; the same run when the population
        fits one, 32 or fewer). A generator given here is
        drawn by whichever thread or process evaluates (copies of it in a
        process pool).

    Attributes
    ----------
    n_inputs, n_outputs : int
        1 and 1.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> task = rb.evolution.envs.TwoArmedBandit(trials=10)
    >>> net = rb.nn.Sequential(rb.nn.Dense(1, 1))  # fixed weights: always right
    >>> task(rb.evolution.PopulationModel(net, np.array([[0.0, 1.0]])))
    0.5
    """

    n_inputs, n_outputs = 1, 1

    def __init__(self, trials=20, lifetimes=2, sides="balanced", switch_at=None, rng=None):
        owner = "TwoArmedBandit"
        self.trials = positive_int(owner, "trials", trials)
        self.lifetimes = positive_int(owner, "lifetimes", lifetimes)
        self.sides = one_of(owner, "sides", sides, SIDES)
        if self.sides == "balanced" and self.lifetimes % 2:
            raise ValueError(f"{owner}: sides='balanced' needs an even number of lifetimes "
                             f"(half pay left, half right); got lifetimes={lifetimes}")
        if switch_at is not None and (not is_int(switch_at) or not 0 < switch_at < trials):
            raise ValueError(f"{owner}: switch_at must be None or an integer in [1, "
                             f"{trials - 1}] (a trial of the lifetime); got {switch_at!r}")
        self.switch_at = switch_at
        self.rng = None if rng is None else resolve_rng(rng)

    def draw_sides(self):
        """The paying arm of each lifetime of one evaluation, ``(lifetimes,)`` of -1 (left)
        and +1 (right)."""
        if self.sides == "balanced":
            return np.resize(np.array([-1, 1]), self.lifetimes)
        rng = generator() if self.rng is None else self.rng
        return np.where(rng.random(self.lifetimes) < 0.5, -1, 1)

    def lifetime(self, population, sides):
        """Live one lifetime for each network of ``population``, stepped in place.

        Parameters
        ----------
        population
            A population network (``size``, ``reset``, ``step``), e.g. a
            :class:`~rosenblatt.evolution.DevelopmentalPopulation`.
        sides : array, shape (population.size,)
            Each network's paying arm, -1 (left) or +1 (right).

        Returns
        -------
        ndarray, shape (population.size, trials)
            The rewards collected, 0 or 1; NaN throughout for a network that
            chose with a NaN output (its fitness is NaN, as XOR's is, and the
            algorithms' ``on_error`` decides what that does).
        """
        P = population.size
        side = np.asarray(sides)
        if side.shape != (P,) or not np.isin(side, (-1, 1)).all():
            raise ValueError(f"TwoArmedBandit.lifetime: sides must be ({P},) of -1 and +1; "
                             f"got {side.shape if side.shape != (P,) else side}")
        population.reset()
        rewards = np.zeros((P, self.trials))
        reward = np.zeros((P, 1))
        broken = np.zeros(P, dtype=bool)
        for t in range(self.trials):
            if t == self.switch_at:
                side = -side
            out = np.asarray(population.step(reward))
            if out.shape[:1] != (P,) or out.ndim != 2:
                raise ValueError(f"TwoArmedBandit: the population must return outputs of shape "
                                 f"({P}, n_outputs); got {out.shape}")
            broken |= np.isnan(out[:, 0])  # (NaN > 0 is False: it would choose left)
            choice = np.where(out[:, 0] > 0, 1, -1)
            rewards[:, t] = choice == side
            reward = rewards[:, t:t + 1]
        if broken.any():
            rewards[broken] = np.nan
        return rewards

    def evaluate(self, population):
        """Mean reward per trial of each network over :attr:`lifetimes` lifetimes, ``(P,)``.

        All lifetimes of all networks run at once (the population repeated
        with ``take``); ``population`` itself is not stepped.

        ``population``: a population network (``size``, ``take``, ``reset``,
        ``step``) of 1 input, e.g. a
        :class:`~rosenblatt.evolution.DevelopmentalPopulation`.
        """
        if not all(hasattr(population, a) for a in ("size", "take", "reset", "step")):
            raise TypeError(f"TwoArmedBandit.evaluate: population must be a population network "
                            f"(size, take, reset, step), e.g. DevelopmentalNetwork."
                            f"population(thetas); got {type(population).__name__}; score one "
                            f"network with TwoArmedBandit(network)")
        sizes = getattr(getattr(population, "network", None), "sizes", None)
        if sizes is not None and sizes[0] != self.n_inputs:
            raise ValueError(f"TwoArmedBandit.evaluate: the networks must have "
                             f"{self.n_inputs} input (the last reward); got {sizes[0]} "
                             f"(sizes {sizes})")
        P, L = population.size, self.lifetimes
        sides = self.draw_sides()
        lives = population.take(np.repeat(np.arange(P), L))
        rewards = self.lifetime(lives, np.tile(sides, P))
        return rewards.mean(axis=1).reshape(P, L).mean(axis=1)

    def __call__(self, network):
        """Fitness of one network (:meth:`evaluate`'s value, as a float), for use as a
        per-individual ``fitness=`` of NEAT or CNE.

        ``network``: a population of one (``size`` 1), a genome (its
        phenotype: :meth:`~rosenblatt.evolution.Genome.network`,
        :meth:`~rosenblatt.evolution.DevelopmentalGenome.network`), a
        :class:`~rosenblatt.evolution.DevelopmentalNetwork` or its ``genes``
        (what CNE hands a per-individual fitness), or a model that CNE evolves
        (a :class:`~rosenblatt.nn.Module` of Dense and parameter-free layers,
        scored with its current weights as a
        :class:`~rosenblatt.evolution.PopulationModel` of one).
        """
        network = one_network(network)
        if isinstance(network, Module):
            from ..cne import PopulationModel  # lazily: the envs import no algorithm module

            theta = np.concatenate([np.ravel(p.data) for p in network.parameters()])
            network = PopulationModel(network, theta[None])
        if getattr(network, "size", None) != 1:
            raise ValueError(f"TwoArmedBandit: call it on one network (a population of one "
                             f"network, a genome or a model); got {type(network).__name__} of size "
                             f"{getattr(network, 'size', None)!r}; score a population with "
                             f"TwoArmedBandit.evaluate")
        return float(self.evaluate(network)[0])
