"""Views of a running search: the policy, the rewards, the trade-offs, one child's training.

What a NAS-RL student watches while the controller learns (Zoph & Le 2017, Sec. 3.2):

* the **policy** — each decision's softmax over its options (:func:`plot_policy_heatmap`)
  and how its entropy falls as the policy commits (:func:`plot_entropy_over_time`);
* the **rewards** — every child's reward, the moving-average baseline that REINFORCE
  subtracts, and the best reward so far (:func:`plot_rewards`);
* the **trade-off** between accuracy and cost with its Pareto front
  (:func:`plot_accuracy_vs_cost`; MnasNet, Tan et al. 2019, makes it the objective);
* one child's **training curve** (:func:`plot_training_curve`).

DARTS's architecture weights are drawn by :mod:`nasrl_nb.viz.darts_plots`.

Every function is pure: it takes plain data (the contract's ``PolicySnapshot``,
``SearchStep`` and history records, or the equivalent dicts and lists), draws into ``ax``
when given or into a new pyplot-free ``Figure``, and returns the Figure. Render one for a
widget with :func:`nasrl_nb.viz.drawing.figure_to_png`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..rewards.pareto import pareto_front
from ..validation import require_choice
from .axes import label_width, new_axes, set_title, style_axes

COST_METRICS: dict[str, str] = {"params": "parameters", "flops": "FLOPs", "latency_ms": "latency (ms)"}
ENTROPY_STYLES = ("auto", "lines", "image")
POLICY_VALUES = ("probs", "marginals")
_SAMPLE_COLOR, _FAILED_COLOR, _BASELINE_COLOR, _BEST_COLOR = "#0072b2", "#d55e00", "#e69f00", "#009e73"
_MAX_LINES = 8  # more decisions than this read better as an image than as lines
_MAX_ANNOTATED_CELLS = 240  # beyond this, per-cell labels cost more than they tell


# --- shared helpers ------------------------------------------------------------------------------
def _get(item, name: str, default=None):
    """``item.name`` or ``item[name]``: views take dataclasses and plain dicts alike."""
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _colorbar(fig, image, ax, created: bool, label: str) -> None:
    """A colorbar in the right margin of a figure made here, else stolen from ``ax``."""
    if created:
        box = ax.get_position()
        cax = fig.add_axes((box.x1 + 0.15 / fig.get_figwidth(), box.y0, 0.12 / fig.get_figwidth(), box.height))
        fig.colorbar(image, cax=cax, label=label)
    else:
        fig.colorbar(image, ax=ax, label=label, aspect=25)


def _finite(value) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool) and math.isfinite(value)


def entropy_of(probs) -> float:
    """Shannon entropy ``-sum p log p`` in nats (0 log 0 = 0)."""
    p = np.asarray(probs, dtype=float)
    return float(-(p[p > 0] * np.log(p[p > 0])).sum())


# --- policy view ---------------------------------------------------------------------------------
def _policy_rows(snapshot, values: str) -> tuple[list[str], list[tuple], list[np.ndarray]]:
    """Decision names, their options and one probability row per decision."""
    require_choice("values", values, POLICY_VALUES)
    decisions, choices, rows = _get(snapshot, "decisions"), _get(snapshot, "choices"), _get(snapshot, values)
    if decisions is None or choices is None or rows is None:
        raise ValueError(f"snapshot: expected a PolicySnapshot or dict with decisions, choices and {values}")
    decisions, choices = [str(d) for d in decisions], [tuple(c) for c in choices]
    rows = [np.asarray(r, dtype=float) for r in rows]
    if not len(decisions) == len(choices) == len(rows):
        raise ValueError(f"snapshot: {len(decisions)} decisions, {len(choices)} choice lists and {len(rows)} {values} rows must match")
    for name, options, row in zip(decisions, choices, rows, strict=True):
        if row.shape != (len(options),):
            raise ValueError(f"snapshot: decision {name!r} has {len(options)} options but {row.size} {values}")
    return decisions, choices, rows


def policy_matrix(rows: Sequence) -> np.ma.MaskedArray:
    """Ragged rows as a (decisions, max options) array, masked where a row has no option."""
    width = max((len(r) for r in rows), default=0)
    matrix = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        matrix[i, : len(row)] = row
    return np.ma.masked_invalid(matrix)


def _group_boundaries(decisions: Sequence[str]) -> list[int]:
    """Row indices where a new layer/node starts (``layer_2.x``, ``node3<-0`` prefixes)."""
    groups = [re.split(r"[.<]", name, maxsplit=1)[0] for name in decisions]
    return [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]]


def plot_policy_heatmap(snapshot, ax=None, *, values: str = "probs", annotate: bool | None = None,
                        colorbar: bool = True, title: str | None = None) -> Figure:
    """Decisions x options heat map of the policy's probabilities.

    Rows have different numbers of options, so cells past a row's last option are masked
    (drawn blank). Each cell is labelled with its option and probability, the most likely
    option in bold. ``values="marginals"`` shows the sampled marginals instead of the
    greedy-path ``probs``; ``annotate=None`` labels cells unless there are very many.
    """
    decisions, choices, rows = _policy_rows(snapshot, values)
    matrix = policy_matrix(rows)
    num_rows, width = matrix.shape
    created = ax is None
    tick_size = 7 if num_rows > 12 else 8
    left = 0.2 + label_width(decisions, tick_size)
    right = 1.0 if colorbar else 0.15
    fig, ax = new_axes(ax, (left + right + 1.25 * width, 0.6 + 0.24 * num_rows), (left, right, 0.15, 0.4))
    cmap = colormaps["Blues"].with_extremes(bad="#f4f4f4")
    image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    if annotate is None:
        annotate = matrix.count() <= _MAX_ANNOTATED_CELLS
    if annotate:
        for i, (options, row) in enumerate(zip(choices, rows, strict=True)):
            best = int(np.argmax(row))
            for j, (option, p) in enumerate(zip(options, row, strict=True)):
                ax.text(j, i, f"{option} {p:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if p > 0.6 else "black", fontweight="bold" if j == best else "normal")
    for boundary in _group_boundaries(decisions):
        ax.axhline(boundary - 0.5, color="white", linewidth=2.5)
    ax.set_yticks(range(num_rows), decisions, fontsize=tick_size)
    ax.set_xticks([])  # columns are option slots; each cell names its option
    ax.tick_params(length=0)
    set_title(ax, title or f"Policy: {'greedy-path probabilities' if values == 'probs' else 'sampled marginals'}")
    if colorbar:
        _colorbar(fig, image, ax, created, "probability")
    return fig


def _snapshot_entropy(snapshot) -> np.ndarray:
    entropy = _get(snapshot, "entropy")
    if entropy is None:
        probs = _get(snapshot, "probs")
        if probs is None:
            raise ValueError("snapshots: each needs an entropy array or probs rows")
        return np.array([entropy_of(p) for p in probs])
    return np.asarray(entropy, dtype=float)


def entropy_matrix(data) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(steps (T,), entropy (T, D), decision names)`` from snapshots, steps or an array.

    ``data`` is a (T, D) array-like of entropies, a list of ``PolicySnapshot`` (or dicts
    with ``entropy`` or ``probs``), or a list of ``SearchStep`` (their ``.policy``;
    steps without a policy are skipped). Snapshots of a growing space (a curriculum: each
    one's decisions start with the previous one's) are padded with NaN before a decision exists.
    """
    items = list(data) if not isinstance(data, np.ndarray) else data
    if len(items) and not isinstance(items, np.ndarray) and not _is_number_row(items[0]):
        steps, rows, names, decisions = [], [], None, []
        for k, item in enumerate(items):
            snapshot = item if _get(item, "entropy") is not None or _get(item, "probs") is not None else _get(item, "policy")
            if snapshot is None:
                continue
            rows.append(_snapshot_entropy(snapshot))
            steps.append(_get(item, "step", k) if snapshot is not item else k)
            decisions.append([str(d) for d in (_get(snapshot, "decisions") or [])])
            names = names or decisions[-1]
        if len({len(r) for r in rows}) > 1:
            widest = max(decisions, key=len)
            if not all(d and widest[: len(d)] == d for d in decisions):
                raise ValueError("snapshots: every snapshot must have the same number of decisions "
                                 "(or, for a growing space, start with the same decisions)")
            names = widest
            rows = [np.concatenate([r, np.full(len(widest) - len(r), np.nan)]) for r in rows]
        matrix = np.array(rows, dtype=float).reshape(len(rows), -1 if rows else 0)
        names = names or [f"decision {d}" for d in range(matrix.shape[1])]
        return np.asarray(steps, dtype=float), matrix, names
    matrix = np.asarray(items, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]  # one decision over time
    if matrix.ndim != 2:
        raise ValueError(f"entropy: expected a (steps, decisions) array, got shape {matrix.shape}")
    return np.arange(matrix.shape[0], dtype=float), matrix, [f"decision {d}" for d in range(matrix.shape[1])]


