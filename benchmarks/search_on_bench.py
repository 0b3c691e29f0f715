"""The showdown: random search, regularized evolution, REINFORCE and PPO on a tabular benchmark.

NAS-Bench-201's protocol (Dong & Yang 2020, Sec. 5): every method gets the same number of
evaluations on the same table; a query returns the validation accuracy of one training run
(a seed drawn per query); each run picks the architecture with the best validation accuracy
and is scored by its mean test accuracy. Over ``--seeds`` runs per method the script reports
mean ± std test accuracy of the pick, regret to the table's optimum, the share of picks in the
top 1%, and the median number of evaluations until a top-1% architecture was evaluated; it
saves a plot of best-so-far against evaluations with 95% confidence bands and prints a markdown
section for BENCHMARKS.md.

``--tune`` first chooses the RL settings (controller lr, batch size, entropy weight) from a
small grid by the mean *validation* accuracy of the picks, on seeds 1000+ that the comparison
never uses; test accuracy plays no part in tuning.

    python -m benchmarks.search_on_bench                     # 50 seeds x 100 evaluations, 2 workers
    python -m benchmarks.search_on_bench --tune --markdown showdown.md
    python -m benchmarks.search_on_bench --seeds 5 --budget 50 --workers 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks import REPO
from benchmarks.tabular_pool import add_common_arguments, load_table, run_job, start_pool, tune
from nasrl_nb.assembly.compare import TABULAR_SETTINGS, markdown_table, score_runs
from nasrl_nb.assembly.methods import METHODS
from nasrl_nb.runtime import environment_report

RL_GRID = {"trainer_kwargs.lr": [0.01, 0.05, 0.2], "batch_size": [4, 8], "trainer_kwargs.entropy_weight": [1e-4, 1e-2]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "seeded runs per method")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=["random", "evolution", "reinforce", "ppo"])
    parser.add_argument("--budget", type=int, default=100, help="evaluations per run (default: 100)")
    parser.add_argument("--tune", action="store_true", help="tune the RL settings on validation first (seeds 1000-1015)")
    parser.add_argument("--plot", default=str(REPO / "benchmarks" / "search_on_bench.png"), help="PNG to write")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from nasrl_nb.viz.bench_plots import plot_best_so_far

    bench, optimum, threshold = load_table(args.table)
    settings = {m: TABULAR_SETTINGS[m] for m in args.methods}
    tuning = {}
    with start_pool(args.table, args.workers) as pool:
        # 1. tune the RL methods on validation, on seeds the comparison does not use
        if args.tune:
            for method in [m for m in args.methods if m in ("reinforce", "ppo")]:
                settings[method], tuning[method] = tune(pool, bench, method, RL_GRID, args.budget)
        # 2. the comparison: the same seeds and budget for every method
        results, seconds = {}, {}
        for method in args.methods:
            start = time.perf_counter()
            runs = pool.map(run_job, [(method, seed, args.budget, settings[method]) for seed in range(args.seeds)])
            seconds[method] = time.perf_counter() - start
            results[method] = score_runs(method, [h for h, _, _ in runs], optimum=optimum, threshold=threshold,
                                         settings=settings[method])
            print(f"{method}: {results[method].stats} ({seconds[method]:.1f} s)", file=sys.stderr)

    # 3. the plot and the markdown section
    fig = plot_best_so_far({m: r.curves for m, r in results.items()}, optimum=optimum)
    fig.savefig(args.plot, dpi=120)
    section = [
        f"### Search methods on {bench.name} (tabular, {args.seeds} seeds × {args.budget} evaluations)",
        "",
        f"`python -m benchmarks.search_on_bench{' --tune' if args.tune else ''} --seeds {args.seeds} --budget {args.budget}` "
        f"(Python {environment_report()['python']}, {args.workers} workers). Each run picks the architecture with the best "
        "validation accuracy it saw (one training run drawn per query) and is scored by its mean test accuracy.",
        "",
        markdown_table(results, optimum=optimum, threshold=threshold, budget=args.budget),
        "",
        "Settings: " + "; ".join(f"{m}: `{json.dumps(s)}`" for m, s in settings.items())
        + (" (RL settings tuned on validation over seeds 1000-1015)" if args.tune else ""),
        "",
        "Wall seconds for all runs: " + ", ".join(f"{m} {s:.1f}" for m, s in seconds.items()) + ".",
        "",
        f"![best so far]({Path(args.plot).name})",
    ]
    text = "\n".join(section)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "table": args.table, "optimum": optimum, "threshold": threshold, "budget": args.budget,
            "stats": {m: r.stats for m, r in results.items()}, "settings": settings, "tuning": tuning,
            "seconds": seconds,
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
