"""Tour, autoencoders: the contractive penalty's weight lambda trades the two terms off (notes:
"Contractive autoencoders": the reconstruction loss "encourages the encoder to keep good
information", the penalty "encourages it to throw all information away"; "The lambda
hyperparameter lets us tweak which of these terms to prioritize").

A section of the chapter :mod:`rosenblatt.tour.chapters.autoencoders`, which calls
:func:`lambda_trades_off` with its ``ctx`` and a generator drawn from the tour seed; the
leading underscore keeps the tour from taking this module for a chapter of its own.

How it is measured: 64-64 sigmoid contractive autoencoders on the 8x8 digits, one per lambda,
all from the same initial weights, with the same data, optimiser and budget; on held-out
digits, the encoder's sensitivity (the mean squared Frobenius norm of its Jacobian) and the
reconstruction error. The claim: each larger lambda gives a less sensitive encoder and a worse
reconstruction. With ``lams`` all zero (the cause removed: no penalty to prioritise) the runs
are the same and nothing is traded.
"""

import numpy as np

import rosenblatt as rb

LAMS = (0.0, 0.01, 0.1, 1.0)
TRAIN, HELD_OUT, EPOCHS = 500, 300, 40


def _jacobian_norm(ae, X):
    """Mean ||J_h(x)||_F^2 of a sigmoid encoder: sum_j (h_j (1 - h_j))^2 ||W_:j||^2."""
    h = ae.transform(X)
    slope = h * (1 - h)
    return float(((slope * slope) @ np.square(ae.W.data).sum(axis=0)).mean())


def _reconstruction_error(ae, X):
    """Mean squared error per digit (summed over the 64 pixels)."""
    return float(np.square(ae.reconstruct(X) - X).sum(axis=1).mean())


def lambda_trades_off(ctx, rng, lams=LAMS):
    """Train one contractive autoencoder per lambda and make the claim; returns rows
    (lambda, Jacobian norm, reconstruction error) on held-out digits."""
    X, _ = rb.datasets.load_digits()
    order = rng.permutation(len(X))
    train, held_out = X[order[:TRAIN]], X[order[TRAIN:TRAIN + HELD_OUT]]
    seed = int(rng.integers(2**31))
    rows = []
    for lam in lams:
        ae = rb.models.Autoencoder(64, 64, contractive=lam, rng=seed)
        ae.fit(train, epochs=EPOCHS, batch_size=50,
               optimizer=rb.optim.Adam(ae.parameters(), lr=1e-2))
        rows.append((lam, _jacobian_norm(ae, held_out), _reconstruction_error(ae, held_out)))
    ctx.text(
        "**Lambda sets the balance.** 64-64 sigmoid contractive autoencoders on "
        f"{TRAIN} of the 8x8 digits, one per lambda, from the same initial weights (Adam, "
        f"{EPOCHS} epochs), measured on {HELD_OUT} held-out digits.")
    ctx.table(["lambda", "||J_h(x)||_F^2", "squared reconstruction error"], rows)
    jac, err = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    ctx.claim("Lambda tweaks which term is prioritised: each larger lambda gives an encoder "
              "less sensitive to its input and a worse reconstruction",
              bool(np.all(np.diff(jac) < 0) and np.all(np.diff(err) > 0)),
              "on held-out digits, lambda: Jacobian norm, reconstruction error: " + "; ".join(
                  f"{lam:g}: {j:.2f}, {e:.3f}" for lam, j, e in rows))
    return rows
