"""Network diagrams drawn from the model objects themselves (the notes' lost figures).

The notes' figures of networks ("Simple neural network", "A neural network",
"Simple RNN network, with hidden nodes looping", "A LSTM unit", ...) are
redrawn here from an actual :class:`rosenblatt.nn.Sequential`, recurrent
layer or LSTM: the layout comes from the layers' sizes, each connection's
colour and width from its trained weight (blue positive, red negative), and,
given an input, each node's fill from its live activation.

* :func:`dense_layers` and :func:`draw_network`: a Sequential of Dense layers
  (optionally with a dropout mask per layer, crossed-out units).
* :func:`draw_recurrent`: a recurrent layer folded (hidden units looping back)
  or unrolled over time, with live hidden states.
* :func:`lstm_step_values` and :func:`draw_lstm_unit`: one LSTM unit, its
  gates recomputed from the layer's weights (and checked against the layer's
  own output) and drawn with their live activations.

Every function draws on a matplotlib ``Axes`` (no pyplot state).
"""

import numpy as np

import rosenblatt as rb

_POS, _NEG = "#2166ac", "#b2182b"


def dense_layers(model):
    """``[(Dense, activation name or None)]`` of a Sequential, in order.

    >>> import rosenblatt as rb
    >>> net = rb.nn.Sequential(rb.nn.Dense(2, 3), rb.nn.Tanh(), rb.nn.Dense(3, 1))
    >>> [(d.W.shape, a) for d, a in dense_layers(net)]
    [((2, 3), 'Tanh'), ((3, 1), None)]
    """
    if not isinstance(model, rb.nn.Sequential):
        raise TypeError(f"dense_layers: expected an rb.nn.Sequential; got "
                        f"{type(model).__name__}")
    layers = list(model)
    found = []
    for i, layer in enumerate(layers):
        if isinstance(layer, rb.nn.Dense):
            act = None
            for nxt in layers[i + 1:]:
                if isinstance(nxt, rb.nn.Dense):
                    break
                if not isinstance(nxt, rb.nn.Dropout):
                    act = type(nxt).__name__
                    break
            found.append((layer, act))
    if not found:
        raise ValueError("dense_layers: the Sequential has no Dense layer to draw")
    return found


def _shown(n, limit):
    """Indices of the units drawn when a layer has ``n`` > ``limit`` units (ends, a gap)."""
    if n <= limit:
        return list(range(n)), None
    half = limit // 2
    return list(range(half)) + list(range(n - half, n)), half


def _layer_activations(model, x):
    """The activations after every Dense layer's nonlinearity for one example ``x``."""
    layers = list(model)
    dtype = dense_layers(model)[0][0].W.data.dtype
    h = rb.tensor(np.asarray(x, dtype=dtype).reshape(1, -1))
    outs = []
    with rb.no_grad(), model.evaluating():
        for layer in layers:
            h = layer(h)
            outs.append(h.data.ravel().astype(np.float64))
    found = [np.asarray(x, dtype=np.float64).ravel()]
    for i, layer in enumerate(layers):
        if isinstance(layer, rb.nn.Dense):
            value = outs[i]
            for k in range(i + 1, len(layers)):
                if isinstance(layers[k], rb.nn.Dense):
                    break
                if not isinstance(layers[k], rb.nn.Dropout):
                    value = outs[k]
                    break
            found.append(value)
    return found


