"""Tour: Neural Turing Machines (notes: "Neural Turing Machines", "Content-based addressing",
"Location-based addressing"; Graves, Wayne & Danihelka 2014).

The paper's copy task from live runs: an NTM and an LSTM trained the same way on sequences
of random bit vectors; their learning curves in bits of error per sequence; the NTM copying
a sequence longer than any it was trained on; and its write and read weightings over the
memory locations through time, the head moving one location per step.

The helpers (:func:`copy_recipe`, :func:`train_copy`, :func:`evaluate_copy`) are the
training recipe also used by ``examples/ntm_copy.py`` for the full-size runs.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

BITS = 8
RESTART_ABOVE = 1.0  # bits of training error per sequence: a run above it is run again


def lstm_baseline(hidden, rng, layers=1):
    """An LSTM with a linear read-out at every step: the paper's baseline."""
    return rb.nn.Sequential(rb.nn.LSTM(BITS + 1, hidden, num_layers=layers, rng=rng),
                            rb.nn.SequenceOutputs(), rb.nn.Dense(hidden, BITS, rng=rng))


def copy_recipe(model, lr=3e-3, optimizer="adam"):
    """The optimizer: Adam (fastest in our runs) or the paper's RMSprop with momentum 0.9."""
    if optimizer == "rmsprop":
        return rb.optim.RMSprop(model.parameters(), lr=lr, momentum=0.9)
    return rb.optim.Adam(model.parameters(), lr=lr)


def train_copy(model, opt, *, lengths, rounds, per_round=2000, batch_size=16, clip=10.0,
               seed=0, log=None):
    """Train on the copy task with ``rb.fit``: each round is one epoch over fresh sequences.

    The loss is the masked sigmoid cross-entropy on the recall steps, the gradient's norm is
    clipped (the paper clips), and the curve records each round's training bits of error
    per sequence. Returns the curve as an array (rounds,).
    """
    curve = []
    for r in range(rounds):
        X, Y, mask = rb.datasets.copy_bits(per_round, length=lengths, bits=BITS,
                                           rng=seed * 100_003 + r)
        history = rb.fit(model, X, rb.datasets.masked_targets(Y, mask),
                         loss=rb.nn.masked_bce_with_logits, optimizer=opt, epochs=1,
                         batch_size=batch_size, metrics=(rb.datasets.bit_error_metric,),
                         clip_norm=clip, progress=False, rng=seed + r)
        curve.append(history["bit_error_metric"][-1])
        if log is not None:
            log(f"round {r + 1}/{rounds}: loss {history['loss'][-1]:.4f}, "
                f"{curve[-1]:.3f} bits of error per sequence")
    return np.array(curve)


def evaluate_copy(model, length, n=200, seed=12345):
    """Bits of error per sequence on ``n`` fresh sequences of exactly ``length``."""
    X, Y, mask = rb.datasets.copy_bits(n, length=length, bits=BITS, rng=seed + length)
    with model.evaluating(), rb.no_grad():
        out = model(rb.tensor(X))
    return rb.datasets.bit_errors_per_sequence(out.data, Y, mask)


def write_moves(trace, length):
    """The fraction of the input steps 1..length-1 on which the write weighting's peak moved
    by exactly one location (either direction, modulo N), over the batch."""
    w = trace["write_weightings"][:, :length, 0]  # (B, length, N)
    N = w.shape[-1]
    peak = w.argmax(axis=-1)
    step = (np.diff(peak, axis=1) % N)
    return float(((step == 1) | (step == N - 1)).mean())


def _bits_image(ax, array, title):
    ax.imshow(array.T, cmap="Greys", aspect="auto", interpolation="nearest", vmin=0, vmax=1)
    ax.set_title(title, fontsize=9)
    ax.set_yticks([])
    ax.set_xticks([])


@chapter("Neural Turing Machines: learning to copy", section="Neural Turing Machines",
         order=95)
