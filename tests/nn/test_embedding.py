"""Embedding and one-hot: gather/scatter-add, against PyTorch, gradcheck, errors."""

import numpy as np
import pytest

import rosenblatt as rb


def test_one_hot():
    out = rb.nn.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.argmax(-1), [[0, 2], [1, 1]])
    assert out.sum() == 4
    with pytest.raises(ValueError, match="index 3 is out of range for 3 entries"):
        rb.nn.one_hot([3], 3)


def test_embedding_equals_one_hot_matmul(rng):
    emb = rb.nn.Embedding(7, 4, rng=rng).astype(np.float64)
    idx = rng.integers(0, 7, (3, 5))
    out = emb(idx)
    np.testing.assert_allclose(out.data, rb.nn.one_hot(idx, 7, np.float64) @ emb.W.data)


def test_embedding_matches_torch_with_repeated_indices(torch, rng):
    emb = rb.nn.Embedding(6, 3, rng=rng).astype(np.float64)
    idx = np.array([[1, 1, 4], [0, 1, 5]])  # index 1 three times: its gradients add up
    g = rng.standard_normal((2, 3, 3))
    (emb(idx) * g).sum().backward()
    ref = torch.nn.Embedding(6, 3)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(emb.W.data))
    (ref(torch.tensor(idx)) * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(emb.W.grad, ref.weight.grad.numpy(), rtol=1e-12)


def test_embedding_gradcheck(rng):
    W = rb.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    idx = np.array([[0, 3, 3], [4, 0, 1]])
    assert rb.gradcheck(lambda w: rb.nn.functional.embedding(idx, w), W)


def test_embedding_errors():
    emb = rb.nn.Embedding(4, 2)
    with pytest.raises(ValueError, match=r"Embedding\(4, 2\): index 4 is out of range for 4 "
                                         r"entries \(valid: 0 to 3\)"):
        emb(np.array([1, 4]))
    with pytest.raises(TypeError, match=r"Embedding\(4, 2\): indices must be integers"):
        emb(np.array([0.5]))
    with pytest.raises(ValueError, match="embedding_dim must be a positive integer"):
        rb.nn.Embedding(4, 0)


@pytest.mark.parametrize("padding_idx", [0, 3, -1])
def test_padding_idx_matches_torch(padding_idx):
    torch = pytest.importorskip("torch")
    emb = rb.nn.Embedding(6, 4, rng=0, padding_idx=padding_idx)
    row = padding_idx % 6
    assert emb.padding_idx == row and not emb.W.data[row].any()
    ref = torch.nn.Embedding(6, 4, padding_idx=padding_idx)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(emb.W.data))
    idx = np.array([[0, 3, 5, 5], [row, 1, row, 2]])
    g = np.random.default_rng(1).standard_normal((2, 4, 4)).astype(np.float32)
    out = emb(idx)
    out.backward(g)
    ref_out = ref(torch.tensor(idx))
    ref_out.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(emb.W.grad, ref.weight.grad.numpy(), atol=1e-6)
    assert not emb.W.grad[row].any()


def test_padding_idx_is_saved_and_checked(tmp_path):
    emb = rb.nn.Embedding(5, 3, rng=0, padding_idx=2)
    rb.save(emb, tmp_path / "e.safetensors")
    assert rb.load(tmp_path / "e.safetensors").padding_idx == 2
    for bad in (5, -6, 1.5, "0"):
        with pytest.raises(ValueError, match="padding_idx must be an integer"):
            rb.nn.Embedding(5, 3, padding_idx=bad)


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), 5, -6, 1.0, "0"])
def test_functional_embedding_refuses_a_bad_padding_idx_at_the_call(bad):
    """As the layer (and torch.nn.functional.embedding): True would zero every row's
    gradient (W[True] is all of W), an index out of range would fail only in backward."""
    W = rb.tensor(np.ones((5, 2), np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"embedding: padding_idx must be an integer in "
                                         r"\[-5, 5\) or None; got"):
        rb.nn.functional.embedding(np.array([0, 1, 2]), W, padding_idx=bad)


@pytest.mark.parametrize("padding_idx", [np.int64(1), -1, 4])
def test_functional_embedding_padding_idx_matches_torch(torch, padding_idx):
    W = rb.tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    idx = np.array([[0, 1, 4], [4, 1, 2]])
    g = np.random.default_rng(0).standard_normal((2, 3, 2))
    rb.nn.functional.embedding(idx, W, padding_idx=padding_idx).backward(g)
    tw = torch.tensor(W.data, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=int(padding_idx)) \
        .backward(torch.tensor(g))
    np.testing.assert_array_equal(W.grad, tw.grad.numpy())
    assert not W.grad[int(padding_idx) % 5].any()


@pytest.mark.parametrize("make", ["sgd", "adam", "adamw"])
def test_padding_row_under_weight_decay_moves_as_in_torch(torch, make):
    """Weight decay is no gradient: a padding row loaded non-zero decays, as torch's does
    (its gradient is 0, its decay term is not); a zero padding row stays zero."""
    emb = rb.nn.Embedding(5, 3, rng=0, padding_idx=1, dtype=np.float64)
    emb.W.data[1] = [1.0, -2.0, 0.5]
    ref = torch.nn.Embedding(5, 3, padding_idx=1)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(emb.W.data))
    zero = rb.nn.Embedding(5, 3, rng=0, padding_idx=1, dtype=np.float64)
    options = {"sgd": (rb.optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9,
                                                           weight_decay=0.1)),
               "adam": (rb.optim.Adam, torch.optim.Adam, dict(lr=0.1, weight_decay=0.1)),
               "adamw": (rb.optim.AdamW, torch.optim.AdamW, dict(lr=0.1, weight_decay=0.1))}
    ours, theirs, kwargs = options[make]
    opt, ref_opt, zero_opt = ours([emb.W], **kwargs), theirs(ref.parameters(), **kwargs), \
        ours([zero.W], **kwargs)
    idx = np.array([[0, 1, 2], [1, 3, 1]])
    g = np.random.default_rng(0).standard_normal((2, 3, 3))
    for _ in range(3):
        for o, layer in ((opt, emb), (zero_opt, zero)):
            o.zero_grad()
            layer(idx).backward(g)
            o.step()
        ref_opt.zero_grad()
        ref(torch.tensor(idx)).backward(torch.tensor(g))
        ref_opt.step()
    np.testing.assert_allclose(emb.W.data, ref.weight.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(emb.W.data[1], [1.0, -2.0, 0.5])
    assert not zero.W.data[1].any()
