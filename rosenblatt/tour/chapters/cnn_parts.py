"""Tour: the parts of a convolutional network, drawn from a trained one (notes: "Local
receptive fields", "Pooling layers").

The lost figures "A layer as a grid", "Local receptive fields map to a neuron in the hidden
layer", "Moving across fields at a stride length of 1", "Mapping from feature map to a pooling
layer" and "An example convolutional network", drawn from a small convolutional network
trained on the 8x8 digits through ``rb.fit``, with its live values.
"""

import numpy as np

import rosenblatt as rb
from rosenblatt.tour import chapter
from rosenblatt.tour.diagrams import draw_layers


def _grid(ax, values, cmap="Greys", highlight=(), colours=("C3", "C0"), title=""):
    """Neurons as a grid of squares coloured by value; ``highlight``: (row, col, size) boxes."""
    from matplotlib.patches import Rectangle

    ax.imshow(values, cmap=cmap)
    n, m = values.shape
    for r in range(n + 1):
        ax.axhline(r - 0.5, color="0.6", lw=0.4)
    for c in range(m + 1):
        ax.axvline(c - 0.5, color="0.6", lw=0.4)
    for (r, c, size), colour in zip(highlight, colours):
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), size, size, fill=False, edgecolor=colour,
                               lw=2.2))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _trained_net(ctx):
    X, y = rb.datasets.load_digits()
    X = X.astype(np.float32).reshape(-1, 1, 8, 8)  # the loader scales the pixels to [0, 1]
    rng = ctx.rng
    X, Xt, y, yt = rb.datasets.train_test_split(X, y, test_size=0.2, rng=rng)
    net = rb.nn.Sequential(rb.nn.Conv2d(1, 8, 3, rng=rng), rb.nn.ReLU(), rb.nn.MaxPool2d(2),
                           rb.nn.Flatten(), rb.nn.Dense(72, 10, rng=rng))
    rb.fit(net, X, y, loss="cross_entropy", optimizer=rb.optim.Adam(net.parameters(), lr=0.01),
           epochs=10 if ctx.quick else 20, batch_size=32, progress=False, rng=rng)
    acc = rb.training.evaluate(net, Xt, yt, loss="cross_entropy")["accuracy"]
    return net, Xt, acc


@chapter("Local receptive fields and shared weights, drawn", section="Local receptive fields",
         name="receptive-fields")
def receptive_fields(ctx):
    ctx.text(
        "Think of a layer as a grid of neurons, one per pixel. A hidden neuron of a "
        "convolutional layer is connected only to a small local receptive field of the input "
        "(3x3 here), and its neighbour's field is the same window moved by the stride (1): an "
        "8x8 input gives 8 − 3 + 1 = 6 positions per row. The network below (a 3x3 convolution "
        "with 8 kernels, ReLU, 2x2 max pooling, a dense output layer) is trained on the 8x8 "
        "digits through `rb.fit`; the figures are its live values."
    )
    net, Xt, acc = _trained_net(ctx)
    image = Xt[0, 0]
    conv = net[0]
    with rb.no_grad():
        fmap = conv(rb.tensor(Xt[:1])).data[0, 0]
    with ctx.figure("The input layer as a grid of 8x8 neurons, each the intensity of one pixel "
                    "of a held-out digit.", size=(2.6, 2.6), notes="A layer as a grid") as fig:
        _grid(fig.add_subplot(), image)
    r, c = 2, 3
    field = image[r:r + 3, c:c + 3]
    by_hand = float((conv.W.data[0, 0] * field).sum() + conv.b.data[0])
    with ctx.figure("A 3x3 local receptive field of the input (left, red) maps to one neuron of "
                    f"the hidden layer's first feature map (right): its value {fmap[r, c]:.3f} is "
                    "the kernel's weighted sum of those 9 pixels plus the bias.", size=(5.2, 2.6),
                    notes="Local receptive fields map to a neuron in the hidden layer") as fig:
        a, b = fig.subplots(1, 2)
        _grid(a, image, highlight=[(r, c, 3)], title="input 8x8")
        _grid(b, fmap, cmap="viridis", highlight=[(r, c, 1)], title="hidden feature map 6x6")
    with ctx.figure("Moving across fields at a stride of 1: the next field (blue) is the red one "
                    "moved one pixel right, and maps to the next hidden neuron.", size=(5.2, 2.6),
                    notes="Moving across fields at a stride length of 1") as fig:
        a, b = fig.subplots(1, 2)
        _grid(a, image, highlight=[(r, c, 3), (r, c + 1, 3)], title="input 8x8")
        _grid(b, fmap, cmap="viridis", highlight=[(r, c, 1), (r, c + 1, 1)],
              title="hidden feature map 6x6")
    ctx.claim("A hidden neuron is the kernel's weighted sum of its local receptive field plus "
              "the bias", abs(by_hand - fmap[r, c]) < 1e-5,
              f"by hand {by_hand:.5f}, conv2d {fmap[r, c]:.5f}")
    probe = Xt[:1].copy()
    # a pixel outside that field, moved to the far end of [0, 1] (by at least 0.5)
    probe[0, 0, 7, 0] = 1.0 if probe[0, 0, 7, 0] < 0.5 else 0.0
    with rb.no_grad():
        moved = conv(rb.tensor(probe)).data[0, 0]
    ctx.claim("Each hidden neuron sees only its receptive field: changing a pixel outside it "
              "leaves the neuron unchanged, while the neurons whose fields hold the pixel change",
              moved[r, c] == fmap[r, c] and moved[5, 0] != fmap[5, 0],
              f"pixel (7, 0) changed from {Xt[0, 0, 7, 0]:.2f} to {probe[0, 0, 7, 0]:.0f}: "
              f"neuron (2, 3) unchanged, neuron (5, 0) {fmap[5, 0]:.3f} → {moved[5, 0]:.3f}")
    ctx.claim("At stride 1 an n x n input and f x f fields give n − f + 1 hidden neurons per "
              "row and column", fmap.shape == (6, 6), f"feature map {fmap.shape} for n = 8, f = 3")


