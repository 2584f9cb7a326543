"""Audit h3 (session 11): the adversarial attacks. Inputs that are not real numbers (None,
strings, complex numbers, ragged lists) are named instead of cast, and fgsm/pgd refuse a
non-finite input gradient instead of returning NaN examples (|x_adv - x| <= eps)."""

import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.training import adversarial as adv

_X = np.array([[0.2, 0.4], [0.6, 0.8]], dtype=np.float32)
_Y = np.array([0, 1])

_ATTACKS = {
    "fgsm": lambda net, x, y: adv.fgsm(net, x, y, 0.1),
    "pgd": lambda net, x, y: adv.pgd(net, x, y, 0.1, 0.05, 2),
    "input_gradient": lambda net, x, y: adv.input_gradient(net, x, y),
}


@pytest.mark.parametrize("owner", list(_ATTACKS))
@pytest.mark.parametrize("x", ["none", "strings", "complex", "objects"])
def test_attacks_refuse_inputs_that_are_not_real_numbers(owner, x):
    value = {"none": None, "strings": _X.astype(str), "complex": _X + 0.5j,
             "objects": _X.astype(object)}[x]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a ComplexWarning was all there was)
        with pytest.raises(TypeError, match=rf"{owner}: x must be an array of real numbers"):
            _ATTACKS[owner](rb.nn.Dense(2, 2, rng=0), value, _Y)


@pytest.mark.parametrize("owner", list(_ATTACKS))
def test_attacks_name_a_ragged_input(owner):
    with pytest.raises(ValueError, match=rf"{owner}: x must be a numeric array"):
        _ATTACKS[owner](rb.nn.Dense(2, 2, rng=0), [[0.1, 0.2], [0.3]], _Y)


@pytest.mark.parametrize("owner", list(_ATTACKS))
def test_attacks_still_take_integers_booleans_lists_and_tensors(owner):
    net = rb.nn.Dense(2, 2, rng=0)
    for x in (np.array([[0, 1], [1, 0]], dtype=np.uint8), _X > 0.5, _X.tolist(), rb.tensor(_X)):
        out = _ATTACKS[owner](net, x, _Y)
        assert out.shape == (2, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("owner", ["fgsm", "pgd"])
@pytest.mark.parametrize("cause", ["diverged_model", "nan_targets"])
def test_attacks_refuse_a_non_finite_input_gradient(owner, cause):
    net = rb.nn.Dense(2, 2, rng=0)
    y = _Y
    if cause == "diverged_model":
        net.W.data[0, 0] = np.inf
    else:
        y = np.array([[1.0, 0.0], [np.nan, np.nan]], dtype=np.float32)  # soft targets
    with np.errstate(all="ignore"):  # (inf - inf in the forward pass, as NumPy's default)
        with pytest.raises(ValueError, match=rf"{owner}: the loss's gradient with respect to x"):
            _ATTACKS[owner](net, _X, y)


def test_adversarial_training_is_unchanged_by_the_attack_checks():
    """rb.fit's attacks (FGSM/PGD objects) take the same steps as before: x_adv within eps."""
    X = np.random.default_rng(0).random((16, 4)).astype(np.float32)
    y = (X.sum(axis=1) > 2).astype(np.int64)
    net = rb.nn.Dense(4, 2, rng=0)
    attack = adv.FGSM(eps=0.05)
    xa = attack.perturb(net, X, y, rb.losses.cross_entropy)
    assert np.abs(xa - X).max() <= 0.05 + 1e-6
    h = rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, progress=False, adversarial=adv.PGD(0.05, 0.02, 2))
    assert np.isfinite(h["loss"]).all()


# -- FGSM/PGD settings changed since construction are checked when rb.fit starts -------------
@pytest.mark.parametrize("make, name, value", [
    (lambda: adv.FGSM(0.1), "eps", -0.1), (lambda: adv.FGSM(0.1), "alpha", 2.0),
    (lambda: adv.FGSM(0.1), "clip", (1, 0)), (lambda: adv.PGD(0.1, 0.05, 3), "steps", 0),
    (lambda: adv.PGD(0.1, 0.05, 3), "step", -0.05)], ids=["eps", "alpha", "clip", "steps", "step"])
def test_attack_settings_changed_since_are_checked_when_fit_starts(make, name, value):
    X = np.random.default_rng(0).random((16, 4)).astype(np.float32)
    y = (X.sum(axis=1) > 2).astype(np.int64)
    net = rb.nn.Dense(4, 2, rng=0)
    before = net.W.data.copy()
    attack = make()
    setattr(attack, name, value)
    with pytest.raises(ValueError, match=rf"fit: (FGSM|PGD): {name} must"):
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.SGD(net.parameters(), lr=0.1),
               epochs=1, progress=False, adversarial=attack)
    assert np.array_equal(net.W.data, before)
