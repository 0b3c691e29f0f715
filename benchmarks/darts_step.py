"""One DARTS search step (architecture step + weight step), ours against the reference code's approach.

Configuration (the issue's): 8 initial channels, 5 cells (reductions at cells 1 and 3), 4
intermediate nodes, the 8 DARTS ops, a batch of 32 inputs of 3x32x32, 10 classes, CPU with 2
threads; first order and second order. Every one of these is a command-line argument.

The baseline, ``reference``, is the package's re-implementation of the paper's code
(quark0/darts: ``model_search.py``, ``architect.py``, ``train_search.py``), in
:mod:`nasrl_nb.darts.reference` (``RefNetwork``, ``RefArchitect``; one iteration of
``train_search.py``'s loop, ``RefSearch``, is here):

* ``MixedOp.forward`` is ``sum(w * op(x) for w, op in zip(weights, ops))`` over all 8 ops,
  ``none`` included (a ``Zero`` module whose zeros are multiplied by their weight);
  pools are followed by ``BatchNorm2d(affine=False)`` and every BatchNorm is ``affine=False``;
* first order: the architecture step is ``loss_val.backward()``, which fills the gradients
  of every weight as well as of the alphas; the weight step's ``loss_train.backward()``
  fills the alphas' gradients too;
* second order: the unrolled model ``w' = w - eta (momentum + dw)`` is a *new network*
  (``model.new()``, i.e. built and initialised from scratch, then ``load_state_dict``), on
  which ``loss_val.backward()`` is run; the Hessian-vector product moves ``p.data`` in place.

The subject, ``ours``, is the package: :class:`~nasrl_nb.darts.supernet.DartsSupernet`
(with :class:`~nasrl_nb.darts.mixed_op.MixedOp`) and
:class:`~nasrl_nb.darts.architect.BilevelOptimizer`. To say what each change buys, the
reference is also run with the changes applied one at a time, cumulatively:

1. ``no-none``:   ``none`` is neither built nor run (its weight stays in the softmax);
2. ``alpha-grad``: the architecture step asks autograd for the alphas' gradient only
   (``torch.autograd.grad(loss, alphas)``) and the weight step for the weights' only
   (``backward(inputs=weights)``);
3. ``in-place``:  second order only: the unrolled weights are written into the network
   itself and copied back afterwards, instead of building a second network;
4. ``ours-plain``: the package with its plain mixed ops (:class:`~nasrl_nb.darts.mixed_op.MixedOp`) in NCHW: on top of 1-3 it
   uses the children's ops (affine BatchNorm, no BatchNorm after pools: one op registry);
   its weight step runs with the alphas frozen and its
   first-order architecture pass with the weights frozen (autograd keeps only what the
   gradient asked for needs), and its second-order passes drop each loss and its graph
   before the next forward;
5. ``ours-fused``: + fused mixed ops (:class:`~nasrl_nb.darts.mixed_op.FusedMixedOp`): one ``relu(x)`` per edge
   shared by the 4 conv ops, and each mixing weight folded into its op's last BatchNorm
   (``w_k BN(y) = BN_{w_k gamma, w_k beta}(y)``), so no op output is kept twice;
6. ``ours``:      + channels-last activations (the package's default): oneDNN's depthwise
   convolutions are several times faster in NHWC on CPU.

``reference-cl`` is the reference code with its input made channels-last and nothing else
changed: what the layout alone does to it.

Time: one process builds every variant and runs their steps interleaved (round-robin, one
step each per round, after ``--warmup`` rounds), so load from other processes hits all alike;
reported are the median seconds per step and the median of the per-round ratios
``reference / variant``. Memory: each (variant, order) runs in a fresh subprocess that
builds its network, runs one step on a 2-example batch (lazy allocations), then ``--mem-steps``
steps, and reports its peak resident set size (``ru_maxrss``) and the step's working memory:
that peak minus the resident size just before the full-batch steps.

glibc's allocator keeps freed blocks and moves its mmap threshold, so the resident size can
grow over a sequence of large passes even when nothing stays alive; run the memory part with
``MALLOC_MMAP_THRESHOLD_=131072`` (large tensors mmapped and returned on free) so that the
peak follows the live tensors, as the figures in BENCHMARKS.md were.

On a machine shared by many processes, two spinning OpenMP threads per process can make a
step many times slower (``--threads 1``, or ``OMP_WAIT_POLICY=PASSIVE``); the CPU-time
columns are the steadier ones there.

    python -m benchmarks.darts_step                           # the issue's configuration
    python -m benchmarks.darts_step --orders second --rounds 9
    python -m benchmarks.darts_step --channels 16 --cells 8 --batch 64   # the paper's search net
    python -m benchmarks.darts_step --json                    # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

from benchmarks import REPO
from nasrl_nb.darts.architect import BilevelOptimizer
from nasrl_nb.darts.reference import (
    A_LR,
    A_WD,
    GRAD_CLIP,
    W_LR,
    W_MOMENTUM,
    W_WD,
    RefArchitect,
    RefNetwork,
    search_iteration,
)
from nasrl_nb.darts.supernet import DartsSupernet
from nasrl_nb.runtime import environment_report
from nasrl_nb.spaces.darts_space import DartsSpace

VARIANTS = ("reference", "no-none", "alpha-grad", "in-place", "reference-cl", "ours-plain", "ours-fused", "ours")
OURS = ("ours-plain", "ours-fused", "ours")  # the package: op by op in NCHW; fused mixed ops; fused + channels-last
ORDERS = ("first", "second")


class RefSearch:
    """One iteration of train_search.py's loop: architect.step, then the weight step."""

    def __init__(self, args, variant):
        self.model = RefNetwork(args.channels, args.classes, args.cells, steps=args.nodes, multiplier=args.nodes,
                                in_channels=args.in_channels, compute_none=variant in ("reference", "reference-cl"),
                                channels_last=variant == "reference-cl")
        self.optimizer = torch.optim.SGD(self.model.parameters(), W_LR, momentum=W_MOMENTUM, weight_decay=W_WD)
        self.architect = RefArchitect(self.model, alpha_grad=variant in ("alpha-grad", "in-place"), in_place=variant == "in-place")

    def step(self, train, val, second_order):
        search_iteration(self.model, self.architect, self.optimizer, train, val, second_order)


