"""Architecture drawings: the network a controller sampled, as a graph a student can read.

A macro architecture (this project's layer vocabulary, searched layer by layer) is a chain of layers, one box per
layer (type, activation, normalization, filters), plus the extra edges that its choices
add: ``residual`` (He et al. 2016: the layer's input is added to its output, drawn as an
``+`` node), ``dense`` (Huang et al. 2017: every earlier output feeds the layer),
``attention`` (a learned mix of every earlier output, dashed) and the anchor-point
``skip`` connections of Zoph & Le Sec. 3.3. A NAS-Bench-201 cell (Dong & Yang 2020,
Fig. 1) is its 4-node DAG with one op-labelled edge per pair of nodes; ``none`` edges
compute nothing, so they are left out of the graph and drawn faint. A network of Zoph &
Le's own space (Sec. 3.3) is a chain of conv-BN-ReLU layers (filter shape, filters,
strides) whose edges are the inputs its anchor points chose: the previous layer on the
chain, earlier layers as ``skip`` arcs, the ``image`` for a layer that chose none, and a
``concat`` arc from every layer that no later layer reads into the output. Any other space is
drawn as a chain of its decisions, grouped by ``Decision.layer``, with its skip edges.

Every drawing is a pure function of the architecture that returns a
``matplotlib.figure.Figure`` made without pyplot: nothing leaks into a notebook's
figure manager, and a widget can render it from a background thread
(:func:`figure_to_png`). :func:`architecture_graph` is the drawing's structure as a
``networkx`` graph, so tests (and students) can check it without looking at pixels.
"""

from __future__ import annotations

import io
import itertools
import math

import matplotlib
import networkx as nx
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.path import Path

from ..spaces.cell_space import CellSpace
from ..spaces.macro_space import MacroSpace
from ..spaces.search_space import Architecture
from ..spaces.zoph_le_space import ZophLeSpace

# One colour per op, shared by every drawing and view (Okabe-Ito and ColorBrewer hues, so
# that the ops stay distinguishable for colour-blind readers). An op that does the same
# thing in both spaces (a 3x3 conv, a 3x3 average pool) keeps the same colour in both.
OP_COLORS: dict[str, str] = {
    # NAS-Bench-201 cell ops
    "none": "#bdbdbd",
    "skip_connect": "#8c564b",
    "nor_conv_1x1": "#56b4e9",
    "nor_conv_3x3": "#0072b2",
    "avg_pool_3x3": "#009e73",
    # macro layer types
    "conv1x1": "#56b4e9",
    "conv3x3": "#0072b2",
    "conv5x5": "#6a3d9a",
    "maxpool3x3": "#e69f00",
    "avgpool3x3": "#009e73",
    # DARTS cell ops (none, skip_connect, avg_pool_3x3 above)
    "max_pool_3x3": "#e69f00",
    "sep_conv_3x3": "#0072b2",
    "sep_conv_5x5": "#6a3d9a",
    "dil_conv_3x3": "#56b4e9",
    "dil_conv_5x5": "#cc79a7",
    # macro connectivity (edge kinds); "skip" is an anchor-point skip connection
    "sequential": "#404040",
    "residual": "#d55e00",
    "dense": "#cc79a7",
    "attention": "#b8860b",
    "skip": "#8c564b",
    "image": "#009e73",  # Zoph & Le: a layer that chose no input reads the image
    "concat": "#7570b3",  # Zoph & Le: an output no layer reads joins the final concatenation
    # activations
    "relu": "#1b9e77",
    "tanh": "#d95f02",
    "sigmoid": "#7570b3",
    "swish": "#e7298a",
    "gelu": "#66a61e",
    # normalizations
    "batch_norm": "#a6cee3",
    "layer_norm": "#b2df8a",
    "instance_norm": "#fb9a99",
    "group_norm": "#fdbf6f",
}
# Zoph & Le's conv-BN-ReLU layers: one blue per filter area h * w, darker for larger filters
# (a 3x5 and a 5x3 filter share a colour; the box's label gives the shape)
OP_COLORS.update({
    f"conv{h}x{w}_bn_relu": matplotlib.colors.to_hex(matplotlib.colormaps["Blues"](0.2 + 0.75 * math.log(h * w) / math.log(49)))
    for h in (1, 3, 5, 7)
    for w in (1, 3, 5, 7)
})
FALLBACK_COLOR = "#d9d9d9"  # any choice of a custom space
CONNECTION_KINDS = ("sequential", "residual", "dense", "attention", "skip", "image", "concat")
_EDGE_STYLE = {"attention": "--", "none": ":"}  # every other edge is a solid line
_ARC_BELOW = ("dense", "attention", "concat")  # residual, skip and image arcs go above the chain

