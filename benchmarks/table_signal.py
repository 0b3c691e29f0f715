"""How much signal a tabular benchmark has: the figures BENCHMARKS.md quotes for digits-cell.

Prints, for each table given: the seed-to-seed rank correlation of validation accuracy
(Spearman and Kendall's tau-b, seeds 0 and 1), the Spearman between the seed-mean validation
and test columns (does the evaluation set add noise?), the mean |seed 0 - seed 1|, and the
share of parameter-free ops (skip_connect, avg_pool_3x3) on the edges of the top 1% of cells
(by mean test accuracy) against all cells (what the table rewards).

    python -m benchmarks.table_signal                          # the shipped digits-cell
    python -m benchmarks.table_signal bench:digits-cell csv:old.csv.gz
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.stats import kendall_tau, spearman_rho

PARAMETER_FREE = ("skip_connect", "avg_pool_3x3")


def signal(bench: TabularBenchmark) -> dict:
    """The figures above for one table with at least two seeds."""
    val = bench.values("val_accuracy", reduce="none")[:, :2]  # (entries, 2 seeds)
    test = bench.values("test_accuracy")
    both = ~np.isnan(val).any(axis=1)
    archs = [bench.space.parse(a) for a in bench.archs]
    free = np.array([sum(op in PARAMETER_FREE for op in a.choices) / len(a.choices) for a in archs])
    top = np.argsort(-np.nan_to_num(test, nan=-1.0))[: max(1, len(archs) // 100)]
    return {
        "spearman_seeds": spearman_rho(val[both, 0], val[both, 1]),
        "kendall_seeds": kendall_tau(val[both, 0], val[both, 1]),
        "spearman_val_test": spearman_rho(np.nanmean(val, axis=1), test),
        "mean_abs_seed_difference": float(np.mean(np.abs(val[both, 0] - val[both, 1]))),
        "parameter_free_all": float(free.mean()),
        "parameter_free_top1pct": float(free[top].mean()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="*", default=["bench:digits-cell"], help="bench:NAME or csv:PATH")
    args = parser.parse_args(argv)
    for table in args.tables:
        bench = TabularBenchmark.load(table)
        figures = signal(bench)
        print(f"{table} ({bench.unique_architectures} cells, settings {bench.metadata.get('settings', {})})")
        for key, value in figures.items():
            print(f"  {key:26s} {value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
