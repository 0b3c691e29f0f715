"""What a tabular benchmark and a search history say: pure functions over tables and records.

NAS-Bench-201 (Dong & Yang 2020, Sec. 4) describes its landscape before it ranks search
methods: how accuracies are distributed, how correlated two training runs are, which
operations matter on which edge. These helpers compute the same for any
:class:`~nasrl_nb.bench.tabular.TabularBenchmark`, and score search histories the way its
Sec. 5 does (the test accuracy of the architecture picked by validation accuracy, regret to
the optimum, how fast a method finds the best architectures). Plots of each live in
:mod:`nasrl_nb.viz.bench_plots`.

The unit of a statistic is chosen with ``over``:

* ``"unique"``: one value per isomorphism class (6,466 cells for a complete table) -- the
  landscape of distinct functions;
* ``"space"``: one value per cell of the space (15,625), each answered through its class --
  what a uniform sampler sees; op importance uses it, so every op appears on every edge
  equally often;
* ``"entries"``: one value per ``arch`` string in the table.

An architecture's accuracy is the mean over its seeds. Accuracies are fractions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from ..spaces.registry import record_architecture
from ..stats import spearman_rho
from ..validation import require_choice, require_fraction, require_positive
from .tabular import TabularBenchmark

UNITS: tuple[str, ...] = ("unique", "space", "entries")


def unit_values(bench: TabularBenchmark, column: str = "test_accuracy", *, over: str = "unique") -> np.ndarray:
    """One value of ``column`` (mean over seeds) per unit of ``over`` (see the module docstring)."""
    require_choice("over", over, UNITS)
    values = bench.values(column)
    if over == "entries":
        return values
    if over == "unique":
        return values[bench.class_entries()]
    return values[bench.space_entries()]


def accuracy_summary(bench: TabularBenchmark, column: str = "test_accuracy", *, over: str = "unique") -> dict:
    """``count`` (finite values), ``failed``, ``best``, ``top_1pct`` (the 99th percentile), ``top_10pct``,
    ``median``, ``mean``, ``worst``: the spread a benchmark needs to be worth searching."""
    values = unit_values(bench, column, over=over)
    finite = values[np.isfinite(values)]
    if not len(finite):
        raise ValueError(f"column: {column!r} has no finite values in {bench.name!r}")
    return {
        "column": column,
        "over": over,
        "count": int(len(finite)),
        "failed": int(len(values) - len(finite)),
        "best": float(finite.max()),
        "top_1pct": float(np.quantile(finite, 0.99)),
        "top_10pct": float(np.quantile(finite, 0.90)),
        "median": float(np.median(finite)),
        "mean": float(finite.mean()),
        "worst": float(finite.min()),
    }


def accuracy_histogram(bench: TabularBenchmark, column: str = "test_accuracy", *, over: str = "unique",
                       bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` of ``column`` over ``over`` (NumPy's histogram of the finite values)."""
    values = unit_values(bench, column, over=over)
    return np.histogram(values[np.isfinite(values)], bins=require_positive("bins", bins, integer=True))


def near_best(bench: TabularBenchmark, column: str = "test_accuracy", *, tolerance: float = 0.01,
              over: str = "unique") -> dict:
    """How many units lie within ``tolerance`` (absolute: 0.01 is one percentage point) of the best."""
    require_fraction("tolerance", tolerance)
    values = unit_values(bench, column, over=over)
    finite = values[np.isfinite(values)]
    best = float(finite.max())
    count = int((finite >= best - tolerance).sum())
    return {"best": best, "tolerance": tolerance, "count": count, "fraction": count / len(finite), "over": over}


def seed_correlation(bench: TabularBenchmark, column: str = "val_accuracy", seeds: Sequence[int] | None = None) -> float:
    """Spearman's rho between two seeds' ``column`` over the entries that have both runs.

    High (>= 0.8) means one training run ranks architectures much as another does: the
    table has signal, not just noise.
    """
    if len(bench.seeds) < 2:
        raise ValueError(f"seeds: the table {bench.name!r} has one seed ({bench.seeds[0]}); need two")
    a, b = seeds if seeds is not None else bench.seeds[:2]
    for s in (a, b):
        require_choice("seeds", s, bench.seeds)
    runs = bench.values(column, reduce="none")
    return spearman_rho(runs[:, bench.seeds.index(a)], runs[:, bench.seeds.index(b)])


