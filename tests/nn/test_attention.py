"""Attention (dot and additive): weights, masking, gradchecks, PyTorch reference."""

import numpy as np
import pytest

import rosenblatt as rb


def _t(a):
    return rb.tensor(a, requires_grad=True)


@pytest.mark.parametrize("kind", ["dot", "additive"])
@pytest.mark.parametrize("steps", [None, 3])
def test_attention_gradcheck(rng, kind, steps):
    att = rb.nn.Attention(kind, query_size=4, key_size=4, attention_size=3, rng=rng)
    att.astype(np.float64)
    qshape = (2, 4) if steps is None else (2, steps, 4)
    q, k, v = _t(rng.standard_normal(qshape)), _t(rng.standard_normal((2, 5, 4))), _t(
        rng.standard_normal((2, 5, 3)))
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)

    def fn(q, k, v, *params):
        ctx, w = att(q, k, v, mask=mask)
        return rb.concatenate([ctx.reshape(-1), w.reshape(-1)])

    assert rb.gradcheck(fn, q, k, v, *att.parameters())
    ctx, w = att(q, k, v, mask=mask)
    np.testing.assert_allclose(w.data.sum(-1), 1)
    assert np.all(w.data[0, ..., 3:] < 1e-12)  # masked positions get no attention
    assert ctx.shape == qshape[:-1] + (3,)


def test_dot_attention_matches_torch(torch, rng):
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 6, 4))
    att = rb.nn.Attention("dot", scale=True)
    qt, kt = _t(q), _t(k)
    ctx, w = att(qt, kt)
    g = rng.standard_normal(ctx.shape)
    (ctx * g).sum().backward()
    tq, tk = torch.tensor(q, requires_grad=True), torch.tensor(k, requires_grad=True)
    tctx = torch.nn.functional.scaled_dot_product_attention(tq, tk, tk)
    (tctx * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ctx.data, tctx.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(qt.grad, tq.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(kt.grad, tk.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_masked_softmax_gradcheck(rng):
    keep = np.array([[True, False, True, True], [False, False, False, False],
                     [False, True, False, False]])
    x = _t(rng.standard_normal((3, 4)))
    assert rb.gradcheck(lambda x: rb.nn.functional.masked_softmax(x, keep), x)
    y = rb.nn.functional.masked_softmax(x, keep)
    np.testing.assert_array_equal(y.data[~keep], 0)
    np.testing.assert_allclose(y.data.sum(-1), [1, 0, 1])
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad[~keep], 0)  # no gradient into masked scores


def test_masked_softmax_matches_torch(torch, rng):
    """torch.softmax of the scores with the masked ones set to -inf (rows with a kept
    position: torch gives NaN for a row with none, where we define all zeros)."""
    s = rng.standard_normal((4, 3, 6)) * 5
    keep = rng.random((4, 1, 6)) < 0.6
    keep[:, :, 0] = True
    st = _t(s)
    y = rb.nn.functional.masked_softmax(st, keep)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    ts = torch.tensor(s, requires_grad=True)
    ty = torch.softmax(ts.masked_fill(~torch.tensor(keep), float("-inf")), dim=-1)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(st.grad, ts.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_dot_attention_with_a_mask_matches_torch(torch, rng):
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 6, 4)), \
        rng.standard_normal((2, 6, 5))
    keep = np.array([[1, 1, 0, 1, 0, 0], [1, 0, 0, 0, 0, 1]], dtype=bool)
    qt, kt, vt = _t(q), _t(k), _t(v)
    ctx, w = rb.nn.Attention("dot", scale=True)(qt, kt, vt, mask=keep)
    g = rng.standard_normal(ctx.shape)
    (ctx * g).sum().backward()
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tctx = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=torch.tensor(keep)[:, None, :])
    (tctx * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ctx.data, tctx.detach().numpy(), rtol=1e-10)
    for ours, theirs in ((qt, tq), (kt, tk), (vt, tv)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_masked_positions_get_exactly_zero_whatever_their_score():
    """Adding -1e9 let a score above 1e9 win and gave an all-masked row uniform weights."""
    q = np.ones((2, 3))
    k = np.zeros((2, 4, 3))
    k[:, 2] = 1e10  # a masked key with a score far above any offset
    keep = np.array([[True, True, False, True], [False, False, False, False]])
    ctx, w = rb.nn.Attention("dot")(q, k, mask=keep)
    np.testing.assert_allclose(w.data[0], [1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-6)
    np.testing.assert_array_equal(w.data[1], 0)  # all masked: no weight, zero context
    np.testing.assert_array_equal(ctx.data[1], 0)
    assert np.isfinite(ctx.data).all()


def test_attention_focuses_on_the_matching_key():
    keys = np.eye(4, dtype=np.float32)[None] * 10
    ctx, w = rb.nn.Attention("dot")(keys[:, 2], keys)
    assert w.data[0].argmax() == 2 and w.data[0, 2] > 0.99


def test_attention_errors():
    with pytest.raises(ValueError, match="kind must be 'additive' or 'dot'; got 'mul'"):
        rb.nn.Attention("mul")
    with pytest.raises(ValueError, match="query_size must be a positive integer"):
        rb.nn.Attention("additive")
    att = rb.nn.Attention("additive", query_size=3, key_size=4)
    with pytest.raises(ValueError, match="got query size 5 and key size 4"):
        att(np.zeros((2, 5)), np.zeros((2, 6, 4)))
    with pytest.raises(ValueError, match="mask must have shape"):
        rb.nn.Attention("dot")(np.zeros((2, 4)), np.zeros((2, 6, 4)), mask=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"values must be \(batch, time, d_v\).*\(2, 6\); got "
                                         r"values \(2, 5, 3\) and keys \(2, 6, 4\)"):
        rb.nn.Attention("dot")(np.zeros((2, 4)), np.zeros((2, 6, 4)), values=np.zeros((2, 5, 3)))
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match=f"attention_size must be a positive integer or "
                                             f"None \\(key_size\\); got {bad!r}"):
            rb.nn.Attention("additive", query_size=3, key_size=4, attention_size=bad)


def test_a_float_mask_is_refused_not_cast_to_bool():
    """PyTorch's additive masks (0 = attend, -inf = blocked) would be inverted by a cast to bool;
    only bools or exact 0/1 numbers are read as a keep mask."""
    att = rb.nn.Attention("dot")
    q, k = np.ones((1, 4), np.float32), np.ones((1, 3, 4), np.float32)
    for mask in ([[0.0, -np.inf, -np.inf]], [[0.2, 0.7, 0.0]]):
        with pytest.raises(ValueError, match="Attention: mask must be boolean"):
            att(q, k, mask=np.array(mask))
    _, w = att(q, k, mask=np.array([[1.0, 0.0, 1.0]]))
    np.testing.assert_allclose(w.data, [[0.5, 0.0, 0.5]])


@pytest.mark.parametrize("steps,time", [(5, 5), (3, 6)])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_causal_dot_attention_matches_torch(torch, rng, steps, time, with_mask, dtype):
    """causal=True: step i attends to positions j <= i (torch's is_causal, top-left aligned
    when steps != time), alone or with a key mask; context and q, k, v gradients."""
    B, d = 2, 4
    q = rng.standard_normal((B, steps, d)).astype(dtype)
    k = rng.standard_normal((B, time, d)).astype(dtype)
    v = rng.standard_normal((B, time, 3)).astype(dtype)
    mask = None
    if with_mask:
        mask = rng.random((B, time)) < 0.7
        mask[:, 0] = True  # every step keeps a position (torch gives NaN rows otherwise)
    att = rb.nn.Attention("dot", scale=True)
    qr, kr, vr = (rb.tensor(a, requires_grad=True) for a in (q, k, v))
    ctx, w = att(qr, kr, vr, mask=mask, causal=True)
    assert ctx.dtype == dtype
    np.testing.assert_array_equal(np.triu(w.data[0], 1), 0)
    g = rng.standard_normal(ctx.shape).astype(dtype)
    (ctx * g).sum().backward()
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    if mask is None:
        tctx = sdpa(tq, tk, tv, is_causal=True)
    else:
        keep = np.tri(steps, time, dtype=bool)[None] & mask[:, None, :]
        tctx = sdpa(tq, tk, tv, attn_mask=torch.tensor(keep))
    (tctx * torch.tensor(g)).sum().backward()
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ctx.data, tctx.detach().numpy(), **tol)
    for ours, theirs in ((qr, tq), (kr, tk), (vr, tv)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **tol)


