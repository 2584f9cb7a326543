"""rb.models.DBN: greedy stacking, labelled generation, classifier/autoencoder, up-down, claims."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import nn

PROTOTYPES = np.array([[1] * 8 + [0] * 8, [0] * 8 + [1] * 8, [1, 0] * 8], dtype=np.float32)


def prototypes(n=150, noise=0.05, seed=0):
    """Three 16-pixel patterns with a few bits flipped, and their labels."""
    g = np.random.default_rng(seed)
    y = g.integers(0, 3, n)
    X = PROTOTYPES[y]
    return np.where(g.random(X.shape) < noise, 1 - X, X).astype(np.float32), y


def test_pretrain_is_greedy_each_rbm_learns_the_hidden_probabilities_below():
    X, _ = prototypes()
    dbn = rb.models.DBN([16, 10, 6], lr=0.1, rng=3)
    dbn.pretrain(X, epochs_per_layer=[4, 3], batch_size=15, progress=False)
    g = np.random.default_rng(3)  # the same RBMs by hand, drawing from one generator
    r0 = rb.models.RBM(16, 10, lr=0.1, rng=g)
    r1 = rb.models.RBM(10, 6, lr=0.1, rng=g)
    r0.fit(X, epochs=4, batch_size=15, progress=False)
    r1.fit(r0.transform(X), epochs=3, batch_size=15, progress=False)
    np.testing.assert_allclose(dbn.rbms[0].W.data, r0.W.data)
    np.testing.assert_allclose(dbn.rbms[1].W.data, r1.W.data)
    np.testing.assert_allclose(dbn.transform(X), r1.transform(r0.transform(X)))
    np.testing.assert_array_equal(dbn.gen_W[0].data, r0.W.data)  # tied after greedy training


def test_classifier_and_autoencoder_start_from_the_rbm_weights():
    X, _ = prototypes(30)
    dbn = rb.models.DBN([16, 10, 6], rng=0)
    dbn.pretrain(X, epochs_per_layer=2, batch_size=10, progress=False)
    clf = dbn.to_classifier(3, rng=0)
    assert len(clf) == 5 and clf[-1].out_features == 3
    hidden = rb.nn.Sequential(*list(clf)[:-1])(rb.tensor(X)).data
    np.testing.assert_allclose(hidden, dbn.transform(X), rtol=1e-5, atol=1e-6)
    ae = dbn.to_autoencoder()
    r0, r1 = dbn.rbms
    by_hand = r0.visible_probs(r1.visible_probs(dbn.transform(X)))
    np.testing.assert_allclose(ae(rb.tensor(X)).data, by_hand, rtol=1e-5, atol=1e-6)


def test_stacked_rbms_make_a_good_deep_autoencoder_that_backprop_refines():
    X, _ = prototypes(150)  # 5% of the bits flipped: an error near 0.05 reconstructs the prototypes
    dbn = rb.models.DBN([16, 10, 6], lr=0.1, rng=0)
    dbn.pretrain(X, epochs_per_layer=20, batch_size=10, progress=False)
    ae = dbn.to_autoencoder()
    before = float(np.mean((ae(rb.tensor(X)).data - X) ** 2))
    assert before < 0.08  # measured 0.052; an untrained stack: 0.25
    rb.fit(ae, X, X, loss="mse", optimizer=rb.optim.Adam(ae.parameters(), lr=1e-2), epochs=30,
           batch_size=10, progress=False, rng=0, metrics=())
    assert float(np.mean((ae(rb.tensor(X)).data - X) ** 2)) < before


def test_label_layer_classifies_and_generates_the_chosen_class():
    X, y = prototypes(300)
    dbn = rb.models.DBN([16, 12, 10], n_labels=3, lr=0.1, rng=0)
    dbn.pretrain(X, y, epochs_per_layer=20, batch_size=20, progress=False)
    assert np.mean(dbn.predict(X) == y) > 0.95
    labels = np.repeat([0, 1, 2], 30)
    images = dbn.generate(90, gibbs_steps=100, labels=labels, rng=np.random.default_rng(1))
    assert images.shape == (90, 16) and 0 <= images.min() and images.max() <= 1
    nearest = np.argmin(((images[:, None] - PROTOTYPES[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(nearest == labels) > 0.8
    free = dbn.generate(60, gibbs_steps=100, rng=np.random.default_rng(2))  # labels sampled too
    nearest = np.argmin(((free[:, None] - PROTOTYPES[None]) ** 2).sum(axis=2), axis=1)
    assert len(np.unique(nearest)) == 3
    # the label units are one softmax group of the top RBM (Hinton et al. 2006), also in training
    top = dbn.top
    assert top.softmax == 3
    recon = top.visible_probs(top.hidden_probs(np.concatenate(
        [dbn.rbms[0].transform(X[:5]), np.eye(3)[y[:5]]], axis=1)))
    np.testing.assert_allclose(recon[:, -3:].sum(axis=1), 1.0, rtol=1e-5)


def test_up_down_unties_the_generative_weights_and_keeps_reconstructing():
    X, y = prototypes(150)
    dbn = rb.models.DBN([16, 12, 8], n_labels=3, lr=0.1, rng=0)
    dbn.pretrain(X, y, epochs_per_layer=10, batch_size=15, progress=False)
    errors = dbn.up_down(X, y, epochs=10, batch_size=15, lr=0.05)
    assert len(errors) == 10 and np.all(np.isfinite(errors))
    assert errors[-1] <= errors[0] * 1.1
    assert not np.allclose(dbn.gen_W[0].data, dbn.rbms[0].W.data)
    assert np.mean(dbn.predict(X) == y) > 0.9


def test_save_and_load_round_trip(tmp_path):
    X, y = prototypes(30)
    dbn = rb.models.DBN([16, 8, 4], n_labels=3, visible="bernoulli", k=2, rng=0)
    dbn.pretrain(X, y, epochs_per_layer=2, batch_size=10, progress=False)
    dbn.up_down(X, y, epochs=1, batch_size=10)
    rb.save(dbn, tmp_path / "dbn.safetensors")
    back = rb.load(tmp_path / "dbn.safetensors")
    assert back.sizes == [16, 8, 4] and back.n_labels == 3 and back.k == 2
    np.testing.assert_array_equal(back.gen_W[0].data, dbn.gen_W[0].data)
    np.testing.assert_array_equal(back.predict(X), dbn.predict(X))


def test_gaussian_dbn_generates_real_values():
    g = np.random.default_rng(0)
    X = g.standard_normal((60, 5)).astype(np.float32)
    dbn = rb.models.DBN([5, 6, 4], visible="gaussian", lr=0.01, rng=0)
    dbn.pretrain(X, epochs_per_layer=2, batch_size=10, progress=False)
    assert dbn.generate(4, gibbs_steps=5).shape == (4, 5)
    assert isinstance(dbn.to_autoencoder()[-1], nn.Identity)


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match="at least two positive integers"):
        rb.models.DBN([784])
    with pytest.raises(ValueError, match="at least two positive integers"):
        rb.models.DBN([784, 0])
    with pytest.raises(TypeError, match="sequence"):
        rb.models.DBN(784)
    dbn = rb.models.DBN([4, 3], n_labels=2, rng=0)
    X = np.zeros((4, 4))
    with pytest.raises(ValueError, match="pass y"):
        dbn.pretrain(X, progress=False)
    with pytest.raises(ValueError, match=r"integers in \[0, 2\)"):
        dbn.pretrain(X, np.array([0, 1, 2, 0]), progress=False)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dbn.pretrain(X + 3, np.zeros(4, int), progress=False)
    with pytest.raises(ValueError, match="one per RBM"):
        dbn.pretrain(X, np.zeros(4, int), epochs_per_layer=[1, 2], progress=False)
    with pytest.raises(ValueError, match="no label layer"):
        rb.models.DBN([4, 3], rng=0).generate(2, labels=1)
    with pytest.raises(ValueError, match="no label layer"):
        rb.models.DBN([4, 3], rng=0).predict(X)


@pytest.mark.slow
def test_pretrained_dbn_beats_random_initialisation_with_few_labels():
    """The notes' semi-supervised claim: 10 labels per class, features from 4,000 images."""
    from threadpoolctl import threadpool_limits

    X, y = rb.datasets.load_mnist_sample()
    Xtr, Xte, ytr, yte = rb.datasets.train_test_split(X, y, test_size=0.2, stratify=True, rng=0)

    def accuracy(model, idx, seed):
        rb.fit(model, Xtr[idx], ytr[idx], loss="cross_entropy",
               optimizer=rb.optim.Adam(model.parameters(), lr=1e-3), epochs=60, batch_size=20,
               progress=False, rng=seed)
        return float(np.mean(model(rb.tensor(Xte)).data.argmax(axis=1) == yte))

    pretrained, random = [], []
    with threadpool_limits(1):
        for seed in range(3):
            g = np.random.default_rng(seed)
            idx = np.concatenate([g.choice(np.flatnonzero(ytr == c), 10, replace=False)
                                  for c in range(10)])
            dbn = rb.models.DBN([784, 256, 128], lr=0.05, rng=seed)
            dbn.pretrain(Xtr, epochs_per_layer=5, batch_size=50, progress=False)
            pretrained.append(accuracy(dbn.to_classifier(10, rng=seed), idx, seed))
            net = nn.Sequential(nn.Dense(784, 256, rng=seed), nn.Sigmoid(),
                                nn.Dense(256, 128, rng=seed), nn.Sigmoid(),
                                nn.Dense(128, 10, rng=seed))
            random.append(accuracy(net, idx, seed))
    # measured: 0.810/0.782/0.808 pretrained vs 0.784/0.757/0.775 random
    assert np.mean(pretrained) > np.mean(random) + 0.01, (pretrained, random)
    assert sum(p > r for p, r in zip(pretrained, random)) >= 2, (pretrained, random)


