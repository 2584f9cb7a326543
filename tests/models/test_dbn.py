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
