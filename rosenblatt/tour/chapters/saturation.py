"""Tour: saturation, MSE vs cross-entropy with a sigmoid output and MSE vs log-likelihood
with a softmax output (notes: "Cost functions", "Softmax", "Log-likelihood cost function")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


def _train_neuron(loss_name, w0, b0, epochs, lr):
    """One sigmoid neuron, input 1, target 0, trained by ``rb.fit`` (plain gradient descent).

    Returns the output before each step, the cost, and the first ∂C/∂w.
    """
    neuron = rb.nn.Sequential(rb.nn.Dense(1, 1), rb.nn.Sigmoid()).astype(np.float64)
    dense = neuron[0]
    dense.W.data[...] = w0
    dense.b.data[...] = b0
    outs, grads = [], []

    def cost(a, y):
        outs.append(float(a.data[0, 0]))
        if loss_name == "mse":
            return rb.losses.mse(a, y, half=True)
        return rb.losses.binary_cross_entropy(a, y)

    first_grad = rb.callbacks.LambdaCallback(
        on_backward=lambda trainer: grads.append(float(dense.W.grad.ravel()[0])))
    history = rb.fit(neuron, np.array([[1.0]]), np.array([[0.0]]), loss=cost,
                     optimizer=rb.optim.SGD(neuron.parameters(), lr=lr), epochs=epochs,
                     batch_size=1, metrics=(), callbacks=[first_grad], progress=False)
    return np.array(outs), np.array(history["loss"]), grads[0]


def _train_softmax(loss_name, bias, epochs, lr):
    """A softmax layer, input 1, target class 0, trained by ``rb.fit`` (plain gradient descent).

    ``bias`` sets the initial logits (the weights start at 0). Returns the probabilities
    before each step, shape (epochs, classes), and the first ∂C/∂(logit of class 0).
    """
    layer = rb.nn.Dense(1, len(bias), dtype=np.float64)
    layer.W.data[...] = 0.0
    layer.b.data[...] = bias
    target = np.zeros((1, len(bias)))
    target[0, 0] = 1.0
    probs, grads = [], []

    def cost(z, labels):
        p = rb.nn.functional.softmax(z)
        probs.append(p.data[0].copy())
        if loss_name == "mse":
            return rb.losses.mse(p, target, half=True, reduction="sum")
        return rb.losses.cross_entropy(z, labels)

    first_grad = rb.callbacks.LambdaCallback(
        on_backward=lambda trainer: grads.append(float(layer.b.grad.ravel()[0])))
    rb.fit(layer, np.array([[1.0]]), np.array([0]), loss=cost,
           optimizer=rb.optim.SGD(layer.parameters(), lr=lr), epochs=epochs, batch_size=1,
           metrics=(), callbacks=[first_grad], progress=False)
    return np.array(probs), grads[0]


def _softmax_saturation(ctx, wrong=(-5.0, 4.0)):
    """Softmax + log-likelihood does not saturate; softmax + quadratic cost does (notes:
    "Softmax", "Log-likelihood cost function").

    ``wrong``: the initial logits of the true class and of one wrong class (the others 0);
    the tests pass a mild start, (0, 1), to check that the claims then fail.
    """
    classes, epochs, lr = 10, 300, 0.5
    bias = np.zeros(classes)
    bias[0], bias[1] = wrong
    runs = {name: _train_softmax(name, bias, epochs, lr) for name in ("mse", "log-likelihood")}

    def first_win(probs):
        wins = np.nonzero(probs.argmax(axis=1) == 0)[0]
        return int(wins[0]) + 1 if wins.size else None

    p0 = runs["mse"][0][0, 0]
    ctx.text(
        f"The same with a softmax output over {classes} classes: one example whose true class "
        f"starts at probability {p0:.1e} while a wrong class has {runs['mse'][0][0, 1]:.2f}. "
        "The quadratic cost on the probabilities, ½ Σ (pⱼ − yⱼ)², has the gradient "
        "Σⱼ (pⱼ − yⱼ) ∂pⱼ/∂z, and ∂pⱼ/∂z carries the factor p(1 − p) of a saturated unit; the "
        "log-likelihood −ln p_y has the gradient p − y, which is about −1 for the true class "
        f"exactly when it is most wrong. Plain gradient descent, lr {lr}:")
    rows = []
    for name, (probs, g) in runs.items():
        won = first_win(probs)
        rows.append([name, g, float(probs[-1, 0]), won if won else f"> {epochs}"])
    ctx.table(["cost", "initial ∂C/∂z (true class)", f"p(true class) after {epochs} epochs",
               "epochs until the true class wins"], rows)
    g_mse, g_ll = runs["mse"][1], runs["log-likelihood"][1]
    ctx.claim("With a softmax output and target 1, the log-likelihood cost has a very big "
              "gradient when the output is ≈ 0; the quadratic cost's is tiny",
              g_ll < -0.9 and abs(g_ll) > 100 * abs(g_mse),
              f"at p = {p0:.1e}: ∂C/∂z = {g_ll:.3f} (log-likelihood) vs {g_mse:.2e} "
              f"(quadratic), {abs(g_ll / g_mse):.0f}× larger")
    t_mse, t_ll = first_win(runs["mse"][0]), first_win(runs["log-likelihood"][0])
    ctx.claim("Softmax with the log-likelihood cost avoids the learning slowdown that saturation "
              "causes with the quadratic cost",
              t_ll is not None and (t_mse is None or t_mse > 20 * t_ll),
              f"the true class wins after {t_ll} epochs with log-likelihood and "
              f"{t_mse if t_mse else f'more than {epochs}'} with the quadratic cost")


@chapter("Saturation: MSE vs cross-entropy with a sigmoid or softmax output",
         section="Cost (loss/objective/error) functions")
def run(ctx):
    ctx.text(
        "With the quadratic cost (y − a)²/2 and a sigmoid output a = σ(z), the gradient "
        "(a − y) σ'(z) x carries the factor σ'(z), almost 0 when the unit is saturated, so "
        "learning is slow exactly when the output is most wrong. With the cross-entropy "
        "−[y ln a + (1 − y) ln(1 − a)] the σ'(z) cancels: the gradient is (a − y) x. "
        "One sigmoid neuron, input 1, target 0, learning rate 0.15, started badly "
        "saturated (w = b = 2, output 0.98) and started moderately (w = 0.6, b = 0.9):"
    )
    epochs = 300
    lr = 0.15
    runs = {}
    for start, (w0, b0) in {"saturated start": (2.0, 2.0), "moderate start": (0.6, 0.9)}.items():
        for loss in ("mse", "cross-entropy"):
            runs[(start, loss)] = _train_neuron(loss, w0, b0, epochs, lr)

    def first_below(outs, level=0.1):
        hits = np.nonzero(outs < level)[0]
        return int(hits[0]) + 1 if hits.size else None

    rows = []
    for (start, loss), (outs, _costs, g) in runs.items():
        reached = first_below(outs)
        rows.append([start, loss, g, outs[-1], reached if reached else f"> {epochs}"])
    ctx.table(["start", "cost", "initial ∂C/∂w", f"output after {epochs} epochs",
               "epochs until output < 0.1"], rows)
    with ctx.figure("Output of the neuron while it learns to output 0. From the saturated "
                    "start, the quadratic cost (MSE) hardly moves for many epochs; "
                    "cross-entropy learns fastest when it is most wrong.",
                    size=(9, 3.2)) as fig:
        axes = fig.subplots(1, 2, sharey=True)
        for ax, start in zip(axes, ["saturated start", "moderate start"]):
            for loss, style in [("mse", "C3"), ("cross-entropy", "C0")]:
                ax.plot(range(1, epochs + 1), runs[(start, loss)][0], style,
                        label="quadratic (MSE)" if loss == "mse" else loss)
            ax.set_title(start, fontsize=9)
            ax.set_xlabel("epoch")
            ax.grid(True, alpha=0.3)
        axes[0].set_ylabel("output a")
        axes[0].legend()
    sat_mse, sat_ce = runs[("saturated start", "mse")], runs[("saturated start", "cross-entropy")]
    a0 = sat_mse[0][0]
    ratio = sat_ce[2] / sat_mse[2]
    ctx.claim("With a sigmoid output, the quadratic cost's gradient is scaled by σ'(NET), "
              "tiny when the unit saturates; cross-entropy's is not",
              abs(ratio - 1 / (a0 * (1 - a0))) < 1e-6 * ratio and ratio > 20,
              f"at output {a0:.3f}: ∂C/∂w is {sat_mse[2]:.4f} (MSE) vs {sat_ce[2]:.4f} "
              f"(cross-entropy), a ratio of 1/σ'(z) = {ratio:.1f}")
    t_mse, t_ce = first_below(sat_mse[0]), first_below(sat_ce[0])
    ctx.claim("Saturation makes learning slow with the quadratic cost; cross-entropy avoids "
              "the slowdown", t_ce is not None and (t_mse is None or t_mse > 3 * t_ce),
              f"from the saturated start the output falls below 0.1 after {t_ce} epochs with "
              f"cross-entropy and {t_mse if t_mse else f'more than {epochs}'} with MSE")
    _softmax_saturation(ctx)
