"""Measure the coevolution claim: players coevolved at tic-tac-toe against each other only.

``python -m benchmarks.coevolution_tictactoe [--generations 300] [--seeds 0 1 2]``

One CNE population over an ``18 -> hidden -> 9`` policy network (symmetric
players) coevolves with shared sampling and a hall of fame, in training games
with random openings (0-4 random moves) and 10% random moves. Every
``--every`` generations the champion is measured, outside the run, against
the random player and the perfect (minimax) player in the plain game; the
coevolution never sees either. Prints one line per checkpoint and a summary
over seeds. Not part of the timed benchmarks (``benchmarks/run.py``).
"""

import argparse
import time

import numpy as np

import rosenblatt as rb

ttt = rb.evolution.envs


def measure(net, theta, symmetric, games=2000, seed=0):
    player = ttt.network_player(rb.evolution.PopulationModel(net, theta[None]), symmetric)
    game = ttt.TicTacToe()
    vs_random = game.versus(player, ttt.random_player(seed + 1), games)
    vs_perfect = game.versus(player, ttt.perfect_player(seed + 2), 400)
    return vs_random, vs_perfect


def coevolve(seed, generations, every, hidden=20, population=100, noise=0.1, openings=4,
             sample=10,
             hall_of_fame=10, symmetric=True, quiet=False):
    rng = np.random.default_rng(seed)
    net = rb.nn.Sequential(rb.nn.Dense(18, hidden, rng=rng), rb.nn.Tanh(),
                           rb.nn.Dense(hidden, 9, rng=rng)).astype(np.float64)
    cne = rb.evolution.CNE(net, population=population, mutation_std=0.3, init_std=0.5,
                           rng=seed)
    coev = rb.evolution.Coevolution(
        cne, game=ttt.TicTacToe(noise=noise, openings=openings, symmetric=symmetric,
                                rng=seed), sample=sample,
        hall_of_fame=hall_of_fame, fitness_sharing=False, rng=seed)
    rows, start = [], time.perf_counter()

    def checkpoint(state):
        g = state["generation"] + 1
        if g % every == 0 or g == generations:
            r, p = measure(net, np.asarray(state["champion"]), symmetric, seed=seed)
            rows.append((g, r, p))
            if not quiet:
                print(f"seed {seed} gen {g:4d}: vs random win {r['win']:.3f} draw "
                      f"{r['draw']:.3f} loss {r['loss']:.3f} | vs perfect draw {p['draw']:.3f}"
                      f" loss {p['loss']:.3f} ({time.perf_counter() - start:.0f} s)",
                      flush=True)

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
    args = parser.parse_args(argv)
    finals = []
    for seed in args.seeds:
        rows = coevolve(seed, args.generations, args.every, hidden=args.hidden,
                        noise=args.noise, openings=args.openings)
        finals.append(rows[-1])
    win = [r["win"] for _, r, _ in finals]
    loss = [r["loss"] for _, r, _ in finals]
    draw_perfect = [p["draw"] for _, _, p in finals]
    print(f"final champions over {len(finals)} seeds: vs random win median "
          f"{np.median(win):.3f} (min {min(win):.3f}), loss median {np.median(loss):.3f}; "
          f"vs perfect draw median {np.median(draw_perfect):.3f}")


if __name__ == "__main__":
    main()
