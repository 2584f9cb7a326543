"""Seq2Seq: shapes, gradients, kept attention weights, and the notes' claim that
attention helps the decoder (reversing length-10 sequences)."""

import numpy as np
import pytest

import rosenblatt as rb


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
@pytest.mark.parametrize("cell", ["GRU", "LSTM"])
def test_gradcheck(rng, attention, cell):
    model = rb.models.Seq2Seq(3, 4, 2, cell=cell, attention=attention, rng=rng)
    model.astype(np.float64)
    src, tgt = np.array([[0, 2, 1], [1, 1, 0]]), np.array([[3, 0], [2, 1]])
    assert rb.gradcheck(lambda *p: model(src, tgt), *model.parameters())


def test_teacher_forcing_and_generation_shapes(rng):
    model = rb.models.Seq2Seq(5, 6, 8, attention="additive", rng=rng)
    src, tgt = rng.integers(0, 5, (3, 7)), rng.integers(0, 6, (3, 4))
    np.testing.assert_array_equal(model.decoder_inputs(tgt)[:, 0], 6)
    np.testing.assert_array_equal(model.decoder_inputs(tgt)[:, 1:], tgt[:, :-1])
    assert model(src, tgt).shape == (3, 4, 6)
    assert model.attention_weights.shape == (3, 4, 7)
    out = model.generate(src, 5)
    assert out.shape == (3, 5) and out.max() < 6
    assert model.attention_weights.shape == (3, 5, 7)
    np.testing.assert_allclose(model.attention_weights.sum(-1), 1, rtol=1e-5)
    assert rb.models.Seq2Seq(5, 6, 8, rng=rng).generate(src, 2).shape == (3, 2)


def test_greedy_generation_equals_teacher_forcing_on_its_own_output(rng):
    """Decoding step by step gives the same logits as the whole-sequence forward."""
    model = rb.models.Seq2Seq(4, 4, 6, cell="LSTM", attention="dot", rng=rng)
    src = rng.integers(0, 4, (2, 5))
    out = model.generate(src, 4)
    weights = model.attention_weights
    logits = model(src, out)
    np.testing.assert_array_equal(logits.data.argmax(-1), out)
    np.testing.assert_allclose(model.attention_weights, weights, rtol=1e-4, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="cell must be 'GRU', 'LSTM' or 'RNN'; got 'CNN'"):
        rb.models.Seq2Seq(3, 3, 4, cell="CNN")
    with pytest.raises(ValueError, match="attention must be None, 'dot' or 'additive'"):
        rb.models.Seq2Seq(3, 3, 4, attention="luong")
    with pytest.raises(ValueError, match="same batch"):
        rb.models.Seq2Seq(3, 3, 4)(np.zeros((2, 3), int), np.zeros((3, 3), int))
    # the start symbol (index out_vocab of the decoder's embedding) is not a target token
    with pytest.raises(ValueError, match=r"target tokens must be integers 0 to 2 \(out_vocab=3\); "
                                         r"got int64 values 0 to 3"):
        rb.models.Seq2Seq(3, 3, 4)(np.zeros((1, 2), int), np.array([[3, 0]]))
    with pytest.raises(ValueError, match="target tokens must be integers"):
        rb.models.Seq2Seq(3, 3, 4)(np.zeros((1, 2), int), np.array([[0.5, 1.0]]))
    # an empty target would still be decoded one step: refused
    model = rb.models.Seq2Seq(7, 6, 8, rng=0)
    with pytest.raises(ValueError, match=r"target must hold at least one time step .*\(1, 0\)"):
        model(np.array([[1, 2, 3]]), np.zeros((1, 0), np.int64))
    assert model.decoder_inputs(np.zeros((2, 0), np.int64)).shape == (2, 0)
    np.testing.assert_array_equal(model.decoder_inputs(np.array([[4, 5]])), [[6, 4]])