def _is_number_row(item) -> bool:
    return _finite(item) or (isinstance(item, (Sequence, np.ndarray)) and not isinstance(item, (str, Mapping)))


def plot_entropy_over_time(snapshots_or_entropy_matrix, ax=None, *, decisions: Sequence[str] | None = None,
                           style: str = "auto", title: str = "Policy entropy per decision") -> Figure:
    """The entropy (nats) of every decision over time: it falls as the policy commits.

    ``style="lines"`` draws one line per decision, ``"image"`` a decisions x steps heat
    map (readable with dozens of decisions); ``"auto"`` picks lines for up to 8 decisions.
    """
    require_choice("style", style, ENTROPY_STYLES)
    steps, matrix, names = entropy_matrix(snapshots_or_entropy_matrix)
    if decisions is not None:
        if len(decisions) != matrix.shape[1]:
            raise ValueError(f"decisions: expected {matrix.shape[1]} names, got {len(decisions)}")
        names = [str(d) for d in decisions]
    num_decisions = matrix.shape[1]
    if style == "auto":
        style = "lines" if num_decisions <= _MAX_LINES else "image"
    if style == "lines":
        legend_width = 0.75 + label_width(names, 7) if num_decisions else 0.2
        fig, ax = new_axes(ax, (6.0 + legend_width, 3.6), (0.7, legend_width, 0.5, 0.35))
        palette = colormaps["tab10" if num_decisions <= 10 else "tab20"].colors
        for d in range(num_decisions):
            ax.plot(steps, matrix[:, d], color=palette[d % len(palette)], linewidth=1.5, label=names[d])
        if num_decisions:
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        style_axes(ax, title, "step", "entropy (nats)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0.0)
        return fig
    created = ax is None
    tick_size = 7 if num_decisions > 12 else 8
    left = 0.2 + label_width(names, tick_size)
    fig, ax = new_axes(ax, (left + 7.0, 0.95 + 0.22 * num_decisions), (left, 1.0, 0.5, 0.35))
    dx = float(np.median(np.diff(steps))) if len(steps) > 1 else 1.0
    extent = (steps[0] - dx / 2, steps[-1] + dx / 2, num_decisions - 0.5, -0.5) if len(steps) else None
    image = ax.imshow(matrix.T, aspect="auto", cmap=colormaps["magma"], vmin=0.0, interpolation="nearest", extent=extent)
    ax.set_yticks(range(num_decisions), names, fontsize=tick_size)
    style_axes(ax, title, "step", "")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(False)
    _colorbar(fig, image, ax, created, "entropy (nats)")
    return fig


# --- reward view ---------------------------------------------------------------------------------
def reward_series(history_records_or_steps) -> dict[str, np.ndarray]:
    """Every sample's ``step``/``reward``/``ok`` and the per-step ``baseline`` as arrays.

    Accepts history records (dicts with ``step``, ``reward``, ``status`` and optionally
    ``baseline``) or ``SearchStep``-like items (``step``, ``rewards``, ``results``,
    ``baseline``); a record without ``step`` counts as its own step.
    """
    sample_steps, rewards, ok, baselines = [], [], [], {}
    for k, item in enumerate(history_records_or_steps):
        step = _get(item, "step", k)
        step_rewards = _get(item, "rewards")
        if step_rewards is not None:  # a SearchStep: a batch of samples
            results = _get(item, "results") or [{}] * len(step_rewards)
            for reward, result in zip(step_rewards, results, strict=True):
                sample_steps.append(step)
                rewards.append(float(reward) if _finite(reward) else np.nan)
                ok.append(_get(result, "status", "ok") == "ok")
        else:  # a history record: one sample
            reward = _get(item, "reward")
            sample_steps.append(step)
            rewards.append(float(reward) if _finite(reward) else np.nan)
            ok.append(_get(item, "status", "ok") == "ok")
        baseline = _get(item, "baseline")
        if _finite(baseline):
            baselines[step] = float(baseline)
    baseline_steps = sorted(baselines)
    return {
        "step": np.asarray(sample_steps, dtype=float),
        "reward": np.asarray(rewards, dtype=float),
        "ok": np.asarray(ok, dtype=bool),
        "baseline_step": np.asarray(baseline_steps, dtype=float),
        "baseline": np.asarray([baselines[s] for s in baseline_steps], dtype=float),
    }


def running_best(steps, rewards, ok=None) -> tuple[np.ndarray, np.ndarray]:
    """``(unique steps, best reward of any ok sample up to and including that step)``;
    NaN before the first ok sample."""
    steps, rewards = np.asarray(steps, dtype=float), np.asarray(rewards, dtype=float)
    usable = np.isfinite(rewards) if ok is None else np.isfinite(rewards) & np.asarray(ok, dtype=bool)
    unique = np.unique(steps)
    per_step = np.full(unique.shape, -np.inf)
    np.maximum.at(per_step, np.searchsorted(unique, steps[usable]), rewards[usable])
    best = np.maximum.accumulate(per_step) if unique.size else per_step
    return unique, np.where(np.isfinite(best), best, np.nan)


def plot_rewards(history_records_or_steps, ax=None, *, title: str = "Rewards") -> Figure:
    """Each sample's reward (points; failed children as crosses), the baseline and the best so far."""
    series = reward_series(history_records_or_steps)
    fig, ax = new_axes(ax, (7.5, 3.6), (0.7, 1.3, 0.5, 0.35))
    good = series["ok"] & np.isfinite(series["reward"])
    failed = ~series["ok"] & np.isfinite(series["reward"])
    ax.scatter(series["step"][good], series["reward"][good], s=18, color=_SAMPLE_COLOR, alpha=0.55,
               linewidths=0, label="sample", zorder=2)
    if failed.any():
        ax.scatter(series["step"][failed], series["reward"][failed], s=22, marker="x", color=_FAILED_COLOR,
                   label="failed child", zorder=2)
    if series["baseline"].size:
        ax.plot(series["baseline_step"], series["baseline"], color=_BASELINE_COLOR, linewidth=1.6,
                label="baseline", zorder=3)
    best_steps, best = running_best(series["step"], series["reward"], series["ok"])
    if np.isfinite(best).any():
        ax.plot(best_steps, best, drawstyle="steps-post", color=_BEST_COLOR, linewidth=2.0,
                label="running best", zorder=4)
    if series["step"].size:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "no rewards yet", transform=ax.transAxes, ha="center", va="center", color="grey")
    style_axes(ax, title, "step (policy update)", "reward")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def plot_accuracy_vs_cost(records, cost: str = "params", ax=None, front: bool = True, *,
                          accuracy: str = "val_accuracy", title: str | None = None) -> Figure:
    """Accuracy against a cost (``params``, ``flops`` or ``latency_ms``), Pareto front highlighted.

    Only ``status == "ok"`` records with finite values are drawn. The front holds the
    records that no other record beats on both accuracy (higher) and cost (lower);
    :func:`nasrl_nb.rewards.pareto.pareto_front` computes it.
    """
    require_choice("cost", cost, COST_METRICS)
    usable = [r for r in records if _get(r, "status", "ok") == "ok" and _finite(_get(r, cost)) and _finite(_get(r, accuracy))]
    x = np.array([float(_get(r, cost)) for r in usable])
    y = np.array([float(_get(r, accuracy)) for r in usable])
    fig, ax = new_axes(ax, (7.2, 4.0), (0.7, 1.3, 0.5, 0.35))
    ax.scatter(x, y, s=18, color=_SAMPLE_COLOR, alpha=0.5, linewidths=0, label="architecture", zorder=2)
    if front and usable:
        points = sorted((float(r[cost]), float(r[accuracy])) for r in pareto_front(
            [{cost: _get(r, cost), accuracy: _get(r, accuracy)} for r in usable],
            metrics=(accuracy, cost), maximize=(True, False)))
        ax.plot([p[0] for p in points], [p[1] for p in points], drawstyle="steps-post", color=_FAILED_COLOR,
                linewidth=1.5, marker="o", markersize=6, markerfacecolor="white", markeredgewidth=1.5,
                label="Pareto front", zorder=3)
    if x.size and x.min() > 0 and x.max() / x.min() >= 20:
        ax.set_xscale("log")
    if usable:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "no evaluated architectures yet", transform=ax.transAxes, ha="center", va="center", color="grey")
    style_axes(ax, title or f"Accuracy vs. {COST_METRICS[cost]}", COST_METRICS[cost], accuracy.replace("_", " "))
    return fig


