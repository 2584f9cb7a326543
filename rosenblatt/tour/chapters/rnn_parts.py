"""Tour: recurrent networks drawn and varied (notes: "Recurrent Neural Networks (RNNs)",
"LSTMs", "Peephole connections", "Update gates", "BI-RNNs").

The lost figures "Simple RNN network, with hidden nodes looping", "... looping over time" and
"A LSTM unit" drawn from trained layers with their live states and gates; peephole and
coupled (update-gate) LSTMs; a bidirectional RNN on a task that needs the future.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.diagrams import draw_lstm_unit, draw_recurrent, lstm_step_values


class _PerStep(rb.nn.Module):
    """A recurrent layer read out by a Dense layer at every step: (batch, T, k) outputs."""

    def __init__(self, layer, hidden, n_out, rng):
        self.rnn = layer
        self.head = rb.nn.Dense(hidden, n_out, rng=rng)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def _bits(rng, n, T):
    return (rng.random((n, T, 1)) < 0.5).astype(np.float32)


def _train(model, x, y, epochs, lr, rng):
    rb.fit(model, x, y, loss="binary_cross_entropy_with_logits", optimizer=rb.optim.Adam(
        model.parameters(), lr=lr), epochs=epochs, batch_size=32, metrics=(), progress=False,
        rng=rng, clip_norm=5.0)


def uncoupled_twin(lstm):
    """The uncoupled LSTM that computes what a coupled one should: input gate i = 1 - f.

    Its input-gate block is the negated forget-gate block (weights, bias and peephole), so
    i = sigmoid(-a_f) = 1 - sigmoid(a_f); the f, g and o blocks are the coupled layer's.
    One layer, without batch norm.
    """
    H = lstm.hidden_size
    twin = rb.nn.LSTM(lstm.input_size, H, peephole=lstm.P is not None, rng=0)
    for mine, theirs in ((twin.W_x, lstm.W_x), (twin.W_h, lstm.W_h), (twin.b, lstm.b)):
        f_block = theirs[0].data[..., :H]
        mine[0].data[...] = np.concatenate([-f_block, theirs[0].data], axis=-1)
    if lstm.P is not None:
        twin.P[0].data[...] = lstm.P[0].data
        twin.P[0].data[0] = -lstm.P[0].data[1]
    return twin


def coupling_gap(lstm, x):
    """max |h - h_twin| over ``x`` (batch, T, input_size): 0 (to rounding) exactly when the
    layer's own forward pass uses i = 1 - f (:func:`uncoupled_twin`)."""
    with rb.no_grad():
        mine = lstm(rb.tensor(x))[0].data
        twin = uncoupled_twin(lstm)(rb.tensor(x))[0].data
    return float(np.abs(mine - twin).max())


def _accuracy(model, x, y, steps=slice(None)):
    pred = rb.training.predict(model, x) > 0
    return float(np.mean(pred[:, steps] == (y[:, steps] > 0.5)))


@chapter("A simple RNN, folded and unrolled", section="Recurrent Neural Networks (RNNs)",
         name="simple-rnn")