def _train_reverser(attention, steps=600, vocab=8, length=10, hidden=32):
    model = rb.models.Seq2Seq(vocab, vocab, hidden, attention=attention,
                              rng=np.random.default_rng(1))
    opt = rb.optim.Adam(model.parameters(), lr=0.01)
    data = np.random.default_rng(2)
    for _ in range(steps):
        src = data.integers(0, vocab, (32, length))
        tgt = src[:, ::-1]
        loss = rb.losses.cross_entropy(model(src, tgt), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    test = np.random.default_rng(3).integers(0, vocab, (500, length))
    pred = model.generate(test, length)
    return model, (pred == test[:, ::-1]).mean()


@pytest.mark.slow
def test_attention_reverses_sequences_better_than_no_attention():
    """Same encoder-decoder, same budget (600 Adam steps of 32 sequences of length 10,
    8 symbols, GRU 32): with attention the greedy decoder reverses held-out sequences
    almost perfectly; without, the single final state is a bottleneck."""
    model, with_attention = _train_reverser("dot")
    _, without = _train_reverser(None)
    assert with_attention > 0.88, with_attention
    assert without < 0.75, without
    assert with_attention - without > 0.2
    # the kept weights show the reversal: the focus moves backwards through the source,
    # one position per step (an anti-diagonal heat map; with a forward encoder the state
    # at position j + 1 also carries x_j, so the diagonal may sit one position off)
    focus = model.attention_weights.mean(axis=0).argmax(axis=-1)
    assert np.corrcoef(focus, np.arange(10))[0, 1] < -0.9, focus


def test_padded_sources_give_the_same_result_as_unpadded(rng):
    model = rb.models.Seq2Seq(5, 5, 6, cell="LSTM", attention="additive", rng=rng)
    short, tgt = rng.integers(0, 5, (1, 3)), rng.integers(0, 5, (1, 4))
    padded = np.concatenate([short, [[0, 0]]], axis=1)
    alone = model(short, tgt).data
    batch = np.concatenate([padded, rng.integers(0, 5, (1, 5))])
    both = model(batch, np.concatenate([tgt, tgt]), source_lengths=[3, 5])
    np.testing.assert_allclose(both.data[0], alone[0], rtol=1e-5, atol=1e-6)
    assert np.all(model.attention_weights[0, :, 3:] < 1e-9)
    out = model.generate(batch, 4, source_lengths=[3, 5])
    np.testing.assert_array_equal(out[0], model.generate(short, 4)[0])


def test_sizes_must_be_integers_and_generate_needs_a_batch():
    with pytest.raises(ValueError, match="Seq2Seq: in_vocab must be a positive integer; got 7.9"):
        rb.models.Seq2Seq(7.9, 6, 5)
    with pytest.raises(ValueError, match="Seq2Seq: hidden_size must be a positive integer"):
        rb.models.Seq2Seq(7, 6, 5.2)
    with pytest.raises(ValueError, match="Seq2Seq: embedding_dim must be a positive integer"):
        rb.models.Seq2Seq(7, 6, 5, embedding_dim=2.5)
    model = rb.models.Seq2Seq(5, 4, 3, rng=0)
    with pytest.raises(ValueError, match=r"Seq2Seq.generate: source must be a \(batch, time\) "
                                         r"token array; got shape \(2,\)"):
        model.generate(np.array([1, 2]), 3)
    with pytest.raises(ValueError, match="Seq2Seq.generate: length must be a positive integer"):
        model.generate(np.array([[1, 2]]), 0)
    assert model.generate(np.array([[1, 2]]), 3).shape == (1, 3)


def test_generate_checks_source_lengths_as_forward_does():
    """Audit s5 (a2): a scalar source_lengths gave a bare IndexError in generate."""
    m = rb.models.Seq2Seq(5, 6, 8, cell="LSTM", attention="dot", rng=0)
    src = np.array([[1, 2, 3, 4], [4, 3, 2, 1]])
    for call in (lambda: m(src, src, source_lengths=3),
                 lambda: m.generate(src, 2, source_lengths=3)):
        with pytest.raises(ValueError, match=r"lengths must be 2 integers \(one per sequence\); "
                                             r"got int64 array of shape \(\)"):
            call()
    assert m.generate(src, 2, source_lengths=[4, 2]).shape == (2, 2)
