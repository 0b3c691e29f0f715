"""Drawings of DARTS's continuous relaxation: one mixed op, and the relaxed cell in its supernet.

DARTS (Liu et al., ICLR 2019, Sec. 2.1-2.2, Fig. 1) replaces the choice of one op on an edge
by the softmax-weighted sum of every candidate (Eq. 2), ``o_bar(x) = sum_o softmax(alpha)_o
o(x)``, and trains the alphas with the weights. Fig. 1 of the paper draws it as every op on
every edge at once, with the line width of each op its weight; these two drawings do the same:

* :func:`draw_mixed_op`: one edge opened up: the input, each candidate op as a box, and the
  weighted sum, each op's path as wide as its weight (``none`` dashed: its term is zero);
* :func:`draw_relaxed_supernet`: the supernet's skeleton (stem, stages of cells, reductions,
  classifier: NAS-Bench-201's, Dong & Yang 2020, Fig. 1) above the cell that every stage
  repeats with one shared row of alphas per edge, each edge drawn as one line per op, as wide
  as that op's weight; the op the derived cell keeps (DARTS's rule, ``none`` excluded) is named.

Pure functions of plain data (the ``(edges, ops)`` softmax weights a supernet's
``arch_weights()`` or a run's ``steps.jsonl`` holds) that return a Figure and take an ``ax``.
Every path is tagged (``gid``) ``"op:<name>"`` or ``"edge:<j>-><i>:<name>"``, so a test can
find the line of an op and check its width without looking at pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from .drawing import op_color

MIN_WIDTH, MAX_WIDTH = 0.4, 7.0  # line width (points) of an op of weight 0 and of weight 1
SKELETON = ("stem", "cell", "reduce", "cell", "reduce", "cell", "classifier")  # NAS-Bench-201, 1 cell per stage


def line_width(weight: float) -> float:
    """The line width of an op whose mixing weight is ``weight`` (linear in the weight)."""
    return MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * float(weight)


def _ink(color: str) -> str:
    """Black or white text, whichever reads better on ``color`` (by relative luminance)."""
    r, g, b = colors.to_rgb(color)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def _check_weights(weights, ops: Sequence[str], edges: int | None = None) -> tuple[np.ndarray, list[str]]:
    weights = np.asarray(weights, dtype=float)
    ops = [str(op) for op in ops]
    shape = (len(ops),) if edges is None else (edges, len(ops))
    if weights.shape != shape:
        what = f"({len(ops)},)" if edges is None else f"(edges, {len(ops)})"
        raise ValueError(f"weights: expected shape {what}, one per op of {ops}, got {weights.shape}")
    if not np.all(np.isfinite(weights)) or (weights < 0).any() or not np.allclose(weights.sum(axis=-1), 1.0, atol=1e-4):
        raise ValueError("weights: expected softmax weights (non-negative, each row summing to 1); "
                         "pass softmax(alpha), e.g. mixing_weights(alphas)")
    return weights, ops


def _new_axes(ax, size, top: float = 1.0):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size)
    return fig, fig.add_axes((0.0, 0.0, 1.0, top))


def draw_mixed_op(weights, ops: Sequence[str], ax=None, *, title: str | None = None) -> Figure:
    """One mixed op (Eq. 2): ``x`` -> every candidate op -> the weighted sum, each path as wide as its weight.

    ``weights``: softmax(alpha) of one edge, one per op of ``ops``.
    """
    weights, ops = _check_weights(weights, ops)
    K = len(ops)
    fig, ax = _new_axes(ax, (5.2, 0.9 + 0.55 * K), top=0.9 if title != "" else 1.0)
    ys = np.linspace((K - 1) / 2, -(K - 1) / 2, K) * 0.6  # one row per op
    x_in, x_op, x_sum = 0.0, 2.2, 4.4
    ax.add_patch(Circle((x_in, 0), 0.22, fc="white", ec="#404040", lw=1.2, zorder=3))
    ax.text(x_in, 0, "x", ha="center", va="center", fontsize=10, fontstyle="italic", zorder=4)
    ax.add_patch(Circle((x_sum, 0), 0.24, fc="#404040", ec="#404040", lw=1.2, zorder=3))
    ax.text(x_sum, 0, "Σ", ha="center", va="center", fontsize=11, color="white", zorder=4)
    for y, op, w in zip(ys, ops, weights):
        color, style = op_color(op), (":" if op == "none" else "-")
        for start, end in (((x_in + 0.22, 0), (x_op - 0.62, y)), ((x_op + 0.62, y), (x_sum - 0.24, 0))):
            ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>" if end[0] == x_sum - 0.24 else "-",
                                         mutation_scale=8, color=color, lw=line_width(w), linestyle=style,
                                         alpha=0.9, zorder=1, gid=f"op:{op}"))
        ax.add_patch(FancyBboxPatch((x_op - 0.62, y - 0.17), 1.24, 0.34, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc=color, ec="#404040", lw=0.8, zorder=2))
        ax.text(x_op, y, op, ha="center", va="center", fontsize=7, color=_ink(color), zorder=4)
        t = 0.3  # the weight sits on its path, 30% of the way from the box to the sum
        ax.text(x_op + 0.62 + t * (x_sum - 0.24 - x_op - 0.62), (1 - t) * y, f"{w:.2f}", ha="center", va="center",
                fontsize=7, zorder=4, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": op_color(op), "lw": 0.6})
    ax.text(x_sum + 0.35, 0, "ō(x)", ha="left", va="center", fontsize=10)
    ax.set_xlim(-0.4, x_sum + 0.9)
    ax.set_ylim(ys[-1] - 0.35, ys[0] + 0.35)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title != "":
        ax.set_title("mixed op: ō(x) = Σ_o softmax(α)_o · o(x)" if title is None else title, fontsize=9)
    return fig


# the NAS-Bench-201 cell (4 nodes) laid out as its Fig. 1: input left, output right, nodes 1 and 2 between
_NODE_XY = {0: (0.0, 0.0), 1: (1.8, 1.3), 2: (1.8, -1.3), 3: (3.6, 0.0)}
_CENTRE = np.array([1.8, 0.0])
_LABEL_SHIFT = {(0, 3): np.array([-0.8, 0.17]), (1, 2): np.array([0.0, 0.62])}


def _parse_edge(name: str) -> tuple[int, int]:
    j, _, i = str(name).partition("->")
    if not (j.isdigit() and i.isdigit()) or (int(j), int(i)) == (0, 0) or int(j) >= int(i):
        raise ValueError(f"edge_names: expected names 'j->i' with j < i (as edge_names()['cell']), got {name!r}")
    return int(j), int(i)


def draw_relaxed_supernet(weights, ops: Sequence[str], ax=None, *, edge_names: Sequence[str] | None = None,
                          skeleton: Sequence[str] = SKELETON, title: str | None = None) -> Figure:
    """The supernet's skeleton above its relaxed cell: every op on every edge, each as wide as its weight.

    ``weights`` ``(edges, ops)``: softmax(alpha) per edge (``supernet.arch_weights()["cell"]``);
    ``edge_names``: ``"j->i"`` per row (default: the NAS-Bench-201 order of ``edge_names()["cell"]``).
    The cell's nodes sit as in NAS-Bench-201's Fig. 1 (nodes 0 to 3).
    """
    names = list(edge_names) if edge_names is not None else ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"]
    weights, ops = _check_weights(weights, ops, edges=len(names))
    edges = [_parse_edge(n) for n in names]
    if any(i not in _NODE_XY for _, i in edges):
        raise ValueError(f"edge_names: a cell of at most 4 nodes (0 to 3) is drawn, got {names}")
    fig, ax = _new_axes(ax, (6.4, 4.8), top=0.93 if title != "" else 1.0)
    # 1. the skeleton: a chain of boxes, the cells marked as sharing the alphas
    n = len(skeleton)
    xs = np.linspace(-0.6, 4.2, n)
    top = 2.55
    for k, (x, name) in enumerate(zip(xs, skeleton)):
        is_cell = name == "cell"
        ax.add_patch(FancyBboxPatch((x - 0.33, top - 0.18), 0.66, 0.36, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc="#fff2cc" if is_cell else "#f0f0f0", ec="#b8860b" if is_cell else "#404040",
                                    lw=1.4 if is_cell else 0.8, zorder=2))
        ax.text(x, top, name, ha="center", va="center", fontsize=6.5, zorder=3)
        if k:
            ax.add_patch(FancyArrowPatch((xs[k - 1] + 0.33, top), (x - 0.33, top), arrowstyle="-|>", mutation_scale=7,
                                         color="#404040", lw=0.8, zorder=1))
    ax.text(1.8, top + 0.42, "supernet: every cell is the one below, with the same α", ha="center", fontsize=7.5)
    ax.plot([-0.8, 4.4], [1.95, 1.95], color="#b8860b", lw=0.6, linestyle="--")
    # 2. the relaxed cell: one line per op on each edge, offset side by side, as wide as its weight
    kept = weights.copy()
    if "none" in ops:
        kept[:, ops.index("none")] = -np.inf
    spacing = 0.075
    for e, (j, i) in enumerate(edges):
        (x0, y0), (x1, y1) = _NODE_XY[j], _NODE_XY[i]
        d = np.array([x1 - x0, y1 - y0])
        length = float(np.hypot(*d))
        u, normal = d / length, np.array([-d[1], d[0]]) / length
        for k, (op, w) in enumerate(zip(ops, weights[e])):
            shift = normal * (k - (len(ops) - 1) / 2) * spacing
            start = np.array([x0, y0]) + u * 0.26 + shift
            end = np.array([x1, y1]) - u * 0.26 + shift
            ax.add_patch(FancyArrowPatch(tuple(start), tuple(end), arrowstyle="-", color=op_color(op),
                                         lw=line_width(w), linestyle=":" if op == "none" else "-", alpha=0.85,
                                         zorder=1, gid=f"edge:{j}->{i}:{op}"))
        # labels beside the middle of each edge, away from the cell's centre; 0 -> 3 and 1 -> 2 cross there
        middle = (np.array([x0, y0]) + np.array([x1, y1])) / 2
        outward = normal if float(np.dot(normal, middle - _CENTRE)) > 0 else -normal
        middle = middle + _LABEL_SHIFT.get((j, i), 0.42 * outward)
        best = ops[int(np.argmax(kept[e]))]
        ax.text(*middle, f"{best} {weights[e][ops.index(best)]:.2f}", ha="center", va="center", fontsize=6, zorder=4,
                bbox={"boxstyle": "round,pad=0.12", "fc": "white", "ec": op_color(best), "lw": 0.8})
    for node, (x, y) in _NODE_XY.items():
        ax.add_patch(Circle((x, y), 0.24, fc="white", ec="#404040", lw=1.2, zorder=3))
        ax.text(x, y, str(node), ha="center", va="center", fontsize=9, fontweight="bold", zorder=5)
    ax.text(0.0, -0.36, "input", ha="center", va="top", fontsize=6.5, color="#404040")
    ax.text(3.6, -0.36, "output", ha="center", va="top", fontsize=6.5, color="#404040")
    handles = [Line2D([], [], color=op_color(op), lw=2, linestyle=":" if op == "none" else "-", label=op) for op in ops]
    ax.legend(handles=handles, loc="lower center", ncol=len(ops), fontsize=6.5, frameon=False,
              bbox_to_anchor=(0.5, 0.0), handlelength=1.8, columnspacing=1.0)
    ax.set_xlim(-1.0, 4.6)
    ax.set_ylim(-2.45, 3.0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title != "":
        ax.set_title("the relaxed cell: line width = softmax(α); label = the op DARTS keeps" if title is None else title,
                     fontsize=9)
    return fig