# --- one child -----------------------------------------------------------------------------------
def plot_training_curve(train_losses, val_accuracies=None, ax=None, *, title: str = "Child network training") -> Figure:
    """Training loss per epoch (left axis) and validation accuracy (right axis).

    ``train_losses`` may also be a ``TrainResult`` or evaluation record, whose
    ``train_losses`` and ``val_accuracies`` are used.
    """
    if _get(train_losses, "train_losses") is not None and not isinstance(train_losses, (list, tuple, np.ndarray)):
        result = train_losses
        train_losses = _get(result, "train_losses")
        val_accuracies = _get(result, "val_accuracies") if val_accuracies is None else val_accuracies
    losses = np.asarray(list(train_losses), dtype=float)
    fig, ax = new_axes(ax, (6.0, 3.4), (0.7, 0.8 if val_accuracies is not None else 0.2, 0.5, 0.35))
    ax.plot(np.arange(1, losses.size + 1), losses, marker="o", markersize=4, color=_SAMPLE_COLOR, label="train loss")
    style_axes(ax, title, "epoch", "train loss")
    handles = [ax.lines[-1]]
    if val_accuracies is not None and len(val_accuracies):
        accuracies = np.asarray(list(val_accuracies), dtype=float)
        twin = ax.twinx()
        twin.plot(np.arange(1, accuracies.size + 1), accuracies, marker="s", markersize=4, color=_BASELINE_COLOR,
                  label="val accuracy")
        twin.set_ylabel("validation accuracy", fontsize=9)
        twin.tick_params(labelsize=8)
        twin.spines[["top"]].set_visible(False)
        handles.append(twin.lines[-1])
    ax.legend(handles=handles, fontsize=8, loc="center right", frameon=False)
    if losses.size:
        ax.set_xticks(np.arange(1, losses.size + 1) if losses.size <= 20 else ax.get_xticks())
    return fig
