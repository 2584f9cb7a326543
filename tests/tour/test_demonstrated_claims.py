"""The notes' claims that the tour once left undemonstrated, each run at its quick budget.

Lines of /work/shared/notes/neural-nets.txt: 1037-1039 (no nonlinearity, one layer),
486 and 1079 (gains and Rprop are for full batches), 594 (batch normalization regularizes),
1021 (early stopping on a plateau), 1446 (hidden units turned off at random), 1516 and 1518
(stacked denoising / contractive autoencoders for pre-training), 392-396 (saddle points),
1206 (shared weights resist overfitting).
"""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.tour.chapters import (
    activations,
    autoencoders,
    backprop,
    batchnorm,
    cnn,
    early_stopping,
    gains,
    unstable,
)
from rosenblatt.tour.context import Context


def _run(helper, *args, seed=0):
    ctx = Context(quick=True, rng=np.random.default_rng(seed))
    if helper is cnn._sharing:  # draws from ctx.rng itself
        helper(ctx)
    elif args:
        helper(ctx, *args)
    else:
        helper(ctx, ctx.rng)
    assert ctx.claims
    return ctx.claims


SLOW = pytest.mark.slow  # about a second each


@pytest.mark.parametrize("helper,words", [
    (activations._linear_layers_collapse, "Without nonlinear activations"),
    (unstable._rprop_mini_batches, "meant for full-batch"),
    (backprop._saddle_points, "saddle points"),
    pytest.param(gains._gains_on_mini_batches, "meant for full-batch", marks=SLOW),
    pytest.param(batchnorm._regularizer, "acts as a regularizer", marks=SLOW),
    pytest.param(early_stopping._plateau, "plateau", marks=SLOW),
    pytest.param(cnn._sharing, "Sharing weights", marks=SLOW),
    pytest.param(autoencoders._pretraining, "better than stacking RBMs", marks=SLOW),
])
def test_claim_is_demonstrated_and_confirmed(helper, words):
    claims = _run(helper)
    assert any(words in c.text for c in claims)
    assert all(c.passed for c in claims), [(c.text, c.detail) for c in claims]


def test_hidden_dropout_claim_is_confirmed():
    X, _ = rb.datasets.load_digits()
    claims = _run(autoencoders._hidden_dropout, X[:1400], 0, 15)
    (claim,) = claims
    assert "turned off at random" in claim.text and claim.passed, claim.detail

