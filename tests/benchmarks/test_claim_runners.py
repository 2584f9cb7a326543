"""The claim runners' seeded runs through an executor give the serial rows (tiny budgets).

Timed workloads never run in parallel; ``benchmarks.run --workers`` without ``--claims``
says so.
"""

import sys
from pathlib import Path

import pytest

import rosenblatt as rb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

claims = pytest.importorskip("benchmarks.claims")
run = pytest.importorskip("benchmarks.run")


def test_seeded_runs_are_the_same_serially_and_in_a_pool():
    from benchmarks import cosyne_claims
    from benchmarks.workloads import neat, nsga2

    xor = neat.xor_runs([0, 1], generations=55)
    assert xor[1][1] is not None  # seed 1 solves XOR: the rows are not trivially equal
    markov = [cosyne_claims.run_markov(s, max_evaluations=80, population=20) for s in range(2)]
    zdt = nsga2.claims(2, 5, names=("ZDT1",), with_pymoo=False)
    with rb.parallel.local(2) as pool:
        assert neat.xor_runs([0, 1], generations=55, executor=pool) == xor
        assert claims.by_seed("benchmarks.cosyne_claims", "run_markov", range(2), pool,
                              max_evaluations=80, population=20) == markov
        parallel = nsga2.claims(2, 5, names=("ZDT1",), with_pymoo=False, executor=pool)
    keys = ("upsilon", "delta", "igd")
    assert [parallel["ZDT1"][k] for k in keys] == [zdt["ZDT1"][k] for k in keys]


def test_run_parallelises_claims_only(capsys):
    with pytest.raises(SystemExit):
        run.main(["--workers", "2"])
    assert "timed workloads run one at a time" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.main(["--claims", "neat-sudoku"])
    assert "no runner 'neat-sudoku'" in capsys.readouterr().err
