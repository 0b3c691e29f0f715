"""Seeded searches on a tabular benchmark in a pool of worker processes, shared by the comparison scripts.

``benchmarks.search_on_bench`` and ``benchmarks.rl_algorithms`` both run many seeded searches on one table,
tune one knob per method on seeds the comparison never uses, and score the picks. This
module is that common part: each worker loads the table once and runs with one torch thread
(two workers on two cores would otherwise fight over them).
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from contextlib import contextmanager

from nasrl_nb.assembly import compare
from nasrl_nb.assembly.compare import landmarks, pick_validation

TUNING_SEEDS = range(1000, 1016)
KEEP = ("arch", "status", "val_accuracy", "test_accuracy", "seconds")
_TABLE = {}


def _init(table: str) -> None:
    import torch

    from nasrl_nb.bench.tabular import TabularBenchmark

    torch.set_num_threads(1)
    _TABLE["bench"] = TabularBenchmark.load(table)


def run_job(job) -> tuple[list[dict], float, float]:
    """One seeded search ``(method, seed, budget, settings)``: slimmed history, its pick's validation accuracy, seconds."""
    from nasrl_nb.assembly.compare import run_method

    method, seed, budget, settings = job
    start = time.perf_counter()
    history = run_method(_TABLE["bench"], method, seed, budget=budget, settings=settings)
    seconds = time.perf_counter() - start
    return [{k: r.get(k) for k in KEEP} for r in history], pick_validation(_TABLE["bench"], history), seconds


@contextmanager
def start_pool(table: str, workers: int):
    """A spawn pool whose workers have loaded ``table`` and run one search each, so timing starts warm.

    Closed and joined on the way out (terminated after an error), so no worker or semaphore leaks.
    """
    pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_init, initargs=(table,))
    try:
        pool.map(run_job, [("random", 0, 2, {"batch_size": 1})] * workers)
        yield pool
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def pool_runs(pool):
    """:func:`~nasrl_nb.assembly.compare.tune`'s ``run`` hook: the seeds' searches spread over ``pool``'s
    workers (each history slimmed to :data:`KEEP`), in seed order."""

    def run(bench, method: str, seeds, *, budget: int, settings) -> list[list[dict]]:
        return [history for history, _, _ in pool.map(run_job, [(method, seed, budget, settings) for seed in seeds])]

    return run


def tune(pool, bench, method: str, grid: dict, budget: int) -> tuple[dict, list[dict]]:
    """:func:`nasrl_nb.assembly.compare.tune` on :data:`TUNING_SEEDS`, with the searches in ``pool``.

    The seeds are ones the comparisons never use, and it reads no test accuracy. Returns the
    chosen settings and one row per candidate (``settings``, ``score``: the mean validation
    accuracy of the picks, ``scores``: one per seed), each announced on stderr.
    """
    best, rows = compare.tune(bench, method, grid, TUNING_SEEDS, budget=budget, run=pool_runs(pool))
    for row in rows:
        print(f"tune {method} {row['settings']}: mean val of pick {row['score']:.4f}", file=sys.stderr)
    return best, rows


def add_common_arguments(parser, seeds_help: str) -> None:
    """The options both comparison scripts take: the table, seeds, workers and the output files."""
    parser.add_argument("--table", default="bench:digits-cell", help="bench:NAME or csv:PATH (default: bench:digits-cell)")
    parser.add_argument("--seeds", type=int, default=50, help=f"{seeds_help} (default: 50)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one torch thread each (default: 2)")
    parser.add_argument("--markdown", default=None, help="also write the markdown section to this file")
    parser.add_argument("--json", default=None, help="also write every statistic and setting to this file")


def load_table(table: str):
    """``(bench, optimum, top-1% threshold)`` of ``table``, announced on stderr."""
    from nasrl_nb.bench.tabular import TabularBenchmark

    bench = TabularBenchmark.load(table)
    optimum, threshold = landmarks(bench)
    print(f"{bench!r}; optimum {optimum:.4f}, top-1% threshold {threshold:.4f}", file=sys.stderr)
    return bench, optimum, threshold
