"""Plots of weight sharing (ENAS, Pham et al. 2018; Yu et al. 2020's ranking check).

Pure functions: each draws into ``ax`` when given, else into a new pyplot-free Figure, and
returns the Figure.

* :func:`plot_supernet_loss` -- the shared weights' training loss, one point per search step
  (the ``supernet_loss`` field of a shared-weight search's history records);
* :func:`plot_shared_vs_true` -- shared-weight accuracy against the accuracy of the same
  architectures trained from scratch (a tabular benchmark), with Kendall's tau in the title;
* :func:`draw_supernet` -- the supernet with every candidate op faint and the subgraph that
  one sampled architecture runs drawn bold (ENAS, Sec. 2.1: "the children share one DAG").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from ..enas.ranking import ranking_quality
from ..spaces.cell_space import CellSpace
from ..spaces.macro_space import MacroSpace
from ..spaces.search_space import Architecture
from ..spaces.zoph_le_space import ZophLeSpace
from .axes import new_axes, style_axes
from .drawing import op_color

FAINT = "#c8c8c8"  # a candidate the sampled architecture does not run


def supernet_losses(history: Sequence[Mapping]) -> tuple[list[int], list[float]]:
    """``(steps, losses)``: the ``supernet_loss`` of each search step in a shared-weight history."""
    by_step: dict[int, float] = {}
    for row in history:
        if row.get("supernet_loss") is not None and row.get("step") is not None:
            by_step.setdefault(int(row["step"]), float(row["supernet_loss"]))
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def plot_supernet_loss(history: Sequence[Mapping], ax=None, *, title: str = "Shared weights: training loss") -> Figure:
    """The mean training loss of the supernet's phase before each search step."""
    steps, losses = supernet_losses(history)
    fig, ax = new_axes(ax, (5.0, 3.0))
    ax.plot(steps, losses, marker="o", markersize=3, color="#0072b2")
    style_axes(ax, title, "search step", "cross-entropy (train minibatches)")
    return fig


def plot_shared_vs_true(shared, true, ax=None, *, highlight: int | None = None,
                        xlabel: str = "accuracy trained from scratch (benchmark)",
                        ylabel: str = "shared-weight accuracy") -> Figure:
    """Scatter of shared-weight against true accuracy; the title gives Kendall's tau and Spearman's rho.

    ``highlight`` marks one point (say the derived architecture) in orange.
    """
    shared, true = np.asarray(shared, dtype=float), np.asarray(true, dtype=float)
    fig, ax = new_axes(ax, (4.6, 4.0))
    ax.scatter(true, shared, s=14, alpha=0.7, color="#56b4e9", edgecolor="none")
    if highlight is not None:
        ax.scatter([true[highlight]], [shared[highlight]], s=60, color="#d55e00", label="derived", zorder=3)
        ax.legend(loc="lower right", fontsize=8)
    title = "Ranking by shared weights"
    if len(shared) >= 3:
        q = ranking_quality(shared, true)
        title += f"\nKendall tau {q['kendall_tau']:.2f}, Spearman rho {q['spearman_rho']:.2f} (n={q['n']})"
    style_axes(ax, title, xlabel, ylabel)
    return fig


