"""REINFORCE, PPO, random search and regularized evolution on digits, at the same budget.

Every method searches the same space with the same child training, the same number of
evaluated architectures (``--budget``) and the same seeds; the child networks are real
(trained on scikit-learn's digits), built and trained by ``ChildEvaluator``. For each
method the script reports, over the seeds (mean +- sample std):

* best val acc -- the highest validation accuracy found (the search's objective);
* its test acc -- the test accuracy of *that* architecture (not the best test accuracy);
* last-25% reward -- mean reward of the last quarter of the evaluations: whether the
  search concentrates on good architectures (random search cannot);
* unique -- distinct architectures evaluated (the rest were repeats, answered by the cache);
* evaluations and wall seconds per run.

    python -m benchmarks.methods                                  # the BENCHMARKS.md table
    python -m benchmarks.methods --seeds 0 --budget 16            # a quick look
    python -m benchmarks.methods --space macro --epochs 2 --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from benchmarks import machine
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.assembly.methods import METHODS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--space", choices=("cell", "macro"), default="cell")
    parser.add_argument("--budget", type=int, default=64, help="architectures evaluated per run")
    parser.add_argument("--batch", type=int, default=8, help="architectures per step")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per child")
    parser.add_argument("--max-samples", type=int, default=600, help="digits subset (None-like: 0 = all 1,797)")
    parser.add_argument("--channels", type=int, default=8, help="child width")
    parser.add_argument("--child-batch-size", type=int, default=32)
    parser.add_argument("--controller-lr", type=float, default=0.05, help="Adam lr of the RL controller")
    parser.add_argument("--population", type=int, default=16, help="evolution: population size P")
    parser.add_argument("--tournament", type=int, default=4, help="evolution: tournament sample size S")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 is fastest for tiny nets)")
    parser.add_argument("--json", default=None, help="also write every run's summary to this file")
    return parser.parse_args(argv)


def run_one(args, method: str, seed: int) -> dict:
    """One search; returns its summary plus the last-quarter mean reward."""
    kwargs = {}
    if method in ("reinforce", "ppo"):
        kwargs["trainer_kwargs"] = {"lr": args.controller_lr}
    if method == "evolution":
        kwargs.update(population_size=args.population, sample_size=args.tournament)
    search = make_search(
        method,
        args.space,
        "digits",
        budget=args.budget,
        batch_size=args.batch,
        seed=seed,
        device="cpu",
        epochs=args.epochs,
        max_samples=args.max_samples or None,
        channels=args.channels,
        child_batch_size=args.child_batch_size,
        progress=False,
        policy_snapshots=False,
        **kwargs,
    )
    start = time.perf_counter()
    summary = search.run()
    summary["wall_seconds"] = time.perf_counter() - start
    quarter = search.history[-max(1, len(search.history) // 4):]
    summary["last_quarter_reward"] = statistics.fmean(row["reward"] for row in quarter)
    return summary


def mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {std:.3f}"


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"{machine()}; load average at start: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print(
        f"space {args.space}, budget {args.budget}, batch {args.batch}, seeds {args.seeds}, child: {args.epochs} epoch(s), "
        f"width {args.channels}, digits subset {args.max_samples or 'all'}, controller lr {args.controller_lr}, "
        f"evolution P={args.population} S={args.tournament}"
    )
    runs = {}
    for method in args.methods:
        runs[method] = []
        for seed in args.seeds:
            summary = run_one(args, method, seed)
            runs[method].append(summary)
            print(
                f"  {method:<9} seed {seed}: best val {summary['best_val_accuracy']:.3f}, its test "
                f"{summary['best_test_accuracy']:.3f}, last-25% reward {summary['last_quarter_reward']:.3f}, "
                f"unique {summary['unique_architectures']}, {summary['wall_seconds']:.0f} s",
                flush=True,
            )
    print()
    print("| method | best val acc | its test acc | last-25% reward | unique archs | evaluations | seconds |")
    print("|---|---|---|---|---|---|---|")
    for method, summaries in runs.items():
        cells = [
            mean_std([s["best_val_accuracy"] for s in summaries]),
            mean_std([s["best_test_accuracy"] for s in summaries]),
            mean_std([s["last_quarter_reward"] for s in summaries]),
            f"{statistics.fmean(s['unique_architectures'] for s in summaries):.1f}",
            f"{statistics.fmean(s['evaluations'] for s in summaries):.0f}",
            f"{statistics.fmean(s['wall_seconds'] for s in summaries):.0f}",
        ]
        print(f"| {method} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
