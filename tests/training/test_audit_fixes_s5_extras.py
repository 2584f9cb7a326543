"""Audit fixes (round s5, area a4): adversarial training, transfer, curriculum, Rewire (SET and
RigL), SparseDense's dense gradient and Module.load_state_dict."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import transfer

nn = rb.nn
A = rb.adversarial


def _pixels(n=32, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)).astype(np.float32)
    return X, (X.sum(1) > d / 2).astype(np.int64)


# -- adversarial ------------------------------------------------------------------------------
@pytest.mark.parametrize("attack", [A.FGSM(eps=3.0, clip=(0, 255)),
                                    A.PGD(eps=3.0, step=1.0, steps=2, clip=(0, 255))])
def test_adversarial_fit_on_uint8_pixels(attack):
    X, y = _pixels(16)
    X8 = (X * 255).astype(np.uint8)
    seen = []
    perturb = attack.perturb

    def recording(model, x, yb, loss_fn):
        xa = perturb(model, x, yb, loss_fn)
        seen.append((xa, x))
        return xa

    attack.perturb = recording
    net = nn.Dense(4, 2, rng=0)
    h = rb.fit(net, X8, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=1e-4),
               epochs=1, batch_size=8, progress=False, adversarial=attack)
    assert np.isfinite(h["loss"][0]) and len(seen) == 2
    for xa, x in seen:
        assert xa.dtype == np.float32
        assert np.abs(xa - x.astype(np.float32)).max() <= 3.0 + 1e-5
        assert xa.min() >= 0 and xa.max() <= 255


def test_fgsm_of_integer_inputs_is_float32_as_documented():
    X, y = _pixels(4)
    xa = A.fgsm(nn.Dense(4, 2, rng=0), (X * 255).astype(np.uint8), y, eps=1.0, clip=(0, 255))
    assert xa.dtype == np.float32
    assert "integer" in A.fgsm.__doc__ and "float32" in A.fgsm.__doc__


@pytest.mark.parametrize("cls", [A.FGSM, A.PGD])
def test_adversarial_training_with_input_noise_keeps_the_perturbation_within_eps(cls):
    X, y = _pixels(64)
    seen = []

    class Recording(cls):
        def perturb(self, model, x, yb, loss_fn):
            xa = super().perturb(model, x, yb, loss_fn)
            seen.append(float(np.abs(xa - x).max()))
            return xa

    attack = Recording(eps=0.05) if cls is A.FGSM else Recording(eps=0.05, step=0.03, steps=3)
    net = nn.Dense(4, 2, rng=0)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=1, batch_size=16, progress=False, rng=0,
           regularizers=[rb.regularizers.InputNoise(0.3)], adversarial=attack)
    assert len(seen) == 4 and max(seen) <= 0.05 + 1e-6


def test_the_attack_never_pushes_an_input_further_outside_clip():
    net = nn.Dense(2, 2, rng=0)
    x = np.array([[1.3, -0.2], [0.5, 0.5]], np.float32)  # a noised batch, outside (0, 1)
    y = np.array([0, 1])
    g = A.input_gradient(net, x, y)
    xa = A.FGSM(eps=0.1).perturb(net, x, y, rb.losses.cross_entropy)
    assert np.abs(xa - x).max() <= 0.1 + 1e-6
    low, high = np.minimum(x, 0), np.maximum(x, 1)
    assert (xa >= low - 1e-7).all() and (xa <= high + 1e-7).all()
    inside = (x >= 0) & (x <= 1)
    want = np.clip(x + 0.1 * np.sign(g), 0, 1)
    np.testing.assert_allclose(xa[inside], want[inside], atol=1e-7)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_attacks_refuse_non_finite_inputs(bad):
    net = nn.Dense(2, 2, rng=0)
    x, y = np.array([[0.5, bad], [0.2, 0.3]]), np.array([0, 1])
    with pytest.raises(ValueError, match="fgsm: x contains NaN or infinite values"):
        A.fgsm(net, x, y, eps=0.1, clip=None)
    with pytest.raises(ValueError, match="pgd: x contains NaN or infinite values"):
        A.pgd(net, x, y, eps=0.1, step=0.05, steps=2)
    with pytest.raises(ValueError, match="input_gradient: x contains NaN or infinite values"):
        A.input_gradient(net, x, y)


def test_attacks_on_a_model_without_an_input_gradient_say_so():
    net = nn.Sequential(nn.Embedding(10, 4, rng=0), nn.Flatten(), nn.Dense(12, 2, rng=1))
    X = np.random.default_rng(0).integers(0, 10, (16, 3))
    y = np.arange(16) % 2
    with pytest.raises(ValueError, match="fgsm: the model's output does not depend on x"):
        A.fgsm(net, X[:2], y[:2], eps=1, clip=None)
    with pytest.raises(ValueError, match="input_gradient: the model's output does not depend"):
        A.input_gradient(net, X[:2], y[:2])
    with pytest.raises(ValueError, match="FGSM: the model's output does not depend on x"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, batch_size=8, progress=False, adversarial=A.FGSM(eps=1, clip=None))


def test_boolean_switches_of_pgd_and_replace_output_refuse_strings():
    net = nn.Dense(2, 2, rng=0)
    x, y = np.array([[0.5, 0.5]], np.float32), np.array([0])
    with pytest.raises(TypeError, match="pgd: random_start must be True or False; got 'false'"):
        A.pgd(net, x, y, 0.1, 0.03, 2, random_start="false", rng=0)
    body = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=1))
    with pytest.raises(TypeError, match="replace_output: freeze must be True or False"):
        transfer.replace_output(body, nn.Dense(8, 5), freeze="false")
    assert all(p.requires_grad for p in body.parameters())


# -- transfer ---------------------------------------------------------------------------------
def test_drop_accepts_numpy_integers_and_errors_name_the_caller():
    net = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=1))
    assert len(transfer.feature_extractor(net, np.int64(1))) == 2
    assert transfer.features(net, np.ones((2, 4), np.float32), drop=np.int32(1)).shape == (2, 8)
    assert len(transfer.replace_output(net.clone(), nn.Dense(8, 5), drop=np.int64(1))) == 3
    with pytest.raises(ValueError, match=r"features: drop must be an integer in 1\.\.2; got 3"):
        transfer.features(net, np.ones((2, 4)), drop=3)
    with pytest.raises(ValueError, match=r"replace_output: drop must be an integer in 1\.\.2"):
        transfer.replace_output(net, nn.Dense(8, 5), drop=True)


def test_replace_output_documents_that_the_original_is_frozen_too():
    net = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=1))
    transfer.replace_output(net, nn.Dense(8, 5))
    assert [p.requires_grad for p in net.parameters()] == [False, False, True, True]
    doc = transfer.replace_output.__doc__
    assert "model.clone()" in doc and "frozen as well" in doc
    kept = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=1))
    transfer.replace_output(kept.clone(), nn.Dense(8, 5))  # the documented way to keep it
    assert all(p.requires_grad for p in kept.parameters())


# -- curriculum -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, np.int64(0)])
def test_curriculum_order_takes_an_int_seed(seed):
    c = rb.training.curriculum.Curriculum([0.9, 0.1, 0.5, 0.3, 0.2], shuffle_pool=True)
    want = c.order(1, np.random.default_rng(0))
    assert np.array_equal(c.order(1, seed), want)
    with pytest.raises(TypeError, match="rng must be"):
        c.order(1, "0")


# -- Module.load_state_dict -------------------------------------------------------------------
def test_a_refused_partial_load_leaves_the_model_as_it_was():
    pre = nn.Sequential(nn.Dense(4, 8, rng=0), nn.ReLU(), nn.Dense(8, 3, rng=1))
    new = nn.Sequential(nn.Dense(4, 8, rng=2), nn.ReLU(), nn.Dense(8, 5, rng=3))
    before = {k: v.copy() for k, v in new.state_dict().items()}
    with pytest.raises(ValueError, match=r"2\.W has shape \(8, 5\) in the model but \(8, 3\)"):
        new.load_state_dict(pre.state_dict(), strict=False)
    for key, value in new.state_dict().items():
        assert np.array_equal(value, before[key]), key
    state = {k: v for k, v in pre.state_dict().items() if k.startswith("0.")}
    new.load_state_dict(state, strict=False)  # the body alone loads
    assert np.array_equal(new[0].W.data, pre[0].W.data)


# -- SparseDense's dense gradient ---------------------------------------------------------------
def test_dense_gradient_of_a_layer_used_twice_is_summed_over_its_uses():
    layer = nn.SparseDense(4, 4, density=1.0, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(5, 4))
    layer.dense_grad = []
    out = layer(layer(rb.tensor(x)))
    (out * out).sum().backward()
    assert len(layer.dense_grad) == 1
    np.testing.assert_allclose(layer.dense_grad[0], layer.W.grad, rtol=1e-12)
    layer.W.grad = None  # a second backward pass: a new entry
    out = layer(rb.tensor(x))
    out.sum().backward()
    assert len(layer.dense_grad) == 2
    np.testing.assert_allclose(layer.dense_grad[1], layer.W.grad, rtol=1e-12)


def test_the_attacks_backward_collects_no_dense_gradient():
    net = nn.Sequential(nn.SparseDense(4, 4, density=0.5, rng=0), nn.Dense(4, 2, rng=1))
    net[0].dense_grad = []
    X, y = _pixels(4)
    A.fgsm(net, X, y, eps=0.1)
    assert net[0].dense_grad == []


def test_rigl_with_adversarial_training_uses_the_objectives_dense_gradient():
    rng = np.random.default_rng(0)
    X, y = rng.random((16, 6)), np.arange(16) % 2
    got = []

    class Spy(rb.callbacks.Rewire):
        def _rewire_layer(self, layer, optimizer):
            got.append([g.copy() for g in layer.dense_grad])
            return super()._rewire_layer(layer, optimizer)

    net = nn.Sequential(nn.SparseDense(6, 8, density=0.5, rng=0, dtype=np.float64), nn.Tanh(),
                        nn.Dense(8, 2, rng=1, dtype=np.float64))
    start = [p.data.copy() for p in net.parameters()]
    mask = net[0].mask.copy()
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.0),
           epochs=1, batch_size=16, progress=False, shuffle=False,
           callbacks=[Spy("rigl", fraction=0.25, every=1)], adversarial=A.FGSM(eps=0.05))
    assert len(got) == 1 and len(got[0]) == 1
    for p, v in zip(net.parameters(), start):
        p.data[...] = v
    layer = net[0]
    layer.mask[...] = mask
    x_adv = A.fgsm(net, X, y, 0.05)

    def dense_grad_of(xin):
        layer.dense_grad = []
        rb.losses.cross_entropy(net(rb.tensor(xin)), y).backward()
        g, layer.dense_grad = layer.dense_grad[-1], None
        return g

    full = 0.5 * dense_grad_of(X) + 0.5 * dense_grad_of(x_adv)
    np.testing.assert_allclose(got[0][0], full, rtol=1e-10, atol=1e-14)


# -- Rewire -----------------------------------------------------------------------------------
def _rewire_run(path, epochs, resume=False):
    X = np.random.default_rng(0).normal(size=(32, 4))
    y = np.arange(32) % 2
    net = nn.Sequential(nn.SparseDense(4, 8, density=0.5, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))
    rw = rb.callbacks.Rewire("set", fraction=0.25, every=3, rng=0)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=epochs, batch_size=8, progress=False, rng=0,
           callbacks=[rw, rb.callbacks.Checkpoint(path)], resume_from=path if resume else None)
    return net, rw


def test_rewire_every_k_resumes_bit_for_bit(tmp_path):
    full, rw_full = _rewire_run(tmp_path / "a.ckpt", 2)
    _rewire_run(tmp_path / "b.ckpt", 1)  # interrupted after epoch 1 (4 steps)
    resumed, rw_res = _rewire_run(tmp_path / "b.ckpt", 2, resume=True)
    assert [e["step"] for e in rw_full.log] == [3, 6]
    assert [e["step"] for e in rw_res.log] == [6]
    assert np.array_equal(full[0].mask, resumed[0].mask)
    for a, b in zip(full.parameters(), resumed.parameters()):
        assert np.array_equal(a.data, b.data)


def test_rewire_leaves_frozen_sparse_layers_alone():
    X, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2
    base = nn.Sequential(nn.SparseDense(4, 8, density=0.5, rng=0), nn.Tanh(), nn.Dense(8, 3, rng=1))
    W0, M0 = base[0].W.data.copy(), base[0].mask.copy()
    new = transfer.replace_output(base, nn.SparseDense(8, 2, density=0.5, rng=2))
    opt = rb.optim.SGD([p for p in new.parameters() if p.requires_grad], lr=0.1)
    for method in ("set", "rigl"):
        rw = rb.callbacks.Rewire(method, fraction=0.25, every=2, rng=0)
        rb.fit(new, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=8,
               callbacks=[rw], progress=False)
        assert rw.log and {e["layer"] for e in rw.log} == {0} and rw._layers == [new[-1]]
    assert np.array_equal(base[0].mask, M0) and np.array_equal(base[0].W.data, W0)
    with pytest.raises(ValueError, match="Rewire: .*frozen"):
        rb.fit(new, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=8,
               callbacks=[rb.callbacks.Rewire(layers=[new[0]])], progress=False)
    frozen = nn.Sequential(nn.SparseDense(4, 2, density=0.5, rng=0), nn.Dense(2, 2, rng=1))
    frozen[0].freeze()
    with pytest.raises(ValueError, match="Rewire: the model has no trainable SparseDense layer"):
        rb.fit(frozen, X, y, loss="cross_entropy",
               optimizer=rb.optim.SGD(frozen[1].parameters(), lr=0.1), epochs=1,
               callbacks=[rb.callbacks.Rewire()], progress=False)


def test_rewire_checks_its_layers_argument():
    sparse = nn.SparseDense(4, 8, density=0.5, rng=0)
    for bad in ([nn.Dense(2, 2)], [nn.Sequential(sparse)], "layers", 3):
        with pytest.raises(TypeError, match="Rewire: layers must be rb.nn.SparseDense layers"):
            rb.callbacks.Rewire(layers=bad)
    assert rb.callbacks.Rewire(layers=sparse).layers == [sparse]
    assert rb.callbacks.Rewire(layers=(sparse,)).layers == [sparse]


# -- audit b3 (round 2): Rewire's layers, keep_masks on resume, a layer used twice ---------------
def _sparse_net(seed=0):
    return nn.Sequential(nn.SparseDense(4, 8, density=0.5, rng=seed), nn.Tanh(),
                         nn.Dense(8, 2, rng=1))


def test_rewire_refuses_an_empty_layers_list():
    with pytest.raises(ValueError, match="Rewire: layers is empty"):
        rb.callbacks.Rewire(layers=[])
    with pytest.raises(ValueError, match="Rewire: layers is empty"):
        rb.callbacks.Rewire(layers=())


@pytest.mark.parametrize("method", ["set", "rigl"])
def test_rewire_refuses_a_layer_not_in_the_model(method):
    X, y = np.random.default_rng(0).normal(size=(16, 4)), np.arange(16) % 2
    net, other = _sparse_net(), nn.SparseDense(4, 8, density=0.5, rng=3)
    with pytest.raises(ValueError, match="is not a layer of the model being trained"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, batch_size=8, progress=False,
               callbacks=[rb.callbacks.Rewire(method, layers=[other])])


def _masks_run(path, epochs, resume=False):
    X, y = np.random.default_rng(0).normal(size=(32, 4)), np.arange(32) % 2
    net = _sparse_net()
    rw = rb.callbacks.Rewire("set", fraction=0.25, rng=0, keep_masks=True)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=epochs, batch_size=8, progress=False, rng=0,
           callbacks=[rw, rb.callbacks.Checkpoint(path)], resume_from=path if resume else None)
    return rw


def test_rewire_keep_masks_on_resume_labels_the_resume_step(tmp_path):
    full = _masks_run(tmp_path / "a.ckpt", 3)
    _masks_run(tmp_path / "b.ckpt", 2)
    res = _masks_run(tmp_path / "b.ckpt", 3, resume=True)
    assert [s for s, _ in full.masks] == [0, 4, 8, 12]
    assert [s for s, _ in res.masks] == [8, 12]
    assert np.array_equal(res.masks[0][1][0], full.masks[2][1][0])


@pytest.mark.parametrize("method", ["set", "rigl"])
@pytest.mark.parametrize("given", [False, True])
def test_rewire_a_layer_used_twice_is_one_layer(method, given):
    X = np.random.default_rng(0).random((64, 8))
    y = (X[:, 0] * 3).astype(int) % 3
    sd = nn.SparseDense(8, 8, density=0.5, rng=1)
    net = nn.Sequential(sd, nn.Tanh(), sd, nn.Tanh(), nn.Dense(8, 3, rng=2))
    live = sd.live_connections
    cb = rb.callbacks.Rewire(method, fraction=0.25, rng=5, layers=[sd, sd] if given else None)
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
           epochs=1, batch_size=16, shuffle=False, callbacks=[cb], progress=False)
    assert cb._layers == [sd] and len(cb.log) == 1
    assert len(cb.log[0]["grown"]) == round(0.25 * live)
    assert sd.live_connections == live
