"""The RL toolbox on digits-cell: every policy optimiser and bandit, over many seeds, at two budgets.

NAS-Bench-201's protocol (Dong & Yang 2020, Sec. 5), as in ``search_on_bench.py``: each run
picks the architecture with the best *validation* accuracy it saw and is scored by its mean
*test* accuracy. For every method and budget (default 100 and 300 evaluations, 50 seeds) the
script reports the test accuracy of the pick (mean ± std), the regret to the table's optimum,
the median number of evaluations until a top-1% architecture was evaluated, and the wall time
per evaluation (the strategy's own cost: the table answers in microseconds), as a ratio to
random search measured in the same process pool with the runs interleaved seed by seed.

``--tune`` first picks each method's setting from a small grid (:data:`GRIDS`) by the mean
*validation* accuracy of the picks over seeds 1000-1015, which the comparison never uses.

    python -m benchmarks.rl_algorithms --tune                 # 50 seeds x {100, 300} evaluations, 2 workers
    python -m benchmarks.rl_algorithms --seeds 4 --budgets 50 # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from benchmarks.tabular_pool import add_common_arguments, load_table, run_job, start_pool, tune
from nasrl_nb.assembly.compare import TABULAR_SETTINGS, score_runs
from nasrl_nb.runtime import environment_report

METHODS = ("random", "reinforce", "ppo", "a2c", "trpo", "sac", "ucb", "thompson")
GRIDS = {  # one knob each, around the defaults (TABULAR_SETTINGS)
    "a2c": {"trainer_kwargs.lr": [0.01, 0.05, 0.2]},
    "trpo": {"trpo_kwargs.max_kl": [0.01, 0.05, 0.2]},
    "sac": {"sac_kwargs.target_entropy": [0.3, 0.6, 0.9]},
    "ucb": {"bandit_kwargs.exploration": [1.0, 4.0, 16.0]},  # 4.0, the edge of an earlier grid, now its middle
    "thompson": {"bandit_kwargs.prior_count": [1.0, 4.0, 16.0]},
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "seeded runs per method and budget")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 300], help="evaluations per run (default: 100 300)")
    parser.add_argument("--tune", action="store_true", help="tune each method's knob on validation first (seeds 1000-1015)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    bench, optimum, threshold = load_table(args.table)
    settings = {m: TABULAR_SETTINGS[m] for m in args.methods}
    tuning = {}
    with start_pool(args.table, args.workers) as pool:
        # 1. tune one knob per method on validation, at the smallest budget, on seeds the comparison does not use
        if args.tune:
            for method in [m for m in args.methods if m in GRIDS]:
                settings[method], tuning[method] = tune(pool, bench, method, GRIDS[method], min(args.budgets))
        # 2. the comparison: every method on the same seeds, interleaved seed by seed (fair under load)
        results, per_eval = {}, {}
        for budget in args.budgets:
            jobs = [(m, seed, budget, settings[m]) for seed in range(args.seeds) for m in args.methods]
            start = time.perf_counter()
            runs = pool.map(run_job, jobs, chunksize=1)
            print(f"budget {budget}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
            for method in args.methods:
                mine = [r for job, r in zip(jobs, runs, strict=True) if job[0] == method]
                results[(method, budget)] = score_runs(method, [h for h, _, _ in mine], optimum=optimum,
                                                       threshold=threshold, settings=settings[method])
                per_eval[(method, budget)] = statistics.median(s for _, _, s in mine) / budget
                print(f"{method} @ {budget}: {results[(method, budget)].stats}", file=sys.stderr)

    # 3. the markdown section
    baseline = "random" if "random" in args.methods else args.methods[0]
    lines = [
        f"### The RL toolbox on {bench.name} (tabular, {args.seeds} seeds, budgets {', '.join(map(str, args.budgets))})",
        "",
        f"`python -m benchmarks.rl_algorithms{' --tune' if args.tune else ''} --seeds {args.seeds} "
        f"--budgets {' '.join(map(str, args.budgets))} --workers {args.workers}` (Python {environment_report()['python']}). "
        "Each run picks the architecture with the best validation accuracy it saw and is scored by its mean test "
        f"accuracy. Wall time per evaluation is the median run's seconds / budget (the table answers in microseconds, "
        f"so this is the strategy's own cost), and its ratio to {baseline} measured in the same pool, runs interleaved "
        "seed by seed; absolute times were taken on a loaded 2-core machine shared with other jobs.",
        "",
        "| method | budget | test acc. of the pick (mean ± std) | regret | picks in top 1% | median evals to a top-1% arch "
        f"| ms / evaluation | × {baseline} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for budget in args.budgets:
        for method in args.methods:
            s = results[(method, budget)].stats
            reach = "over budget" if s["median_reach"] is None else f"{s['median_reach']:.0f}"
            ratio = per_eval[(method, budget)] / per_eval[(baseline, budget)]
            lines.append(
                f"| {method} | {budget} | {100 * s['final_mean']:.2f} ± {100 * s['final_std']:.2f} | {100 * s['regret']:.2f} "
                f"| {100 * s['top_hit']:.0f}% | {reach} ({s['reached']}/{s['runs']}) | {1000 * per_eval[(method, budget)]:.2f} "
                f"| {ratio:.1f} |"
            )
    lines += [
        "",
        f"Optimum (best mean test accuracy) {100 * optimum:.2f}%; top-1% threshold {100 * threshold:.2f}%.",
        "",
        "Settings: " + "; ".join(f"{m}: `{json.dumps(s)}`" for m, s in settings.items())
        + (" (one knob per new method tuned on validation over seeds 1000-1015)" if args.tune else ""),
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "table": args.table, "optimum": optimum, "threshold": threshold, "budgets": args.budgets, "seeds": args.seeds,
            "stats": {f"{m}@{b}": r.stats for (m, b), r in results.items()},
            "seconds_per_evaluation": {f"{m}@{b}": v for (m, b), v in per_eval.items()},
            "settings": settings, "tuning": tuning,
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
