"""Tic-tac-toe, a cheap two-player game for competitive coevolution (notes: "Neuroevolution").

Many games are played at once as arrays: boards ``(n_games, 9)`` of int8,
``+1`` for X (who moves first), ``-1`` for O, ``0`` for an empty cell, cells
numbered row by row. A *player* is any callable

    ``player(boards, who) -> scores (k, 9)``

given the ``k`` boards where it is to move, seen from its own side (``+1`` its
own marks, ``-1`` the opponent's), and ``who`` (``k``,) saying which member of
the player's set plays each game (a population plays many games at once, one
member per game; a single player ignores it). The game plays the legal move
with the highest score.

Two reference players are for *measurement only*: :func:`random_player`
(uniform among legal moves) and :func:`perfect_player` (minimax over a table
of every reachable position, ties among optimal moves broken at random); a
perfect player never loses, and two of them always draw.
:func:`network_player` turns a population network (the environments'
protocol: ``take(index)``, ``step(obs)``) into a player reading
:meth:`TicTacToe.features`.
"""

import functools

import numpy as np

from ...checks import boolean, one_of, positive_int, unit_interval
from ...randomness import resolve_rng

__all__ = ["TicTacToe", "expected_outcome", "expectimax_player", "network_player",
           "perfect_player", "random_player"]

LINES = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8],
                  [0, 4, 8], [2, 4, 6]])
_POWERS = 3 ** np.arange(9)


def _symmetries():
    """The 8 symmetries of the board as cell permutations: ``view[:, p]`` turns or flips it."""
    grid = np.arange(9).reshape(3, 3)
    out = []
    for flip in (grid, grid.T):
        for k in range(4):
            out.append(np.rot90(flip, k).ravel())
    return np.array(out)


SYMMETRIES = _symmetries()
_INVERSE = np.argsort(SYMMETRIES, axis=1)


def winner(boards):
    """``+1`` where X has three in a line, ``-1`` where O has, else ``0``; shape ``(n,)``."""
    sums = np.asarray(boards, dtype=np.int64)[:, LINES].sum(axis=2)
    return np.where((sums == 3).any(axis=1), 1, np.where((sums == -3).any(axis=1), -1, 0))


def codes(boards):
    """Each board's index in ``0 .. 3**9 - 1`` (cell ``i`` is digit ``i`` in base 3, O = 2)."""
    return (np.asarray(boards, dtype=np.int64) % 3) @ _POWERS


@functools.lru_cache(maxsize=1)
def minimax_table():
    """Minimax values of every move in every position reachable from the empty board.

    Returns ``(n_positions=3**9, 9)`` float: the value, for the player to move,
    of each legal move under perfect play by both sides (``+1`` win, ``0``
    draw, ``-1`` loss) and ``-inf`` for illegal moves (and unreachable
    positions). About 5,500 positions, solved once per process by negamax.
    """
    table = np.full((3 ** 9, 9), -np.inf)
    values = {}

    def negamax(board, mover):  # value for ``mover`` (+1 X, -1 O) to move on ``board``
        code = int(codes(np.array([board]))[0])
        if code in values:
            return values[code]
        best = 0.0 if 0 not in board else -np.inf
        for i in range(9):
            if board[i] != 0:
                continue
            board[i] = mover
            if winner(np.array([board]))[0] == mover:
                v = 1.0
            elif 0 not in board:
                v = 0.0
            else:
                v = -negamax(board, -mover)
            board[i] = 0
            table[code, i] = v
            best = max(best, v)
        values[code] = best
        return best

    negamax([0] * 9, 1)
    table.setflags(write=False)
    return table


def random_player(rng=None):
    """A player choosing uniformly among the legal moves (measurement only).

    Examples
    --------
    >>> p = random_player(0)
    >>> p(np.zeros((2, 9), np.int8), None).shape
    (2, 9)
    """
    rng = resolve_rng(rng)

    def play(boards, who):
        return rng.random((len(boards), 9))

    return play


def perfect_player(rng=None):
    """A minimax player (never loses); random among the optimal moves (measurement only).

    Examples
    --------
    >>> game = TicTacToe()
    >>> r = game.play(perfect_player(0), perfect_player(1), n_games=20)
    >>> bool((r == 0).all())  # perfect play is a draw
    True
    """
    rng = resolve_rng(rng)
    table = minimax_table()

    def play(boards, who):
        # the board arrives seen by the mover; the table is indexed by real positions, and O
        # is to move exactly when the count of marks is odd
        b = np.asarray(boards)
        o_to_move = (b != 0).sum(axis=1) % 2 == 1
        real = np.where(o_to_move[:, None], -b, b)
        return table[codes(real)] + 0.5 * rng.random((len(b), 9))

    return play


