"""Pictures of a DARTS search: the mixing weights as a heat map, and the collapse over epochs.

Plain functions of plain data -- the per-epoch records a DARTS search writes into
``steps.jsonl`` (:mod:`nasrl_nb.darts.strategy`) -- that return a Figure and take an
``ax``, so a notebook, a replay and a live widget draw the same pictures.

The collapse (Zela et al., ICLR 2020, Sec. 3; NAS-Bench-201, Dong & Yang 2020, Sec. 5): as
the search goes on, the derived cell fills with parameter-free ops (skip connections,
pooling) and its accuracy falls. :func:`collapse_warning` flags it once the share of such ops
in the derived cell reaches a threshold set above a random cell's, and the mixing weights
really moved towards them (see :data:`COLLAPSE_THRESHOLD`).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from .axes import label_width, new_axes, set_title, style_axes
from .drawing import op_color

# When the collapse warning fires, set against chance. A random cell is already partly
# parameter-free: 41% of the edges of the digits-cell table's cells (2 of NAS-Bench-201's 5 ops,
# `none` counted), and a cell derived from random alphas (`none` excluded) is 50% on average,
# and >= 4 of 6 edges one time in three. So (1) the derived cell's share must reach 2/3, and
# (2) where the records hold it, the softmax mass on parameter-free ops (mean over edges) must
# exceed its value at uniform alphas (2/5 on the cell space) by COLLAPSE_MARGIN: the alphas drifted,
# the argmax is not noise (notebook 08 shows a run of each kind).
COLLAPSE_THRESHOLD = 2 / 3  # share of the derived cell's edges
COLLAPSE_MARGIN = 0.05  # softmax mass on parameter-free ops above its chance value


def darts_epochs(steps, history: Sequence[Mapping] | None = None) -> list[dict]:
    """One record per search epoch from ``steps.jsonl`` lines or :class:`SearchStep`\\ s.

    With ``history`` (the run's history records, one per epoch in the same order) each
    record also gets the derived cell's ``val_accuracy`` and ``test_accuracy`` as the
    evaluator measured them (a table's ground truth, or the child trained from scratch).
    """
    epochs = []
    for step in steps:
        stats = step.get("stats") if isinstance(step, Mapping) else getattr(step, "stats", None)
        epochs.extend(dict(e) for e in (stats or {}).get("epochs", []))
    if history is not None:
        for epoch, record in zip(epochs, history):
            epoch["val_accuracy"] = record.get("val_accuracy")
            epoch["test_accuracy"] = record.get("test_accuracy")
    return epochs


def collapse_warning(epochs: Sequence[Mapping], threshold: float = COLLAPSE_THRESHOLD,
                     margin: float = COLLAPSE_MARGIN) -> str | None:
    """A sentence when the latest epoch shows a real collapse, else None.

    It fires when the derived cell's parameter-free share (else its skip share) reaches
    ``threshold`` and -- for records that hold ``parameter_free_weight`` and
    ``parameter_free_chance`` (the softmax mass on parameter-free ops and its value at uniform
    alphas) -- that mass exceeds its chance value by at least ``margin``.
    """
    if not epochs:
        return None
    last = epochs[-1]
    share = last.get("parameter_free_share")
    kind = "parameter-free ops (skip, pooling)"
    if share is None:
        share, kind = last.get("skip_share"), "skip connections"
    if share is None or share < threshold - 1e-9:  # 4/6 reaches 2/3
        return None
    mass, chance = last.get("parameter_free_weight"), last.get("parameter_free_chance")
    drift = ""
    if mass is not None and chance is not None:
        if mass < chance + margin:  # the argmax lands on them, but the weights have not moved: noise
            return None
        drift = f", softmax mass on them {mass:.2f} against {chance:.2f} at uniform alphas"
    return (f"collapse warning: {share:.0%} of the derived cell's edges are {kind} at epoch {last.get('epoch')} "
            f"(threshold {threshold:.0%}{drift}); try a remedy (--remedy darts-, darts+ or r-darts-l2)")


def _axes(ax, figsize):
    if ax is None:
        fig = Figure(figsize=figsize)
        return fig, fig.add_subplot(1, 1, 1)
    return ax.figure, ax


def plot_alpha_heatmap(weights, ops: Sequence[str], ax=None, *, edge_names: Sequence[str] | None = None,
                       title: str = "Mixing weights softmax(α) per edge") -> Figure:
    """``weights`` (edges, ops) as a heat map; the op each edge would keep (argmax, ``none`` excluded) is boxed."""
    weights = np.asarray(weights, dtype=float)
    ops = [str(op) for op in ops]
    if weights.ndim != 2 or weights.shape[1] != len(ops):
        raise ValueError(f"weights: expected shape (edges, {len(ops)}) for ops {ops}, got {weights.shape}")
    names = list(edge_names) if edge_names is not None else [f"edge {e}" for e in range(len(weights))]
    if len(names) != len(weights):
        raise ValueError(f"edge_names: expected {len(weights)} names, got {len(names)}")
    fig, ax = _axes(ax, (1.6 + 1.1 * len(ops), 1.0 + 0.4 * len(names)))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=max(float(weights.max()), 1e-9), aspect="auto")
    kept = weights.copy()
    if "none" in ops:
        kept[:, ops.index("none")] = -np.inf
    for e, row in enumerate(weights):
        for k, value in enumerate(row):
            ax.text(k, e, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 * weights.max() else "white")
        k = int(np.argmax(kept[e]))
        ax.add_patch(Rectangle((k - 0.5, e - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    ax.set_xticks(range(len(ops)), ops, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    return fig


def latest_mixing_weights(epochs: Sequence[Mapping]) -> tuple[int, dict] | None:
    """``(epoch, weights by cell type)`` of the latest epoch record that holds mixing weights.

    A DARTS+ search that stopped repeats its last cell without running an epoch, so its
    later records carry no weights; the weights then are those of the epoch it stopped at.
    """
    for record in reversed(epochs):
        if record.get("weights"):
            return int(record["epoch"]), dict(record["weights"])
    return None


def plot_alpha_heatmaps(weights: Mapping[str, Sequence], ops: Sequence[str], *,
                        edge_names: Mapping[str, Sequence[str]] | None = None,
                        title: str = "Mixing weights softmax(α) per edge") -> Figure:
    """One :func:`plot_alpha_heatmap` per cell type (the cell space: one; DARTS: normal and reduce), side by side."""
    if not weights:
        raise ValueError("weights: expected at least one cell type's (edges, ops) array")
    kinds = list(weights)
    shapes = [np.asarray(weights[k], dtype=float).shape for k in kinds]
    rows = max(s[0] if len(s) == 2 else 1 for s in shapes)
    fig = Figure(figsize=((1.6 + 1.1 * len(ops)) * len(kinds), 1.3 + 0.4 * rows))
    for k, kind in enumerate(kinds):
        ax = fig.add_subplot(1, len(kinds), k + 1)
        names = None if edge_names is None else edge_names.get(kind)
        plot_alpha_heatmap(weights[kind], ops, ax, edge_names=names, title=kind if len(kinds) > 1 else "")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_collapse(epochs: Sequence[Mapping], ax=None, *, threshold: float = COLLAPSE_THRESHOLD,
                  title: str = "The collapse: parameter-free ops in the derived cell") -> Figure:
    """Skip share and parameter-free share of the derived cell per epoch; its accuracy on the right axis.

    Where the records hold it, the softmax mass on parameter-free ops too, its chance value dotted.
    The threshold is drawn as a dashed line and the title turns into the warning once it fires.
    """
    if not epochs:
        raise ValueError("epochs: expected at least one epoch record (see darts_epochs)")
    own = ax is None
    fig, ax = _axes(ax, (6.5, 3.2))
    x = [e["epoch"] for e in epochs]
    ax.plot(x, [e["skip_share"] for e in epochs], marker="o", markersize=3, label="skip share", color="tab:red")
    if all(e.get("parameter_free_share") is not None for e in epochs):
        ax.plot(x, [e["parameter_free_share"] for e in epochs], marker="s", markersize=3, color="tab:orange",
                label="parameter-free share")
    if all(e.get("parameter_free_weight") is not None for e in epochs):  # the drift before the argmax
        ax.plot(x, [e["parameter_free_weight"] for e in epochs], color="tab:purple", linewidth=1.5,
                label="softmax mass on parameter-free ops")
        ax.axhline(epochs[-1]["parameter_free_chance"], color="tab:purple", linestyle=":", linewidth=1)
    ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("share of edges")
    accuracy = [e.get("test_accuracy") for e in epochs]
    if all(a is not None for a in accuracy):
        right = ax.twinx()
        right.plot(x, accuracy, color="tab:blue", marker="^", markersize=3, label="derived cell accuracy")
        right.set_ylim(0.0, 1.0)
        right.set_ylabel("derived cell test accuracy", color="tab:blue")
        right.legend(loc="lower right", fontsize=7, frameon=False)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    warning = collapse_warning(epochs, threshold)
    text = textwrap.fill(warning.split(";")[0], width=75) if warning else title  # the figure's width
    ax.set_title(text, fontsize=9, color="tab:red" if warning else "black")
    if own:
        fig.tight_layout()  # the axis labels inside the picture
    return fig


def plot_arch_gradient(values, ops: Sequence[str], ax=None, *, edge_names: Sequence[str] | None = None,
                       title: str = "Architecture gradient") -> Figure:
    """A signed (edges, ops) array -- a gradient, a term of Eq. 7, a change of weights -- on a diverging scale."""
    values = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)
    ops = [str(op) for op in ops]
    if values.ndim != 2 or values.shape[1] != len(ops):
        raise ValueError(f"values: expected shape (edges, {len(ops)}) for ops {ops}, got {values.shape}")
    names = list(edge_names) if edge_names is not None else [f"edge {e}" for e in range(len(values))]
    fig, ax = _axes(ax, (1.6 + 1.1 * len(ops), 1.0 + 0.4 * len(names)))
    scale = max(float(np.abs(values).max()), 1e-12)
    image = ax.imshow(values, cmap="RdBu_r", vmin=-scale, vmax=scale, aspect="auto")
    for e, row in enumerate(values):
        for k, value in enumerate(row):
            ax.text(k, e, f"{value:.1e}", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(ops)), ops, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    return fig


# --- the weights per edge over the steps: stacked bars, or one panel per edge -----------------------
def softmax(values, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``."""
    values = np.asarray(values, dtype=float)
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _edge_names(num_edges: int) -> list[str]:
    """``j→i`` names in the cell space's edge order when ``num_edges`` fits a full DAG."""
    num_nodes = (1 + math.isqrt(1 + 8 * num_edges)) // 2
    if num_nodes * (num_nodes - 1) // 2 == num_edges:
        return [f"{j}→{i}" for i in range(1, num_nodes) for j in range(i)]
    return [f"edge {e}" for e in range(num_edges)]


def plot_alphas(alphas, ops: Sequence[str], ax=None, *, edge_names: Sequence[str] | None = None,
                title: str = "Architecture weights softmax(α)") -> Figure:
    """DARTS architecture weights per edge, softmaxed over ``ops``.

    ``alphas`` of shape (edges, ops) draws one stacked bar per edge; (steps, edges, ops)
    draws one small panel per edge with a line per op over the steps. Each edge is
    labelled with its strongest op, the one a discretized cell would keep.
    """
    alphas = np.asarray(alphas, dtype=float)
    ops = [str(op) for op in ops]
    if alphas.ndim not in (2, 3) or alphas.shape[-1] != len(ops):
        raise ValueError(f"alphas: expected shape (edges, {len(ops)}) or (steps, edges, {len(ops)}) for ops {ops}, got {alphas.shape}")
    weights = softmax(alphas)
    num_edges = weights.shape[-2]
    names = list(edge_names) if edge_names is not None else _edge_names(num_edges)
    if len(names) != num_edges:
        raise ValueError(f"edge_names: expected {num_edges} names, got {len(names)}")
    if weights.ndim == 2:
        return _alpha_bars(weights, ops, names, ax, title)
    return _alpha_panels(weights, ops, names, ax, title)


def _ink(color: str) -> str:
    """``color`` darkened enough to read as text on white (light greys, yellows)."""
    rgb = np.array(colors.to_rgb(color))
    if rgb @ np.array([0.2126, 0.7152, 0.0722]) > 0.55:  # relative luminance
        rgb = rgb * 0.6
    return colors.to_hex(rgb)


def _alpha_bars(weights, ops, names, ax, title) -> Figure:
    left = 0.65 + label_width(names, 8)
    fig, ax = new_axes(ax, (left + 5.5, 1.8 + 0.35 * len(names)), (left, 1.3, 1.0, 0.35))
    rows = np.arange(len(names))
    left = np.zeros(len(names))
    for k, op in enumerate(ops):
        ax.barh(rows, weights[:, k], left=left, color=op_color(op), edgecolor="white", linewidth=0.5, label=op)
        left += weights[:, k]
    for e, row in enumerate(weights):
        strongest = ops[int(np.argmax(row))]
        ax.text(1.02, e, strongest, va="center", ha="left", fontsize=8, color=_ink(op_color(strongest)), fontweight="bold")
    ax.set_yticks(rows, names, fontsize=8)
    ax.set_xlim(0.0, 1.0)
    ax.invert_yaxis()
    style_axes(ax, title, "weight", "edge")
    ax.grid(False)
    below_xlabel = -0.5 / (ax.get_position().height * fig.get_figheight())  # 0.5 inch under the axes
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, below_xlabel), ncol=min(len(ops), 5), frameon=False)
    return fig


