"""Controller sampling: one batched pass vs one architecture at a time.

``LSTMController.sample(B)`` runs the LSTM once over the D decisions for the whole batch
(a Python loop over decisions, none over architectures). This script samples ``--n``
architectures (1,000 by default) from the NAS-Bench-201 cell space (D = 6), the default
macro space (4 layers x 4 vocabularies, D = 16) and a macro space with anchor-point skip
attention (4 layers, 2 vocabularies + skips over the layers before the previous one,
D = 8 + 3 = 11), each way, in one process:

* batched: one call ``controller.sample(n)``;
* one at a time: ``n`` calls ``controller.sample(1)``.

Both ways build the same ``Architecture`` objects and log-probabilities. Each is timed
``--repeats`` times (after one warm-up of each), alternating which goes first, under
``torch.no_grad()`` (as ``PolicyGradientTrainer.propose`` samples) and, with
``--autograd``, also with gradients recorded (as ``sample()`` returns them by default).
Reported: every repetition's seconds, the medians and the ratio of the medians.

    python -m benchmarks.controller_sampling                   # 1 intra-op thread (default)
    python -m benchmarks.controller_sampling --threads 2 --autograd --repeats 7
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch

from benchmarks import machine
from nasrl_nb.controllers.lstm import Controller, LSTMController
from nasrl_nb.runtime import resolve_device, seed_everything
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace

SPACES = {
    "cell": lambda: CellSpace(),
    "macro": lambda: MacroSpace(num_layers=4),
    "macro+skips": lambda: MacroSpace(num_layers=4, vocab={"layer_type": ["conv1x1", "conv3x3", "conv5x5"], "activation": ["relu", "tanh"]}, skip_connections=True),
}


def batched(controller: Controller, n: int) -> int:
    return len(controller.sample(n).architectures)


def one_at_a_time(controller: Controller, n: int) -> int:
    return sum(len(controller.sample(1).architectures) for _ in range(n))


def timed(fn, controller, n: int, grad: bool) -> float:
    context = contextlib.nullcontext() if grad else torch.no_grad()
    with context:
        start = time.perf_counter()
        count = fn(controller, n)
        if controller.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    assert count == n
    return seconds


def run(space_name: str, args, grad: bool) -> None:
    seed_everything(0)
    controller = LSTMController(SPACES[space_name](), hidden_size=args.hidden_size).to(args.device)
    decisions = len(controller.space.decisions)
    timed(batched, controller, args.n, grad)  # warm-up
    timed(one_at_a_time, controller, min(args.n, 100), grad)
    times = {"batched": [], "one_at_a_time": []}
    for r in range(args.repeats):
        order = ("batched", "one_at_a_time") if r % 2 == 0 else ("one_at_a_time", "batched")
        for name in order:
            times[name].append(timed(globals()[name], controller, args.n, grad))
    b, o = statistics.median(times["batched"]), statistics.median(times["one_at_a_time"])
    mode = "autograd" if grad else "no_grad"
    print(f"{space_name:12s} D={decisions:2d} {mode:8s}  batched (1 call x {args.n}): median {b:.4f} s  "
          f"[{', '.join(f'{t:.4f}' for t in times['batched'])}]")
    print(f"{'':12s} {'':4s} {'':8s}  one at a time ({args.n} calls): median {o:.4f} s  "
          f"[{', '.join(f'{t:.4f}' for t in times['one_at_a_time'])}]")
    print(f"{'':12s} {'':4s} {'':8s}  ratio one-at-a-time / batched: {o / b:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="architectures per way (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions of each way (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--hidden-size", type=int, default=64, help="controller LSTM size (default 64)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    parser.add_argument("--autograd", action="store_true", help="also time with gradients recorded")
    parser.add_argument("--spaces", nargs="+", default=list(SPACES), choices=list(SPACES))
    args = parser.parse_args()
    args.device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    print(f"{machine()}, device {args.device}, "
          f"hidden_size {args.hidden_size}, n {args.n}, repeats {args.repeats}")
    if hasattr(os, "getloadavg"):
        print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for space_name in args.spaces:
        for grad in (False, True) if args.autograd else (False,):
            run(space_name, args, grad)


if __name__ == "__main__":
    main()