# -- exact outcomes against the random player (the whole game tree, no sampling) ---------------

@functools.lru_cache(maxsize=1)
def game_tree():
    """Every position reachable from the empty board, level by level (marks on the board).

    Returns a tuple of 10 dicts, level ``k`` holding the positions with ``k``
    marks: ``boards`` (n, 9) int8, ``outcome`` (n,) (+1 X has won, -1 O has
    won, 0 otherwise), ``terminal`` (n,) bool (won or full), ``child`` (n, 9)
    the index in level ``k + 1`` of the position after each move (-1 for an
    illegal move or a terminal position). 5,478 positions in all.
    """
    levels = []
    boards = np.zeros((1, 9), dtype=np.int8)
    for k in range(10):
        outcome = winner(boards)
        terminal = (outcome != 0) | (boards != 0).all(axis=1)
        child = np.full((len(boards), 9), -1, dtype=np.int64)
        nxt = np.zeros((0, 9), dtype=np.int8)
        if k < 9:
            node, cell = np.nonzero((boards == 0) & ~terminal[:, None])
            after = boards[node].copy()
            after[np.arange(len(node)), cell] = 1 if k % 2 == 0 else -1
            uniq, first, inverse = np.unique(codes(after), return_index=True,
                                             return_inverse=True)
            nxt = after[first]
            child[node, cell] = inverse
        for a in (boards, outcome, terminal, child):
            a.setflags(write=False)
        levels.append({"boards": boards, "outcome": outcome, "terminal": terminal,
                       "child": child})
        boards = nxt
    return tuple(levels)


_POLICIES = ("minimax", "expectimax", "minimax_expectimax")


def _best(values, legal, tol=1e-12):
    """Uniform weights over the legal moves whose value is within ``tol`` of the best."""
    v = np.where(legal, values, -np.inf)
    top = v.max(axis=1, keepdims=True)
    w = (v >= top - tol) & legal
    return w / w.sum(axis=1, keepdims=True)


def _solve(policy, role, objective, moves=None, M=1):
    """Outcome probabilities (win, draw, loss) of ``policy`` playing ``role`` (+1 X, -1 O)
    against the uniformly random player, at every position: a list over levels of
    arrays (n, M, 3), and the objective value of each move at the policy's positions."""
    levels = game_tree()
    table = minimax_table() if policy in ("minimax", "minimax_expectimax") else None
    values, move_values = [None] * 10, [None] * 10
    for k in range(9, -1, -1):
        L = levels[k]
        n = len(L["boards"])
        V = np.zeros((n, M, 3))
        o = L["outcome"] * role
        V[:, :, 0] = (o == 1)[:, None]
        V[:, :, 2] = (o == -1)[:, None]
        V[:, :, 1] = (L["terminal"] & (o == 0))[:, None]
        live = np.flatnonzero(~L["terminal"])
        if live.size:
            child = L["child"][live]
            legal = child >= 0
            C = values[k + 1][np.where(legal, child, 0)]  # (n_live, 9, M, 3)
            mover = 1 if k % 2 == 0 else -1
            if mover != role:  # the random player: uniform over the legal moves
                W = np.repeat((legal / legal.sum(axis=1, keepdims=True))[:, :, None], M, 2)
            else:
                score = C[..., 0] if objective == "win" else C[..., 0] - C[..., 2]
                score = np.where(legal[:, :, None], score, -np.inf)
                move_values[k] = (live, score)
                if moves is not None:  # a deterministic player's chosen cell per member
                    W = np.zeros((live.size, 9, M))
                    pos, cells = moves[k]
                    W[np.arange(live.size)[:, None], cells, np.arange(M)[None, :]] = 1.0
                else:
                    if table is not None:
                        real = L["boards"][live]
                        mm = table[codes(real)]
                        legal_p = legal & (mm >= mm.max(axis=1, keepdims=True))
                    else:
                        legal_p = legal
                    if policy == "minimax":
                        W = (legal_p / legal_p.sum(axis=1, keepdims=True))[:, :, None]
                    else:
                        W = _best(score[:, :, 0], legal_p)[:, :, None]
            V[live] = np.einsum("nim,nimk->nmk", W, C)
        values[k] = V
    return values, move_values


