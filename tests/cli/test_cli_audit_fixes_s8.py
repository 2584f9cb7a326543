"""CLI and io audit fixes (s8/a2): a CSV header of numeric names, --proba of a max-margin model,
a training checkpoint given as a model, missing generator states and a NaN "best" in a
checkpoint, export onto its own model file, models whose forward raises TypeError, an
Embedding trained from the CLI, a broken pipe after train's results, export --opset 0, an
evolve table the algorithm does not read, --dynamic-axes on a standardised sequence model.
Each test failed before its fix (the audit's finding number)."""

import json

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn
from rosenblatt.cli import main

from .helpers import refused, small_config, write_config


def _predict(argv, capsys):
    assert main(["predict", *argv]) == 0
    return capsys.readouterr().out.split()


def _model_file(tmp_path, model, name="model.safetensors", **cli):
    path = str(tmp_path / name)
    rb.save(model.eval(), path, metadata={"cli": cli} if cli else None)
    return path


# -- 1: a header of numeric column names ----------------------------------------------------
@pytest.fixture
def pixels_model(tmp_path):
    """A classifier trained on CSV columns named "0" and "1" (as pixel columns are)."""
    model = nn.Sequential(nn.Dense(2, 2, rng=np.random.default_rng(0)))
    return _model_file(tmp_path, model, task="classification", loss="cross_entropy",
                       path=True, target="label", columns=["0", "1"])


def test_predict_reads_a_header_of_the_model_columns_as_a_header(tmp_path, capsys,
                                                                  pixels_model):
    rows = [[0.5, 0.1], [-0.5, 0.2], [3.0, -2.0]]
    plain = tmp_path / "new.csv"
    plain.write_text("0,1\n" + "".join(f"{a},{b}\n" for a, b in rows))
    swapped = tmp_path / "swapped.csv"  # s9: numeric names out of order are a sample
    swapped.write_text("1,0\n" + "".join(f"{a},{b}\n" for a, b in rows))
    with_target = tmp_path / "target.csv"
    with_target.write_text("label,0,1\n" + "".join(f"1,{a},{b}\n" for a, b in rows))
    headerless = tmp_path / "data.csv"
    headerless.write_text("".join(f"{a},{b}\n" for a, b in rows))
    expected = _predict([pixels_model, str(headerless)], capsys)
    assert len(expected) == 3
    assert _predict([pixels_model, str(plain)], capsys) == expected  # not 4 predictions
    assert _predict([pixels_model, str(swapped)], capsys)[1:] == expected  # (1, 0) is data
    assert _predict([pixels_model, str(with_target)], capsys) == expected


def test_a_first_row_of_numbers_is_data_unless_it_names_columns(tmp_path):
    from rosenblatt.cli.datafile import has_header, read

    assert not has_header(["0", "1"])
    assert not has_header(["0", "1"], columns=["0", "2"])
    assert not has_header(["0", "1", "0"], columns=["0", "1"])
    assert has_header(["0", "1"], columns=["0", "1"])
    assert not has_header(["1", "0"], columns=["0", "1"])  # s9: a sample (1, 0), not names
    assert has_header(["0", "1", "2"], columns=["0", "1"], model_target="2")
    assert has_header(["0", "1", "2"], target="2")
    path = tmp_path / "train.csv"
    path.write_text("0,1,2\n0.5,0.25,1\n-0.5,0.75,0\n")
    table = read(str(path), "2", need_target=True)  # was: "the first line holds numbers"
    assert table.columns == ["0", "1"] and table.named and table.target == "2"
    assert table.x.tolist() == [[0.5, 0.25], [-0.5, 0.75]] and table.y.tolist() == [1, 0]
    assert len(read(str(path)).x) == 3  # no name, no model: the first row is data


@pytest.fixture
def no_figures(monkeypatch):
    """train's learning curve: not what these tests check, and matplotlib is slow to start."""
    import rosenblatt.cli.train as train_cli

    monkeypatch.setattr(train_cli, "plot_curves", lambda *args: None)


