"""SparseCoding: the lasso codes (three solvers, optimality, scikit-learn), the dictionary's
norm constraint, the held-out objective against scikit-learn's MiniBatchDictionaryLearning."""

import warnings

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.models.sparse_coding import soft_threshold


@pytest.fixture(scope="module")
def digits():
    X, _ = rb.datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    return X[order[:1400]].astype(np.float64), X[order[1400:]].astype(np.float64)


@pytest.fixture(scope="module")
def fitted(digits):
    return rb.models.SparseCoding(32, 0.1, rng=0).fit(digits[0], epochs=5)


def test_soft_threshold():
    np.testing.assert_array_equal(soft_threshold(np.array([-3.0, -0.5, 0.0, 0.2, 2.0]), 1.0),
                                  [-2.0, 0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("solver", ["fista", "ista", "coordinate_descent"])
def test_dictionary_columns_have_unit_norm(digits, solver):
    sc = rb.models.SparseCoding(16, 0.1, solver=solver, rng=0).fit(digits[0][:400], epochs=2)
    np.testing.assert_allclose(np.linalg.norm(sc.dictionary, axis=0), 1.0, rtol=1e-12)
    assert sc.history[-1] < sc.history[0]


def test_at_most_one_norm(digits):
    sc = rb.models.SparseCoding(16, 0.1, dictionary_norm="at_most_one", rng=0)
    sc.fit(digits[0][:400], epochs=2)
    assert np.linalg.norm(sc.dictionary, axis=0).max() <= 1 + 1e-12


def test_codes_satisfy_the_lasso_optimality_conditions(digits, fitted):
    """0 in D^T(Dh - x) + lam d|h|: the correlation is lam sign(h) on the support, <= lam off it."""
    X = digits[1][:50]
    D = fitted.dictionary
    sc = rb.models.SparseCoding(32, 0.1, rng=0, tol=1e-9, max_iter=20000)
    sc.dictionary = D
    H = sc.transform(X)
    corr = (X - H @ D.T) @ D
    on = H != 0
    np.testing.assert_allclose(corr[on], 0.1 * np.sign(H[on]), atol=1e-6)
    assert np.abs(corr[~on]).max() <= 0.1 + 1e-6


def test_solvers_and_scikit_learn_find_the_same_codes(digits, fitted):
    pytest.importorskip("sklearn")
    from sklearn.decomposition import SparseCoder

    X = digits[1]
    codes = {}
    for solver in ("fista", "ista", "coordinate_descent"):
        sc = rb.models.SparseCoding(32, 0.1, solver=solver, tol=1e-8, max_iter=5000)
        sc.dictionary = fitted.dictionary
        codes[solver] = sc.transform(X)
    ref = SparseCoder(fitted.dictionary.T, transform_algorithm="lasso_cd", transform_alpha=0.1,
                      transform_max_iter=10000).transform(X)
    for solver, H in codes.items():
        np.testing.assert_allclose(H, ref, atol=2e-3, err_msg=solver)
        np.testing.assert_allclose(fitted.objective(X, H), fitted.objective(X, ref), rtol=1e-5)


@pytest.mark.parametrize("n_atoms, lam", [(32, 0.1), (64, 0.3)])
def test_held_out_objective_within_2_percent_of_scikit_learn(digits, n_atoms, lam):
    """Same lam, atoms and data; both dictionaries' held-out codes from scikit-learn's lasso.

    Measured when written: (32, 0.1): 0.840 here vs 0.957 for MiniBatchDictionaryLearning
    (10 epochs each); (64, 0.3): 1.587 vs 1.613 (lower is better).
    """
    pytest.importorskip("sklearn")
    from sklearn.decomposition import MiniBatchDictionaryLearning, SparseCoder

    Xtr, Xte = digits
    ours = rb.models.SparseCoding(n_atoms, lam, rng=0).fit(Xtr, epochs=10, batch_size=256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MiniBatchDictionaryLearning(n_atoms, alpha=lam, batch_size=256, max_iter=10,
                                             fit_algorithm="cd", random_state=0).fit(Xtr)

    def held_out(D):  # (n_features, n_atoms)
        coder = SparseCoder(D.T, transform_algorithm="lasso_cd", transform_alpha=lam,
                            transform_max_iter=5000)
        H = coder.transform(Xte)
        R = Xte - H @ D.T
        return (0.5 * (R ** 2).sum() + lam * np.abs(H).sum()) / len(Xte)

    mine, reference = held_out(ours.dictionary), held_out(theirs.components_.T)
    assert mine <= 1.02 * reference, (mine, reference)
    assert abs(ours.objective(Xte) - mine) <= 1e-3 * mine  # our own inference agrees


def test_reconstruct_and_objective(digits, fitted):
    X = digits[1][:20]
    H = fitted.transform(X)
    np.testing.assert_allclose(fitted.reconstruct(X), H @ fitted.dictionary.T)
    R = X - H @ fitted.dictionary.T
    expected = (0.5 * (R ** 2).sum(axis=1) + 0.1 * np.abs(H).sum(axis=1)).mean()
    assert fitted.objective(X) == pytest.approx(expected)


def test_bad_input(digits, fitted):
    with pytest.raises(ValueError, match="n_atoms"):
        rb.models.SparseCoding(0, 0.1)
    with pytest.raises(ValueError, match="lam"):
        rb.models.SparseCoding(8, -0.1)
    with pytest.raises(ValueError, match="solver must be"):
        rb.models.SparseCoding(8, 0.1, solver="lars")
    with pytest.raises(ValueError, match="dictionary_norm must be"):
        rb.models.SparseCoding(8, 0.1, dictionary_norm="two")
    with pytest.raises(RuntimeError, match="fit"):
        rb.models.SparseCoding(8, 0.1).transform(digits[1])
    with pytest.raises(ValueError, match="X has 10 features but the dictionary"):
        fitted.transform(digits[1][:, :10])
    bad = digits[1][:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        rb.models.SparseCoding(8, 0.1).fit(bad)


def test_rb_seed_makes_a_fit_reproducible(digits):
    dictionaries = []
    for _ in range(2):
        rb.seed(3)
        dictionaries.append(rb.models.SparseCoding(8, 0.2).fit(digits[0][:200], epochs=1)
                            .dictionary)
    np.testing.assert_array_equal(dictionaries[0], dictionaries[1])


def test_objective_checks_the_codes_shape():
    X = np.random.default_rng(0).normal(size=(10, 4))
    sc = rb.models.SparseCoding(3, 0.1, rng=0).fit(X, epochs=1)
    with pytest.raises(ValueError, match=r"SparseCoding.objective: codes must be a numeric array "
                                         r"of shape \(n_examples, n_atoms\) = \(10, 3\); got "
                                         r"shape \(10, 2\)"):
        sc.objective(X, codes=np.zeros((10, 2)))
    assert sc.objective(X, codes=sc.transform(X)) == pytest.approx(sc.objective(X))


@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                             (np.int64, np.float64)])
def test_codes_and_reconstructions_take_the_input_dtype(dtype, expected):
    X = np.random.default_rng(0).normal(size=(20, 4)) * 3
    sc = rb.models.SparseCoding(3, 0.1, rng=0).fit(X, epochs=1)
    Xd = X.astype(dtype)
    codes = sc.transform(Xd)
    assert codes.dtype == expected and sc.reconstruct(Xd).dtype == expected
    np.testing.assert_allclose(codes, sc.transform(Xd.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_sklearn_inverse_transform_names_the_codes_shape():
    pytest.importorskip("sklearn")
    X = np.random.default_rng(0).normal(size=(30, 3))
    sc = rb.sklearn.SparseCoding(4, max_iter=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"SparseCoding.inverse_transform: H must have shape "
                                         r"\(n_samples, 4\); got \(2, 3\)"):
        sc.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        sc.inverse_transform(np.zeros(4))
    assert sc.inverse_transform(sc.transform(X[:2])).shape == (2, 3)


# -- audit a3 ------------------------------------------------------------------------------
def test_fit_learns_a_new_dictionary_for_data_of_another_width():
    g = np.random.default_rng(0)
    sc = rb.models.SparseCoding(4, 0.1, rng=0).fit(g.normal(size=(20, 6)), epochs=1)
    X5 = g.normal(size=(20, 5))
    assert sc.fit(X5, epochs=1).dictionary.shape == (5, 4)
    assert sc.transform(X5).shape == (20, 4)


def test_unconverged_inference_warns_naming_max_iter(digits, fitted):
    from rosenblatt.models.sparse_coding import ConvergenceWarning

    X = digits[1][:40]
    sc = rb.models.SparseCoding(32, 0.1, solver="ista", max_iter=5)
    sc.dictionary = fitted.dictionary
    for call in (sc.transform, sc.reconstruct, sc.objective):
        with pytest.warns(ConvergenceWarning, match=r"SparseCoding\.\w+: \d+ of 40 rows did not "
                                                    r"converge in max_iter=5 iterations "
                                                    r"\(solver='ista'\); their codes still "
                                                    r"moved by up to [\d.e-]+ \(tol=0\.0001\)"):
            call(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(X)  # FISTA at its defaults converges here
        sc64 = rb.models.SparseCoding(64, 0.3, rng=0).fit(digits[0][:500], epochs=2)
        sc64.transform(digits[1])  # 300 iterations (the old default) left rows unsettled
        rb.models.SparseCoding(8, 0.1, max_iter=2, rng=0).fit(X, epochs=1)  # fit: inner_iter


def test_save_and_load_round_trip(tmp_path, digits, fitted):
    rb.save(fitted, tmp_path / "sc.safetensors")
    back = rb.load(tmp_path / "sc.safetensors")
    assert isinstance(back, rb.models.SparseCoding)
    assert (back.n_atoms, back.lam, back.solver, back.max_iter, back.tol) == (32, 0.1, "fista",
                                                                              1000, 1e-4)
    np.testing.assert_array_equal(back.dictionary, fitted.dictionary)
    np.testing.assert_array_equal(back.transform(digits[1][:5]), fitted.transform(digits[1][:5]))
    blank = rb.models.SparseCoding(5, 0.3, dictionary_norm="at_most_one", solver="ista",
                                   max_iter=7, tol=0.01)
    rb.save(blank, tmp_path / "blank.safetensors")
    back = rb.load(tmp_path / "blank.safetensors")
    assert back.dictionary is None and repr(back) == repr(blank)
    assert (back.max_iter, back.tol) == (7, 0.01)


def test_nan_codes_are_refused(fitted, digits):
    H = fitted.transform(digits[1][:3])
    H[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"SparseCoding\.objective: codes contain NaN or "
                                         r"infinite values"):
        fitted.objective(digits[1][:3], H)


def test_a_sparse_matrix_is_refused_by_name():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(12, 6, density=0.5, random_state=0, format="csr")
    with pytest.raises(TypeError, match=r"SparseCoding\.fit: X is a sparse matrix of shape "
                                        r"\(12, 6\); pass X\.toarray\(\)"):
        rb.models.SparseCoding(3, 0.1, rng=0).fit(X)
    sc = rb.models.SparseCoding(3, 0.1, rng=0).fit(rb.tensor(X.toarray()), epochs=1)
    assert sc.dictionary.shape == (6, 3)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_loaded_non_finite_dictionary_is_refused_with_a_clear_error(tmp_path, value):
    from rosenblatt.io.safetensors_format import decode, encode

    X = np.random.default_rng(0).normal(size=(60, 8))
    path = tmp_path / "sc.rb"
    rb.save(rb.models.SparseCoding(5, 0.1, rng=0).fit(X, epochs=2), path)
    tensors, header = decode(path.read_bytes())
    (name,) = [k for k in tensors if k.endswith("dictionary")]
    tensors[name] = tensors[name].copy()
    tensors[name][3, 1] = value
    path.write_bytes(encode(tensors, header))
    try:
        sc = rb.load(path)
    except rb.io.FormatError as err:  # refused at load: fine too, if it names the dictionary
        assert "dictionary" in str(err)
        return
    for call in (sc.transform, sc.reconstruct, sc.objective):
        with pytest.raises(ValueError, match="SparseCoding.* dictionary contains NaN or "
                                             "infinite values"):
            call(X[:2])