def _player_moves(player, M):
    """The cell a (deterministic) player picks at every position, for members 0..M-1, both
    roles: ``{k: (positions, cells (n, M))}`` per level, as :meth:`TicTacToe.play` picks
    (the highest legal score, NaN as lowest, the first on ties)."""
    out = {}
    for k, L in enumerate(game_tree()):
        live = np.flatnonzero(~L["terminal"])
        if not live.size:
            continue
        mover = np.int8(1 if k % 2 == 0 else -1)
        view = L["boards"][live] * mover
        cells = np.empty((live.size, M), dtype=np.int64)
        step = max(1, 20_000 // live.size)  # members per call: bounded memory
        for m0 in range(0, M, step):
            m = min(step, M - m0)
            boards = np.tile(view, (m, 1))
            who = np.repeat(np.arange(m0, m0 + m), live.size)
            scores = np.asarray(player(boards, who), dtype=np.float64)
            scores = np.where(boards == 0, np.nan_to_num(scores, nan=-1e300), -np.inf)
            cells[:, m0:m0 + m] = np.argmax(scores, axis=1).reshape(m, live.size).T
        out[k] = (live, cells)
    return out


def expected_outcome(player, opponent="random", objective="win", members=None):
    """Exact win, draw and loss probabilities against the uniformly random player.

    The whole game tree is walked (5,478 positions), the random player's moves
    weighted uniformly, so the figures carry no sampling error.

    Parameters
    ----------
    player : callable or str
        A player (see the module docstring), taken as deterministic: at each
        position it plays its highest-scoring legal move, the first on ties,
        as :meth:`TicTacToe.play` does (it is asked once about every
        position). Or one of the reference policies:

        * ``"minimax"``: uniformly random among the minimax-optimal moves
          (what :func:`perfect_player` does);
        * ``"expectimax"``: the best response to the random player, each move
          chosen to maximise ``objective`` over the rest of the game against
          it (uniform among equally good moves);
        * ``"minimax_expectimax"``: among the minimax-optimal moves only (so it
          never loses to anyone), the one that maximises ``objective``.
    opponent : {"random"}
        The opponent (only the uniformly random player).
    objective : {"win", "score"}
        What the expectimax policies maximise: the probability of winning, or
        the expected score ``P(win) - P(loss)``.
    members : int, optional
        With a callable ``player`` over a population: measure members
        ``0 .. members - 1`` at once (the values become arrays).

    Returns
    -------
    dict
        ``{"x": {...}, "o": {...}, "mean": {...}}``, each ``{"win", "draw",
        "loss"}``: moving first, second, and the mean of the two (what
        :meth:`TicTacToe.versus` estimates by playing).

    Notes
    -----
    With ``V(s)`` the (win, draw, loss) probabilities from position ``s`` and
    ``s·a`` the position after move ``a``:
    ``V(s) = sum_a pi(a | s) V(s·a)``, with ``pi`` uniform over the legal
    moves at the random player's turns and the player's policy at its own
    (expectimax: ``pi`` uniform over ``argmax_a J(V(s·a))``, ``J`` the
    objective), from the end of the game back to the empty board.

    Examples
    --------
    >>> r = expected_outcome("expectimax")
    >>> round(r["x"]["win"], 4), r["x"]["loss"] > 0
    (0.9948, True)
    >>> expected_outcome("minimax")["mean"]["loss"]  # a minimax player never loses
    0.0
    """
    one_of("expected_outcome", "opponent", opponent, ("random",))
    one_of("expected_outcome", "objective", objective, ("win", "score"))
    M = 1
    moves = None
    if isinstance(player, str):
        one_of("expected_outcome", "player", player, _POLICIES)
        if members is not None:
            raise ValueError("expected_outcome: members= is for a callable player")
    elif callable(player):
        M = 1 if members is None else positive_int("expected_outcome", "members", members)
        moves = _player_moves(player, M)
    else:
        raise TypeError(f"expected_outcome: player must be a player callable or one of "
                        f"{', '.join(_POLICIES)}; got {type(player).__name__}")
    out = {}
    for name, role in (("x", 1), ("o", -1)):
        mv = None if moves is None else {k: v for k, v in moves.items() if
                                          (1 if k % 2 == 0 else -1) == role}
        values, _ = _solve(player if moves is None else None, role, objective, mv, M)
        v = values[0][0]  # the empty board: (M, 3)
        out[name] = v
    out["mean"] = (out["x"] + out["o"]) / 2.0

    def pack(v):
        if members is None:
            return {"win": float(v[0, 0]), "draw": float(v[0, 1]), "loss": float(v[0, 2])}
        return {"win": v[:, 0].copy(), "draw": v[:, 1].copy(), "loss": v[:, 2].copy()}

    return {k: pack(v) for k, v in out.items()}


@functools.lru_cache(maxsize=4)
def _expectimax_table(policy, objective):
    """``(3**9, 9)``: the objective value of every move under the best response to random."""
    table = np.full((3 ** 9, 9), -np.inf)
    levels = game_tree()
    for role in (1, -1):
        _, move_values = _solve(policy, role, objective)
        for k, mv in enumerate(move_values):
            if mv is not None:
                live, score = mv
                c = codes(levels[k]["boards"][live])
                table[c] = score[:, :, 0]
    if policy == "minimax_expectimax":  # never a move that gives the game away
        mm = minimax_table()
        table = np.where(mm >= mm.max(axis=1, keepdims=True), table, -np.inf)
    table.setflags(write=False)
    return table


def expectimax_player(objective="win", never_lose=False, rng=None):
    """The best response to the random player (measurement only).

    Each move maximises ``objective`` (``"win"``: the probability of winning;
    ``"score"``: ``P(win) - P(loss)``) over the rest of the game against a
    uniformly random opponent; equally good moves are chosen between at
    random. With ``never_lose`` only minimax-optimal moves are considered
    (minimax with an expectimax tie-break). :func:`expected_outcome` gives its
    exact results (``"expectimax"``, ``"minimax_expectimax"``).

    Examples
    --------
    >>> r = TicTacToe().versus(expectimax_player(rng=0), random_player(1), 400)
    >>> r["win"] > 0.9
    True
    """
    rng = resolve_rng(rng)
    table = _expectimax_table("minimax_expectimax" if never_lose else "expectimax",
                              one_of("expectimax_player", "objective", objective,
                                     ("win", "score")))

    def play(boards, who):
        b = np.asarray(boards)
        o_to_move = (b != 0).sum(axis=1) % 2 == 1
        real = np.where(o_to_move[:, None], -b, b)
        return np.round(table[codes(real)], 9) + 1e-10 * rng.random((len(b), 9))

    return play


def _members_forward(network, index, X):
    """Row ``g`` of ``X`` through member ``index[g]``: the rows are grouped by member into a
    ``(members, rows, features)`` batch (padded to the largest group), so each member's
    weights are used once, not copied once per game."""
    members, group = np.unique(index, return_inverse=True)
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(index)) - np.repeat(starts, counts)  # place within its group
    batch = np.zeros((len(members), counts.max(), X.shape[1]))
    batch[group[order], slot] = X[order]
    out = np.asarray(network.take(members)(batch))
    result = np.empty((len(index), out.shape[2]))
    result[order] = out[group[order], slot]
    return result