# -- audit a3 ------------------------------------------------------------------------------
def test_labels_given_to_a_dbn_without_a_label_layer_are_refused():
    X, y = prototypes(20)
    dbn = rb.models.DBN([16, 6, 4], rng=0)
    for call in (lambda: dbn.pretrain(X, y=y, epochs_per_layer=1, progress=False),
                 lambda: dbn.up_down(X, y=y, epochs=1)):
        with pytest.raises(ValueError, match="this DBN has no label layer"):
            call()
    labelled = rb.models.DBN([16, 6, 4], n_labels=3, rng=0)
    with pytest.raises(ValueError, match=r"DBN\.up_down: this DBN has a label layer; pass y"):
        labelled.up_down(X, epochs=1)
    with pytest.raises(ValueError, match=r"must hold at least one example"):
        labelled.pretrain(X[:0], y=y[:0], epochs_per_layer=1, progress=False)
    with pytest.raises(ValueError, match=r"DBN\.up_down: X must hold at least one example"):
        labelled.up_down(X[:0], y=y[:0], epochs=1)


def test_up_down_sleeps_from_the_negative_particles_of_its_one_top_level_chain():
    """Hinton et al. 2006 (appendix B): sleeppenstates = negpenstates, the penultimate states of
    the CD chain (whose labels are sampled), not a second label-clamped chain."""
    X, y = prototypes(30)
    dbn = rb.models.DBN([16, 6, 4], n_labels=3, rng=0)
    dbn.pretrain(X, y, epochs_per_layer=2, batch_size=30, progress=False)
    calls = []
    original = dbn.top._hidden_probs
    dbn.top._hidden_probs = lambda v: calls.append(v.copy()) or original(v)
    dbn.up_down(X, y, epochs=1, batch_size=30)
    # one CD-1 chain: the positive and the negative phase; no second, label-clamped chain
    assert len(calls) == 2
    np.testing.assert_array_equal(np.sort(calls[0][:, 6:].argmax(axis=1)), np.sort(y))


