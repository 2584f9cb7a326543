"""Tour: recurrent networks (notes: "Recurrent Neural Networks", "LSTMs", "Attention mechanisms").

Three experiments: the vanishing gradient of a vanilla RNN against the gated
cells (gradient norms over time steps for an LSTM; the embedded Reber grammar's
long-range dependency, solved over several runs by an LSTM, a GRU and an Elman
RNN), with exploding gradients and clipping; the attention heat map of an
encoder-decoder that reverses sequences; and a character-level LSTM trained
with truncated BPTT that samples text. Every run's seed comes from the tour's
(``ctx.run_seed``).
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

TEXT = (
    "The perceptron learns a line. A hidden layer learns a curve. "
    "A recurrent network learns a sequence: it reads one symbol at a time and keeps "
    "a state, a short memory of what it has read. The state is fed back into the "
    "network at the next step, so the output depends on the whole past. "
    "Training unrolls the network through time and backpropagates through every step. "
    "The gradient is multiplied at every step, so it vanishes or explodes. "
    "The long short-term memory keeps a cell state that the forget gate protects, "
    "so the gradient flows back through many steps and the network remembers. "
)


class _Tagger(rb.nn.Module):
    """A recurrent layer with a linear read-out at every step."""

    def __init__(self, layer, hidden, n_out, rng):
        self.rnn = layer
        self.head = rb.nn.Dense(hidden, n_out, rng=rng)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


class _UpToLastSymbol(rb.nn.Module):
    """The tagger's outputs on a batch of zero-padded sequences, up to its last symbol.

    Steps after every sequence has ended change nothing (the network reads
    forward and the loss masks them), so they are not computed.
    """

    def __init__(self, tagger):
        self.tagger = tagger

    def forward(self, x):
        T = int(np.flatnonzero(np.abs(x.data).sum(axis=(0, 2)))[-1]) + 1
        return self.tagger(x[:, :T])[0]


def _masked_bce(logits, target):
    """Sigmoid cross-entropy over the steps that have a next symbol (target rows not all 0)."""
    target = target[:, :logits.shape[1]]
    mask = (target.sum(-1, keepdims=True) > 0).astype(np.float32)
    per = rb.losses.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (per * mask).sum() / mask.sum()


class _LastStep(rb.nn.Module):
    """A recurrent layer read out at the last step only."""

    def __init__(self, rnn, head):
        self.rnn, self.head = rnn, head

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class _TeacherForcedReversal(rb.nn.Module):
    """An encoder-decoder fed the reversed input as its (shifted) target: reversal to learn."""

    def __init__(self, seq2seq):
        self.seq2seq = seq2seq

    def forward(self, src):
        ids = np.asarray(src.data).astype(np.int64)
        return self.seq2seq(ids, ids[:, ::-1])


def _input_gradient_norms(layer, T, rng):
    """||dE/dx_t|| for an error on the last output only, averaged over a batch."""
    x = rb.tensor(rng.standard_normal((32, T, layer.input_size)).astype(np.float32),
                  requires_grad=True)
    out, _ = layer(x)
    last = out[:, -1]
    (last * rng.standard_normal(last.shape).astype(np.float32)).sum().backward()
    return np.linalg.norm(x.grad, axis=2).mean(axis=0)


REBER_CELLS = (("LSTM", rb.nn.LSTM, 12), ("GRU", rb.nn.GRU, 14), ("Elman RNN", rb.nn.RNN, 24))
"""The embedded-Reber contestants: cell, layer and units (about 1,000 weights each)."""


def _reber(ctx, epochs, runs, cells=REBER_CELLS):
    """Train each cell of ``cells`` on the embedded Reber grammar in ``runs`` runs, each with
    its own 600 training strings and initial weights; score on one held-out set.

    Returns {name: [(weights, held-out score, score ignoring the long-range step) per run]}
    and the number of held-out strings.
    """
    # Each run draws its own training strings as well as its own weights: whether an Elman RNN
    # learns the long-range step depends on the strings too (at one draw it solved 3 runs of 3).
    trains = [rb.datasets.reber_strings(600, rng=ctx.run_seed(10 + run)) for run in range(runs)]
    test, test_nexts = rb.datasets.reber_strings(3000, rng=ctx.run_seed(1))
    seen = set().union(*(strings for strings, _ in trains))
    held = [i for i, s in enumerate(test) if s not in seen and len(s) >= 20]
    Xt, Yt = rb.datasets.encode_reber([test[i] for i in held], [test_nexts[i] for i in held])
    long_range = Xt[..., rb.datasets.REBER_SYMBOLS.index("E")] == 1
    results = {name: [] for name, _, _ in cells}
    for run, (strings, nexts) in enumerate(trains):
        X, Y = rb.datasets.encode_reber(strings, nexts)
        seed = ctx.run_seed(2 + run)
        for name, cell, hidden in cells:
            model = _Tagger(cell(7, hidden, rng=seed), hidden, 7, np.random.default_rng(seed))
            rb.fit(_UpToLastSymbol(model), X, Y, loss=_masked_bce,
                   optimizer=rb.optim.SGD(model.parameters(), lr=0.3, momentum=0.9),
                   epochs=epochs, batch_size=20, clip_norm=1.0, metrics=(), progress=False,
                   rng=np.random.default_rng(seed))
            with rb.no_grad():
                predicted = model(rb.tensor(Xt))[0].data > 0
            ok = (predicted == (Yt > 0)).all(-1) | (Yt.sum(-1) == 0)
            results[name].append((model.num_parameters(), ok.all(1).mean(),
                                  (ok | long_range).all(1).mean()))
    return results, len(Xt)


def _adding_run(gain, clip, X, y, epochs, seed):
    """A ReLU RNN on the adding problem with W_h scaled by ``gain``, trained by ``rb.fit``.

    Returns the loss and the gradient norm of every update, and the DivergenceError
    that stopped training (None if it finished).
    """
    rng = np.random.default_rng(seed)
    rnn = rb.nn.RNN(2, 32, nonlinearity="relu", rng=rng)
    rnn.W_h[0].data *= gain
    model = _LastStep(rnn, rb.nn.Dense(32, 1, rng=rng))
    losses, norms = [], []

    def mse(pred, target):
        value = rb.losses.mse(pred, target)
        losses.append(float(value.item()))
        return value

    def gradient_norm(trainer):  # before clipping
        grad = trainer.optimizer.vec.grad.astype(np.float64)
        norms.append(float(np.sqrt(np.dot(grad, grad))))

    diverged = None
    try:
        rb.fit(model, X, y, loss=mse, optimizer=rb.optim.SGD(model.parameters(), lr=0.01,
                                                             momentum=0.9),
               epochs=epochs, batch_size=32, clip_norm=clip, metrics=(), progress=False,
               callbacks=[rb.callbacks.LambdaCallback(on_backward=gradient_norm)],
               rng=np.random.default_rng(seed + 1), divergence_factor=None)  # shown: up to inf
    except rb.training.DivergenceError as e:  # the unclipped run overflows on purpose
        diverged = e
    return np.array(losses), np.array(norms), diverged


def _reverser(ctx, attention, steps, length, vocab=8, hidden=32):
    model = rb.models.Seq2Seq(vocab, vocab, hidden, attention=attention,
                              rng=np.random.default_rng(ctx.run_seed(1)))
    src = np.random.default_rng(ctx.run_seed(2)).integers(0, vocab, (steps * 32, length))
    rb.fit(_TeacherForcedReversal(model), src, src[:, ::-1], loss="cross_entropy",
           optimizer=rb.optim.Adam(model.parameters(), lr=0.01), epochs=1, batch_size=32,
           shuffle=False, metrics=(), progress=False)
    test = np.random.default_rng(ctx.run_seed(3)).integers(0, vocab, (300, length))
    accuracy = (model.generate(test, length) == test[:, ::-1]).mean()
    return model, accuracy, test


def _sample(model, data, prefix, n, temperature, rng):
    """Feed ``prefix``, then draw ``n`` characters one at a time, feeding each back."""
    V = data.vocab_size
    state = None
    text = prefix
    with rb.no_grad():
        logits, state = model(rb.tensor(rb.nn.one_hot(data.encode(prefix)[None], V)), state)
        for _ in range(n):
            z = logits.data[0, -1].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            c = int(rng.choice(V, p=p / p.sum()))
            text += data.vocab[c]
            logits, state = model(rb.tensor(rb.nn.one_hot(np.array([[c]]), V)), state)
    return text


@chapter("Recurrent networks: memory, attention, text",
         section="Recurrent Neural Networks (RNNs)")
def run(ctx):
    quick = ctx.quick
    # -- 1. vanishing gradients ----------------------------------------------------
    T = 50
    ctx.text(
        "Backpropagation through time multiplies the error by the recurrent Jacobian at "
        "every step back, so in a vanilla RNN the effect of early inputs *vanishes*. "
        f"Below: the norm of dE/dx_t when the error is measured on the last of {T} outputs "
        "only, for freshly initialised layers of 32 units (averaged over a batch)."
    )
    norms = {}
    for name, layer in (("Elman RNN (tanh)", rb.nn.RNN(4, 32, rng=ctx.rng)),
                        ("LSTM", rb.nn.LSTM(4, 32, rng=ctx.rng))):
        norms[name] = _input_gradient_norms(layer, T, ctx.rng)
    with ctx.figure("||dE/dx_t|| against t, error on the last step only (log scale): the "
                    "vanilla RNN's gradient decays fastest going back in time.") as fig:
        ax = fig.add_subplot(1, 1, 1)
        for name, g in norms.items():
            ax.semilogy(np.arange(1, T + 1), g / g[-1], label=name)
        ax.set_xlabel("time step t")
        ax.set_ylabel("relative gradient norm")
        ax.legend(fontsize=8)
    ratio = {name: g[0] / g[-1] for name, g in norms.items()}
    ctx.table(["layer", f"||dE/dx_1|| / ||dE/dx_{T}||"], [[k, v] for k, v in ratio.items()])
    ctx.claim("The vanilla RNN's gradient vanishes over time steps faster than the LSTM's",
              ratio["Elman RNN (tanh)"] < ratio["LSTM"] / 5,
              f"after {T} steps back: RNN x{ratio['Elman RNN (tanh)']:.2g}, "
              f"LSTM x{ratio['LSTM']:.2g}")

    # -- exploding gradients and clipping --------------------------------------------
    # Sequences of 22 and 4,096 of them: long enough that the unclipped run explodes, short and
    # many enough that the clipped one learns, at each of tour seeds 0-19 (at sequences of 30
    # and 512 it ended no better than predicting the mean; audit s10 a6, finding 3).
    X, y = rb.datasets.adding_problem(4096, 22, rng=ctx.run_seed(0))
    epochs = 8 if quick else 10
    unclipped, norms, diverged = _adding_run(2.0, None, X, y, epochs, ctx.run_seed(0))
    clipped, _, clipped_diverged = _adding_run(2.0, 1.0, X, y, epochs, ctx.run_seed(0))
    baseline = float(y.var())  # the MSE of predicting the mean
    ctx.text(
        "The opposite failure: a ReLU RNN whose recurrent weights are scaled up (W_h = 2 x "
        "orthogonal) multiplies the error by more than 1 at every step back, so gradients "
        "*explode*. The notes: it is obvious when it happens (NaNs) and clipping the gradient "
        f"is effective. Adding problem, {len(X)} sequences of 22, SGD with momentum, {epochs} "
        "epochs; the same run without and with clipping the gradient's norm to 1. Effective "
        "means more than finite: the clipped run must learn, ending well below the loss of "
        "predicting the mean."
    )
    with ctx.figure("Training loss per update on the adding problem (log scale): unclipped, "
                    "the exploding gradient throws the weights out (inf/NaN, the line ends); "
                    "clipped to norm 1, the net learns.") as fig:
        ax = fig.add_subplot(1, 1, 1)
        ax.semilogy(clipped, label="clip_grad_norm(1.0)", color="C1")
        # Unclipped, the loss is often NaN from the second update on: markers keep its few
        # finite points visible, and a cross marks where it stops.
        ax.semilogy(np.where(np.isfinite(unclipped), unclipped, np.nan), marker="o", ms=4,
                    color="C0", label="no clipping", zorder=3)
        bad = np.flatnonzero(~np.isfinite(unclipped))
        if len(bad):
            first = int(bad[0])
            last = unclipped[first - 1] if first > 0 else clipped[0]
            ax.plot([first], [last], marker="x", ms=9, mew=2, color="C0", zorder=3)
            ax.annotate(f"no clipping: inf/NaN from update {first}", (first, last),
                        xytext=(12, -4), textcoords="offset points", color="C0", fontsize=8)
        ax.axhline(baseline, color="gray", lw=0.8, ls="--",
                   label=f"predicting the mean ({baseline:.3f})")
        ax.set_xlabel("update")
        ax.set_ylabel("MSE")
        ax.legend(fontsize=8)
    finite = np.isfinite(clipped).all() and clipped_diverged is None
    final = clipped[-16:].mean()
    ctx.claim("Exploding gradients are obvious (the loss becomes inf/NaN) and clipping "
              "them is effective: the same net, clipped, learns",
              diverged is not None and (not np.isfinite(unclipped).all()) and finite
              and final < 0.5 * baseline,
              f"largest gradient norm {np.nanmax(norms):.3g}; unclipped, the loss became "
              f"{unclipped[-1]:.3g} and rb.fit stopped (DivergenceError) at update "
              f"{len(unclipped)}; clipped: first loss {clipped[0]:.3g}, final "
              f"{final:.3g} = {final / baseline:.2f} x the mean predictor's {baseline:.3f}")

    # One run per cell says little: a modern Elman RNN solves this at about 4 seeds in 10 and
    # at 20 epochs the LSTM had not yet learned it at 7 in 10 (audit s10 a6, fix f6), so the
    # claim compares solve rates over several runs at a budget the gated cells finish in.
    # Six runs in quick mode: at three (solve rates per run 0.875 LSTM, 0.80 GRU, 0.32 Elman
    # over tour seeds 0-39) the comparison failed at seeds 17 and 36, about 1 seed in 11 by
    # the binomial rates; at six about 1 in 55, for about 6 s more of CPU.
    epochs, runs = 40, (6 if quick else 8)
    results, n_held = _reber(ctx, epochs, runs)
    solved = {name: sum(r[1] >= 0.95 for r in rs) for name, rs in results.items()}
    ctx.text(
        "The embedded Reber grammar (B T ... T E or B P ... P E): every next symbol is "
        "decided by the last few symbols, except the second-to-last, which must repeat the "
        "second one across the whole inner string. A string counts as learned when, at "
        "every step, the symbols predicted (sigmoid > 0.5) are exactly the possible next "
        f"ones, and a run solves the grammar when it gets >= 95% of the {n_held} held-out "
        "strings (length >= 20, never seen in training) right. Budget per run: "
        f"{epochs} epochs of 600 strings, SGD with momentum 0.9 and gradient norm clipping; "
        f"{runs} runs per cell, each with its own training strings and initial weights. A "
        "modern Elman RNN (orthogonal initialisation, clipping) sometimes gets there; the "
        "gated cells do so reliably. The "
        "test suite measures the rates over 16 seeds "
        "(`tests/nn/test_recurrent_learning.py`)."
    )
    ctx.table(["cell", "weights", "runs solved", "held-out strings right (per run)",
               "ignoring the long-range step (per run)"],
              [[name, rs[0][0], f"{solved[name]} of {runs}",
                ", ".join(f"{r[1]:.0%}" for r in rs), ", ".join(f"{r[2]:.0%}" for r in rs)]
               for name, rs in results.items()])
    gated = (solved["LSTM"] + solved["GRU"]) / (2 * runs)
    local = float(np.median([r[2] for r in results["Elman RNN"]]))
    ctx.claim("LSTMs and GRUs learn the embedded Reber grammar's long-range dependency more "
              "reliably than an Elman RNN of similar size (same budget), which learns the "
              "local transitions",
              gated > solved["Elman RNN"] / runs and local >= 0.9,
              f"runs solved: LSTM {solved['LSTM']}, GRU {solved['GRU']}, Elman RNN "
              f"{solved['Elman RNN']} of {runs}; the RNN's median score ignoring the "
              f"long-range step {local:.0%}")

    # -- 2. attention ----------------------------------------------------------------
    steps, length = (250, 8) if quick else (700, 10)
    att_model, with_att, test = _reverser(ctx, "dot", steps, length)
    _, without, _ = _reverser(ctx, None, steps, length)
    ctx.text(
        f"An encoder-decoder (GRU, 32 units) learns to reverse sequences of {length} "
        f"symbols ({steps} Adam steps of 32 sequences). Without attention the decoder only "
        "gets the encoder's final state; with (dot-product) attention every decoding step "
        "looks at all encoder states, and the model keeps the weights of every step."
    )
    ctx.table(["model", "held-out tokens right (greedy decoding)"],
              [["with attention", with_att], ["without attention", without]])
    ctx.claim("Attention lets the decoder reach every input position: it reverses "
              "sequences more accurately than the same model without attention",
              with_att > without + 0.1,
              f"{with_att:.1%} vs {without:.1%} of tokens")
    att_model.generate(test, length)
    every = att_model.attention_weights  # (test sequence, output step, input position)
    weights = every[0]
    with ctx.figure("Attention weights while reversing one sequence: output step (rows) "
                    "against input position (columns); the anti-diagonal is the reversal.",
                    size=(4.2, 3.8)) as fig:
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
        ax.set_xlabel("input position")
        ax.set_ylabel("output step")
        ax.set_xticks(range(length))
        ax.set_xticklabels([str(t) for t in test[0]], fontsize=7)
        ax.set_yticks(range(length))
        fig.colorbar(im, ax=ax, fraction=0.046)
    # The alignment is judged on the weights averaged over the held-out sequences: one
    # sequence's argmax can jump at one step (tour seed 6: [7, 7, 6, 5, 4, 3, 2, 6]).
    focus = every.mean(axis=0).argmax(axis=1)
    ctx.claim("The attention weights of every decoding step are kept, and they show the "
              "alignment (the focus moves backwards through the input)",
              np.corrcoef(focus, np.arange(length))[0, 1] < -0.8,
              f"argmax position per output step of the weights averaged over {len(every)} "
              f"held-out sequences: {focus.tolist()} (the sequence drawn: "
              f"{weights.argmax(axis=1).tolist()})")

    # -- 3. a character-level model ----------------------------------------------------
    data = rb.datasets.CharText(TEXT * (2 if quick else 4))
    V = data.vocab_size
    X, Y = data.streams(8)
    k = 25
    epochs = 40 if quick else 150
    model = _Tagger(rb.nn.LSTM(V, 64, rng=ctx.rng), 64, V, ctx.rng)
    opt = rb.optim.Adam(model.parameters(), lr=0.01)
    history = rb.fit(model, rb.nn.one_hot(X, V), Y, loss="cross_entropy", optimizer=opt,
                     epochs=epochs, clip_norm=5.0, tbptt=k)
    counts = np.bincount(data.ids, minlength=V) / len(data.ids)
    unigram = float(-(counts * np.log(counts)).sum())
    final = float(np.mean(history.chunk_loss[-5:]))
    sample = _sample(model, data, "The ", 160, 0.6, ctx.rng)
    ctx.text(
        f"A character-level LSTM (64 units, {V} symbols) trained with truncated BPTT "
        f"(8 parallel streams, chunks of k = {k} steps, state carried across chunks but "
        f"detached) for {epochs} passes over a {len(data)}-character text. "
        f"It samples (temperature 0.6), starting from \"The \":\n\n`{sample}`"
    )
    ctx.claim("A recurrent network trained with truncated BPTT models text: its "
              "per-character loss falls well below the letter-frequency entropy",
              final < 0.7 * unigram,
              f"{final:.2f} nats/char after training vs {unigram:.2f} for letter frequencies")
