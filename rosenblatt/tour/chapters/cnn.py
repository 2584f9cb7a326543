"""Tour: convolutional networks (notes: "Convolutional Neural Networks (CNNs)")."""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter

F = rb.nn.functional


@chapter("Convolutional networks", section="Convolutional Neural Networks (CNNs)")
def run(ctx):
    ctx.text(
        "A convolutional layer connects each hidden neuron to a *local receptive field* and "
        "shares one kernel (weights and a bias) across every position, so it detects the same "
        "feature anywhere in the image. `rb.nn.Conv2d` is one graph node: the windows are "
        "copied into a column matrix (im2col) and multiplied by the kernels in a single matrix "
        "product; backward is two more products and a scatter back onto the image."
    )
    _border_modes(ctx)
    _fixed_kernels(ctx)
    _shared_weights(ctx)
    _pooling(ctx)
    _lenet(ctx)
    _sharing(ctx)


def _border_modes(ctx):
    rows, ok = [], True
    for n, f in [(28, 5), (8, 3), (10, 4)]:
        x = np.zeros((1, 1, n, n), dtype=np.float32)
        w = np.zeros((1, 1, f, f), dtype=np.float32)
        sizes = {m: F.conv2d(x, w, padding=m).shape[2] for m in ("valid", "same", "full")}
        ok &= sizes["valid"] == n - f + 1 and sizes["full"] == n + f - 1
        ok &= sizes["same"] == (n if f % 2 else n + 1)
        rows.append([n, f, sizes["valid"], n - f + 1, sizes["same"], sizes["full"], n + f - 1])
    ctx.text(
        "Border modes. *Narrow* (\"valid\") convolution stops at the edges; *wide* convolution "
        "pads with zeros: \"half\"/\"same\" a border of f // 2, \"full\" a border of f - 1 "
        "(every position where the filter overlaps a pixel). For an even f the notes' "
        "symmetric f // 2 border gives one more row than the input."
    )
    ctx.table(["n", "f", "valid", "n - f + 1", "same / half", "full", "n + f - 1"], rows,
              caption="Feature-map sizes of rb.nn.functional.conv2d, stride 1")
    ctx.claim("Narrow convolution yields n - f + 1, full yields n + f - 1, same yields n for "
              "odd f", ok, "; ".join(f"n={r[0]}, f={r[1]}: {r[2]}/{r[4]}/{r[5]}" for r in rows))


def _an_image(ctx):
    """One real digit when scikit-learn is there (8x8, upsampled), else a drawn square."""
    try:
        X, y = rb.datasets.load_digits()
        img = X[int(np.flatnonzero(y == 3)[0])].reshape(8, 8)
        return np.kron(img, np.ones((4, 4), dtype=np.float32)), "a digit 3 (8x8, upsampled x4)"
    except ImportError:
        img = np.zeros((32, 32), dtype=np.float32)
        img[8:24, 8:24] = 1.0
        return img, "a square"


def _fixed_kernels(ctx):
    kernel = -np.ones((3, 3), dtype=np.float32)
    kernel[1, 1] = 10
    patch = np.zeros((3, 3), dtype=np.float32)
    patch[1, 1] = 255
    value = float(F.conv2d(patch, kernel).data[0, 0])
    ctx.claim("The notes' kernel [-1 ... 10 ... -1] on a single 255 pixel gives 10 x 255",
              value == 2550.0, f"conv2d(patch, kernel) = {value:g}")
    image, what = _an_image(ctx)
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    kernels = {"the notes' kernel": kernel, "vertical edges (Sobel)": sobel,
               "horizontal edges (Sobel)": sobel.T}
    maps = {name: F.conv2d(image, k, padding="same").data for name, k in kernels.items()}
    with ctx.figure(f"Fixed, hand-made kernels applied to {what} with "
                    "rb.nn.functional.conv2d(image, kernel, padding='same').",
                    size=(8, 2.3), notes="Convolution kernel example") as fig:
        axes = fig.subplots(1, 4)
        axes[0].imshow(image, cmap="gray")
        axes[0].set_title("input", fontsize=9)
        for ax, (name, fmap) in zip(axes[1:], maps.items()):
            m = float(np.abs(fmap).max()) or 1.0
            ax.imshow(fmap, cmap="RdBu_r", vmin=-m, vmax=m)  # white = 0
            ax.set_title(name, fontsize=9)
        for ax in axes:
            ax.set_axis_off()


