"""Audit s12 (a2): fixes in the smaller models, each test failing before its fix."""

import numpy as np
import pytest

import rosenblatt as rb


# -- 5: ragged or textual inputs are named by the model, not by NumPy --------------------------
@pytest.mark.parametrize("X", [[[1, 2], [1]], [["a", "b"]]])
@pytest.mark.parametrize("where", ["fit", "predict"])
def test_perceptron_names_x_that_numpy_cannot_read(X, where):
    p = rb.models.Perceptron(2)
    call = (lambda: p.fit(X, [1] * len(X))) if where == "fit" else (lambda: p.predict(X))
    with pytest.raises(ValueError, match=rf"Perceptron\(2\)\.{where}: X must hold numbers, shape "
                                         rf"\(n, 2\); NumPy cannot read it as float64"):
        call()


def test_perceptron_still_reads_numbers_given_as_text():
    p = rb.models.Perceptron(2)
    assert p.fit([["0", "1"], ["1", "1"]], ["-1", "1"])[-1] == 0


_S2S = rb.models.Seq2Seq(5, 5, 4, attention="dot", rng=0)


@pytest.mark.parametrize("call, message", [
    (lambda: _S2S([[1, 2], [1]], [[1], [2]]),
     r"Seq2Seq: source must be a \(batch, time\) array of token ids; got sequences of different "
     r"lengths \(pad them to one length and pass source_lengths\)"),
    (lambda: _S2S([[1, 2], [1, 3]], [[1], [2, 3]]),
     r"Seq2Seq: target must be a \(batch, time\) array of token ids; got sequences of different "
     r"lengths \(pad them to one length\)"),
    (lambda: _S2S.generate([[1, 2], [1]], 2),
     r"Seq2Seq.generate: source must be a \(batch, time\) array of token ids"),
    (lambda: rb.models.WindowClassifier(rb.nn.Embedding(5, 3, rng=0), window=2, rng=0)(
        [[1, 2], [1]]),
     r"WindowClassifier\(window=2\): expected token ids of shape \(batch, 2\); got rows of "
     r"different lengths"),
])
def test_token_models_name_rows_of_different_lengths(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_dbn_pretrain_with_an_int_seed_gives_each_layer_its_own_stream():
    # (lead, from s12/a7) every layer got np.random.default_rng(seed): the same stream
    from rosenblatt.models.dbn import _layer_rng
    a, b = _layer_rng(3, 0), _layer_rng(3, 1)
    assert a.random() != b.random()
    assert _layer_rng(3, 1).random() == _layer_rng(3, 1).random()  # a resumed layer rebuilds it
    g = np.random.default_rng(0)
    assert _layer_rng(g, 0) is g and _layer_rng(g, 1) is g
    with pytest.raises(ValueError, match="must be >= 0"):
        _layer_rng(-1, 0)
