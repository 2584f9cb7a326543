"""The NTM layer: gradient checks of the whole-sequence op, a PyTorch transcription of the same
model with the same weights (outputs and every gradient), long sequences, traces, bad input."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.ntm import head_layout


def _net(controller="lstm", read_heads=1, write_heads=1, shifts=(-1, 0, 1), learn_initial=True,
         memory_size=(6, 3), controller_size=5, seed=0, perturb=True):
    net = rb.nn.NTM(3, 2, controller=controller, controller_size=controller_size,
                    memory_size=memory_size, read_heads=read_heads, write_heads=write_heads,
                    shifts=shifts, learn_initial=learn_initial, rng=np.random.default_rng(seed))
    net = net.astype(np.float64)
    if perturb:  # non-zero biases and initial weightings, so that every path is exercised
        r = np.random.default_rng(seed + 1)
        for p in net.parameters():
            p.data[...] += 0.3 * r.standard_normal(p.shape)
    return net


def _x(B=2, T=5, seed=2):
    return np.random.default_rng(seed).standard_normal((B, T, 3))


# -- the op's gradient in float64 --------------------------------------------------------


@pytest.mark.parametrize("controller,reads,writes,shifts", [
    ("lstm", 1, 1, (-1, 0, 1)), ("dense", 2, 1, (0, 1)), ("lstm", 1, 2, (-2, -1, 0, 1, 2))])
def test_ntm_gradcheck(controller, reads, writes, shifts):
    net = _net(controller, reads, writes, shifts)
    x = rb.tensor(_x(T=4), requires_grad=True, dtype=np.float64)
    params = [p for p in net.parameters()]

    def run(x, *ps):
        return net(x)

    rb.gradcheck(run, x, *params, atol=1e-6, rtol=1e-4)


# -- against PyTorch ---------------------------------------------------------------------


def torch_ntm(torch, x, P, *, controller, C, N, Mw, R, Wn, shifts, learn_initial):
    """The NTM written directly from the notes' formulas in PyTorch (autograd differentiates)."""
    F = torch.nn.functional
    B, T, _ = x.shape
    Hd = R + Wn
    S = len(shifts)
    layout, _ = head_layout(Mw, R, Wn, S)
    if learn_initial:
        M, r, w = P["memory0"], P["read0"], torch.softmax(P["weighting0"], dim=-1)
    else:
        M = torch.full((N, Mw), 1e-6, dtype=x.dtype)
        r = torch.zeros((R, Mw), dtype=x.dtype)
        w = torch.zeros((Hd, N), dtype=x.dtype)
        w[:, 0] = 1
    M = M.expand(B, N, Mw)
    r = r.expand(B, R, Mw)
    w = w.expand(B, Hd, N)
    h = torch.zeros((B, C), dtype=x.dtype)
    c = torch.zeros((B, C), dtype=x.dtype)
    eps = rb.nn.ntm_addressing.COSINE_EPS

    def address(k, beta, g, s, gamma, w_prev, M):
        # content: cosine similarity, key strength, softmax
        dot = torch.einsum("bhm,bnm->bhn", k, M)
        K = dot / (torch.sqrt((k * k).sum(-1, keepdim=True) + eps)
                   * torch.sqrt((M * M).sum(-1) + eps)[:, None, :])
        wc = torch.softmax(beta[..., None] * K, dim=-1)
        wg = g[..., None] * wc + (1 - g[..., None]) * w_prev  # interpolation
        wt = sum(s[..., j, None] * torch.roll(wg, sh, dims=-1) for j, sh in enumerate(shifts))
        p = wt ** gamma[..., None]  # sharpening
        return p / p.sum(-1, keepdim=True)

    outs = []
    for t in range(T):
        u = torch.cat([x[:, t], r.reshape(B, R * Mw)], dim=-1)
        if controller == "lstm":
            a = u @ P["W_x"] + h @ P["W_h"] + P["b"]
            i, f, gg, o = a.split(C, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            h = torch.tanh(u @ P["W_x"] + P["b"])
        p = h @ P["W_p"] + P["b_p"]
        k = torch.tanh(p[:, layout["key"]]).reshape(B, Hd, Mw)
        beta = F.softplus(p[:, layout["beta"]])
        g = torch.sigmoid(p[:, layout["g"]])
        gamma = 1 + F.softplus(p[:, layout["gamma"]])
        s = torch.softmax(p[:, layout["s"]].reshape(B, Hd, S), dim=-1)
        e = torch.sigmoid(p[:, layout["erase"]]).reshape(B, Wn, Mw)
        add = torch.tanh(p[:, layout["add"]]).reshape(B, Wn, Mw)
        ww = address(k[:, :Wn], beta[:, :Wn], g[:, :Wn], s[:, :Wn], gamma[:, :Wn], w[:, :Wn], M)
        keep = torch.ones_like(M)
        for j in range(Wn):  # erase, then add
            keep = keep * (1 - ww[:, j, :, None] * e[:, j, None, :])
        M = M * keep + sum(ww[:, j, :, None] * add[:, j, None, :] for j in range(Wn))
        wr = address(k[:, Wn:], beta[:, Wn:], g[:, Wn:], s[:, Wn:], gamma[:, Wn:], w[:, Wn:], M)
        r = torch.einsum("brn,bnm->brm", wr, M)  # r = sum_i w(i) M(i)
        w = torch.cat([ww, wr], dim=1)
        outs.append(torch.cat([h, r.reshape(B, R * Mw)], dim=-1) @ P["W_o"] + P["b_o"])
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize("controller,reads,writes,shifts,learn_initial", [
    ("lstm", 1, 1, (-1, 0, 1), True), ("dense", 1, 1, (-1, 0, 1), True),
    ("lstm", 2, 2, (-1, 0, 1, 2), True), ("lstm", 1, 1, (-1, 0, 1), False)])
def test_ntm_matches_torch(controller, reads, writes, shifts, learn_initial):
    torch = pytest.importorskip("torch")
    N, Mw, C = 8, 4, 6
    net = _net(controller, reads, writes, shifts, learn_initial, memory_size=(N, Mw),
               controller_size=C)
    xd = _x(B=3, T=12)
    x = rb.tensor(xd, requires_grad=True, dtype=np.float64)
    y = net(x)
    g = np.random.default_rng(5).standard_normal(y.shape)
    y.backward(g)

    P = {n: torch.tensor(p.data, requires_grad=True) for n, p in net.named_parameters()}
    xt = torch.tensor(xd, requires_grad=True)
    yt = torch_ntm(torch, xt, P, controller=controller, C=C, N=N, Mw=Mw, R=reads, Wn=writes,
                   shifts=shifts, learn_initial=learn_initial)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.grad, P[name].grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=name)


