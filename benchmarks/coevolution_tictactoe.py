"""Measure the coevolution claim: players coevolved at tic-tac-toe against each other only.

``python -m benchmarks.coevolution_tictactoe [--generations 300] [--seeds 0 1 2]
[--encoding marks|lines] [--hidden H] [--weak K] [--draw D]``

One CNE population coevolves with shared sampling and a hall of fame, in
training games with random openings (0-4 random moves) and 10% random moves.
The players are networks reading the board as its 18 marks (``--encoding
marks``: ``18 -> hidden -> 9``, symmetric players) or as each cell's line
features (``--encoding lines``: ``9 -> hidden -> 1`` applied to every cell,
``--hidden 0`` a linear scorer; :func:`rb.evolution.envs.games.line_features`).
Every ``--every`` generations the champion is measured, outside the run,
against the random player (exactly, over the whole game tree,
:func:`rb.evolution.envs.expected_outcome`, and by 2,000 played games) and the
perfect (minimax) player in the plain game; the coevolution never sees either.
Prints one line per checkpoint and a summary over seeds. Not part of the
timed benchmarks (``benchmarks/run.py``).
"""

import argparse
import time

import numpy as np

import rosenblatt as rb

ttt = rb.evolution.envs


def _net(encoding, hidden, rng):
    n_in, n_out = (18, 9) if encoding == "marks" else (9, 1)
    if not hidden:
        return rb.nn.Sequential(rb.nn.Dense(n_in, n_out, rng=rng)).astype(np.float64)
    return rb.nn.Sequential(rb.nn.Dense(n_in, hidden, rng=rng), rb.nn.Tanh(),
                            rb.nn.Dense(hidden, n_out, rng=rng)).astype(np.float64)


def measure(net, theta, symmetric, games=2000, seed=0, encoding="marks"):
    player = ttt.network_player(rb.evolution.PopulationModel(net, theta[None]), symmetric,
                                encoding)
    game = ttt.TicTacToe()
    vs_random = game.versus(player, ttt.random_player(seed + 1), games)
    vs_perfect = game.versus(player, ttt.perfect_player(seed + 2), 400)
    exact = ttt.expected_outcome(player)
    return vs_random, vs_perfect, exact


def coevolve(seed, generations, every, hidden=20, population=100, noise=0.1, openings=4,
             sample=10, hall_of_fame=10, symmetric=True, encoding="marks", weak=0, draw=0.5,
             quiet=False):
    rng = np.random.default_rng(seed)
    net = _net(encoding, hidden, rng)
    cne = rb.evolution.CNE(net, population=population, mutation_std=0.3, init_std=0.5,
                           rng=seed)
    first = ttt.expected_outcome(ttt.network_player(
        rb.evolution.PopulationModel(net, cne.thetas), symmetric, encoding), members=population)
    if not quiet:
        print(f"seed {seed} gen    0: population's exact wins vs random: median "
              f"{np.median(first['mean']['win']):.3f}, best {first['mean']['win'].max():.3f}",
              flush=True)
    coev = rb.evolution.Coevolution(
        cne, game=ttt.TicTacToe(noise=noise, openings=openings, symmetric=symmetric,
                                encoding=encoding, rng=seed), sample=sample,
        hall_of_fame=hall_of_fame, fitness_sharing=False, weak=weak, draw=draw, rng=seed)
    rows, start = [], time.perf_counter()

    def checkpoint(state):
        g = state["generation"] + 1
        if g % every == 0 or g == generations:
            r, p, e = measure(net, np.asarray(state["champion"]), symmetric, seed=seed,
                              encoding=encoding)
            rows.append((g, r, p, e))
            if not quiet:
                print(f"seed {seed} gen {g:4d}: vs random win {r['win']:.3f} draw "
                      f"{r['draw']:.3f} loss {r['loss']:.3f} (exact: win {e['mean']['win']:.4f}"
                      f", as X {e['x']['win']:.4f}, as O {e['o']['win']:.4f}, loss "
                      f"{e['mean']['loss']:.4f}) | vs perfect draw {p['draw']:.3f} loss "
                      f"{p['loss']:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)

    coev.run(generations, callbacks=[checkpoint])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hidden", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--openings", type=int, default=4)
    parser.add_argument("--encoding", choices=("marks", "lines"), default="marks")
    parser.add_argument("--weak", type=int, default=0)
    parser.add_argument("--draw", type=float, default=0.5)
    parser.add_argument("--population", type=int, default=100)
    args = parser.parse_args(argv)
    for flag in ("generations", "every", "population"):  # (--every 0: "modulo by zero" mid-run)
        if getattr(args, flag) < 1:
            parser.error(f"--{flag} must be a positive integer; got {getattr(args, flag)}")
    finals = []
    for seed in args.seeds:
        rows = coevolve(seed, args.generations, args.every, hidden=args.hidden,
                        population=args.population, noise=args.noise, openings=args.openings,
                        encoding=args.encoding, weak=args.weak, draw=args.draw)
        finals.append(rows[-1])
    win = [r["win"] for _, r, _, _ in finals]
    loss = [r["loss"] for _, r, _, _ in finals]
    exact = [e["mean"]["win"] for _, _, _, e in finals]
    draw_perfect = [p["draw"] for _, _, p, _ in finals]
    print(f"final champions over {len(finals)} seeds: vs random (2,000 games) win median "
          f"{np.median(win):.3f} (min {min(win):.3f}, max {max(win):.3f}), loss median "
          f"{np.median(loss):.3f}; exact win median {np.median(exact):.4f} (min "
          f"{min(exact):.4f}, max {max(exact):.4f}); vs perfect draw median "
          f"{np.median(draw_perfect):.3f}")


if __name__ == "__main__":
    main()
