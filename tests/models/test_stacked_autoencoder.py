"""StackedAutoencoder: greedy pre-training, the classifier and deep autoencoder it builds."""

import numpy as np
import pytest

import rosenblatt as rb


@pytest.fixture(scope="module")
def X():
    return rb.datasets.load_digits()[0][:300]


@pytest.mark.parametrize("kind", ["denoising", "contractive", "sparse", "plain"])
def test_kinds_build_the_matching_layers(kind):
    stack = rb.models.StackedAutoencoder([64, 20, 8], kind=kind, rng=0)
    first, second = stack.layers
    assert (first.n_inputs, first.n_hidden, second.n_inputs, second.n_hidden) == (64, 20, 20, 8)
    assert (first.noise is not None) == (kind == "denoising")
    assert (first.contractive > 0) == (kind == "contractive")
    assert (first.sparsity is not None) == (kind == "sparse")


def test_each_layer_is_trained_on_the_codes_below(X):
    stack = rb.models.StackedAutoencoder([64, 20, 8], kind="plain", rng=0)
    histories = stack.pretrain(X, epochs_per_layer=3, batch_size=50)
    assert len(histories) == 2 and all(h["loss"][-1] < h["loss"][0] for h in histories)
    codes = stack.layers[0].transform(X)
    np.testing.assert_allclose(stack.transform(X), stack.layers[1].transform(codes))


def test_to_classifier_and_to_autoencoder_copy_the_pretrained_weights(X):
    stack = rb.models.StackedAutoencoder([64, 20, 8], kind="denoising", tied=True, rng=0)
    stack.pretrain(X, epochs_per_layer=2, batch_size=50)
    net = stack.to_classifier(10)
    assert isinstance(net, rb.nn.Sequential) and net(rb.tensor(X[:3])).shape == (3, 10)
    features = rb.nn.Sequential(*list(net)[:4])
    np.testing.assert_allclose(rb.training.predict(features, X), stack.transform(X), rtol=1e-5,
                               atol=1e-6)
    deep = stack.to_autoencoder()
    np.testing.assert_allclose(rb.training.predict(deep, X), stack.reconstruct(X), rtol=1e-5,
                               atol=1e-6)
    net.layers[0].W.data[...] = 0  # copies: the stack is untouched
    assert np.abs(stack.layers[0].W.data).sum() > 0
    h = rb.fit(deep, X, None, loss="binary_cross_entropy", epochs=2, batch_size=50,
               optimizer=rb.optim.Adam(deep.parameters(), lr=1e-3), progress=False)
    assert h["loss"][-1] < h["loss"][0]


def test_tanh_layers_reconstruct_codes_linearly():
    stack = rb.models.StackedAutoencoder([64, 20, 8], kind="plain", activation="tanh",
                                         output="linear", rng=0)
    assert stack.layers[1].output == "linear" and stack.layers[1].loss_kind == "squared_error"


def test_save_and_load(tmp_path, X):
    stack = rb.models.StackedAutoencoder([64, 12, 6], kind="denoising",
                                         noise=("gaussian", 0.1), rng=0)
    rb.save(stack, tmp_path / "stack.safetensors")
    back = rb.load(tmp_path / "stack.safetensors")
    np.testing.assert_array_equal(back.transform(X), stack.transform(X))


def test_bad_arguments():
    with pytest.raises(ValueError, match="sizes must be"):
        rb.models.StackedAutoencoder([64])
    with pytest.raises(ValueError, match="kind must be"):
        rb.models.StackedAutoencoder([64, 8], kind="variational")
    with pytest.raises(ValueError, match="noise kind"):
        rb.models.StackedAutoencoder([64, 8], noise=("blur", 0.1))


def test_validation_data_is_encoded_through_each_trained_layer():
    X = np.random.default_rng(0).random((60, 10)).astype(np.float32)
    stack = rb.models.StackedAutoencoder([10, 6, 3], kind="plain", rng=0)
    histories = stack.pretrain(X, epochs_per_layer=2, batch_size=20, validation_data=X[:10],
                               shuffle=False)
    assert all("val_loss" in h.history for h in histories)
    # the second layer's val_loss is its reconstruction loss on the first layer's codes
    second = stack.layers[1]
    codes = stack.layers[0].transform(X[:10])
    with second.evaluating(), rb.no_grad():
        expected = float(second.reconstruction_loss(second(rb.tensor(codes)),
                                                    rb.tensor(codes)).item())
    assert histories[1]["val_loss"][-1] == pytest.approx(expected, rel=1e-5)
    # the Keras idiom (X_val, X_val) works as well
    again = rb.models.StackedAutoencoder([10, 6, 3], kind="plain", rng=0)
    pair = again.pretrain(X, epochs_per_layer=2, batch_size=20, shuffle=False,
                          validation_data=(X[:10], X[:10]))
    assert pair[1]["val_loss"] == histories[1]["val_loss"]


def test_pretrain_refuses_the_options_it_sets():
    X = np.random.default_rng(0).random((40, 8)).astype(np.float32)
    stack = rb.models.StackedAutoencoder([8, 5, 3], kind="plain", rng=0)
    with pytest.raises(TypeError, match="pretrain: epochs is set by pretrain.*got epochs=2; "
                                        "pass epochs_per_layer= instead"):
        stack.pretrain(X, epochs=2)
    with pytest.raises(TypeError, match="optimizer=SGD; pass lr= instead"):
        stack.pretrain(X, optimizer=rb.optim.SGD(stack.layers[0].parameters(), lr=0.1))
