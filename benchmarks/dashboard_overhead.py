"""How much a live SearchDashboard adds to a search's wall time (target: under 10%).

Runs the same seeded search (cell space, digits, 2 training epochs per child) several times
in one process, alternating a plain ``search.run()`` with the same search driven by
:class:`nasrl_nb.widgets.SearchDashboard` -- cooperatively on an asyncio event loop, as in a
Jupyter kernel, and in a background thread -- with throttled redraws of every panel, and
prints the median wall times and their ratios to the plain run.

    python -m benchmarks.dashboard_overhead [--budget 32] [--batch 8] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import nasrl_nb as nb
from nasrl_nb.widgets import SearchDashboard


def build(data, args):
    return nb.make_search("reinforce", space="cell", dataset=data, budget=args.budget, batch_size=args.batch,
                          epochs=args.epochs, seed=0, progress=False)


def plain(data, args) -> float:
    search = build(data, args)
    start = time.perf_counter()
    search.run()
    return time.perf_counter() - start


def with_dashboard(data, args, *, cooperative: bool) -> tuple[float, int]:
    """The dashboard drives the search: on an event loop, as in a Jupyter kernel, or in a thread."""
    search = build(data, args)
    dash = SearchDashboard(search, max_redraws_per_second=args.redraws, cooperative=cooperative)

    async def kernel():  # stands in for the kernel's event loop, idle between button clicks
        dash.start()
        while dash.running:
            await asyncio.sleep(0.05)

    start = time.perf_counter()
    if cooperative:
        asyncio.run(kernel())
    else:
        dash.start()
        dash.wait()
    return time.perf_counter() - start, dash.redraws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redraws", type=float, default=1.0, help="max redraws per second (the default)")
    parser.add_argument("--max-samples", type=int, default=None, help="digits subset (default: all 1,797)")
    args = parser.parse_args()
    data = nb.load_dataset("digits", seed=0, max_samples=args.max_samples)
    plain(data, args)  # warm-up: first-call costs (allocator, kernels) hit neither side
    runs = {"plain": [], "cooperative": [], "thread": []}
    redraws = {"cooperative": [], "thread": []}
    for _ in range(args.repeats):
        runs["plain"].append(plain(data, args))
        for mode in ("cooperative", "thread"):
            seconds, count = with_dashboard(data, args, cooperative=mode == "cooperative")
            runs[mode].append(seconds)
            redraws[mode].append(count)
    base = statistics.median(runs["plain"])
    samples = args.max_samples or "all"
    print(f"search: cell space, digits ({samples} samples), budget {args.budget}, batch {args.batch}, "
          f"{args.epochs} epochs/child, redraws <= {args.redraws}/s and <= 5% of wall time")
    print(f"plain search.run()          median {base:7.2f} s   runs {[round(x, 2) for x in runs['plain']]}")
    for mode, label in (("cooperative", "dashboard, event loop"), ("thread", "dashboard, thread")):
        median = statistics.median(runs[mode])
        print(f"{label:27s} median {median:7.2f} s   runs {[round(x, 2) for x in runs[mode]]}   "
              f"redraws {redraws[mode]}   ratio to plain {median / base:.3f}")


if __name__ == "__main__":
    main()
