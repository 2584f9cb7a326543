"""Every primitive op: gradient check in float64, and forward + backward equal to PyTorch's.

Each case is ``(id, rosenblatt fn, torch fn, inputs)`` where an input is a
``(shape, kind)`` pair; ``kind`` keeps finite differences away from kinks and
domain edges ("pos": positive, "away": |x| >= 0.2, "distinct": no ties,
"clip": away from the clip bounds +-0.5). The torch function receives
float64 torch tensors, the rosenblatt one float64 Tensors. A new primitive
needs one line in ``CASES`` to get all three checks (gradcheck, PyTorch,
float32 in -> float32 out).
"""

import numpy as np
import pytest

import rosenblatt as rb


def _values(rng, shape, kind):
    if kind == "any":
        return rng.standard_normal(shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if kind == "away":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)
    if kind == "distinct":
        n = int(np.prod(shape))
        return (rng.permutation(n) * 0.1 - n * 0.05 + rng.uniform(0, 0.01, n)).reshape(shape)
    if kind == "clip":
        x = rng.uniform(-1.5, 1.5, shape)
        return np.where(np.abs(np.abs(x) - 0.5) < 0.05, x * 1.3, x)
    raise ValueError(kind)


def _torch():
    import torch  # only reached from tests that requested the torch fixture

    return torch


def _tpad(x, widths):
    """np.pad widths ((before, after) per axis) in torch's last-axis-first order."""
    flat = [w for pair in reversed(widths) for w in pair]
    return _torch().nn.functional.pad(x, flat)


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])
COND = np.array([[True], [False], [True]])
CONST = np.linspace(-1.0, 1.0, 4, dtype=np.float32)  # float32: keeps float32 tensors float32

A = [((3, 4), "any")]
AB = [((3, 4), "any"), ((3, 4), "any")]

