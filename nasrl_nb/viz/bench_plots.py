"""Plots of a tabular benchmark and of searches run on it (NAS-Bench-201, Dong & Yang 2020, Sec. 4-5).

Each function is pure: it takes what :mod:`nasrl_nb.bench.analysis` computes (or a table),
draws into ``ax`` when given or into a new pyplot-free Figure, and returns the Figure.

* :func:`plot_accuracy_distribution` -- the landscape: a histogram with best, top 1% and median;
* :func:`plot_op_importance` -- mean accuracy by op on each edge, with intervals;
* :func:`plot_motifs` -- patterns common among the top architectures against their base rate;
* :func:`plot_proposal_drift` -- how a search's proposals moved over time;
* :func:`plot_best_so_far` -- methods compared over many seeds: mean pick with a band;
* :func:`plot_showdown` -- every method's picks at a comparable cost (``assembly.comparable_cost``);
* :func:`plot_learning` -- does a search learn? What it samples, and its policy's entropy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..validation import require_choice
from .axes import new_axes, style_axes
from .drawing import op_color

BANDS: tuple[str, ...] = ("ci95", "std", "iqr")
METHOD_COLORS = {"random": "#7f7f7f", "evolution": "#009e73", "reinforce": "#0072b2", "ppo": "#d55e00"}


def plot_accuracy_distribution(values, ax=None, *, bins: int = 40, summary: Mapping | None = None,
                               title: str = "Accuracy distribution", xlabel: str = "test accuracy") -> Figure:
    """Histogram of ``values`` (fractions; see ``analysis.unit_values``), with the best, the top-1%
    threshold and the median marked (computed here unless ``summary`` gives them)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    fig, ax = new_axes(ax, (6.0, 3.2))
    ax.hist(values, bins=bins, color="#56b4e9", edgecolor="white", linewidth=0.4)
    marks = summary or {"best": values.max(), "top_1pct": np.quantile(values, 0.99), "median": np.median(values)}
    for key, color, label in (("best", "#009e73", "best"), ("top_1pct", "#e69f00", "top 1%"), ("median", "#d55e00", "median")):
        if key in marks:
            ax.axvline(marks[key], color=color, linewidth=1.2, linestyle="--", label=f"{label} {marks[key]:.3f}")
    ax.set_yscale("log")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    style_axes(ax, title, xlabel, "architectures (log)")
    return fig


def plot_op_importance(rows: Sequence[Mapping], ax=None, *, title: str = "Mean accuracy by op on each edge",
                       ylabel: str = "mean test accuracy") -> Figure:
    """Points with interval bars: one group per edge (``decision``), one colour per ``op``
    (the rows of ``analysis.op_importance``)."""
    decisions = list(dict.fromkeys(r["decision"] for r in rows))
    ops = list(dict.fromkeys(r["op"] for r in rows))
    fig, ax = new_axes(ax, (7.5, 3.4), margins=(0.7, 1.6, 0.6, 0.35))
    width = 0.8 / max(1, len(ops))
    for k, op in enumerate(ops):
        mine = {r["decision"]: r for r in rows if r["op"] == op}
        x = np.array([d for d, name in enumerate(decisions) if name in mine]) + (k - (len(ops) - 1) / 2) * width
        mean = np.array([mine[name]["mean"] for name in decisions if name in mine])
        low = np.array([mine[name]["low"] for name in decisions if name in mine])
        high = np.array([mine[name]["high"] for name in decisions if name in mine])
        ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="o", markersize=4, capsize=2, color=op_color(op), label=op)
    ax.set_xticks(range(len(decisions)), decisions, fontsize=8)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    style_axes(ax, title, "edge (to <- from)", ylabel)
    return fig


