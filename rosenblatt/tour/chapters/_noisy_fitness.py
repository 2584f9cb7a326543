"""Tour, neuroevolution: a noisy fitness, and averaging over many plays (notes:
"Neuroevolution": "In non-deterministic games, the fitness function may be noisy (since the
same action can lead to different scores). One way around this is to average the performance
over many independent plays").

A section of the chapter :mod:`rosenblatt.tour.chapters.neuroevolution2`, which calls
:func:`averaging_over_plays` with its ``ctx``; the leading underscore keeps the tour from
taking this module for a chapter of its own.

The game: tic-tac-toe against the uniformly random player, a non-deterministic opponent. A
player is the chapter's linear line-feature network (10 weights; deterministic: it always
plays its best-scoring move), evolved by CNE. One play is one game, on a side drawn at
random, scored +1 for a win, 0 for a draw and -1 for a loss. The player's real strength, its
expected score, is computed exactly over the whole game tree
(``rb.evolution.envs.expected_outcome``), so both what the noise does and what averaging
buys are measured without sampling error. Two runs from the same first population, the same
generations and selection: one scoring each individual by one play, one by the mean of
``plays`` plays (the cause; with ``plays=1`` the runs are the same).

Measured when written (tour seeds 0-2, three runs each), at equal numbers of games: one play
per evaluation for 240 generations brings the population as far as the mean of 20 plays for 12
(median real score +0.75 to +0.93 against +0.74 to +0.90), since selection over a population
averages the noise too; but its champion, the individual with the best measured fitness, stays
the first lucky winner of one game (real score -0.50 to +0.40, against +0.73 to +0.91): no
later individual can measure better than a win. The claim compares equal generations.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.evolution.envs.games import line_features

_POWERS = 3 ** np.arange(9)
POPULATION, GENERATIONS = 30, 12


def _scoring_player(net, thetas):
    """The same player as ``network_player(PopulationModel(net, thetas), encoding="lines")``,
    faster where the same boards come up for many members (the exact measurement asks every
    member about every position): each distinct board's line features are computed once."""
    def play(boards, who):
        who = np.zeros(len(boards), np.int64) if who is None else np.asarray(who)
        codes = (np.asarray(boards, np.int64) % 3) @ _POWERS
        _, first, board = np.unique(codes, return_index=True, return_inverse=True)
        members, member = np.unique(who, return_inverse=True)
        features = line_features(np.asarray(boards)[first]).reshape(-1, 9)
        out = rb.evolution.PopulationModel(net, thetas[members])(features)
        return out.reshape(len(members), len(first), 9)[member, board.ravel()]

    return play


def _exact_scores(net, thetas):
    """The expected score P(win) - P(loss) of each weight vector against the random player,
    both sides averaged (exact), and its expected square P(win) + P(loss)."""
    thetas = np.atleast_2d(thetas)
    r = rb.evolution.envs.expected_outcome(_scoring_player(net, thetas), members=len(thetas))
    win, loss = (np.asarray(r["mean"][k]).reshape(-1) for k in ("win", "loss"))
    return win - loss, win + loss


def _fitness(net, plays, rng):
    """The mean score of ``plays`` games per individual against the random player."""
    ttt = rb.evolution.envs
    game = ttt.TicTacToe(encoding="lines")

    def fitness(thetas):
        me = ttt.network_player(rb.evolution.PopulationModel(net, thetas), encoding="lines")
        opponent = ttt.random_player(rng)
        who = np.repeat(np.arange(len(thetas)), plays)
        first = rng.random(len(who)) < 0.5
        score = np.empty(len(who))
        score[first] = game.play(me, opponent, who_x=who[first], rng=rng)
        score[~first] = -game.play(opponent, me, who_o=who[~first], rng=rng)
        return score.reshape(len(thetas), plays).mean(axis=1)

    return fitness


def _net(seed):
    return rb.nn.Sequential(rb.nn.Dense(9, 1, rng=np.random.default_rng(seed))).astype(
        np.float64)


