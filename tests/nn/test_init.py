"""Weight initialisation: statistics over many draws, against PyTorch's initialisers too."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn import init

SHAPE = (400, 300)  # (fan_in, fan_out): 120,000 draws


def test_glorot_uniform_bound_and_std(rng):
    w = init.glorot_uniform(SHAPE, rng=rng)
    bound = np.sqrt(6 / (400 + 300))
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.01)


def test_fan_in_and_he_std(rng):
    assert init.fan_in(SHAPE, rng=rng).std() == pytest.approx(1 / np.sqrt(400), rel=0.01)
    assert init.he(SHAPE, rng=rng).std() == pytest.approx(np.sqrt(2 / 400), rel=0.01)
    assert init.normal(SHAPE, rng=rng).std() == pytest.approx(0.001, rel=0.01)
    assert init.normal(SHAPE, std=0.1, rng=rng).std() == pytest.approx(0.1, rel=0.01)
    assert abs(init.he(SHAPE, rng=rng).mean()) < 1e-3


def test_statistics_match_torch(torch, rng):
    t = torch.empty(300, 400)  # torch stores (out, in)
    torch.manual_seed(0)
    ref_glorot = torch.nn.init.xavier_uniform_(t.clone()).numpy()
    ref_he = torch.nn.init.kaiming_normal_(t.clone(), nonlinearity="relu").numpy()
    ref_fan_in = torch.nn.init.kaiming_normal_(t.clone(), nonlinearity="linear").numpy()
    for ours, ref in [(init.glorot_uniform(SHAPE, rng=rng), ref_glorot),
                      (init.he(SHAPE, rng=rng), ref_he),
                      (init.fan_in(SHAPE, rng=rng), ref_fan_in)]:
        assert ours.std() == pytest.approx(ref.std(), rel=0.02)
        assert np.abs(ours).max() == pytest.approx(np.abs(ref).max(), rel=0.25)
    bound = np.abs(ref_glorot).max()
    assert np.abs(init.glorot_uniform(SHAPE, rng=rng)).max() == pytest.approx(bound, rel=1e-3)


def test_zeros_constant(rng):
    assert not init.zeros((3, 4)).any()
    np.testing.assert_array_equal(init.constant((2, 2), 0.5), 0.5)


@pytest.mark.parametrize("k", [1, 10, 50])
def test_sparse_has_k_nonzeros_per_unit(rng, k):
    w = init.sparse((100, 30), k=k, rng=rng)
    np.testing.assert_array_equal((w != 0).sum(axis=0), k)  # each unit: k incoming weights
    assert w[w != 0].std() == pytest.approx(1.0, rel=0.3 if k < 10 else 0.1)
    assert (init.sparse((5, 3), k=10, rng=rng) != 0).sum(axis=0).tolist() == [5, 5, 5]


def test_by_name_in_dense_and_bias_init(rng):
    for name in init.INITIALIZERS:
        layer = rb.nn.Dense(20, 10, init=name, rng=rng)
        assert layer.W.shape == (20, 10)
    assert init.get("he") is init.he
    fn = init.get(lambda shape, **kw: np.ones(shape))
    assert fn((2,)).sum() == 2
    layer = rb.nn.Dense(3, 2, init="he", bias_init=0.01)
    np.testing.assert_allclose(layer.b.data, 0.01)
    with pytest.raises(ValueError, match="init must be one of constant, fan_in, glorot_uniform"):
        init.get("uniform")
    with pytest.raises(ValueError, match=r"Dense: init must be one of .* got 5"):
        rb.nn.Dense(3, 2, init=5)
    with pytest.raises(TypeError, match="glorot_uniform: dtype must be a floating type .* "
                                        "got int32"):
        rb.nn.Dense(3, 2, dtype=np.int32)  # it silently made float32 weights
    for fn in init.INITIALIZERS.values():
        with pytest.raises(TypeError, match="dtype must be a floating type"):
            fn((3, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="sparse: needs a 2-D"):
        init.sparse((3, 3, 3))
    with pytest.raises(ValueError, match=r"normal: std must be a finite number >= 0; got -1"):
        init.normal((2, 2), std=-1)
    with pytest.raises(ValueError, match="sparse: k .* must be a positive integer; got -1"):
        init.sparse((5, 3), k=-1)  # it used to give n_in - 1 non-zeros per unit
    with pytest.raises(ValueError, match="sparse: std must be"):
        init.sparse((5, 3), std=float("nan"))


def test_seeded_by_rb_seed():
    rb.seed(5)
    a = rb.nn.Dense(4, 4).W.data
    rb.seed(5)
    np.testing.assert_array_equal(a, rb.nn.Dense(4, 4).W.data)


@pytest.mark.parametrize("shape", [(50, 50), (80, 30), (30, 80), (6, 4, 5)])
def test_orthogonal_is_orthogonal(rng, shape):
    w = init.orthogonal(shape, gain=2.0, rng=rng, dtype=np.float64)
    assert w.shape == shape
    m = w.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T  # the small side: 4 I
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(m, compute_uv=False), 2.0, rtol=1e-12)
    assert init.orthogonal((3, 3)).dtype == np.float32


def test_orthogonal_statistics_match_torch(torch, rng):
    """Haar-distributed: entries of an n x n orthogonal matrix have mean 0 and variance 1/n,
    as torch.nn.init.orthogonal_ gives; and a Dense layer takes it by name."""
    n, draws = 40, 50
    torch.manual_seed(0)
    ref = np.stack([torch.nn.init.orthogonal_(torch.empty(n, n)).numpy() for _ in range(draws)])
    ours = np.stack([init.orthogonal((n, n), rng=rng) for _ in range(draws)])
    for w in (ours, ref):
        # Q 1 is uniform on the sphere of radius sqrt(n): 1^T Q 1 has variance n, so
        # the mean entry has standard deviation 1 / (n^1.5 sqrt(draws))
        assert abs(w.mean()) < 5 / (n ** 1.5 * np.sqrt(draws))
        assert w.var() == pytest.approx(1 / n, rel=0.02)
    assert ours.var() == pytest.approx(ref.var(), rel=0.02)
    # the first entry's distribution (the sign fix makes it symmetric, not biased positive)
    assert abs((ours[:, 0, 0] > 0).mean() - 0.5) < 0.25
    assert init.get("orthogonal") is init.orthogonal
    W = rb.nn.Dense(20, 10, init="orthogonal", rng=rng).W.data
    np.testing.assert_allclose(W.T @ W, np.eye(10), atol=1e-5)


def test_orthogonal_errors():
    with pytest.raises(ValueError, match=r"orthogonal: needs a shape of 2 or more dimensions; "
                                         r"got \(5,\)"):
        init.orthogonal((5,))
    with pytest.raises(ValueError, match="orthogonal: gain must be a finite number; got nan"):
        init.orthogonal((3, 3), gain=float("nan"))


LAYERS_WITH_INIT = {
    "Dense": lambda f: rb.nn.Dense(3, 2, init=f),
    "Conv2d": lambda f: rb.nn.Conv2d(1, 2, 3, init=f),
    "Conv1d": lambda f: rb.nn.Conv1d(1, 2, 3, init=f),
    "Maxout": lambda f: rb.nn.Maxout(3, 2, init=f),
    "SparseDense": lambda f: rb.nn.SparseDense(3, 2, init=f),
    "Embedding": lambda f: rb.nn.Embedding(3, 2, init=f),
}


@pytest.mark.parametrize("layer", list(LAYERS_WITH_INIT))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_callable_init_of_the_documented_signature_works(layer, dtype):
    """fn(shape, fan_in=, fan_out=, rng=): dtype is optional; the result takes the layer's."""
    def without_dtype(shape, fan_in=None, fan_out=None, rng=None):
        return np.full(shape, 0.5)

    seen = {}

    def with_dtype(shape, *, fan_in=None, fan_out=None, rng=None, dtype=np.float32):
        seen["dtype"] = np.dtype(dtype)
        return np.full(shape, 0.25, dtype=dtype)

    for fn, value in ((without_dtype, 0.5), (with_dtype, 0.25)):
        module = LAYERS_WITH_INIT[layer](fn)
        if dtype == np.float64:
            module = LAYERS_WITH_INIT[layer](fn).astype(np.float64)
        W = module.W.data
        assert W.dtype == dtype
        assert np.all(W[W != 0] == value)
    assert seen["dtype"] == np.float32  # dtype= is passed to a callable that takes it
    dense = rb.nn.Dense(3, 2, init=with_dtype, dtype=np.float64)
    assert dense.W.dtype == np.float64 and seen["dtype"] == np.float64


def test_a_callable_init_must_return_an_array_of_the_shape():
    with pytest.raises(ValueError, match=r"Dense: init must return a numeric ndarray of shape "
                                         r"\(3, 2\); got shape \(2, 3\)"):
        rb.nn.Dense(3, 2, init=lambda shape, **kw: np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Conv2d: init must return .*got a list"):
        rb.nn.Conv2d(1, 2, 3, init=lambda shape, **kw: [0.0])