def plot_motifs(motifs: Sequence[Mapping], ax=None, *, top: int = 10, title: str = "Motifs of the top architectures") -> Figure:
    """Horizontal bars: share of the top architectures with each motif against its share over all
    (the rows of ``analysis.frequent_motifs``; the first ``top`` of them)."""
    from ..bench.analysis import format_motif

    shown = list(motifs)[:top][::-1]
    labels = [format_motif(m["motif"]) for m in shown]
    fig, ax = new_axes(ax, (7.5, 0.35 * max(3, len(shown)) + 0.9), margins=(min(4.0, 0.07 * max((len(s) for s in labels), default=10)), 0.3, 0.5, 0.35))
    y = np.arange(len(shown))
    ax.barh(y + 0.2, [m["support_top"] for m in shown], height=0.4, color="#0072b2", label="top architectures")
    ax.barh(y - 0.2, [m["support_all"] for m in shown], height=0.4, color="#bbbbbb", label="all architectures")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    style_axes(ax, title, "share containing the motif", "")
    return fig


def plot_proposal_drift(drift: Mapping, ax=None, *, title: str = "Where the proposals went") -> Figure:
    """Stacked shares of each op among the proposals per window, and the mean distance (in
    decisions) to the final pick on a second axis (``analysis.proposal_drift``)."""
    fig, ax = new_axes(ax, (6.5, 3.2), margins=(0.7, 1.9, 0.5, 0.35))
    starts = np.asarray(drift["starts"])
    if drift.get("op_share") is not None:
        shares = np.asarray(drift["op_share"]).T  # (K, W)
        ax.stackplot(starts, shares, labels=drift["options"], colors=[op_color(o) for o in drift["options"]], alpha=0.85, step="post")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.12, 1.0))
    twin = ax.twinx()
    twin.plot(starts, drift["distance"], color="black", linewidth=1.5, drawstyle="steps-post", label="distance to pick")
    twin.set_ylabel("decisions differing from the pick", fontsize=8)
    twin.tick_params(labelsize=8)
    twin.set_ylim(bottom=0)
    style_axes(ax, title, "evaluation", "share of ops")
    return fig


def band(curves, kind: str = "ci95") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(center, low, high)`` over the rows of ``curves`` (runs x evaluations).

    ``ci95``: mean -+ 1.96 standard errors; ``std``: mean -+ one sample std; ``iqr``:
    median with the 25th and 75th percentiles.
    """
    require_choice("band", kind, BANDS)
    curves = np.asarray(curves, dtype=float)
    if kind == "iqr":
        return tuple(np.nanpercentile(curves, q, axis=0) for q in (50, 25, 75))
    mean = np.nanmean(curves, axis=0)
    std = np.nanstd(curves, axis=0, ddof=1) if len(curves) > 1 else np.zeros_like(mean)
    half = std if kind == "std" else 1.96 * std / np.sqrt(np.isfinite(curves).sum(axis=0).clip(min=1))
    return mean, mean - half, mean + half


def plot_best_so_far(curves_by_method: Mapping[str, np.ndarray], ax=None, *, optimum: float | None = None,
                     kind: str = "ci95", title: str = "Best so far (picked by validation, scored on test)",
                     ylabel: str = "test accuracy of the pick") -> Figure:
    """One line per method (mean over runs) with a shaded ``kind`` band (see :func:`band`);
    ``optimum`` draws the table's best as a dashed line."""
    fig, ax = new_axes(ax, (6.5, 3.6))
    for method, curves in curves_by_method.items():
        center, low, high = band(curves, kind)
        x = np.arange(1, len(center) + 1)
        color = METHOD_COLORS.get(method)
        runs = len(np.asarray(curves))
        ax.plot(x, center, color=color, linewidth=1.6, label=f"{method} ({runs} runs)")
        ax.fill_between(x, low, high, color=color or ax.lines[-1].get_color(), alpha=0.2, linewidth=0)
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle="--", linewidth=1, label=f"optimum {optimum:.4f}")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    style_axes(ax, f"{title}; band: {kind}", "evaluations", ylabel)
    return fig


