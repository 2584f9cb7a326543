"""Tic-tac-toe: rules, the minimax table against a plain recursive search, reference players."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.evolution.envs import games

ttt = rb.evolution.envs


def _board(text):
    """'XO.X.O...' -> int8 board."""
    return np.array([{"X": 1, "O": -1, ".": 0}[c] for c in text], dtype=np.int8)


def test_winner_rows_columns_diagonals():
    boards = np.stack([_board("XXX.OO..."), _board("O..O..O.X"), _board("X.O.XO..X"),
                       _board("..O.O.O.X"), _board("XOXXOOOXX")])
    assert games.winner(boards).tolist() == [1, -1, 1, -1, 0]


def _solve(board, mover):
    """A plain negamax value (for mover) from scratch, no table: the reference."""
    w = games.winner(board[None])[0]
    if w != 0:
        return -1.0  # the previous mover has won
    free = np.flatnonzero(board == 0)
    if free.size == 0:
        return 0.0
    best = -2.0
    for i in free:
        board[i] = mover
        best = max(best, -_solve(board, -mover))
        board[i] = 0
    return best


def test_minimax_table_matches_a_direct_search():
    table = games.minimax_table()
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(40):  # random positions a few moves deep, where the search is cheap
        board = np.zeros(9, np.int8)
        mover = 1
        for _ in range(rng.integers(3, 7)):
            free = np.flatnonzero(board == 0)
            board[rng.choice(free)] = mover
            mover = -mover
            if games.winner(board[None])[0] != 0:
                break
        if games.winner(board[None])[0] != 0:
            continue
        row = table[games.codes(board[None])[0]]
        for i in np.flatnonzero(board == 0):
            board[i] = mover
            expect = 1.0 if games.winner(board[None])[0] == mover else -_solve(board, -mover)
            board[i] = 0
            assert row[i] == expect
            checked += 1
        assert np.isneginf(row[board != 0]).all()
    assert checked > 50
    # the empty board is a draw, every first move included
    assert table[0].tolist() == [0.0] * 9


def test_perfect_player_never_loses_and_draws_itself():
    game = ttt.TicTacToe()
    against_random = game.versus(ttt.perfect_player(0), ttt.random_player(1), 400)
    assert against_random["loss"] == 0.0 and against_random["win"] > 0.8
    assert game.versus(ttt.perfect_player(2), ttt.perfect_player(3), 100)["draw"] == 1.0


def test_perfect_player_wins_and_blocks():
    game = ttt.TicTacToe()
    board = _board("XX.OO....")  # X to move: the win at 2 beats the block at 5
    scores = ttt.perfect_player(0)(board[None], None)
    assert int(np.argmax(np.where(board == 0, scores[0], -np.inf))) == 2
    seen_by_o = -_board("XX..O....")[None]  # O to move (seen as +1): must block at 2
    scores = ttt.perfect_player(0)(seen_by_o, None)
    assert int(np.argmax(np.where(seen_by_o[0] == 0, scores[0], -np.inf))) == 2
    assert game.n_inputs == 18 and game.n_outputs == 9


def test_random_players_split_and_games_are_vectorised():
    game = ttt.TicTacToe()
    r = game.play(ttt.random_player(0), ttt.random_player(1), n_games=4000)
    # known proportions of random play: X wins about 58%, O 29%, draws 13%
    assert abs((r == 1).mean() - 0.585) < 0.03 and abs((r == -1).mean() - 0.288) < 0.03


def test_network_player_plays_member_per_game():
    # member 0 always prefers cell 0, member 1 cell 8 (a bias-only network)
    net = rb.nn.Sequential(rb.nn.Dense(18, 9)).astype(np.float64)
    thetas = np.zeros((2, net.num_parameters()))
    from rosenblatt.evolution.cne import parameter_layout

    layout, _ = parameter_layout(net)
    bias, _ = layout[id(net[0].b)]
    thetas[0, bias.start + 0] = 1.0
    thetas[1, bias.start + 8] = 1.0
    player = ttt.network_player(rb.evolution.PopulationModel(net, thetas))
    scores = player(np.zeros((3, 9), np.int8), np.array([0, 1, 0]))
    assert np.argmax(scores, axis=1).tolist() == [0, 8, 0]


def test_noise_plays_random_moves_and_bad_input():
    game = ttt.TicTacToe(noise=1.0, rng=0)
    r = game.play(ttt.perfect_player(0), ttt.perfect_player(1), n_games=2000)
    assert (r != 0).mean() > 0.5  # all moves random: no longer a draw
    with pytest.raises(ValueError, match="noise"):
        ttt.TicTacToe(noise=1.5)
    with pytest.raises(ValueError, match="scores of shape"):
        ttt.TicTacToe().play(lambda b, w: np.zeros((len(b), 3)), ttt.random_player(0), 5)
    with pytest.raises(ValueError, match="who_x"):
        ttt.TicTacToe().play(ttt.random_player(0), ttt.random_player(1), 5, who_x=[0, 1])


def test_random_openings_vary_games_between_deterministic_players():
    first_cell = lambda b, w: np.tile(np.arange(9, 0, -1.0), (len(b), 1))  # noqa: E731
    plain = ttt.TicTacToe().play(first_cell, first_cell, n_games=50)
    assert (plain == plain[0]).all()  # deterministic players: one game, 50 times
    varied = ttt.TicTacToe(openings=4, rng=0).play(first_cell, first_cell, n_games=400)
    assert len(set(varied.tolist())) == 3
    with pytest.raises(ValueError, match="openings must be at most 4"):
        ttt.TicTacToe(openings=5)


def test_symmetric_player_treats_symmetric_positions_alike():
    rng = np.random.default_rng(0)
    net = rb.nn.Sequential(rb.nn.Dense(18, 5, rng=rng), rb.nn.Tanh(),
                           rb.nn.Dense(5, 9, rng=rng)).astype(np.float64)
    thetas = rng.normal(size=(3, net.num_parameters()))
    pop = rb.evolution.PopulationModel(net, thetas)
    boards = rng.integers(-1, 2, (6, 9)).astype(np.int8)
    who = np.array([0, 1, 2, 0, 1, 2])
    sym = ttt.network_player(pop, symmetric=True)
    plain = ttt.network_player(pop)
    for perm in games.SYMMETRIES:
        np.testing.assert_allclose(sym(boards[:, perm], who), sym(boards, who)[:, perm],
                                   atol=1e-12)
    assert not np.allclose(plain(boards[:, games.SYMMETRIES[1]], who),
                           plain(boards, who)[:, games.SYMMETRIES[1]])
    assert len({tuple(p) for p in games.SYMMETRIES}) == 8
    assert ttt.TicTacToe(symmetric=True).player(pop)(boards, who).shape == (6, 9)


# -- exact outcomes against the random player --------------------------------------------------

def test_game_tree_counts_every_reachable_position():
    levels = games.game_tree()
    assert sum(len(L["boards"]) for L in levels) == 5478  # the known count, empty board included
    assert [len(L["boards"]) for L in levels[:3]] == [1, 9, 72]
    assert int(sum(L["terminal"].sum() for L in levels)) == 958  # the known terminal count


def test_expected_outcome_of_the_reference_policies():
    mm = ttt.expected_outcome("minimax")
    assert mm["mean"]["loss"] == 0.0
    assert mm["x"]["win"] == pytest.approx(0.967811, abs=1e-6)
    assert mm["o"]["win"] == pytest.approx(0.777484, abs=1e-6)
    best = ttt.expected_outcome("expectimax")  # the best response: the most wins possible
    assert best["x"]["win"] == pytest.approx(191 / 192)
    assert best["o"]["win"] == pytest.approx(0.938624, abs=1e-6)
    safe = ttt.expected_outcome("minimax_expectimax")
    assert safe["mean"]["loss"] == 0.0 and safe["o"]["win"] == pytest.approx(0.916402, abs=1e-6)
    assert mm["mean"]["win"] < safe["mean"]["win"] < best["mean"]["win"]
    for r in (mm, best, safe):
        for side in r.values():
            assert side["win"] + side["draw"] + side["loss"] == pytest.approx(1.0)
    # maximising P(win) - P(loss) instead loses less and wins a little less
    score = ttt.expected_outcome("expectimax", objective="score")
    assert score["mean"]["loss"] < best["mean"]["loss"]
    assert score["mean"]["win"] <= best["mean"]["win"]


def _sampled(player, n=6000, seed=0):
    game = ttt.TicTacToe()
    rx = game.play(player, ttt.random_player(seed + 1), n)
    ro = -game.play(ttt.random_player(seed + 2), player, n)
    return (rx == 1).mean(), (ro == 1).mean(), (rx == -1).mean(), (ro == -1).mean()


@pytest.mark.parametrize("kind", ["minimax", "expectimax", "minimax_expectimax"])
def test_expected_outcome_agrees_with_played_games(kind):
    player = {"minimax": lambda: ttt.perfect_player(0),
              "expectimax": lambda: ttt.expectimax_player(rng=0),
              "minimax_expectimax": lambda: ttt.expectimax_player(never_lose=True, rng=0)}[kind]()
    exact = ttt.expected_outcome(kind)
    got = _sampled(player)
    want = (exact["x"]["win"], exact["o"]["win"], exact["x"]["loss"], exact["o"]["loss"])
    for g, w in zip(got, want):  # 6,000 games a side: four standard errors at most
        assert abs(g - w) <= 4 * np.sqrt(max(w * (1 - w), 1e-4) / 6000)


def test_expected_outcome_of_network_players_agrees_with_played_games():
    rng = np.random.default_rng(0)
    net = rb.nn.Sequential(rb.nn.Dense(18, 6, rng=rng), rb.nn.Tanh(),
                           rb.nn.Dense(6, 9, rng=rng)).astype(np.float64)
    thetas = rng.normal(size=(3, net.num_parameters()))
    pop = rb.evolution.PopulationModel(net, thetas)
    both = ttt.expected_outcome(ttt.network_player(pop), members=3)
    for m in range(3):
        single = ttt.network_player(rb.evolution.PopulationModel(net, thetas[m:m + 1]))
        exact = ttt.expected_outcome(single)
        for side in ("x", "o", "mean"):
            for k in ("win", "draw", "loss"):
                assert exact[side][k] == pytest.approx(both[side][k][m])
        got = _sampled(single, n=4000, seed=m)
        want = (exact["x"]["win"], exact["o"]["win"], exact["x"]["loss"], exact["o"]["loss"])
        for g, w in zip(got, want):
            assert abs(g - w) <= 4 * np.sqrt(max(w * (1 - w), 1e-4) / 4000)


def test_expected_outcome_bad_input():
    with pytest.raises(ValueError, match="opponent"):
        ttt.expected_outcome("minimax", opponent="perfect")
    with pytest.raises(ValueError, match="player"):
        ttt.expected_outcome("alphabeta")
    with pytest.raises(TypeError, match="player must be"):
        ttt.expected_outcome(3)
    with pytest.raises(ValueError, match="members"):
        ttt.expected_outcome("minimax", members=2)
    with pytest.raises(ValueError, match="objective"):
        ttt.expectimax_player(objective="draw")


def test_line_features_hand_worked_and_line_players():
    board = _board("XX.OO....")  # seen by X
    f = games.line_features(board[None])[0]
    # cell 2: row 0 (2 own), column 2 (empty), diagonal 2-4-6 (1 opponent's)
    assert f[2].tolist() == [1, 0, 1, 1, 0, 0, 1, 0, 0]
    # cell 5: row 1 (2 opponent's), column 2 (empty); an edge
    assert f[5].tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    # cell 8 (corner): row 2 empty, column 2 empty, diagonal 0-4-8 (one of each)
    assert f[8].tolist() == [2, 0, 0, 0, 0, 1, 1, 0, 0]
    assert f[4, 7] == 1  # the centre
    # a line player: one shared linear scorer; "complete a line" > "block" > the rest
    net = rb.nn.Sequential(rb.nn.Dense(9, 1)).astype(np.float64)
    theta = np.zeros((1, net.num_parameters()))
    from rosenblatt.evolution.cne import parameter_layout

    layout, _ = parameter_layout(net)
    W, _ = layout[id(net[0].W)]
    theta[0, W.start + 2], theta[0, W.start + 4] = 10.0, 5.0
    player = ttt.network_player(rb.evolution.PopulationModel(net, theta), encoding="lines")
    scores = player(board[None], None)
    assert int(np.argmax(np.where(board == 0, scores[0], -np.inf))) == 2  # win
    assert int(np.argmax(np.where(board == 0, player(-board[None], None)[0], -np.inf))) == 5
    game = ttt.TicTacToe(encoding="lines")
    assert (game.n_inputs, game.n_outputs) == (9, 1)
    with pytest.raises(ValueError, match="encoding"):
        ttt.TicTacToe(encoding="pixels")
