"""Convolution: output sizes from the notes, gradient checks, equality with PyTorch."""

import numpy as np
import pytest

import rosenblatt as rb
from rosenblatt.nn.conv import conv_output_size, conv_padding

F = rb.nn.functional


def _t(a, grad=True):
    return rb.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# -- output sizes: the notes' formulas ------------------------------------------

@pytest.mark.parametrize("n, f", [(28, 5), (7, 3), (10, 1), (9, 9), (12, 4)])
def test_output_sizes_follow_the_notes(n, f):
    x = np.zeros((1, 1, n, n + 1), dtype=np.float32)
    w = np.zeros((1, 1, f, f), dtype=np.float32)
    assert F.conv2d(x, w, padding="valid").shape[2:] == (n - f + 1, n + 1 - f + 1)
    assert F.conv2d(x, w, padding="full").shape[2:] == (n + f - 1, n + 1 + f - 1)
    same = F.conv2d(x, w, padding="same").shape[2:]
    assert same == F.conv2d(x, w, padding="half").shape[2:]
    if f % 2:
        assert same == (n, n + 1)
    else:  # the notes' symmetric f // 2 border: one more than the input
        assert same == (n + 1, n + 2)
    assert conv_output_size(n, f, padding="valid") == n - f + 1
    assert conv_output_size(n, f, padding="full") == n + f - 1


def test_stride_output_size():
    x = np.zeros((2, 3, 11, 9), dtype=np.float32)
    w = np.zeros((4, 3, 3, 2), dtype=np.float32)
    assert F.conv2d(x, w, stride=(2, 3)).shape == (2, 4, (11 - 3) // 2 + 1, (9 - 2) // 3 + 1)
    assert conv_output_size(11, 3, stride=2, padding=1) == (11 + 2 - 3) // 2 + 1
    assert conv_padding((1, 2), (3, 3)) == [(1, 1), (2, 2)]


# -- fixed kernels ------------------------------------------------------------

def test_the_notes_kernel_on_a_bright_pixel():
    kernel = -np.ones((3, 3))
    kernel[1, 1] = 10
    patch = np.zeros((3, 3))
    patch[1, 1] = 255
    assert F.conv2d(patch, kernel).data.tolist() == [[10 * 255.0]]
    # on a larger image, every 3x3 window sees the pixel once: a negative ring around 2550
    image = np.zeros((5, 5))
    image[2, 2] = 255
    fmap = F.conv2d(image, kernel, padding="same").data
    assert fmap.shape == (5, 5)
    assert fmap[2, 2] == 2550 and fmap[1, 1] == -255 and fmap[0, 0] == 0


def test_fixed_edge_detector_fires_on_the_edge_only():
    image = np.zeros((1, 1, 6, 8), dtype=np.float32)
    image[..., 4:] = 1.0  # a vertical edge between columns 3 and 4
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)[None, None]
    out = F.conv2d(image, sobel_x).data[0, 0]  # a plain array in, no graph
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:, [2, 3]], 4.0)
    np.testing.assert_array_equal(out[:, [0, 1, 4, 5]], 0.0)
    assert not F.conv2d(rb.tensor(image), rb.tensor(sobel_x)).requires_grad


# -- gradient checks ------------------------------------------------------------

@pytest.mark.parametrize("stride, padding", [(1, "valid"), (2, "same"), ((1, 2), "full"), (2, 1)])
def test_conv2d_gradcheck(rng, stride, padding):
    x = _t(rng.standard_normal((2, 2, 5, 6)))
    w = _t(rng.standard_normal((3, 2, 3, 2)))
    b = _t(rng.standard_normal(3))
    assert rb.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride, padding), x, w, b)


@pytest.mark.parametrize("bias", [True, False])
def test_fused_relu_gradcheck_and_equals_relu_of_conv(rng, bias):
    x = rb.tensor(rng.standard_normal((2, 2, 6, 6)), requires_grad=True)
    w = rb.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = rb.tensor(rng.standard_normal(3), requires_grad=True) if bias else None
    args = (x, w, b) if bias else (x, w)
    assert rb.gradcheck(lambda x, w, b=None: F.conv2d(x, w, b, 1, 1, activation="relu"), *args)
    g = np.cos(np.arange(2 * 3 * 6 * 6)).reshape(2, 3, 6, 6)
    grads = []
    for fused in (True, False):
        for t in args:
            t.grad = None
        y = (F.conv2d(x, w, b, 1, 1, activation="relu") if fused
             else F.relu(F.conv2d(x, w, b, 1, 1)))
        y.backward(g)
        grads.append([y.data.copy()] + [t.grad.copy() for t in args])
    for a, c in zip(*grads):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)