# -- long sequences, float32, traces -----------------------------------------------------


def test_several_hundred_steps_forward_and_backward():
    net = rb.nn.NTM(5, 4, controller_size=16, memory_size=(32, 8), rng=np.random.default_rng(0))
    x = rb.tensor(np.random.default_rng(1).random((2, 600, 5)).astype(np.float32))
    y = net(x)
    assert y.shape == (2, 600, 4) and y.dtype == np.float32
    rb.losses.mse(y, np.zeros(y.shape, np.float32)).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and np.all(np.isfinite(p.grad)), name


def test_trace_holds_normalised_weightings_and_the_memory():
    net = _net(read_heads=2, write_heads=1)
    y, trace = net(rb.tensor(_x(B=2, T=5)), return_trace=True)
    assert net.trace is trace
    assert trace["write_weightings"].shape == (2, 5, 1, 6)
    assert trace["read_weightings"].shape == (2, 5, 2, 6)
    assert trace["erase"].shape == trace["add"].shape == (2, 5, 1, 3)
    assert trace["read_vectors"].shape == (2, 5, 2, 3)
    assert trace["memory"].shape == (2, 6, 6, 3)
    np.testing.assert_allclose(trace["write_weightings"].sum(-1), 1)
    np.testing.assert_allclose(trace["read_weightings"].sum(-1), 1)
    np.testing.assert_allclose(trace["memory"][:, 0], np.broadcast_to(net.memory0.data, (2, 6, 3)))
    # r_t = sum_i w_t(i) M_t(i) with the trace's own arrays
    r = np.einsum("btrn,btnm->btrm", trace["read_weightings"], trace["memory"][:, 1:])
    np.testing.assert_allclose(trace["read_vectors"], r)