def where_in_region(pool, fmap):
    """Move the strongest activation of ``fmap`` (H, W), by a swap, to another cell of its 2x2
    region and, separately, to the same cell of the next region along the row; return the
    largest change of ``pool``'s output for each ({'within': ..., 'across': ...}) and the
    activation's position."""
    r, c = np.unravel_index(int(fmap.argmax()), fmap.shape)
    with rb.no_grad():
        before = pool(rb.tensor(fmap[None, None])).data
        changes = {}
        for key, (r2, c2) in (("within", (r ^ 1, c ^ 1)), ("across", (r, (c + 2) % fmap.shape[1]))):
            moved = fmap.copy()
            moved[r, c], moved[r2, c2] = fmap[r2, c2], fmap[r, c]
            changes[key] = float(np.abs(pool(rb.tensor(moved[None, None])).data - before).max())
    return changes, (int(r), int(c))


@chapter("Pooling layers and a whole convolutional network, drawn", section="Pooling layers",
         name="pooling")
def pooling(ctx):
    ctx.text(
        "A pooling layer condenses each feature map: 2x2 max pooling keeps the largest of each "
        "2x2 region. A network built and trained the same way as in the previous chapter "
        "(trained here, so the chapter runs alone: its own split of the digits and its own "
        "initial weights, so its kernels and the digit drawn differ)."
    )
    net, Xt, acc = _trained_net(ctx)
    with rb.no_grad():
        fmap = net[1](net[0](rb.tensor(Xt[:1])))
        pooled = net[2](fmap).data[0, 0]
    maps, fmap = fmap.data[0], fmap.data[0, 0]
    with ctx.figure("Mapping from a feature map (6x6, after ReLU) to the pooling layer (3x3): "
                    "each 2x2 region (red) becomes one pooled neuron, its maximum.",
                    size=(5.2, 2.6), notes="Mapping from feature map to a pooling layer") as fig:
        a, b = fig.subplots(1, 2)
        _grid(a, fmap, cmap="viridis", highlight=[(2, 2, 2)], title="feature map 6x6")
        _grid(b, pooled, cmap="viridis", highlight=[(1, 1, 1)], title="max-pooled 3x3")
    regions = fmap.reshape(3, 2, 3, 2).max(axis=(1, 3))
    ctx.claim("Each max-pooling unit outputs the largest activation of its 2x2 region",
              np.array_equal(regions, pooled), f"pooled {pooled.shape} equals the regions' "
                                                "maxima exactly")
    k = int(maps.max(axis=(1, 2)).argmax())  # the map with the strongest feature on this digit
    moved, where = where_in_region(net[2], maps[k])
    ctx.claim("Max pooling isn't concerned with where in its region a feature was: moving the "
              "strongest activation of a learned feature map within its 2x2 region leaves "
              "the pooled layer unchanged, moving it into the next region does not",
              moved["within"] == 0 and moved["across"] > 0,
              f"feature map {k + 1}: strongest activation {maps[k][where]:.3f} at {where}; "
              "pooled layer changed by "
              f"{moved['within']:.3g} (moved within its region) and {moved['across']:.3g} "
              "(moved into the next region)")
    with ctx.figure("The example convolutional network, drawn from the model: input, 8 feature "
                    "maps of the 3x3 convolution, 2x2 max pooling, flattened, 10 outputs "
                    f"(held-out accuracy {acc:.1%}).", size=(7, 3),
                    notes="An example convolutional network") as fig:
        shapes = draw_layers(fig.add_subplot(), net, Xt[0])
    ctx.table(["layer", "output shape"], [[n, "x".join(map(str, s))] for n, s in shapes])
    ctx.claim("Convolution, pooling and a dense output layer together classify digits",
              acc >= 0.8, f"held-out accuracy {acc:.1%} after training through rb.fit")
