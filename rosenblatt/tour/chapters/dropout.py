"""Tour: dropout (notes: "Dropout", "Overfitting")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

from ..diagrams import draw_network
from ._plots import plot_boundary, softmax_p1


@chapter("Dropout", section="Dropout")
def run(ctx):
    rng = ctx.rng
    ctx.text(
        "In training, dropout keeps each unit with probability p and zeroes it otherwise; at "
        "test time every unit is on. Classic dropout scales the activations by p at test "
        "time; inverted dropout scales the kept units by 1/p at training time. Either way a "
        "unit's expected output is the same in training and at test."
    )
    h = rb.tensor(rng.uniform(0.5, 2.0, (1, 50)).astype(np.float64))
    draws = 4000 if ctx.quick else 20000
    rows = []
    for inverted in (True, False):
        layer = rb.nn.Dropout(0.5, inverted=inverted, rng=rng)
        layer.train()
        batch = rb.tensor(np.repeat(h.data, draws, axis=0))
        mean_train = layer(batch).data.mean(axis=0)
        test = layer.eval()(h).data[0]
        rel = float(np.max(np.abs(mean_train - test) / test))
        zeros = float(np.mean(layer.train()(batch).data == 0))
        rows.append(["inverted" if inverted else "classic", zeros, rel])
    ctx.table(["dropout (p = 0.5)", "fraction of units dropped in training",
               f"max relative |E[train output] − test output| ({draws} masks)"], rows)
    ctx.claim("Dropout keeps each unit's expected output the same in training and at test "
              "(classic: scale by p at test; inverted: scale by 1/p in training)",
              all(r[2] < 0.1 and abs(r[1] - 0.5) < 0.02 for r in rows),
              "; ".join(f"{r[0]}: {r[1]:.1%} dropped, expectation within {r[2]:.1%}"
                        for r in rows))

    # -- train/test gap on a small training set --------------------------------------------
    n = 25
    x, y = rb.datasets.spirals(2 * n, noise=0.3, turns=1.0, rng=rng)
    xt, yt = rb.datasets.spirals(2000, noise=0.3, turns=1.0, rng=rng)
    steps = 500 if ctx.quick else 1500
    ctx.text(
        f"Overfitting on purpose: a large network (2-256-256-2, ReLU) on {2 * n} very noisy "
        f"points of two spirals ({len(xt)} held out), full-batch Adam for {steps} steps, "
        "with and without dropout (rate 0.5 after each hidden layer)."
    )
    seed = int(rng.integers(2**31))
    models, final = {}, {}
    for name, rate in [("no dropout", 0.0), ("dropout 0.5", 0.5)]:
        r = np.random.default_rng(seed)
        layers = [rb.nn.Dense(2, 256, init="he", rng=r), rb.nn.ReLU()]
        if rate:
            layers.append(rb.nn.Dropout(rate, rng=r))
        layers += [rb.nn.Dense(256, 256, init="he", rng=r), rb.nn.ReLU()]
        if rate:
            layers.append(rb.nn.Dropout(rate, rng=r))
        layers.append(rb.nn.Dense(256, 2, rng=r))
        net = rb.nn.Sequential(*layers)
        opt = rb.optim.Adam(net.parameters(), lr=3e-3)
        rb.fit(net, x, y, loss="cross_entropy", optimizer=opt, epochs=steps, batch_size=len(x),
               metrics=(), progress=False, rng=np.random.default_rng(seed))
        models[name] = net
        tr, te = (rb.training.evaluate(net, a, b, loss="cross_entropy") for a, b in
                  ((x, y), (xt, yt)))
        final[name] = (tr["accuracy"], te["accuracy"], tr["loss"], te["loss"],
                       te["loss"] - tr["loss"])
    ctx.table(["network", "train accuracy", "test accuracy", "train loss", "test loss",
               "loss gap"], [[k, *v] for k, v in final.items()])
    with ctx.figure("Decision regions without and with dropout (training points shown). "
                    "Without dropout the network carves islands around single noisy points.",
                    size=(7, 3.2)) as fig:
        axes = fig.subplots(1, 2)
        for ax, (name, net) in zip(axes, models.items()):
            plot_boundary(ax, softmax_p1(net), x, y,
                          title=f"{name}: train {final[name][0]:.0%}, test {final[name][1]:.0%}")
    net = models["dropout 0.5"]
    masks = [None]
    for layer in net:  # one training iteration's masks, drawn from the layers themselves
        if isinstance(layer, rb.nn.Dropout):
            layer.train()
            masks.append(layer(rb.tensor(np.ones((1, 256)))).data[0] == 0)
    masks.append(None)
    with ctx.figure("The trained dropout network in one training iteration: each hidden layer's "
                    "dropped units (crossed out, with their connections) are the mask its "
                    "Dropout layer draws (10 of 256 units per layer shown).", size=(5, 3.4),
                    notes="A network after dropout is applied to each layer in a training "
                          "iteration") as fig:
        draw_network(fig.add_subplot(), net, dropped=masks, limit=10)
    plain, drop = final["no dropout"], final["dropout 0.5"]
    ctx.claim("Dropout counteracts overfitting: the gap between training and test loss "
              "shrinks", drop[4] < 0.7 * plain[4],
              f"test − train cross-entropy {plain[4]:.2f} without dropout, {drop[4]:.2f} with; "
              f"test accuracy {plain[1]:.1%} → {drop[1]:.1%}")