# Node geometry in data units (1 unit is about 1 inch in a figure made here).
_BOX = {"layer": (1.15, 0.95), "input": (0.75, 0.45), "output": (0.75, 0.45), "decision": (1.3, 0.6)}
_RADIUS = {"add": 0.16, "node": 0.24}
_GAP = 0.45  # free space between neighbouring nodes
_CELL_GAP = 1.35  # wide enough for an op label on a straight cell edge


def op_color(name) -> str:
    """The palette colour of an op or choice (a neutral grey for names outside the palette)."""
    return OP_COLORS.get(str(name), FALLBACK_COLOR)


def _text_color(color: str) -> str:
    """Black or white, whichever reads better on ``color`` (by relative luminance)."""
    r, g, b = matplotlib.colors.to_rgb(color)
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def figure_to_png(fig, dpi: int = 100) -> bytes:
    """The figure rendered as PNG bytes by the Agg renderer (for ``ipywidgets.Image.value``).

    Safe to call from a background thread: the figure is not managed by pyplot, and
    ``savefig`` only touches this figure.
    """
    buffer = io.BytesIO()
    # light zlib compression: encoding at the default level costs as much as drawing
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


# --- graph structure ---------------------------------------------------------------------------
def architecture_graph(arch: Architecture) -> nx.MultiDiGraph:
    """The architecture as a directed graph (a ``MultiDiGraph``: two kinds of edge may join
    the same pair of nodes, e.g. a skip and a dense edge).

    Node order is left-to-right drawing order (a topological order). Every edge has an
    ``op`` attribute, which is also its key: the cell op for a NAS-Bench-201 cell (``none``
    edges are left out; ``graph.graph["none_edges"]`` lists them as (source, target)), a
    kind from :data:`CONNECTION_KINDS` otherwise. Nodes carry ``kind`` (input, output,
    node, layer, add, decision) and ``label``; layers and decisions also ``op``.

    Macro node names: ``"input"`` (the stem), ``"layer{i}"``, ``"add{i}"`` (the sum of a
    residual layer) and ``"output"``; cell nodes are the integers ``0..num_nodes-1``.
    """
    if not isinstance(arch, Architecture):
        raise ValueError(f"arch: expected an Architecture, got {type(arch).__name__}")
    if isinstance(arch.space, CellSpace):
        return _cell_graph(arch)
    if isinstance(arch.space, MacroSpace):
        return _macro_graph(arch)
    if isinstance(arch.space, ZophLeSpace):
        return _zoph_le_graph(arch)
    return _decision_graph(arch)


def _cell_graph(arch: Architecture) -> nx.MultiDiGraph:
    space = arch.space
    last = space.num_nodes - 1
    graph = nx.MultiDiGraph(space="cell", style="cell", title=str(arch), none_edges=[])
    for i in range(space.num_nodes):
        kind = "input" if i == 0 else "output" if i == last else "node"
        graph.add_node(i, kind=kind, label=str(i))
    for (i, j), op in space.edge_ops(arch).items():  # edge j -> i
        if op == "none":
            graph.graph["none_edges"].append((j, i))
        else:
            graph.add_edge(j, i, key=op, op=op)
    return graph


