"""Transfer between two tables: does a cell that is good on one dataset stay good on another?

NAS-Bench-201 (Dong & Yang 2020, Sec. 4, Fig. 6) reports the rank correlation of its cells'
accuracies between CIFAR-10, CIFAR-100 and ImageNet-16-120, over all cells and among the
best ones; a search's "robustness across datasets" is that correlation. :func:`table_transfer`
computes the same for two :class:`~nasrl_nb.bench.tabular.TabularBenchmark` tables of the
cell space (digits-cell and mnist1d-cell): one value per isomorphism class that both tables
answer, each the mean over the table's seeds. :func:`score_picks` judges the cells a search
picked on one table by the other: what a search on one dataset finds for another.
"""

from __future__ import annotations

import math

import numpy as np

from ..stats import spearman_rho
from ..validation import require_fraction
from .analysis import unit_values
from .tabular import TabularBenchmark


def paired_class_values(a: TabularBenchmark, b: TabularBenchmark, column: str = "test_accuracy"):
    """``(cells, values_a, values_b)``: the isomorphism classes both tables answer (each as ``a``'s
    cell string), with each table's mean ``column``.

    Classes whose value is NaN in either table (a failed run) are dropped.
    """
    va, vb = a.values(column), b.values(column)
    entries_b = {b.canonical[e]: int(e) for e in b.class_entries()}  # canonical cell -> b's entry
    keys, xs, ys = [], [], []
    for e in a.class_entries():
        key = a.canonical[e]
        f = entries_b.get(key)
        if f is not None and math.isfinite(va[e]) and math.isfinite(vb[f]):
            keys.append(str(a.archs[e]))
            xs.append(va[e])
            ys.append(vb[f])
    return keys, np.array(xs), np.array(ys)


def table_transfer(a: TabularBenchmark, b: TabularBenchmark, column: str = "test_accuracy", *,
                   top_fraction: float = 0.1) -> dict:
    """How ``a``'s ranking of cells carries over to ``b`` (and back), over the cells both answer.

    Returns plain JSON:

    * ``cells``: classes both tables answer; ``spearman``: rank correlation over all of them;
    * ``top_spearman_by_a`` / ``top_spearman_by_b``: the same among the ``top_fraction`` best
      cells of ``a`` (resp. ``b``) -- NAS-Bench-201's "among the top architectures";
    * ``best_of_a_on_b`` / ``best_of_b_on_a``: the best cell of one table (the first one on a
      tie), its rank on the other (1 = best there), that rank as a fraction of ``cells`` (the
      share of cells that do at least as well), and its value on both.
    """
    require_fraction("top_fraction", top_fraction)
    if top_fraction <= 0:
        raise ValueError(f"top_fraction: must be > 0, got {top_fraction!r}")
    keys, x, y = paired_class_values(a, b, column)
    if len(keys) < 3:
        raise ValueError(f"tables: {a.name!r} and {b.name!r} share {len(keys)} cells with finite {column}; need at least 3")
    n_top = max(3, math.ceil(top_fraction * len(keys)))
    top_a = np.argsort(-x, kind="stable")[:n_top]
    top_b = np.argsort(-y, kind="stable")[:n_top]
    return {
        "column": column,
        "tables": [a.name, b.name],
        "cells": len(keys),
        "spearman": spearman_rho(x, y),
        "top_fraction": top_fraction,
        "top_cells": int(n_top),
        "top_spearman_by_a": spearman_rho(x[top_a], y[top_a]),
        "top_spearman_by_b": spearman_rho(x[top_b], y[top_b]),
        "best_of_a_on_b": _best_on_other(keys, x, y),
        "best_of_b_on_a": _best_on_other(keys, y, x),
    }


def _best_on_other(keys: list[str], mine: np.ndarray, other: np.ndarray) -> dict:
    """Where the best cell by ``mine`` ranks by ``other``: 1 + the cells strictly better there."""
    i = int(np.argmax(mine))
    rank = 1 + int((other > other[i]).sum())
    return {"cell": keys[i], "rank": rank, "rank_fraction": rank / len(keys),
            "value_here": float(mine[i]), "value_there": float(other[i])}


def score_picks(picks, on: TabularBenchmark, column: str = "test_accuracy") -> dict:
    """The cells a search picked (on any table), scored by table ``on``: what a search on one
    dataset finds, judged on another.

    Returns plain JSON: ``picks``; ``mean``, ``std`` and ``sem`` (standard error) of their ``column``
    on ``on``; ``mean_rank_fraction``: the mean over picks of (1 + ``on``'s unique cells strictly better)
    / unique cells (1 / 6,466 = the best; about 0.5 = a median cell); ``values`` in the order given.
    """
    values = np.array([on.query(p)[column] for p in picks], dtype=float)
    if len(values) == 0:
        raise ValueError("picks: need at least one cell to score")
    pool = unit_values(on, column)
    pool = pool[np.isfinite(pool)]
    fractions = [(1 + int((pool > v).sum())) / len(pool) for v in values]
    return {"picks": len(values), "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "sem": float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan,
            "mean_rank_fraction": float(np.mean(fractions)), "values": values.tolist()}
