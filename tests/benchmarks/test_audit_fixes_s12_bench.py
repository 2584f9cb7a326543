"""The benchmark harness, audit s12/a8 (section numbers: the findings of /tmp/s12/a8/REPORT.md):
a reference timed in its slow fallback is not judged, the results JSON names the commit
measured whatever the checkout's git layout, a module that fails to build is reported, not
fatal, and options that a mode does not use are refused or honoured, never ignored."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

run = pytest.importorskip("benchmarks.run")


# -- 1. Optuna's GPSampler without greenlet ------------------------------------------------------

@pytest.mark.parametrize("found, expected", [
    ({"optuna", "optuna._gp.batched_lbfgsb"}, False),  # Optuna 4.5+ without greenlet
    ({"optuna", "optuna._gp.batched_lbfgsb", "greenlet"}, True),
    ({"optuna"}, True),  # an Optuna without the batched path: no fallback
    (set(), None),  # no Optuna
])
def test_optuna_batched_reads_whether_optuna_can_take_its_batched_path(monkeypatch, found,
                                                                        expected):
    tuning = pytest.importorskip("benchmarks.workloads.tuning")
    monkeypatch.setattr(tuning, "_installed", found.__contains__)
    assert tuning.optuna_batched() is expected


def test_optuna_batched_agrees_with_what_is_installed():
    tuning = pytest.importorskip("benchmarks.workloads.tuning")
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        assert tuning.optuna_batched() is None
    elif importlib.util.find_spec("optuna._gp.batched_lbfgsb") is not None:
        assert tuning.optuna_batched() is (importlib.util.find_spec("greenlet") is not None)
    assert not tuning._installed("no_such_package.module")


@pytest.mark.parametrize("batched", [True, False, None])
def test_the_propose_row_judges_optuna_only_on_its_batched_path(monkeypatch, batched):
    """Without greenlet Optuna 4.5+ optimises its acquisition one L-BFGS-B restart at a time
    (~2x slower than its batched path): a ratio to that fallback is no verdict."""
    tuning = pytest.importorskip("benchmarks.workloads.tuning")
    for builder in ("rosenblatt_propose", "skopt_propose", "optuna_propose"):
        monkeypatch.setattr(tuning, builder, lambda: None)
    monkeypatch.setattr(tuning, "optuna_batched", lambda: batched)
    monkeypatch.setattr(tuning, "optional", lambda name: None)  # no Branin runners built
    row = tuning.workloads(quick=True)[0]
    assert row["name"].startswith("BO: propose trial 101")
    slow_optuna = {"references": {"skopt": {"ratio": 1.4}, "optuna": {"ratio": 0.7}}}
    if batched is False:
        assert row["target_ratio"] == {"skopt": 1.0}
        assert "not judged" in row["target"] and "greenlet" in row["notes"]
        assert run.judge(row, slow_optuna, []) is True
    else:
        assert row["target_ratio"] == {"skopt": 1.0, "optuna": 1.0}
        assert run.judge(row, slow_optuna, []) is False


def test_the_json_records_greenlet_among_the_versions(monkeypatch):
    monkeypatch.setattr(run, "optional", lambda name: (
        None if name in ("torch", "threadpoolctl") else SimpleNamespace(__version__="1.0")))
    versions = run.machine_info()["versions"]
    assert "greenlet" in versions and "optuna" in versions
    assert run._installed_version("numpy") == __import__("numpy").__version__
    assert run._installed_version("no-such-distribution-here") is None


# -- 4. options of the other mode are refused ----------------------------------------------------

@pytest.fixture
def no_claim_runs(monkeypatch):
    """``claims.run`` recorded, not run (a claim runner takes seconds to minutes)."""
    claims = pytest.importorskip("benchmarks.claims")
    ran = []
    monkeypatch.setattr(claims, "run", lambda name, runs, executor: ran.append(name))
    return ran


@pytest.mark.parametrize("option", [["--json", "r.json"], ["--quick"], ["--only", "xor"],
                                    ["--repeats", "3"], ["--threads", "1"], ["--timer", "cpu"],
                                    ["--isolate"], ["--list"]])
def test_claims_refuse_the_timed_runs_options(no_claim_runs, capsys, option):
    """``--claims`` writes no JSON and times nothing: a ``--json`` there would silently
    write nothing, the others silently do nothing."""
    with pytest.raises(SystemExit) as stop:
        run.main(["--claims", "nsga2", "--runs", "1", *option])
    assert stop.value.code == 2
    assert f"{option[0]}: options of the timed workloads" in capsys.readouterr().err
    assert no_claim_runs == []


def test_claims_alone_still_run(no_claim_runs):
    assert run.main(["--claims", "nsga2", "--runs", "1"]) == 0
    assert no_claim_runs == ["nsga2"]


def test_runs_without_claims_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(run, "discover", lambda only=None: [])
    with pytest.raises(SystemExit) as stop:
        run.main(["--list", "--quick", "--runs", "5"])
    assert stop.value.code == 2
    assert "--runs: the number of seeded runs of each --claims runner" in \
        capsys.readouterr().err


# -- 2. the commit measured ----------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def _checkout(root, git):
    """A checkout at ``root`` whose ``.git`` is ``git`` (a folder's files, or a file's text)."""
    (root / "benchmarks").mkdir(parents=True)
    if isinstance(git, str):
        (root / ".git").write_text(git)
    else:
        for name, text in git.items():
            path = root / ".git" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return root / "benchmarks"


def test_the_commit_is_read_from_loose_packed_and_detached_refs(tmp_path, monkeypatch):
    cases = {
        "loose": {"HEAD": "ref: refs/heads/main\n", "refs/heads/main": SHA + "\n"},
        "packed": {"HEAD": "ref: refs/heads/main\n",  # after git gc / git pack-refs
                   "packed-refs": f"# pack-refs with: peeled fully-peeled sorted \n"
                                  f"{'f' * 40} refs/heads/other\n{SHA} refs/heads/main\n"},
        "detached": {"HEAD": SHA + "\n"},
    }
    for name, git in cases.items():
        monkeypatch.setattr(run, "HERE", _checkout(tmp_path / name, git))
        assert run._git_commit() == SHA[:12], name
    monkeypatch.setattr(run, "HERE", _checkout(tmp_path / "none", {"HEAD": "ref: refs/x\n"}))
    assert run._git_commit() is None


def test_the_commit_of_a_worktree_is_read_from_its_common_git_dir(tmp_path, monkeypatch):
    common = tmp_path / "main" / ".git"
    wt_git = common / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/feature\n")
    (wt_git / "commondir").write_text("../..\n")
    (common / "packed-refs").write_text(f"{SHA} refs/heads/feature\n")
    monkeypatch.setattr(run, "HERE", _checkout(tmp_path / "wt", f"gitdir: {wt_git}\n"))
    assert run._git_commit() == SHA[:12]


# -- 3. a module whose workloads() fails -----------------------------------------------------------

def _broken(quick):
    raise FileNotFoundError("the MNIST sample is not there")


@pytest.fixture
def one_broken_module(monkeypatch, tmp_path):
    """``main`` over a module whose ``workloads()`` raises and one that builds, nothing
    timed; returns (run main, its output, the rows it ran)."""
    import io
    from contextlib import redirect_stdout

    rows = [{"name": "xor 2-8-1 tanh", "unit": "samples/s", "work": 1,
             "rosenblatt": lambda: None}]
    genome = [{"name": "neat xor genome evaluations", "unit": "samples/s", "work": 1,
               "rosenblatt": lambda: None}]
    monkeypatch.setattr(run, "discover", lambda only=None: [
        ("autoencoder", SimpleNamespace(workloads=_broken)),
        ("neat", SimpleNamespace(workloads=lambda quick: genome)),
        ("xor", SimpleNamespace(workloads=lambda quick: rows))])
    monkeypatch.setattr(run, "machine_info", lambda: {
        "cpu": "cpu", "cores": 2, "versions": {}, "blas": [], "torch_blas": None,
        "threads": {"numpy_blas": 1, "torch": None}})
    monkeypatch.setattr(run, "gemm_peak", lambda **kw: 1.0)
    monkeypatch.setattr(run, "torch_or_none", lambda: None)  # (importing PyTorch takes seconds)
    ran = []
    monkeypatch.setattr(run, "run_workload", lambda w, repeats, timer=None, measure=None: (
        ran.append(w["name"]) or {"name": w["name"], "error": "stub (not timed)"}))

    def main(*argv):
        ran.clear()
        with redirect_stdout(io.StringIO()) as out:
            code = run.main([*argv, "--json", str(tmp_path / "r.json")] if "--list" not in argv
                            else list(argv))
        return code, out.getvalue(), list(ran)

    return main


def test_only_by_workload_name_reports_a_module_whose_workloads_fail(one_broken_module):
    """A plain run reports such a module ("workloads() failed") and times the others; so
    must a run whose --only names a workload (it builds every module to read the names)."""
    code, out, ran = one_broken_module("--quick", "--only", "2-8-1")
    assert code == 0 and ran == ["xor 2-8-1 tanh"]
    assert "autoencoder: workloads() failed: FileNotFoundError" in out


def test_list_reports_a_module_whose_workloads_fail_and_lists_the_others(one_broken_module):
    code, out, _ = one_broken_module("--quick", "--list")
    assert code == 0
    assert "autoencoder: workloads() failed: FileNotFoundError" in out
    assert "xor: xor 2-8-1 tanh" in out


def test_an_unmatched_only_token_names_the_modules_that_failed(one_broken_module, capsys):
    with pytest.raises(SystemExit) as stop:
        one_broken_module("--quick", "--only", "lenet")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "'lenet' names no module or workload" in err and "autoencoder (FileNotFoundError" \
        in err


# -- 6. the standalone scripts' counts -------------------------------------------------------

@pytest.mark.parametrize("flag", ["--every", "--generations", "--population"])
def test_coevolution_refuses_counts_below_one_before_running(flag, capsys):
    """``--every 0`` died mid-run with "integer modulo by zero" (and a negative one measured
    every generation); each count is refused by the parser, naming it."""
    coevolution = pytest.importorskip("benchmarks.coevolution_tictactoe")
    argv = {"--every": "1", "--generations": "1", "--population": "4"}
    argv[flag] = "0"
    with pytest.raises(SystemExit) as stop:
        coevolution.main(["--seeds", "0", *(x for kv in argv.items() for x in kv)])
    assert stop.value.code == 2
    assert f"{flag} must be a positive integer; got 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--claims", "--seeds", "0"], "--seeds must be a positive integer; got 0"),
    (["--claims", "--generations", "0"], "--generations must be a positive integer; got 0"),
])
def test_nsga2_claims_refuse_counts_below_one(argv, message, capsys):
    """``--seeds 0`` died in statistics.median ("no median for empty data")."""
    nsga2 = pytest.importorskip("benchmarks.workloads.nsga2")
    with pytest.raises(SystemExit) as stop:
        nsga2.main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--runs", "--population", "--max-evaluations"])
def test_cosyne_claims_refuse_counts_below_one(flag, capsys):
    """``--runs 0`` printed "median nan evaluations over 0 runs ... FAIL" and exited 0."""
    cosyne = pytest.importorskip("benchmarks.cosyne_claims")
    with pytest.raises(SystemExit) as stop:
        cosyne.main([flag, "0", "--task", "markov"])
    assert stop.value.code == 2
    assert f"{flag} must be a positive integer; got 0" in capsys.readouterr().err


# -- 5. --list honours --only ------------------------------------------------------------------

def test_list_shows_the_rows_that_only_selects(one_broken_module):
    """``--list --only X`` listed every row of every module (--only silently ignored)."""
    _, out, _ = one_broken_module("--quick", "--list", "--only", "xor")  # a module: its rows
    assert out.splitlines() == ["xor: xor 2-8-1 tanh  [samples/s]  target: "]
    _, out, _ = one_broken_module("--quick", "--list", "--only", "genome")  # a name token
    assert "neat: neat xor genome evaluations" in out and "xor: xor" not in out
    assert "autoencoder: workloads() failed" in out  # its rows unknown: it may be meant
    _, out, _ = one_broken_module("--quick", "--list")
    assert len(out.splitlines()) == 3


def test_list_refuses_an_only_token_that_names_nothing(one_broken_module, capsys):
    with pytest.raises(SystemExit) as stop:
        one_broken_module("--quick", "--list", "--only", "lenet")
    assert stop.value.code == 2 and "'lenet' names no module or workload" in \
        capsys.readouterr().err
