"""The harness's verdicts and command line (audit s6/a7): a target is "met" only when every
part of it was judged, and ``--only``/``--list``/``--threads`` mean the same in every mode."""

import io
import sys
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

run = pytest.importorskip("benchmarks.run")
common = pytest.importorskip("benchmarks.common")


# -- verdicts ------------------------------------------------------------------------------------

def test_a_reference_without_a_ratio_leaves_its_half_of_the_target_unjudged():
    w = {"target_ratio": {"pytorch": 1.5, "sklearn": 1.2}}
    failed = {"references": {"pytorch": {"ratio": 1.6}, "sklearn": {"error": "RuntimeError"}}}
    assert run.judge(w, failed, []) is None
    short = {"references": {"pytorch": {"ratio": 1.0}, "sklearn": {"error": "RuntimeError"}}}
    assert run.judge(w, short, []) is False  # a measured miss is a miss whatever the rest
    assert run.judge(w, {"references": {"pytorch": {"ratio": 1.6}}}, []) is None


def test_the_flat_optimizer_check_does_not_count_a_missing_ratio_as_met():
    optimizer_layers = pytest.importorskip("benchmarks.workloads.optimizer_layers")
    check = optimizer_layers._flat_check("two", {"pytorch": 1.0})
    base = {"name": "two", "rosenblatt": {"median_s": 1.0}}
    result = {"rosenblatt": {"median_s": 1.1}, "references": {"pytorch": {"error": "x"}}}
    assert check(result, [base]) is None
    result["references"]["pytorch"] = {"ratio": 1.2}
    assert check(result, [base]) is True
    result["rosenblatt"]["median_s"] = 2.0  # 2x the 2-layer step: not flat, whatever the ratio
    assert check(result, [base]) is False


def test_the_peak_fraction_target_is_judged_once_the_peak_is_known():
    w = {"target_ratio": {"pytorch": 1.5}, "target_peak_fraction": 0.65}
    result = {"references": {"pytorch": {"ratio": 1.6}}, "met": True, "peak_fraction": 0.10}
    assert run.judge_peak(w, result) is False
    result["peak_fraction"] = 0.70
    assert run.judge_peak(w, result) is True
    assert run.judge_peak({}, {"met": True}) is True  # no peak target: judge's verdict stands
    assert run.judge_peak(w, {"met": True}) is None  # no fraction measured: not judged


def test_the_mlp_row_that_prints_the_65_percent_target_declares_it():
    mlp = pytest.importorskip("benchmarks.workloads.mlp")
    row = mlp.threads_row(lambda: None, lambda: None, lambda: None, 128)
    assert row["target_peak_fraction"] == 0.65 and "65%" in row["target"]


def _runner(*found):
    return SimpleNamespace(found=list(found))


def test_branin_is_judged_against_skopt_as_its_target_says():
    tuning = pytest.importorskip("benchmarks.workloads.tuning")
    ours = _runner(0.400)
    refs = {"skopt": _runner(0.420), "optuna": _runner(0.398)}
    result = {"notes": ""}
    assert tuning.branin_check(ours, refs)(result, []) is True
    assert "optuna 0.3980" in result["notes"]  # Optuna's value is shown, not judged
    refs["skopt"].found[:] = [0.380]
    assert tuning.branin_check(ours, refs)(result, []) is False
    assert tuning.branin_check(ours, {"skopt": None})(result, []) is None


def test_branin_under_isolate_says_the_quality_was_not_measured():
    tuning = pytest.importorskip("benchmarks.workloads.tuning")
    result = {"notes": ""}
    assert tuning.branin_check(_runner(), {"skopt": _runner()})(result, []) is None
    assert "--isolate" in result["notes"] and "0..-1" not in result["notes"]


def test_sparse_coding_is_met_only_when_the_objective_was_reached():
    autoencoder = pytest.importorskip("benchmarks.workloads.autoencoder")
    fast = {"references": {"sklearn": {"ratio": 3.0}}}
    assert autoencoder.sparse_check(False)(fast, []) is False
    assert autoencoder.sparse_check(True)(fast, []) is True
    assert autoencoder.sparse_check(True)({"references": {"sklearn": {"ratio": 1.5}}}, []) is False
    assert autoencoder.sparse_check(None)(fast, []) is None


def test_the_rbm_target_states_its_tolerance():
    rbm = pytest.importorskip("benchmarks.workloads.rbm")
    assert "0.5 nats" in rbm.CD1_TARGET


# -- the command line ----------------------------------------------------------------------------