def run(ctx):
    quick = ctx.quick
    if quick:
        train_len, memory, ctrl, rounds, per_round = 5, (16, 8), 32, 20, 1000
    else:
        # the paper-size machine had learned to copy by round 10 in examples/ntm_copy.py
        train_len, memory, ctrl, rounds, per_round = 10, (128, 20), 100, 15, 2000
    long_len = 2 * train_len
    ctx.text(
        "A Neural Turing Machine couples a controller (here an LSTM) to a memory matrix "
        f"M_t of N x M = {memory[0]} x {memory[1]} through a write head (erase, then add) and "
        "a read head, whose weightings come from content-based addressing (cosine similarity "
        "sharpened by the key strength beta, then a softmax), interpolation with the previous "
        "weighting (gate g), a circular shift over the allowed shifts -1, 0, +1, and "
        "sharpening (gamma >= 1). Everything is differentiable, so the machine learns a "
        f"procedure by gradient descent. The copy task: read up to {train_len} random "
        f"{BITS}-bit vectors, see a delimiter, then write them out again; the loss is the "
        "sigmoid cross-entropy on the recall steps. The machine starts from a constant state "
        "(M_0 = 10⁻⁶ everywhere, r_0 = 0, both heads on location 0: `learn_initial=False`), "
        "as Collier & Beel (2018) recommend: all unwritten locations then look alike, so the "
        "only way to a fresh one is the shift, the procedure that carries over to longer "
        "sequences. With a learned M_0 the machine can find its first few locations by their "
        "contents instead, and at half the seeds it learned a procedure that breaks just "
        "after the trained length."
    )
    # learn_initial=False: all three claims held at 5 of 10 seeds with the learned initial state,
    # at 10 of 10 with the constant one, at no cost in time (audit s10 a6, finding 1). Even so
    # some initialisations never find the shift (tour seed 10: 3.6 bits of training error after
    # 20 rounds, 2.2 after 40, the write head never moving; the second initialisation: 0.01
    # after 20), so each model gets a second initialisation when the first ends above
    # RESTART_ABOVE, on the same sequences, and keeps the lower final training error.
    ctx.text(
        f"Training an NTM fails from some initialisations: it never finds the shift. As is "
        f"usual, a model still above {RESTART_ABOVE:g} bit of training error per sequence after "
        f"the budget is trained again from a second initialisation, on the same sequences, and "
        f"the run with the lower final training error is kept; the LSTM is treated the same "
        f"way. Only training errors choose: the claims are judged on fresh test sequences.")
    makers = {"NTM": lambda g: rb.nn.NTM(BITS + 1, BITS, controller_size=ctrl,
                                         memory_size=memory, learn_initial=False, rng=g),
              "LSTM": lambda g: lstm_baseline(64 if quick else 256, g)}
    models, curves = {}, {}
    for name, make in makers.items():
        for k in range(2):
            model = make(np.random.default_rng(ctx.run_seed(k)))
            tag = name if k == 0 else f"{name}, second initialisation"
            curve = train_copy(model, copy_recipe(model), lengths=(1, train_len),
                               rounds=rounds, per_round=per_round, seed=ctx.run_seed(0),
                               log=lambda m, n=tag: ctx.log(f"{n}: {m}"))
            if name not in curves or curve[-1] < curves[name][-1]:
                models[name], curves[name] = model, curve
            if curve[-1] <= RESTART_ABOVE:
                break
    ntm, lstm = models["NTM"], models["LSTM"]
    seen = per_round * np.arange(1, rounds + 1)
    with ctx.figure(f"Copy task, lengths 1-{train_len}: training bits of error per sequence "
                    "against sequences seen (Adam, lr 3e-3, batch 16, gradient norm clipped "
                    "to 10).") as fig:
        ax = fig.add_subplot(1, 1, 1)
        for (name, curve), model in zip(curves.items(), (ntm, lstm)):
            ax.plot(seen, curve, label=f"{name} ({model.num_parameters()} parameters)")
        ax.set_xlabel("sequences seen")
        ax.set_ylabel("bits of error per sequence")
        ax.legend(fontsize=8)

    lengths = [train_len, long_len] + ([] if quick else [3 * train_len, 5 * train_len])
    table = [[L] + [evaluate_copy(m, L, seed=12345 + 1000 * ctx.seed) for m in (ntm, lstm)]
             for L in lengths]
    ctx.table(["length", "NTM bits of error / sequence", "LSTM bits of error / sequence"],
              table, caption=f"Trained on lengths 1-{train_len}; 200 fresh test sequences "
                             "per length.")
    trained_err, long_ntm, long_lstm = table[0][1], table[1][1], table[1][2]
    ctx.claim("An NTM learns to copy sequences of the trained lengths almost perfectly",
              trained_err < 0.5, f"{trained_err:.3f} bits of error per sequence at length "
                                 f"{train_len}")
    ctx.claim("It generalises to longer sequences far better than an LSTM trained the same way",
              long_ntm < long_lstm / 2,
              f"length {long_len}: NTM {long_ntm:.2f} vs LSTM {long_lstm:.2f} bits / sequence")

    X, Y, mask = rb.datasets.copy_bits(4, length=long_len, bits=BITS, rng=ctx.run_seed(7))
    with ntm.evaluating(), rb.no_grad():
        out, trace = ntm(rb.tensor(X), return_trace=True)
    prob = 1 / (1 + np.exp(-out.data[0]))
    with ctx.figure(f"A sequence of {long_len} vectors, longer than any seen in training: "
                    "the input, the target and the NTM's output (probabilities; time runs "
                    "left to right).", size=(7.0, 3.6)) as fig:
        axes = fig.subplots(3, 1)
        _bits_image(axes[0], X[0, :, :BITS], "input")
        _bits_image(axes[1], Y[0], "target")
        _bits_image(axes[2], prob * mask[0][:, None], "NTM output")
    with ctx.figure("The write and read weightings over the memory locations (rows) through "
                    "time (columns): while the input comes in, the write head moves one "
                    "location per step; after the delimiter the read head walks the same "
                    "locations.", size=(7.0, 4.2)) as fig:
        axes = fig.subplots(2, 1, sharex=True)
        for ax, key, title in ((axes[0], "write_weightings", "write weighting"),
                               (axes[1], "read_weightings", "read weighting")):
            ax.imshow(trace[key][0, :, 0].T, cmap="magma", aspect="auto",
                      interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_ylabel("location")
        axes[1].set_xlabel("time step")
    moved = write_moves(trace, long_len)
    ctx.claim("The learned write weighting moves one location per step through the input",
              moved >= 0.9, f"its peak moved by exactly one location on {moved:.0%} of the "
                            "input steps")
