"""The showdown: every search method of the toolkit on digits-cell at a comparable cost.

Random search, regularized evolution, REINFORCE and PPO run on the table; random search with
weight sharing, ENAS and DARTS (plain and remedied) train real supernets on the table's digits
split. The one-shot methods' CPU time (process time), converted to the table's training seconds by a
calibration (cells trained now with the build's settings, against the table's seconds for the
same runs, before and after the one-shot runs), sets the multi-trial budget: each multi-trial
search may spend the one-shot runs' mean cost (see ``nasrl_nb/assembly/comparable_cost.py``). Every pick
is scored by its table test accuracy (mean over the table's seeds) and its regret to the best.

    python -m benchmarks.showdown                                   # 5 seeds, 20 supernet epochs, the table's 16 channels
    python -m benchmarks.showdown --table bench:mnist1d-cell --seeds 3 --epochs 10   # its supernets: 8 channels, 1 x 40 signals
    python -m benchmarks.showdown --seeds 3 --epochs 10 --json showdown.json
    python -m benchmarks.showdown --methods random enas darts --seeds 2 --epochs 4 --channels 4   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks import REPO
from nasrl_nb.assembly.comparable_cost import (
    MULTI_TRIAL_METHODS,
    ONE_SHOT_METHODS,
    SHOWDOWN_METHODS,
    OneShotSettings,
    markdown_table,
    run_showdown,
    table_settings,
)
from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.runtime import environment_report


def parse_args(argv=None) -> argparse.Namespace:
    defaults = OneShotSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default="bench:digits-cell", help="bench:NAME or csv:PATH (default: bench:digits-cell)")
    parser.add_argument("--methods", nargs="+", choices=(*MULTI_TRIAL_METHODS, *ONE_SHOT_METHODS), default=list(SHOWDOWN_METHODS))
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 for every method (default: 5)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="supernet passes over the training split")
    parser.add_argument("--channels", type=int, default=None,
                        help="supernet width (default: the table's children's, from its sidecar: digits-cell 16, mnist1d-cell 8)")
    parser.add_argument("--candidates", type=int, default=defaults.candidates, help="cells ENAS / random_ws rank at the end")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="multi-trial budget in table seconds (default: the one-shot runs' mean cost)")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="seconds here per table second (default: calibrate before and after the one-shot runs)")
    parser.add_argument("--calibration-cells", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the build used 1 per worker)")
    parser.add_argument("--plot", default=str(REPO / "benchmarks" / "showdown.png"), help="PNG to write")
    parser.add_argument("--json", default=None, help="also write every record, the calibration and the settings here")
    return parser.parse_args(argv)


def one_shot_settings(args: argparse.Namespace, bench: TabularBenchmark) -> OneShotSettings:
    """The supernets' settings: ``--channels``, else the width of the table's own children (its skeleton)."""
    channels = table_settings(bench).channels if args.channels is None else args.channels
    return OneShotSettings(epochs=args.epochs, channels=channels, candidates=args.candidates)


def main(argv=None) -> int:
    args = parse_args(argv)
    from nasrl_nb.viz.bench_plots import plot_showdown

    bench = TabularBenchmark.load(args.table)
    settings = one_shot_settings(args, bench)
    start = time.perf_counter()

    def report(record: dict) -> None:
        print(f"{record['method']} seed {record['seed']}: {record['arch']} test {record['test_accuracy']:.4f} "
              f"cost {record['cost_seconds']:.1f} table s, CPU {record.get('cpu_seconds', 0):.1f} s, wall {record['wall_seconds']:.1f} s", file=sys.stderr, flush=True)

    result = run_showdown(
        bench, args.methods, range(args.seeds), settings=settings, budget_seconds=args.budget_seconds,
        time_scale="calibrate" if args.time_scale is None else args.time_scale, calibration_cells=args.calibration_cells,
        calibrate_after=args.time_scale is None and any(m in ONE_SHOT_METHODS for m in args.methods),
        threads=args.threads, callback=report,
    )
    seconds = time.perf_counter() - start
    fig = plot_showdown(result.records, optimum=result.optimum)
    fig.savefig(args.plot, dpi=120)
    command = "python -m benchmarks.showdown " + " ".join(argv if argv is not None else sys.argv[1:])
    scales = result.calibration
    scale_text = (f"calibrated {scales['time_scale']:.2f} (before {scales['time_scale_before']:.2f}, "
                  f"after {scales['after']['time_scale']:.2f})" if "after" in scales else f"{result.time_scale:.2f}")
    section = [
        f"### The showdown on {args.table.split(':')[-1]} ({args.seeds} seeds per method)",
        "",
        f"`{command.strip()}` (Python {environment_report()['python']}, {args.threads} torch thread(s); whole run "
        f"{seconds:.0f} s). Supernets: {settings.epochs} passes over the training split, {settings.channels} channels; "
        f"time scale {scale_text}.",
        "",
        markdown_table(result),
        "",
        f"![showdown]({Path(args.plot).name})",
    ]
    print("\n".join(section))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": command.strip(), "records": result.records, "budget_seconds": result.budget_seconds,
            "time_scale": result.time_scale, "calibration": result.calibration, "optimum": result.optimum,
            "best_arch": result.best_arch, "settings": result.settings, "seconds": seconds,
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
