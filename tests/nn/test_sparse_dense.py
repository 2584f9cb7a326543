"""SparseDense and Rewire (notes: "Nonlinear neural nets"): the op against PyTorch and a gradcheck
on both paths; the invariants of rewiring; masks saved with the model; bad input."""

import numpy as np
import pytest
import torch

import rosenblatt as rb


def layer64(sparse, density=0.1, seed=0):
    layer = rb.nn.SparseDense(20, 30, density=density, sparse_below=1.0 if sparse else 0.0,
                              rng=seed, dtype=np.float64)
    layer.b.data[:] = np.random.default_rng(seed).normal(size=30)
    return layer


@pytest.mark.parametrize("sparse", [True, False])
def test_matches_pytorch_masked_dense(sparse):
    layer = layer64(sparse)
    x = np.random.default_rng(1).normal(size=(7, 20))
    g = np.random.default_rng(2).normal(size=(7, 30))
    xt = rb.tensor(x, requires_grad=True)
    out = layer(xt)
    out.backward(g)
    W = torch.tensor(layer.W.data, requires_grad=True)
    b = torch.tensor(layer.b.data, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    ref = xr @ (W * torch.tensor(layer.mask)) + b
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(xt.grad, xr.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.W.grad, W.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.b.grad, b.grad.numpy(), rtol=1e-12)
    assert np.all(layer.W.grad[~layer.mask] == 0)


@pytest.mark.parametrize("sparse", [True, False])
def test_gradcheck_float64(sparse):
    layer = layer64(sparse, density=0.2)
    x = rb.tensor(np.random.default_rng(3).normal(size=(4, 20)), requires_grad=True)
    W = rb.tensor(layer.W.data.copy(), requires_grad=True)
    b = rb.tensor(layer.b.data.copy(), requires_grad=True)
    structure = layer.structure() if sparse else None
    assert rb.autodiff.gradcheck(
        lambda x, W, b: rb.nn.sparse_dense(x, W, b, layer.mask, structure).tanh(), x, W, b)


def test_live_connections_and_density():
    layer = rb.nn.SparseDense(100, 40, density=0.05, rng=0)
    assert layer.live_connections == 200 == int(np.count_nonzero(layer.W.data))
    assert "live=200/4,000" in repr(layer)
    assert rb.nn.SparseDense(3, 4, density=1.0, rng=0).live_connections == 12
    for bad in (0, 0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="SparseDense: density"):
            rb.nn.SparseDense(3, 4, density=bad)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 100\)"):
        layer(rb.tensor(np.ones((2, 99))))


def test_fit_never_moves_a_missing_connection():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 20)), rng.integers(0, 3, 64)
    net = rb.nn.Sequential(rb.nn.SparseDense(20, 16, density=0.2, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(16, 3, rng=0))
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(), lr=0.05),
           epochs=3, batch_size=16, progress=False, rng=0)
    assert np.all(net[0].W.data[~net[0].mask] == 0)


def make_net(seed=0):
    return rb.nn.Sequential(rb.nn.SparseDense(30, 20, density=0.2, rng=seed), rb.nn.ReLU(),
                            rb.nn.SparseDense(20, 4, density=0.5, rng=seed))


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 30)).astype(np.float32)
    return X, (X[:, :4].argmax(1))


@pytest.mark.parametrize("method", ["set", "rigl"])
def test_rewire_invariants(method):
    net = make_net()
    X, y = data()
    opt = rb.optim.Adam(net.parameters(), lr=0.01)
    rewire = rb.callbacks.Rewire(method, fraction=0.3, every=2, keep_masks=True, rng=0)
    live = [layer.live_connections for layer in (net[0], net[2])]
    history = rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=2, batch_size=16,
                     callbacks=[rewire], progress=False, rng=0)
    assert len(rewire.log) == 2 * 6  # 12 steps, every 2, two layers
    assert history["live_connections"] == [float(sum(live))] * 2
    assert [e["live"] for e in rewire.log] == live * 6
    for i in range(2):
        pairs = zip(rewire.masks[:-1], rewire.masks[1:])
        for step, ((_, before), (_, after)) in enumerate(pairs):
            entry = rewire.log[2 * step + i]
            broken, grown = entry["broken"], entry["grown"]
            assert len(broken) == len(grown) == round(0.3 * live[i])
            assert not set(broken) & set(grown)  # never revived in the step that broke it
            assert before[i].reshape(-1)[broken].all() and not after[i].reshape(-1)[broken].any()
            assert not before[i].reshape(-1)[grown].any() and after[i].reshape(-1)[grown].all()
            assert after[i].sum() == live[i]
    for layer in (net[0], net[2]):
        assert np.all(layer.W.data[~layer.mask] == 0)