# --- the supernet with one subgraph highlighted ------------------------------------------------------
def draw_supernet(arch: Architecture, ax=None, *, title: str | None = None) -> Figure:
    """The shared-weight supernet of ``arch``'s space with ``arch``'s subgraph highlighted.

    Cell space (NAS-Bench-201): the cell DAG with one thin grey arc per candidate op on every
    edge (the supernet holds weights for each) and the op ``arch`` picks drawn bold in its
    colour and labelled; a ``none`` edge keeps only grey arcs. Macro space: one column per
    layer listing its candidate layer types (the chosen one filled in its colour, the others
    faint), its other choices under it, and every possible skip connection as a grey arc,
    the chosen ones bold. Every candidate is a patch whose ``gid`` says what it is:
    ``"chosen:..."`` for the subgraph, ``"candidate:..."`` for the rest (``"...:j->i:op"``
    for a cell edge, ``"...:layer{i}:op"`` and ``"...:skip{j}->{i}"`` for the macro space).
    Zoph & Le's space: one box per layer (its chosen filter shape; the supernet holds all 16)
    and every possible input as an arc, ``"...:input{j}->{i}"`` from layer ``j``,
    ``"...:image->{i}"`` from the image and ``"...:concat{k}"`` into the final concatenation.
    """
    if not isinstance(arch, Architecture):
        raise ValueError(f"arch: expected an Architecture, got {type(arch).__name__}")
    if isinstance(arch.space, CellSpace):
        return _draw_cell_supernet(arch, ax, title)
    if isinstance(arch.space, MacroSpace):
        return _draw_macro_supernet(arch, ax, title)
    if isinstance(arch.space, ZophLeSpace):
        return _draw_zoph_le_supernet(arch, ax, title)
    raise ValueError(f"arch: the supernet drawing is not allowed for space {arch.space.name!r}; allowed values: cell, macro, zoph-le")


def highlighted(fig: Figure) -> list[str]:
    """The ``gid`` of every highlighted (``chosen:``) patch in ``fig``, in drawing order."""
    return [p.get_gid()[len("chosen:"):] for ax in fig.axes for p in ax.patches
            if (p.get_gid() or "").startswith("chosen:")]


def _arc(ax, start, end, height: float, *, color: str, chosen: bool, gid: str):
    """A quadratic arc from ``start`` to ``end`` bulging ``height`` above the chord; returns its middle."""
    (x0, y0), (x1, y1) = start, end
    control = ((x0 + x1) / 2, (y0 + y1) / 2 + 2 * height)  # the curve's middle is at half the control's offset
    path = Path([start, control, end], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
    ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>", mutation_scale=11 if chosen else 7, color=color,
                                 linewidth=2.4 if chosen else 0.8, alpha=1.0 if chosen else 0.8,
                                 zorder=3 if chosen else 1, gid=gid))
    return (x0 + x1) / 2, (y0 + y1) / 2 + height