def draw_network(ax, model, x=None, dropped=None, limit=10, labels=True, title=""):
    """Draw a Sequential of Dense layers as nodes in columns and weighted connections.

    Parameters
    ----------
    ax : matplotlib Axes
    model : rb.nn.Sequential
        Its Dense layers give the columns (inputs, hidden layers, outputs).
    x : array_like, optional
        One input example: nodes are filled by their activation on it.
    dropped : sequence of bool arrays, optional
        One mask per column (inputs first; ``None`` for a column kept whole):
        True units are dropped, drawn crossed out with their connections removed.
    limit : int, default 10
        At most this many nodes per column (the middle ones elided as "...").
    labels : bool, default True
        Name the columns (sizes and activation functions).

    Returns
    -------
    list of int
        The number of units of each column.
    """
    found = dense_layers(model)
    sizes = [found[0][0].W.shape[0]] + [d.W.shape[1] for d, _ in found]
    acts = _layer_activations(model, x) if x is not None else None
    dropped = list(dropped) if dropped is not None else [None] * len(sizes)
    if len(dropped) != len(sizes):
        raise ValueError(f"draw_network: dropped needs one mask per column ({len(sizes)}); "
                         f"got {len(dropped)}")
    cols = []
    for c, n in enumerate(sizes):
        idx, gap = _shown(n, limit)
        k = len(idx) + (gap is not None)
        ys = np.linspace(1, -1, k) * min(1.0, k / 8.0)
        pos = {}
        j = 0
        for slot in range(k):
            if gap is not None and slot == gap:
                ax.text(c, ys[slot], "⋮", ha="center", va="center", fontsize=12)
                continue
            pos[idx[j]] = ys[slot]
            j += 1
        cols.append(pos)
    wmax = max(float(np.abs(d.W.data).max()) for d, _ in found) or 1.0
    for c, (dense, _) in enumerate(found):
        W = dense.W.data
        for i, yi in cols[c].items():
            if dropped[c] is not None and dropped[c][i]:
                continue
            for j, yj in cols[c + 1].items():
                if dropped[c + 1] is not None and dropped[c + 1][j]:
                    continue
                w = float(W[i, j])
                ax.plot([c, c + 1], [yi, yj], color=_POS if w > 0 else _NEG,
                        lw=0.3 + 2.2 * abs(w) / wmax, alpha=0.25 + 0.6 * abs(w) / wmax,
                        zorder=1)
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    for c, pos in enumerate(cols):
        values = acts[c] if acts is not None else None
        if values is not None:
            lo, hi = float(values.min()), float(values.max())
        for i, y in pos.items():
            face = "white"
            if values is not None:
                face = cmap(0.5 if hi == lo else (values[i] - lo) / (hi - lo))
            ax.scatter([c], [y], s=170, color=face, edgecolors="k", linewidths=0.8, zorder=3)
            if dropped[c] is not None and dropped[c][i]:
                ax.plot([c - 0.06, c + 0.06], [y - 0.06, y + 0.06], color="k", lw=1.4, zorder=4)
                ax.plot([c - 0.06, c + 0.06], [y + 0.06, y - 0.06], color="k", lw=1.4, zorder=4)
    if labels:
        names = ["input"] + [f"hidden {k + 1}" for k in range(len(found) - 1)] + ["output"]
        for c, name in enumerate(names):
            act = found[c - 1][1] if c > 0 else None
            ax.text(c, -1.28, f"{name}\n{sizes[c]} units" + (f"\n{act}" if act else ""),
                    ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.4, len(sizes) - 0.6)
    ax.set_ylim(-1.75 if labels else -1.25, 1.25)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return sizes


def _recurrent_states(layer, seq):
    """The hidden states (T, H) of ``layer`` (an RNN/LSTM/GRU) on one sequence (T, in)."""
    seq = np.asarray(seq, dtype=layer.W_x[0].data.dtype)[None]
    with rb.no_grad():
        out, _ = layer(rb.tensor(seq))
    return out.data[0].astype(np.float64)


def _node(ax, x, y, text, face="white", size=0.16, fontsize=7):
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), size, facecolor=face, edgecolor="k", lw=0.8, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4)


def _arrow(ax, a, b, color="k", lw=0.8, rad=0.0):
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=8, color=color, lw=lw,
                                 shrinkA=9, shrinkB=9, connectionstyle=f"arc3,rad={rad}",
                                 zorder=2))