_INCIDENCE = np.zeros((9, 8))  # cell c lies on line l
_INCIDENCE[LINES.ravel(), np.repeat(np.arange(8), 3)] = 1.0
_CELL_KIND = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1],
                       [1, 0, 0], [0, 0, 1], [1, 0, 0]], dtype=np.float64)  # corner/centre/edge
LINE_KINDS = ((0, 0), (1, 0), (2, 0), (0, 1), (0, 2), (1, 1))


def line_features(boards):
    """``(k, 9, 9)`` float: for every cell, what the lines through it hold, and its kind.

    Features ``0..5`` of cell ``c`` count the lines through ``c`` holding
    (own marks, opponent's marks) = (0, 0), (1, 0), (2, 0), (0, 1), (0, 2),
    (1, 1) (for an empty cell these are the line's other two cells; a corner
    lies on 3 lines, the centre on 4, an edge on 2); features ``6..8`` say
    whether ``c`` is a corner, the centre or an edge. Boards are seen by the
    mover (``+1`` own marks). A network scoring one cell from its 9 features,
    shared by all cells (an n-tuple-like encoding), sees the board's lines
    directly and treats symmetric positions alike by construction.

    Examples
    --------
    >>> f = line_features(np.array([[1, 1, 0, -1, -1, 0, 0, 0, 0]]))
    >>> f[0, 2, :6].tolist()  # cell 2: its row (2 own), column (empty), diagonal (1 opponent's)
    [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    >>> float(f[0, 5, 4])  # cell 5 completes the opponent's row
    1.0
    """
    b = np.asarray(boards)
    own = (b == 1)[:, LINES].sum(axis=2)  # (k, 8)
    opp = (b == -1)[:, LINES].sum(axis=2)
    onehot = np.stack([(own == a) & (opp == c) for a, c in LINE_KINDS], axis=2)  # (k, 8, 6)
    counts = np.einsum("cl,klj->kcj", _INCIDENCE, onehot.astype(np.float64))
    kind = np.broadcast_to(_CELL_KIND, (len(b), 9, 3))
    return np.concatenate([counts, kind], axis=2)


