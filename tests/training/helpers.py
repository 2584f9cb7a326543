"""What the training tests share: a step counter and rb.fit with small defaults."""

import rosenblatt as rb


class Steps(rb.callbacks.Callback):
    """Counts the training steps taken (an error before training leaves 0)."""

    def __init__(self):
        self.steps = 0

    def on_batch_end(self, trainer, batch, logs):
        self.steps += 1


def small_fit(net, X, y, **kw):
    """``rb.fit`` with cross-entropy, SGD(lr=0.1), one epoch of batches of 8, no progress bar
    and rng 0 unless ``kw`` says otherwise."""
    kw.setdefault("loss", "cross_entropy")
    if "optimizer" not in kw:
        kw["optimizer"] = rb.optim.SGD(net.parameters(), lr=0.1)
    kw.setdefault("epochs", 1)
    kw.setdefault("batch_size", 8)
    kw.setdefault("progress", False)
    kw.setdefault("rng", 0)
    return rb.fit(net, X, y, **kw)