def _alpha_panels(weights, ops, names, ax, title) -> Figure:
    """One inset panel per edge inside ``ax`` (so a caller's axes still hold the whole view)."""
    num_edges = len(names)
    columns = min(num_edges, 3)
    rows = math.ceil(num_edges / columns)
    if ax is None:
        fig = Figure(figsize=(3.2 * columns, 2.0 * rows + 0.8))
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    fig = ax.figure
    ax.set_axis_off()
    steps = np.arange(weights.shape[0])
    legend_h, title_h = 0.1, 0.06
    cell_w, cell_h = 1.0 / columns, (1.0 - legend_h - title_h) / rows
    for e, name in enumerate(names):
        r, c = divmod(e, columns)
        panel = ax.inset_axes((c * cell_w + 0.14 * cell_w, legend_h + (rows - 1 - r) * cell_h + 0.2 * cell_h,
                               0.8 * cell_w, 0.62 * cell_h))
        for k, op in enumerate(ops):
            panel.plot(steps, weights[:, e, k], color=op_color(op), linewidth=1.4)
        strongest = ops[int(np.argmax(weights[-1, e]))]
        set_title(panel, f"{name}: {strongest}", fontsize=8, color=_ink(op_color(strongest)), fontweight="bold")
        panel.set_ylim(0.0, 1.0)
        panel.tick_params(labelsize=7)
        panel.grid(alpha=0.3, linewidth=0.5)
        panel.spines[["top", "right"]].set_visible(False)
        if c == 0:
            panel.set_ylabel("weight", fontsize=8)
        if r == rows - 1:
            panel.set_xlabel("step", fontsize=8)
    handles = [Line2D([], [], color=op_color(op), linewidth=2, label=op) for op in ops]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(ops), 5),
              fontsize=7, frameon=False)
    ax.text(0.5, 1.0 - title_h / 2, title, transform=ax.transAxes, ha="center", va="center", fontsize=10)
    return fig
