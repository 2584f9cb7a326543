"""Audit h3 (session 11): generative and unsupervised models. An RBM optimizer that holds
none of its parameters, one callback (or a non-callback) given to RBM.fit, DBN.pretrain and
GAN.fit, and non-real inputs cast silently by ConditionalGAN (condition vectors), Perceptron
and Autoencoder.decode; Autoencoder.penalty of no rows."""

import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training.callbacks import Callback, EarlyStopping

nn = rb.nn


def _bits(n=30, d=6, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(np.float32)


def _gan():
    return rb.models.GAN(nn.Dense(2, 6, rng=0), nn.Dense(6, 1, rng=1), noise_dim=2, rng=0)


def _cgan(**kw):
    G = nn.Sequential(nn.Dense(2 + 2, 8, rng=0), nn.Tanh(), nn.Dense(8, 2, rng=1))
    D = nn.Sequential(nn.Dense(2 + 2, 8, rng=2), nn.Tanh(), nn.Dense(8, 1, rng=3))
    return rb.models.ConditionalGAN(G, D, noise_dim=2, rng=0, **kw)


# -- an RBM optimizer must hold the RBM's parameters ----------------------------------------
@pytest.mark.parametrize("params", ["other_rbm", "dense"])
def test_rbm_fit_refuses_an_optimizer_of_other_parameters(params):
    rbm = rb.models.RBM(6, 3, rng=0)
    other = rb.models.RBM(6, 3, rng=1) if params == "other_rbm" else nn.Dense(6, 2, rng=0)
    before = rbm.W.data.copy()
    with pytest.raises(ValueError, match="does not hold the RBM's parameter"):
        rbm.fit(_bits(), epochs=1, batch_size=10, progress=False,
                optimizer=rb.optim.SGD(other.parameters(), lr=0.5))
    assert np.array_equal(rbm.W.data, before)


def test_rbm_fit_refuses_an_optimizer_that_is_not_one():
    with pytest.raises(TypeError, match="optimizer must be an rb.optim optimizer"):
        rb.models.RBM(6, 3, rng=0).fit(_bits(), epochs=1, optimizer="sgd", progress=False)


def test_rbm_fit_still_takes_its_own_optimizers_and_a_frozen_parameter():
    rbm = rb.models.RBM(6, 3, rng=0)
    before = rbm.W.data.copy()
    rbm.fit(_bits(), epochs=1, batch_size=10, progress=False,
            optimizer=rb.optim.Adam(rbm.parameters(), lr=0.01))
    assert not np.array_equal(rbm.W.data, before)
    frozen = rb.models.RBM(6, 3, rng=0)
    frozen.W.requires_grad = False  # an optimizer on the trainable rest is right
    frozen.fit(_bits(), epochs=1, batch_size=10, progress=False,
               optimizer=rb.optim.SGD([frozen.b, frozen.c], lr=0.1))
    noisy = rb.models.RBM(6, 3, rng=0)
    noisy.fit(_bits(), epochs=1, batch_size=10, progress=False,
              optimizer=rb.optim.GradientNoise(rb.optim.SGD(noisy.parameters(), lr=0.1), rng=0))


# -- one callback, or a non-callback, in RBM.fit, DBN.pretrain and GAN.fit ---------------------
class _Count(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.epochs += 1


_FITS = {
    "RBM.fit": lambda cb: rb.models.RBM(6, 3, rng=0).fit(_bits(), epochs=2, callbacks=cb,
                                                           progress=False),
    "DBN.pretrain": lambda cb: rb.models.DBN([6, 4], rng=0).pretrain(
        _bits(), epochs_per_layer=2, callbacks=cb, progress=False),
    "GAN.fit": lambda cb: _gan().fit(_bits(), 2, batch_size=10, callbacks=cb),
}


@pytest.mark.parametrize("where", list(_FITS))
def test_one_callback_is_taken_as_rb_fit_takes_it(where):
    cb = _Count()
    _FITS[where](cb)
    assert cb.epochs == 2


@pytest.mark.parametrize("where", list(_FITS))
@pytest.mark.parametrize("bad", [[1], [EarlyStopping], ["early"]], ids=["int", "class", "str"])
def test_a_callback_that_is_not_one_is_named_before_training(where, bad):
    with pytest.raises(TypeError, match=rf"{where}: callbacks must be rb.callbacks.Callback"):
        _FITS[where](bad)


# -- ConditionalGAN: condition vectors must be real numbers --------------------------------
@pytest.mark.parametrize("y", ["complex", "strings"])
def test_cgan_condition_vectors_refuse_complex_numbers_and_strings(y):
    cg = _cgan(condition_dim=2)
    Y = np.random.default_rng(1).random((20, 2))
    Y = Y + 1j if y == "complex" else Y.astype(str)
    X = np.random.default_rng(0).random((20, 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a ComplexWarning was all there was)
        with pytest.raises(TypeError, match="fit: y must be real condition vectors"):
            cg.fit(X, Y, 1, batch_size=10)
        with pytest.raises(TypeError, match="sample: y must be real condition vectors"):
            cg.sample(2, y=Y[:2])
        with pytest.raises(TypeError, match="discriminate: y must be real condition vectors"):
            cg.discriminate(X[:2], Y[:2])


def test_cgan_ragged_conditions_are_named():
    with pytest.raises(ValueError, match="sample: y must be one condition per example"):
        _cgan(condition_dim=2).sample(2, y=[[0.1, 0.2], [0.3]])
    with pytest.raises(ValueError, match="sample: y must be one condition per example"):
        _cgan(n_classes=2).sample(2, y=[[0, 1], [1]])


def test_cgan_conditions_still_take_what_they_took():
    cg = _cgan(condition_dim=2)
    assert cg.check_conditions([0.5, 1], n=3).shape == (3, 2)  # one vector for all
    assert cg.check_conditions(np.ones((3, 2), dtype=np.int64)).dtype == np.float32
    labels = _cgan(n_classes=2)
    assert labels.check_conditions([0, 1.0, 1]).tolist() == [0, 1, 1]


# -- Perceptron: complex data --------------------------------------------------------------
def test_perceptron_refuses_complex_inputs_and_targets():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([-1, -1, -1, 1])
    p = rb.models.Perceptron(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="Perceptron.fit: X must hold real numbers"):
            p.fit(X + 5j, y)
        with pytest.raises(TypeError, match="Perceptron.predict: X must hold real numbers"):
            p.predict(X + 1j)
        with pytest.raises(ValueError, match="Perceptron.score: y must hold the numbers"):
            p.score(X, y + 0j)
    assert p.fit(X, y, epochs=20)[-1] == 0  # real data as before


# -- Autoencoder.decode of non-numeric codes, penalty of no rows -----------------------------
@pytest.mark.parametrize("h", ["none", "strings", "complex"])
def test_autoencoder_decode_refuses_non_real_codes(h):
    ae = rb.models.Autoencoder(4, 2, rng=0)
    codes = np.array([[0.2, 0.7]], dtype=np.float32)
    value = {"none": None, "strings": codes.astype(str), "complex": codes + 1j}[h]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="Autoencoder.decode: h must be a numeric array"):
            ae.decode(value)
    assert ae.decode(codes).shape == (1, 4)


@pytest.mark.parametrize("kw", [{"contractive": 0.1}, {"sparsity": 0.1}])
def test_autoencoder_penalty_of_no_rows_is_a_clear_error(kw):
    ae = rb.models.Autoencoder(4, 2, rng=0, **kw)
    with pytest.raises(ValueError, match="penalty: x must hold at least one row"):
        ae.penalty(np.zeros((0, 4), np.float32))
    assert ae.penalty(np.full((3, 4), 0.5, np.float32)) is not None


# -- Autoencoder.tied is fixed at construction -----------------------------------------------
@pytest.mark.parametrize("built, value, error", [(False, True, ValueError),
                                                 (True, False, ValueError),
                                                 (False, "no", TypeError)])
def test_autoencoder_tied_changed_since_is_refused_at_fit_and_save(tmp_path, built, value,
                                                                  error):
    ae = rb.models.Autoencoder(4, 2, rng=0, tied=built)
    ae.tied = value
    X = np.random.default_rng(0).random((8, 4)).astype(np.float32)
    with pytest.raises(error, match="Autoencoder.fit: tied"):
        ae.fit(X, epochs=1)
    path = tmp_path / "ae.safetensors"
    with pytest.raises(error, match="save: Autoencoder: tied"):
        rb.save(ae, path)
    assert not path.exists()  # no file that rb.load would refuse
    ae.tied = built  # put back: trains and round-trips
    ae.fit(X, epochs=1)
    rb.save(ae, path)
    assert rb.load(path).tied is built


# -- DBN.visible is the bottom RBM's ---------------------------------------------------------
def test_dbn_visible_set_after_construction_sets_the_bottom_rbm_and_round_trips(tmp_path):
    X = _bits()
    dbn = rb.models.DBN([6, 4, 3], rng=0)
    dbn.visible = "gaussian"
    assert dbn.rbms[0].visible == "gaussian" and dbn.rbms[1].visible == "bernoulli"
    dbn.pretrain(X, epochs_per_layer=1, progress=False)
    rb.save(dbn, tmp_path / "dbn.safetensors")
    back = rb.load(tmp_path / "dbn.safetensors")
    assert back.rbms[0].visible == "gaussian"
    np.testing.assert_allclose(back.rbms[0].free_energy(X), dbn.rbms[0].free_energy(X))
    with pytest.raises(ValueError, match="visible must be"):
        dbn.visible = "binary"


@pytest.mark.parametrize("layer", [0, 1])
def test_dbn_refuses_an_rbm_whose_visible_units_were_changed_alone(tmp_path, layer):
    dbn = rb.models.DBN([6, 4, 3], rng=0)
    dbn.rbms[layer].visible = "gaussian"
    with pytest.raises(ValueError, match=rf"pretrain: rbms\[{layer}\].visible is 'gaussian'"):
        dbn.pretrain(_bits(), epochs_per_layer=1, progress=False)
    with pytest.raises(ValueError, match=rf"rbms\[{layer}\].visible is 'gaussian'"):
        rb.save(dbn, tmp_path / "dbn.safetensors")
    assert not (tmp_path / "dbn.safetensors").exists()


# -- StackedAutoencoder: kind and layer_options changed since construction --------------------
@pytest.mark.parametrize("change", ["kind", "layer_options"])
def test_stack_saves_its_layers_as_they_are_when_kind_or_options_changed(tmp_path, change):
    X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    stack = rb.models.StackedAutoencoder([6, 4, 3], kind="denoising", rng=0)
    if change == "kind":
        stack.kind = "contractive"
    else:
        stack.layer_options["noise"] = ("gaussian", 0.1)
    stack.pretrain(X, epochs_per_layer=1)
    rb.save(stack, tmp_path / "stack.safetensors")
    back = rb.load(tmp_path / "stack.safetensors")
    for mine, theirs in zip(stack.layers, back.layers):
        assert theirs.config() == mine.config()


def test_stack_refuses_to_save_a_tied_changed_in_layer_options(tmp_path):
    stack = rb.models.StackedAutoencoder([6, 4, 3], kind="plain", rng=0)
    stack.layer_options["tied"] = True
    with pytest.raises(ValueError, match="tied is fixed at construction"):
        rb.save(stack, tmp_path / "stack.safetensors")
    assert not (tmp_path / "stack.safetensors").exists()


def test_stack_layer_overrides_do_not_draw_from_the_library_generator():
    stack = rb.models.StackedAutoencoder([6, 4, 3], kind="sparse")
    stack.layers[0].sparsity = 0.2
    rb.seed(3)
    state = rb.randomness.generator().bit_generator.state
    assert stack.layer_overrides == [{"sparsity": 0.2}, {}]
    assert rb.randomness.generator().bit_generator.state == state


# -- Perceptron: lr and output set since construction -----------------------------------------
@pytest.mark.parametrize("name, value", [("lr", -1.0), ("lr", float("nan")), ("output", "bogus")])
def test_perceptron_settings_changed_since_are_checked_at_fit_and_save(tmp_path, name, value):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    p = rb.models.Perceptron(2)
    setattr(p, name, value)
    with pytest.raises(ValueError, match=rf"Perceptron.fit: {name} must be"):
        p.fit(X, [-1, -1, -1, 1])
    path = tmp_path / "p.safetensors"
    with pytest.raises(ValueError, match=rf"save: Perceptron: {name} must be"):
        rb.save(p, path)
    assert not path.exists()


def test_perceptron_valid_settings_changed_since_train_and_round_trip(tmp_path):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    p = rb.models.Perceptron(2, dtype=np.float32)
    p.output, p.lr = "binary", 0.5
    assert p.fit(X, [0, 0, 0, 1], epochs=20)[-1] == 0
    rb.save(p, tmp_path / "p.safetensors")
    back = rb.load(tmp_path / "p.safetensors")
    assert (back.output, back.lr, back.W.dtype) == ("binary", 0.5, np.float32)
    assert np.array_equal(back.predict(X), p.predict(X))


# -- ParzenWindow: sigma and grid set since construction --------------------------------------
@pytest.mark.parametrize("name, value", [("sigma", 0.0), ("sigma", -0.5), ("sigma", float("nan")),
                                         ("grid", [0.0, 0.5]), ("grid", [float("nan"), 0.5])])
def test_parzen_settings_changed_since_are_checked_at_fit(name, value):
    kde = rb.models.ParzenWindow(rng=0)
    setattr(kde, name, value)
    with pytest.raises(ValueError, match=rf"ParzenWindow.fit: {name} must"):
        kde.fit(np.random.default_rng(0).normal(size=(20, 2)))


def test_parzen_valid_settings_changed_since_are_used():
    X = np.random.default_rng(0).normal(size=(20, 2))
    kde = rb.models.ParzenWindow(rng=0)
    kde.grid = [0.3, 0.6]
    assert kde.fit(X).sigma_ in (0.3, 0.6)
    kde.sigma = 0.25
    assert kde.fit(X).sigma_ == 0.25


# -- SparseCoding.n_atoms set since the dictionary was learned ---------------------------------
def test_sparse_coding_n_atoms_changed_since_fit_is_refused_until_the_next_fit(tmp_path):
    X = np.random.default_rng(0).random((30, 6))
    sc = rb.models.SparseCoding(4, 0.1, rng=0).fit(X, epochs=1)
    sc.n_atoms = 8
    with pytest.raises(ValueError, match="transform: n_atoms is 8 but the dictionary"):
        sc.transform(X)
    path = tmp_path / "sc.safetensors"
    with pytest.raises(ValueError, match="save: SparseCoding: n_atoms is 8"):
        rb.save(sc, path)
    assert not path.exists()
    sc.fit(X, epochs=1)  # a new dictionary of n_atoms atoms
    assert sc.transform(X).shape == (30, 8)
    rb.save(sc, path)
    assert rb.load(path).dictionary.shape == (6, 8)
    with pytest.raises(ValueError, match="n_atoms must be"):
        rb.models.SparseCoding(0, 0.1)


# -- the RBM's momentum velocity persists across astype ---------------------------------------
@pytest.mark.parametrize("owner", ["rbm", "dbn"])
def test_rbm_velocity_survives_a_cast(owner):
    X = _bits(40)
    if owner == "rbm":
        model = rb.models.RBM(6, 3, rng=0, momentum=0.9)
        model.fit(X, epochs=1, batch_size=10, progress=False)
        rbm = model
    else:
        model = rb.models.DBN([6, 4], rng=0, momentum=0.9)
        model.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
        rbm = model.rbms[0]
    velocity = rbm._optimizer.state_dict()["velocity"].copy()
    assert np.abs(velocity).max() > 0
    model.astype(np.float64)
    assert rbm._optimizer.vec is rbm.vector  # the one the next fit keeps
    kept = rbm._optimizer.state_dict()["velocity"]
    assert kept.dtype == np.float64
    np.testing.assert_array_equal(kept, velocity.astype(np.float64))


# -- GAN / ConditionalGAN sizes are fixed at construction -------------------------------------
@pytest.mark.parametrize("which, name, value", [("gan", "noise_dim", 3), ("gan", "noise_dim", 2.5),
                                                ("cgan", "n_classes", 4),
                                                ("cgan", "embedding_dim", 5)])
def test_gan_sizes_changed_since_are_refused_at_fit_and_save(tmp_path, which, name, value):
    X = np.random.default_rng(0).random((20, 2)).astype(np.float32)
    if which == "gan":
        model, y = _gan(), None
        X = np.random.default_rng(0).random((20, 6)).astype(np.float32)
    else:
        G = nn.Dense(2 + 3, 2, rng=0)
        D = nn.Dense(2 + 3, 1, rng=1)
        model = rb.models.ConditionalGAN(G, D, noise_dim=2, n_classes=3, rng=0)
        y = np.arange(20) % 3
    setattr(model, name, value)
    with pytest.raises(ValueError, match=rf"fit: {name} is fixed at construction"):
        model.fit(X, 1, batch_size=10) if y is None else model.fit(X, y, 1, batch_size=10)
    path = tmp_path / "gan.safetensors"
    with pytest.raises(ValueError, match=rf"save: {type(model).__name__}: {name} is fixed"):
        rb.save(model, path)
    assert not path.exists()


def test_gan_sizes_unchanged_still_fit_clone_and_round_trip(tmp_path):
    model = _gan()
    model.fit(_bits(20), 1, batch_size=10)
    model.clone().fit(_bits(20), 1, batch_size=10)
    rb.save(model, tmp_path / "gan.safetensors")
    rb.load(tmp_path / "gan.safetensors").fit(_bits(20), 1, batch_size=10)