ENCODINGS = ("marks", "lines")


def network_player(network, symmetric=False, encoding="marks"):
    """A player from a population network (``take(index)`` and ``step(obs) -> (k, 9)``).

    Member ``who[g]`` of the population plays game ``g``; ``who=None`` means
    member 0 plays every game.

    * ``encoding="marks"``: the network reads :meth:`TicTacToe.features` (18
      inputs) and its 9 outputs score the cells. With ``symmetric`` the
      network sees the board under each of its 8 rotations and reflections
      and each cell's score is the mean of its 8 scores mapped back, so the
      player treats symmetric positions alike (what it learns in one corner
      holds in all).
    * ``encoding="lines"``: the network (9 inputs, 1 output) scores each cell
      from that cell's :func:`line_features`, the same weights for every cell
      (symmetric by construction; ``symmetric`` changes nothing).
    """
    one_of("network_player", "encoding", encoding, ENCODINGS)

    def play(boards, who):
        boards = np.asarray(boards)
        k = len(boards)
        index = np.zeros(k, dtype=np.int64) if who is None else np.asarray(who)
        if encoding == "lines":
            X = line_features(boards).reshape(k * 9, 9)
            out = _members_forward(network, np.repeat(index, 9), X)
            if out.shape[1] != 1:  # one score per cell; a reshape would fail on k * 9 * width
                raise ValueError(f"network_player: with encoding='lines' the network scores "
                                 f"one cell at a time (9 inputs, 1 output); it gave "
                                 f"{out.shape[1]} outputs")
            return out.reshape(k, 9)
        if not symmetric:
            return _members_forward(network, index, TicTacToe.features(boards))
        views = boards[:, SYMMETRIES].transpose(1, 0, 2).reshape(-1, 9)  # (8 k, 9)
        out = _members_forward(network, np.tile(index, 8), TicTacToe.features(views))
        out = out.reshape(8, k, 9)
        return np.mean([out[s][:, _INVERSE[s]] for s in range(8)], axis=0)

    return play