def _shared_weights(ctx):
    rng = ctx.rng
    x = np.zeros((1, 1, 16, 16), dtype=np.float32)
    x[0, 0, 3:6, 2:5] = rng.uniform(0.5, 1.0, (3, 3))
    shifted = np.roll(x, (6, 7), axis=(2, 3))
    conv = rb.nn.Conv2d(1, 4, 3, rng=rng)
    with rb.no_grad():
        a, b = conv(rb.tensor(x)).data, conv(rb.tensor(shifted)).data
    err = float(np.abs(np.roll(a, (6, 7), axis=(2, 3)) - b).max())
    ctx.claim("Shared weights detect the same feature anywhere: shifting the input shifts the "
              "feature map", err < 1e-5,
              f"max |shift(conv(x)) - conv(shift(x))| = {err:.1e} for a 6x7-pixel shift")


def _pooling(ctx):
    x = np.array([[1, 3, 0, 0], [2, 4, 0, 1], [-1, 0, 5, 2], [0, 0, 2, -3]], dtype=np.float64)
    x4 = x[None, None]
    rows = [
        ["max", F.max_pool2d(x4, 2).data[0, 0].tolist()],
        ["average", F.avg_pool2d(x4, 2).data[0, 0].tolist()],
        ["L2 (sqrt of sum of squares)", np.round(F.l2_pool2d(x4, 2).data[0, 0], 3).tolist()],
        ["2-max along rows (original order)", F.kmax_pool(x, 2).data.tolist()],
    ]
    ctx.text(f"Pooling condenses each 2x2 region of the feature map {x.astype(int).tolist()}:")
    ctx.table(["pooling", "output"], rows)