def _one_rewired_step(make_opt, method):
    """One training step rewiring the first layer after it; the optimizer, the log entry, the
    first layer's slice of the flat vector and its changed and untouched live connections."""
    net = make_net()
    X, y = data(16)
    opt = make_opt(net.parameters())
    rewire = rb.callbacks.Rewire(method, fraction=0.25, every=1, layers=[net[0]], rng=0)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=16,
           callbacks=[rewire], progress=False, rng=0)
    entry = rewire.log[0]
    assert opt.vec.params[0] is net[0].W
    changed = np.concatenate((entry["broken"], entry["grown"]))
    untouched = np.setdiff1d(np.flatnonzero(net[0].mask), changed)
    return net, opt, entry, opt.vec.slices[0], changed, untouched


def test_rewire_resets_optimizer_state_and_rigl_grows_where_the_gradient_is_largest():
    net, opt, entry, sl, changed, untouched = _one_rewired_step(
        lambda params: rb.optim.Adam(params, lr=0.01), "rigl")
    assert np.all(opt.m[sl][changed] == 0) and np.all(opt.v[sl][changed] == 0)
    assert np.all(opt.v[sl][untouched] > 0)
    assert np.all(net[0].W.data.reshape(-1)[entry["grown"]] == 0)  # RigL: new weights start at 0


def test_rewire_restarts_adagrad_at_its_initial_accumulator_value():
    _, opt, _, sl, changed, untouched = _one_rewired_step(
        lambda params: rb.optim.Adagrad(params, lr=0.01, initial_accumulator_value=0.5), "set")
    assert len(changed) and np.all(opt.sum_sq[sl][changed] == 0.5)  # G starts afresh, at 0.5
    assert np.all(opt.sum_sq[sl][untouched] > 0.5)
    assert opt.state_dict()["initial_accumulator_value"] == 0.5


def test_rigl_grows_where_the_dense_gradient_is_largest():
    layer = rb.nn.SparseDense(10, 8, density=0.25, rng=0)
    x = np.random.default_rng(0).normal(size=(5, 10))
    g = np.random.default_rng(1).normal(size=(5, 8))
    layer.dense_grad = []
    layer(rb.tensor(x)).backward(g)
    np.testing.assert_allclose(layer.dense_grad[-1], x.T @ g, rtol=1e-5)
    dead = np.flatnonzero(~layer.mask)
    expected = dead[np.argsort(-np.abs((x.T @ g).reshape(-1)[dead]))[:5]]
    rewire = rb.callbacks.Rewire("rigl", fraction=0.25, rng=0)
    rewire._layers, rewire._rng = [layer], np.random.default_rng(0)
    rewire.rewire(rb.optim.SGD(layer.parameters(), lr=0.1))
    np.testing.assert_array_equal(rewire.log[0]["grown"], np.sort(expected))


def test_set_rewiring_needs_missing_connections():
    layer = rb.nn.SparseDense(4, 5, density=0.9, rng=0)  # 18 live, 2 missing
    rewire = rb.callbacks.Rewire("set", fraction=0.5, rng=0)
    rewire._layers, rewire._rng = [layer], np.random.default_rng(0)
    opt = rb.optim.SGD(layer.parameters(), lr=0.1)
    assert rewire.rewire(opt) == 2 and layer.live_connections == 18


def test_rewire_bad_arguments():
    for bad in (0, 1, 1.0, 1.5, -0.2, True):
        with pytest.raises(ValueError, match="fraction must be in \\(0, 1\\)"):
            rb.callbacks.Rewire(fraction=bad)
    with pytest.raises(ValueError, match="method"):
        rb.callbacks.Rewire("prune")
    with pytest.raises(ValueError, match="every"):
        rb.callbacks.Rewire(every=0)
    tiny = rb.nn.Sequential(rb.nn.SparseDense(2, 1, density=0.5, rng=0))  # one connection
    X, y = np.ones((4, 2)), np.ones((4, 1))
    with pytest.raises(ValueError, match="would remove every connection"):
        rb.fit(tiny, X, y, loss="mse", optimizer=rb.optim.SGD(tiny.parameters(), lr=0.1),
               epochs=1, callbacks=[rb.callbacks.Rewire(fraction=0.9)], progress=False)
    dense_only = rb.nn.Sequential(rb.nn.Dense(2, 1))
    with pytest.raises(ValueError, match="no SparseDense"):
        rb.fit(dense_only, X, y, loss="mse", optimizer=rb.optim.SGD(dense_only.parameters(),
               lr=0.1), epochs=1, callbacks=[rb.callbacks.Rewire()], progress=False)


