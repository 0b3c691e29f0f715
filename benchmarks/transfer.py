"""Transfer between two tables: digits-cell and mnist1d-cell, the figures BENCHMARKS.md quotes.

Prints, for two tables of the cell space (NAS-Bench-201's "robustness across datasets",
Dong & Yang 2020, Sec. 4):

1. each table's signal and what it rewards: the seed-to-seed Spearman of validation accuracy,
   and per op the mean test accuracy over the space and its share of the best 1% cells' edges
   (:func:`nasrl_nb.bench.analysis.op_summary`);
2. the rank correlation of the cells' mean test accuracies between the tables, overall and among
   the top 10% of each, and where each table's best cell ranks on the other
   (:func:`nasrl_nb.bench.transfer.table_transfer`);
3. what a search on one table finds for the other: each method's picks (best validation accuracy
   seen, ``--budget`` evaluations, defaults) on each table, scored by both tables
   (:func:`nasrl_nb.bench.transfer.score_picks`), beside the same method searching the other
   table itself.

    python -m benchmarks.transfer --seeds 20 --budget 100 --methods random reinforce
    python -m benchmarks.transfer --tables bench:digits-cell csv:/tmp/mnist1d-cell.csv.gz --seeds 2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from benchmarks.tabular_pool import run_job, start_pool
from nasrl_nb.bench.analysis import op_summary, seed_correlation
from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.bench.transfer import score_picks, table_transfer


def picks_of(histories) -> list[str]:
    """Each run's pick: the cell with the best validation accuracy it saw (NAS-Bench-201's protocol)."""
    picks = []
    for history in histories:
        ok = [r for r in history if r.get("status") == "ok" and math.isfinite(r.get("val_accuracy", math.nan))]
        picks.append(max(ok, key=lambda r: r["val_accuracy"])["arch"])
    return picks


def search_picks(table: str, methods, seeds, budget: int, workers: int) -> dict[str, list[str]]:
    """``{method: picks}`` of ``seeds`` searches of each method on ``table``, in a pool of workers."""
    with start_pool(table, workers) as pool:
        out = {}
        for method in methods:
            start = time.perf_counter()
            histories = [h for h, _, _ in pool.map(run_job, [(method, seed, budget, None) for seed in seeds])]
            out[method] = picks_of(histories)
            print(f"{method} on {table}: {len(seeds)} searches in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


def markdown(report: dict) -> str:
    a, b = report["names"]
    lines = ["| table | seed-to-seed Spearman (val.) | " + " | ".join(f"{op}: mean / top-1% share" for op in report["ops"]) + " |",
             "|---|---:|" + "---:|" * len(report["ops"])]
    for name in report["names"]:
        s = report["tables"][name]
        lines.append(f"| {name} | {s['seed_spearman']:.3f} | "
                     + " | ".join(f"{100 * s['ops'][op]['mean']:.2f} / {100 * s['ops'][op]['top_share']:.0f}%" for op in report["ops"]) + " |")
    t = report["transfer"]
    lines += ["", f"Cells both tables answer: {t['cells']}; Spearman of mean test accuracy {t['spearman']:.3f}; "
              f"among the top {100 * t['top_fraction']:.0f}% ({t['top_cells']} cells) of {a}: {t['top_spearman_by_a']:.3f}, "
              f"of {b}: {t['top_spearman_by_b']:.3f}.", ""]
    for key, (here, there) in (("best_of_a_on_b", (a, b)), ("best_of_b_on_a", (b, a))):
        x = t[key]
        lines.append(f"- {here}'s best cell `{x['cell']}` ({100 * x['value_here']:.2f}% there) ranks {x['rank']} of "
                     f"{t['cells']} on {there} ({100 * x['value_there']:.2f}%, top {100 * x['rank_fraction']:.1f}%).")
    if report.get("searches"):
        lines += ["", f"| method | searched on | test acc. of the picks on {a} (mean ± s.e.) | on {b} (mean ± s.e.) | "
                  "mean rank fraction on the other table |", "|---|---|---:|---:|---:|"]
        for row in report["searches"]:
            s_a, s_b = row["scores"][a], row["scores"][b]
            other = s_b if row["searched_on"] == a else s_a
            lines.append(f"| {row['method']} | {row['searched_on']} | {100 * s_a['mean']:.2f} ± {100 * s_a['sem']:.2f} | "
                         f"{100 * s_b['mean']:.2f} ± {100 * s_b['sem']:.2f} | {other['mean_rank_fraction']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs=2, default=["bench:digits-cell", "bench:mnist1d-cell"], metavar="TABLE",
                        help="two tables of the cell space: bench:NAME or csv:PATH (default: digits-cell mnist1d-cell)")
    parser.add_argument("--methods", nargs="*", default=["random", "reinforce"], help="search methods (none: no searches)")
    parser.add_argument("--seeds", type=int, default=20, help="searches per method and table, seeds 0..N-1 (default: 20)")
    parser.add_argument("--budget", type=int, default=100, help="evaluations per search (default: 100)")
    parser.add_argument("--workers", type=int, default=2, help="processes, one torch thread each (default: 2)")
    parser.add_argument("--json", default=None, help="also write every figure to this file")
    args = parser.parse_args(argv)
    for field in ("seeds", "budget", "workers"):
        if getattr(args, field) < 1:
            print(f"error: --{field}: must be a positive integer, got {getattr(args, field)}", file=sys.stderr)
            return 2
    try:
        benches = [TabularBenchmark.load(t) for t in args.tables]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    names = [b.name for b in benches]
    summaries = {b.name: {"seed_spearman": seed_correlation(b, "val_accuracy"), "ops": op_summary(b)} for b in benches}
    report = {"tables": summaries, "names": names, "ops": list(benches[0].space.ops),
              "transfer": table_transfer(*benches), "searches": [],
              "settings": {"tables": args.tables, "methods": args.methods, "seeds": args.seeds, "budget": args.budget}}
    seeds = list(range(args.seeds))
    for table, bench in zip(args.tables, benches):
        if not args.methods:
            break
        for method, picks in search_picks(table, args.methods, seeds, args.budget, args.workers).items():
            report["searches"].append({"method": method, "searched_on": bench.name, "picks": picks,
                                       "scores": {b.name: score_picks(picks, b) for b in benches}})
    print(markdown(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
