"""Competitive coevolution (notes: "Neuroevolution", coevolution).

There is no fixed fitness function: an individual's fitness is how it fares
in games against *other evolving players*, drawn from its own population
(one population) or from a second one (host and parasite populations). The
opponents get better as the players do, an "arms race" with no hand-made
opponent. Two well-known failure modes are met with the devices of Rosin &
Belew (1997):

* **Shared sampling.** Rather than every individual playing every other, all
  hosts play one small *sample* of opponents chosen from the opponents'
  previous generation so as to cover the hosts' weaknesses: opponents are
  picked one at a time, each maximising ``sum_h beat(o, h) / (1 + b_h)``
  over the hosts ``h`` it defeated, ``b_h`` counting how many opponents
  already in the sample defeated ``h``.
* **Hall of fame.** The champion of every generation is kept; each
  generation the hosts also play a few random members of the (opposing)
  hall of fame, so that a skill once acquired and then forgotten costs
  fitness ("progress is not forgotten").
* **Competitive fitness sharing.** A win against an opponent that few hosts
  beat is worth more: ``f_h = sum_o s(h, o) / sum_h' s(h', o)`` with
  ``s`` the score in ``[0, 1]`` (win 1, draw 1/2, loss 0).

Each pairing plays two games, each side moving first once. Populations are
evolving algorithms of this layer: :class:`~.cne.CNE` over a fixed policy
network or :class:`~.neat.NEAT`; the coevolution scores their individuals
and lets each breed its next generation.
"""

import math

import numpy as np

from ..checks import boolean, positive_int, unit_interval
from ..randomness import resolve_rng
from .cne import CNE, PopulationModel, write_weights
from .core import Result, record, run_loop
from .neat import NEAT
from .network import PopulationNetwork

__all__ = ["Coevolution", "shared_sample", "shared_fitness"]