def op_importance(bench: TabularBenchmark, column: str = "test_accuracy", *, over: str = "space",
                  z: float = 1.96) -> list[dict]:
    """Mean ``column`` by the op on each edge, with a normal-approximation interval.

    One row per (edge, op): ``decision`` (``"node2<-1"``), ``op``, ``mean``, ``low``,
    ``high`` (mean -+ z * standard error), ``count``. Over the space each op sits on each
    edge in a fifth of the cells, so the means compare like with like.
    """
    require_positive("z", z)
    space = bench.space
    values = unit_values(bench, column, over=over)
    if over == "space":
        archs = list(space.enumerate())
    elif over == "unique":
        archs = [bench.architectures[e] for e in bench.class_entries()]
    else:
        archs = bench.architectures
    indices = np.array([a.indices for a in archs])  # (N, D)
    rows = []
    for d, decision in enumerate(space.decisions):
        for k, op in enumerate(decision.choices):
            sel = values[(indices[:, d] == k) & np.isfinite(values)]
            mean = float(sel.mean()) if len(sel) else math.nan
            half = float(z * sel.std(ddof=1) / math.sqrt(len(sel))) if len(sel) > 1 else math.nan
            rows.append({"decision": decision.name, "op": op, "mean": mean, "low": mean - half, "high": mean + half,
                         "count": int(len(sel))})
    return rows


def op_summary(bench: TabularBenchmark, column: str = "test_accuracy", *, top_fraction: float = 0.01) -> dict:
    """Per op: its mean ``column`` over the space and its share of the edges of the best cells.

    ``{op: {"mean": ..., "top_share": ...}}``. ``mean`` averages :func:`op_importance`'s means over
    the edges (over the space each op sits on each edge in a fifth of the cells, so this is the mean
    accuracy of a cell with that op on a given edge); ``top_share`` is the op's share of the edges
    of the ``top_fraction`` best unique cells (all shares sum to 1; uniform would be 1 / 5). What
    the table rewards: parameter-free ops (skips, pools) or convolutions.
    """
    require_fraction("top_fraction", top_fraction)
    rows = op_importance(bench, column)
    ops = list(dict.fromkeys(r["op"] for r in rows))
    values = unit_values(bench, column, over="unique")
    archs = [bench.architectures[e] for e in bench.class_entries()]
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    top = [archs[i] for i in order[: max(1, math.ceil(top_fraction * len(archs)))]]
    edges = [op for a in top for op in a.choices]
    return {op: {"mean": float(np.mean([r["mean"] for r in rows if r["op"] == op])),
                 "top_share": edges.count(op) / len(edges)} for op in ops}


def frequent_motifs(bench: TabularBenchmark, column: str = "test_accuracy", *, top_fraction: float = 0.01,
                    max_size: int = 2, min_support: float = 0.25, over: str = "space") -> list[dict]:
    """(edge, op) patterns common among the top architectures, with their lift over all of them.

    A motif is a set of ``max_size`` or fewer ``(decision, op)`` pairs, e.g.
    ``(("node1<-0", "nor_conv_3x3"), ("node3<-1", "nor_conv_3x3"))``. ``support_top`` is the
    share of the top ``top_fraction`` units (by ``column``) that contain it, ``support_all``
    the share over all units, ``lift`` their ratio. Motifs with ``support_top >=
    min_support`` are returned, largest lift first (then support).
    """
    require_fraction("top_fraction", top_fraction)
    require_fraction("min_support", min_support)
    max_size = require_positive("max_size", max_size, integer=True)
    space = bench.space
    values = unit_values(bench, column, over=over)
    archs = list(space.enumerate()) if over == "space" else (
        [bench.architectures[e] for e in bench.class_entries()] if over == "unique" else bench.architectures
    )
    indices = np.array([a.indices for a in archs])  # (N, D)
    finite = np.isfinite(values)
    order = np.argsort(np.where(finite, -values, np.inf), kind="mergesort")
    n_top = max(1, int(round(top_fraction * finite.sum())))
    top = np.zeros(len(values), dtype=bool)
    top[order[:n_top]] = True
    names = [d.name for d in space.decisions]
    found = []
    for size in range(1, max_size + 1):
        for decisions in combinations(range(len(names)), size):
            # every op combination of these decisions present among the top units
            combos = {tuple(row) for row in indices[top][:, decisions]}
            for ops in combos:
                has = np.all(indices[:, decisions] == np.array(ops), axis=1)
                support_top = float(has[top].mean())
                if support_top < min_support:
                    continue
                support_all = float(has[finite].mean())
                found.append({
                    "motif": tuple((names[d], space.decisions[d].choices[k]) for d, k in zip(decisions, ops)),
                    "support_top": support_top,
                    "support_all": support_all,
                    "lift": support_top / support_all if support_all else math.inf,
                    "top_count": int(n_top),
                })
    found.sort(key=lambda m: (-m["lift"], -m["support_top"], len(m["motif"])))
    return found


def format_motif(motif: Sequence[tuple[str, str]]) -> str:
    """``"node1<-0=nor_conv_3x3 & node3<-1=nor_conv_3x3"``."""
    return " & ".join(f"{d}={op}" for d, op in motif)


# --- search histories -------------------------------------------------------------------------------
def best_so_far(history: Sequence[Mapping], *, select_by: str = "val_accuracy", report: str = "test_accuracy") -> np.ndarray:
    """After each evaluation, the ``report`` value of the record with the best ``select_by`` so far.

    This is what a search would hand over if stopped there (NAS-Bench-201's protocol: pick by
    validation, judge by test). Failed records are skipped; NaN before the first success.
    """
    out = np.full(len(history), np.nan)
    best_key, best_value = -math.inf, math.nan
    for t, row in enumerate(history):
        key = row.get(select_by)
        if row.get("status", "ok") == "ok" and key is not None and math.isfinite(key) and key > best_key:
            best_key, best_value = key, row.get(report, math.nan)
        out[t] = best_value
    return out


