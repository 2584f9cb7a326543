"""NTM addressing steps: each equals a loop-by-loop NumPy transcription of the notes' formulas,
passes a float64 gradient check, and rejects bad input."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn import ntm_addressing as A

B, H, N, M = 3, 2, 7, 4


def t64(x, grad=True):
    return rb.tensor(np.asarray(x, dtype=np.float64), requires_grad=grad, dtype=np.float64)


def _dist(rng, *shape):
    x = rng.random(shape) + 0.05
    return x / x.sum(axis=-1, keepdims=True)


# -- the notes, transcribed one location at a time ---------------------------------------


def notes_content(k, beta, mem):
    out = np.empty((B, k.shape[1], mem.shape[1]))
    for b in range(k.shape[0]):
        for h in range(k.shape[1]):
            K = [k[b, h] @ mem[b, i] / (np.sqrt(k[b, h] @ k[b, h] + A.COSINE_EPS)
                                         * np.sqrt(mem[b, i] @ mem[b, i] + A.COSINE_EPS))
                 for i in range(mem.shape[1])]
            e = np.exp(beta[b, h] * np.array(K))
            out[b, h] = e / e.sum()
    return out


def notes_shift(wg, s, shifts):
    n = wg.shape[-1]
    out = np.zeros_like(wg)
    sd = {sh: k for k, sh in enumerate(shifts)}  # s(d) for an allowed shift d (mod N)
    for b, h in np.ndindex(wg.shape[:2]):
        for i in range(n):
            for j in range(n):
                for d, k in sd.items():
                    if (i - j - d) % n == 0:
                        out[b, h, i] += wg[b, h, j] * s[b, h, k]
    return out


def notes_sharpen(w, gamma):
    p = w ** gamma[..., None]
    return p / p.sum(axis=-1, keepdims=True)


def notes_write(mem, w, e, a):
    out = mem.copy()
    for b in range(mem.shape[0]):
        for i in range(mem.shape[1]):
            erased = mem[b, i].copy()
            for h in range(w.shape[1]):
                erased = erased * (1 - w[b, h, i] * e[b, h])
            out[b, i] = erased + sum(w[b, h, i] * a[b, h] for h in range(w.shape[1]))
    return out


# -- forward against the notes -----------------------------------------------------------


def test_content_weighting_matches_notes(rng):
    k, beta, mem = rng.standard_normal((B, H, M)), rng.random((B, H)) * 5 + 0.1, \
        rng.standard_normal((B, N, M))
    got = A.content_weighting(t64(k), t64(beta), t64(mem)).data
    np.testing.assert_allclose(got, notes_content(k, beta, mem), rtol=1e-12)
    np.testing.assert_allclose(got.sum(axis=-1), 1)


def test_interpolate_matches_notes(rng):
    wc, wp, g = _dist(rng, B, H, N), _dist(rng, B, H, N), rng.random((B, H))
    got = A.interpolate(t64(wc), t64(g), t64(wp)).data
    for b, h in np.ndindex(B, H):
        np.testing.assert_allclose(got[b, h], g[b, h] * wc[b, h] + (1 - g[b, h]) * wp[b, h])


@pytest.mark.parametrize("shifts", [(-1, 0, 1), (0, 1), (-2, -1, 0, 1, 2), (3, 0)])
def test_shift_matches_notes(rng, shifts):
    wg, s = _dist(rng, B, H, N), _dist(rng, B, H, len(shifts))
    got = A.shift(t64(wg), t64(s), shifts).data
    np.testing.assert_allclose(got, notes_shift(wg, s, shifts), rtol=1e-12)


def test_shift_moves_a_point_one_location():
    w = np.zeros((1, 1, 5))
    w[0, 0, 4] = 1
    out = A.shift(t64(w), t64([[[0.0, 0.0, 1.0]]])).data  # +1, wrapping around
    np.testing.assert_array_equal(out[0, 0], [1, 0, 0, 0, 0])


def test_sharpen_matches_notes(rng):
    w, gamma = _dist(rng, B, H, N), 1 + 3 * rng.random((B, H))
    got = A.sharpen(t64(w), t64(gamma)).data
    np.testing.assert_allclose(got, notes_sharpen(w, gamma), rtol=1e-12)


def test_sharpen_survives_zeros_and_a_huge_gamma():
    w = np.array([[[0.0, 0.3, 0.7, 0.0]]])
    x, g = t64(w), t64([[400.0]])
    out = A.sharpen(x, g)
    assert np.all(np.isfinite(out.data)) and out.data[0, 0, 2] == pytest.approx(1)
    out.backward(np.ones_like(out.data))
    assert np.all(np.isfinite(x.grad)) and np.all(np.isfinite(g.grad))


def test_read_matches_notes(rng):
    w, mem = _dist(rng, B, H, N), rng.standard_normal((B, N, M))
    got = A.read(t64(w), t64(mem)).data
    for b, h in np.ndindex(B, H):
        np.testing.assert_allclose(got[b, h], sum(w[b, h, i] * mem[b, i] for i in range(N)))


@pytest.mark.parametrize("heads", [1, 3])
def test_write_matches_notes(rng, heads):
    mem, w = rng.standard_normal((B, N, M)), _dist(rng, B, heads, N)
    e, a = rng.random((B, heads, M)), rng.standard_normal((B, heads, M))
    got = A.write(t64(mem), t64(w), t64(e), t64(a)).data
    np.testing.assert_allclose(got, notes_write(mem, w, e, a), rtol=1e-12)


def test_write_erase_statements_of_the_notes(rng):
    mem = rng.standard_normal((1, N, M))
    zero_add = np.zeros((1, 1, M))
    w = _dist(rng, 1, 1, N)
    # e = 0: unchanged, whatever w
    out = A.write(t64(mem), t64(w), t64(np.zeros((1, 1, M))), t64(zero_add)).data
    np.testing.assert_array_equal(out, mem)
    # w = 0: unchanged, whatever e
    out = A.write(t64(mem), t64(np.zeros((1, 1, N))), t64(np.ones((1, 1, M))), t64(zero_add)).data
    np.testing.assert_array_equal(out, mem)
    # w(i) = 1 and e all ones: location i erased, the others untouched
    onehot = np.zeros((1, 1, N))
    onehot[0, 0, 2] = 1
    out = A.write(t64(mem), t64(onehot), t64(np.ones((1, 1, M))), t64(zero_add)).data
    np.testing.assert_array_equal(out[0, 2], 0)
    np.testing.assert_array_equal(np.delete(out[0], 2, axis=0), np.delete(mem[0], 2, axis=0))


# -- gradients ---------------------------------------------------------------------------


def test_content_weighting_gradcheck(rng):
    k, beta, mem = rng.standard_normal((B, H, M)), rng.random((B, H)) * 3 + 0.1, \
        rng.standard_normal((B, N, M))
    rb.gradcheck(A.content_weighting, t64(k), t64(beta), t64(mem))


def test_content_weighting_gradcheck_zero_memory_row(rng):
    k, beta, mem = rng.standard_normal((1, 1, M)), np.array([[2.0]]), rng.standard_normal((1, 3, M))
    mem[0, 1] = 0
    rb.gradcheck(A.content_weighting, t64(k), t64(beta), t64(mem))


def test_interpolate_gradcheck(rng):
    rb.gradcheck(A.interpolate, t64(_dist(rng, B, H, N)), t64(rng.random((B, H))),
                 t64(_dist(rng, B, H, N)))


@pytest.mark.parametrize("shifts", [(-1, 0, 1), (0, 2)])
def test_shift_gradcheck(rng, shifts):
    rb.gradcheck(lambda w, s: A.shift(w, s, shifts), t64(_dist(rng, B, H, N)),
                 t64(_dist(rng, B, H, len(shifts))))


def test_sharpen_gradcheck(rng):
    rb.gradcheck(A.sharpen, t64(_dist(rng, B, H, N)), t64(1 + 2 * rng.random((B, H))))


def test_read_gradcheck(rng):
    rb.gradcheck(A.read, t64(_dist(rng, B, H, N)), t64(rng.standard_normal((B, N, M))))


@pytest.mark.parametrize("heads", [1, 2])
def test_write_gradcheck(rng, heads):
    rb.gradcheck(A.write, t64(rng.standard_normal((B, N, M))), t64(_dist(rng, B, heads, N)),
                 t64(rng.random((B, heads, M))), t64(rng.standard_normal((B, heads, M))))


def test_steps_chain_through_autodiff(rng):
    """The whole addressing of one step, composed from the ops, backpropagates end to end."""
    k, beta, mem = t64(rng.standard_normal((B, H, M))), t64(rng.random((B, H)) + 0.5), \
        t64(rng.standard_normal((B, N, M)))
    g, wp = t64(rng.random((B, H))), t64(_dist(rng, B, H, N))
    s, gamma = t64(_dist(rng, B, H, 3)), t64(1 + rng.random((B, H)))

    def address(k, beta, mem, g, wp, s, gamma):
        w = A.sharpen(A.shift(A.interpolate(A.content_weighting(k, beta, mem), g, wp), s), gamma)
        return A.read(w, mem)

    rb.gradcheck(address, k, beta, mem, g, wp, s, gamma)


# -- bad input ---------------------------------------------------------------------------


def test_bad_beta_and_gamma(rng):
    k, mem = t64(rng.standard_normal((1, 1, M))), t64(rng.standard_normal((1, N, M)))
    with pytest.raises(ValueError, match="beta must be > 0"):
        A.content_weighting(k, t64([[0.0]]), mem)
    with pytest.raises(ValueError, match="gamma must be >= 1"):
        A.sharpen(t64(_dist(rng, 1, 1, N)), t64([[0.5]]))
    with pytest.raises(ValueError, match="g must lie in"):
        A.interpolate(t64(_dist(rng, 1, 1, N)), t64([[1.5]]), t64(_dist(rng, 1, 1, N)))


def test_bad_shifts(rng):
    w = t64(_dist(rng, 1, 1, N))
    with pytest.raises(ValueError, match="include 0"):
        A.shift(w, t64(_dist(rng, 1, 1, 2)), (-1, 1))
    with pytest.raises(ValueError, match="distinct"):
        A.shift(w, t64(_dist(rng, 1, 1, 3)), (0, 1, 1))
    with pytest.raises(ValueError, match="smaller than the 7"):
        A.shift(w, t64(_dist(rng, 1, 1, 2)), (0, 7))
    with pytest.raises(ValueError, match="shape"):
        A.shift(w, t64(_dist(rng, 1, 1, 2)), (-1, 0, 1))
    assert A.check_shifts("x", 2) == (-2, -1, 0, 1, 2)


def test_bad_shapes(rng):
    with pytest.raises(ValueError, match="must agree"):
        A.read(t64(_dist(rng, 1, 1, N)), t64(rng.standard_normal((1, N + 1, M))))
    with pytest.raises(ValueError, match="erase must have shape"):
        A.write(t64(rng.standard_normal((1, N, M))), t64(_dist(rng, 1, 1, N)),
                t64(rng.random((1, 1, M + 1))), t64(rng.random((1, 1, M))))
    with pytest.raises(TypeError, match="must be a Tensor"):
        A.read(_dist(rng, 1, 1, N), t64(rng.standard_normal((1, N, M))))


# -- audit a4: zero locations, weightings without mass, unchecked ranges -----------------------


def test_zero_memory_locations_are_refused_by_every_op():
    t = lambda a: rb.tensor(np.asarray(a, np.float32))  # noqa: E731
    w0, mem0 = t(np.zeros((1, 1, 0))), t(np.zeros((1, 0, 2)))
    calls = {
        "content_weighting": lambda: A.content_weighting(t(np.ones((1, 1, 2))), t([[1.0]]), mem0),
        "sharpen": lambda: A.sharpen(w0, t([[1.0]])),
        "shift": lambda: A.shift(w0, t([[[0.0, 1.0, 0.0]]])),
        "read": lambda: A.read(w0, mem0),
        "write": lambda: A.write(mem0, w0, t(np.zeros((1, 1, 2))), t(np.zeros((1, 1, 2)))),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"{name}: memory must hold at least one location"):
            call()


@pytest.mark.parametrize("row", [[0.0, 0.0, 0.0], [np.nan, 0.5, 0.5], [np.inf, 0.0, 0.0]])
def test_sharpen_refuses_weightings_without_positive_finite_mass(row):
    with pytest.raises(ValueError, match="sharpen: .*"):
        A.sharpen(t64([[row]]), t64([[1.0]]))


@pytest.mark.parametrize("s", [[-1.0, 2.0, 0.0], [0.0, 5.0, 0.0], [0.2, 0.2, 0.2],
                               [np.nan, 1.0, 0.0]])
def test_shift_refuses_a_shift_weighting_that_is_not_a_distribution(s):
    with pytest.raises(ValueError, match="shift: s must be a distribution over the shifts"):
        A.shift(t64([[[0.7, 0.2, 0.1, 0.0]]]), t64([[s]]))


def test_shift_accepts_float32_distributions_with_rounding():
    s = np.array([[[0.1, 0.7, 0.2]]], np.float32)
    out = A.shift(rb.tensor(np.array([[[0.7, 0.2, 0.1, 0.0]]], np.float32)), rb.tensor(s))
    assert out.data.dtype == np.float32


@pytest.mark.parametrize("e", [[3.0, 3.0], [-0.1, 0.0], [np.nan, 0.0]])
def test_write_refuses_erase_entries_outside_0_1(e):
    mem = t64([[[1.0, 1.0], [2.0, 2.0]]])
    with pytest.raises(ValueError, match=r"write: the erase entries must lie in \[0, 1\]"):
        A.write(mem, t64([[[1.0, 0.0]]]), t64([[e]]), t64([[[0.0, 0.0]]]))


@pytest.mark.parametrize("which", ["key", "memory"])
def test_content_weighting_refuses_nan(which):
    key, mem = np.ones((1, 1, 2)), np.ones((1, 3, 2))
    (key if which == "key" else mem)[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=f"content_weighting: {which} holds NaN"):
        A.content_weighting(t64(key), t64([[1.0]]), t64(mem))
