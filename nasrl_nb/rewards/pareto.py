"""Pareto fronts: architectures that no other one beats on every objective at once.

Point ``a`` *dominates* ``b`` when ``a`` is at least as good on every metric and strictly
better on one. :func:`non_dominated_sort` is the fast non-dominated sort of NSGA-II
(Deb et al. 2002, Sec. III-A): it counts, for every point, how many points dominate it
and whom it dominates, then peels off fronts of points whose count drops to zero, in
``O(M N^2)`` comparisons for ``N`` points and ``M`` metrics. Metric directions are
explicit: maximize accuracy, minimize params, FLOPs or latency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..validation import require_records


def _check_directions(num_metrics: int, maximize: Sequence[bool]) -> np.ndarray:
    if isinstance(maximize, (str, bytes)) or len(maximize) != num_metrics:
        raise ValueError(f"maximize: expected {num_metrics} booleans (one per metric), got {maximize!r}")
    return np.array([1.0 if bool(m) else -1.0 for m in maximize])


def dominates(a: Sequence[float], b: Sequence[float], maximize: Sequence[bool]) -> bool:
    """True when ``a`` is no worse than ``b`` on every metric and better on at least one."""
    sign = _check_directions(len(a), maximize)
    a_, b_ = sign * np.asarray(a, dtype=float), sign * np.asarray(b, dtype=float)  # larger is better
    return bool(np.all(a_ >= b_) and np.any(a_ > b_))


def non_dominated_sort(points, maximize: Sequence[bool]) -> list[list[int]]:
    """Fronts of row indices: ``fronts[0]`` is the Pareto front, ``fronts[1]`` the next, ...

    Args:
        points: (N, M) array-like of finite metric values.
        maximize: one flag per metric; ``False`` means smaller is better.
    """
    values = np.asarray(points, dtype=float)
    if values.size == 0:
        return []
    if values.ndim != 2:
        raise ValueError(f"points: expected an (N, M) array of metric values, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError("points: metric values must be finite")
    scores = values * _check_directions(values.shape[1], maximize)  # (N, M), larger is better
    no_worse = np.all(scores[:, None, :] >= scores[None, :, :], axis=2)  # (N, N): i no worse than j
    better = np.any(scores[:, None, :] > scores[None, :, :], axis=2)
    dominance = no_worse & better  # dominance[i, j]: i dominates j
    dominated_count = dominance.sum(axis=0)  # how many points dominate j
    fronts, current = [], [int(i) for i in np.flatnonzero(dominated_count == 0)]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in np.flatnonzero(dominance[i]):
                dominated_count[j] -= 1
                if dominated_count[j] == 0:
                    following.append(int(j))
        current = sorted(following)
    return fronts


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _metric_values(record: Mapping, metrics: Sequence[str]) -> list[float] | None:
    values = []
    for metric in metrics:
        value = record.get(metric)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        values.append(float(value))
    return values


def pareto_front(
    records: Sequence[Mapping],
    metrics: Sequence[str] = ("val_accuracy", "params"),
    maximize: Sequence[bool] = (True, False),
) -> list[Mapping]:
    """The non-dominated records, in their original order.

    Failed records (``status`` other than ``"ok"``) and records missing a metric are
    ignored. Records with identical metric values do not dominate each other, so all of
    them stay on the front.
    """
    records = require_records("records", records)
    if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not 2 <= len(metrics) <= 3:
        raise ValueError(f"metrics: expected 2 or 3 metric names, got {metrics!r}")
    if not all(isinstance(m, str) for m in metrics):
        raise ValueError(f"metrics: expected metric names (strings), got {metrics!r}")
    _check_directions(len(metrics), maximize)
    if records:
        numeric = sorted({k for r in records for k, v in r.items() if _is_number(v)})
        for metric in metrics:
            if metric not in numeric:
                raise ValueError(f"metrics: {metric!r} is a number in no record; allowed values: {', '.join(numeric)}")
    usable, points = [], []
    for record in records:
        values = _metric_values(record, metrics)
        if record.get("status", "ok") == "ok" and values is not None:
            usable.append(record)
            points.append(values)
    fronts = non_dominated_sort(points, maximize)
    return [usable[i] for i in sorted(fronts[0])] if fronts else []