def _draw_cell_supernet(arch: Architecture, ax, title) -> Figure:
    space = arch.space
    candidates = [op for op in space.ops if op != "none"]  # what the supernet holds weights for
    gap, radius = 2.4, 0.22
    height = 0.5 + 0.45 * (space.num_nodes - 1) + 0.07 * len(candidates)  # the widest arc's bulge, and room
    fig, ax = new_axes(ax, (gap * (space.num_nodes - 1) + 1.2, 2 * height + 0.9), margins=(0.0, 0.0, 0.45, 0.35))
    x = {k: gap * k for k in range(space.num_nodes)}
    for (i, j), op in space.edge_ops(arch).items():  # edge j -> i
        span = i - j
        side = 1 if span % 2 == 0 else -1  # spans alternate above and below the chain
        base = 0.0 if span == 1 else side * (0.45 * span)
        start, end = (x[j] + radius, 0.0), (x[i] - radius, 0.0)
        fan = 0.13
        for k, candidate in enumerate(candidates):
            offset = base + (k - (len(candidates) - 1) / 2) * fan * (1 if span == 1 else side)
            chosen = candidate == op
            middle = _arc(ax, start, end, offset, color=op_color(candidate) if chosen else FAINT, chosen=chosen,
                          gid=f"{'chosen' if chosen else 'candidate'}:{j}->{i}:{candidate}")
            if chosen:
                ax.text(*middle, candidate, ha="center", va="center", fontsize=7, zorder=4,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": op_color(candidate), "lw": 0.8})
    for k, position in x.items():
        ax.add_patch(FancyBboxPatch((position - radius, -radius), 2 * radius, 2 * radius,
                                    boxstyle=f"round,pad=0,rounding_size={radius}", fc="white", ec="#404040",
                                    lw=1.2, zorder=5))
        ax.text(position, 0.0, str(k), ha="center", va="center", fontsize=9, fontweight="bold", zorder=6)
    ax.set_xlim(-0.6, x[space.num_nodes - 1] + 0.6)
    ax.set_ylim(-height, height)
    ax.set_aspect("equal")
    ax.set_axis_off()
    used = [op for op in candidates if op in set(arch.choices)]
    handles = [Line2D([], [], color=op_color(op), lw=2.4, label=op) for op in used]
    handles.append(Line2D([], [], color=FAINT, lw=0.8, label="candidate not run"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(handles), 5),
              fontsize=7, frameon=False)
    ax.set_title(f"supernet, subgraph of {arch}" if title is None else title, fontsize=7)
    return fig


def _draw_macro_supernet(arch: Architecture, ax, title) -> Figure:
    space = arch.space
    layers = space.layers(arch)
    types = space.vocab["layer_type"] if "layer_type" in space.vocab else (layers[0].layer_type,)
    gap, box_w, box_h = 1.7, 1.25, 0.28
    n = len(layers)
    top = 0.5 * len(types) * box_h + 0.5 * box_h
    below = top + 0.75  # the other choices are written under the candidates
    arc_room = 0.35 * max(n - 1, 1)
    fig, ax = new_axes(ax, (gap * (n + 1) + 0.4, top + below + arc_room + 0.6), margins=(0.0, 0.0, 0.35, 0.35))
    column = {k: gap * (k + 1) for k in range(n)}
    column[-1], column[n] = 0.0, gap * (n + 1)  # the stem and the classifier
    for k in (-1, n):
        ax.add_patch(FancyBboxPatch((column[k] - 0.35, -0.2), 0.7, 0.4, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc="#f0f0f0", ec="#404040", lw=1.0, zorder=3))
        ax.text(column[k], 0, "stem" if k < 0 else "output", ha="center", va="center", fontsize=7, zorder=4)
    y_of = {}
    for i, layer in enumerate(layers):
        for r, op in enumerate(types):
            y = top - box_h * (r + 1)
            chosen = op == layer.layer_type
            y_of[i] = y if chosen else y_of.get(i, 0.0)
            ax.add_patch(FancyBboxPatch((column[i] - box_w / 2, y - box_h / 2 + 0.02), box_w, box_h - 0.04,
                                        boxstyle="round,pad=0,rounding_size=0.05",
                                        fc=op_color(op) if chosen else "white",
                                        ec="#202020" if chosen else FAINT, lw=1.6 if chosen else 0.6,
                                        zorder=3, gid=f"{'chosen' if chosen else 'candidate'}:layer{i}:{op}"))
            ax.text(column[i], y, op, ha="center", va="center", fontsize=6.5, zorder=4,
                    color=("white" if chosen and op in ("conv3x3", "conv5x5") else "black") if chosen else "#9a9a9a",
                    fontweight="bold" if chosen else "normal")
        detail = f"{layer.activation}\n{layer.normalization}\n{layer.connectivity}\n{layer.filters} filters"
        ax.text(column[i], top - box_h * len(types) - box_h / 2 - 0.05, detail, ha="center", va="top", fontsize=6, color="#404040")
    # the chain: the previous output always feeds the next layer (through the chosen op)
    chain = [(column[-1], 0.0)] + [(column[i], y_of[i]) for i in range(n)] + [(column[n], 0.0)]
    for (x0, y0), (x1, y1) in zip(chain, chain[1:]):
        ax.add_patch(FancyArrowPatch((x0 + (0.35 if x0 == 0.0 else box_w / 2), y0), (x1 - box_w / 2 if x1 != column[n]
                                     else x1 - 0.35, y1), arrowstyle="-|>", mutation_scale=9, color="#404040",
                                     lw=1.4, zorder=2))
    # every possible skip connection j -> i (j <= i - 2), the chosen ones bold
    if space.skip_connections:
        for i, layer in enumerate(layers):
            for j in space.skip_sources(i):
                chosen = j in layer.skips
                _arc(ax, (column[j], top), (column[i], top), 0.25 + 0.15 * (i - j),
                     color=op_color("skip") if chosen else FAINT, chosen=chosen,
                     gid=f"{'chosen' if chosen else 'candidate'}:skip{j}->{i}")
    ax.set_xlim(column[-1] - 0.5, column[n] + 0.5)
    ax.set_ylim(-below - 0.3, top + arc_room + 0.3)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("supernet: chosen op per layer filled, candidates faint" if title is None else title, fontsize=8)
    return fig


def _draw_zoph_le_supernet(arch: Architecture, ax, title) -> Figure:
    space = arch.space
    layers = space.layers(arch)
    unread = set(space.output_layers(arch))
    n, gap, box_w, box_h = len(layers), 1.7, 1.2, 0.6
    arc_room = 0.3 + 0.2 * (n + 1)
    fig, ax = new_axes(ax, (gap * (n + 1) + 0.4, 2 * arc_room + box_h + 0.9), margins=(0.0, 0.0, 0.35, 0.35))
    column = {k: gap * (k + 1) for k in range(n)}
    column[-1], column[n] = 0.0, gap * (n + 1)  # the image and the final concatenation
    for k, label in ((-1, "image"), (n, "concat")):
        ax.add_patch(FancyBboxPatch((column[k] - 0.35, -0.2), 0.7, 0.4, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc="#f0f0f0", ec="#404040", lw=1.0, zorder=3))
        ax.text(column[k], 0, label, ha="center", va="center", fontsize=7, zorder=4)
    for i, layer in enumerate(layers):
        ax.add_patch(FancyBboxPatch((column[i] - box_w / 2, -box_h / 2), box_w, box_h, boxstyle="round,pad=0,rounding_size=0.06",
                                    fc=op_color(layer.op), ec="#202020", lw=1.4, zorder=3, gid=f"chosen:layer{i}:{layer.op}"))
        stride = f", /{layer.stride_height}x{layer.stride_width}" if space.strides else ""
        ax.text(column[i], 0, f"{layer.filter_height}x{layer.filter_width} conv\n{layer.num_filters} filters{stride}",
                ha="center", va="center", fontsize=6.5, color="white", fontweight="bold", zorder=4)
    top, bottom = box_h / 2, -box_h / 2
    for i, layer in enumerate(layers):  # above: the inputs each anchor point could choose
        chosen = not layer.inputs
        _arc(ax, (column[-1] + 0.2, 0.2), (column[i] - 0.2, top), 0.2 + 0.2 * (i + 1),
             color=op_color("image") if chosen else FAINT, chosen=chosen, gid=f"{'chosen' if chosen else 'candidate'}:image->{i}")
        for j in range(i):
            chosen = j in layer.inputs
            _arc(ax, (column[j] + 0.2, top), (column[i] - 0.2, top), 0.2 + 0.2 * (i - j),
                 color=op_color("skip") if chosen else FAINT, chosen=chosen, gid=f"{'chosen' if chosen else 'candidate'}:input{j}->{i}")
    for k in range(n):  # below: the outputs that could join the final concatenation
        chosen = k in unread
        _arc(ax, (column[k] + 0.2, bottom), (column[n] - 0.2, -0.2), -(0.2 + 0.2 * (n - k)),
             color=op_color("concat") if chosen else FAINT, chosen=chosen, gid=f"{'chosen' if chosen else 'candidate'}:concat{k}")
    ax.set_xlim(column[-1] - 0.5, column[n] + 0.5)
    ax.set_ylim(-arc_room - box_h, arc_room + box_h)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("supernet: every possible input faint, the chosen ones bold" if title is None else title, fontsize=8)
    return fig