def test_train_on_a_numeric_header_with_a_named_target(tmp_path, capsys, no_figures):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    lines = "".join(f"{a:.4f},{b:.4f},{int(a + b > 0)}\n" for a, b in x)
    (tmp_path / "train.csv").write_text("0,1,2\n" + lines)
    text = small_config(1).replace('name = "moons"\noptions = { n_samples = 60 }',
                                   'path = "train.csv"\ntarget = "2"')
    out = tmp_path / "o"
    assert main(["train", write_config(tmp_path, text), "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    meta = rb.io.load_checkpoint(out / "model.safetensors").metadata["cli"]
    assert meta["columns"] == ["0", "1"] and meta["target"] == "2"
    new = tmp_path / "new.csv"
    new.write_text("0,1\n0.5,0.1\n-0.5,0.2\n")
    assert len(_predict([str(out / "model.safetensors"), str(new)], capsys)) == 2


# -- 2: --proba of a max-margin model ---------------------------------------------------------
def test_proba_of_a_max_margin_model_is_refused(tmp_path, capsys):
    path = _model_file(tmp_path, nn.Sequential(nn.Dense(2, 2, rng=np.random.default_rng(0))),
                       task="classification", loss="max_margin")
    np.save(tmp_path / "x.npy", np.zeros((2, 2), np.float32))
    refused(["predict", path, str(tmp_path / "x.npy"), "--proba"], capsys,
            "max_margin-loss model outputs margin scores, not probabilities")
    assert len(_predict([path, str(tmp_path / "x.npy")], capsys)) == 2  # labels still work


# -- 3, 4, 5: train's checkpoint --------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    text = small_config(2) + "[callbacks]\nEarlyStopping = { monitor = 'val_loss' }\n"
    cfg = write_config(folder, text)
    assert main(["train", cfg, "--out", str(folder / "o"), "--quiet"]) == 0
    return folder, cfg, (folder / "o" / "checkpoint.safetensors").read_bytes()


@pytest.mark.parametrize("command", [["evaluate", "{}", "--data", "moons"],
                                     ["predict", "{}", "{x}"],
                                     ["export", "{}", "{out}"]])
def test_a_training_checkpoint_is_refused_as_a_model_saying_which_file(run_dir, tmp_path,
                                                                      capsys, command):
    if command[0] == "export":
        pytest.importorskip("onnx")
    folder, _, _ = run_dir
    np.save(tmp_path / "x.npy", np.zeros((2, 2), np.float32))
    ckpt = str(folder / "o" / "checkpoint.safetensors")
    argv = [a.format(ckpt, x=tmp_path / "x.npy", out=tmp_path / "m.onnx") for a in command]
    err = refused(argv, capsys, "is a training checkpoint", "model.safetensors", "--resume")
    assert "not written by" not in err


def _edited(checkpoint, out, edit):
    from rosenblatt.io.safetensors_format import decode, encode

    tensors, header = decode(checkpoint)
    meta = json.loads(header["metadata"])
    edit(meta)
    header["metadata"] = json.dumps(meta)
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(encode(tensors, header))


def _set_best(value):
    def edit(meta):
        meta["callbacks"][0]["best"] = value
    return edit


@pytest.mark.parametrize("edit, field", [
    (lambda meta: meta["generators"].pop("fit"), '"generators"[\'fit\']: missing'),
    (lambda meta: meta["generators"].__setitem__("other", meta["generators"]["fit"]),
     '"generators"[\'other\']'),
    (_set_best("NaN"), '"best" = \'NaN\''),
    (_set_best(float("nan")), '"best" = nan'),
    (_set_best(-float("inf")), '"best" = -inf'),
    (_set_best(True), '"best" = True'),
])
def test_resume_refuses_missing_generators_and_a_bad_best(run_dir, tmp_path, capsys, edit,
                                                          field):
    _, cfg, checkpoint = run_dir
    out = tmp_path / "o"
    _edited(checkpoint, out, edit)
    refused(["train", cfg, "--out", str(out), "--resume", "--quiet", "--epochs", "3"], capsys,
            "--resume", "is damaged or does not belong", field, "--overwrite")


def test_resume_accepts_the_starting_best_of_its_mode(run_dir, tmp_path, capsys):
    _, cfg, checkpoint = run_dir
    out = tmp_path / "o"
    _edited(checkpoint, out, _set_best(float("inf")))  # min mode: +inf, as before any epoch
    assert main(["train", cfg, "--out", str(out), "--resume", "--quiet", "--epochs", "3"]) == 0


# -- 6, 10, 12: export -------------------------------------------------------------------------
def test_export_refuses_to_write_over_its_model(run_dir, tmp_path, capsys):
    pytest.importorskip("onnx")
    folder, _, _ = run_dir
    victim = tmp_path / "victim.safetensors"
    victim.write_bytes((folder / "o" / "model.safetensors").read_bytes())
    before = victim.read_bytes()
    refused(["export", str(victim), str(victim)], capsys, "is the model file itself")
    refused(["export", str(victim), str(tmp_path / "." / "victim.safetensors")], capsys,
            "is the model file itself")
    assert victim.read_bytes() == before


def test_export_refuses_opset_0(run_dir, tmp_path, capsys):
    pytest.importorskip("onnx")
    folder, _, _ = run_dir
    refused(["export", str(folder / "o" / "model.safetensors"), str(tmp_path / "o.onnx"),
             "--opset", "0"], capsys, "opset")
    assert not (tmp_path / "o.onnx").exists()


def test_dynamic_time_axis_of_a_standardised_sequence_model_says_what_works(tmp_path, capsys):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.RNN(2, 3, rng=np.random.default_rng(0)), nn.SequenceOutputs())
    shape = [4, 2]
    mean = np.arange(8, dtype=np.float64)  # one per (time, feature): varies along time
    path = _model_file(tmp_path, model, shape=shape, mean=mean, std=np.ones(8))
    err = refused(["export", path, str(tmp_path / "o.onnx"), "--dynamic-axes", "0,1"], capsys,
                  "--dynamic-axes 1", "data.standardize = false", "leave it out")
    assert "give one value per feature" not in err
    flat = _model_file(tmp_path, model, "flat.safetensors", shape=shape, mean=np.zeros(8),
                       std=np.ones(8))
    assert main(["export", flat, str(tmp_path / "o.onnx"), "--dynamic-axes", "0,1"]) == 0


def test_export_help_qualifies_dynamic_axes(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "data.standardize = false" in " ".join(capsys.readouterr().out.split())


# -- 7: forward raises TypeError -----------------------------------------------------------------
@pytest.mark.parametrize("model, hint", [
    (lambda: nn.Sequential(nn.Embedding(5, 3), nn.Flatten(), nn.Dense(6, 2)), "integers"),
    (lambda: nn.Attention("dot"), "runs models of one input array"),
])
def test_predict_and_evaluate_refuse_a_model_that_raises_type_error(tmp_path, capsys, model,
                                                                   hint):
    path = _model_file(tmp_path, model())
    np.save(tmp_path / "x.npy", np.array([[0.5, 1.5], [2.2, 3.1]], np.float32))
    refused(["predict", path, str(tmp_path / "x.npy")], capsys, "the model does not accept",
            hint)
    refused(["evaluate", path, "--data", "moons", "--split", "all"], capsys,
            "the model does not fit", hint)


# -- 8: an Embedding first layer in train ---------------------------------------------------------
EMBEDDING = """
seed = 3
[data]
name = "moons"
options = { n_samples = 40 }
standardize = STANDARDIZE
[[model.layers]]
type = "Embedding"
num_embeddings = 5
embedding_dim = 2
[[model.layers]]
type = "Flatten"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = 1
"""


@pytest.mark.parametrize("standardize, expected", [
    ("true", "an Embedding takes token indices"),
    ("false", "indices must be integers"),
])
def test_train_refuses_an_embedding_on_real_valued_inputs(tmp_path, capsys, no_training,
                                                          standardize, expected):
    cfg = write_config(tmp_path, EMBEDDING.replace("STANDARDIZE", standardize))
    refused(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"], capsys, expected)


# -- 9: a broken pipe after the results are written ---------------------------------------------
def test_train_into_a_closed_pipe_is_no_disk_error(tmp_path, capsys, monkeypatch, no_figures):
    import builtins

    from rosenblatt.cli.main import build_parser

    cfg = write_config(tmp_path, small_config(1))
    real_print = builtins.print

    def closed_stdout(*args, **kwargs):
        if kwargs.get("file") is None:  # the summary on stdout: `| head -c 0` closed it
            raise BrokenPipeError(32, "Broken pipe")
        return real_print(*args, **kwargs)

    monkeypatch.setattr(builtins, "print", closed_stdout)
    args = build_parser().parse_args(["train", cfg, "--out", str(tmp_path / "o"), "--quiet"])
    with pytest.raises(BrokenPipeError):  # for main's handler (exit 141, no message)
        args.func(args)
    assert "cannot write the results" not in capsys.readouterr().err
    assert (tmp_path / "o" / "model.safetensors").exists()
    assert (tmp_path / "o" / "metrics.json").exists()


# -- 11: evolve with the table of another algorithm ---------------------------------------------
@pytest.mark.parametrize("text, table", [
    ('algorithm = "neat"\ntask = "xor"\n[cne]\nhidden = [4]\n', "[cne]"),
    ('algorithm = "cne"\ntask = "xor"\n[neat]\npopulation = 10\n', "[neat]"),
    ('algorithm = "hyperneat"\ntask = "visual"\n[esp]\npopulation = 8\n', "[esp]"),
])
def test_evolve_refuses_a_table_its_algorithm_does_not_read(tmp_path, capsys, text, table):
    refused(["evolve", write_config(tmp_path, text), "--out", str(tmp_path / "o")], capsys,
            f"does not read the table {table}")
    assert not (tmp_path / "o").exists()


def test_evolve_hyperneat_reads_neat_and_hyperneat_tables():
    from rosenblatt.cli.evolve import READS

    assert READS["hyperneat"] == ("neat", "hyperneat")