def test_fused_relu_layers_and_conv1d(rng):
    layer = rb.nn.Conv2d(2, 3, 3, padding="same", activation="relu", rng=rng, dtype=np.float64)
    assert "activation='relu'" in repr(layer) and layer.config()["activation"] == "relu"
    x = rng.standard_normal((2, 2, 5, 5))
    expect = np.maximum(F.conv2d(x, layer.W, layer.b, padding="same").data, 0)
    np.testing.assert_allclose(layer(rb.tensor(x)).data, expect, rtol=1e-12)
    w = rb.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    xs = rb.tensor(rng.standard_normal((2, 2, 7)), requires_grad=True)
    assert rb.gradcheck(lambda xs, w: F.conv1d(xs, w, activation="relu"), xs, w)
    with pytest.raises(ValueError, match="activation must be None or 'relu'; got 'tanh'"):
        rb.nn.Conv2d(1, 1, 3, activation="tanh")
    with pytest.raises(ValueError, match="conv2d: activation must be"):
        F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), activation="sigmoid")


@pytest.mark.parametrize("stride, padding", [(1, "valid"), (2, "same"), (1, "full")])
def test_conv1d_gradcheck(rng, stride, padding):
    x = _t(rng.standard_normal((2, 3, 7)))
    w = _t(rng.standard_normal((2, 3, 3)))
    b = _t(rng.standard_normal(2))
    assert rb.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride, padding), x, w, b)


def test_layer_gradcheck_through_two_convolutions(rng):
    net = rb.nn.Sequential(
        rb.nn.Conv2d(2, 3, 3, padding="same", rng=rng),
        rb.nn.Conv2d(3, 2, 2, stride=2, rng=rng),
    ).astype(np.float64)
    x = _t(rng.standard_normal((2, 2, 6, 6)))
    params = net.parameters()
    assert rb.gradcheck(lambda x, *ps: net(x), x, *params)


# -- PyTorch reference --------------------------------------------------------

def _torch_pad(torch, x, pads):
    (pt, pb), (pl, pr) = pads
    return torch.nn.functional.pad(x, (pl, pr, pt, pb))


CONV2D_GRID = [
    # batch, in, out, (h, w), kernel, stride, padding
    (2, 1, 6, (12, 12), (5, 5), 1, "valid"),
    (3, 3, 4, (9, 7), (3, 3), 1, "same"),
    (2, 2, 5, (8, 8), (3, 2), (2, 1), "half"),
    (1, 4, 3, (6, 9), (4, 4), 1, "full"),
    (2, 3, 2, (10, 11), (3, 5), 3, "full"),
    (4, 2, 7, (7, 7), (1, 1), 2, "valid"),
    (2, 5, 3, (9, 9), (2, 3), 2, 1),
    (3, 2, 2, (8, 6), (3, 3), (1, 2), (2, 0)),
    (1, 6, 16, (14, 14), (5, 5), 1, "valid"),
    (2, 3, 4, (5, 5), (4, 4), 1, "same"),
]