def plot_showdown(records: Sequence[Mapping], ax=None, *, optimum: float | None = None,
                  title: str = "The showdown: test accuracy of each method's pick") -> Figure:
    """One column per method (the records of :func:`nasrl_nb.assembly.comparable_cost.run_showdown`):
    a point per seed, the mean with a one-std error bar, the mean cost under the name;
    one-shot methods in orange, multi-trial ones in blue; ``optimum`` as a dashed line."""
    methods = list(dict.fromkeys(r["method"] for r in records))
    fig, ax = new_axes(ax, (max(5.0, 0.85 * len(methods) + 1.5), 3.6), margins=(0.7, 0.2, 0.75, 0.35))
    rng = np.random.default_rng(0)  # the jitter only
    for k, method in enumerate(methods):
        mine = [r for r in records if r["method"] == method]
        acc = np.array([r["test_accuracy"] for r in mine])
        color = "#d55e00" if mine[0].get("kind") == "one-shot" else "#0072b2"
        ax.scatter(k + rng.uniform(-0.15, 0.15, len(acc)), acc, s=14, color=color, alpha=0.5, linewidths=0)
        std = acc.std(ddof=1) if len(acc) > 1 else 0.0
        ax.errorbar([k + 0.28], [acc.mean()], yerr=[std], fmt="o", color=color, markersize=5, capsize=3)
    labels = [f"{m}\n{np.mean([r['cost_seconds'] for r in records if r['method'] == m]):.1f} s" for m in methods]
    ax.set_xticks(range(len(methods)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(methods) - 0.4)
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle="--", linewidth=1, label=f"table best {optimum:.4f}")
    ax.scatter([], [], color="#0072b2", s=14, label="multi-trial (on the table)")
    ax.scatter([], [], color="#d55e00", s=14, label="one-shot (a real supernet)")
    ax.legend(fontsize=7, frameon=False, loc="best")
    style_axes(ax, title, "method (mean cost in table seconds)", "test accuracy of the pick")
    return fig


def plot_learning(curves_by_method: Mapping[str, Sequence], *, window: int = 10,
                  title: str = "What each search samples as it goes") -> Figure:
    """Two panels from :class:`~nasrl_nb.assembly.compare.LearningCurve` objects (several seeds per method).

    Left: the reward (validation accuracy) of the architectures evaluated, a moving average over
    ``window`` evaluations, mean over seeds with a 95% band: a search that learns samples better
    architectures as it goes, random search does not. Right: the policy's entropy after each
    update (nats, summed over decisions), for the methods that have a policy.
    """
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    ax_reward, ax_entropy = fig.subplots(1, 2)
    kernel = np.ones(window) / window
    for method, curves in curves_by_method.items():
        rewards = np.stack([np.convolve(c.rewards, kernel, mode="valid") for c in curves])  # (seeds, T - window + 1)
        center, low, high = band(rewards)
        x = np.arange(window, window + len(center))
        color = METHOD_COLORS.get(method)
        ax_reward.plot(x, center, color=color, linewidth=1.6, label=f"{method} ({len(curves)} seeds)")
        ax_reward.fill_between(x, low, high, color=color or ax_reward.lines[-1].get_color(), alpha=0.2, linewidth=0)
        if len(curves[0].entropy):
            entropy = np.stack([c.entropy for c in curves])  # (seeds, updates)
            evaluations = curves[0].batch_size * np.arange(1, entropy.shape[1] + 1)
            ax_entropy.plot(evaluations, entropy.mean(0), color=color, linewidth=1.6, label=method)
    ax_reward.legend(fontsize=8, frameon=False, loc="lower right")
    style_axes(ax_reward, f"{title} (moving average of {window})", "evaluations", "reward (val. accuracy)")
    if ax_entropy.lines:
        ax_entropy.legend(fontsize=8, frameon=False)
    style_axes(ax_entropy, "The policy's entropy after each update", "evaluations", "entropy (nats)")
    return fig