def test_masks_round_trip_through_save_and_load(tmp_path):
    net = make_net()
    X, y = data()
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(), lr=0.01),
           epochs=1, batch_size=16, callbacks=[rb.callbacks.Rewire(every=2, rng=0)],
           progress=False, rng=0)
    path = tmp_path / "sparse.safetensors"
    rb.save(net, path)
    back = rb.load(path)
    for a, b in zip((net[0], net[2]), (back[0], back[2])):
        np.testing.assert_array_equal(a.mask, b.mask)
        assert b.mask.dtype == bool and b.live_connections == a.live_connections
    np.testing.assert_array_equal(back(rb.tensor(X)).data, net(rb.tensor(X)).data)


def test_rewired_run_resumes_bit_for_bit(tmp_path):
    X, y = data()

    def run(epochs, resume=None, save=None):
        net = make_net()
        opt = rb.optim.Adam(net.parameters(), lr=0.01)
        callbacks = [rb.callbacks.Rewire("set", fraction=0.3, every=4, rng=5)]
        if save:
            callbacks.append(rb.callbacks.Checkpoint(save))
        rb.fit(net, X, y, loss="cross_entropy", optimizer=opt, epochs=epochs, batch_size=16,
               callbacks=callbacks, progress=False, rng=0, resume_from=resume)
        return net

    straight = run(4)
    path = tmp_path / "ckpt.safetensors"
    run(2, save=path)
    resumed = run(4, resume=path)
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 37])
@pytest.mark.parametrize("density", [0.07, 0.4])  # rows of 0-8 connections, and of ~20
def test_compiled_sparse_path_matches_scipy(both, dtype, batch, density):
    # the sparse path with the compiled kernels: the products over the live connections
    # (sparse_rows_forward / sparse_rows_backward) and dE/dW for the live entries of x^T g
    # only (sampled_product), written over a packed gradient slot holding stale values;
    # without them SciPy's CSR products and the masked BLAS product. Equal to float
    # rounding, dE/dW zero off the mask
    layer = rb.nn.SparseDense(40, 50, density=density, sparse_below=1.0, rng=0, dtype=dtype)
    opt = rb.optim.SGD(layer.parameters(), lr=0.1)
    rng = np.random.default_rng(batch)
    x = rng.normal(size=(batch, 40)).astype(dtype)
    g = rng.normal(size=(batch, 50)).astype(dtype)

    def run():
        opt.zero_grad()
        opt.vec.grad[:] = np.nan  # stale contents of the flat gradient
        opt.zero_grad()
        xt = rb.tensor(x, requires_grad=True)
        out = layer(xt)
        out.backward(g)
        return [layer.W.grad.copy(), layer.b.grad.copy(), out.data.copy(), xt.grad.copy()]

    fast, slow = both(run)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert np.all(fast[0][~layer.mask] == 0) and np.isfinite(fast[0]).all()
    np.testing.assert_allclose(slow[0], (x.T @ g) * layer.mask, rtol=tol, atol=tol)
    Wm = layer.W.data * layer.mask
    np.testing.assert_allclose(fast[2], x @ Wm + layer.b.data, rtol=tol, atol=tol)
    np.testing.assert_allclose(fast[3], g @ Wm.T, rtol=tol, atol=tol)