def _module(*names, full_only=()):
    """A stand-in workload module: ``names`` in both modes, ``full_only`` without --quick."""
    def workloads(quick):
        rows = list(names) + ([] if quick else list(full_only))
        return [{"name": n, "unit": "samples/s", "work": 1, "rosenblatt": lambda: None}
                for n in rows]
    return SimpleNamespace(workloads=workloads)


MODULES = [("neat", _module("neat xor genome evaluations", "neat xor whole generations",
                            full_only=["neat double pole with velocities: whole run"])),
           ("xor", _module("xor 2-8-1 tanh"))]


@pytest.fixture
def stubbed(monkeypatch, tmp_path):
    """``main`` over MODULES with nothing timed; returns (run main, names of the rows run)."""
    ran = []

    def fake_run(w, repeats, timer=None, measure=None):
        ran.append(w["name"])
        return {"name": w["name"], "error": "stub (not timed)"}

    monkeypatch.setattr(run, "discover", lambda only=None: MODULES)
    monkeypatch.setattr(run, "gemm_peak", lambda **kw: 1.0)
    monkeypatch.setattr(run, "run_workload", fake_run)

    def main(*argv):
        ran.clear()
        with redirect_stdout(io.StringIO()) as out:
            run.main([*argv, "--json", str(tmp_path / "r.json")])
        return list(ran), out.getvalue()

    return main


def test_a_token_selects_the_same_rows_whatever_the_other_tokens(stubbed):
    assert stubbed("--quick", "--only", "xor")[0] == ["xor 2-8-1 tanh"]
    assert stubbed("--quick", "--only", "xor,genome")[0] == ["neat xor genome evaluations",
                                                             "xor 2-8-1 tanh"]


def test_only_accepts_a_full_mode_workload_name(stubbed):
    ran, _ = stubbed("--only", "with velocities: whole run")
    assert ran == ["neat double pole with velocities: whole run"]
    with pytest.raises(SystemExit):  # that row does not exist with --quick
        stubbed("--quick", "--only", "with velocities: whole run")


def test_list_shows_the_mode_it_is_given(stubbed, capsys):
    assert "with velocities" in stubbed("--list")[1]
    assert "with velocities" not in stubbed("--list", "--quick")[1]


@pytest.mark.parametrize("threads", ["0", "-2"])
def test_threads_below_one_is_refused(threads, capsys):
    with pytest.raises(SystemExit) as stop:
        run.main(["--threads", threads, "--only", "xor"])
    assert stop.value.code == 2
    assert f"--threads must be a positive integer; got {threads}" in capsys.readouterr().err


def test_main_judges_the_peak_fraction_after_the_end_of_run_peak(monkeypatch, tmp_path):
    import json

    def workloads(quick):
        return [{"name": "mlp threads", "unit": "samples/s", "work": 1, "flops": 1e9,
                 "rosenblatt": lambda: None, "references": {"pytorch": lambda: None},
                 "target_ratio": {"pytorch": 1.5}, "target_peak_fraction": 0.65}]

    def fake_run(w, repeats, timer=None, measure=None):  # 2x PyTorch, 1 GFLOP/s
        rb = run._summary([1.0], 1, "samples/s")
        ref = {**run._summary([2.0], 1, "samples/s"), "ratio": 2.0, "ratio_min": 2.0,
               "ratio_max": 2.0}
        return {"name": w["name"], "unit": "samples/s", "work": 1, "target": "",
                "rosenblatt": rb, "references": {"pytorch": ref}, "gflops": 1.0}

    monkeypatch.setattr(run, "discover", lambda only=None: [("mlp", SimpleNamespace(
        workloads=workloads))])
    monkeypatch.setattr(run, "run_workload", fake_run)
    for peak, met in ((10.0, False), (1.2, True)):  # 10% and 83% of the peak
        monkeypatch.setattr(run, "gemm_peak", lambda peak=peak, **kw: peak)
        with redirect_stdout(io.StringIO()):
            run.main(["--quick", "--json", str(tmp_path / "r.json")])
        row = json.loads((tmp_path / "r.json").read_text())["results"][0]
        assert row["met"] is met, (peak, row)


# -- audit s10/a7 --------------------------------------------------------------------------------

def test_the_ais_row_judges_its_few_seconds():
    rbm = pytest.importorskip("benchmarks.workloads.rbm")
    assert rbm.ais_check({"rosenblatt": {"median_s": 2.0}}, []) is True
    assert rbm.ais_check({"rosenblatt": {"median_s": 20.0}}, []) is False


