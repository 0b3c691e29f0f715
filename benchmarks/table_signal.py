"""How much signal a tabular benchmark has: the figures BENCHMARKS.md quotes for digits-cell.

Prints, for each table given: the seed-to-seed rank correlation of validation accuracy
(Spearman and Kendall's tau-b, seeds 0 and 1), the Spearman between the seed-mean validation
and test columns (does the evaluation set add noise?), the mean |seed 0 - seed 1|, and the
share of parameter-free ops (skip_connect, avg_pool_3x3) on the edges of the top 1% of cells
(by mean test accuracy) against all cells (what the table rewards); and how additive the table
is over the decisions: the R^2 of a least-squares fit of the seed-mean validation accuracy of
every cell string of the space (each answered by its table entry, as a search sees it) by one
term per (decision, option), and by those terms plus one per pair of decisions and their two
options; beside them, the share of that variance that is seed noise (the variance of seed 0 minus
seed 1, over 4). A high additive R^2 means each edge's best op is nearly independent of the others:
what a factored (per-decision) bandit assumes.

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


def additive_r2(bench: TabularBenchmark) -> dict:
    """R^2 of per-decision (additive) and pairwise least-squares fits of the seed-mean validation accuracy."""
    space = bench.space
    archs = list(space.enumerate())  # every string a search can propose, isomorphic ones included
    y = bench.values("val_accuracy")[[bench.index(a) for a in archs]]  # (N,)
    options = [list(d.choices) for d in space.decisions]
    codes = np.array([[options[k].index(c) for k, c in enumerate(a.choices)] for a in archs])  # (N, decisions)

    def r2(columns: list[np.ndarray]) -> float:
        X = np.stack([np.ones(len(y)), *columns], axis=1)  # (N, 1 + features)
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        residual = y - X @ coef
        return float(1 - residual.var() / y.var())

    single = [(codes[:, k] == o).astype(float) for k in range(codes.shape[1]) for o in range(len(options[k]))]
    pairs = [
        ((codes[:, j] == a) & (codes[:, k] == b)).astype(float)
        for j in range(codes.shape[1]) for k in range(j + 1, codes.shape[1])
        for a in range(len(options[j])) for b in range(len(options[k]))
    ]
    runs = bench.values("val_accuracy", reduce="none")[[bench.index(a) for a in archs]][:, :2]  # (N, 2 seeds)
    noise = float(np.nanvar(runs[:, 0] - runs[:, 1]) / 4 / y.var())  # the seed noise left in a 2-seed mean
    return {"additive_r2_val": r2(single), "pairwise_r2_val": r2(single + pairs), "seed_noise_share_val": noise}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="*", default=["bench:digits-cell"], help="bench:NAME or csv:PATH")
    args = parser.parse_args(argv)
    for table in args.tables:
        bench = TabularBenchmark.load(table)
        figures = {**signal(bench), **additive_r2(bench)}
        print(f"{table} ({bench.unique_architectures} cells, settings {bench.metadata.get('settings', {})})")
        for key, value in figures.items():
            print(f"  {key:26s} {value:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