def _lenet_model(kind, rng):
    nn = rb.nn
    if kind == "digits":  # 8x8 inputs
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dense(128, 64, rng=rng), nn.ReLU(), nn.Dense(64, 10, rng=rng),
        )
    return nn.Sequential(  # LeNet-5 on 28x28
        nn.Conv2d(1, 6, 5, padding="same", rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dense(400, 120, rng=rng), nn.ReLU(),
        nn.Dense(120, 84, rng=rng), nn.ReLU(), nn.Dense(84, 10, rng=rng),
    )


def _load(kind):
    if kind == "digits":
        X, y = rb.datasets.load_digits()
        return X.reshape(-1, 1, 8, 8), y, "scikit-learn's 8x8 digits"
    X, y = rb.datasets.load_mnist_sample()
    return X.reshape(-1, 1, 28, 28), y, "the 5,000-image MNIST sample"


def _train(model, X, y, Xt, yt, epochs, lr, rng):
    """Adam through ``rb.fit``, the rate divided by 10 for the last 3 epochs.

    Returns (training loss, held-out accuracy) per epoch.
    """
    schedule = rb.callbacks.LearningRateScheduler(
        lambda epoch: lr if epoch < epochs - 3 else lr / 10)
    history = rb.fit(model, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(
        model.parameters(), lr=lr), epochs=epochs, batch_size=32, validation_data=(Xt, yt),
        callbacks=[schedule], rng=rng, progress=False)
    return list(zip(history["loss"], history["val_accuracy"]))


def _lenet(ctx):
    kinds = ["digits"] if ctx.quick else ["digits", "mnist"]
    settings = {"digits": (6 if ctx.quick else 15, 3e-3, 0.975),
                "mnist": (8, 2e-3, 0.95)}
    trained = {}
    for kind in kinds:
        try:
            X, y, name = _load(kind)
        except ImportError as err:
            ctx.text(f"(skipped {kind}: {err})")
            continue
        rng = np.random.default_rng(int(ctx.rng.integers(2**31)))
        X, Xt, y, yt = rb.datasets.train_test_split(X, y, test_size=0.2, rng=rng)
        epochs, lr, target = settings[kind]
        model = _lenet_model(kind, rng)
        curve = _train(model, X, y, Xt, yt, epochs, lr, rng)
        trained[kind] = (model, Xt[0], curve, name)
        acc = curve[-1][1]
        if ctx.quick:
            target = 0.9
        ctx.claim(f"A LeNet-style convolution-pooling network trained by backpropagation "
                  f"recognises {name} (>= {target:.1%} on a held-out 20%)", acc >= target,
                  f"test accuracy {acc:.2%} after {epochs} epochs of Adam, "
                  f"{model.num_parameters():,} parameters")
    if not trained:
        return
    with ctx.figure("Learning curves: mean training cross-entropy per epoch (left) and "
                    "held-out accuracy (right).", size=(7, 2.8)) as fig:
        left, right = fig.subplots(1, 2)
        for _, _, curve, name in trained.values():
            epochs = np.arange(1, len(curve) + 1)
            left.plot(epochs, [c[0] for c in curve], marker="o", label=name)
            right.plot(epochs, [c[1] for c in curve], marker="o", label=name)
        left.set_yscale("log")
        left.set_xlabel("epoch")
        right.set_xlabel("epoch")
        left.set_ylabel("training loss")
        right.set_ylabel("test accuracy")
        right.legend(fontsize=7)
    kind = "mnist" if "mnist" in trained else "digits"
    model, image, _, name = trained[kind]
    conv = model[0]
    with rb.no_grad():
        maps = model[1](conv(rb.tensor(image[None]))).data[0]
    n = min(conv.out_channels, 8)
    kh, kw = conv.kernel_size
    with ctx.figure(f"The first layer's learned {kh}x{kw} kernels (top) and their feature maps "
                    f"after ReLU (bottom) on a held-out image from {name}.",
                    size=(1.1 * (n + 1), 2.4)) as fig:
        axes = fig.subplots(2, n + 1)
        axes[0, 0].imshow(image[0], cmap="gray")
        axes[0, 0].set_title("input", fontsize=8)
        for i in range(n):
            m = float(np.abs(conv.W.data[i, 0]).max()) or 1.0
            axes[0, i + 1].imshow(conv.W.data[i, 0], cmap="RdBu_r", vmin=-m, vmax=m)
            axes[1, i + 1].imshow(maps[i], cmap="viridis")
        for ax in axes.ravel():
            ax.set_axis_off()


class _LocallyConnected(rb.nn.Module):
    """A 3x3 'valid' convolution's connections without its weight sharing: every output
    position has its own kernel (a Dense layer masked to the receptive fields)."""

    def __init__(self, size, channels, rng):
        out = size - 2
        mask = np.zeros((size * size, channels * out * out), dtype=np.float32)
        for i in range(out):
            for j in range(out):
                rows = [(i + di) * size + j + dj for di in range(3) for dj in range(3)]
                mask[np.ix_(rows, [c * out * out + i * out + j for c in range(channels)])] = 1
        self.shape = (channels, out, out)
        self.dense = rb.nn.Dense(size * size, channels * out * out, rng=rng)
        self.dense.W.data[...] = rng.normal(0, np.sqrt(2 / 9), mask.shape) * mask  # He, fan-in 9
        self.mask = rb.tensor(mask)

    def forward(self, x):
        x = x.reshape(len(x.data), -1)
        return (x @ (self.dense.W * self.mask) + self.dense.b).reshape(-1, *self.shape)


def _sharing(ctx):
    """Shared weights against overfitting: the same network with and without sharing."""
    rng = np.random.default_rng(int(ctx.rng.integers(2**31)))
    digits, y = rb.datasets.load_digits()
    size, channels, n = 12, 8, 300
    epochs = 40 if ctx.quick else 80
    X = np.zeros((len(digits), 1, size, size), dtype=np.float32)
    offsets = rng.integers(0, size - 8 + 1, (len(digits), 2))
    for k, (a, b) in enumerate(offsets):  # each digit somewhere on a 12x12 canvas
        X[k, 0, a:a + 8, b:b + 8] = digits[k].reshape(8, 8)
    order = rng.permutation(len(X))
    train, test = order[:n], order[n:]
    seed = int(rng.integers(2**31))
    rows = []
    for name in ("shared (convolution)", "not shared (locally connected)"):
        r = np.random.default_rng(seed)
        first = rb.nn.Conv2d(1, channels, 3, rng=r) if name.startswith("shared") else \
            _LocallyConnected(size, channels, r)
        net = rb.nn.Sequential(first, rb.nn.ReLU(), rb.nn.MaxPool2d(2), rb.nn.Flatten(),
                               rb.nn.Dense(channels * 25, 10, rng=r))
        rb.fit(net, X[train], y[train], loss="cross_entropy",
               optimizer=rb.optim.Adam(net.parameters(), lr=1e-2), epochs=epochs,
               batch_size=16, metrics=(), progress=False, rng=r)
        tr, te = (rb.training.evaluate(net, X[i], y[i], loss="cross_entropy")
                  for i in (train, test))
        weights = channels * 9 * (1 if name.startswith("shared") else 100)
        rows.append([name, weights, tr["accuracy"], te["accuracy"], tr["loss"], te["loss"]])
    ctx.text(
        f"Shared weights against overfitting: the 8x8 digits placed at random positions on a "
        f"{size}x{size} canvas, {n} for training and {len(test)} held out. Two networks with "
        f"the same connections: {channels} 3x3 feature maps, ReLU, 2x2 max pooling, a softmax "
        f"layer; in one the 3x3 kernels are shared across positions (a convolution), in the "
        f"other every position has its own (locally connected). Adam, {epochs} epochs. "
        "(With the digits centred, as scikit-learn gives them, the two generalise alike: "
        "there is no position-specific peculiarity to favour.)")
    ctx.table(["first layer", "its weights", "train accuracy", "test accuracy", "train loss",
               "test loss"], rows)
    shared, unshared = rows
    se = _se(shared[3], unshared[3], len(test))
    ctx.claim("Sharing weights makes a layer resilient to overfitting: it cannot favour "
              "peculiarities of particular parts of the training images, so with the same "
              "connections a convolution generalises better than unshared weights",
              shared[2] > 0.95 and unshared[2] > 0.95 and shared[3] > unshared[3] + 3 * se
              and shared[5] - shared[4] < unshared[5] - unshared[4],
              f"both fit the training set ({shared[2]:.0%}, {unshared[2]:.0%}); test accuracy "
              f"{shared[3]:.1%} shared vs {unshared[3]:.1%} not shared; test − train loss "
              f"{shared[5] - shared[4]:.2f} vs {unshared[5] - unshared[4]:.2f}")
    _structure(ctx, X, y, train, test, seed, epochs, shared[3])


def _se(a, b, n):
    """The standard error of the difference of two accuracies a and b on n test images."""
    return float(np.sqrt((a * (1 - a) + b * (1 - b)) / n))


def _fit_accuracy(net, X, y, train, test, epochs, rng):
    rb.fit(net, X[train], y[train], loss="cross_entropy",
           optimizer=rb.optim.Adam(net.parameters(), lr=1e-2), epochs=epochs,
           batch_size=16, metrics=(), progress=False, rng=rng)
    return rb.training.evaluate(net, X[test], y[test], loss="cross_entropy")["accuracy"]


def _structure(ctx, X, y, train, test, seed, epochs, cnn_accuracy):
    """A dense net and the convolution of :func:`_sharing` on the same canvas, with the pixels
    shuffled by one fixed permutation and without."""
    size, hidden = X.shape[-1], 64
    perm = np.random.default_rng(seed + 1).permutation(size * size)
    shuffled = X.reshape(len(X), -1)[:, perm].reshape(X.shape)
    r = np.random.default_rng(seed)
    cnn = rb.nn.Sequential(rb.nn.Conv2d(1, 8, 3, rng=r), rb.nn.ReLU(), rb.nn.MaxPool2d(2),
                           rb.nn.Flatten(), rb.nn.Dense(8 * 25, 10, rng=r))
    rows = [["convolutional", cnn.num_parameters(), cnn_accuracy,
             _fit_accuracy(cnn, shuffled, y, train, test, epochs, r)]]
    dense_accuracy = []
    for shuffle in (False, True):
        r = np.random.default_rng(seed)
        dense = rb.nn.Sequential(rb.nn.Flatten(), rb.nn.Dense(size * size, hidden, rng=r),
                                 rb.nn.ReLU(), rb.nn.Dense(hidden, 10, rng=r))
        if shuffle:  # the same initial weights, each following its pixel
            dense[1].W.data[...] = dense[1].W.data[perm]
        dense_accuracy.append(_fit_accuracy(dense, shuffled if shuffle else X, y, train, test,
                                            epochs, r))
    rows.append([f"dense ({hidden} hidden units)", dense.num_parameters(), *dense_accuracy])
    ctx.text(
        "Does the network see the image's structure? The same canvas, the convolutional net "
        f"above and a dense net with one hidden layer of {hidden} units (Adam, {epochs} "
        "epochs), trained once on the images and once with their pixels shuffled, by the same "
        "fixed permutation in every image (the dense net's initial weights permuted with "
        "them). A dense layer gives every pixel its own weights whatever its neighbours, so "
        "shuffling cannot change what it learns; a convolution reads 3x3 neighbourhoods, "
        "which the shuffle destroys.")
    ctx.table(["network", "weights", "test accuracy", "test accuracy, pixels shuffled"], rows)
    (_, _, cnn_plain, cnn_shuffled), (_, _, dense_plain, dense_shuffled) = rows
    n = len(test)
    ctx.claim("In a regular network a pixel's relation to its neighbour is the same as to a "
              "far-away pixel, so the image's structure is lost: shuffling the pixels leaves "
              "the dense net's accuracy unchanged, while the CNN, which uses it, loses accuracy",
              abs(dense_plain - dense_shuffled) <= 1 / n
              and cnn_plain - cnn_shuffled > 3 * _se(cnn_plain, cnn_shuffled, n),
              f"dense net {dense_plain:.1%} → {dense_shuffled:.1%} shuffled; CNN "
              f"{cnn_plain:.1%} → {cnn_shuffled:.1%} ({n} test images)")
    ctx.claim("CNNs are especially effective on images: with a fifth of the weights the "
              "convolutional net generalises better than the dense net",
              rows[0][1] * 4 < rows[1][1]
              and cnn_plain > dense_plain + 2 * _se(cnn_plain, dense_plain, n),
              f"test accuracy {cnn_plain:.1%} ({rows[0][1]:,} weights) vs {dense_plain:.1%} "
              f"({rows[1][1]:,} weights); two standard errors: "
              f"{2 * _se(cnn_plain, dense_plain, n):.1%}")
