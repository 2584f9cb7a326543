"""Two comparisons of the notes, each shown against the same run with its cause removed.

1. "Contractive vs denoising autoencoders": "Contractive autoencoders have a deterministic
   gradient (since no sampling is involved; i.e. no random noise), which means second-order
   optimizers can be used (conjugate gradient, LBFGs, etc), and can be more stable than
   denoising autoencoders." Stable is read as the training path: how much a model's held-out
   reconstruction error goes back up between epochs, with the same data, minibatch size,
   optimiser and learning rate. The denoising autoencoder's gradient carries the corruption's
   sampling noise on top of the minibatch's, and its path wobbles; the contractive one's
   descends smoothly.
   Cause removed: a corruption level of 0 (no sampling) makes the denoising path as smooth.

2. "Training generative adversarial networks": "we don't want to train D to completion first
   because it would result in overfitting". A discriminator trained to completion on a finite
   set of real and generated samples memorises them; the notes' k steps do not. Cause removed:
   fresh samples at every step (no finite set to memorise) give no overfitting however long D
   trains.
"""

import numpy as np
import pytest

import rosenblatt as rb

LOG4 = np.log(4)  # J_D of D = 1/2 everywhere: the best a D can do when G's samples match the data


# -- contractive vs denoising ----------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    X, _ = rb.datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order[:1400]], X[order[1400:]]


def wobble(curve):
    """The rises of a curve that should fall, over its total fall: 0 for a monotone descent."""
    steps = np.diff(curve)
    return float(steps[steps > 0].sum() / (curve[0] - np.min(curve)))


def held_out_path(X, Xte, seed, **options):
    """Held-out squared reconstruction error before training and after each of 20 epochs."""
    ae = rb.models.Autoencoder(64, 100, rng=seed, **options)

    def error(*_):
        path.append(float(((ae.reconstruct(Xte) - Xte) ** 2).sum(axis=1).mean()))

    path = []
    error()
    ae.fit(X, epochs=20, batch_size=32, optimizer=rb.optim.Adam(ae.parameters(), lr=0.03),
           progress=False, rng=seed, callbacks=[rb.callbacks.LambdaCallback(on_epoch_end=error)])
    return np.array(path)


@pytest.mark.parametrize("seed", [0, 1])
def test_contractive_training_is_more_stable_than_denoising(digits, seed):
    X, Xte = digits
    contractive = wobble(held_out_path(X, Xte, seed, contractive=0.1))
    denoising = wobble(held_out_path(X, Xte, seed, noise=("masking", 0.3)))
    # measured over seeds 0-5: contractive 0.001-0.004, denoising 0.012-0.026 (and a
    # "denoising" autoencoder with masking level 0, i.e. no sampling: 0.001-0.003)
    assert contractive < 0.007 < denoising, (contractive, denoising)


# -- training D to completion ----------------------------------------------------------------
def ring(n, g, modes=8, radius=2.0, std=0.05):
    """The ring of eight Gaussians of the GAN literature (Metz et al. 2017)."""
    angle = 2 * np.pi * g.integers(0, modes, n) / modes
    return (np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
            + std * g.standard_normal((n, 2)))


def mlp(sizes, rng):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(rb.nn.Dense(a, b, rng=rng, dtype=np.float64))
        if i < len(sizes) - 2:
            layers.append(rb.nn.ReLU())
    return rb.nn.Sequential(*layers)


def train_discriminator(steps, seed, fresh=False, n=64):
    """The GAN's D trained alone for ``steps`` full-batch updates of J_D (Adam, lr 0.01), on
    n real points and n of G's; G is taken at the end of a successful run, its samples drawn
    from the data distribution itself. Returns J_D on the training points and on 2,000 held-out
    pairs (``fresh``: new points at every step instead of one finite set)."""
    g = np.random.default_rng(seed)
    gan = rb.models.GAN(mlp([2, 16, 2], g), mlp([2, 64, 64, 1], g), noise_dim=2, rng=seed)
    D = gan.discriminator
    real, fake = ring(n, g), ring(n, g)
    held_real, held_fake = ring(2000, g), ring(2000, g)
    optimizer = rb.optim.Adam(D.parameters(), lr=1e-2)
    for _ in range(steps):
        if fresh:
            real, fake = ring(n, g), ring(n, g)
        optimizer.zero_grad()
        gan.discriminator_loss(D(rb.tensor(real)), D(rb.tensor(fake))).backward()
        optimizer.step()

    def j_d(r, f):
        with rb.no_grad():
            return float(gan.discriminator_loss(D(rb.tensor(r)), D(rb.tensor(f))).item())

    return j_d(real, fake), j_d(held_real, held_fake)


def test_training_the_discriminator_to_completion_overfits():
    # trained on to (near) completion, D separates the 64 + 64 points it sees, but on new ones
    # it does worse than a constant 1/2: it has learned the sample, not the distributions
    train, held_out = train_discriminator(1000, seed=0)
    assert train < LOG4 - 0.25 and held_out > LOG4 + 0.3, (train, held_out)
    # the notes' k steps (k = 5) leave D close to the best D, 1/2 everywhere
    _, held_out_k = train_discriminator(5, seed=0)
    assert held_out_k < LOG4 + 0.1, held_out_k
    # measured at seeds 0, 1, 2: after 1,000 steps train 1.04, 1.07, 0.94 and held-out 1.92,
    # 2.14, 2.63 (log 4 = 1.386); after 5 steps held-out 1.42, 1.43, 1.44


def test_a_discriminator_trained_long_on_fresh_samples_does_not_overfit():
    # the cause removed: with new samples at every step there is nothing to memorise
    train, held_out = train_discriminator(1000, seed=0, fresh=True)
    assert abs(held_out - LOG4) < 0.02, held_out  # measured 1.386 at seeds 0, 1, 2
