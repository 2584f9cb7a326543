"""Bidirectional wrapper: definition, gradcheck, PyTorch's bidirectional LSTM."""

import numpy as np
import pytest

import rosenblatt as rb


def test_bidirectional_is_forward_and_reversed_backward(rng):
    bi = rb.nn.Bidirectional(rb.nn.GRU(3, 4, rng=rng), rng=rng)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    out, (h_f, h_b) = bi(x)
    fwd, _ = bi.layer(x)
    bwd, _ = bi.backward_layer(x[:, ::-1].copy())
    np.testing.assert_allclose(out.data[..., :4], fwd.data, rtol=1e-6)
    np.testing.assert_allclose(out.data[..., 4:], bwd.data[:, ::-1], rtol=1e-6)
    assert not np.allclose(bi.layer.W_h[0].data, bi.backward_layer.W_h[0].data)
    assert len(bi.parameters()) == 2 * len(bi.layer.parameters())


def test_bidirectional_gradcheck(rng):
    bi = rb.nn.Bidirectional(rb.nn.LSTM(2, 3, rng=rng), rng=rng).astype(np.float64)
    x = rb.tensor(rng.standard_normal((2, 4, 2)), requires_grad=True)
    assert rb.gradcheck(lambda x, *p: bi(x)[0], x, *bi.parameters())


def test_bidirectional_matches_torch(torch, rng):
    bi = rb.nn.Bidirectional(rb.nn.LSTM(3, 4, rng=rng), rng=rng).astype(np.float64)
    ref = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for suffix, layer in (("", bi.layer), ("_reverse", bi.backward_layer)):
            getattr(ref, "weight_ih_l0" + suffix).copy_(torch.tensor(layer.W_x[0].data.T))
            getattr(ref, "weight_hh_l0" + suffix).copy_(torch.tensor(layer.W_h[0].data.T))
            getattr(ref, "bias_ih_l0" + suffix).copy_(torch.tensor(layer.b[0].data))
            getattr(ref, "bias_hh_l0" + suffix).zero_()
    x = rng.standard_normal((2, 5, 3))
    xt = rb.tensor(x, requires_grad=True)
    out, _ = bi(xt)
    g = rng.standard_normal(out.shape)
    (out * g).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    tout, _ = ref(tx)
    (tout * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(bi.backward_layer.W_h[0].grad,
                               ref.weight_hh_l0_reverse.grad.numpy().T, rtol=1e-8, atol=1e-12)


def test_bidirectional_errors():
    with pytest.raises(TypeError, match="layer must be a Module"):
        rb.nn.Bidirectional("lstm")
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, time, features\)"):
        rb.nn.Bidirectional(rb.nn.RNN(2, 2))(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"state must be the pair \(forward state, backward "
                                         r"state\).*got ndarray of shape \(2, 3, 2\)"):
        rb.nn.Bidirectional(rb.nn.GRU(2, 2))(np.zeros((3, 4, 2)), np.zeros((2, 3, 2)))
