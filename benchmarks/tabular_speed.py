"""How fast is a search on a table? Seeded runs of every method, timed stage by stage.

A tabular search costs no training: what is left is the strategy (controller sampling and the
policy-gradient update for REINFORCE/PPO), the table look-up and the loop's bookkeeping. This
script runs ``--runs`` seeded searches of ``--budget`` evaluations per method, spread over
``--workers`` processes (one torch thread each), and prints per method:

* wall seconds for all runs, and per run;
* milliseconds per architecture, split into strategy (propose + observe), evaluator (the
  look-up) and loop (everything else: RNG swaps, records, commits).

    python -m benchmarks.tabular_speed                       # 100 runs x 100 evaluations, 2 workers
    python -m benchmarks.tabular_speed --runs 10 --workers 1 # a quick look
    python -m benchmarks.tabular_speed --table csv:my_table.csv.gz
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time

from benchmarks import machine
from nasrl_nb.assembly.methods import METHODS

_TABLE = {}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default="bench:digits-cell", help="bench:NAME or csv:PATH (default: bench:digits-cell)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--runs", type=int, default=100, help="seeded runs per method (default: 100)")
    parser.add_argument("--budget", type=int, default=100, help="evaluations per run (default: 100)")
    parser.add_argument("--batch", type=int, default=8, help="architectures per step (default: 8)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default: 2)")
    return parser.parse_args(argv)


def _init(table: str) -> None:
    import torch

    from nasrl_nb.bench.tabular import TabularBenchmark

    torch.set_num_threads(1)
    _TABLE["bench"] = TabularBenchmark.load(table)


def _timed(obj, name: str, clock: dict) -> None:
    """Wrap ``obj.name`` so that its wall time adds up in ``clock[name]`` (measurement only)."""
    inner = getattr(obj, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            clock[name] = clock.get(name, 0.0) + time.perf_counter() - start

    setattr(obj, name, wrapper)


def one_run(job: tuple[str, int, int, int]) -> dict:
    """One seeded search; its wall time split by stage."""
    from nasrl_nb.assembly.factory import make_search
    from nasrl_nb.bench.evaluator import TabularEvaluator

    method, seed, budget, batch = job
    evaluator = TabularEvaluator(_TABLE["bench"], seed=seed, on_missing="fail")  # a partial table times the same
    search = make_search(method, "cell", None, budget=budget, batch_size=batch, seed=seed, evaluator=evaluator,
                         progress=False, policy_snapshots=False)
    clock: dict = {}
    _timed(search.strategy, "propose", clock)
    _timed(search.strategy, "observe", clock)
    _timed(evaluator, "evaluate", clock)
    start = time.perf_counter()
    summary = search.run()
    total = time.perf_counter() - start
    strategy = clock.get("propose", 0.0) + clock.get("observe", 0.0)
    return {"method": method, "seconds": total, "strategy": strategy, "evaluator": clock.get("evaluate", 0.0),
            "loop": total - strategy - clock.get("evaluate", 0.0), "evaluations": summary["evaluations"]}


def main(argv=None) -> int:
    args = parse_args(argv)
    from nasrl_nb.bench.tabular import TabularBenchmark

    print(f"table {args.table}: {TabularBenchmark.load(args.table)!r}")
    print(f"{args.runs} runs x {args.budget} evaluations per method, batch {args.batch}, {args.workers} workers, "
          f"{machine()}")
    ctx = multiprocessing.get_context("spawn")
    rows = []
    with ctx.Pool(args.workers, initializer=_init, initargs=(args.table,)) as pool:
        pool.map(one_run, [(args.methods[0], 0, 2, 2)] * args.workers)  # warm up imports in every worker
        for method in args.methods:
            jobs = [(method, seed, args.budget, args.batch) for seed in range(args.runs)]
            start = time.perf_counter()
            results = pool.map(one_run, jobs)
            wall = time.perf_counter() - start
            archs = sum(r["evaluations"] for r in results)
            per = {k: 1000 * sum(r[k] for r in results) / archs for k in ("seconds", "strategy", "evaluator", "loop")}
            rows.append((method, wall, wall / args.runs, per))
    print("\n| method | wall s (all runs) | s per run (wall) | ms/arch | strategy | evaluator | loop |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for method, wall, per_run, per in rows:
        print(f"| {method} | {wall:.1f} | {per_run:.3f} | {per['seconds']:.2f} | {per['strategy']:.2f} | "
              f"{per['evaluator']:.3f} | {per['loop']:.2f} |")
    print("\nms/arch is CPU time in one worker per architecture; strategy = propose + observe "
          "(controller sampling and update), evaluator = table look-up, loop = the rest.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
