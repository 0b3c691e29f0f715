"""How well do shared weights rank architectures? Rank correlations against ground truth.

Weight sharing is only useful if a child's shared-weight accuracy orders children as their
stand-alone training would. Yu et al. (ICLR 2020, "Evaluating the search phase of neural
architecture search", Sec. 4) measured this on NAS-Bench-101/201 with Kendall's tau and
found it often poor. :func:`ranking_quality` does the same here, against a tabular benchmark
such as digits-cell (:class:`~nasrl_nb.bench.tabular.TabularBenchmark`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..bench.analysis import rank_correlation
from ..spaces.search_space import Architecture


def kendall_tau(x, y) -> float:
    """Kendall's tau-b of two equal-length arrays (ties corrected, as ``scipy.stats.kendalltau``).

    ``tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))`` over all pairs: ``C``/``D`` concordant and
    discordant pairs, ``n0`` the pairs, ``n1``/``n2`` the pairs tied in ``x``/``y``.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x, y: expected two 1-D arrays of one length >= 2, got shapes {x.shape} and {y.shape}")
    i, j = np.triu_indices(len(x), k=1)  # every pair once
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    n0 = len(i)
    n1, n2 = int((dx == 0).sum()), int((dy == 0).sum())
    denominator = np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float((dx * dy).sum() / denominator) if denominator > 0 else float("nan")


def ranking_quality(shared: Sequence[float], true: Sequence[float]) -> dict:
    """``{"kendall_tau", "spearman_rho", "n"}`` of shared-weight scores against true accuracies."""
    shared, true = np.asarray(shared, dtype=float), np.asarray(true, dtype=float)
    return {"kendall_tau": kendall_tau(shared, true), "spearman_rho": rank_correlation(shared, true), "n": int(len(shared))}


def benchmark_accuracies(bench, architectures: Sequence[Architecture], column: str = "val_accuracy") -> np.ndarray:
    """``column`` of each architecture in ``bench`` (mean over the table's seeds)."""
    return np.array([bench.query(arch)[column] for arch in architectures])
