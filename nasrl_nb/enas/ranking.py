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

from ..spaces.search_space import Architecture
from ..stats import kendall_tau, spearman_rho


def ranking_quality(shared: Sequence[float], true: Sequence[float]) -> dict:
    """``{"kendall_tau", "spearman_rho", "n"}`` of shared-weight scores against true accuracies."""
    shared, true = np.asarray(shared, dtype=float), np.asarray(true, dtype=float)
    return {"kendall_tau": kendall_tau(shared, true), "spearman_rho": spearman_rho(shared, true), "n": int(len(shared))}


def benchmark_accuracies(bench, architectures: Sequence[Architecture], column: str = "val_accuracy") -> np.ndarray:
    """``column`` of each architecture in ``bench`` (mean over the table's seeds)."""
    return np.array([bench.query(arch)[column] for arch in architectures])