class TicTacToe:
    """Tic-tac-toe on ``(n_games, 9)`` boards, every game advanced one move per array step.

    Parameters
    ----------
    noise : float, default 0.0
        Probability that any move is replaced by a uniformly random legal one.
    openings : int, default 0
        Each game starts with a random number, from 0 to ``openings`` (at most
        4), of uniformly random moves.
    symmetric : bool, default False
        :meth:`player` makes symmetric players (see :func:`network_player`).
    encoding : {"marks", "lines"}
        How :meth:`player` networks read the board (see :func:`network_player`):
        the 18 marks, scored for 9 cells at once, or each cell's
        :func:`line_features` (9 inputs, 1 output, weights shared by the cells).
    rng : numpy.random.Generator or int, optional
        Draws the noise and the openings (of the calls to :meth:`play` and
        :meth:`versus` not given their own ``rng``).

    Both make games between deterministic players varied: coevolving
    players then meet many positions, not only the lines their population
    plays. Measure with the default, noiseless game.

    Attributes
    ----------
    n_inputs, n_outputs : int
        18 (own marks, opponent's marks, seen by the player to move) and 9 (a
        score per cell), the shape of a network playing through
        :func:`network_player`; with ``encoding="lines"`` 9 and 1 (one cell's
        features, its score).

    Examples
    --------
    >>> game = TicTacToe()
    >>> r = game.play(random_player(0), perfect_player(0), n_games=200)
    >>> int((r == 1).sum())  # X (random) never beats the perfect O
    0
    """

    def __init__(self, noise=0.0, openings=0, symmetric=False, encoding="marks", rng=None):
        self.symmetric = boolean("TicTacToe", "symmetric", symmetric)
        self.encoding = one_of("TicTacToe", "encoding", encoding, ENCODINGS)
        self.n_inputs, self.n_outputs = (18, 9) if encoding == "marks" else (9, 1)
        self.noise = unit_interval("TicTacToe", "noise", noise, closed_high=True)
        self.openings = positive_int("TicTacToe", "openings", openings, allow_zero=True)
        if self.openings > 4:
            raise ValueError(f"TicTacToe: openings must be at most 4 (a random opening "
                             f"never ends a game); got {openings}")
        self.rng = resolve_rng(rng)

    @staticmethod
    def features(boards):
        """``(k, 18)`` float: the mover's marks, then the opponent's (boards seen by the mover)."""
        b = np.asarray(boards)
        return np.concatenate([(b == 1), (b == -1)], axis=1).astype(np.float64)

    def player(self, network):
        """A player of a population network (see :func:`network_player`)."""
        return network_player(network, self.symmetric, self.encoding)

    def play(self, x, o, n_games=None, who_x=None, who_o=None, rng=None):
        """Play games to the end; X moves first.

        Parameters
        ----------
        x, o : callable
            Players (see the module docstring).
        n_games : int, optional
            Default: the length of ``who_x`` (or ``who_o``); 0 plays nothing.
        who_x, who_o : array of int (n_games,), optional
            Which member of each player's set plays each game.
        rng : numpy.random.Generator or int, optional
            Draws this call's noise and openings (the game's :attr:`rng` when
            not given); the players draw from their own generators.

        Returns
        -------
        ndarray (n_games,) of int
            ``+1`` X won, ``-1`` O won, ``0`` draw.
        """
        if n_games is None:
            ref = who_x if who_x is not None else who_o
            if ref is None:
                raise ValueError("TicTacToe.play: give n_games or who_x/who_o")
            n_games = len(ref)
        n_games = positive_int("TicTacToe.play", "n_games", n_games, allow_zero=True)
        rng = self.rng if rng is None else resolve_rng(rng)
        for name, who in (("who_x", who_x), ("who_o", who_o)):
            if who is not None and len(who) != n_games:
                raise ValueError(f"TicTacToe.play: {name} must have n_games={n_games} "
                                 f"entries; got {len(who)}")
        boards = np.zeros((n_games, 9), dtype=np.int8)
        result = np.zeros(n_games, dtype=np.int64)
        live = np.arange(n_games)
        opening = (rng.integers(0, self.openings + 1, n_games) if self.openings
                   else np.zeros(n_games, dtype=np.int64))
        for ply in range(9):
            if live.size == 0:  # every game won (or none to play): no player is asked
                break
            mover = 1 if ply % 2 == 0 else -1
            player, who = (x, who_x) if mover == 1 else (o, who_o)
            view = boards[live] * np.int8(mover)
            scores = np.asarray(player(view, None if who is None else np.asarray(who)[live]),
                                dtype=np.float64)
            if scores.shape != (len(live), 9):
                raise ValueError(f"TicTacToe.play: a player must return scores of shape "
                                 f"({len(live)}, 9); got {scores.shape}")
            scores = np.where(view == 0, np.nan_to_num(scores, nan=-1e300), -np.inf)
            move = np.argmax(scores, axis=1)
            if self.noise or self.openings:
                explore = (rng.random(len(live)) < self.noise) | (ply < opening[live])
                if explore.any():
                    free = np.where(view[explore] == 0, rng.random((explore.sum(), 9)), -1)
                    move[explore] = np.argmax(free, axis=1)
            boards[live, move] = mover
            won = winner(boards[live]) == mover
            result[live[won]] = mover
            live = live[~won]
        return result

    def versus(self, player, opponent, n_games=1000, rng=None):
        """Win, draw and loss rates of ``player`` against ``opponent``, half the games as X.

        Returns a dict ``{"win", "draw", "loss"}`` of fractions (``player``
        plays X in the first ``n_games // 2`` games and O in the rest, so a
        single game is played as O). ``rng`` draws the noise and openings of
        both halves (see :meth:`play`).
        """
        n_games = positive_int("TicTacToe.versus", "n_games", n_games)
        rng = None if rng is None else resolve_rng(rng)  # one stream for both halves
        half = n_games // 2
        as_x = self.play(player, opponent, half, rng=rng)
        as_o = -self.play(opponent, player, n_games - half, rng=rng)
        r = np.concatenate([as_x, as_o])
        return {"win": float((r == 1).mean()), "draw": float((r == 0).mean()),
                "loss": float((r == -1).mean())}