CASES = [
    # arithmetic, with broadcasting and constants on either side
    ("add", lambda a, b: a + b, lambda a, b: a + b, AB),
    ("add-bcast-row", lambda a, b: a + b, lambda a, b: a + b, [((3, 4), "any"), ((4,), "any")]),
    ("add-bcast-both", lambda a, b: a + b, lambda a, b: a + b,
     [((2, 1, 4), "any"), ((3, 1), "any")]),
    ("add-scalar", lambda a: a + 2.5, lambda a: a + 2.5, A),
    ("radd-scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, A),
    ("radd-array", lambda a: CONST + a, lambda a: a.new_tensor(CONST) + a, A),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, AB),
    ("sub-bcast", lambda a, b: a - b, lambda a, b: a - b, [((4,), "any"), ((3, 4), "any")]),
    ("rsub-scalar", lambda a: 1.5 - a, lambda a: 1.5 - a, A),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, AB),
    ("mul-bcast", lambda a, b: a * b, lambda a, b: a * b, [((3, 1), "any"), ((1, 4), "any")]),
    ("rmul-array", lambda a: CONST * a, lambda a: a.new_tensor(CONST) * a, A),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [((3, 4), "any"), ((3, 4), "away")]),
    ("div-bcast", lambda a, b: a / b, lambda a, b: a / b, [((3, 4), "any"), ((3, 1), "pos")]),
    ("rdiv-scalar", lambda a: 2.0 / a, lambda a: 2.0 / a, [((3, 4), "away")]),
    ("neg", lambda a: -a, lambda a: -a, A),
    ("pow-int", lambda a: a**3, lambda a: a**3, A),
    ("pow-half", lambda a: a**0.5, lambda a: a**0.5, [((3, 4), "pos")]),
    ("pow-neg", lambda a: a**-2, lambda a: a**-2, [((3, 4), "away")]),
    ("pow-tensor", lambda a, b: a**b, lambda a, b: a**b, [((3, 4), "pos"), ((3, 4), "any")]),
    ("pow-tensor-bcast", lambda a, b: a**b, lambda a, b: a**b, [((3, 4), "pos"), ((4,), "any")]),
    ("rpow-scalar", lambda a: 2.0**a, lambda a: 2.0**a, A),
    # matmul: 2-D, 1-D on either side, batched with broadcasting
    ("matmul-2d", lambda a, b: a @ b, lambda a, b: a @ b, [((3, 4), "any"), ((4, 5), "any")]),
    ("matmul-vec-mat", lambda a, b: a @ b, lambda a, b: a @ b, [((4,), "any"), ((4, 5), "any")]),
    ("matmul-mat-vec", lambda a, b: a @ b, lambda a, b: a @ b, [((3, 4), "any"), ((4,), "any")]),
    ("matmul-vec-vec", lambda a, b: a @ b, lambda a, b: a @ b, [((4,), "any"), ((4,), "any")]),
    ("matmul-batch-mat", lambda a, b: a @ b, lambda a, b: a @ b,
     [((2, 3, 4), "any"), ((4, 5), "any")]),
    ("matmul-batch-batch", lambda a, b: a @ b, lambda a, b: a @ b,
     [((2, 3, 4), "any"), ((2, 4, 5), "any")]),
    ("matmul-batch-bcast", lambda a, b: a @ b, lambda a, b: a @ b,
     [((2, 1, 3, 4), "any"), ((3, 4, 2), "any")]),
    ("matmul-vec-batch", lambda a, b: a @ b, lambda a, b: a @ b,
     [((4,), "any"), ((2, 4, 5), "any")]),
    ("matmul-batch-vec", lambda a, b: a @ b, lambda a, b: a @ b,
     [((2, 3, 4), "any"), ((4,), "any")]),
    ("rmatmul-array", lambda a: CONST @ a, lambda a: a.new_tensor(CONST) @ a, [((4, 3), "any")]),
    # indexing
    ("getitem-slices", lambda a: a[1:3, ::2], lambda a: a[1:3, ::2], A),
    ("getitem-int", lambda a: a[1], lambda a: a[1], A),
    ("getitem-neg-step", lambda a: a[::-1, 3:0:-2], lambda a: a.flip(0)[:, [3, 1]], A),
    ("getitem-none-ellipsis", lambda a: a[None, ..., 2], lambda a: a[None, ..., 2], A),
    ("getitem-repeated", lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]], A),
    ("getitem-pairs-repeated", lambda a: a[[0, 1, 0, 0], [2, 2, 2, 3]],
     lambda a: a[[0, 1, 0, 0], [2, 2, 2, 3]], A),
    ("getitem-array-and-slice", lambda a: a[np.array([2, 2]), 1:3],
     lambda a: a[[2, 2], 1:3], A),
    ("getitem-bool-mask", lambda a: a[MASK], lambda a: a[_torch().tensor(MASK)], A),
    ("getitem-bool-rows", lambda a: a[np.array([True, False, True])],
     lambda a: a[[0, 2]], A),
    # shape
    ("reshape", lambda a: a.reshape(2, 6), lambda a: a.reshape(2, 6), A),
    ("reshape-tuple-neg", lambda a: a.reshape((4, -1)), lambda a: a.reshape(4, -1), A),
    ("transpose", lambda a: a.transpose(), lambda a: a.permute(2, 1, 0), [((2, 3, 4), "any")]),
    ("transpose-axes", lambda a: a.transpose(1, 2, 0), lambda a: a.permute(1, 2, 0),
     [((2, 3, 4), "any")]),
    ("T", lambda a: a.T, lambda a: a.T, A),
    ("swapaxes", lambda a: a.swapaxes(0, -1), lambda a: a.transpose(0, -1), [((2, 3, 4), "any")]),
    ("flatten", lambda a: a.flatten(), lambda a: a.flatten(1), [((2, 3, 4), "any")]),
    ("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [((3, 1, 4), "any")]),
    ("expand_dims", lambda a: a.expand_dims(1), lambda a: a.unsqueeze(1), A),
    # reductions
    ("sum", lambda a: a.sum(), lambda a: a.sum(), [((2, 3, 4), "any")]),
    ("sum-axis", lambda a: a.sum(axis=1), lambda a: a.sum(1), [((2, 3, 4), "any")]),
    ("sum-axes-keepdims", lambda a: a.sum(axis=(0, -1), keepdims=True),
     lambda a: a.sum((0, -1), keepdim=True), [((2, 3, 4), "any")]),
    ("mean", lambda a: a.mean(), lambda a: a.mean(), [((2, 3, 4), "any")]),
    ("mean-axis", lambda a: a.mean(axis=-1), lambda a: a.mean(-1), [((2, 3, 4), "any")]),
    ("mean-axes-keepdims", lambda a: a.mean(axis=(0, 2), keepdims=True),
     lambda a: a.mean((0, 2), keepdim=True), [((2, 3, 4), "any")]),
    ("max", lambda a: a.max(), lambda a: a.amax(), [((3, 4), "distinct")]),
    ("max-axis", lambda a: a.max(axis=0), lambda a: a.amax(0), [((3, 4), "distinct")]),
    ("max-axes-keepdims", lambda a: a.max(axis=(1, 2), keepdims=True),
     lambda a: a.amax((1, 2), keepdim=True), [((2, 3, 4), "distinct")]),
    ("min", lambda a: a.min(), lambda a: a.amin(), [((3, 4), "distinct")]),
    ("min-axis-keepdims", lambda a: a.min(axis=1, keepdims=True),
     lambda a: a.amin(1, keepdim=True), [((3, 4), "distinct")]),
    ("var", lambda a: a.var(), lambda a: a.var(correction=0), [((3, 4), "any")]),
    ("var-axis-ddof1", lambda a: a.var(axis=0, ddof=1), lambda a: a.var(0, correction=1), A),
    ("var-axes-keepdims", lambda a: a.var(axis=(0, 2), keepdims=True),
     lambda a: a.var((0, 2), correction=0, keepdim=True), [((2, 3, 4), "any")]),
    ("logsumexp", lambda a: a.logsumexp(), lambda a: a.logsumexp((0, 1)), A),
    ("logsumexp-axis", lambda a: rb.logsumexp(a, axis=1), lambda a: a.logsumexp(1), A),
    ("logsumexp-keepdims", lambda a: a.logsumexp(axis=0, keepdims=True),
     lambda a: a.logsumexp(0, keepdim=True), A),
    # elementwise functions
    ("exp", lambda a: a.exp(), lambda a: a.exp(), A),
    ("log", lambda a: a.log(), lambda a: a.log(), [((3, 4), "pos")]),
    ("sqrt", lambda a: a.sqrt(), lambda a: a.sqrt(), [((3, 4), "pos")]),
    ("abs", lambda a: abs(a), lambda a: a.abs(), [((3, 4), "away")]),
    ("tanh", lambda a: a.tanh(), lambda a: a.tanh(), A),
    ("sigmoid", lambda a: a.sigmoid(), lambda a: a.sigmoid(), A),
    ("relu", lambda a: a.relu(), lambda a: a.relu(), [((3, 4), "away")]),
    ("clip", lambda a: a.clip(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), [((3, 4), "clip")]),
    ("clip-min", lambda a: rb.clip(a, min=-0.5), lambda a: a.clamp(min=-0.5), [((3, 4), "clip")]),
    ("clip-max", lambda a: rb.clip(a, max=0.5), lambda a: a.clamp(max=0.5), [((3, 4), "clip")]),
    ("maximum", lambda a, b: rb.maximum(a, b), lambda a, b: a.maximum(b),
     [((3, 4), "distinct"), ((3, 4), "any")]),
    ("maximum-bcast", lambda a, b: rb.maximum(a, b), lambda a, b: a.maximum(b),
     [((3, 4), "distinct"), ((4,), "any")]),
    ("maximum-const", lambda a: rb.maximum(a, 0.3), lambda a: a.clamp(min=0.3),
     [((3, 4), "distinct")]),
    ("minimum", lambda a, b: rb.minimum(a, b), lambda a, b: a.minimum(b),
     [((3, 4), "distinct"), ((3, 4), "any")]),
    ("minimum-bcast", lambda a, b: rb.minimum(a, b), lambda a, b: a.minimum(b),
     [((3, 1), "any"), ((3, 4), "distinct")]),
    ("where", lambda a, b: rb.where(MASK, a, b),
     lambda a, b: _torch().where(_torch().tensor(MASK), a, b), AB),
    ("where-bcast", lambda a, b: rb.where(COND, a, b),
     lambda a, b: _torch().where(_torch().tensor(COND), a, b), [((3, 4), "any"), ((4,), "any")]),
    # joining and splitting
    ("concatenate-0", lambda a, b: rb.concatenate([a, b]), lambda a, b: _torch().cat([a, b]),
     [((2, 4), "any"), ((3, 4), "any")]),
    ("concatenate-neg-axis", lambda a, b: rb.concatenate([a, b, a], axis=-1),
     lambda a, b: _torch().cat([a, b, a], -1), [((3, 2), "any"), ((3, 4), "any")]),
    ("stack", lambda a, b: rb.stack([a, b]), lambda a, b: _torch().stack([a, b]), AB),
    ("stack-last", lambda a, b: rb.stack([a, b, b], axis=-1),
     lambda a, b: _torch().stack([a, b, b], -1), AB),
    ("split-sections", lambda a: rb.split(a, 2, axis=1),
     lambda a: _torch().tensor_split(a, 2, 1), A),
    ("split-indices", lambda a: rb.split(a, [1, 3]), lambda a: _torch().tensor_split(a, [1, 3]),
     [((5, 2), "any")]),
    ("pad", lambda a: rb.pad(a, ((1, 0), (2, 3))), lambda a: _tpad(a, ((1, 0), (2, 3))), A),
    ("pad-int-value", lambda a: rb.pad(a, 1, constant_values=0.5),
     lambda a: _torch().nn.functional.pad(a, (1, 1, 1, 1), value=0.5), A),
]

