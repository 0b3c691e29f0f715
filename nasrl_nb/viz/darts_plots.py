"""Pictures of a DARTS search: the mixing weights as a heat map, and the collapse over epochs.

Plain functions of plain data -- the per-epoch records a DARTS search writes into
``steps.jsonl`` (:mod:`nasrl_nb.oneshot.darts_strategy`) -- that return a Figure and take an
``ax``, so a notebook, a replay and a live widget draw the same pictures.

The collapse (Zela et al., ICLR 2020, Sec. 3; NAS-Bench-201, Dong & Yang 2020, Sec. 5): as
the search goes on, the derived cell fills with parameter-free ops (skip connections,
pooling) and its accuracy falls. :func:`collapse_warning` flags it once the share of such ops
in the derived cell reaches a threshold.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

COLLAPSE_THRESHOLD = 0.5  # share of the derived cell's edges


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


def collapse_warning(epochs: Sequence[Mapping], threshold: float = COLLAPSE_THRESHOLD) -> str | None:
    """A sentence when the latest derived cell's parameter-free share (else skip share) reaches ``threshold``."""
    if not epochs:
        return None
    last = epochs[-1]
    share = last.get("parameter_free_share")
    kind = "parameter-free ops (skip, pooling)"
    if share is None:
        share, kind = last.get("skip_share"), "skip connections"
    if share is None or share < threshold:
        return None
    return (f"collapse warning: {share:.0%} of the derived cell's edges are {kind} at epoch {last.get('epoch')} "
            f"(threshold {threshold:.0%}); try a remedy (--remedy darts-, darts+ or r-darts-l2)")


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

    The threshold is drawn as a dashed line and the title turns into the warning once it is reached.
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
