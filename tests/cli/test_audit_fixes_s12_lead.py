"""Session 12 (lead, from the docs audit s12/a5): evaluate on a model's own .npz training
file needs no --target (train reads array 'y' by default and records no target)."""
import numpy as np

from rosenblatt.cli import main

from .helpers import write_config


def test_evaluate_on_the_npz_file_it_was_trained_on(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3)).astype(np.float32)
    np.savez(tmp_path / "own.npz", X=X, y=(X[:, 0] > 0).astype(np.int64))
    cfg = write_config(tmp_path, f"""
        seed = 0
        [data]
        path = "{tmp_path / 'own.npz'}"
        test = 0.2
        [[model.layers]]
        type = "Dense"
        out_features = 2
        [training]
        loss = "cross_entropy"
        epochs = 2
        batch_size = 16
        [output]
        dir = "{tmp_path / 'run'}"
        """)
    assert main(["train", str(cfg), "--quiet"]) == 0
    capsys.readouterr()
    code = main(["evaluate", str(tmp_path / "run" / "model.safetensors"), "--data",
                 str(tmp_path / "own.npz")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "samples: 40" in out
