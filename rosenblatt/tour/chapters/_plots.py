"""Figures shared by the tour's chapters: decision regions of 2-D classifiers.

Everything else a chapter needs comes from the library itself: data from
``rb.datasets``, training through ``rb.fit``, outputs and accuracies from
``rb.training.predict`` / ``rb.training.evaluate``.
"""

import numpy as np

import rosenblatt as rb


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


def softmax_p1(model):
    """A function x -> P(class 1) for a 2-class logit model (for :func:`plot_boundary`)."""
    def p1(x):
        z = rb.training.predict(model, x).astype(np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e[:, 1] / e.sum(axis=1)
    return p1