def test_constant_initial_state_has_no_initial_parameters():
    net = rb.nn.NTM(3, 2, controller_size=4, memory_size=(5, 2), learn_initial=False)
    names = {n for n, _ in net.named_parameters()}
    assert not names & {"memory0", "read0", "weighting0"}
    _, trace = net(rb.tensor(np.zeros((1, 2, 3), np.float32)), return_trace=True)
    np.testing.assert_allclose(trace["memory"][0, 0], 1e-6)


def test_save_and_load_round_trip(tmp_path):
    net = rb.nn.NTM(3, 2, controller="dense", controller_size=4, memory_size=(5, 2),
                    read_heads=2, shifts=1)
    x = rb.tensor(np.random.default_rng(0).random((2, 4, 3)).astype(np.float32))
    path = tmp_path / "ntm.safetensors"
    rb.save(net, path)
    again = rb.load(path)
    np.testing.assert_array_equal(again(x).data, net(x).data)


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,match", [
    (dict(memory_size=(0, 20)), "memory_size\\[0\\]"),
    (dict(memory_size=(128, 0)), "memory_size\\[1\\]"),
    (dict(memory_size=128), "memory_size must be a pair"),
    (dict(read_heads=0), "read_heads"),
    (dict(write_heads=0), "write_heads"),
    (dict(shifts=(-1, 1)), "include 0"),
    (dict(shifts=(0, 1, 1)), "distinct"),
    (dict(shifts=(0, 200)), "smaller than the 128"),
    (dict(controller="gru"), "controller must be 'lstm' or 'dense'"),
    (dict(controller_size=0), "controller_size"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rb.nn.NTM(3, 2, **kwargs)


def test_bad_input_shape():
    net = rb.nn.NTM(3, 2, controller_size=4, memory_size=(5, 2))
    with pytest.raises(ValueError, match="NTM: input must be"):
        net(rb.tensor(np.zeros((2, 4, 5), np.float32)))
    with pytest.raises(ValueError, match="NTM: input must be"):
        net(rb.tensor(np.zeros((2, 3), np.float32)))


def test_masked_bce_with_logits_scores_only_marked_entries(rng):
    logits = rb.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True, dtype=np.float64)
    Y = (rng.random((3, 4, 2)) > 0.5).astype(np.float64)
    mask = rng.random((3, 4)) > 0.4
    loss = rb.nn.masked_bce_with_logits(logits, rb.datasets.masked_targets(Y, mask))
    loss.backward()
    x = logits.data
    per = np.maximum(x, 0) - x * Y + np.log1p(np.exp(-np.abs(x)))
    m = np.broadcast_to(mask[..., None], per.shape)
    assert loss.item() == pytest.approx(per[m].mean(), rel=1e-12)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(logits.grad, np.where(m, sig - Y, 0) / m.sum(), rtol=1e-10)


@pytest.mark.parametrize("bad", [7.0, -0.5, 1.5, np.nan])
def test_masked_bce_refuses_targets_outside_0_1_or_minus_1(bad):
    logits = rb.tensor(np.array([[[2.0, -1.0]]], np.float32))
    with pytest.raises(ValueError, match=r"masked_bce_with_logits: targets must be in \[0, 1\] "
                                         r"or -1"):
        rb.nn.masked_bce_with_logits(logits, np.array([[[1.0, bad]]], np.float32))
    ok = rb.nn.masked_bce_with_logits(logits, np.array([[[1.0, -1.0]]], np.float32))
    assert np.isfinite(ok.item())