def first_reach(history: Sequence[Mapping], threshold: float, *, column: str = "test_accuracy") -> int | None:
    """1-based number of evaluations until one with ``column >= threshold`` was evaluated (None: never)."""
    for t, row in enumerate(history, start=1):
        value = row.get(column)
        if row.get("status", "ok") == "ok" and value is not None and math.isfinite(value) and value >= threshold:
            return t
    return None


def proposal_drift(history: Sequence[Mapping], space, *, windows: int = 10, reference: str | None = None) -> dict:
    """How a search's proposals moved through the space, in ``windows`` consecutive slices.

    Returns ``starts`` (first evaluation of each window), ``choice_share`` (W, D, K: per
    window, the share of each option at each decision; K is the largest option count),
    ``op_share`` (W, K: pooled over decisions, when they all share one option list; else
    None), ``options``, ``unique_fraction`` (distinct proposals / proposals per window) and
    ``distance`` (mean number of decisions that differ from ``reference``, by default the
    search's final pick by validation accuracy).

    A record sampled in a smaller space (a growing curriculum's early stage, which carries its
    ``space`` spec) is read in that space; the decisions it lacks count as differing from the
    reference, and a decision's share is over the window's proposals that have it (all zeros
    where none has).
    """
    if not history:
        raise ValueError("history: no records to analyse")
    windows = min(require_positive("windows", windows, integer=True), len(history))
    indices = np.array([_full_indices(space, record_architecture(space, row)) for row in history])  # (N, D); -1: absent
    width = max(len(d.choices) for d in space.decisions)
    if reference is None:
        ok = [r for r in history if r.get("status", "ok") == "ok" and r.get("val_accuracy") is not None]
        pick = max(ok, key=lambda r: r["val_accuracy"]) if ok else history[-1]
        ref, reference = _full_indices(space, record_architecture(space, pick)), pick["arch"]
    else:
        ref = _full_indices(space, space.parse(reference))
    bounds = np.linspace(0, len(history), windows + 1).round().astype(int)
    share = np.zeros((windows, len(space.decisions), width))
    unique, distance = np.zeros(windows), np.zeros(windows)
    for w, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        block = indices[lo:hi]
        for d in range(block.shape[1]):
            present = block[:, d][block[:, d] >= 0]
            if len(present):
                share[w, d] = np.bincount(present, minlength=width) / len(present)
        unique[w] = len({tuple(r) for r in block}) / len(block)
        distance[w] = float(((block != ref) | (block < 0)).sum(axis=1).mean())
    same_options = all(d.choices == space.decisions[0].choices for d in space.decisions)
    return {
        "starts": bounds[:-1],
        "choice_share": share,
        "op_share": share.mean(axis=1) if same_options else None,
        "options": list(space.decisions[0].choices) if same_options else None,
        "unique_fraction": unique,
        "distance": distance,
        "reference": reference,
    }


def _full_indices(space, arch) -> np.ndarray:
    """``arch``'s option index at each decision of ``space`` (-1 where its own, smaller space lacks the decision)."""
    if arch.space == space:
        return np.array(arch.indices)
    position = {d.name: k for k, d in enumerate(space.decisions)}
    out = np.full(len(space.decisions), -1)
    for decision, choice in zip(arch.space.decisions, arch.choices):
        if decision.name not in position:
            raise ValueError(f"history: a record's decision {decision.name!r} is not in the space {space!r}")
        k = position[decision.name]
        out[k] = space.decisions[k].index(choice)
    return out


def summarize_runs(curves: np.ndarray, *, optimum: float, threshold: float, reach: Sequence[int | None]) -> dict:
    """Statistics of one method over many seeded runs (rows of ``curves``: best-so-far per evaluation).

    ``final_mean``/``final_std`` (sample std) of the pick's accuracy at the end, ``regret``
    (``optimum`` minus the pick, mean), ``top_hit`` (share of runs whose pick is >=
    ``threshold``), ``median_reach`` (median evaluations to first evaluate such an
    architecture; runs that never did count as infinite, so the median may be None).
    """
    curves = np.asarray(curves, dtype=float)
    final = curves[:, -1]
    steps = np.array([math.inf if r is None else r for r in reach], dtype=float)
    median = float(np.median(steps)) if len(steps) else math.nan
    return {
        "runs": int(len(final)),
        "final_mean": float(np.nanmean(final)),
        "final_std": float(np.nanstd(final, ddof=1)) if len(final) > 1 else 0.0,
        "regret": float(optimum - np.nanmean(final)),
        "top_hit": float(np.mean(final >= threshold)),
        "median_reach": None if not math.isfinite(median) else median,
        "reached": int(np.isfinite(steps).sum()),
    }
