"""Wall time of a batch of children on each evaluator: speed-up with 2 workers, overhead per child.

The batch is ``--children`` (16) real children (NAS-Bench-201 cells on digits, ``--epochs``
epochs, ``--channels`` wide), trained with the cache off so that every round trains them
all again. Evaluators, each with one torch thread per child:

* ``serial``: :class:`~nasrl_nb.evaluators.base.ChildEvaluator` in this process (the baseline);
* ``process xK``: :class:`~nasrl_nb.evaluators.process.ProcessEvaluator` with K = 1, 2 workers;
* ``ray xK``: :class:`~nasrl_nb.evaluators.ray_evaluator.RayEvaluator` on a local ``ray.init(num_cpus=2)``
  (skipped when Ray is not installed).

Workers are started (and warmed with one batch) before anything is timed; their start-up
is reported apart. Then ``--rounds`` rounds time every evaluator once each, in an order that
rotates every round, so load on a shared machine hits all alike. Reported per evaluator:
the median seconds per batch, the speed-up over the same evaluator with 1 worker, and the
overhead per child against serial, ``(t_K1 - t_serial) / children``. The records are also
checked: every evaluator must return the serial records (timings aside).

    python -m benchmarks.evaluators                 # 16 children, 3 rounds (~10 min on 2 quiet cores)
    python -m benchmarks.evaluators --rounds 1 --children 8 --no-ray
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch

from nasrl_nb.evaluators.base import ChildEvaluator
from nasrl_nb.evaluators.process import ProcessEvaluator
from nasrl_nb.nn.data import load_dataset
from nasrl_nb.spaces.registry import get_space

TIMING_FIELDS = ("seconds", "latency_ms", "cached")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=16, help="children per batch")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median reported)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per child")
    parser.add_argument("--channels", type=int, default=8, help="child width")
    parser.add_argument("--max-samples", type=int, default=600, help="digits images used")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray evaluator")
    return parser.parse_args(argv)


def batch(n: int) -> list:
    """``n`` distinct cells spread over the space (every 97th: convolutions, pools and skips alike)."""
    return list(itertools.islice(get_space("cell").enumerate(), 0, 97 * n, 97))


def comparable(records) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)  # the serial baseline trains with one thread, as each worker does
    data = load_dataset("digits", max_samples=args.max_samples)
    archs = batch(args.children)

    def child() -> ChildEvaluator:
        return ChildEvaluator(data, epochs=args.epochs, child_kwargs={"channels": args.channels}, cache=False,
                              measure_latency=False)

    evaluators = {"serial": child(), "process x1": ProcessEvaluator(child(), workers=1),
                  "process x2": ProcessEvaluator(child(), workers=2)}
    ray = None
    if not args.no_ray:
        try:
            import ray
        except ImportError:
            print("ray: not installed, skipped (pip install 'nasrl-nb[ray]')")
    if ray is not None:
        from nasrl_nb.evaluators.ray_evaluator import RayEvaluator, start_local_ray

        start = time.perf_counter()
        try:
            start_local_ray(num_cpus=2)
        except Exception as err:  # e.g. the raylet timed out on an overloaded machine
            print(f"ray: could not start ({type(err).__name__}: {str(err).splitlines()[0]}); skipped")
            ray = None
    if ray is not None:
        print(f"ray.init(num_cpus=2): {time.perf_counter() - start:.1f} s")
        evaluators.update({"ray x1": RayEvaluator(child(), workers=1), "ray x2": RayEvaluator(child(), workers=2)})

    # start-up and warm-up (untimed for the table): every evaluator trains the batch once
    reference = None
    for name, evaluator in evaluators.items():
        start = time.perf_counter()
        records = evaluator.evaluate(archs)
        print(f"{name:11} first batch (start-up included): {time.perf_counter() - start:7.1f} s")
        if reference is None:
            reference = comparable(records)
        assert comparable(records) == reference, f"{name}: records differ from serial"

    times: dict[str, list[float]] = {name: [] for name in evaluators}
    names = list(evaluators)
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[: round_ % len(names)]  # rotate: load hits all alike
        for name in order:
            start = time.perf_counter()
            records = evaluators[name].evaluate(archs)
            times[name].append(time.perf_counter() - start)
            assert comparable(records) == reference, f"{name}: records differ from serial"
    for evaluator in evaluators.values():
        if hasattr(evaluator, "close"):
            evaluator.close()
    if ray is not None:
        ray.shutdown()

    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"\n{args.children} children, {args.epochs} epoch(s), {args.rounds} round(s); records equal to serial: yes")
    print(f"{'evaluator':11} {'s/batch':>8} {'vs x1':>7} {'overhead/child':>15}")
    result = {}
    for name, seconds in median.items():
        kind = name.split()[0]
        one = median.get(f"{kind} x1")
        speedup = one / seconds if one and name.endswith("x2") else None
        overhead = (seconds - median["serial"]) / args.children if name.endswith("x1") else None
        result[name] = {"seconds": seconds, "speedup_vs_x1": speedup, "overhead_per_child_s": overhead}
        print(f"{name:11} {seconds:8.2f} {'' if speedup is None else f'{speedup:.2f}x':>7} "
              f"{'' if overhead is None else f'{1e3 * overhead:+.0f} ms':>15}")
    return result


if __name__ == "__main__":
    main()
