"""Transfer between two tables (``nasrl_nb.bench.transfer``) on small tables made here, with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.bench.transfer import paired_class_values, table_transfer
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.stats import spearman_rho


def _unique_cells(n: int) -> list[str]:
    space, seen = get_space("cell"), {}
    for arch in space.enumerate():
        seen.setdefault(space.canonical(arch), str(arch))
        if len(seen) == n:
            break
    return list(seen.values())


CELLS = _unique_cells(30)


def _table(values, name: str, cells=CELLS) -> TabularBenchmark:
    rows = [{"arch": c, "seed": s, "val_accuracy": v, "test_accuracy": v + (0.002 if s else -0.002), "params": 1,
             "flops": 1, "train_seconds": 1.0} for c, v in zip(cells, values) for s in (0, 1)]
    return TabularBenchmark.from_rows(rows, name=name)


def test_identical_tables_transfer_perfectly():
    values = np.linspace(0.2, 0.9, len(CELLS))
    result = table_transfer(_table(values, "a"), _table(values, "b"))
    assert result["cells"] == 30 and result["top_cells"] == 3  # ceil(0.1 * 30)
    assert result["spearman"] == pytest.approx(1.0) and result["top_spearman_by_a"] == pytest.approx(1.0)
    assert result["best_of_a_on_b"]["rank"] == 1 and result["best_of_a_on_b"]["cell"] == CELLS[-1]


def test_reversed_top_and_best_cell_ranks_are_measured_on_the_other_table():
    x = np.linspace(0.2, 0.9, len(CELLS))
    y = x.copy()
    y[-6:] = y[-6:][::-1]  # the six best of a appear in reverse order on b
    y[-1] = 0.1  # a's best cell is the worst on b
    a, b = _table(x, "a"), _table(y, "b")
    result = table_transfer(a, b, top_fraction=0.2)
    assert result["top_cells"] == 6
    assert result["spearman"] == pytest.approx(spearman_rho(x, y))
    assert result["top_spearman_by_a"] == pytest.approx(spearman_rho(x[-6:], y[-6:])) and result["top_spearman_by_a"] < 0
    best = result["best_of_a_on_b"]
    assert best["cell"] == CELLS[-1] and best["rank"] == 30 and best["rank_fraction"] == 1.0
    assert best["value_here"] == pytest.approx(0.9) and best["value_there"] == pytest.approx(0.1)
    assert result["best_of_b_on_a"]["cell"] == CELLS[-6] and result["best_of_b_on_a"]["rank"] == 6


def test_only_shared_classes_with_finite_values_are_paired():
    x = np.linspace(0.2, 0.9, len(CELLS))
    y = x.copy()
    y[0] = math.nan  # a failed run on b
    b = _table(y[:20], "b", CELLS[:20])  # b covers only 20 of a's cells
    keys, va, vb = paired_class_values(_table(x, "a"), b, "val_accuracy")
    assert len(keys) == 19 and np.allclose(va, vb) and np.allclose(va, x[1:20])


def test_bad_inputs_name_the_field():
    a = _table(np.linspace(0.2, 0.9, len(CELLS)), "a")
    with pytest.raises(ValueError, match=r"^top_fraction: must be > 0"):
        table_transfer(a, a, top_fraction=0)
    with pytest.raises(ValueError, match=r"^tables: 'a' and 'b' share 2 cells"):
        table_transfer(a, _table([0.5, 0.6], "b", CELLS[:2]))