class OurSearch:
    """The package: DartsSupernet + BilevelOptimizer (w_lr etc. as the reference's); ``variant`` one of :data:`OURS`."""

    def __init__(self, args, variant="ours"):
        space = DartsSpace(num_nodes=args.nodes)
        cells_per_stage, rest = divmod(args.cells - 2, 3)
        if rest or cells_per_stage < 1:
            raise ValueError(f"--cells: {args.cells} is not allowed for the package's network; allowed values: 5, 8, 11, ... (3n + 2)")
        self.model = DartsSupernet(space, (args.in_channels, args.size, args.size), args.classes,
                                   channels=args.channels, cells_per_stage=cells_per_stage, fused=variant != "ours-plain")
        self.model.channels_last = variant == "ours"
        self.optimizers = {
            order: BilevelOptimizer(self.model, w_lr=W_LR, w_momentum=W_MOMENTUM, w_weight_decay=W_WD, grad_clip=GRAD_CLIP,
                                    alpha_lr=A_LR, alpha_weight_decay=A_WD, second_order=order == "second")
            for order in ORDERS
        }

    def step(self, train, val, second_order):
        self.optimizers["second" if second_order else "first"].step(train, val)


def build(args, variant):
    return OurSearch(args, variant) if variant in OURS else RefSearch(args, variant)


def batches(args):
    g = torch.Generator().manual_seed(args.seed)
    shape = (args.batch, args.in_channels, args.size, args.size)
    return [(torch.randn(shape, generator=g), torch.randint(0, args.classes, (args.batch,), generator=g)) for _ in range(2)]


def _variants_for(order, variants):
    return [v for v in variants if not (order == "first" and v == "in-place")]  # in-place only changes second order


# --- time: all variants in one process, interleaved ----------------------------------------------------
def time_steps(args) -> dict:
    torch.manual_seed(args.seed)
    train, val = batches(args)
    searches = {v: build(args, v) for v in args.variants}
    keys = [(o, v) for o in args.orders for v in _variants_for(o, args.variants)]
    wall, cpu = {k: [] for k in keys}, {k: [] for k in keys}
    for r in range(args.warmup + args.rounds):
        for order, variant in keys:
            start, start_cpu = time.perf_counter(), time.process_time()
            searches[variant].step(train, val, order == "second")
            if r >= args.warmup:
                wall[(order, variant)].append(time.perf_counter() - start)
                cpu[(order, variant)].append(time.process_time() - start_cpu)
            print(f"round {r} {order}/{variant}: {time.perf_counter() - start:.2f} s wall, "
                  f"{time.process_time() - start_cpu:.2f} s cpu{' (warmup)' if r < args.warmup else ''}", file=sys.stderr, flush=True)
    out = {}
    for order, variant in keys:
        row = {}
        for clock, times in (("wall", wall), ("cpu", cpu)):
            ts, ref = times[(order, variant)], times.get((order, "reference"))
            row[f"median_{clock}_s"] = statistics.median(ts)
            row[f"speedup_{clock}"] = statistics.median(a / b for a, b in zip(ref, ts, strict=True)) if ref else None
            row[f"{clock}_s"] = ts
        out[f"{order}/{variant}"] = row
    return out