def _macro_graph(arch: Architecture) -> nx.MultiDiGraph:
    layers = arch.space.layers(arch)
    graph = nx.MultiDiGraph(space="macro", style="chain", title=f"macro architecture: {len(layers)} layers")
    graph.add_node("input", kind="input", label="input")
    outputs = ["input"]  # outputs[0] is the stem, outputs[j + 1] layer j's output
    for i, layer in enumerate(layers):
        node = f"layer{i}"
        label = f"{i}: {layer.layer_type}\n{layer.activation}\n{layer.normalization}\n{layer.filters} filters"
        graph.add_node(node, kind="layer", label=label, op=layer.layer_type, layer=i, **_layer_fields(layer))
        _add_edge(graph, outputs[-1], node, "sequential")
        if layer.connectivity in ("dense", "attention"):
            for source in outputs[:-1]:  # the previous output is already the sequential edge
                _add_edge(graph, source, node, layer.connectivity)
        for j in layer.skips:
            _add_edge(graph, outputs[j + 1], node, "skip")
        output = node
        if layer.connectivity == "residual":  # y = f(x) + x
            output = f"add{i}"
            graph.add_node(output, kind="add", label="+", layer=i)
            _add_edge(graph, node, output, "sequential")
            _add_edge(graph, outputs[-1], output, "residual")
        outputs.append(output)
    graph.add_node("output", kind="output", label="output")
    _add_edge(graph, outputs[-1], "output", "sequential")
    return graph


def _zoph_le_graph(arch: Architecture) -> nx.MultiDiGraph:
    """Zoph & Le's network (Sec. 3.3): edges are the chosen inputs, the image, the final concatenation."""
    space = arch.space
    layers = space.layers(arch)
    graph = nx.MultiDiGraph(space="zoph-le", style="chain", title=f"Zoph & Le architecture: {len(layers)} layers")
    graph.add_node("input", kind="input", label="image")
    for i, layer in enumerate(layers):
        node = f"layer{i}"
        lines = [f"{i}: {layer.filter_height}x{layer.filter_width} conv", f"{layer.num_filters} filters"]
        if space.strides:
            lines.append(f"stride {layer.stride_height}x{layer.stride_width}")
        lines.append("BN, ReLU")
        graph.add_node(node, kind="layer", label="\n".join(lines), op=layer.op, layer=i,
                       filter_height=layer.filter_height, filter_width=layer.filter_width,
                       num_filters=layer.num_filters, stride=layer.stride, inputs=layer.inputs)
        if not layer.inputs:
            _add_edge(graph, "input", node, "sequential" if i == 0 else "image")
        for j in layer.inputs:
            _add_edge(graph, f"layer{j}", node, "sequential" if j == i - 1 else "skip")
    graph.add_node("output", kind="output", label="concat")
    last = len(layers) - 1
    for k in space.output_layers(arch):
        _add_edge(graph, f"layer{k}", "output", "sequential" if k == last else "concat")
    return graph


def _layer_fields(layer) -> dict:
    return {
        "activation": layer.activation,
        "normalization": layer.normalization,
        "connectivity": layer.connectivity,
        "filters": layer.filters,
    }


def _decision_graph(arch: Architecture) -> nx.MultiDiGraph:
    """Any other space: one node per layer group (or per ungrouped decision), in a chain."""
    graph = nx.MultiDiGraph(space=arch.space.name, style="chain", title=f"{arch.space.name} architecture")
    groups: dict = {}  # group key -> node name
    skips = []
    for position, (decision, choice) in enumerate(zip(arch.space.decisions, arch.choices, strict=True)):
        if decision.kind == "skip":
            if choice and decision.layer is not None and decision.source is not None:
                skips.append((decision.source, decision.layer))
            continue
        key = ("layer", decision.layer) if decision.layer is not None else ("decision", position)
        if key not in groups:
            groups[key] = f"layer{decision.layer}" if decision.layer is not None else decision.name
            graph.add_node(groups[key], kind="decision", label="", op=choice, choices={})
        node = graph.nodes[groups[key]]
        node["choices"][decision.name] = choice
        node["label"] = "\n".join(f"{name} = {value}" for name, value in node["choices"].items())
    nodes = list(graph.nodes)
    for source, target in itertools.pairwise(nodes):
        _add_edge(graph, source, target, "sequential")
    order = {node: k for k, node in enumerate(nodes)}
    for source, layer in skips:
        ends = groups.get(("layer", source)), groups.get(("layer", layer))
        if None not in ends and order[ends[0]] < order[ends[1]]:  # skips only reach forward
            _add_edge(graph, *ends, "skip")
    return graph


