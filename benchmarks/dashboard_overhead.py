"""How much a live SearchDashboard adds to a search's wall time (target: under 10%).

Runs the same seeded search (cell space, digits, 1 training epoch per child) several times
in one process, alternating a plain ``search.run()`` with the same search driven by
:class:`nasrl_nb.widgets.SearchDashboard` (background search thread, throttled redraws of
every panel), and prints the median wall times and their ratio.

    python benchmarks/dashboard_overhead.py [--budget 24] [--batch 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import nasrl_nb as nb
from nasrl_nb.widgets import SearchDashboard


def build(data, args):
    return nb.make_search("reinforce", space="cell", dataset=data, budget=args.budget, batch_size=args.batch,
                          epochs=1, seed=0, progress=False)


def plain(data, args) -> float:
    search = build(data, args)
    start = time.perf_counter()
    search.run()
    return time.perf_counter() - start


def with_dashboard(data, args) -> tuple[float, int]:
    search = build(data, args)
    dash = SearchDashboard(search, max_redraws_per_second=args.redraws)
    start = time.perf_counter()
    dash.start()
    dash.wait()
    return time.perf_counter() - start, dash.redraws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=24)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redraws", type=float, default=1.0, help="max redraws per second (the default)")
    parser.add_argument("--max-samples", type=int, default=600)
    args = parser.parse_args()
    data = nb.load_dataset("digits", seed=0, max_samples=args.max_samples)
    plain(data, args)  # warm-up: first-call costs (allocator, kernels) hit neither side
    base, dashed, redraws = [], [], []
    for _ in range(args.repeats):
        base.append(plain(data, args))
        seconds, count = with_dashboard(data, args)
        dashed.append(seconds)
        redraws.append(count)
    b, d = statistics.median(base), statistics.median(dashed)
    print(f"search: cell space, digits ({args.max_samples} samples), budget {args.budget}, batch {args.batch}, 1 epoch/child")
    print(f"plain run       median {b:7.2f} s   runs {[round(x, 2) for x in base]}")
    print(f"with dashboard  median {d:7.2f} s   runs {[round(x, 2) for x in dashed]}   redraws {redraws}")
    print(f"ratio dashboard/plain = {d / b:.3f}")


if __name__ == "__main__":
    main()
