"""Audit s12 (a2): fixes in the smaller models, each test failing before its fix."""

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
