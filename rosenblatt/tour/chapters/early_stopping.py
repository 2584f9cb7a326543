"""Tour: early stopping (notes: "Tweaking hyperparameters", against "Overfitting")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter


def _loss(net, x, y):
    return rb.training.evaluate(net, x, y, loss="cross_entropy")["loss"]


def _net(rng):
    return rb.nn.Sequential(rb.nn.Dense(2, 128, init="he", rng=rng), rb.nn.ReLU(),
                            rb.nn.Dense(128, 128, init="he", rng=rng), rb.nn.ReLU(),
                            rb.nn.Dense(128, 2, rng=rng))


@chapter("Early stopping", section="Tweaking hyperparameters")
def run(ctx):
    rng = ctx.rng
    ctx.text(
        "Early stopping watches the loss on a validation set while training and stops once it "
        "has not improved for a number of epochs (the patience), keeping the weights of the "
        "best epoch: training longer only fits the training set's noise. Here `rb.fit` with "
        "`rb.callbacks.EarlyStopping(monitor=\"val_loss\", patience=…, restore_best=True)` on a "
        "small, noisy two-spirals problem, next to the same run without the callback."
    )
    x, y = rb.datasets.spirals(80, noise=0.3, turns=1.0, rng=rng)
    xv, yv = rb.datasets.spirals(400, noise=0.3, turns=1.0, rng=rng)
    xt, yt = rb.datasets.spirals(2000, noise=0.3, turns=1.0, rng=rng)
    epochs = 150 if ctx.quick else 400
    patience = 15
    seed = int(rng.integers(2**31))
    runs = {}
    for name, callbacks in [("no early stopping", []),
                            ("early stopping", [rb.callbacks.EarlyStopping(
                                monitor="val_loss", patience=patience, restore_best=True)])]:
        net = _net(np.random.default_rng(seed))
        history = rb.fit(net, x, y, loss="cross_entropy",
                         optimizer=rb.optim.Adam(net.parameters(), lr=3e-3), epochs=epochs,
                         batch_size=16, validation_data=(xv, yv), callbacks=callbacks,
                         progress=False, rng=np.random.default_rng(seed))
        runs[name] = (net, history, callbacks[0] if callbacks else None)
    full_net, full_hist, _ = runs["no early stopping"]
    es_net, es_hist, es = runs["early stopping"]
    ran = len(es_hist["val_loss"])
    best_epoch = int(np.argmin(full_hist["val_loss"][:ran]))
    with ctx.figure("Training and validation loss per epoch (run without early stopping). "
                    "The validation loss turns up while the training loss keeps falling; "
                    "early stopping stops after `patience` epochs without improvement and "
                    "restores the best epoch's weights.", size=(7, 3.4)) as fig:
        ax = fig.add_subplot()
        ep = np.arange(1, len(full_hist["loss"]) + 1)
        ax.semilogy(ep, full_hist["loss"], label="training loss")
        ax.semilogy(ep, full_hist["val_loss"], label="validation loss")
        ax.axvline(es.best_epoch + 1, color="C2", ls="--", label="best epoch (restored)")
        ax.axvline(ran, color="C3", ls=":", label="early stopping stopped")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    rows = [[name, len(h["loss"]), _loss(net, x, y), _loss(net, xv, yv), _loss(net, xt, yt)]
            for name, (net, h, _) in runs.items()]
    ctx.table(["run", "epochs trained", "training loss", "validation loss", "test loss"], rows)
    val_restored = _loss(es_net, xv, yv)
    ctx.claim("Training stops once the validation loss has not improved for `patience` "
              "epochs", ran < epochs and ran == es.best_epoch + 1 + patience,
              f"stopped after {ran} of {epochs} epochs; best validation loss at epoch "
              f"{es.best_epoch + 1}; {es_hist.stop_reason}")
    ctx.claim("The weights of the best epoch are restored",
              abs(val_restored - min(es_hist["val_loss"])) < 1e-4 * max(1.0, val_restored),
              f"validation loss of the returned model {val_restored:.4f}; best in the history "
              f"{min(es_hist['val_loss']):.4f} (epoch {best_epoch + 1} in the reference run)")
    ctx.claim("Stopping early avoids the overfitting of longer training: lower loss on unseen "
              "data", rows[1][4] < rows[0][4],
              f"test loss {rows[1][4]:.3f} with early stopping vs {rows[0][4]:.3f} after all "
              f"{epochs} epochs (training loss {rows[1][2]:.3f} vs {rows[0][2]:.3f})")

    _plateau(ctx, rng)


def _plateau(ctx, rng):
    """A deep tanh network started from small weights sits on a plateau (the linear
    solution) before it improves again: a short patience stops it there."""
    x, y = rb.datasets.moons(200, noise=0.1, rng=rng)
    xv, yv = rb.datasets.moons(200, noise=0.1, rng=rng)
    seed = int(rng.integers(2**31))
    epochs, min_delta = 600, 0.01

    def small(shape, **kw):  # N(0, 0.1²): the signal barely passes three tanh layers
        return rb.nn.init.normal(shape, std=0.1, rng=kw.get("rng"),
                                 dtype=kw.get("dtype", np.float32))

    ctx.text(
        "Early stopping can hurt: a 2-32-32-32-2 tanh network started from small weights "
        f"(N(0, 0.1²)) on 200 points of two moons (full-batch SGD, lr 0.3, momentum 0.9, up "
        f"to {epochs} epochs) first learns the linear solution, stays on that plateau for a "
        f"hundred epochs or more, then improves again. Early stopping with min_delta "
        f"{min_delta} (an improvement smaller than that does not count) and a short or a "
        "conservative patience:")
    rows, curves = [], {}
    for patience in (20, 300):
        r = np.random.default_rng(seed)
        net = rb.nn.Sequential(*[m for n_in in (2, 32, 32) for m in
                                 (rb.nn.Dense(n_in, 32, init=small, rng=r), rb.nn.Tanh())],
                               rb.nn.Dense(32, 2, init=small, rng=r))
        stop = rb.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                          min_delta=min_delta, restore_best=True)
        history = rb.fit(net, x, y, loss="cross_entropy",
                         optimizer=rb.optim.SGD(net.parameters(), lr=0.3, momentum=0.9),
                         epochs=epochs, batch_size=len(x), validation_data=(xv, yv),
                         callbacks=[stop], progress=False, rng=r)
        curves[patience] = history["val_loss"]
        evaluated = rb.training.evaluate(net, xv, yv, loss="cross_entropy")
        rows.append([patience, len(history["val_loss"]), evaluated["loss"],
                     evaluated["accuracy"]])
    with ctx.figure("Validation loss per epoch with a short and a conservative patience: the "
                    "plateau, then the drop.", size=(6, 2.8)) as fig:
        ax = fig.add_subplot()
        for patience, curve in curves.items():
            ax.semilogy(range(1, len(curve) + 1), curve, label=f"patience {patience}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation cross-entropy")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    ctx.table(["patience", "epochs trained", "validation loss (restored)",
               "validation accuracy"], rows)
    short, long = rows
    ctx.claim("Networks sometimes plateau and then keep improving: there early stopping with "
              "a small patience stops too soon, and a higher patience (more conservative) "
              "plays it safe",
              short[2] > 0.15 and long[2] < 0.5 * short[2] and long[3] > short[3] + 0.05,
              f"patience 20 stopped after {short[1]} epochs at validation loss {short[2]:.3f} "
              f"(accuracy {short[3]:.1%}); patience 300 trained {long[1]} epochs: "
              f"{long[2]:.3f} ({long[3]:.1%})")