def simple_rnn(ctx):
    ctx.text(
        "A recurrent network's hidden nodes loop back to themselves: h_t = tanh(x_t W_x + "
        "h_(t−1) W_h + b), so the output at t depends on every input so far. Unrolled over time "
        "it is a deep feed-forward network with one layer per step, all sharing the same "
        "weights. An RNN of 6 units learns to echo its input bit two steps later (through "
        "`rb.fit`), and is drawn folded and unrolled with its live hidden states."
    )
    rng = ctx.rng
    T, delay = 10, 2
    x = _bits(rng, 512, T)
    y = np.zeros_like(x)
    y[:, delay:] = x[:, :-delay]
    model = _PerStep(rb.nn.RNN(1, 6, rng=rng), 6, 1, rng)
    _train(model, x, y, 25 if ctx.quick else 60, 0.02, rng)
    xt = _bits(rng, 256, T)
    yt = np.zeros_like(xt)
    yt[:, delay:] = xt[:, :-delay]
    acc = _accuracy(model, xt, yt, slice(delay, None))
    seq = xt[0]
    with ctx.figure("The trained RNN drawn folded: each hidden node loops back to itself (the "
                    "loop's colour and width are its recurrent weight, blue positive, red "
                    "negative); node colour is the live state on a test sequence's last step.",
                    size=(3.6, 3), notes="Simple RNN network, with hidden nodes looping") as fig:
        draw_recurrent(fig.add_subplot(), model.rnn, seq=seq)
    with ctx.figure("The same RNN unrolled over the first 4 time steps of that sequence: one "
                    "copy of the layer per step, each step's hidden layer feeding the next "
                    "(the strongest recurrent connection of each unit drawn), node colour the "
                    "live hidden state.", size=(8, 2.8),
                    notes="Simple RNN network, with hidden nodes looping over time") as fig:
        draw_recurrent(fig.add_subplot(), model.rnn, seq=seq, unroll=4)
    W_x, W_h, b = (p[0].data.astype(np.float64) for p in (model.rnn.W_x, model.rnn.W_h,
                                                          model.rnn.b))
    h = np.zeros(6)
    by_hand = []
    for t in range(T):
        h = np.tanh(seq[t] @ W_x + h @ W_h + b)
        by_hand.append(h)
    with rb.no_grad():
        live = model.rnn(rb.tensor(seq[None]))[0].data[0]
    diff = float(np.abs(np.array(by_hand) - live).max())
    ctx.claim("Unrolled, the RNN is the same layer applied at every step with shared weights: "
              "h_t = tanh(x_t W_x + h_(t−1) W_h + b), step by step, gives its outputs",
              diff < 1e-5, f"max difference {diff:.1e} over {T} steps")
    ctx.claim("The loop gives the network a memory: it outputs the bit it read two steps "
              "earlier", acc >= 0.95, f"test accuracy {acc:.1%} (chance 50%)")


def _memory_task(rng, n, T):
    """Output, at every step, the first bit of the sequence (held through noise bits)."""
    x = _bits(rng, n, T)
    y = np.repeat(x[:, :1], T, axis=1)
    return x, y


@chapter("An LSTM unit, with its live gates", section="LSTMs", name="lstm-unit")
def lstm_unit(ctx):
    ctx.text(
        "An LSTM unit keeps a cell state C that a forget gate f protects: C_t = f_t C_(t−1) + "
        "i_t g_t, h_t = o_t tanh(C_t). A 4-unit LSTM learns to repeat the first bit of a "
        "sequence at every step, through 15 more random bits (through `rb.fit`); its unit that "
        "carries the bit is drawn with the gates' live values, recomputed from its weights and "
        "checked against the layer."
    )
    rng = ctx.rng
    T = 16
    x, y = _memory_task(rng, 512, T)
    model = _PerStep(rb.nn.LSTM(1, 4, rng=rng), 4, 1, rng)
    _train(model, x, y, 25 if ctx.quick else 60, 0.02, rng)
    xt, yt = _memory_task(rng, 256, T)
    acc = _accuracy(model, xt, yt)
    cells = np.array([lstm_step_values(model.rnn, s)["C"] for s in xt[:64]])  # (64, T, H)
    first = xt[:64, 0, 0]
    corr = [abs(np.corrcoef(cells[:, -1, k], first)[0, 1]) for k in range(4)]
    unit = int(np.argmax(corr))
    with ctx.figure(f"LSTM unit {unit + 1} at the last step ({T}) of a test sequence whose first "
                    "bit was "
                    f"{int(xt[0, 0, 0])}: gates filled by their live activation, the products "
                    "and the sum on the cell-state line with the values that flow through them.",
                    size=(8, 3.4), notes="A LSTM unit") as fig:
        draw_lstm_unit(fig.add_subplot(), model.rnn, xt[0], t=-1, unit=unit)
    f_mean = float(lstm_step_values(model.rnn, xt[0])["f"][1:, unit].mean())
    ctx.claim("The cell state carries the first bit through 15 steps (an LSTM remembers)",
              acc >= 0.95 and corr[unit] > 0.9,
              f"test accuracy {acc:.1%}; the last cell state of unit {unit + 1} correlates "
              f"{corr[unit]:.2f} with the first bit; its forget gate averages {f_mean:.2f}")


@chapter("Peephole connections and coupled (update) gates", section="Peephole connections",
         name="lstm-variants")
