"""Tour, sparse coding: why the dictionary's columns have norm 1 (notes: "Sparse Coding": "We
constraint the columns of D to be of norm 1 because otherwise D could just grow large,
allowing h^(t) to become small (i.e. sparse)").

A section of the chapter :mod:`rosenblatt.tour.chapters.autoencoders`, which calls
:func:`dictionary_norm_matters` with its ``ctx`` and a generator drawn from the tour seed; the
leading underscore keeps the tour from taking this module for a chapter of its own.

How it is measured: the alternating minimisation of ``rb.models.SparseCoding`` (codes by the
lasso's proximal gradient steps with the library's ``soft_threshold``; the dictionary by block
coordinate descent over its columns, d_k <- d_k + (b_k - D a_k) / A_kk) is run twice from the
same start, once projecting every updated column back to norm 1 (what ``SparseCoding`` does)
and once not: the projection is the only difference. Written out here because the library,
rightly, has no switch to leave the constraint off. Without it the L1 penalty can be evaded:
(c D, h / c) reconstructs x the same and pays lam ||h||_1 / c, so every round the shrunken
codes are made up for by longer columns. The cause of the growth is the penalty: with
``lam = 0`` nothing rewards small codes and the unconstrained columns stay near norm 1.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.models.sparse_coding import soft_threshold

ATOMS, EXAMPLES, ROUNDS, CODE_STEPS = 32, 300, 40, 60
SHOWN = (1, 10, 20, 40)  # the rounds the table shows


def _learn(x, start, lam, project):
    """Alternate code inference and dictionary updates; per round: (mean column norm, mean
    ||h||_1, mean 1/2 ||x - D h||^2, mean non-zero codes)."""
    D, H = start.copy(), np.zeros((len(x), start.shape[1]))
    path = []
    for _ in range(ROUNDS):
        G, C = D.T @ D, x @ D
        L = max(float(np.linalg.eigvalsh(G)[-1]), 1e-12)
        for _ in range(CODE_STEPS):  # ISTA, warm-started from the last round's codes
            H = soft_threshold(H - (H @ G - C) / L, lam / L)
        A, B = H.T @ H, x.T @ H
        for k in range(D.shape[1]):
            if A[k, k] > 1e-12:  # an unused atom stays as it is
                d = D[:, k] + (B[:, k] - D @ A[:, k]) / A[k, k]
                D[:, k] = d / max(np.linalg.norm(d), 1e-12) if project else d
        residual = x - H @ D.T
        path.append((float(np.linalg.norm(D, axis=0).mean()), float(np.abs(H).sum(1).mean()),
                     float(0.5 * (residual ** 2).sum(1).mean()), float((H != 0).sum(1).mean())))
    return np.array(path)


def dictionary_norm_matters(ctx, rng, lam=0.2):
    """Run both arms on 8x8 digits and make the claim; returns (constrained, unconstrained)
    paths, rows (column norm, L1 of the codes, reconstruction error, non-zero codes)."""
    X, _ = rb.datasets.load_digits()
    x = X[rng.choice(len(X), EXAMPLES, replace=False)].astype(np.float64)
    start = x[rng.choice(EXAMPLES, ATOMS, replace=False)].T.copy()  # SparseCoding's start
    start += 1e-3 * rng.standard_normal(start.shape)
    start /= np.linalg.norm(start, axis=0)
    unit, free = _learn(x, start, lam, True), _learn(x, start, lam, False)
    ctx.text(
        f"**Why the atoms have norm 1.** The same alternating minimisation as above (lasso codes "
        f"by proximal gradient steps, then block coordinate descent on the columns of D), on "
        f"{EXAMPLES} of the 8x8 digits with {ATOMS} atoms and lam = {lam:g}, run twice from the "
        f"same start: projecting each updated column back to norm 1, and not.")
    ctx.table(["round", "norm 1: mean column norm", "L1 of h", "non-zero codes",
               "free: mean column norm", "L1 of h", "non-zero codes"],
              [[r, unit[r - 1, 0], unit[r - 1, 1], unit[r - 1, 3], free[r - 1, 0],
                free[r - 1, 1], free[r - 1, 3]] for r in SHOWN])
    grew = free[-1, 0] >= 3.0 and free[-1, 0] > free[-11, 0]  # large, and still growing
    shrank = free[-1, 1] <= 0.5 * unit[-1, 1]
    ctx.claim("Without the norm-1 constraint on its columns the dictionary D grows large (mean "
              "column norm past 3 and still growing) and the codes h become small, evading the "
              "L1 penalty (their L1 norm at most half the constrained one's); small is not "
              "sparse, though: the small codes use more atoms",
              grew and shrank and free[-1, 3] > unit[-1, 3]
              and float(np.abs(unit[:, 0] - 1).max()) < 1e-9,
              f"after {ROUNDS} rounds: mean column norm {free[-1, 0]:.1f} unconstrained "
              f"({free[-11, 0]:.1f} ten rounds before) vs {unit[-1, 0]:.0f}; mean ||h||_1 "
              f"{free[-1, 1]:.2f} vs {unit[-1, 1]:.2f}; objective 1/2 ||x - D h||^2 + lam "
              f"||h||_1 {free[-1, 2] + lam * free[-1, 1]:.3f} vs "
              f"{unit[-1, 2] + lam * unit[-1, 1]:.3f}; non-zero codes {free[-1, 3]:.1f} vs "
              f"{unit[-1, 3]:.1f} of {ATOMS}")
    return unit, free
