"""The scale benchmark's whole-run mode (NEAT on double pole to solution, issue 21) gives
the same run on one worker, two workers and in this process (a tiny budget: 2 generations)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
scale = pytest.importorskip("benchmarks.workloads.scale")


def test_whole_runs_are_the_same_on_1_and_2_workers():
    pytest.importorskip("psutil")
    out = scale.neat_to_solution(quick=True, rounds=1, seeds=[1],
                                 setups=[("vector", 75), ("genome", 32)],
                                 kinds=["local1", "local2", "serial"], generations=2)
    for name in ("vector75", "genome32"):
        runs = out["setups"][name]["runs"]
        first = runs["local1"][0]
        assert first["generations"] == 2 and first["evaluations"] == 300
        for kind in ("local2", "serial"):  # checked inside too: a different run raises
            assert scale._same_run(runs[kind][0], first)
            assert runs[kind][0]["same_as_first"]
        assert set(runs["local2"][0]["cpu_seconds"]) >= {"client", "worker0", "worker1"}
        serial = runs["serial"][0]
        assert serial["tasks_per_generation"] == [2, 2] if name == "vector75" else [4, 4]
        assert 1.0 <= serial["two_worker_bound"] <= 2.0
    assert out["setups"]["vector75"]["local2_vs_local1"] > 0


def test_a_changed_run_is_caught():
    a = {"generations": 3, "evaluations": 450, "solved": False, "best_fitness": 90.0,
         "champion": "{}", "history": {"best": [1.0, 2.0, 90.0]}}
    assert scale._same_run(a, dict(a))
    assert not scale._same_run(a, dict(a, history={"best": [1.0, 2.0, 91.0]}))
