"""Tour: the perceptron and XOR (notes: "Perceptrons", "XOR")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

from ._plots import plot_boundary, softmax_p1


@chapter("The perceptron and XOR", section="Perceptrons")
def run(ctx):
    ctx.text(
        "Rosenblatt's perceptron outputs 1 when w·x + b > 0 and learns with his rule "
        "w ← w + η (y − ŷ) x. It separates classes with a line, so it learns AND and OR; "
        "XOR puts (0, 1), (1, 0) on one side and (0, 0), (1, 1) on the other, and no line "
        "does that. A hidden layer does."
    )
    x, _ = rb.datasets.xor()
    tasks = {name: rb.datasets.logic(name.lower())[1] for name in ("AND", "OR", "XOR")}
    epochs = 100
    rows, perceptrons = [], {}
    for name, y in tasks.items():
        p = rb.models.Perceptron(2, output="binary")
        errors = p.fit(x, y, epochs=epochs)
        perceptrons[name] = p
        acc = float(np.mean(p.predict(x) == y))
        rows.append([name, len(errors), errors[-1], acc])
    ctx.table(["task", "epochs run", "mistakes in last epoch", "accuracy"], rows)
    ctx.claim("A single perceptron learns the linearly separable AND and OR",
              rows[0][2] == 0 and rows[1][2] == 0,
              f"AND converged in {rows[0][1]} epochs, OR in {rows[1][1]} epochs")
    ctx.claim("A single-layer perceptron can't learn XOR",
              rows[2][2] > 0 and rows[2][3] <= 0.75,
              f"after {rows[2][1]} epochs it still makes {rows[2][2]} mistakes per epoch; "
              f"accuracy {rows[2][3]:.0%} (at most 3 of 4 points for any line)")

    # A network with one hidden layer learns XOR.
    rng = ctx.rng
    y = tasks["XOR"]
    net = rb.nn.Sequential(rb.nn.Dense(2, 4, rng=rng), rb.nn.Tanh(), rb.nn.Dense(4, 2, rng=rng))
    net.astype(np.float64)
    opt = rb.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    rb.fit(net, x, y, loss="cross_entropy", optimizer=opt, epochs=300, batch_size=4,
           metrics=(), progress=False, rng=rng)
    final = rb.training.evaluate(net, x, y, loss="cross_entropy")
    ctx.claim("A network with one hidden layer (2-4-2, tanh) learns XOR",
              final["accuracy"] == 1.0, f"accuracy {final['accuracy']:.0%} after 300 full-batch "
              f"steps of rb.fit, loss {final['loss']:.4f}")

    with ctx.figure("Decision regions: the perceptron on AND, OR and XOR (a straight line "
                    "each time), and a 2-4-2 network on XOR (a curved region).",
                    size=(10, 2.8), notes="XOR") as fig:
        axes = fig.subplots(1, 4)
        for ax, name in zip(axes, tasks):
            p = perceptrons[name]
            plot_boundary(ax, lambda pts, p=p: p.predict(pts).astype(float), x, tasks[name],
                          title=f"perceptron: {name}")
        plot_boundary(axes[3], softmax_p1(net), x, y, title="2-4-2 network: XOR")
