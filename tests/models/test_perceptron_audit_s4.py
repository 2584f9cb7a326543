"""Audit a8: the perceptron refuses a SciPy sparse X instead of misreading its non-zeros."""

import numpy as np
import pytest

import rosenblatt as rb


def test_sparse_input_is_refused_with_the_fix():
    sp = pytest.importorskip("scipy.sparse")
    p = rb.models.Perceptron(3)
    p.W.data[:] = [1.0, -1.0, 0.5]
    Xs = sp.csr_matrix(np.array([[0, 2.0, 0], [0, 0, 3.0], [1.0, 0, 0]]))
    for call in (p.predict, p.net, lambda X: p.fit(X, [1, -1, 1])):
        with pytest.raises(TypeError, match=r"Perceptron\.\w+: X is a sparse matrix of shape "
                                            r"\(3, 3\); pass X\.toarray\(\)"):
            call(Xs)
    np.testing.assert_array_equal(p.predict(Xs.toarray()), [-1, 1, 1])


def test_tensor_and_array_inputs_still_work():
    p = rb.models.Perceptron(2)
    p.W.data[:] = [1.0, -1.0]
    X = np.array([[2.0, 1.0], [0.0, 1.0]])
    np.testing.assert_array_equal(p.predict(rb.tensor(X)), [1, -1])
    np.testing.assert_array_equal(p.predict(X.tolist()), [1, -1])
    np.testing.assert_array_equal(p.net(X), [1.0, -1.0])
