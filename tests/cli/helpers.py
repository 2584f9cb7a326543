"""What the CLI tests share: a small config, writing a config, and checking a refused command
line (the fixture ``no_training`` is in conftest.py)."""

import textwrap

from rosenblatt.cli import main


def write_config(folder, text, name="cfg.toml"):
    """``text`` (dedented) as ``folder/name``; returns the path as a string."""
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def refused(argv, capsys, *expected):
    """main(argv) exits 2 with exactly one line on stderr holding each expected text."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rosenblatt "), err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


def small_config(epochs=1):
    """A config that trains a 2-4-2 network on 60 moons in a blink (test and validation splits
    held out)."""
    return f"""
seed = 3
[data]
name = "moons"
options = {{ n_samples = 60 }}
test = 0.25
validation = 0.2
[[model.layers]]
type = "Dense"
out_features = 4
[[model.layers]]
type = "Tanh"
[[model.layers]]
type = "Dense"
out_features = 2
[training]
epochs = {epochs}
batch_size = 16
[optimizer]
name = "adam"
lr = 0.02
"""


# a [tune] section with one random trial, for small_config()
TUNE_TABLE = """
[tune]
method = "random"
n_trials = 1
[tune.space]
"optimizer.lr" = { type = "loguniform", low = 1e-3, high = 1e-1 }
"""