def variants(ctx):
    ctx.text(
        "Two variants of the notes. **Peephole connections** let the gates look at the cell "
        "state (a_f += p_f C_(t−1), and likewise for i and o). **Coupled gates** (\"update "
        "gates\") tie the input gate to the forget gate, i_t = 1 − f_t: the unit forgets exactly "
        "as much as it writes, with a quarter fewer gate weights. All three learn the memory "
        "task of the previous chapter through `rb.fit`. The coupling is checked on the layer "
        "itself: its outputs must equal those of an ordinary LSTM whose input-gate weights are "
        "the negated forget-gate weights (so that i = σ(−a_f) = 1 − f)."
    )
    rng = ctx.rng
    T = 16
    x, y = _memory_task(rng, 512, T)
    xt, yt = _memory_task(rng, 256, T)
    rows = []
    for name, kw in (("LSTM", {}), ("peephole LSTM", {"peephole": True}),
                     ("coupled LSTM (update gate)", {"coupled": True})):
        r = np.random.default_rng(ctx.run_seed(11))
        model = _PerStep(rb.nn.LSTM(1, 4, rng=r, **kw), 4, 1, r)
        _train(model, x, y, 25 if ctx.quick else 60, 0.02, r)
        n_rec = sum(p.size for p in model.rnn.parameters())
        gap = coupling_gap(model.rnn, xt) if kw.get("coupled") else float("nan")
        rows.append([name, n_rec, _accuracy(model, xt, yt), gap])
    ctx.table(["layer (4 units)", "recurrent-layer weights", "test accuracy",
               "max |h − h of the LSTM with i = 1 − f|"], rows)
    ctx.claim("Peephole and coupled LSTMs learn the memory task too",
              all(r[2] >= 0.9 for r in rows), ", ".join(f"{r[0]}: {r[2]:.1%}" for r in rows))
    ctx.claim("The coupled LSTM's input gate is 1 − f (one update gate), with 3/4 of the gate "
              "weights; peepholes add 3 weights per unit",
              rows[2][3] < 1e-5 and rows[2][1] == rows[0][1] * 3 // 4
              and rows[1][1] == rows[0][1] + 3 * 4,
              f"coupled layer vs the LSTM with i = 1 − f: outputs differ by at most "
              f"{rows[2][3]:.1e} on {len(xt)} test sequences; weights: {rows[0][1]} (LSTM), "
              f"{rows[1][1]} (peephole), {rows[2][1]} (coupled)")


@chapter("Bidirectional RNNs: reading the future", section="BI-RNNs", name="bi-rnn")
def bidirectional(ctx):
    ctx.text(
        "A bidirectional RNN runs one recurrent layer forwards and another backwards over the "
        "sequence and concatenates their outputs, so the output at step t sees the whole "
        "sequence, future included. The task: at every step output the bit that comes two steps "
        "later. A forward GRU cannot know it; a bidirectional GRU of the same size can "
        "(`rb.nn.Bidirectional`, trained through `rb.fit`)."
    )
    rng = ctx.rng
    T, ahead = 10, 2
    x = _bits(rng, 512, T)
    y = np.zeros_like(x)
    y[:, :-ahead] = x[:, ahead:]
    xt = _bits(rng, 256, T)
    yt = np.zeros_like(xt)
    yt[:, :-ahead] = xt[:, ahead:]
    rows = []
    for name in ("GRU (forward)", "bidirectional GRU"):
        r = np.random.default_rng(ctx.run_seed(7))
        if name.startswith("bi"):
            layer, width = rb.nn.Bidirectional(rb.nn.GRU(1, 6, rng=r), rng=r), 12
        else:
            layer, width = rb.nn.GRU(1, 12, rng=r), 12
        model = _PerStep(layer, width, 1, r)
        _train(model, x, y, 25 if ctx.quick else 60, 0.02, r)
        rows.append([name, _accuracy(model, xt, yt, slice(0, T - ahead))])
    ctx.table(["layer (12 outputs per step)", f"accuracy on x_(t+{ahead})"], rows)
    ctx.claim("A bidirectional RNN uses the future of the sequence; a forward RNN cannot",
              rows[1][1] >= 0.95 and rows[0][1] < 0.65,
              f"accuracy {rows[1][1]:.1%} bidirectional, {rows[0][1]:.1%} forward (chance 50%)")
