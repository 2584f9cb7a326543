"""Autoencoders: gradient checks of the penalties, the closed-form contractive term against the
brute-force Jacobian, tied and untied networks against PyTorch, bad input."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.autodiff.gradcheck import gradcheck
from rosenblatt.models.autoencoder import (
    Corruption,
    bernoulli_cross_entropy,
    contractive_penalty,
    encoder,
    sparsity_penalty,
    squared_error,
    tied_decoder,
)

PENALTIES = {"none": {}, "sparsity": {"sparsity": 0.1, "sparsity_weight": 3.0},
             "contractive": {"contractive": 0.3}}


def _model(output="sigmoid", tied=False, penalty="none", activation="sigmoid", n_in=6, n_h=5):
    ae = rb.models.Autoencoder(n_in, n_h, activation=activation, output=output, tied=tied,
                               rng=0, **PENALTIES[penalty])
    ae.astype(np.float64)
    rng = np.random.default_rng(1)
    for p in ae.parameters():
        p.data[...] = rng.normal(0, 0.6, p.shape)
    return ae


# -- gradient checks ------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_contractive_penalty_gradcheck(rng, activation):
    h = rng.uniform(0.05, 0.95, (4, 5)) if activation == "sigmoid" else rng.normal(0, 0.7, (4, 5))
    if activation == "relu":
        h = np.abs(h) * (rng.random(h.shape) < 0.6)
    h = rb.tensor(h, requires_grad=activation != "relu")  # relu: f' is a step, dh is 0 a.e.
    W = rb.tensor(rng.normal(size=(6, 5)), requires_grad=True)
    assert gradcheck(lambda a, b: contractive_penalty(a, b, activation, 0.7), h, W)


def test_sparsity_penalty_gradcheck(rng):
    h = rb.tensor(rng.uniform(0.05, 0.95, (7, 5)), requires_grad=True)
    assert gradcheck(lambda a: sparsity_penalty(a, 0.1, 2.5), h)


def test_loss_ops_gradcheck(rng):
    a = rb.tensor(rng.normal(0, 2, (4, 6)), requires_grad=True)
    x = rng.random((4, 6))
    assert gradcheck(lambda t: bernoulli_cross_entropy(t, x), a)
    assert gradcheck(lambda t: squared_error(t, x), a)


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_whole_loss_gradcheck_every_parameter(output, tied, penalty):
    ae = _model(output, tied, penalty)
    x = np.random.default_rng(2).random((4, 6))
    params = ae.parameters()
    assert gradcheck(lambda *ps: ae.loss(x), *params)


def test_closed_form_contractive_equals_the_brute_force_jacobian(rng):
    """sum_j f'(a_j)^2 ||W_:j||^2 = ||J_h(x)||_F^2 with J by centred finite differences."""
    for activation in ("sigmoid", "tanh"):
        ae = _model(activation=activation)
        x = rng.random((3, 6))
        eps = 1e-6
        J = np.empty((3, 5, 6))
        for i in range(6):
            step = np.zeros(6)
            step[i] = eps
            J[:, :, i] = (ae.transform(x + step) - ae.transform(x - step)) / (2 * eps)
        brute = (J ** 2).sum(axis=(1, 2))
        np.testing.assert_allclose(ae.jacobian_norm(x), brute, rtol=1e-7)
        h = ae.encode(x)
        value = contractive_penalty(h, ae.W, activation, 1.0).item()
        np.testing.assert_allclose(value, brute.mean(), rtol=1e-7)