def _add_edge(graph: nx.MultiDiGraph, source, target, op: str) -> None:
    graph.add_edge(source, target, key=op, op=op)


# --- layout --------------------------------------------------------------------------------------
def _half_size(graph: nx.MultiDiGraph, node) -> tuple[float, float]:
    """Half width and half height of a node (equal for round nodes)."""
    kind = graph.nodes[node]["kind"]
    if graph.graph["style"] == "cell":
        return _RADIUS["node"], _RADIUS["node"]
    if kind in _RADIUS:
        return _RADIUS[kind], _RADIUS[kind]
    width, height = _BOX[kind]
    if kind == "decision":  # sized to its "name = choice" lines
        lines = graph.nodes[node]["label"].split("\n")
        width = max(width, 0.075 * max(len(line) for line in lines) + 0.25)
        height = 0.25 + 0.17 * len(lines)
    return width / 2, height / 2


def _is_round(graph: nx.MultiDiGraph, node) -> bool:
    return graph.graph["style"] == "cell" or graph.nodes[node]["kind"] == "add"


def chain_layout(graph: nx.MultiDiGraph) -> dict:
    """Node -> (x, y): nodes left to right in insertion order, all at y = 0.

    A layered layout with one node per layer (insertion order is a topological order of
    every graph built here), each slot as wide as its node so that labels never overlap;
    edges that skip nodes are drawn as arcs above or below the line.
    """
    gap = _CELL_GAP if graph.graph["style"] == "cell" else _GAP
    positions, x = {}, 0.0
    for k, node in enumerate(graph.nodes):
        half_width, _ = _half_size(graph, node)
        x += (half_width + gap) if k else 0.0
        positions[node] = (x, 0.0)
        x += half_width
    return positions


def _edge_side(graph: nx.MultiDiGraph, order: dict, source, target, op: str) -> int:
    """0 = straight line between neighbours; +1 = arc above the chain; -1 = below it."""
    span = order[target] - order[source]
    if graph.graph["style"] == "cell":  # NAS-Bench-201 picture: long edges alternate sides
        return 0 if span == 1 else (1 if span % 2 == 0 else -1)
    if op == "sequential" and span == 1:
        return 0
    return -1 if op in _ARC_BELOW else 1


def _port(graph, positions, node, side: int, offset: float) -> tuple[float, float]:
    """Where an arc meets ``node``: on its top (side=+1) or bottom (-1), ``offset`` in
    [-1, 1] of the way from its centre to its right edge (negative: to its left edge)."""
    x, _ = positions[node]
    half_w, half_h = _half_size(graph, node)
    if _is_round(graph, node):
        angle = offset * math.radians(70)  # from the vertical
        return x + half_w * math.sin(angle), side * half_h * math.cos(angle)
    return x + half_w * offset, side * half_h


def _edge_geometry(graph, positions, source, target, side: int):
    """``(start, control, end, middle)`` of a quadratic Bezier edge; ``middle`` is its
    point at t = 1/2, where the label goes."""
    (x0, _), (x1, _) = positions[source], positions[target]
    if side == 0:  # straight, trimmed at the node borders
        start, end = (x0 + _half_size(graph, source)[0], 0.0), (x1 - _half_size(graph, target)[0], 0.0)
        middle = ((start[0] + end[0]) / 2, 0.0)
        return start, middle, end, middle
    # Longer arcs rise higher and meet their nodes further out, so arcs sharing a node nest.
    outer = min((x1 - x0) / 10.0, 1.0)
    start = _port(graph, positions, source, side, 0.75 - 0.55 * outer)
    end = _port(graph, positions, target, side, -(0.2 + 0.55 * outer))
    height = max(_half_size(graph, source)[1], _half_size(graph, target)[1]) + 0.25 + 0.13 * (x1 - x0)
    peak = side * height
    control = ((start[0] + end[0]) / 2, 2 * peak - (start[1] + end[1]) / 2)  # B(1/2) = peak
    return start, control, end, ((start[0] + end[0]) / 2, peak)