def _matrix(owner, name, value, shape):
    """``value`` as a finite 2-D float array, or a ValueError naming the owner."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{owner}: {name} must be a {shape} matrix; got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{owner}: {name} must be finite; got NaN or inf")
    return a


def shared_sample(wins, k):
    """Rosin & Belew's shared sampling: ``k`` candidate indices covering the most hosts.

    Parameters
    ----------
    wins : array (n_candidates, n_hosts)
        How much candidate ``c`` beat host ``h`` (1 win, 1/2 draw, 0 loss).
    k : int
        Sample size (at most ``n_candidates``).

    Returns
    -------
    ndarray (k,) of int
        Candidates in the order chosen; each maximises
        ``sum_h wins[c, h] / (1 + b_h)`` where ``b_h = sum_{c' chosen} wins[c', h]``.
        Ties go to the lower index.

    Examples
    --------
    >>> w = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1.]])
    >>> shared_sample(w, 2).tolist()  # the third covers a host nobody beat yet
    [0, 2]
    """
    wins = _matrix("shared_sample", "wins", wins, "(candidates, hosts)")
    k = min(positive_int("shared_sample", "k", k, allow_zero=True), wins.shape[0])
    beaten = np.zeros(wins.shape[1])
    free = np.ones(wins.shape[0], dtype=bool)
    chosen = []
    for _ in range(k):
        value = np.where(free, wins @ (1.0 / (1.0 + beaten)), -np.inf)
        c = int(np.argmax(value))
        chosen.append(c)
        free[c] = False
        beaten += wins[c]
    return np.array(chosen, dtype=np.int64)


def shared_fitness(scores):
    """Competitive fitness sharing of a ``(hosts, opponents)`` score matrix.

    ``f_h = sum_o scores[h, o] / sum_h' scores[h', o]`` (an opponent nobody
    scored against adds nothing).

    Examples
    --------
    >>> shared_fitness(np.array([[1.0, 1.0], [1.0, 0.0]])).tolist()
    [1.5, 0.5]
    """
    scores = _matrix("shared_fitness", "scores", scores, "(hosts, opponents)")
    total = scores.sum(axis=0)
    return (scores / np.where(total > 0, total, 1.0)).sum(axis=1)


class _CNESide:
    """A CNE population as coevolution sees it: members are rows of ``thetas``."""

    def __init__(self, algo):
        self.algo = algo

    def members(self):
        return self.algo.thetas

    def pick(self, members, index):
        return members[np.asarray(index, dtype=np.int64)].copy()

    def stack(self, groups):
        return np.concatenate([g for g in groups if len(g)])

    def size(self, members):
        return members.shape[0]

    def network(self, members):
        return PopulationModel(self.algo.model, members)

    def tell(self, fitness):
        self.algo.step(lambda thetas: fitness, vectorized=True)

    def finish(self, champion):
        write_weights(self.algo.vector, champion)


class _NEATSide:
    """A NEAT population as coevolution sees it: members are genomes."""

    def __init__(self, algo):
        self.algo = algo

    def members(self):
        return list(self.algo.population)

    def pick(self, members, index):
        return [members[i] for i in np.asarray(index, dtype=np.int64).tolist()]

    def stack(self, groups):
        return [m for g in groups for m in g]

    def size(self, members):
        return len(members)

    def network(self, members):
        return PopulationNetwork(members, recurrent=self.algo.config.recurrent)

    def tell(self, fitness):
        self.algo.evaluations += len(fitness)
        self.algo.tell(fitness)

    def finish(self, champion):
        pass


def _side(owner, name, algo):
    if isinstance(algo, CNE):
        return _CNESide(algo)
    if isinstance(algo, NEAT):
        return _NEATSide(algo)
    raise TypeError(f"{owner}: {name} must be an evolving population (CNE or NEAT); got "
                    f"{type(algo).__name__}")


class Coevolution:
    """Competitive coevolution of one population against itself or two against each other.

    Parameters
    ----------
    population_a : CNE or NEAT
        The players (for tic-tac-toe, e.g. CNE over a network ``18 -> 9``).
    population_b : CNE or NEAT, optional
        A second population (the "parasites"); ``None``: opponents come from
        ``population_a`` itself.
    game : object
        A two-player game with ``play(x, o, who_x=..., who_o=...) -> (n,)``
        (``+1`` first player won, ``-1`` second, ``0`` draw) and
        ``player(network)`` making a player of a population network, e.g.
        :class:`~.envs.games.TicTacToe`.
    sample : int, default 10
        Opponents drawn from the opposing population each generation.
    hall_of_fame : int, default 5
        Hall-of-fame members each host also plays per generation (0: no hall
        of fame).
    shared_sampling : bool, default True
        Choose the sample by shared sampling over the opponents' previous
        generation (False: uniformly at random).
    fitness_sharing : bool, default True
        Competitive fitness sharing (False: mean score).
    games : int, default 1
        Game pairs (one with each side first) per pairing, averaged: more
        than one only helps when the game is noisy (e.g. ``TicTacToe(noise=)``).
    weak : int, default 0
        Opponents each host also plays that are drawn at random from the
        weaker half (by fitness) of the opposing population's previous
        generation. The sample and the hall of fame hold the strongest
        players, against which the best one can do is not lose; weak
        opponents make mistakes, and a win against them scores more than a
        draw, so players also learn to exploit mistakes (the skill that wins
        against a poor opponent).
    draw : float, default 0.5
        The score of a drawn game (a win scores 1, a loss 0). Below 1/2 a
        draw counts more like a loss, rewarding players that go for the win.
    rng : numpy.random.Generator or int, optional
        Draws the random samples; the populations breed with their own.

    Attributes
    ----------
    hall_a, hall_b : list
        The champions of every generation (weight vectors or genomes).

    Notes
    -----
    Generation ``t``, for each population ``X`` facing ``Y`` (``Y = X`` with
    one population): the hosts (all of ``X_t``) play the sample chosen from
    ``Y_{t-1}`` (at ``t = 0`` a random sample of ``Y_0``) and ``hall_of_fame``
    random members of ``Y``'s hall of fame (and ``weak`` random members
    of the weaker half of ``Y_{t-1}``), two games a pairing; their scores
    give fitness; ``X``'s champion joins its hall of fame; a sample of ``X_t``
    is chosen for ``Y``'s hosts of ``t + 1``; then every population breeds.

    References
    ----------
    Rosin, C. D. and Belew, R. K. (1997). New methods for competitive
    coevolution. Evolutionary Computation 5(1), 1-29.

    Examples
    --------
    >>> import rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(18, 9, rng=0))
    >>> players = rb.evolution.CNE(net, population=12, rng=0)
    >>> coev = rb.evolution.Coevolution(players, game=rb.evolution.envs.TicTacToe(),
    ...                                 sample=4, hall_of_fame=2, rng=0)
    >>> result = coev.run(3)
    >>> result.generations, len(coev.hall_a)
    (3, 3)
    """

    def __init__(self, population_a, population_b=None, *, game, sample=10, hall_of_fame=5,
                 shared_sampling=True, fitness_sharing=True, games=1, weak=0, draw=0.5,
                 rng=None):
        owner = "Coevolution"
        self.sides = [_side(owner, "population_a", population_a)]
        if population_b is not None:
            if population_b is population_a:
                raise ValueError(f"{owner}: population_b is population_a; pass "
                                 f"population_b=None to coevolve one population")
            self.sides.append(_side(owner, "population_b", population_b))
        if not (hasattr(game, "play") and hasattr(game, "player")):
            raise TypeError(f"{owner}: game must have play(x, o, who_x=, who_o=) and "
                            f"player(network) (e.g. rb.evolution.envs.TicTacToe()); got "
                            f"{type(game).__name__}")
        self.population_a, self.population_b, self.game = population_a, population_b, game
        self.sample = positive_int(owner, "sample", sample)
        for s in self.sides:
            n = s.size(s.members())
            if self.sample > n:
                raise ValueError(f"{owner}: sample must be at most the population size ({n}); "
                                 f"got {sample}")
        self.hall_of_fame = positive_int(owner, "hall_of_fame", hall_of_fame, allow_zero=True)
        self.shared_sampling = boolean(owner, "shared_sampling", shared_sampling)
        self.fitness_sharing = boolean(owner, "fitness_sharing", fitness_sharing)
        self.games_per_pairing = positive_int(owner, "games", games)
        self.weak = positive_int(owner, "weak", weak, allow_zero=True)
        self.draw = unit_interval(owner, "draw", draw, closed_high=True)
        self.rng = resolve_rng(rng)
        self.halls = [[] for _ in self.sides]
        self.samples = [None for _ in self.sides]  # opponents each side offers next generation
        self.weaker = [None for _ in self.sides]  # each side's weaker half, for ``weak``
        self.games = 0

    @property
    def hall_a(self):
        return self.halls[0]

    @property
    def hall_b(self):
        return self.halls[1] if len(self.halls) > 1 else self.halls[0]

    def scores(self, host_side, hosts, opp_side, opponents):
        """Score matrix ``(n_hosts, n_opponents)`` in ``[0, 1]``: ``2 * games`` per pairing."""
        n, m = host_side.size(hosts), opp_side.size(opponents)
        r = self.games_per_pairing
        h = np.repeat(np.arange(n), m * r)
        o = np.tile(np.repeat(np.arange(m), r), n)
        hp = self.game.player(host_side.network(hosts))
        op = self.game.player(opp_side.network(opponents))
        first = np.asarray(self.game.play(hp, op, who_x=h, who_o=o), dtype=np.float64)
        second = np.asarray(self.game.play(op, hp, who_x=o, who_o=h), dtype=np.float64)
        self.games += 2 * n * m * r
        # host's score per game: win 1, draw ``draw``, loss 0 (first: host is X; second: O)
        d = self.draw
        score = np.where(first == 1, 1.0, np.where(first == 0, d, 0.0)) + np.where(
            second == -1, 1.0, np.where(second == 0, d, 0.0))
        return (score / 2.0).reshape(n, m, r).mean(axis=2)

    def _opponents(self, j):
        """The opponents side ``j`` offers this generation: its sample plus hall-of-fame draws."""
        side = self.sides[j]
        sample = self.samples[j]
        if sample is None:
            members = side.members()
            index = self.rng.choice(side.size(members), size=self.sample, replace=False)
            sample = side.pick(members, np.sort(index))
        groups = [sample]
        hall = self.halls[j]
        if self.hall_of_fame and hall:
            k = min(self.hall_of_fame, len(hall))
            index = np.sort(self.rng.choice(len(hall), size=k, replace=False))
            groups.append(side.stack([side.pick(hall[i], [0]) for i in index]))
        weaker = self.weaker[j]
        if self.weak and weaker is not None:
            n = side.size(weaker)
            index = np.sort(self.rng.choice(n, size=min(self.weak, n), replace=False))
            groups.append(side.pick(weaker, index))
        return side.stack(groups)

    def step(self):
        """One generation: play, score, extend the halls of fame, choose samples, breed.

        Returns the list of fitness arrays (one per population).
        """
        n_sides = len(self.sides)
        fitnesses, wins, members = [], [], []
        for i, side in enumerate(self.sides):
            j = (i + 1) % n_sides
            hosts = side.members()
            opponents = self._opponents(j)
            s = self.scores(side, hosts, self.sides[j], opponents)
            f = shared_fitness(s) if self.fitness_sharing else s.mean(axis=1)
            fitnesses.append(f)
            wins.append(s)
            members.append(hosts)
        for i, side in enumerate(self.sides):
            f, hosts = fitnesses[i], members[i]
            self.halls[i].append(side.pick(hosts, [int(np.argmax(f))]))
            if self.shared_sampling:
                chosen = shared_sample(wins[i], self.sample)
            else:
                chosen = self.rng.choice(len(f), size=self.sample, replace=False)
            self.samples[i] = side.pick(hosts, chosen)
            if self.weak:
                order = np.argsort(f, kind="stable")
                self.weaker[i] = side.pick(hosts, np.sort(order[:max(1, len(f) // 2)]))
        for side, f in zip(self.sides, fitnesses):
            side.tell(f)
        return fitnesses

    def run(self, generations, callbacks=None, stop=None):
        """Coevolve for up to ``generations``.

        Parameters
        ----------
        generations : int
        callbacks : list of callable, optional
            ``callback(state)`` after each generation (``state``: generation,
            champion of population A, its fitness); returning True stops.
            Measuring the champion against a reference opponent belongs here:
            the coevolution itself never sees one.
        stop : callable, optional
            ``stop(champion) -> bool``.

        Returns
        -------
        Result
            ``best`` is population A's champion of the last generation (a
            weight vector for CNE, written into its model; a genome for NEAT)
            and ``best_fitness`` its (relative) coevolutionary fitness;
            ``evaluations`` counts the games of this run (:attr:`games` counts
            them over the object's lifetime); ``history`` has ``best``, ``mean``,
            ``worst`` of A, ``games`` per generation, ``hall_of_fame`` size and,
            with two populations, ``b_best`` and ``b_mean``.
        """
        history = {}
        last = {"champion": None, "fitness": -math.inf}
        start = self.games  # games of earlier runs (or direct scores() calls) are not this run's

        def one(g):
            before = self.games
            fitnesses = self.step()
            extra = {}
            if len(fitnesses) > 1:
                extra = {"b_best": float(fitnesses[1].max()), "b_mean": float(
                    fitnesses[1].mean())}
            record(history, fitnesses[0], games=self.games - before,
                   hall_of_fame=len(self.halls[0]), **extra)
            champion = self.halls[0][-1][0]
            last["champion"], last["fitness"] = champion, float(fitnesses[0].max())
            return champion, last["fitness"]

        ran, stopped, error = run_loop(one, generations, callbacks, stop, "Coevolution.run")
        self.sides[0].finish(last["champion"])
        return Result(best=last["champion"], best_fitness=last["fitness"], generations=ran,
                      evaluations=self.games - start, history=history, stopped=stopped, error=error)