def test_causal_additive_attention_and_errors(rng):
    att = rb.nn.Attention("additive", query_size=3, key_size=3, rng=0)
    x = rng.standard_normal((2, 4, 3))
    _, w = att(x, x, causal=True)
    assert all(np.array_equal(np.triu(w.data[b], 1), np.zeros((4, 4))) for b in range(2))
    np.testing.assert_allclose(w.data.sum(-1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match=r"Attention: causal=True needs queries of shape "
                                         r"\(batch, steps, d\)"):
        att(x[:, 0], x, causal=True)


@pytest.mark.parametrize("kind", ["dot", "additive"])
@pytest.mark.parametrize("single", [True, False])
def test_attention_runs_on_zero_rows(kind, single):
    # an idle data-parallel rank sends 0 rows through forward and backward
    sizes = dict(query_size=6, key_size=6) if kind == "additive" else {}
    att = rb.nn.Attention(kind, **sizes)
    q = rb.tensor(np.ones((0, 6) if single else (0, 2, 6)), requires_grad=True)
    k = rb.tensor(np.ones((0, 7, 6)), requires_grad=True)
    context, weights = att(q, k)
    assert context.shape == ((0, 6) if single else (0, 2, 6))
    assert weights.shape == ((0, 7) if single else (0, 2, 7))
    (context.sum() + weights.sum()).backward()
    assert q.grad.shape == q.shape and k.grad.shape == k.shape
