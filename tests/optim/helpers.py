"""Small models and objectives shared by the optimizer tests (no dependency on other layers)."""

import numpy as np

import rosenblatt as rb

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


class XorNet(rb.nn.Module):
    """2-hidden-unit-plus tanh network with a sigmoid output."""

    def __init__(self, hidden=4, rng=0):
        rng = np.random.default_rng(rng)
        self.hidden = rb.nn.Dense(2, hidden, rng=rng, dtype=np.float64)
        self.out = rb.nn.Dense(hidden, 1, rng=rng, dtype=np.float64)

    def forward(self, x):
        return self.out(self.hidden(x).tanh()).sigmoid()


def xor_loss(model):
    """Mean squared error of the network on the four XOR cases (a Tensor)."""
    pred = model(rb.tensor(XOR_X))
    return ((pred - rb.tensor(XOR_Y)) ** 2).mean()


def epochs_to_reach(model, opt, target, max_epochs):
    """Full-batch epochs until the XOR loss is below ``target`` (max_epochs + 1 if never)."""
    for epoch in range(1, max_epochs + 1):
        opt.zero_grad()
        loss = xor_loss(model)
        if loss.item() < target:
            return epoch - 1
        loss.backward()
        opt.step()
    return max_epochs + 1
