"""Audit a2 (session 10) fixes: Perceptron.score reads targets as fit does (#1); the shared
checks refuse complex numbers (#3) and name the argument for odd values (#6); transfer's
docstring matches rb.fit's optimizer policy (#9)."""

import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt import checks
from rosenblatt.models import Perceptron
from rosenblatt.training import transfer

AND_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])


# -- #1: score reads y as fit does, and refuses targets of the other output convention ------
def test_perceptron_score_reads_string_targets_as_fit_does():
    y = np.array(["-1", "-1", "-1", "1"])  # a label column read from a CSV file as text
    p = Perceptron(2)
    assert p.fit(AND_X, y, epochs=20)[-1] == 0
    assert p.score(AND_X, y) == 1.0


def test_perceptron_score_refuses_targets_outside_the_outputs_two_values():
    p = Perceptron(2)
    p.fit(AND_X, [-1, -1, -1, 1], epochs=20)
    with pytest.raises(ValueError, match=r"Perceptron.score: with output='sign' targets must "
                                         r"be -1 or 1; got \[0. 1.\]"):
        p.score(AND_X, [0, 0, 0, 1])
    b = Perceptron(2, output="binary")
    b.fit(AND_X, [0, 0, 0, 1], epochs=20)
    assert b.score(AND_X, [0, 0, 0, 1]) == 1.0
    with pytest.raises(ValueError, match=r"Perceptron.score: with output='binary' targets"):
        b.score(AND_X, [-1, -1, -1, 1])


@pytest.mark.parametrize("where", ["fit", "score"])
def test_perceptron_names_targets_that_are_not_numbers(where):
    p = Perceptron(2)
    with pytest.raises(ValueError, match=rf"Perceptron.{where}: y must hold the numbers -1 and "
                                         rf"1; got .*'yes'"):
        getattr(p, where)(AND_X, ["no", "no", "no", "yes"])


# -- #3: complex scalars are refused, not cast to their real part ---------------------------
@pytest.mark.parametrize("check", [
    lambda v: checks.positive_float("SGD", "lr", v),
    lambda v: checks.finite_float("SGD", "lr", v),
    lambda v: checks.unit_interval("SGD", "lr", v),
])
@pytest.mark.parametrize("value", [np.complex128(0.1 + 5j), np.complex64(0.5), 0.5 + 0j])
def test_real_checks_refuse_complex_numbers(check, value):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning either: refused before any cast
        with pytest.raises(TypeError, match=r"SGD: lr must be a real number; got complex"):
            check(value)


def test_an_optimizer_refuses_a_complex_learning_rate():
    with pytest.raises(TypeError, match=r"SGD: lr must be a real number; got complex128"):
        rb.optim.SGD(rb.nn.Dense(2, 1, rng=0).parameters(), lr=np.complex128(0.1 + 5j))


def test_real_checks_still_take_what_the_library_passes():
    assert checks.positive_float("SGD", "lr", np.float32(0.5)) == 0.5
    assert checks.positive_float("SGD", "lr", np.int64(2)) == 2.0
    assert checks.finite_float("sine", "low", -3) == -3.0
    assert checks.unit_interval("Dropout", "rate", 0) == 0.0


# -- #6: odd values get a message naming the owner and the argument ------------------------
def test_timedelta_is_not_an_integer():
    assert not checks.is_int(np.timedelta64(3, "D"))
    assert checks.is_int(np.int8(3)) and checks.is_int(3) and not checks.is_int(True)
    with pytest.raises(ValueError, match=r"Dense: in_features must be a positive integer; "
                                         r"got np.timedelta64\(3,'D'\)"):
        checks.positive_int("Dense", "in_features", np.timedelta64(3, "D"))
    with pytest.raises(TypeError, match=r"SGD: lr must be a real number; got timedelta64"):
        checks.positive_float("SGD", "lr", np.timedelta64(3, "D"))


@pytest.mark.parametrize("check, message", [
    (lambda v: checks.positive_float("SGD", "lr", v), r"SGD: lr must be finite and > 0"),
    (lambda v: checks.finite_float("sine", "low", v), r"sine: low must be a finite number"),
])
@pytest.mark.parametrize("value", [10**400, -(10**400)], ids=["1e400", "-1e400"])
def test_an_integer_beyond_float_range_is_named(check, message, value):
    with pytest.raises(ValueError, match=message + r"; got -?1000000"):
        check(value)


def test_one_of_refuses_an_array_naming_the_argument():
    for value in (np.array(["sign", "binary"]), np.array(["sign"]), np.array("sign")):
        with pytest.raises(ValueError, match=r"Perceptron: output must be 'sign' or 'binary'; "
                                             r"got array"):
            checks.one_of("Perceptron", "output", value, ("sign", "binary"))
    with pytest.raises(ValueError, match=r"Perceptron: output must be 'sign' or 'binary'"):
        Perceptron(2, output=np.array(["sign", "binary"]))
    assert checks.one_of("Perceptron", "output", np.str_("sign"), ("sign", "binary")) == "sign"


# -- #9: the docstring says what rb.fit does with the old model's optimizer -----------------
def test_transfer_docstring_matches_fits_policy_for_the_old_optimizer():
    doc = " ".join(transfer.__doc__.split())
    assert "refuses an optimizer that misses trainable parameters" not in doc
    assert "holds none of the trainable parameters" in doc and "warns" in doc
    X, y = rb.datasets.moons(16, rng=0)
    for freeze in (True, False):
        net = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=0), rb.nn.ReLU(), rb.nn.Dense(4, 2, rng=1))
        old = rb.optim.SGD(net.parameters(), lr=0.1)
        new = transfer.replace_output(net, rb.nn.Dense(4, 3, rng=2), freeze=freeze)
        fit = lambda: rb.fit(new, X, y, loss="cross_entropy", optimizer=old,  # noqa: E731, B023
                             epochs=1, progress=False)
        if freeze:  # the old optimizer holds none of the (new layer's) trainable parameters
            with pytest.raises(ValueError, match=r"fit: the optimizer holds none"):
                fit()
        else:  # it holds the body's: a warning, and the new layer does not learn
            with pytest.warns(UserWarning, match=r"does not hold 2 of the model's 4"):
                fit()
