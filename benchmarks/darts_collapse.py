"""DARTS's collapse on digits-cell, and its remedies, measured against plain DARTS in one process.

NAS-Bench-201 (Dong & Yang 2020, Sec. 5) found that DARTS on its cell space derives a cell of
skip connections only. This script runs the real search (``make_search(method="darts")``, the
derived cell of every epoch answered by the digits-cell table: the ground truth) for plain
DARTS and each remedy over several seeds, and prints per epoch the share of skip connections
in the derived cell and the cell's table test accuracy (mean over seeds), then the final
cells and the remedies' accuracy as a ratio and a difference against plain DARTS.

    python -m benchmarks.darts_collapse --seeds 0 1 2 --epochs 40
    python -m benchmarks.darts_collapse --remedies none darts- --second-order --json out.json
    python -m benchmarks.darts_collapse --combine seed0.json seed1.json seed2.json   # runs made in parallel

``--combine`` looks every recorded cell up again in ``--table``: the searches do not read
the table (it only answers what their derived cells are worth), so runs recorded against an
older build of the table can be scored on a new one without searching again.

The supernet has the table's skeleton (16 channels, one cell per stage) and trains on the
table's own digits split; every setting of the bilevel optimiser is an argument.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.darts.config import REMEDIES


def run_one(bench, *, remedy: str, seed: int, args) -> dict:
    """One DARTS search; per epoch the derived cell, its skip share and its table accuracies."""
    darts = {"batch_size": args.batch_size, "alpha_lr": args.alpha_lr, "w_lr": args.w_lr,
             "aux_skip_weight": args.aux_skip_weight, "max_skips": args.max_skips, "batch_norm": args.batch_norm}
    search = make_search(method="darts", dataset=f"bench:{bench.name}", evaluator=TabularEvaluator(bench, seed=seed),
                         budget=args.epochs, seed=seed, remedy=remedy, second_order=args.second_order,
                         channels=args.channels, cells_per_stage=args.cells_per_stage, darts_kwargs=darts,
                         device="cpu", progress=False)
    start = time.perf_counter()
    epochs = []
    for step in search:
        stats = step.stats["epochs"][0]
        record = step.results[0]
        epochs.append({"epoch": stats["epoch"], "arch": record["arch"], "skip_share": stats["skip_share"],
                       "parameter_free_share": stats["parameter_free_share"],
                       "parameter_free_weight": stats.get("parameter_free_weight"),
                       "test_accuracy": record["test_accuracy"], "supernet_val_accuracy": stats.get("supernet_val_accuracy"),
                       "stopped": stats["stopped"]})
    return {"remedy": remedy, "seed": seed, "seconds": time.perf_counter() - start, "epochs": epochs,
            "final": epochs[-1]}


def rescore(bench, runs) -> None:
    """Answer each recorded derived cell's test accuracy from ``bench`` (mean over its runs)."""
    report = bench.values("test_accuracy")
    space = bench.space
    for run in runs:
        for epoch in run["epochs"]:
            epoch["test_accuracy"] = float(report[bench.index(space.parse(epoch["arch"]))])
        run["final"] = run["epochs"][-1]


def mean(values) -> float:
    return statistics.fmean(values)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default="digits-cell")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--remedies", nargs="+", choices=REMEDIES, default=list(REMEDIES))
    parser.add_argument("--second-order", action="store_true")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch of each half (default: 32)")
    parser.add_argument("--alpha-lr", type=float, default=3e-3,
                        help="Adam on the alphas (default 3e-3: DARTS's 3e-4 x 10, as digits gives ~16 steps per epoch, not ~400)")
    parser.add_argument("--w-lr", type=float, default=0.025)
    parser.add_argument("--aux-skip-weight", type=float, default=1.0, help="DARTS-: starting beta")
    parser.add_argument("--max-skips", type=int, default=2, help="DARTS+: stop at this many skips")
    parser.add_argument("--batch-norm", choices=("darts", "affine"), default="darts",
                        help="the supernet's BatchNorms: darts (affine=False, BN after pools: the paper's search; default) "
                             "or affine (the children's ops, the form of the figures before 2026-12-07)")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--cells-per-stage", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="write every run's per-epoch records here")
    parser.add_argument("--combine", nargs="+", default=None, metavar="JSON",
                        help="print the tables of runs written by --json (e.g. one process per seed) instead of running")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    bench = TabularBenchmark.load(f"bench:{args.table}")
    best = bench.best("test_accuracy")
    print(f"table {bench.name}: best test accuracy {best['test_accuracy']:.4f} ({best['arch']})")

    runs = []
    if args.combine:
        for path in args.combine:
            with open(path) as file:
                runs.extend(json.load(file)["runs"])
        rescore(bench, runs)
        args.remedies = list(dict.fromkeys(run["remedy"] for run in runs))
        args.epochs = min(len(run["epochs"]) for run in runs)
    for seed in [] if args.combine else args.seeds:  # interleaved: every remedy of a seed before the next seed
        for remedy in args.remedies:
            runs.append(run_one(bench, remedy=remedy, seed=seed, args=args))
    for run in runs:
        f = run["final"]
        print(f"seed {run['seed']} {run['remedy']:10s} {run['seconds']:7.1f}s  skip share {f['skip_share']:.2f}  "
              f"parameter-free {f['parameter_free_share']:.2f}  test acc {f['test_accuracy']:.4f}  {f['arch']}")

    print("\nper epoch, mean over seeds: skip share / parameter-free share / table test accuracy of the derived cell")
    print("epoch " + "".join(f"{r:>26s}" for r in args.remedies))
    for e in range(args.epochs):
        cells = []
        for remedy in args.remedies:
            rows = [run["epochs"][e] for run in runs if run["remedy"] == remedy]
            cells.append(f"{mean(r['skip_share'] for r in rows):.2f} / {mean(r['parameter_free_share'] for r in rows):.2f}"
                         f" / {mean(r['test_accuracy'] for r in rows):.4f}")
        if e < 5 or (e + 1) % 5 == 0:
            print(f"{e + 1:5d} " + "".join(f"{c:>26s}" for c in cells))

    print("\nfinal derived cell (mean over seeds)")
    finals = {r: [run["final"] for run in runs if run["remedy"] == r] for r in args.remedies}
    base = mean(f["test_accuracy"] for f in finals[args.remedies[0]])
    for remedy, rows in finals.items():
        accuracy = mean(f["test_accuracy"] for f in rows)
        spread = statistics.stdev(f["test_accuracy"] for f in rows) if len(rows) > 1 else 0.0
        print(f"{remedy:10s} test accuracy {accuracy:.4f} +- {spread:.4f}  skip share {mean(f['skip_share'] for f in rows):.2f}  "
              f"parameter-free share {mean(f['parameter_free_share'] for f in rows):.2f}  "
              + (f"parameter-free softmax mass {mean(f['parameter_free_weight'] for f in rows):.2f}  "
                 if all(f.get("parameter_free_weight") is not None for f in rows) else "")
              + f"vs {args.remedies[0]}: x{accuracy / base:.3f} ({accuracy - base:+.4f})  "
              f"per seed {[round(f['test_accuracy'], 4) for f in rows]}")
    result = {"settings": vars(args), "runs": runs}
    if args.json and not args.combine:
        with open(args.json, "w") as file:
            json.dump(result, file)
    return result


if __name__ == "__main__":
    main()
