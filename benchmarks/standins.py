"""Stand-ins for library parts that other engineers are still writing.

Each getter returns the library's own object when it exists (``rb.nn.ReLU``,
``rb.losses.cross_entropy``, ``rb.optim.SGD`` ...) and a minimal local
equivalent otherwise, so the workloads run while the library grows. The
harness reports which ones were stand-ins.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.autodiff import make

USED = set()


def activation(name):
    """``rb.nn.<name>`` (e.g. "ReLU", "Tanh"), or a module applying ``rb.<name.lower()>``."""
    cls = getattr(rb.nn, name, None)
    if cls is not None:
        return cls()
    USED.add(f"nn.{name}")
    fn = getattr(rb, name.lower())

    class _Act(rb.nn.Module):
        def forward(self, x):
            return fn(x)

    return _Act()


def cross_entropy():
    """``rb.losses.cross_entropy`` or a fused softmax cross-entropy over integer labels."""
    losses = getattr(rb, "losses", None)
    if losses is not None and hasattr(losses, "cross_entropy"):
        return losses.cross_entropy
    USED.add("losses.cross_entropy")

    def ce(logits, labels):
        z = logits.data
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        n = len(labels)
        rows = np.arange(n)
        loss = np.log(s[:, 0]).mean() - z[rows, labels].mean()

        def backward(g):
            p = e / s
            p[rows, labels] -= 1
            p *= g / n
            return (p,)

        return make(np.asarray(loss, dtype=z.dtype), (logits,), backward)

    return ce


def mse():
    """``rb.losses.mse`` or mean((pred - target)^2) from primitive ops."""
    losses = getattr(rb, "losses", None)
    if losses is not None and hasattr(losses, "mse"):
        return losses.mse
    USED.add("losses.mse")
    return lambda pred, target: ((pred - target) ** 2).mean()


def sgd(params, lr, momentum=0.0):
    """``rb.optim.SGD`` or a heavy-ball SGD over a ParameterVector."""
    optim = getattr(rb, "optim", None)
    if optim is not None and hasattr(optim, "SGD"):
        return optim.SGD(params, lr=lr, momentum=momentum)
    USED.add("optim.SGD")

    class _SGD:
        def __init__(self):
            self.vec = rb.nn.ParameterVector(params)
            self.velocity = np.zeros_like(self.vec.data)

        def zero_grad(self):
            self.vec.grad.fill(0)

        def step(self):
            v = self.velocity
            v *= momentum
            v += self.vec.grad
            self.vec.data -= lr * v

    return _SGD()
