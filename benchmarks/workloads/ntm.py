"""Neural Turing Machine training steps (issue 16).

The paper's copy-task model: an LSTM controller of 100 units, memory 128 x 20, one read and
one write head, shifts -1..1, 8-bit vectors (9 input channels with the delimiter), batch 16,
sequences of 20 vectors + delimiter + 20 recalls (41 steps). One call is a number of training
steps (forward over the whole sequence, sigmoid cross-entropy at every step (unmasked),
BPTT, RMSprop-momentum update): rosenblatt's ``rb.nn.NTM`` (the whole sequence one fused op)
against the same model in PyTorch CPU autograd, written below from the same equations
(vectorised over the batch and heads, as a PyTorch user would write it). A second set, the
length scan, times the same number of training steps (2 with ``--quick``, 5 in the full run)
at other sequence lengths (5 and 40 with ``--quick``; 5, 10, 40 and 80) to show the cost
growing linearly in length. Unit: sequences (samples) per second.

Target (issue 16): >= 1.5x PyTorch autograd; time linear in length, judged on the longest
scan row: rosenblatt's time per sequence step (``2 length + 1`` of them) there at most
1.3x that at the shortest length (a fixed cost per call only makes short sequences dearer
per step; a cost growing faster than the length makes long ones dearer).
"""

import numpy as np

import rosenblatt as rb
from benchmarks.common import torch_or_none

BITS, CTRL, N, M, BATCH = 8, 100, 128, 20, 16
SHIFTS = (-1, 0, 1)


def data(steps, length, seed=0):
    rng = np.random.default_rng(seed)
    T = 2 * length + 1
    x = np.zeros((steps, BATCH, T, BITS + 1), np.float32)
    y = np.zeros((steps, BATCH, T, BITS), np.float32)
    bits = rng.integers(0, 2, (steps, BATCH, length, BITS)).astype(np.float32)
    x[:, :, :length, :BITS] = bits
    x[:, :, length, BITS] = 1
    y[:, :, length + 1:] = bits
    return x, y