@pytest.mark.parametrize("n, cin, cout, hw, k, stride, padding", CONV2D_GRID)
def test_conv2d_matches_torch(torch, rng, n, cin, cout, hw, k, stride, padding):
    x = rng.standard_normal((n, cin, *hw))
    w = rng.standard_normal((cout, cin, *k))
    b = rng.standard_normal(cout)
    xs, ws, bs = _t(x), _t(w), _t(b)
    y = F.conv2d(xs, ws, bs, stride=stride, padding=padding)
    g = rng.standard_normal(y.shape)
    y.backward(g)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    pads = conv_padding(padding, k)
    yt = torch.nn.functional.conv2d(_torch_pad(torch, xt, pads), wt, bt, stride=stride)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ws.grad, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bs.grad, bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n, cin, cout, length, k, stride, padding", [
    (2, 3, 4, 10, 3, 1, "valid"),
    (3, 1, 2, 9, 5, 2, "same"),
    (2, 4, 3, 7, 2, 1, "full"),
    (1, 2, 5, 12, 4, 3, 2),
])
def test_conv1d_matches_torch(torch, rng, n, cin, cout, length, k, stride, padding):
    x = rng.standard_normal((n, cin, length))
    w = rng.standard_normal((cout, cin, k))
    b = rng.standard_normal(cout)
    xs, ws, bs = _t(x), _t(w), _t(b)
    y = F.conv1d(xs, ws, bs, stride=stride, padding=padding)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    (lo, hi), = conv_padding(padding, (k,))
    yt = torch.nn.functional.conv1d(torch.nn.functional.pad(xt, (lo, hi)), wt, bt, stride=stride)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((xs, xt), (ws, wt), (bs, bt)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("k", [(1, 1), (3, 3), (5, 5), (3, 5), (1, 7)])
def test_border_modes_match_torch_without_our_padding_helper(torch, rng, k):
    """'valid'/'same' against torch's own modes, 'full' against an explicit f - 1 border.

    The grid above pads torch's input with conv_padding(); this test does not use it, so a
    wrong border (e.g. a lopsided 'same') cannot pass by being wrong in both places.
    """
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, *k))
    xt, wt = torch.tensor(x), torch.tensor(w)
    tf = torch.nn.functional
    expected = {"valid": tf.conv2d(xt, wt, padding="valid"),
                "same": tf.conv2d(xt, wt, padding="same"),
                "half": tf.conv2d(xt, wt, padding="same"),
                "full": tf.conv2d(xt, wt, padding=(k[0] - 1, k[1] - 1))}
    for mode, yt in expected.items():
        np.testing.assert_allclose(F.conv2d(x, w, padding=mode).data, yt.numpy(), atol=1e-10,
                                   err_msg=mode)
    x1, w1 = x[:, :, 0], w[:, :, 0]
    x1t, w1t = torch.tensor(x1), torch.tensor(w1)
    for mode, yt in (("same", tf.conv1d(x1t, w1t, padding="same")),
                     ("full", tf.conv1d(x1t, w1t, padding=k[1] - 1))):
        np.testing.assert_allclose(F.conv1d(x1, w1, padding=mode).data, yt.numpy(), atol=1e-10,
                                   err_msg=mode)