def test_label_free_energies_of_a_gaussian_one_rbm_dbn_are_the_top_free_energies():
    g = np.random.default_rng(0)
    X = g.normal(size=(5, 6))
    dbn = rb.models.DBN([6, 4], visible="gaussian", n_labels=3, rng=0, dtype=np.float64)
    dbn.top.b.data[...] = g.normal(size=9)
    dbn.top.W.data[...] = g.normal(size=(9, 4))
    want = np.stack([dbn.top.free_energy(np.concatenate([X, np.tile(np.eye(3)[k], (5, 1))], 1))
                     for k in range(3)], axis=1)
    np.testing.assert_allclose(dbn.label_free_energies(X), want, rtol=1e-12)


class _Crash(rb.callbacks.Callback):
    """Stops the process (an exception) at the start of the n-th epoch of the whole pretrain."""

    def __init__(self, n):
        self.n, self.seen = n, 0

    def on_epoch_begin(self, trainer, epoch):
        self.seen += 1
        if self.seen == self.n:
            raise KeyboardInterrupt


@pytest.mark.parametrize("crash_at", [2, 5])  # in the first RBM's epochs, in the second's
def test_pretrain_resumed_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path, crash_at):
    X, y = prototypes(40)
    kwargs = dict(n_labels=3, persistent=True, lr=0.1, momentum=0.5)
    whole = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    full = whole.pretrain(X, y, epochs_per_layer=[3, 3], batch_size=9, progress=False)
    path = tmp_path / "dbn.ckpt"
    crashed = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    with pytest.raises(KeyboardInterrupt):
        crashed.pretrain(X, y, epochs_per_layer=[3, 3], batch_size=9, progress=False,
                         callbacks=[_Crash(crash_at), rb.callbacks.Checkpoint(path)])
    again = rb.models.DBN([16, 6, 4], rng=7, **kwargs)
    resumed = again.pretrain(X, y, epochs_per_layer=[3, 3], batch_size=9, progress=False,
                             resume_from=path)
    for (name, a), (_, b) in zip(whole.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(whole.top._chains, again.top._chains)
    assert whole.rng.bit_generator.state == again.rng.bit_generator.state
    for h_full, h_resumed in zip(full, resumed):
        assert h_full["pseudo_likelihood"] == h_resumed["pseudo_likelihood"]
    with pytest.raises(rb.io.FormatError, match="another architecture"):
        rb.models.RBM(16, 6).fit(X, resume_from=path)
    rbm_path = tmp_path / "rbm.ckpt"
    rb.models.RBM(16, 6).fit(X, epochs=1, progress=False,
                             callbacks=[rb.callbacks.Checkpoint(rbm_path)])
    with pytest.raises(ValueError, match="not a training checkpoint of DBN.pretrain"):
        again.pretrain(X, y, resume_from=rbm_path)


def test_persistent_up_down_sleeps_from_the_chains_whatever_the_batch():
    X, y = prototypes(25)
    dbn = rb.models.DBN([16, 6, 4], n_labels=3, persistent=True, rng=0)
    dbn.pretrain(X, y, epochs_per_layer=1, batch_size=10, progress=False)  # 10 chains
    errors = dbn.up_down(X, y, epochs=2, batch_size=10)  # the last batch has 5 rows
    assert len(errors) == 2 and np.all(np.isfinite(errors))
    assert dbn.top._chains.shape == (10, 4)


def test_pretrain_resumed_in_a_later_rbm_keeps_the_lower_rbms_training_state(tmp_path):
    """The finished RBMs' momentum velocity and PCD chains come from the checkpoint: a further
    pretrain call continues exactly as on the uninterrupted DBN."""
    X, y = prototypes(29)
    kwargs = dict(persistent=True, lr=0.1, momentum=0.5)
    whole = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    whole.pretrain(X, epochs_per_layer=[3, 3], batch_size=8, progress=False)
    path = tmp_path / "dbn.ckpt"
    crashed = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    with pytest.raises(KeyboardInterrupt):
        crashed.pretrain(X, epochs_per_layer=[3, 3], batch_size=8, progress=False,
                         callbacks=[_Crash(5), rb.callbacks.Checkpoint(path)])
    again = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    again.pretrain(X, epochs_per_layer=[3, 3], batch_size=8, progress=False, resume_from=path)
    for a, b in zip(whole.rbms, again.rbms):
        np.testing.assert_array_equal(a._optimizer.velocity, b._optimizer.velocity)
        np.testing.assert_array_equal(a._chains, b._chains)
    whole.pretrain(X, epochs_per_layer=1, batch_size=8, progress=False)
    again.pretrain(X, epochs_per_layer=1, batch_size=8, progress=False)
    for (name, a), (_, b) in zip(whole.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_pretrain_resume_from_a_file_that_does_not_exist_yet_starts_from_scratch(tmp_path):
    X, _ = prototypes(20)
    path = tmp_path / "run.ckpt"
    a = rb.models.DBN([16, 4, 3], rng=0)
    a.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False)
    b = rb.models.DBN([16, 4, 3], rng=0)
    b.pretrain(X, epochs_per_layer=1, batch_size=10, progress=False, resume_from=path,
               callbacks=[rb.callbacks.Checkpoint(path)])
    for (name, u), (_, v) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(u, v, err_msg=name)
    assert path.exists()


def test_pretrain_refuses_a_bad_finished_rbm_state_before_changing_anything(tmp_path):
    import json

    from rosenblatt.io.safetensors_format import decode, encode

    X, _ = prototypes(29)
    kwargs = dict(persistent=True, lr=0.1, momentum=0.5)
    path = tmp_path / "dbn.ckpt"
    with pytest.raises(KeyboardInterrupt):
        rb.models.DBN([16, 6, 4], rng=1, **kwargs).pretrain(
            X, epochs_per_layer=[3, 3], batch_size=8, progress=False,
            callbacks=[_Crash(5), rb.callbacks.Checkpoint(path)])
    tensors, header = decode(path.read_bytes())
    meta = json.loads(header["metadata"])
    name = meta["dbn"]["finished"][0]["optimizer"]["velocity"]["__array__"]
    tensors[name] = np.full_like(tensors[name], np.nan)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(encode(tensors, header))
    dbn = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    before = dbn.state_dict()
    with pytest.raises(rb.io.FormatError, match=r"bad\.ckpt.*\"dbn\"\[\"finished\"\]\[0\].*"
                                                r"velocity"):
        dbn.pretrain(X, epochs_per_layer=[3, 3], batch_size=8, progress=False, resume_from=bad)
    for key, value in dbn.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    assert dbn.rbms[0]._optimizer is None


def test_pretrain_with_an_int_rng_resumes_bit_for_bit(tmp_path):
    X, _ = prototypes(29)
    kwargs = dict(persistent=True, lr=0.1, momentum=0.5)
    whole = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    whole.pretrain(X, epochs_per_layer=[3, 3], batch_size=8, progress=False, rng=5)
    path = tmp_path / "dbn.ckpt"
    with pytest.raises(KeyboardInterrupt):
        rb.models.DBN([16, 6, 4], rng=1, **kwargs).pretrain(
            X, epochs_per_layer=[3, 3], batch_size=8, progress=False, rng=5,
            callbacks=[_Crash(5), rb.callbacks.Checkpoint(path)])
    again = rb.models.DBN([16, 6, 4], rng=1, **kwargs)
    again.pretrain(X, epochs_per_layer=[3, 3], batch_size=8, progress=False, rng=5,
                   resume_from=path)
    for (name, a), (_, b) in zip(whole.state_dict().items(), again.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