# -- against PyTorch --------------------------------------------------------------------------
def _torch_loss(torch, ae, x, params):
    W, b = params["W"], params["b"]
    Wd = W.T if ae.tied else params["W_dec"]
    xt = torch.tensor(x, requires_grad=ae.contractive > 0)
    h = torch.sigmoid(xt @ W + b)
    a = h @ Wd + params["b_dec"]
    n = len(x)
    if ae.output == "sigmoid":
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            a, torch.tensor(x), reduction="sum") / n
    else:
        loss = 0.5 * ((a - torch.tensor(x)) ** 2).sum() / n
    if ae.sparsity is not None:
        rho, rho_hat = ae.sparsity, h.mean(0)
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        loss = loss + ae.sparsity_weight * kl.sum()
    if ae.contractive:
        # the brute-force Jacobian by autograd: row j is d(sum_t h_tj)/dx (examples independent)
        rows = [torch.autograd.grad(h[:, j].sum(), xt, create_graph=True)[0]
                for j in range(h.shape[1])]
        loss = loss + ae.contractive * sum((r ** 2).sum() for r in rows) / n
    return loss


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_same_loss_and_gradients_as_pytorch(output, tied, penalty):
    torch = pytest.importorskip("torch")
    ae = _model(output, tied, penalty)
    x = np.random.default_rng(3).random((8, 6))
    loss = ae.loss(x)
    for p in ae.parameters():
        p.grad = None
    loss.backward()
    params = {name: torch.tensor(p.data.copy(), requires_grad=True)
              for name, p in ae.named_parameters()}
    ref = _torch_loss(torch, ae, x, params)
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-10)
    for name, p in ae.named_parameters():
        np.testing.assert_allclose(p.grad, params[name].grad.numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_tied_gradient_is_the_sum_of_both_uses():
    ae = _model(tied=True)
    x = np.random.default_rng(4).random((5, 6))
    ae.loss(x).backward()
    total = ae.W.grad.copy()
    # the encoder's use alone, then the decoder's use alone (the other one held constant)
    parts = []
    for frozen in ("decoder", "encoder"):
        W = rb.tensor(ae.W.data.copy(), requires_grad=True)
        Wc = rb.tensor(ae.W.data.copy())

        h = encoder(rb.tensor(x), W if frozen == "decoder" else Wc, ae.b, "sigmoid")
        a = tied_decoder(h, Wc if frozen == "decoder" else W, ae.b_dec)
        bernoulli_cross_entropy(a, x).backward()
        parts.append(W.grad)
    np.testing.assert_allclose(total, parts[0] + parts[1], rtol=1e-12)


# -- behaviour --------------------------------------------------------------------------------
def test_corruption_kinds(rng):
    x = np.full((2000, 20), 0.5, dtype=np.float32)
    masked = Corruption("masking", 0.25)(x, rng)
    assert abs((masked == 0).mean() - 0.25) < 0.01 and set(np.unique(masked)) == {0.0, 0.5}
    sp = Corruption("salt_pepper", 0.2)(x, rng)
    assert abs((sp == 0).mean() - 0.1) < 0.01 and abs((sp == 1).mean() - 0.1) < 0.01
    g = Corruption("gaussian", 0.3)(x, rng)
    assert abs((g - x).std() - 0.3) < 0.01
    assert (x == 0.5).all()  # the clean input is untouched


def test_denoising_reconstructs_the_clean_input_in_fit():
    """Under rb.fit the model sees the corrupted batch, the loss compares with the clean one."""
    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    ae = rb.models.Autoencoder(6, 4, noise=("masking", 0.5), rng=0)
    seen = []

    class Spy(rb.callbacks.Callback):
        def on_backward(self, trainer):
            seen.append(trainer.x_batch.copy())

    ae.fit(X, epochs=1, batch_size=40, shuffle=False, callbacks=[Spy()])
    assert (seen[0] == 0).mean() > 0.3 and (X != 0).all()


def test_hidden_dropout_only_in_training():
    ae = rb.models.Autoencoder(6, 50, hidden_dropout=0.5, rng=0)
    x = np.random.default_rng(0).random((3, 6))
    a, b = ae(rb.tensor(x)).data, ae(rb.tensor(x)).data
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(ae.reconstruct(x), ae.reconstruct(x))


def test_sample_chain_shape_and_values():
    X, _ = rb.datasets.load_digits()
    ae = rb.models.Autoencoder(64, 32, noise=("salt_pepper", 0.2), rng=0)
    ae.fit(X[:300], epochs=2, batch_size=50)
    chain = ae.sample_chain(X[:4], steps=6, keep_every=2, rng=0)
    assert chain.shape == (3, 4, 64) and set(np.unique(chain)) <= {0.0, 1.0}
    means = ae.sample_chain(X[:4], steps=3, means=True, rng=0)
    assert means.shape == (3, 4, 64) and 0 < means.min() and means.max() < 1
    with pytest.raises(ValueError, match="noise"):
        rb.models.Autoencoder(64, 8).sample_chain(X[:2], 3)


def test_save_and_load_round_trip(tmp_path):
    ae = rb.models.Autoencoder(6, 4, tied=True, noise=("gaussian", 0.1), contractive=0.2,
                               sparsity=0.05, rng=0)
    rb.save(ae, tmp_path / "ae.safetensors")
    back = rb.load(tmp_path / "ae.safetensors")
    x = np.random.default_rng(0).random((3, 6))
    np.testing.assert_array_equal(back.transform(x), ae.transform(x))
    assert back.config() == ae.config()


# -- bad input --------------------------------------------------------------------------------
def test_bad_arguments_name_the_argument():
    X = np.random.default_rng(0).random((10, 6)).astype(np.float32)
    ae = rb.models.Autoencoder(6, 3, rng=0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 6\).*n_inputs"):
        ae.fit(X[:, :5], epochs=1)
    with pytest.raises(ValueError, match="shape"):
        ae.transform(X[:, :4])
    bad = X.copy()
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        ae.fit(bad, epochs=1)
    with pytest.raises(ValueError, match=r"noise kind must be .*'gausian'"):
        rb.models.Autoencoder(6, 3, noise=("gausian", 0.1))
    with pytest.raises(ValueError, match="noise must be"):
        rb.models.Autoencoder(6, 3, noise="masking")
    with pytest.raises(ValueError, match="noise level"):
        rb.models.Autoencoder(6, 3, noise=("masking", 1.5))
    for rho in (0, 1, 1.2, -0.1):
        with pytest.raises(ValueError, match=r"sparsity must be .* in \(0, 1\)"):
            rb.models.Autoencoder(6, 3, sparsity=rho)
    with pytest.raises(ValueError, match=r"X must lie in \[0, 1\] for loss='cross_entropy'"):
        ae.fit(X * 3 - 1, epochs=1)
    with pytest.raises(ValueError, match="validation_data must lie"):
        ae.fit(X, epochs=1, validation_data=X + 2)
    rb.models.Autoencoder(6, 3, output="linear", rng=0).fit(X * 3 - 1, epochs=1)  # fine
    with pytest.raises(ValueError, match="loss='cross_entropy' needs output='sigmoid'"):
        rb.models.Autoencoder(6, 3, output="linear", loss="cross_entropy")
    with pytest.raises(ValueError, match="activation"):
        rb.models.Autoencoder(6, 3, activation="softmax")
    with pytest.raises(ValueError, match="sparsity needs activation='sigmoid'"):
        rb.models.Autoencoder(6, 3, activation="tanh", sparsity=0.1)
    with pytest.raises(ValueError, match="n_hidden"):
        rb.models.Autoencoder(6, 0)
    with pytest.raises(ValueError, match="contractive"):
        rb.models.Autoencoder(6, 3, contractive=-1)
    # fit(X, X), the supervised habit: the argument and its type, not the whole array
    with pytest.raises(TypeError, match=r"epochs must be a non-negative integer; got ndarray of "
                                        r"shape \(10, 6\).*call fit\(X\), not fit\(X, X\)$"):
        ae.fit(X, X)
    with pytest.raises(ValueError, match="Autoencoder.fit: epochs must be"):
        ae.fit(X, epochs=-1)
    with pytest.raises(ValueError, match="validation_data must be held-out inputs.*differ"):
        ae.fit(X, epochs=1, validation_data=(X, 1 - X))


def test_validation_data_may_be_the_pair_x_x():
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    runs = []
    for validation_data in (X[:8], (X[:8], X[:8]), (X[:8], X[:8].copy()), (X[:8], None)):
        ae = rb.models.Autoencoder(6, 3, rng=0)
        runs.append(ae.fit(X, epochs=2, batch_size=5, shuffle=False,
                           validation_data=validation_data)["val_loss"])
    assert runs[1:] == runs[:1] * 3
    # two rows are data, not a pair
    ae = rb.models.Autoencoder(6, 3, rng=0)
    assert len(ae.fit(X, epochs=1, validation_data=[X[0], X[1]])["val_loss"]) == 1


@pytest.mark.parametrize("tied", [False, True])
def test_packed_parameters_get_the_same_gradients(tied):
    """An optimizer packs the parameters into one vector; the ops then write gradients into
    their slots in place (Tensor._grad_slot): W's several uses must still add up."""
    x = np.random.default_rng(5).random((6, 6))
    grads = []
    for packed in (False, True):
        ae = _model(tied=tied, penalty="contractive")
        if packed:
            opt = rb.optim.SGD(ae.parameters(), lr=0.1)
            opt.zero_grad()
        ae.loss(x).backward()
        grads.append({name: p.grad.copy() for name, p in ae.named_parameters()})
    for name in grads[0]:
        np.testing.assert_allclose(grads[1][name], grads[0][name], rtol=1e-12, err_msg=name)


def test_rb_seed_makes_a_run_reproducible():
    X = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    codes = []
    for _ in range(2):
        rb.seed(7)
        ae = rb.models.Autoencoder(6, 4, noise=("masking", 0.3), hidden_dropout=0.2)
        ae.fit(X, epochs=2, batch_size=16)
        codes.append(ae.transform(X))
    np.testing.assert_array_equal(codes[0], codes[1])


# -- audit a3 ------------------------------------------------------------------------------
def test_decode_refuses_nan_codes():
    ae = rb.models.Autoencoder(4, 3, rng=0)
    with pytest.raises(ValueError, match=r"Autoencoder\.decode: h contains NaN or infinite"):
        ae.decode(np.array([[0.1, np.nan, 0.2]]))
    with pytest.raises(ValueError, match=r"Autoencoder\.decode: h contains NaN or infinite"):
        ae.decode(np.array([[0.1, np.inf, 0.2]]))


def test_validation_pair_with_labels_is_explained():
    X = np.random.default_rng(0).random((20, 6))
    ae = rb.models.Autoencoder(6, 3, rng=0)
    with pytest.raises(ValueError, match=r"Autoencoder\.fit: validation_data must be held-out "
                                         r"inputs .* got a pair whose targets \(shape \(10,\)\)"):
        ae.fit(X, epochs=1, validation_data=(X[:10], np.arange(10)))
    stack = rb.models.StackedAutoencoder([6, 4, 2])
    with pytest.raises(ValueError, match=r"targets \(shape \(10,\)\)"):
        stack.pretrain(X, epochs_per_layer=1, validation_data=(X[:10], np.arange(10)))
    history = ae.fit(X, epochs=1, validation_data=(X[:10], None))  # a pair still works
    assert "val_loss" in history


def test_data_a_rounding_error_outside_0_1_are_clipped_others_named_exactly():
    X = np.array([[0.0, 0.5, 1.0 + 2.2e-16], [1.0, -1e-17, 0.0]])
    ae = rb.models.Autoencoder(3, 2, rng=0).astype(np.float64)
    ae.fit(X, epochs=1)
    with pytest.raises(ValueError, match=r"Autoencoder\.fit: X must lie in \[0, 1\] .* got 1\.5 "
                                         r"at row 1, column 2"):
        ae.fit(np.array([[0, 0, 1], [0, 1, 1.5]]), epochs=1)