def test_conv_layers_match_torch_modules(torch, rng):
    """Conv2d -> ReLU-free chain -> Conv2d: also exercises non-contiguous (channel-major) inputs."""
    c1 = rb.nn.Conv2d(3, 4, 3, padding="same", rng=rng).astype(np.float64)
    c2 = rb.nn.Conv2d(4, 2, (2, 3), stride=2, rng=rng).astype(np.float64)
    t1 = torch.nn.Conv2d(3, 4, 3, padding=1)
    t2 = torch.nn.Conv2d(4, 2, (2, 3), stride=2)
    with torch.no_grad():
        for ours, theirs in ((c1, t1), (c2, t2)):
            theirs.weight.copy_(torch.tensor(ours.W.data))
            theirs.bias.copy_(torch.tensor(ours.b.data))
    x = rng.standard_normal((2, 3, 9, 10))
    xs = _t(x)
    y = c2(c1(xs))
    g = rng.standard_normal(y.shape)
    y.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = t2(t1(xt))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(c1.W.grad, t1.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(c2.b.grad, t2.bias.grad.numpy(), atol=1e-10)


# -- layers ---------------------------------------------------------------------

def test_conv2d_layer_shapes_dtype_and_init(rng):
    conv = rb.nn.Conv2d(3, 8, (5, 3), rng=rng)
    assert conv.W.shape == (8, 3, 5, 3) and conv.b.shape == (8,)
    assert conv.W.dtype == np.float32
    bound = np.sqrt(6.0 / (3 * 15 + 8 * 15))  # glorot with the kernel's fans
    assert np.abs(conv.W.data).max() <= bound
    y = conv(rb.tensor(rng.standard_normal((2, 3, 10, 10)).astype(np.float32)))
    assert y.dtype == np.float32 and y.shape == (2, 8, 6, 8)
    assert rb.nn.Conv2d(3, 8, 3, bias=False).b is None
    assert "padding='same'" in repr(rb.nn.Conv2d(1, 2, 3, padding="same"))
    assert rb.nn.Conv2d(2, 3, 3, rng=np.random.default_rng(1)).W.data.tolist() == \
        rb.nn.Conv2d(2, 3, 3, rng=np.random.default_rng(1)).W.data.tolist()


def test_conv1d_layer(rng):
    conv = rb.nn.Conv1d(4, 6, 3, stride=2, padding="same", rng=rng)
    assert conv.W.shape == (6, 4, 3)
    assert conv(rb.tensor(np.zeros((5, 4, 11)))).shape == (5, 6, 6)


def test_input_gradient_is_skipped_for_constant_input(rng):
    conv = rb.nn.Conv2d(1, 2, 3, rng=rng)
    y = conv(rb.tensor(np.ones((1, 1, 5, 5))))
    y.sum().backward()
    assert conv.W.grad.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(conv.b.grad, [9.0, 9.0])


@pytest.mark.parametrize("make, shape", [
    (lambda: rb.nn.Conv2d(2, 3, 3, padding="same"), (2, 2, 6, 6)),
    (lambda: rb.nn.Conv2d(2, 3, 3, stride=2), (2, 2, 7, 7)),
    (lambda: rb.nn.Conv2d(1, 3, 3), (2, 1, 6, 6)),
    (lambda: rb.nn.Conv2d(4, 8, 3), (8, 4, 32, 32)),
    (lambda: rb.nn.Conv1d(2, 3, 3), (2, 2, 7)),
])
def test_float16_convolutions_run_and_match_float32(rng, make, shape):
    """The compiled kernels take float32 and float64 only: float16 runs the NumPy code."""
    layer = make()
    layer16 = layer.clone().astype(np.float16)
    layer.load_state_dict({k: v.astype(np.float32) for k, v in layer16.state_dict().items()})
    x16 = rb.tensor(rng.standard_normal(shape).astype(np.float16), requires_grad=True)
    x32 = rb.tensor(x16.data.astype(np.float32), requires_grad=True)
    y16, y32 = layer16(x16), layer(x32)
    assert y16.dtype == np.float16
    np.testing.assert_allclose(y16.data, y32.data, rtol=1e-2, atol=1e-2)
    g = rng.standard_normal(y16.shape)
    y16.backward(g.astype(np.float16))
    y32.backward(g.astype(np.float32))
    assert x16.grad.dtype == layer16.W.grad.dtype == np.float16
    np.testing.assert_allclose(x16.grad, x32.grad, rtol=1e-2, atol=3e-2)


# -- errors ---------------------------------------------------------------------

def test_channel_mismatch_names_both_shapes():
    both = r"3 channels .*\(2, 3, 8, 8\).* expects 1 .*\(4, 1, 3, 3\)"
    with pytest.raises(ValueError, match=both):
        F.conv2d(np.zeros((2, 3, 8, 8)), np.zeros((4, 1, 3, 3)))
    layer = r"Conv2d\(1, 4, kernel_size=\(3, 3\)\).*got \(2, 3, 8, 8\)"
    with pytest.raises(ValueError, match=layer):
        rb.nn.Conv2d(1, 4, 3)(rb.tensor(np.zeros((2, 3, 8, 8))))
    with pytest.raises(ValueError, match=r"Conv1d.*\(batch, channels, length\).*got \(2, 8\)"):
        rb.nn.Conv1d(1, 4, 3)(rb.tensor(np.zeros((2, 8))))


@pytest.mark.parametrize("kwargs, match", [
    ({"padding": "sam"}, "padding must be 'valid', 'same'.*got 'sam'"),
    ({"padding": -1}, "padding must be"),
    ({"stride": 0}, "stride must be a positive integer"),
    ({"stride": (1, 2, 3)}, "stride must be"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), **kwargs)
    with pytest.raises(ValueError, match=match):
        rb.nn.Conv2d(1, 1, 3, **kwargs)


def test_other_errors():
    with pytest.raises(ValueError, match="larger than the padded input"):
        F.conv2d(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((4, 1, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        rb.nn.Conv2d(0, 1, 3)
    with pytest.raises(ValueError, match="kernel_size must be"):
        rb.nn.Conv2d(1, 1, 0)


# -- scratch-array pool ---------------------------------------------------------

def test_workspace_never_hands_out_an_array_in_use():
    from rosenblatt.nn import workspace

    workspace.clear()
    a = workspace.empty((3, 5), np.float32)
    view = a[1:]
    b = workspace.empty((3, 5), np.float32)
    assert b is not a  # ``a`` (and its view) are still referenced
    first = id(a)
    del a
    assert workspace.empty((3, 5), np.float32) is not view.base  # the view keeps it in use
    del view
    c = workspace.empty((3, 5), np.float32)
    assert id(c) == first  # free again: recycled
    z = workspace.zeros((3, 5), np.float32)
    assert not z.any() and z is not c


def test_outputs_that_are_kept_are_not_overwritten(rng):
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    first = F.conv2d(rng.standard_normal((4, 1, 6, 6)).astype(np.float32), w).data
    saved = first.copy()
    for _ in range(3):  # same shapes: the pool recycles every free buffer
        F.conv2d(rng.standard_normal((4, 1, 6, 6)).astype(np.float32), w)
        F.max_pool2d(rng.standard_normal((4, 2, 4, 4)).astype(np.float32), 2)
    np.testing.assert_array_equal(first, saved)


def test_repeated_training_steps_give_the_same_gradients(rng):
    """Recycled buffers must not leak values between steps."""
    net = rb.nn.Sequential(rb.nn.Conv2d(1, 3, 3, padding="same", rng=rng), rb.nn.MaxPool2d(2),
                           rb.nn.Conv2d(3, 2, 2, rng=rng))
    x = rb.tensor(rng.standard_normal((2, 1, 6, 6)).astype(np.float32))
    grads = []
    for _ in range(3):
        for p in net.parameters():
            p.grad = None
        net(x).sum().backward()
        grads.append([p.grad.copy() for p in net.parameters()])
    for later in grads[1:]:
        for g0, g in zip(grads[0], later):
            np.testing.assert_array_equal(g0, g)


# -- persistence ----------------------------------------------------------------

def test_cnn_save_load_round_trip(tmp_path, rng):
    nn = rb.nn
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 3, (2, 3), stride=(1, 2), padding=1, bias=False, rng=rng),
        nn.L2Pool2d(2, stride=1), nn.AvgPool2d(1), nn.Flatten(), nn.Dense(12, 2, rng=rng),
    )
    seq = nn.Sequential(nn.Conv1d(2, 3, 3, padding="full", rng=rng), nn.KMaxPool(2),
                        nn.Flatten(), nn.Dense(6, 2, rng=rng))
    glob = nn.Sequential(nn.Conv2d(1, 2, 3, activation="relu", rng=rng), nn.GlobalMaxPool2d())
    glob2 = nn.Sequential(nn.Conv2d(1, 2, 3, rng=rng), nn.GlobalAvgPool2d())
    for net, x in ((model, rng.standard_normal((2, 1, 8, 8))),
                   (seq, rng.standard_normal((2, 2, 5))),
                   (glob, rng.standard_normal((2, 1, 5, 5))),
                   (glob2, rng.standard_normal((2, 1, 5, 5)))):
        path = tmp_path / "net.safetensors"
        rb.save(net, path)
        loaded = rb.load(path)
        assert repr(loaded) == repr(net)
        x = rb.tensor(x.astype(np.float32))
        np.testing.assert_array_equal(loaded(x).data, net(x).data)


def _random_config(rng):
    k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    padding = [None, "valid", "same", "half", "full", int(rng.integers(0, 3)),
               (int(rng.integers(0, 3)), int(rng.integers(0, 3)))][int(rng.integers(1, 7))]
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    hw = (int(rng.integers(k[0], 12)), int(rng.integers(k[1], 12)))
    return int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 6)), hw, k, \
        stride, padding


@pytest.mark.parametrize("seed", range(16))
def test_conv2d_matches_torch_on_random_configurations(torch, seed):
    rng = np.random.default_rng(1000 + seed)
    n, cin, cout, hw, k, stride, padding = _random_config(rng)
    test_conv2d_matches_torch(torch, rng, n, cin, cout, hw, k, stride, padding)


def test_workspace_keeps_at_most_its_byte_budget(monkeypatch):
    from rosenblatt.nn import workspace

    workspace.clear()
    monkeypatch.setattr(workspace, "MAX_TOTAL_BYTES", 3 * 4 * 100)
    held = [workspace.empty((100,), np.float32) for _ in range(5)]  # 5 in use at once
    assert len(workspace._pool[((100,), np.dtype(np.float32))]) == 3  # only 3 fit the budget
    assert workspace._total == 3 * 400
    del held
    workspace.clear()
    assert workspace._total == 0


@pytest.mark.parametrize("make,shape", [(lambda: rb.nn.Conv2d(1, 2, 3, rng=0), (2, 1, 4, 4)),
                                        (lambda: rb.nn.Conv1d(1, 2, 3, rng=0), (2, 1, 5))])
def test_conv_layers_take_nested_lists_like_the_functional_ops(make, shape):
    layer = make()
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    y = layer(x.tolist())
    np.testing.assert_allclose(y.data, layer(x).data, rtol=1e-6)
    with pytest.raises(TypeError, match="Conv"):
        layer(np.full(shape, "a").tolist())
