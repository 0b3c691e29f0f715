"""Rank statistics: do two lists of scores order the same things the same way?

NAS asks this of many pairs: two training seeds of a tabular benchmark (does the table have
signal? Dong & Yang 2020, Sec. 4), shared-weight against stand-alone accuracy (does weight
sharing rank children as training them would? Yu et al. 2020, Sec. 4), one dataset's table
against another's. Two classical answers, both computed on ranks:

* Spearman's rho (Spearman 1904): the Pearson correlation of the ranks;
* Kendall's tau-b (Kendall 1945): the share of concordant minus discordant pairs, corrected
  for ties.

Ties share their average rank, as ``scipy.stats.rankdata`` and ``spearmanr``/``kendalltau``
(whose defaults these match) do; scipy is not needed.
"""

from __future__ import annotations

import numpy as np


def rankdata(values) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)  # the ranks of each group of tied values, summed
    return (sums / counts)[inverse]


def spearman_rho(x, y) -> float:
    """Spearman's rho of two equal-length arrays (average ranks for ties; pairs with a NaN dropped)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x, y: expected two 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        raise ValueError(f"x, y: need at least 3 finite pairs for a rank correlation, got {int(keep.sum())}")
    return float(np.corrcoef(rankdata(x[keep]), rankdata(y[keep]))[0, 1])


def kendall_tau(x, y) -> float:
    """Kendall's tau-b of two equal-length arrays (ties corrected, as ``scipy.stats.kendalltau``).

    ``tau_b = (C - D) / sqrt((n0 - n1) (n0 - n2))`` over all pairs: ``C``/``D`` concordant and
    discordant pairs, ``n0`` the pairs, ``n1``/``n2`` the pairs tied in ``x``/``y``. NaN in
    either array gives NaN.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x, y: expected two 1-D arrays of one length >= 2, got shapes {x.shape} and {y.shape}")
    i, j = np.triu_indices(len(x), k=1)  # every pair once
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])  # (n0,) each: +1, -1, or 0 for a tie
    n0 = len(i)
    n1, n2 = int((dx == 0).sum()), int((dy == 0).sum())
    denominator = np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float((dx * dy).sum() / denominator) if denominator > 0 else float("nan")
