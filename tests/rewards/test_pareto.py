"""Pareto fronts: NSGA-II's fast non-dominated sort against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasrl_nb.rewards.pareto import dominates, non_dominated_sort, pareto_front


def brute_dominates(a, b, maximize):
    better_or_equal = all((x >= y) if m else (x <= y) for x, y, m in zip(a, b, maximize, strict=True))
    strictly = any((x > y) if m else (x < y) for x, y, m in zip(a, b, maximize, strict=True))
    return better_or_equal and strictly


def brute_fronts(points, maximize):
    remaining, fronts = set(range(len(points))), []
    while remaining:
        front = sorted(i for i in remaining if not any(brute_dominates(points[j], points[i], maximize) for j in remaining))
        fronts.append(front)
        remaining -= set(front)
    return fronts


point_sets = st.integers(2, 3).flatmap(
    lambda m: st.tuples(
        st.lists(st.lists(st.integers(0, 6), min_size=m, max_size=m), min_size=0, max_size=25),
        st.lists(st.booleans(), min_size=m, max_size=m),
    )
)


@settings(max_examples=150, deadline=None)
@given(point_sets)
def test_fast_sort_equals_brute_force(case):
    points, maximize = case
    fronts = non_dominated_sort(points, maximize)
    assert [sorted(f) for f in fronts] == brute_fronts(points, maximize)


@settings(max_examples=50, deadline=None)
@given(point_sets)
def test_front_invariants(case):
    points, maximize = case
    fronts = non_dominated_sort(points, maximize)
    flat = [i for f in fronts for i in f]
    assert sorted(flat) == list(range(len(points)))  # every point in exactly one front
    for k, front in enumerate(fronts):
        for i, j in itertools.product(front, front):
            assert not dominates(points[i], points[j], maximize)  # a front is mutually non-dominated
        if k:
            for i in front:  # each later point is dominated by someone in the front before it
                assert any(dominates(points[j], points[i], maximize) for j in fronts[k - 1])


def test_random_real_points_three_metrics():
    rng = np.random.default_rng(0)
    points = rng.random((60, 3))
    maximize = (True, False, False)
    assert [sorted(f) for f in non_dominated_sort(points, maximize)] == brute_fronts(points.tolist(), maximize)


def test_pareto_front_on_records():
    records = [
        {"status": "ok", "val_accuracy": 0.9, "params": 1000, "name": "big"},
        {"status": "ok", "val_accuracy": 0.8, "params": 100, "name": "small"},
        {"status": "ok", "val_accuracy": 0.7, "params": 500, "name": "dominated"},
        {"status": "ok", "val_accuracy": 0.8, "params": 100, "name": "small twin"},
        {"status": "failed", "val_accuracy": 1.0, "params": 1, "name": "failed"},
        {"status": "ok", "val_accuracy": None, "params": 1, "name": "no accuracy"},
    ]
    names = [r["name"] for r in pareto_front(records)]
    assert names == ["big", "small", "small twin"]
    # maximizing params instead flips which small net survives
    assert [r["name"] for r in pareto_front(records, maximize=(True, True))] == ["big"]
    three = pareto_front(records, ("val_accuracy", "params", "params"), (True, False, False))
    assert [r["name"] for r in three] == names
    assert pareto_front([]) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metrics": ("val_accuracy",)}, "metrics: expected 2 or 3"),
        ({"metrics": ("a", "b", "c", "d")}, "metrics: expected 2 or 3"),
        ({"maximize": (True,)}, "maximize: expected 2 booleans"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pareto_front([{"val_accuracy": 1, "params": 1}], **kwargs)


def test_non_finite_points_are_rejected():
    with pytest.raises(ValueError, match="points: metric values must be finite"):
        non_dominated_sort([[1.0, float("nan")]], (True, True))