# --- memory: one fresh process per (variant, order) ----------------------------------------------------------
def memory_child(args) -> dict:
    torch.manual_seed(args.seed)
    train, val = batches(args)
    search = build(args, args.variants[0])
    second = args.orders[0] == "second"
    # one step on a 2-example batch first: lazy allocations (optimiser state, thread pools,
    # autograd) then count in ``before``, not as the step's working memory
    search.step(tuple(t[:2] for t in train), tuple(t[:2] for t in val), second)
    before_kb = _rss_kb()
    for _ in range(args.mem_steps):
        search.step(train, val, second)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"peak_mb": peak_kb / 1024, "step_mb": (peak_kb - before_kb) / 1024, "before_mb": before_kb / 1024}


def _rss_kb() -> int:
    """The current resident set size in KiB (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure_memory(args) -> dict:
    out = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for order in args.orders:
        for variant in _variants_for(order, args.variants):
            cmd = [sys.executable, "-m", "benchmarks.darts_step", "--memory-child", "--variants", variant, "--orders", order,
                   *_shared_args(args)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"memory run {variant}/{order} failed:\n{done.stderr[-2000:]}")
            out[f"{order}/{variant}"] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _shared_args(args):
    keys = ("channels", "cells", "nodes", "batch", "size", "in_channels", "classes", "threads", "seed", "mem_steps")
    return [x for k in keys for x in (f"--{k.replace('_', '-')}", str(getattr(args, k)))]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channels", type=int, default=8, help="initial channels C (default 8)")
    p.add_argument("--cells", type=int, default=5, help="cells; reductions at 1/3 and 2/3 (default 5)")
    p.add_argument("--nodes", type=int, default=4, help="intermediate nodes per cell (default 4)")
    p.add_argument("--batch", type=int, default=32, help="batch size of the train and the val batch (default 32)")
    p.add_argument("--size", type=int, default=32, help="input height = width (default 32)")
    p.add_argument("--in-channels", type=int, default=3, help="input channels (default 3)")
    p.add_argument("--classes", type=int, default=10, help="classes (default 10)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds, one step of each variant per round (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    p.add_argument("--mem-steps", type=int, default=2, help="steps of each memory run (default 2)")
    p.add_argument("--orders", nargs="+", choices=ORDERS, default=list(ORDERS))
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    p.add_argument("--no-time", action="store_true", help="skip the timed runs (memory only)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("channels", "cells", "nodes", "batch", "size", "in_channels", "classes", "threads", "rounds", "mem_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')}: must be a positive integer, got {getattr(args, name)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_child:
        print(json.dumps(memory_child(args)))
        return 0
    result = {
        "config": {k: getattr(args, k) for k in ("channels", "cells", "nodes", "batch", "size", "in_channels", "classes",
                                                 "threads", "rounds", "warmup", "mem_steps", "seed")},
        "machine": {**environment_report(),
                    "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "time": {} if args.no_time else time_steps(args),
    }
    if not args.no_memory:
        result["memory"] = measure_memory(args)
    result["machine"]["load_avg_1min_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"DARTS search step: C={args.channels}, {args.cells} cells, {args.nodes} nodes, 8 ops, batch {args.batch} of "
          f"{args.in_channels}x{args.size}x{args.size}, {args.classes} classes, {args.threads} threads; "
          f"{args.rounds} rounds (load avg {result['machine']['load_avg_1min']:.1f} -> {result['machine']['load_avg_1min_after']:.1f})")
    print(f"{'order/variant':<20} {'wall s':>8} {'speedup':>8} {'cpu s':>8} {'speedup':>8} {'peak MB':>8} {'step MB':>8} {'mem ratio':>9}")
    for key in dict.fromkeys([*result["time"], *result.get("memory", {})]):
        t, mem = result["time"].get(key), result.get("memory", {}).get(key)
        ref_mem = result.get("memory", {}).get(f"{key.split('/')[0]}/reference")
        ratio = f"{ref_mem['step_mb'] / mem['step_mb']:8.2f}x" if mem and ref_mem and mem["step_mb"] > 0 else f"{'-':>9}"
        peak = f"{mem['peak_mb']:8.0f} {mem['step_mb']:8.0f}" if mem else f"{'-':>8} {'-':>8}"
        cols = "".join(f" {t[f'median_{c}_s']:8.3f} " + (f"{t[f'speedup_{c}']:7.2f}x" if t[f"speedup_{c}"] else f"{'-':>8}")
                       for c in ("wall", "cpu")) if t else f" {'-':>8} {'-':>8} {'-':>8} {'-':>8}"
        print(f"{key:<20}{cols} {peak} {ratio}")
    print("speedup: median over rounds of (reference time / variant time) within a round; cpu: process CPU time; "
          "mem ratio: reference step MB / variant step MB (a fresh process each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