def rosenblatt_fn(x, y):
    net = rb.nn.NTM(BITS + 1, BITS, controller_size=CTRL, memory_size=(N, M),
                    rng=np.random.default_rng(0))
    opt = rb.optim.RMSprop(net.parameters(), lr=1e-4, momentum=0.9)
    bce = rb.losses.binary_cross_entropy_with_logits

    def run():
        for xb, yb in zip(x, y):
            loss = bce(net(rb.tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def torch_ntm_module(torch, n_in, n_out, C, N, M, shifts):
    """The NTM of rb.nn.NTM in PyTorch autograd (LSTM controller, 1 read + 1 write head)."""
    F = torch.nn.functional
    S = len(shifts)
    H = 2  # write head, read head
    P = H * M + 3 * H + H * S + 2 * M

    class NTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = torch.nn.LSTMCell(n_in + M, C)
            self.heads = torch.nn.Linear(C, P)
            self.out = torch.nn.Linear(C + M, n_out)
            self.memory0 = torch.nn.Parameter(torch.empty(N, M).uniform_(-0.1, 0.1))
            self.read0 = torch.nn.Parameter(torch.empty(1, M).uniform_(-0.1, 0.1))
            self.weighting0 = torch.nn.Parameter(torch.zeros(H, N))

        @staticmethod
        def address(k, beta, g, s, gamma, w_prev, mem):
            K = F.cosine_similarity(k[:, :, None, :], mem[:, None, :, :], dim=-1, eps=1e-8)
            wc = torch.softmax(beta * K, dim=-1)
            wg = g * wc + (1 - g) * w_prev
            wt = sum(s[..., j:j + 1] * torch.roll(wg, sh, dims=-1) for j, sh in enumerate(shifts))
            p = wt ** gamma
            return p / p.sum(-1, keepdim=True)

        def forward(self, x):
            B, T, _ = x.shape
            mem = self.memory0.expand(B, N, M)
            r = self.read0.expand(B, M)
            w = torch.softmax(self.weighting0, -1).expand(B, H, N)
            h = x.new_zeros(B, C)
            c = x.new_zeros(B, C)
            outs = []
            for t in range(T):
                h, c = self.cell(torch.cat([x[:, t], r], -1), (h, c))
                p = self.heads(h)
                k, beta, g, gamma, s, e, a = p.split([H * M, H, H, H, H * S, M, M], -1)
                k = torch.tanh(k).reshape(B, H, M)
                beta = F.softplus(beta)[..., None]
                g = torch.sigmoid(g)[..., None]
                gamma = 1 + F.softplus(gamma)[..., None]
                s = torch.softmax(s.reshape(B, H, S), -1)
                e, a = torch.sigmoid(e), torch.tanh(a)
                ww = self.address(k[:, :1], beta[:, :1], g[:, :1], s[:, :1], gamma[:, :1],
                                  w[:, :1], mem)
                mem = mem * (1 - ww[:, 0, :, None] * e[:, None, :]) + ww[:, 0, :, None] * a[:, None]
                wr = self.address(k[:, 1:], beta[:, 1:], g[:, 1:], s[:, 1:], gamma[:, 1:],
                                  w[:, 1:], mem)
                r = torch.bmm(wr, mem)[:, 0]
                w = torch.cat([ww, wr], 1)
                outs.append(torch.cat([h, r], -1))
            return self.out(torch.stack(outs, 1))

    return NTM()


def pytorch_fn(x, y):
    torch = torch_or_none()
    if torch is None:
        return None
    torch.manual_seed(0)
    net = torch_ntm_module(torch, BITS + 1, BITS, CTRL, N, M, SHIFTS)
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-4, momentum=0.9)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run():
        for xb, yb in zip(xt, yt):
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


LINEAR_SLACK = 1.3  # the longest scan row's time per sequence step / the shortest's


def _name(length, steps, scan):
    return (f"NTM copy{' (length scan)' if scan else ''}: LSTM {CTRL}, memory {N}x{M}, "
            f"1+1 heads, batch {BATCH}, seq {length}+{length}, {steps} RMSprop steps")


def linear_check(shortest_name, shortest, longest):
    """The longest scan row's verdict: rosenblatt's seconds per sequence step (``2 length +
    1`` steps) there at most ``LINEAR_SLACK`` times that of the row named ``shortest_name``
    (length ``shortest``); None when that row was not run or failed."""
    def check(result, results):
        base = next((r for r in results if r["name"] == shortest_name and "rosenblatt" in r),
                    None)
        if base is None:
            return None
        per_step = lambda r, length: r["rosenblatt"]["median_s"] / (2 * length + 1)
        growth = per_step(result, longest) / per_step(base, shortest)
        result["notes"] = (f"time per sequence step at length {longest}: {growth:.2f}x that at "
                           f"length {shortest}")
        return growth <= LINEAR_SLACK

    return check


def workloads(quick):
    steps = 2 if quick else 5
    out = []
    scan = (5, 40) if quick else (5, 10, 40, 80)
    for length in (20,) + scan:
        x, y = data(steps, length)
        main = length == 20
        w = {
            "name": _name(length, steps, not main),
            "unit": "samples/s",
            "work": steps * BATCH,
            "rosenblatt": rosenblatt_fn(x, y),
            "references": {"pytorch": pytorch_fn(x, y), "sklearn": None},
            "target": ">= 1.5x PyTorch autograd" if main else "(time linear in length: judged "
                                                              "on the longest)",
            "target_ratio": {"pytorch": 1.5} if main else {},
        }
        if length == max(scan):
            w["target"] = (f"time linear in length: per step <= {LINEAR_SLACK}x "
                           f"length {min(scan)}'s")
            w["check"] = linear_check(_name(min(scan), steps, True), min(scan), length)
        out.append(w)
    return out