def _all_edges(graph: nx.MultiDiGraph) -> list[tuple]:
    """Every edge to draw as ``(source, target, op)``, faint ``none`` edges included."""
    edges = list(graph.edges(data="op"))
    return edges + [(s, t, "none") for s, t in graph.graph.get("none_edges", [])]


def _legend_ops(graph: nx.MultiDiGraph) -> list[str]:
    """Ops that the drawing shows by colour, in palette order (plain chain edges excluded)."""
    used = {op for _, _, op in _all_edges(graph) if op != "sequential"}
    used |= {op for node, op in graph.nodes(data="op") if graph.nodes[node]["kind"] in ("layer", "decision")}
    return [op for op in OP_COLORS if op in used]


# --- drawing -------------------------------------------------------------------------------------
def draw_architecture(arch: Architecture, ax=None, *, title: str | None = None, legend: bool = True) -> Figure:
    """Draw ``arch`` (any space) and return the Figure; ``title=""`` leaves the title out.

    Node colours are layer types and edge colours are cell ops or connection kinds, all from
    :data:`OP_COLORS`; the legend lists exactly those that the drawing uses.
    """
    graph = architecture_graph(arch)
    positions = chain_layout(graph)
    order = {node: k for k, node in enumerate(graph.nodes)}
    is_cell = graph.graph["style"] == "cell"
    edges = [(s, t, op, _edge_side(graph, order, s, t, op)) for s, t, op in _all_edges(graph)]
    geometry = [_edge_geometry(graph, positions, s, t, side) for s, t, _, side in edges]
    legend_ops = _legend_ops(graph) if legend else []
    fig, ax = _prepare_axes(ax, graph, positions, geometry, legend_ops, title != "")
    for (_, _, op, _), (start, control, end, middle) in zip(edges, geometry, strict=True):
        _draw_edge(ax, start, control, end, op)
        if is_cell and op != "none":
            ax.text(*middle, op, ha="center", va="center", fontsize=7, zorder=4,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": op_color(op), "lw": 0.8})
    for node in graph.nodes:
        _draw_node(ax, graph, node, positions[node])
    if legend_ops:
        _draw_legend(ax, legend_ops, is_cell)
    if title != "":
        ax.set_title(graph.graph["title"] if title is None else title, fontsize=7 if is_cell else 9, y=1.0, pad=6)
    return fig


def _legend_layout(ops: list[str], width_in: float) -> tuple[int, int]:
    """(columns, rows) of a legend that fits in ``width_in`` inches at font size 7."""
    if not ops:
        return 1, 0
    entry_in = 0.45 + 0.06 * max(len(op) for op in ops)
    columns = max(1, min(len(ops), int(width_in // entry_in)))
    return columns, math.ceil(len(ops) / columns)


def _prepare_axes(ax, graph, positions, geometry, legend_ops, has_title: bool):
    """Axes with equal aspect over the drawing; a new figure is sized so 1 unit = 1 inch."""
    xs = [x for x, _ in positions.values()]
    first, last = list(graph.nodes)[0], list(graph.nodes)[-1]
    half_h = max(_half_size(graph, node)[1] for node in graph.nodes)
    peaks = [middle[1] for _, control, _, middle in geometry] + [half_h, -half_h]
    x_min, x_max = xs[0] - _half_size(graph, first)[0] - 0.1, xs[-1] + _half_size(graph, last)[0] + 0.1
    y_min, y_max = min(peaks) - 0.3, max(peaks) + 0.3
    if graph.graph["style"] == "cell":
        y_min = min(y_min, -half_h - 0.35)  # room for the "input"/"output" captions
    if ax is None:
        width, height = x_max - x_min, y_max - y_min
        _, rows = _legend_layout(legend_ops, width)
        bottom = 0.1 + 0.2 * rows  # inches kept free for the legend below the drawing
        top = 0.3 if has_title else 0.05
        total = height + bottom + top
        fig = Figure(figsize=(width, total))
        ax = fig.add_axes((0.0, bottom / total, 1.0, height / total))
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return ax.figure, ax


def _draw_edge(ax, start, control, end, op: str) -> None:
    faint = op == "none"
    path = Path([start, control, end], [Path.MOVETO, Path.CURVE3, Path.CURVE3])
    ax.add_patch(FancyArrowPatch(
        path=path,
        arrowstyle="-|>",
        mutation_scale=9 if faint else 11,
        color=op_color(op),
        linestyle=_EDGE_STYLE.get(op, "-"),
        linewidth=1.0 if faint else 1.6,
        alpha=0.7 if faint else 1.0,
        zorder=1,
        gid=f"edge:{op}",
    ))


def _draw_node(ax, graph, node, position) -> None:
    data = graph.nodes[node]
    kind, (x, y) = data["kind"], position
    half_w, half_h = _half_size(graph, node)
    if _is_round(graph, node):
        is_add = kind == "add"
        ax.add_patch(Circle((x, y), half_w, fc=op_color("residual") if is_add else "white",
                            ec="#404040", lw=1.2, zorder=3))
        ax.text(x, y, data["label"], ha="center", va="center", fontsize=11 if is_add else 9,
                fontweight="bold", color="white" if is_add else "black", zorder=5)
        if kind in ("input", "output"):
            ax.text(x, y - half_h - 0.06, kind, ha="center", va="top", fontsize=7, color="#404040")
        return
    color = "#f0f0f0" if kind in ("input", "output") else op_color(data.get("op"))
    ax.add_patch(FancyBboxPatch((x - half_w, y - half_h), 2 * half_w, 2 * half_h,
                                boxstyle="round,pad=0,rounding_size=0.08", fc=color, ec="#404040",
                                lw=1.0, zorder=3))
    first, _, rest = data["label"].partition("\n")
    text_color = _text_color(color)
    if kind == "layer":  # the layer type in bold, the other choices under it
        ax.text(x, y + half_h - 0.1, first, ha="center", va="top", fontsize=8, fontweight="bold",
                color=text_color, zorder=5)
        ax.text(x, y + half_h - 0.3, rest, ha="center", va="top", fontsize=7, color=text_color,
                linespacing=1.3, zorder=5)
    else:
        ax.text(x, y, data["label"], ha="center", va="center", fontsize=8, color=text_color,
                linespacing=1.3, zorder=5)


def _draw_legend(ax, ops: list[str], is_cell: bool) -> None:
    """One entry per op: a line for edges (cell ops, connection kinds), a patch for layers."""
    handles = []
    for op in ops:
        if is_cell or op in CONNECTION_KINDS:
            handles.append(Line2D([], [], color=op_color(op), lw=2, linestyle=_EDGE_STYLE.get(op, "-"), label=op))
        else:
            handles.append(Patch(facecolor=op_color(op), edgecolor="#404040", label=op))
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    columns, _ = _legend_layout(ops, width_in)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns, fontsize=7,
              frameon=False, handlelength=2.2, columnspacing=1.2, borderaxespad=0.2)


def legend_labels(fig) -> list[str]:
    """The legend entries of every axes in ``fig``: what a drawing says its colours mean."""
    labels = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            labels.extend(text.get_text() for text in legend.get_texts())
    return labels


def architecture_svg(arch: Architecture) -> str:
    """A small inline ``<svg>`` drawing of ``arch`` (text kept as text) for notebook HTML."""
    fig = draw_architecture(arch)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "nasrl_nb"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, facecolor="white")
    fig.clear()  # not managed by pyplot, so clearing is all that closing it takes
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # inline HTML: no XML prolog or DOCTYPE
    return svg.replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)