@pytest.mark.parametrize("density", [0.05, 0.5])  # the sparse product and the masked GEMM
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_output_dtype_is_the_dense_products_on_both_paths(density, x_dtype, rng):
    """As Dense: a float32 layer given float64 input returns float64 (both paths agree)."""
    layer = rb.nn.SparseDense(30, 20, density=density, rng=0)
    dense = rb.nn.Dense(30, 20, rng=0)
    x = rb.tensor(rng.standard_normal((4, 30)).astype(x_dtype), requires_grad=True)
    y = layer(x)
    assert y.dtype == dense(x).dtype == np.result_type(x_dtype, np.float32)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    assert x.grad.dtype == x_dtype and layer.W.grad.dtype == np.float32
    W = layer.W.data.astype(np.float64) * layer.mask
    np.testing.assert_allclose(y.data, x.data.astype(np.float64) @ W + layer.b.data, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(x.grad, g @ W.T, rtol=1e-4, atol=1e-5)


# -- audit a5 -----------------------------------------------------------------------------------


def test_a_string_init_survives_save_and_load_so_set_grows_with_it(tmp_path):
    net = rb.nn.Sequential(rb.nn.SparseDense(64, 64, density=0.2, init="zeros", rng=0),
                           rb.nn.Tanh(), rb.nn.Dense(64, 2, rng=0))
    rb.save(net, tmp_path / "m.safetensors")
    back = rb.load(tmp_path / "m.safetensors")
    assert back[0].init == "zeros"
    rw = rb.callbacks.Rewire("set", fraction=0.3, rng=0)
    rw._layers, rw._rng = [back[0]], np.random.default_rng(0)
    _, grown = rw._rewire_layer(back[0], rb.optim.SGD(back.parameters(), lr=0.1))
    assert len(grown) and np.all(back[0].W.data.reshape(-1)[grown] == 0)


@pytest.mark.parametrize("density", [0.1, 0.5])  # the sparse (CSR) and the dense path
def test_a_clones_forward_leaves_the_originals_backward_alone(both, density):
    """A clone and its original in one graph (target networks, ensembles): each backward uses
    its own layer's weights, as torch's x @ (W * M) + b."""
    def run():
        A = rb.nn.SparseDense(30, 20, density=density, rng=0, dtype=np.float64)
        A(rb.tensor(np.zeros((1, 30))))  # builds the cached structure
        B = A.clone()
        B.W.data *= 3.0
        x = np.random.default_rng(0).normal(size=(4, 30))
        xa = rb.tensor(x, requires_grad=True)
        ya = A(xa)
        B(rb.tensor(x))  # the clone's forward between A's forward and backward
        (ya * ya).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        yt = xt @ (torch.tensor(A.W.data) * torch.tensor(A.mask)) + torch.tensor(A.b.data)
        (yt * yt).sum().backward()
        np.testing.assert_allclose(ya.data, yt.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(xa.grad, xt.grad.numpy(), atol=1e-12)
        return A.W.grad.copy()

    fast, slow = both(run)
    np.testing.assert_allclose(fast, slow, atol=1e-12)


@pytest.mark.parametrize("init", ["orthogonal", "sparse", "he"])
def test_set_rewiring_works_with_every_listed_initializer(init):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 20)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = rb.nn.Sequential(rb.nn.SparseDense(20, 16, density=0.2, init=init, rng=0),
                           rb.nn.Tanh(), rb.nn.Dense(16, 2, rng=0))
    rw = rb.callbacks.Rewire("set", rng=0)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=2, batch_size=16, progress=False, rng=0, callbacks=[rw])
    assert len(rw.log) == 2 and len(rw.log[0]["grown"]) > 0
    assert np.all(net[0].W.data[~net[0].mask] == 0)


@pytest.mark.parametrize("make", [np.asfortranarray, lambda m: np.ascontiguousarray(m.T).T,
                                  lambda m: m.astype(np.int8)])
def test_rewire_edits_a_user_set_mask_of_any_layout(make):
    layer = rb.nn.SparseDense(20, 20, density=0.3, rng=0)
    layer.mask = make(layer.mask)
    before = np.array(layer.mask, dtype=bool)
    rw = rb.callbacks.Rewire("set", fraction=0.3, rng=0)
    rw._layers, rw._rng = [layer], np.random.default_rng(0)
    broken, grown = rw._rewire_layer(layer, rb.optim.SGD(layer.parameters(), lr=0.1))
    after = np.asarray(layer.mask, dtype=bool)
    assert len(broken) == len(grown) == 36
    assert not after.reshape(-1)[broken].any() and after.reshape(-1)[grown].all()
    assert np.count_nonzero(before != after) == 72
    assert np.all(layer.W.data[~after] == 0)
    layer(rb.tensor(np.ones((2, 20), np.float32)))
    assert layer.mask.dtype == bool and layer.mask.flags.c_contiguous


def test_rigl_disarms_the_dense_gradient_when_fit_stops_on_an_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 50)).astype(np.float32)
    y = X[:, :1] * 2
    net = rb.nn.Sequential(rb.nn.SparseDense(50, 40, density=0.1, rng=0), rb.nn.Tanh(),
                           rb.nn.Dense(40, 1, rng=0))
    with pytest.raises(rb.training.DivergenceError):
        rb.fit(net, X, y, loss="mse", optimizer=rb.optim.SGD(net.parameters(), lr=1e6),
               epochs=3, batch_size=16, progress=False, rng=0,
               callbacks=[rb.callbacks.Rewire("rigl")])
    assert net[0].dense_grad is None


def test_set_rewiring_hands_a_callable_init_the_layers_shape():
    shapes = []

    def init(shape, fan_in, fan_out, rng):
        shapes.append(shape)
        n_in, n_out = shape  # a 2-D initializer
        return np.full(shape, 0.5)

    layer = rb.nn.SparseDense(10, 8, density=0.3, init=init, rng=0)
    rw = rb.callbacks.Rewire("set", fraction=0.3, rng=0)
    rw._layers, rw._rng = [layer], np.random.default_rng(0)
    _, grown = rw._rewire_layer(layer, rb.optim.SGD(layer.parameters(), lr=0.1))
    assert shapes == [(10, 8), (10, 8)]
    np.testing.assert_array_equal(layer.W.data.reshape(-1)[grown], 0.5)
