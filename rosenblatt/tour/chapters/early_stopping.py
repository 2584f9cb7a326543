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