def test_the_ntm_length_scan_judges_time_linear_in_length():
    ntm = pytest.importorskip("benchmarks.workloads.ntm")
    check = ntm.linear_check("short", 5, 80)
    base = {"name": "short", "rosenblatt": {"median_s": 11.0}}  # 1 s per sequence step
    affine = {"rosenblatt": {"median_s": 0.9 * 161}}  # a fixed cost made length 5 dearer
    assert check(affine, [base]) is True and "0.90x" in affine["notes"]
    quadratic = {"rosenblatt": {"median_s": 11.0 * (161 / 11) ** 2}}
    assert check(quadratic, [base]) is False
    assert check(affine, []) is None  # the shortest row not run (--only): not judged


def test_every_ntm_row_with_a_target_is_judged(monkeypatch):
    ntm = pytest.importorskip("benchmarks.workloads.ntm")
    for name in ("data", "rosenblatt_fn", "pytorch_fn"):  # the rows' wiring, not their models
        monkeypatch.setattr(ntm, name, lambda *args: (None, None))
    rows = ntm.workloads(False)
    for w in rows:
        judged = "check" in w or w.get("target_ratio")
        assert judged or w["target"].startswith("("), w["name"]
    assert "check" in rows[-1] and "5" in rows[-1]["target"]


def test_only_takes_a_name_with_commas_whole(stubbed, monkeypatch):
    """Names have commas: ``--only "epoch of 60,000"`` is not "epoch of 60" and "000" (which
    would select every row with a 1,000 or 10,000 in its name)."""
    modules = [("mlp", _module("mlp 784-256-256-10, batch 128, epoch of 60,000")),
               ("xor", _module("xor 2-8-1 full batch, 10,000 steps")),
               ("rbm", _module("rbm AIS log Z, 784x500, 100 chains, 1,000 betas"))]
    monkeypatch.setattr(run, "discover", lambda only=None: modules)
    assert stubbed("--only", "epoch of 60,000")[0] == [
        "mlp 784-256-256-10, batch 128, epoch of 60,000"]
    assert stubbed("--only", "mlp,AIS")[0] == [  # no name holds the whole text: split
        "mlp 784-256-256-10, batch 128, epoch of 60,000",
        "rbm AIS log Z, 784x500, 100 chains, 1,000 betas"]
    assert run._only_tokens(" full batch, 10,000 ", ["xor"], ["xor 2-8-1 full batch, 10,000 "
                                                               "steps"]) == ["full batch, 10,000"]


def test_an_explicit_repeats_wins_over_a_rows_own(stubbed, monkeypatch):
    counts = []

    def fake_run(w, repeats, timer=None, measure=None):
        counts.append(repeats)
        return {"name": w["name"], "error": "stub (not timed)"}

    def workloads(quick):
        return [{"name": "slow row", "unit": "samples/s", "work": 1, "repeats": 2,
                 "rosenblatt": lambda: None},
                {"name": "plain row", "unit": "samples/s", "work": 1, "rosenblatt": lambda: None}]

    monkeypatch.setattr(run, "discover", lambda only=None: [("m", SimpleNamespace(
        workloads=workloads))])
    monkeypatch.setattr(run, "run_workload", fake_run)
    for argv, expected in ((["--quick"], [2, 3]), ([], [2, 5]),
                           (["--quick", "--repeats", "7"], [7, 7]), (["--repeats", "1"], [1, 1])):
        counts.clear()
        stubbed(*argv)
        assert counts == expected, argv


def test_a_row_records_how_many_rounds_it_was_timed():
    result = run.run_workload({"name": "r", "unit": "samples/s", "work": 1, "repeats": 3,
                               "rosenblatt": lambda: None}, repeats=1)
    assert result["repeats"] == 1 and len(result["rosenblatt"]["times_s"]) == 1


def test_an_isolate_child_needs_no_writable_json(tmp_path, capsys):
    """The child (``--time-one``) writes no JSON, so an unwritable default results folder
    (a read-only checkout) must not stop it; nor does it leave a probe file there."""
    import json

    blocker = tmp_path / "afile"
    blocker.write_text("")
    assert run.main(["--quick", "--time-one", "op_overhead:0:rosenblatt",
                     "--json", str(blocker / "latest.json")]) == 0
    times = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(times) == run.ISOLATED_CALLS


def test_a_row_without_references_shows_no_error():
    result = {"name": "solo row", "unit": "samples/s", "target": "(none)", "met": None,
              "rosenblatt": run._summary([1.0], 1, "samples/s"), "references": {}}
    text = "\n".join(run.table([result]))
    assert "ERROR" not in text and "solo row" in text
