"""Tour, autoencoders: the gradient of tied weights is the sum of two gradients (notes: "Loss
function gradient in autoencoders": "Note that if you are using tied weights, the gradient
nabla_W l(f(x^(t))) is the sum of two gradients; that is, it is sum of the gradients for W*
and W^T").

A section of the chapter :mod:`rosenblatt.tour.chapters.autoencoders`, which calls
:func:`tied_gradient_is_a_sum` with its ``ctx`` and ``rng``; the leading underscore keeps the
tour from taking this module for a chapter of its own.

How it is measured: the true gradient of the tied autoencoder's loss with respect to W is
taken by central differences of the loss (no autodiff involved), on entries of W drawn at
random. The two gradients of the notes are those of W's two uses, taken apart: an untied
twin with the same encoder W and a decoder W* set to W^T, whose gradients with respect to W
(the encoder's use) and W* (the decoder's, transposed) are the two terms. The claim: their
sum is the true gradient, and neither term alone is. With ``tied=False`` (the cause removed:
the decoder has weights of its own) the loss depends on W through the encoder only, and the
sum of the two terms is no longer its gradient.
"""

import numpy as np

import rosenblatt as rb

EPS = 1e-6  # central differences in float64: error about EPS^2 times the third derivative


def _loss(model, x):
    return float(model.loss(x).data)


def _relative(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _measure(x, seed, tied, entries):
    """(finite differences, the engine's gradient, the encoder term, the decoder term) at
    ``entries`` (flat indices into W) of a 64-16 sigmoid autoencoder."""
    model = rb.models.Autoencoder(x.shape[1], 16, tied=tied, rng=seed).astype(np.float64)
    decoder = model.W.data.T.copy() if tied else model.W_dec.data.copy()
    twin = rb.models.Autoencoder(x.shape[1], 16, tied=False, rng=seed).astype(np.float64)
    twin.W.data[...] = model.W.data
    twin.W_dec.data[...] = decoder
    twin.b_dec.data[...] = model.b_dec.data
    twin.b.data[...] = model.b.data
    twin.zero_grad()
    twin.loss(x).backward()
    encoder_term = twin.W.grad.ravel()[entries]
    decoder_term = twin.W_dec.grad.T.ravel()[entries]
    model.zero_grad()
    model.loss(x).backward()
    engine = model.W.grad.ravel()[entries].copy()
    flat = model.W.data.reshape(-1)  # a view: the model sees each nudge
    numeric = np.empty(len(entries))
    for n, i in enumerate(entries):
        keep = flat[i]
        flat[i] = keep + EPS
        up = _loss(model, x)
        flat[i] = keep - EPS
        down = _loss(model, x)
        flat[i] = keep
        numeric[n] = (up - down) / (2 * EPS)
    return numeric, engine, encoder_term, decoder_term


def tied_gradient_is_a_sum(ctx, rng, tied=True):
    """Measure the notes' statement on 8x8 digits and make it a claim; returns the relative
    errors (sum, encoder term alone, decoder term alone, the engine) against the true
    gradient."""
    X, _ = rb.datasets.load_digits()
    x = X[rng.choice(len(X), 100, replace=False)].astype(np.float64)
    seed = int(rng.integers(2**31))
    entries = rng.choice(X.shape[1] * 16, 40, replace=False)
    numeric, engine, enc, dec = _measure(x, seed, tied, entries)
    errors = {"sum": _relative(enc + dec, numeric), "encoder": _relative(enc, numeric),
              "decoder": _relative(dec, numeric), "engine": _relative(engine, numeric)}
    ctx.text(
        "**Tied weights.** A 64-16 sigmoid autoencoder with tied weights (decoder W* = W^T) on "
        "100 of the 8x8 digits, in float64. The true gradient of its loss with respect to W "
        "is taken by central differences on 40 entries of W drawn at random; the two "
        "gradients the notes add are those of an untied twin with the same W and W* = W^T: "
        "with respect to W (the encoder's use) and to W* (the decoder's, transposed).")
    ctx.claim("With tied weights the gradient with respect to W is the sum of two gradients, "
              "those for W* and for W^T: their sum is the true gradient (relative error below "
              "1e-6) and neither alone is (relative error above 0.05)",
              errors["sum"] < 1e-6 and min(errors["encoder"], errors["decoder"]) > 0.05,
              f"relative error against central differences: encoder term + decoder term "
              f"{errors['sum']:.1e}, encoder term alone {errors['encoder']:.2f}, decoder term "
              f"alone {errors['decoder']:.2f}; the engine's gradient of W "
              f"{errors['engine']:.1e}" + ("" if tied else " (untied: W* has weights of its "
                                                           "own)"))
    return errors
