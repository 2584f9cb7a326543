"""Helpers shared by the tour's chapters: toy training loops and decision-boundary plots."""

import numpy as np

import rosenblatt as rb


def xor_data(dtype=np.float64):
    """The four XOR points and their labels 0/1."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array([0, 1, 1, 0])
    return x, y


def spirals(n_per_class, noise, rng, turns=1.5):
    """Two interleaved spirals in 2-D (labels 0/1); a local stand-in for rb.datasets."""
    t = np.sqrt(rng.uniform(0.05, 1.0, n_per_class)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (turns * 2 * np.pi)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class, int), np.ones(n_per_class, int)])
    return x, y


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