IDS = [case[0] for case in CASES]


def _inputs(rng, specs, dtype=np.float64):
    return [rb.tensor(_values(rng, shape, kind).astype(dtype), requires_grad=True)
            for shape, kind in specs]


def _outputs(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case, rng):
    _, fn, _, specs = case
    inputs = _inputs(rng, specs)

    def scalar_or_tensor(*xs):
        outs = _outputs(fn(*xs))
        # several outputs (split): weight them differently so each gets a distinct gradient
        return outs[0] if len(outs) == 1 else rb.concatenate(
            [o.reshape(-1) * (k + 1) for k, o in enumerate(outs)])

    assert rb.gradcheck(scalar_or_tensor, *inputs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(case, rng, torch):
    _, fn, tfn, specs = case
    arrays = [_values(rng, shape, kind) for shape, kind in specs]
    xs = [rb.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs, touts = _outputs(fn(*xs)), _outputs(tfn(*ts))
    assert len(outs) == len(touts)
    upstream = [rng.standard_normal(o.shape) for o in outs]
    for o, t in zip(outs, touts):
        assert o.dtype == np.float64
        np.testing.assert_allclose(o.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for o, g in zip(outs, upstream):
        o.backward(g)  # several outputs: their gradients accumulate into the inputs
    torch.autograd.backward(touts, [torch.tensor(g) for g in upstream])
    for x, t in zip(xs, ts):
        expected = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
        got = np.zeros(x.shape) if x.grad is None else x.grad
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_stays_float32(case, rng):
    _, fn, _, specs = case
    xs = _inputs(rng, specs, dtype=np.float32)
    outs = _outputs(fn(*xs))
    for o in outs:
        assert isinstance(o.data, np.ndarray)
        assert o.dtype == np.float32
    for o in outs:
        o.backward(np.ones(o.shape, np.float32))
    for x in xs:
        assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


# -- ties and kinks, where finite differences cannot judge: PyTorch's conventions --


@pytest.mark.parametrize(
    "fn, tfn",
    [
        (lambda a: a.max(), lambda a: a.amax()),
        (lambda a: a.max(axis=1), lambda a: a.amax(1)),
        (lambda a: a.min(axis=0, keepdims=True), lambda a: a.amin(0, keepdim=True)),
        (lambda a: rb.maximum(a, a[::-1]), lambda a: a.maximum(a.flip(0))),
        (lambda a: rb.minimum(a, 1.0), lambda a: a.minimum(a.new_tensor(1.0))),
        (lambda a: a.relu(), lambda a: a.relu()),
        (lambda a: abs(a), lambda a: a.abs()),
        (lambda a: a.clip(0.0, 1.0), lambda a: a.clamp(0.0, 1.0)),
    ],
    ids=["max-all", "max-axis", "min-keepdims", "maximum", "minimum-const", "relu", "abs", "clip"],
)
def test_ties_and_kinks_match_torch(fn, tfn, torch, rng):
    a = np.array([[1.0, 0.0, 1.0, -2.0], [0.0, 0.0, -1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    x, t = rb.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    out, tout = fn(x), tfn(t)
    np.testing.assert_allclose(out.data, tout.detach().numpy())
    g = rng.standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


def test_ties_share_the_gradient_evenly():
    x = rb.tensor(np.array([3.0, 1.0, 3.0, 3.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [1 / 3, 0, 1 / 3, 1 / 3])
    a, b = rb.tensor([2.0], requires_grad=True), rb.tensor([2.0], requires_grad=True)
    rb.maximum(a, b).backward(np.ones(1, np.float32))
    assert a.grad[0] == b.grad[0] == 0.5


def test_getitem_accumulates_repeated_indices():
    x = rb.tensor(np.arange(4.0), requires_grad=True)
    x[np.array([1, 1, 3, 1])].backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [0.0, 7.0, 0.0, 3.0])


def test_getitem_with_tensor_index():
    x = rb.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    idx = rb.tensor([2, 0, 2])  # float data from integers: used as integer indices
    y = x[idx]
    np.testing.assert_array_equal(y.data, [[4, 5], [0, 1], [4, 5]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1, 1], [0, 0], [2, 2]])


def test_relu_against_shared_zeros_keeps_nan_and_never_exposes_the_buffer():
    from rosenblatt.autodiff import elementwise

    x = np.array([[-1.0, 0.0, 2.0, np.nan]], dtype=np.float32)
    y = elementwise.relu_array(x)
    np.testing.assert_array_equal(y, [[0.0, 0.0, 2.0, np.nan]])
    z = elementwise.zeros_view((3, 5), np.float64)
    assert z.shape == (3, 5) and z.dtype == np.float64 and not z.any()
    with pytest.raises(ValueError):
        z[0, 0] = 1.0  # read-only: no op can spoil the zeros
    out = np.full(4, -3.0, dtype=np.float32)
    elementwise.relu_array(out, out=out)  # in place, as the RNN uses it
    assert not out.any()


def test_relu_on_an_array_over_the_shared_buffer_limit(monkeypatch):
    from rosenblatt.autodiff import elementwise

    monkeypatch.setattr(elementwise, "_ZEROS_LIMIT", 10)
    assert elementwise.zeros_view((4, 4), np.float32) is None
    x = rb.tensor(np.linspace(-1, 1, 2048).reshape(32, 64), requires_grad=True)
    y = rb.autodiff.relu(x)
    y.sum().backward()
    np.testing.assert_array_equal(y.data, np.maximum(x.data, 0))
    np.testing.assert_array_equal(x.grad, x.data > 0)
