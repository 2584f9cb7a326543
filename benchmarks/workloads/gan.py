"""GAN training steps and Parzen-window log-likelihoods (issue 15).

(a) One GAN iteration of the notes' algorithm with k = 1: a discriminator
update on a minibatch of 64 data rows and 64 counterfeits, then a generator
update on fresh noise. Generator 100-256-784 (ReLU, sigmoid output),
discriminator 784-256-1 (leaky ReLU 0.2, a logit output), losses through the
stable BCE-with-logits, SGD with momentum 0.5 for both networks.
rosenblatt runs ``rb.models.GAN.fit`` (shuffling and noise draws included);
PyTorch the same loop written idiomatically and efficiently: the
discriminator scores data and counterfeits in one forward pass, the
counterfeits are detached for D's step, and D's parameters are frozen
(``requires_grad_(False)``) during G's step so that no weight gradient of D
is computed, as rosenblatt does. One timed call is 50 iterations.

(b) ``rb.models.parzen_log_likelihood``: the log-likelihood of 10,000 test
points under a Gaussian Parzen window on 10,000 samples in 784 dimensions
(MNIST-sized), against scikit-learn's ``KernelDensity(bandwidth=sigma)
.fit(samples).score_samples(test)`` with the same sigma (its default tree
algorithm and tolerances). Both in float64 here, so both give the same
numbers; one timed call is the whole evaluation.

Targets (issue 15): (a) >= 1.2x PyTorch CPU; (b) >= 2x scikit-learn.
"""

import numpy as np

import rosenblatt as rb
from benchmarks.common import optional, torch_or_none

NOISE, HIDDEN, DATA, BATCH, ITERATIONS = 100, 256, 784, 64, 50
LR, MOMENTUM, SIGMA = 0.05, 0.5, 0.2


def gan_data(n, seed=0):
    return np.random.default_rng(seed).random((n, DATA), dtype=np.float32)


def rosenblatt_gan(x):
    rng = np.random.default_rng(0)
    G = rb.nn.Sequential(rb.nn.Dense(NOISE, HIDDEN, rng=rng), rb.nn.ReLU(),
                         rb.nn.Dense(HIDDEN, DATA, rng=rng), rb.nn.Sigmoid())
    D = rb.nn.Sequential(rb.nn.Dense(DATA, HIDDEN, rng=rng), rb.nn.LeakyReLU(0.2),
                         rb.nn.Dense(HIDDEN, 1, rng=rng))
    gan = rb.models.GAN(G, D, NOISE, k=1,
                        optimizer_g=rb.optim.SGD(G.parameters(), lr=LR, momentum=MOMENTUM),
                        optimizer_d=rb.optim.SGD(D.parameters(), lr=LR, momentum=MOMENTUM),
                        rng=1)

    def run():
        gan.fit(x, epochs=1, batch_size=BATCH)  # len(x) = 64 x 50: 50 iterations

    return run


def pytorch_gan(x):
    torch = torch_or_none()
    if torch is None:
        return None
    torch.manual_seed(0)
    nn = torch.nn
    G = nn.Sequential(nn.Linear(NOISE, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, DATA), nn.Sigmoid())
    D = nn.Sequential(nn.Linear(DATA, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, 1))
    opt_g = torch.optim.SGD(G.parameters(), lr=LR, momentum=MOMENTUM)
    opt_d = torch.optim.SGD(D.parameters(), lr=LR, momentum=MOMENTUM)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    X = torch.from_numpy(x)
    target = torch.cat([torch.ones(BATCH, 1), torch.zeros(BATCH, 1)])
    ones = torch.ones(BATCH, 1)
    d_params = list(D.parameters())

    def run():
        order = torch.randperm(len(X))
        for i in range(len(X) // BATCH):
            z = torch.randn(BATCH, NOISE)
            xb = X[order[i * BATCH:(i + 1) * BATCH]]
            with torch.no_grad():
                fake = G(z)
            loss_d = bce(D(torch.cat([xb, fake])), target, reduction="sum") / BATCH
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            for p in d_params:
                p.requires_grad_(False)
            loss_g = bce(D(G(torch.randn(BATCH, NOISE))), ones)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            for p in d_params:
                p.requires_grad_(True)
            opt_g.step()

    return run


def parzen_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, DATA)), rng.random((n, DATA))


def rosenblatt_parzen(samples, test):
    def run():
        rb.models.parzen_log_likelihood(samples, test, sigma=SIGMA)
    return run


def sklearn_parzen(samples, test):
    neighbors = optional("sklearn.neighbors")
    if neighbors is None:
        return None

    def run():
        neighbors.KernelDensity(bandwidth=SIGMA, kernel="gaussian").fit(samples) \
            .score_samples(test).mean()
    return run


def workloads(quick):
    x = gan_data(BATCH * ITERATIONS)
    n = 2_000 if quick else 10_000
    samples, test = parzen_data(n)
    return [{
        "name": f"GAN step, G {NOISE}-{HIDDEN}-{DATA}, D {DATA}-{HIDDEN}-1, batch {BATCH}, k=1",
        "unit": "steps/s",
        "work": ITERATIONS,
        "rosenblatt": rosenblatt_gan(x),
        "references": {"pytorch": pytorch_gan(x)},
        "target": ">= 1.2x PyTorch",
        "target_ratio": {"pytorch": 1.2},
        "notes": "PyTorch's loop freezes D during G's step and scores data and counterfeits "
                 "in one D forward, as rosenblatt's GAN.fit does",
    }, {
        "name": f"parzen_log_likelihood, {n:,} test x {n:,} samples, 784-D",
        "unit": "samples/s",
        "work": n,
        "rosenblatt": rosenblatt_parzen(samples, test),
        "references": {"sklearn": sklearn_parzen(samples, test)},
        "target": ">= 2x sklearn KernelDensity",
        "target_ratio": {"sklearn": 2.0},
        "repeats": 2 if quick else 3,
    }]
