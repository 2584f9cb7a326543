"""Competitive coevolution: shared sampling, fitness sharing, hall of fame, reproducibility."""

import numpy as np
import pytest

import rosenblatt as rb

ev = rb.evolution


def _players(population=12, hidden=0, seed=0):
    rng = np.random.default_rng(seed)
    if hidden:
        layers = [rb.nn.Dense(18, hidden, rng=rng), rb.nn.Tanh(), rb.nn.Dense(hidden, 9, rng=rng)]
    else:
        layers = [rb.nn.Dense(18, 9, rng=rng)]
    net = rb.nn.Sequential(*layers).astype(np.float64)
    return net, ev.CNE(net, population=population, rng=seed)


def test_shared_sample_hand_worked():
    wins = np.array([[1.0, 1.0, 1.0, 0.0],   # beats hosts 0-2
                     [1.0, 1.0, 0.0, 0.0],   # beats hosts 0-1: already covered twice
                     [0.0, 0.0, 0.0, 1.0],   # the only one that beats host 3
                     [0.5, 0.5, 0.5, 0.5]])  # draws everything
    # first pick: 3.0 vs 2.0, 1.0, 2.0 -> 0; then 1: 1.0, 2: 1.0, 3: 0.75+0.5=1.25 -> 3;
    # then 1: 2/(1+1.5)=0.8, 2: 1/(1+0.5)=0.667 -> 1
    assert ev.shared_sample(wins, 3).tolist() == [0, 3, 1]
    assert ev.shared_sample(wins, 10).shape == (4,)


def test_shared_fitness_hand_worked():
    scores = np.array([[1.0, 0.0, 0.5], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    # column sums 2, 1, 0.5: f = [1/2 + 0 + 1, 1/2 + 1 + 0, 0]
    assert ev.shared_fitness(scores).tolist() == [1.5, 1.5, 0.0]


def _run(seed, generations=3, **kw):
    net, cne = _players(seed=seed)
    coev = ev.Coevolution(cne, game=ev.envs.TicTacToe(noise=0.1, rng=seed), sample=4,
                          hall_of_fame=2, rng=seed, **kw)
    return coev, coev.run(generations)


def test_reproducible_for_a_seed_with_hall_of_fame():
    a, ra = _run(7)
    b, rb_ = _run(7)
    assert ra.history == rb_.history
    np.testing.assert_array_equal(ra.best, rb_.best)
    assert len(a.hall_a) == 3
    for x, y in zip(a.hall_a, b.hall_a):
        np.testing.assert_array_equal(x, y)
    _, rc = _run(8)
    assert rc.history != ra.history


def test_games_counted_and_hall_of_fame_played():
    coev, result = _run(0, generations=3)
    P = 12
    # each pairing two games; the hall of fame holds 0, 1, then 2 champions
    assert result.history["games"] == [2 * P * 4, 2 * P * (4 + 1), 2 * P * (4 + 2)]
    assert result.evaluations == sum(result.history["games"])
    assert result.history["hall_of_fame"] == [1, 2, 3]
    np.testing.assert_array_equal(coev.population_a.model.parameters()[0].data.ravel()[:3],
                                  np.asarray(result.best)[:3])


def test_hall_of_fame_keeps_each_generations_champion():
    net, cne = _players(seed=1)
    coev = ev.Coevolution(cne, game=ev.envs.TicTacToe(), sample=3, hall_of_fame=0,
                          shared_sampling=False, fitness_sharing=False, rng=1)
    seen = []
    coev.run(2, callbacks=[lambda s: seen.append(np.array(s["champion"]))])
    assert len(coev.hall_a) == 2
    for champion, famed in zip(seen, coev.hall_a):
        np.testing.assert_array_equal(champion, famed[0])


def test_two_populations_and_neat():
    _, hosts = _players(population=10, seed=2)
    neat = ev.NEAT(18, 9, ev.NEATConfig(population=10), rng=2)
    coev = ev.Coevolution(hosts, neat, game=ev.envs.TicTacToe(), sample=3, hall_of_fame=2,
                          rng=2)
    result = coev.run(2)
    assert len(result.history["b_best"]) == 2
    assert len(coev.hall_b) == 2 and isinstance(coev.hall_b[0][0], ev.Genome)
    assert neat.generation == 2


def test_bad_input():
    net, cne = _players()
    game = ev.envs.TicTacToe()
    with pytest.raises(TypeError, match="population_a must be an evolving population"):
        ev.Coevolution(net, game=game)
    with pytest.raises(TypeError, match="game must have play"):
        ev.Coevolution(cne, game=object())
    with pytest.raises(ValueError, match="sample must be at most the population size"):
        ev.Coevolution(cne, game=game, sample=13)
    with pytest.raises(ValueError, match="population_b is population_a"):
        ev.Coevolution(cne, cne, game=game)
    with pytest.raises(ValueError, match="hall_of_fame"):
        ev.Coevolution(cne, game=game, hall_of_fame=-1)


@pytest.mark.slow
def test_coevolved_players_beat_random_without_meeting_a_reference(monkeypatch):
    """The notes' claim at a small budget: players that only ever met each other (and their
    hall of fame) beat the random player far more often than the first generation did.
    (Longer runs: benchmarks/coevolution_tictactoe.py.)"""
    from rosenblatt.evolution.envs import games

    def forbidden(*args, **kwargs):
        raise AssertionError("coevolution consulted a reference player")

    game = ev.envs.TicTacToe()
    net, cne = _players(population=40, hidden=10, seed=0)
    first = ev.envs.network_player(ev.PopulationModel(net, cne.thetas.copy()), symmetric=True)
    who = np.repeat(np.arange(40), 50)
    before = np.concatenate([game.play(first, ev.envs.random_player(1), who_x=who),
                             -game.play(ev.envs.random_player(2), first, who_o=who)])
    with monkeypatch.context() as m:
        m.setattr(games, "perfect_player", forbidden)
        m.setattr(games, "random_player", forbidden)
        m.setattr(games, "minimax_table", forbidden)
        coev = ev.Coevolution(cne, game=ev.envs.TicTacToe(noise=0.3, symmetric=True, rng=0),
                              sample=8, hall_of_fame=8, fitness_sharing=False, rng=0)
        result = coev.run(40)
    champion = ev.envs.network_player(ev.PopulationModel(net, result.best[None]),
                                      symmetric=True)
    after = game.versus(champion, ev.envs.random_player(3), 2000)
    assert (before == 1).mean() < 0.55
    assert after["win"] >= 0.65 and after["win"] >= (before == 1).mean() + 0.15
    assert after["loss"] <= 0.3