def draw_recurrent(ax, layer, seq=None, unroll=None, limit=6, title=""):
    """Draw a recurrent layer: folded (hidden nodes looping back) or unrolled over time.

    Parameters
    ----------
    ax : matplotlib Axes
    layer : rb.nn.RNN, rb.nn.LSTM or rb.nn.GRU
        Its sizes give the nodes; ``W_h`` the loops' colours (the diagonal,
        unit to itself, folded; the strongest recurrent weights, unrolled).
    seq : array_like (T, input_size), optional
        A sequence: hidden nodes are filled by their live state.
    unroll : int, optional
        Draw that many time steps side by side (x_t below, h_t, y_t above),
        each step's hidden layer feeding the next; default folded.
    limit : int, default 6
        At most this many hidden units drawn.
    """
    import matplotlib as mpl

    cmap = mpl.colormaps["coolwarm"]
    H, n_in = layer.hidden_size, layer.input_size
    Wh = layer.W_h[0].data[:, :H].astype(np.float64)  # the first gate block
    states = _recurrent_states(layer, seq) if seq is not None else None
    hid = list(range(min(H, limit)))
    ins = list(range(min(n_in, limit)))
    steps = 1 if unroll is None else int(unroll)
    if states is not None and steps > len(states):
        raise ValueError(f"draw_recurrent: unroll={steps} but the sequence has {len(states)} steps")
    width = 1.3 * max(len(hid), len(ins)) * 0.35
    for t in range(steps):
        x0 = t * (width + 0.6)
        hx = [x0 + 0.35 * k for k in range(len(hid))]
        ix = [x0 + 0.35 * k + 0.35 * (len(hid) - len(ins)) / 2 for k in range(len(ins))]
        for k, x in zip(ins, ix):
            _node(ax, x, 0.0, f"x{k + 1}" if unroll is None else "")
        for k, x in zip(hid, hx):
            face = "white" if states is None else cmap(0.5 + 0.5 * np.tanh(states[t][k]))
            _node(ax, x, 1.0, f"h{k + 1}" if unroll is None else "", face=face)
            for xi in ix:
                _arrow(ax, (xi, 0.0), (x, 1.0), color="0.55", lw=0.5)
            _arrow(ax, (x, 1.0), (x, 2.0), color="0.55", lw=0.5)
            _node(ax, x, 2.0, "y" if unroll is None else "", size=0.12)
            if unroll is None:  # a loop from each hidden node back to itself
                w = Wh[k, k]
                ax.add_patch(mpl.patches.FancyArrowPatch(
                    (x - 0.08, 1.15), (x + 0.08, 1.15), connectionstyle="arc3,rad=-2.2",
                    arrowstyle="-|>", mutation_scale=7, color=_POS if w > 0 else _NEG,
                    lw=0.6 + 2 * min(abs(w), 1), zorder=2))
        if unroll is not None:
            ax.text(np.mean(hx), -0.45, f"t = {t + 1}", ha="center", fontsize=8)
            if t + 1 < steps:
                nxt = [x + width + 0.6 for x in hx]
                for k, a in zip(hid, hx):
                    j = int(np.argmax(np.abs(Wh[k, hid])))
                    w = Wh[k, hid[j]]
                    _arrow(ax, (a, 1.0), (nxt[j], 1.0), color=_POS if w > 0 else _NEG,
                           lw=0.5 + 1.5 * min(abs(w), 1), rad=-0.25)
    for y, name in ((0.0, "input"), (1.0, f"hidden ({H})"), (2.0, "output")):
        ax.text(-0.45, y, name, ha="right", va="center", fontsize=8)
    ax.set_xlim(-1.6, steps * (width + 0.6) - 0.3)
    ax.set_ylim(-0.7, 2.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def lstm_step_values(lstm, seq):
    """Every gate of a one-layer LSTM over one sequence, recomputed from its weights.

    Parameters
    ----------
    lstm : rb.nn.LSTM
        One layer, without batch norm (peephole and coupled variants included).
    seq : array_like, shape (T, input_size)

    Returns
    -------
    dict of ndarray (T, H)
        ``i``, ``f``, ``g``, ``o`` (the gates; ``i = 1 - f`` when coupled),
        ``C`` (cell state) and ``h`` (output), float64. ``h`` is checked
        against the layer's own forward pass.

    Examples
    --------
    >>> import numpy as np, rosenblatt as rb
    >>> v = lstm_step_values(rb.nn.LSTM(2, 3, rng=0), np.ones((4, 2)))
    >>> sorted(v), v["C"].shape
    (['C', 'f', 'g', 'h', 'i', 'o'], (4, 3))
    """
    if lstm.num_layers != 1 or lstm.batch_norm:
        raise ValueError("lstm_step_values: one layer without batch_norm")
    seq = np.asarray(seq, dtype=np.float64)
    H = lstm.hidden_size
    Wx, Wh, b = (p[0].data.astype(np.float64) for p in (lstm.W_x, lstm.W_h, lstm.b))
    P = None if lstm.P is None else lstm.P[0].data.astype(np.float64)
    h, C = np.zeros(H), np.zeros(H)
    out = {k: [] for k in "ifgoCh"}

    def sig(a):
        return 1.0 / (1.0 + np.exp(-a))

    for x in seq:
        a = x @ Wx + h @ Wh + b
        blocks = np.split(a, lstm.gates)
        if lstm.coupled:
            af, ag, ao = blocks
            if P is not None:
                af = af + P[1] * C
            f = sig(af)
            i = 1.0 - f
        else:
            ai, af, ag, ao = blocks
            if P is not None:
                ai, af = ai + P[0] * C, af + P[1] * C
            i, f = sig(ai), sig(af)
        g = np.tanh(ag)
        C = f * C + i * g
        o = sig(ao + (P[2] * C if P is not None else 0.0))
        h = o * np.tanh(C)
        for k, v in zip("ifgoCh", (i, f, g, o, C, h)):
            out[k].append(v)
    values = {k: np.array(v) for k, v in out.items()}
    live = _recurrent_states(lstm, seq)
    if not np.allclose(live, values["h"], atol=1e-4):
        raise RuntimeError("lstm_step_values: the recomputed h differs from the layer's output")
    return values


def draw_lstm_unit(ax, lstm, seq, t=-1, unit=0, title=""):
    """Draw one LSTM unit at step ``t``: the cell-state line, the gates with live values.

    The boxes (forget, input, candidate, output) are filled by their live
    activation on ``seq`` (0 white to 1 dark), the products and sum on the
    cell-state line show the numbers that flow through them; peephole
    connections are drawn dashed when the layer has them, and a coupled
    layer's input gate reads ``1 - f``.

    Returns
    -------
    dict
        The unit's values at step ``t`` (``C_prev``, ``h_prev``, gates, ``C``, ``h``).
    """
    import matplotlib as mpl
    from matplotlib.patches import FancyBboxPatch

    v = lstm_step_values(lstm, seq)
    T = len(v["h"])
    t = t % T
    prev = (lambda k: v[k][t - 1, unit]) if t > 0 else (lambda k: 0.0)
    val = {k: float(v[k][t, unit]) for k in "ifgoCh"}
    val["C_prev"], val["h_prev"] = float(prev("C")), float(prev("h"))
    cmap = mpl.colormaps["Greens"]

    def box(x, y, name, value, lo=0.0):
        ax.add_patch(FancyBboxPatch((x - 0.7, y - 0.32), 1.4, 0.64, boxstyle="round,pad=0.02",
                                    facecolor=cmap(0.15 + 0.7 * (value - lo) / (1 - lo)),
                                    edgecolor="k", lw=0.8, zorder=3))
        ax.text(x, y, f"{name}\n{value:+.2f}", ha="center", va="center", fontsize=7.5, zorder=4)

    def op(x, y, sym, value):
        _node(ax, x, y, sym, size=0.2, fontsize=10)
        ax.text(x + 0.25, y + 0.25, f"{value:+.2f}", fontsize=7, color="0.25")

    top, bottom = 3.0, 0.0
    # The cell-state line C_{t-1} -> x f -> + -> C_t.
    ax.annotate("", xy=(9.0, top), xytext=(-0.2, top),
                arrowprops=dict(arrowstyle="-|>", lw=2.2, color="0.3"))
    ax.text(-0.3, top, f"C(t-1)\n{val['C_prev']:+.2f}", ha="right", va="center", fontsize=8)
    ax.text(9.1, top, f"C(t)\n{val['C']:+.2f}", ha="left", va="center", fontsize=8)
    gates = [(1.2, "forget σ", val["f"], 0.0),
             (2.9, "input σ" + (" 1-f" if lstm.coupled else ""), val["i"], 0.0),
             (4.6, "cand. tanh", val["g"], -1.0), (6.3, "output σ", val["o"], 0.0)]
    ax.plot([-0.2, 6.3], [bottom, bottom], color="0.5", lw=1.2)
    ax.text(-0.3, bottom, f"[h(t-1), x(t)]\nh(t-1) = {val['h_prev']:+.2f}", ha="right",
            va="center", fontsize=8)
    for x, name, value, lo in gates:
        ax.plot([x, x], [bottom, 1.0], color="0.5", lw=1.0)
        box(x, 1.3, name, value, lo)
    op(1.2, top, "×", val["f"] * val["C_prev"])
    ax.plot([1.2, 1.2], [1.62, top - 0.2], color="0.4", lw=1)
    op(3.75, 2.25, "×", val["i"] * val["g"])
    ax.plot([2.9, 3.75], [1.62, 2.25], color="0.4", lw=1)
    ax.plot([4.6, 3.75], [1.62, 2.25], color="0.4", lw=1)
    op(3.75, top, "+", val["C"])
    ax.plot([3.75, 3.75], [2.45, top - 0.2], color="0.4", lw=1)
    ax.add_patch(FancyBboxPatch((7.5, 2.1), 1.2, 0.4, boxstyle="round,pad=0.02",
                                facecolor="white", edgecolor="k", lw=0.8, zorder=3))
    ax.text(8.1, 2.3, f"tanh {np.tanh(val['C']):+.2f}", ha="center", va="center", fontsize=7)
    ax.plot([8.1, 8.1], [top, 2.5], color="0.4", lw=1)
    op(8.1, 1.3, "×", val["h"])
    ax.plot([8.1, 8.1], [2.1, 1.5], color="0.4", lw=1)
    ax.plot([7.0, 7.9], [1.3, 1.3], color="0.4", lw=1)
    ax.annotate("", xy=(8.1, -0.6), xytext=(8.1, 1.1),
                arrowprops=dict(arrowstyle="-|>", lw=1.2, color="0.3"))
    ax.text(8.25, -0.55, f"h(t) = {val['h']:+.2f}", fontsize=8, va="center")
    if lstm.peephole:
        for x in (1.2, 2.9, 6.3):
            ax.plot([x - 0.3, x - 0.3], [1.6, top], color="#d95f02", lw=1, ls="--")
        ax.text(0.2, 2.0, "peepholes", color="#d95f02", fontsize=7, rotation=90)
    ax.set_xlim(-2.2, 10.2)
    ax.set_ylim(-0.9, 3.6)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return val


def layer_shapes(model, x):
    """``[(layer name, output shape without the batch axis)]`` of a Sequential on one input."""
    if not isinstance(model, rb.nn.Sequential):
        raise TypeError(f"layer_shapes: expected an rb.nn.Sequential; got "
                        f"{type(model).__name__}")
    h = rb.tensor(np.asarray(x)[None])
    shapes = [("input", tuple(h.shape[1:]))]
    with rb.no_grad(), model.evaluating():
        for layer in model:
            h = layer(h)
            shapes.append((type(layer).__name__, tuple(h.shape[1:])))
    return shapes


def draw_layers(ax, model, x, title=""):
    """Draw a (convolutional) Sequential as a row of blocks sized by each layer's output.

    Feature maps (channels, height, width) are drawn as stacked squares, one per channel (at
    most 6), vectors as bars; each block is labelled with its layer and shape, computed by
    running ``x`` (one example) through the model.

    Returns
    -------
    list of (str, tuple)
        The layers' names and output shapes (:func:`layer_shapes`).
    """
    from matplotlib.patches import Rectangle

    shapes = layer_shapes(model, x)
    keep = [s for s in shapes if s[0] not in ("ReLU", "Tanh", "Sigmoid", "Dropout")]
    biggest = max(max(s[1][-2:]) if len(s[1]) == 3 else 1 for s in keep)
    xpos = 0.0
    for name, shape in keep:
        if len(shape) == 3:
            c, h, w = shape
            size = 0.4 + 1.6 * h / biggest
            for k in range(min(c, 6)):
                ax.add_patch(Rectangle((xpos + 0.08 * k, 0.08 * k - size / 2), size * w / h,
                                       size, facecolor=(0.75, 0.85, 0.95), edgecolor="k",
                                       lw=0.6))
            width = size * w / h + 0.08 * min(c, 6)
            label = f"{name}\n{c}@{h}x{w}"
        else:
            n = int(np.prod(shape))
            height = 0.3 + 1.7 * min(n, 400) / 400
            ax.add_patch(Rectangle((xpos, -height / 2), 0.18, height, facecolor=(0.95, 0.85, 0.7),
                                   edgecolor="k", lw=0.6))
            width = 0.18
            label = f"{name}\n{n}"
        ax.text(xpos + width / 2, -1.25, label, ha="center", va="top", fontsize=7)
        xpos += width + 0.55
    ax.set_xlim(-0.3, xpos)
    ax.set_ylim(-1.8, 1.4)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return shapes
