"""Drawing a NEAT genome's network with matplotlib (an optional dependency)."""

import numpy as np

from ..checks import boolean

__all__ = ["draw"]


def _columns(genome):
    """Column of each node: inputs 0, hidden by depth from the inputs, outputs last."""
    out = {}
    for c in genome.connections:
        if c.enabled:
            out.setdefault(c.src, []).append(c.dst)
    depth = {n.id: 0 for n in genome.nodes if n.kind in ("input", "bias")}
    frontier = list(depth)
    while frontier:  # breadth-first: the shortest depth, so cycles cannot loop forever
        nxt = []
        for n in frontier:
            for m in out.get(n, ()):
                if m not in depth:
                    depth[m] = depth[n] + 1
                    nxt.append(m)
        frontier = nxt
    hidden = [n.id for n in genome.nodes if n.kind == "hidden"]
    last = max([depth.get(h, 1) for h in hidden], default=0) + 1
    col = {}
    for n in genome.nodes:
        if n.kind in ("input", "bias"):
            col[n.id] = 0
        elif n.kind == "output":
            col[n.id] = last
        else:
            col[n.id] = min(max(depth.get(n.id, 1), 1), last - 1)
    return col


_MANY_CONNECTIONS = 300  # beyond: forward connections as plain lines, not arrows
_MANY_NODES = 60  # beyond: small dots, no labels


def draw(genome, ax=None, show_disabled=False, labels=True):
    """Draw a genome: inputs left, outputs right, hidden nodes by depth.

    Enabled connections are red (positive) or blue (negative) with width
    proportional to ``|w|``; disabled ones are grey dashes when
    ``show_disabled``. Hidden nodes are labelled with their activation when
    it is not the genome's usual one (CPPNs). A large network (over 300
    connections drawn) gets its forward connections as plain lines, and over
    60 nodes small unlabelled dots: a HyperNEAT substrate draws in a second.

    Parameters
    ----------
    genome : Genome
    ax : matplotlib Axes, optional
    show_disabled : bool, default False
    labels : bool, default True

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    # a string such as "no" would switch either on
    show_disabled = boolean("draw", "show_disabled", show_disabled)
    labels = boolean("draw", "labels", labels)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    col = _columns(genome)
    pos = {}
    for c in sorted(set(col.values())):
        ids = [n for n in col if col[n] == c]
        ys = np.linspace(0, 1, len(ids) + 2)[1:-1] if len(ids) > 1 else [0.5]
        for n, y in zip(sorted(ids), ys):
            pos[n] = (c, y)
    wmax = max([abs(c.weight) for c in genome.connections] + [1e-9])
    shown = [c for c in genome.connections if c.enabled or show_disabled]
    # a large network (a HyperNEAT substrate: thousands of connections) gets its forward
    # connections as one collection of plain lines: an arrow each would take seconds
    many = len(shown) > _MANY_CONNECTIONS
    lines, line_colors, line_widths = [], [], []
    for c in shown:
        (x0, y0), (x1, y1) = pos[c.src], pos[c.dst]
        if c.enabled:
            color = "tab:red" if c.weight > 0 else "tab:blue"
            style, width = "-", 0.5 + 2.5 * abs(c.weight) / wmax
        else:
            color, style, width = "0.7", "--", 0.8
        if c.src == c.dst:
            ax.add_patch(plt.Circle((x0, y0 + 0.04), 0.04, fill=False, color=color, lw=width))
            continue
        if many and c.enabled and x1 > x0:
            lines.append(((x0, y0), (x1, y1)))
            line_colors.append(color)
            line_widths.append(0.2 + 0.8 * abs(c.weight) / wmax)
            continue
        rad = 0.3 if x1 <= x0 else 0.0  # recurrent (backward) connections bend
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=width, ls=style,
                                    shrinkA=9, shrinkB=9, connectionstyle=f"arc3,rad={rad}"))
    if lines:
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(lines, colors=line_colors, linewidths=line_widths,
                                         alpha=0.5))
    colors = {"input": "tab:green", "bias": "0.5", "output": "tab:orange", "hidden": "white"}
    common = {}
    for n in genome.nodes:
        common[n.activation] = common.get(n.activation, 0) + (n.kind == "hidden")
    usual = max(common, key=common.get) if common else None
    size = 260 if len(genome.nodes) <= _MANY_NODES else 20
    for kind, color in colors.items():  # one scatter per kind of node
        xy = np.array([pos[n.id] for n in genome.nodes if n.kind == kind]).reshape(-1, 2)
        if len(xy):
            ax.scatter(xy[:, 0], xy[:, 1], s=size, c=color, edgecolors="k", zorder=3)
    if labels and len(genome.nodes) <= _MANY_NODES:  # beyond, the labels would overlap
        for n in genome.nodes:
            x, y = pos[n.id]
            text = "b" if n.kind == "bias" else str(n.id)
            ax.text(x, y, text, ha="center", va="center", fontsize=7, zorder=4)
            if n.kind == "hidden" and n.activation != usual:
                ax.text(x, y - 0.07, n.activation, ha="center", va="top", fontsize=6)
    ax.set_xlim(-0.5, max(col.values()) + 0.5)
    ax.set_ylim(-0.05, 1.05)
    ax.set_axis_off()
    ax.set_title(f"genome {genome.id}: {genome.n_hidden} hidden, {genome.n_enabled} "
                 f"connections", fontsize=8)
    return ax
