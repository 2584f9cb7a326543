"""Study files: a damaged study.json is a ValueError naming the file and the field."""

import copy
import json

import pytest

import rosenblatt as rb

T = rb.tuning
SPACE = T.Space({"x": T.Uniform(-1, 1)})


def _square(p):
    return (p["x"] - 0.3) ** 2


@pytest.fixture
def good(tmp_path):
    T.minimize(_square, SPACE, n_trials=4, seed=0, save_to=tmp_path / "good.json")
    return json.loads((tmp_path / "good.json").read_text())


def _set(path, value):
    def mutate(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _drop(path):
    def mutate(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


@pytest.mark.parametrize("mutate,message", [
    (_set(("trials", 0, "value"), "abc"), "field 'value' of trial 0 in .*h.json must be a "
     "finite number for a complete trial; got 'abc'"),
    (_set(("trials", 0, "value"), None), "field 'value' of trial 0 .* complete trial; got None"),
    (_set(("trials", 0, "value"), True), "field 'value' of trial 0 .*; got True"),
    (_set(("trials", 0, "value"), float("nan")), "field 'value' of trial 0 .*; got nan"),
    (_drop(("trials", 0, "status")), "trial 0 in .*h.json has no 'status'"),
    (_set(("trials", 0, "status"), "done"), "field 'status' of trial 0 .* one of 'complete'"),
    (_set(("trials", 0, "surprise"), 1), "unknown keys \\['surprise'\\] in trial 0"),
    (_set(("trials", 0, "number"), "0"), "field 'number' of a trial in .*h.json must be a "
     "non-negative integer; got '0'"),
    (_set(("trials", 0, "number"), 99), "numbered 0, 1, 2 ... in order.*got \\[99, 1, 2, 3\\]"),
    (lambda d: d["trials"].append(copy.deepcopy(d["trials"][0])), "numbered 0, 1, 2"),
    (_set(("trials", 0, "params"), [1]), "field 'params' of trial 0 .* an object"),
    (_set(("trials", 0, "params", "x"), 5.0), "field 'params' of trial 0 in .*h.json: Space: "
     "parameter 'x' = 5.0 is outside"),
    (_set(("trials", 0, "params", "zz"), 5.0), "field 'params' of trial 0 .*unknown parameter"),
    (_set(("trials", 0, "seconds"), "1s"), "field 'seconds' of trial 0"),
    (_set(("trials", 0, "attrs"), [1]), "field 'attrs' of trial 0"),
    (_set(("trials", 0), 3), "each trial in .*h.json must be a JSON object; got int 3"),
    (_set(("trials",), 5), "field 'trials' of .*h.json must be a list; got 5"),
    (_set(("settings",), [1]), "field 'settings' of .*h.json must be an object"),
    (_set(("settings", "n_parallel"), "2"), "setting 'n_parallel' of .*h.json must be a "
     "positive integer"),
    (_set(("space", "x", "low"), 2), "field 'space' of .*h.json: Space: parameter 'x': "
         "Uniform: the range"),
    (_set(("extra",), 1), "unknown keys \\['extra'\\] in .*h.json"),
    (_set(("format",), "other"), "h.json is not a study"),
])
def test_damaged_study_file_names_the_file_and_the_field(tmp_path, good, mutate, message):
    d = copy.deepcopy(good)
    mutate(d)
    path = tmp_path / "h.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=message):
        T.Study.load(path)
    with pytest.raises(ValueError, match=message):
        T.minimize(_square, SPACE, n_trials=8, seed=0, resume_from=path)


def test_failed_trial_has_no_value(good, tmp_path):
    d = copy.deepcopy(good)
    d["trials"][1].update(status="failed", error="ValueError: boom")
    with pytest.raises(ValueError, match="field 'value' of trial 1 .* null for a failed trial"):
        T.Study.from_dict(d, "s.json")
    d["trials"][1]["value"] = None
    assert T.Study.from_dict(d).failed[0].error == "ValueError: boom"


def test_a_saved_study_loads_back_unchanged(good, tmp_path):
    study = T.Study.from_dict(good)
    study.save(tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text()) == good


def test_hostile_study_files_cost_nothing(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match="deep.json is not a study"):
        T.Study.load(deep)
    big = tmp_path / "big.json"
    big.write_text('{"trials": ' + "9" * 5000 + "}")
    with pytest.raises(ValueError, match="big.json is not valid JSON"):
        T.Study.load(big)
    # a grid of 10^12 values per parameter (a resumed file's grid_points) is refused before
    # it is built, not after asking for terabytes
    with pytest.raises(ValueError, match="more than 1,000,000 points"):
        T.minimize(_square, SPACE, method="grid", grid_points=10**12)
    space2 = T.Space({"x": T.Uniform(-1, 1), "y": T.Uniform(-1, 1)})
    with pytest.raises(ValueError, match="more than 1,000,000 points"):
        T.minimize(_square, space2, method="grid", grid_points=2000)


def test_a_study_file_names_a_method_and_a_boolean_log(good, tmp_path):
    for mutate, says in ((_set(["settings", "method"], "relu"), "setting 'method'"),
                         (_set(["settings", "method"], 5), "setting 'method'")):
        d = copy.deepcopy(good)
        mutate(d)
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(d))
        with pytest.raises(ValueError, match=says):
            T.Study.load(path)
    for log in ("failed", 1e308, -1, ["x"]):
        with pytest.raises(TypeError, match="Int: log must be True or False"):
            T.Int(1, 10, log=log)


# -- audit a1 ------------------------------------------------------------------------------
@pytest.mark.parametrize("trial,message", [
    (T.Trial(0, {"x": 5.0}, 1.0, "complete"),
     r"Study.add: field 'params' of trial 0: Space: parameter 'x' = 5.0 is outside"),
    (T.Trial(0, {"z": 0.5}, 1.0, "complete"), r"Study.add: .*unknown parameter 'z'"),
    (T.Trial(0, {"x": 0.5}, float("nan"), "complete"),
     r"Trial: field 'value' of trial 0 in Study.add must be a finite number"),
    (T.Trial(0, {"x": 0.5}, 1.0, "done"), r"Trial: field 'status' of trial 0 in Study.add"),
    (T.Trial(0, {"x": 0.5}, 1.0, "complete", attrs={"a": float("inf")}),
     r"Study.add: the attrs of trial 0 must be JSON"),
    (T.Trial(-1, {"x": 0.5}, 1.0, "complete"), r"field 'number' .* non-negative integer"),
])
def test_add_refuses_what_the_file_format_refuses(trial, message):
    """Audit a1 #10: a study that add accepts can be saved and loaded."""
    study = T.Study(SPACE, {"method": "random"})
    with pytest.raises(ValueError, match=message):
        study.add(trial)
    assert study.trials == []


def test_add_takes_numpy_numbers_and_a_saved_study_always_loads(tmp_path):
    import numpy as np

    study = T.Study(SPACE, {"method": "random"})
    study.add(T.Trial(np.int64(1), {"x": np.float64(0.5)}, np.float32(0.25), "complete"))
    with pytest.raises(ValueError, match=r"Study.save: the trials must be numbered 0, 1, 2 "
                                         r"\.\.\. without gaps; trial 0 is missing"):
        study.save(tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()
    study.add(T.Trial(0, {"x": -0.5}, 1.0, "complete"))
    study.save(tmp_path / "s.json")
    loaded = T.Study.load(tmp_path / "s.json")
    assert [(t.number, t.params, t.value) for t in loaded.trials] == \
        [(0, {"x": -0.5}, 1.0), (1, {"x": 0.5}, 0.25)]
    assert type(study.trials[1].number) is int and type(study.trials[1].value) is float


# -- audit a3 ------------------------------------------------------------------------------
def test_a_parameter_named_like_a_column_of_the_table_keeps_both(tmp_path):
    space = T.Space({"number": T.Int(1, 4), "seconds": T.Uniform(0, 1),
                     "param_number": T.Int(5, 6), "lr": T.LogUniform(1e-3, 1e-1)})
    study = T.minimize(lambda p: p["number"] + p["seconds"], space, method="random",
                       n_trials=3, seed=0)
    rows = study.to_rows()
    assert list(rows[0]) == ["number", "status", "value", "seconds", "param_number",
                             "param_seconds", "param_param_number", "lr", "error"]
    for i, (row, t) in enumerate(zip(rows, study.trials)):
        assert row["number"] == i and row["seconds"] == t.seconds
        assert row["param_number"] == t.params["number"]
        assert row["param_seconds"] == t.params["seconds"]
        assert row["param_param_number"] == t.params["param_number"] and row["lr"] == t.params["lr"]
    lines = study.to_csv(tmp_path / "s.csv").splitlines()
    assert lines[0] == ("number,status,value,seconds,param_number,param_seconds,"
                        "param_param_number,lr,error")
    assert lines[1].startswith(f"0,complete,{rows[0]['value']!r},")
