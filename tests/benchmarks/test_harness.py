"""The benchmark harness's bookkeeping (no timings are asserted: benchmarks are not tests)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

run = pytest.importorskip("benchmarks.run")


def _workload(calls, fail=None, **extra):
    def impl(name):
        def fn():
            calls.append(name)
            if name == fail:
                raise RuntimeError("broken")
        return fn

    w = {"name": "dummy", "unit": "samples/s", "work": 10.0, "rosenblatt": impl("rb"),
         "references": {"pytorch": impl("torch"), "sklearn": None}}
    w.update(extra)
    return w


def test_alternates_after_warm_up_and_skips_missing_references():
    calls = []
    result = run.run_workload(_workload(calls), repeats=3)
    assert calls == ["rb", "torch"] * 4  # one warm-up round, then three alternating rounds
    assert len(result["rosenblatt"]["times_s"]) == 3
    assert result["references"]["sklearn"] == {"skipped": "not installed or no equivalent"}
    torch = result["references"]["pytorch"]
    pairs = [t / r for r, t in zip(result["rosenblatt"]["times_s"], torch["times_s"])]
    assert torch["ratio"] == pytest.approx(sorted(pairs)[1])  # the median of the 3 pairs
    assert (torch["ratio_min"], torch["ratio_max"]) == (min(pairs), max(pairs))


def test_a_failing_reference_is_reported_and_the_rest_still_run():
    calls = []
    result = run.run_workload(_workload(calls, fail="torch"), repeats=2)
    assert "broken" in result["references"]["pytorch"]["error"]
    assert len(result["rosenblatt"]["times_s"]) == 2


def test_a_failing_rosenblatt_gives_an_error_row():
    result = run.run_workload(_workload([], fail="rb"), repeats=2)
    assert "broken" in result["error"]
    assert run.judge({}, result, []) is None
    assert any("ERROR" in line for line in run.table([result]))


def test_rates_and_ratios_in_throughput_terms():
    fast, slow = run._summary([1.0, 2.0, 4.0], 100, "samples/s"), run._summary([4.0], 100,
                                                                               "samples/s")
    assert (fast["value"], fast["min"], fast["max"]) == (50.0, 25.0, 100.0)
    assert run._throughput_ratio(fast, slow) == (4.0, 4.0, 4.0)  # paired with the first round


def test_ratios_pair_the_rounds_so_that_a_drifting_machine_cancels_out():
    # the machine halves its speed after round 2: each round's pair still says 2x
    rb = run._summary([1.0, 1.0, 2.0, 2.0, 2.0], 100, "samples/s")
    ref = run._summary([2.0, 2.0, 4.0, 4.0, 4.0], 100, "samples/s")
    assert run._throughput_ratio(rb, ref) == (2.0, 2.0, 2.0)
    per_op = run._summary([1e-6, 3e-6], 1, "us/op")  # lower is better
    assert per_op["value"] == pytest.approx(2.0) and per_op["min"] == pytest.approx(1.0)


def test_target_ratio_and_custom_check():
    result = {"references": {"pytorch": {"ratio": 1.3}, "sklearn": {"ratio": 1.1}}}
    assert run.judge({"target_ratio": {"pytorch": 1.2}}, result, []) is True
    assert run.judge({"target_ratio": {"pytorch": 1.2, "sklearn": 1.2}}, result, []) is False
    assert run.judge({"check": lambda r, rs: None}, result, []) is None
    assert run.judge({}, result, []) is None


def test_workload_validation_names_the_problem():
    with pytest.raises(ValueError, match="unit must be one of"):
        run._validate({"name": "x", "unit": "fps", "work": 1, "rosenblatt": None}, "mod")
    with pytest.raises(ValueError, match="lacks"):
        run._validate({"name": "x"}, "mod")


def test_machine_info_records_versions_and_threads():
    info = run.machine_info()
    assert info["versions"]["numpy"] and info["cores"] >= 1
    assert info["threads"]["numpy_blas"] >= 1


def test_gemm_peak_uses_the_timer_it_is_given():
    # --timer cpu must time the peak on CPU time too, or "% of peak" mixes two clocks
    ticks = iter(range(100))
    calls = []

    def fake_timer():
        calls.append(1)
        return float(next(ticks))  # every product "takes" exactly 1 s

    peak = run.gemm_peak(n=8, repeats=3, timer=fake_timer)
    assert len(calls) == 6
    assert peak == pytest.approx(2.0 * 8**3 / 1e9)


def test_products_are_timed_in_the_layers_layouts():
    products = pytest.importorskip("benchmarks.products")
    pytest.importorskip("threadpoolctl")
    import numpy as np

    rng = np.random.default_rng(0)
    for name, a_shape, b_shape, a_t, b_t, _ in products.MLP + products.LSTM:
        a, b = products._operands(rng, a_shape, b_shape, a_t, b_t)
        assert (a.shape, b.shape) == (a_shape, b_shape), name
        assert (a.flags.f_contiguous and not a.flags.c_contiguous) == a_t, name  # a view
        assert (b.flags.f_contiguous and not b.flags.c_contiguous) == b_t, name
    shapes = products.MLP[3:4] + products.LSTM[:1]
    rows = products.measure(threads=1, rounds=2, calls=1, shapes=shapes)
    assert [(row[0], row[3]) for row in rows] == [("dW1: x^T g", 1), ("LSTM step: h W_h", 50)]
    assert all(row[1] > 0 and (row[2] is None or row[2] > 0) for row in rows)


def test_an_isolated_run_pairs_the_rounds_measured_elsewhere():
    """``measure`` replaces the in-process timing (no warm-up round here: each process warms
    itself up); the ratios pair the rounds as before."""
    calls = []
    times = {"rb": iter([2.0, 4.0, 2.0]), "torch": iter([3.0, 4.0, 8.0])}

    def measure(name):
        calls.append(name)
        return next(times["rb" if name == "rosenblatt" else "torch"])

    result = run.run_workload(_workload([]), repeats=3, measure=measure)
    assert calls == ["rosenblatt", "pytorch"] * 3
    torch = result["references"]["pytorch"]
    assert (torch["ratio"], torch["ratio_min"], torch["ratio_max"]) == (1.5, 1.0, 4.0)


def test_time_one_times_a_workload_in_its_own_process():
    """The child's side of --isolate, through a real process: a quick workload's
    implementation, warmed up, then timed."""
    import json
    import subprocess

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--threads", "1",
                           "--time-one", "op_overhead:0:rosenblatt"], cwd=root,
                          capture_output=True, text=True, check=True)
    times = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(times) == run.ISOLATED_CALLS and all(t > 0 for t in times)
    measure = run.isolated("op_overhead", 0, _run_args(quick=True, threads=1))
    assert measure("numpy") > 0


def _run_args(**kw):
    """The parsed arguments ``isolated`` reads, with ``kw`` set."""
    import argparse

    return argparse.Namespace(**{"timer": "wall", "quick": False, "threads": None, **kw})


def test_bad_arguments_fail_before_anything_is_timed(tmp_path):
    """--only naming nothing, --repeats below 1 and an unwritable --json stop at once (exit 2)
    instead of timing for minutes and then printing nothing or losing the results."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    blocker = tmp_path / "afile"
    blocker.write_text("")
    for argv, message in ((["--only", "zzz-no-such-workload"], "names no module or workload"),
                          (["--repeats", "0"], "--repeats must be a positive integer"),
                          (["--only", "xor", "--json", str(blocker / "x.json")],
                           "cannot write there")):
        done = subprocess.run([sys.executable, "-m", "benchmarks.run", *argv], cwd=root,
                              capture_output=True, text=True)
        assert done.returncode == 2 and message in done.stderr, done.stderr[-500:]
        assert "GEMM peak" not in done.stdout
