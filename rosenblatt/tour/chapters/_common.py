"""Helpers shared by the tour's chapters: toy training loops and decision-boundary plots."""

import numpy as np

import rosenblatt as rb


def xor_data(dtype=np.float64):
    """The four XOR points and their labels 0/1."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array([0, 1, 1, 0])
    return x, y


def spirals(n_per_class, noise, rng, turns=1.5):
    """Two interleaved spirals (labels 0/1) from ``rb.datasets.spirals``, as float64."""
    x, y = rb.datasets.spirals(2 * n_per_class, n_classes=2, noise=noise, turns=turns, rng=rng)
    return x.astype(np.float64), y


def mlp(sizes, activation="tanh", init="glorot_uniform", rng=None):
    """Dense layers with an activation between them, as a plain list of layers."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(rb.nn.Dense(a, b, init=init, rng=rng))
        if i < len(sizes) - 2:
            layers.append(activation)
    return layers


def forward(layers, x):
    """Apply layers; strings name Tensor methods (tanh, sigmoid, relu)."""
    for layer in layers:
        x = getattr(x, layer)() if isinstance(layer, str) else layer(x)
    return x


def grid_predict(predict, x, resolution=120, margin=0.3):
    """Evaluate ``predict`` (ndarray -> scores) on a grid covering the data."""
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return gx, gy, np.asarray(predict(pts)).reshape(gx.shape)


def plot_boundary(ax, predict, x, y, title="", levels=(0.5,)):
    """Shade P(class 1) over the plane, draw the 0.5 contour and the points."""
    gx, gy, z = grid_predict(predict, x)
    ax.contourf(gx, gy, z, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    if np.nanmin(z) < levels[0] < np.nanmax(z):
        ax.contour(gx, gy, z, levels=list(levels), colors="k", linewidths=1)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=18, linewidths=0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def as_float64(model):
    """Cast a model's parameters to float64 (before building its optimizer)."""
    model.astype(np.float64)
    return model


def train(model, x, y, loss_fn, optimizer, epochs, batch_size, rng, regularizers=(),
          on_epoch=None):
    """A plain minibatch loop (shuffle, forward, loss + penalties, backward, step).

    Returns the mean training loss of each epoch. ``on_epoch(epoch)`` is called
    after each epoch (for validation curves); returning True stops early.
    """
    from rosenblatt.nn import regularizers as regs

    n = len(x)
    losses = []
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb = x[idx]
            if regularizers:
                xb = regs.transform_input(regularizers, xb, rng)
            loss = loss_fn(model(rb.tensor(xb)), y[idx])
            if regularizers:
                pen = regs.penalty(regularizers, model)
                if pen is not None:
                    loss = loss + pen
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if regularizers:
                regs.after_step(regularizers, model)
            total += float(loss.data) * len(idx)
        losses.append(total / n)
        if on_epoch is not None and on_epoch(epoch):
            break
    model.eval()
    return losses


def predict(model, x):
    """The model's outputs for x as an ndarray (eval mode, no graph)."""
    model.eval()
    with rb.no_grad():
        return np.asarray(model(rb.tensor(x)).data)


def accuracy(model, x, y):
    """Fraction of argmax predictions equal to the integer labels."""
    out = predict(model, x)
    pred = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0).astype(int)
    return float(np.mean(pred == y))


def softmax_p1(model):
    """A function x -> P(class 1) for a 2-class logit model (for plot_boundary)."""
    def p1(x):
        out = predict(model, x.astype(np.float64))
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e[:, 1] / e.sum(axis=1)
    return p1


def digits(rng, n_train, n_test=None):
    """scikit-learn's 8x8 digits (``rb.datasets.load_digits``), split at random: (x, y, xt, yt)."""
    x, y = rb.datasets.load_digits()
    perm = rng.permutation(len(x))
    tr = perm[:n_train]
    te = perm[n_train:] if n_test is None else perm[n_train:n_train + n_test]
    return x[tr], y[tr], x[te], y[te]