def _pair(seed, plays):
    """Two runs from the same first population, scored by one play and by ``plays`` plays;
    for each, the correlation of the first population's measured fitness with its real
    strength, the champion's real score and measured fitness, the final population's median
    real score, and the standard deviation of the champion's score in one play."""
    runs = {}
    for arm, n in (("one play", 1), ("averaged", plays)):
        net = _net(seed)  # a network of its own: a run leaves its champion's weights in it
        cne = rb.evolution.CNE(net, population=POPULATION, mutation_std=0.3, init_std=0.5,
                               rng=seed)
        first = cne.thetas.copy()  # the same seed: the same first population in both runs
        fitness = _fitness(net, n, np.random.default_rng(seed + 1))
        measured = fitness(first)
        res = cne.run(fitness, GENERATIONS, vectorized=True)
        runs[arm] = (measured, res.best, res.best_fitness, cne.thetas)
    # everything measured exactly in one walk of the game tree
    thetas = np.concatenate([first] + [np.vstack([r[1], r[3]]) for r in runs.values()])
    real, square = _exact_scores(_net(seed), thetas)
    truth, at = real[:len(first)], len(first)
    out = {}
    for arm, (measured, _, best_fitness, final) in runs.items():
        out[arm] = {"correlation": float(np.corrcoef(measured, truth)[0, 1]),
                    "champion": float(real[at]), "measured": float(best_fitness),
                    "median": float(np.median(real[at + 1:at + 1 + len(final)])),
                    "noise": float(np.sqrt(max(square[at] - real[at] ** 2, 0.0)))}
        at += 1 + len(final)
    return out


def averaging_over_plays(ctx, plays=20, runs=3):
    """``runs`` pairs of runs and the claim; returns {"one play": [...], "averaged": [...]},
    each a list of the dicts of :func:`_pair`."""
    seeds = [ctx.run_seed(900 + k) for k in range(runs)]
    pairs = [_pair(s, plays) for s in seeds]
    rows = {arm: [p[arm] for p in pairs] for arm in ("one play", "averaged")}
    mean = {arm: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
            for arm, rs in rows.items()}
    ctx.text(
        f"**A noisy fitness.** Line-feature players (above) evolved by CNE (population "
        f"{POPULATION}, {GENERATIONS} generations) against the random player, a "
        "non-deterministic opponent: the same player, playing the same way, wins one game and "
        "loses the next. One play is one game on a side drawn at random, scored +1, 0 or -1; "
        "a player's real strength is its expected score, computed exactly over the game tree. "
        f"{runs} pairs of runs, each pair from the same first population: one run scores each "
        f"player by one play, the other by the mean of {plays} independent plays.")
    ctx.table(["fitness", "correlation with real strength (first population)",
               "champion: measured fitness", "champion: real score",
               "final population: median real score"],
              [[arm, m["correlation"], m["measured"], m["champion"], m["median"]]
               for arm, m in mean.items()],
              caption=f"Means over the {runs} runs of each kind.")
    one, avg = mean["one play"], mean["averaged"]
    ctx.claim("In a non-deterministic game the fitness is noisy, and averaging over many "
              f"independent plays is a way around it: scored by one play, evolution's "
              f"champion is a lucky player; scored by the mean of {plays} plays (as many "
              f"generations, {plays} times the games), the fitness "
              "ranks players by their real strength (its correlation with it higher by more "
              "than 0.2), evolution's final population is stronger (median expected score "
              "higher by more than 0.1) and so is its champion",
              avg["correlation"] > one["correlation"] + 0.2
              and avg["median"] > one["median"] + 0.1 and avg["champion"] > one["champion"],
              f"means over {runs} runs: correlation of fitness with real strength "
              f"{one['correlation']:.2f} (one play) vs {avg['correlation']:.2f} (mean of "
              f"{plays}); champion's real expected score {one['champion']:+.2f} (measured "
              f"{one['measured']:+.2f}) vs {avg['champion']:+.2f} (measured "
              f"{avg['measured']:+.2f}); the final population's median {one['median']:+.2f} "
              f"vs {avg['median']:+.2f} (score +1 win, 0 draw, -1 loss; the best response to "
              f"the random player: {_best_possible():+.2f}); the noise: a champion's score in one "
              f"play has standard deviation {avg['noise']:.2f} (exact), its mean of {plays} "
              f"{avg['noise'] / np.sqrt(plays):.2f}")
    return rows


def _best_possible():
    r = rb.evolution.envs.expected_outcome("expectimax", objective="score")["mean"]
    return float(r["win"] - r["loss"])
