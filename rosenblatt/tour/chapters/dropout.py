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

    _sub_networks(ctx, rng)


def _thinned_probs(net, x, rate, rng, masks):
    """Class probabilities of ``masks`` sub-networks of ``net``: each drops every hidden
    unit with probability ``rate`` (the kept ones scaled by 1 / (1 - rate)), shape
    (masks, len(x), classes). ``net``'s own Dropout layers are skipped (evaluation mode)."""
    out = []
    with rb.no_grad():
        for _ in range(masks):
            h = rb.tensor(x)
            for layer in net:
                if isinstance(layer, rb.nn.Dropout):
                    continue
                h = layer(h)
                if isinstance(layer, rb.nn.ReLU):
                    keep = rng.random(h.shape[1]) >= rate
                    h = h * rb.tensor((keep / (1 - rate)).astype(h.data.dtype))
            out.append(rb.nn.functional.softmax(h).data)
    return np.array(out)


def _sub_networks(ctx, rng, rate=0.5, masks=50):
    """Dropout trains many sub-networks at once, and its units learn to work without the
    others (notes: "Dropout": "training multiple neural networks simultaneously ... their
    average should provide better results"; "more robust features").

    ``rate``: the dropout rate of the network trained with dropout; ``masks``: how many
    sub-networks are averaged (the tests pass ``rate=0`` and ``masks=1`` to check that the
    claims then fail).
    """
    X, y = rb.datasets.load_digits()
    X, xt, y, yt = rb.datasets.train_test_split(X.astype(np.float32), y, test_size=0.5,
                                                rng=rng)
    X, y, xt, yt = X[:600], y[:600], xt[:400], yt[:400]
    epochs = 20 if ctx.quick else 40
    seed, mask_seed = (int(k) for k in rng.integers(2**31, size=2))
    rows, full, sub, agree, average = [], {}, {}, {}, {}
    for name, r_train in (("no dropout", 0.0), (f"dropout {rate:g}", rate)):
        r = np.random.default_rng(seed)
        layers = [rb.nn.Dense(64, 128, init="he", rng=r), rb.nn.ReLU()]
        if r_train:
            layers.append(rb.nn.Dropout(r_train, rng=r))
        net = rb.nn.Sequential(*layers, rb.nn.Dense(128, 10, rng=r))
        rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(),
               lr=1e-3), epochs=epochs, batch_size=32, metrics=(), progress=False,
               rng=np.random.default_rng(seed))
        with rb.no_grad():
            probs = rb.nn.functional.softmax(net.eval()(rb.tensor(xt))).data
        # the same masks for both networks
        thinned = _thinned_probs(net, xt, 0.5, np.random.default_rng(mask_seed), masks)
        full[name] = float(np.mean(probs.argmax(axis=1) == yt))
        sub[name] = float(np.mean(thinned.argmax(axis=2) == yt))  # over masks and digits
        voted = thinned.mean(axis=0).argmax(axis=1)
        average[name] = float(np.mean(voted == yt))
        agree[name] = float(np.mean(voted == probs.argmax(axis=1)))
        rows.append([name, full[name], sub[name], average[name], agree[name]])
    ctx.text(
        f"Dropout as many networks: two 64-128-10 ReLU networks on 600 digits (Adam, {epochs} "
        f"epochs), without dropout and with dropout {rate:g} on the hidden layer; then each is "
        f"thinned {masks} times at test time, every hidden unit dropped with probability 0.5 "
        f"(the kept ones doubled), on {len(xt)} held-out digits.")
    ctx.table(["network", "test accuracy (all units)", "mean test accuracy of a sub-network",
               f"test accuracy of the average of {masks} sub-networks",
               "full network agrees with that average"], rows)
    plain, drop = rows[0][0], rows[1][0]
    lost = {k: full[k] - sub[k] for k in full}
    ctx.claim("Dropout's units learn to work in the absence of others: with half the hidden "
              "units removed at test time the dropout network loses far less accuracy than "
              "the same network trained without dropout", lost[drop] < 0.6 * lost[plain],
              f"test accuracy lost with half the units removed: {lost[drop]:.1%} "
              f"(dropout), {lost[plain]:.1%} (no dropout)")
    ctx.claim("Dropout trains many sub-networks at once; their average does better than one "
              "of them, and the full network with scaled weights predicts like the average",
              average[drop] > sub[drop] + 0.02 and agree[drop] > 0.95,
              f"test accuracy: a sub-network {sub[drop]:.1%}, the average of {masks} "
              f"{average[drop]:.1%}, the full network {full[drop]:.1%} (it agrees with the "
              f"average on {agree[drop]:.1%} of the digits)")
    ctx.text(
        "The full network's agreement with its sub-networks' average is not special to "
        f"dropout training (the plain network's is {agree[plain]:.1%}): what dropout adds is "
        "sub-networks that are good on their own, the first claim.")
