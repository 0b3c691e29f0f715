"""One prepared script for a machine with a GPU: correct on the GPU, then how fast.

1. **correctness** (small case, digits): the same child network, with the same weights,
   gives the same logits and gradients on the GPU as on the CPU (to float tolerance); a
   child trained by ``ChildEvaluator`` on each device reaches a validation accuracy within
   ``--tolerance`` of the other's; a small random search proposes the same architectures on
   both (they depend on the seed only); bf16 autocast trains to a finite loss.
2. **throughput** (3x32x32 synthetic images, 10 classes, ``--batch`` images a step, which
   should fill the card): child training through the library (``train_and_evaluate``, data
   resident on the device) against a hand-written loop of the same network (same weights,
   same optimizer), fp32 and bf16; one controller update (the controller lives on the CPU:
   sampling plus REINFORCE, batch ``--controller-batch``); an ENAS step (shared weights:
   forward, backward, SGD) and a DARTS step (first-order bilevel step) when
   :mod:`nasrl_nb.enas` and :mod:`nasrl_nb.darts` offer them. Each is warmed up, synchronised
   (``torch.cuda.synchronize``) and timed over ``--steps`` steps.

It prints one table and exits non-zero if a correctness check fails. It is sized to finish in
under five minutes on one GPU (``--budget-s`` stops the timings early if not). Without a GPU
it runs the same code on the CPU with small sizes (``--device cpu --quick``), which is how it
was tested; the GPU figures are for a machine that has one.

    python -m benchmarks.gpu_search                       # on a GPU box (Colab: Runtime > GPU)
    python -m benchmarks.gpu_search --device cpu --quick  # the same code path on a laptop
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time

import torch
from torch import nn

from benchmarks import machine
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.evaluators.base import ChildEvaluator
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.nn.data import Dataset, load_dataset
from nasrl_nb.nn.training import train_and_evaluate
from nasrl_nb.runtime import resolve_device, seed_everything
from nasrl_nb.spaces.registry import get_space

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N, cpu, mps")
    parser.add_argument("--quick", action="store_true", help="small sizes (a CPU check of the code path)")
    parser.add_argument("--batch", type=int, default=None, help="images per training step (default 1024; 64 quick)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement (default 30; 3 quick)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; 1 quick)")
    parser.add_argument("--channels", type=int, default=None, help="child / supernet width (default 32; 8 quick)")
    parser.add_argument("--controller-batch", type=int, default=64, help="architectures per controller update")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed |val accuracy(GPU) - val accuracy(CPU)|")
    parser.add_argument("--budget-s", type=float, default=240.0, help="skip the remaining timings after this many seconds")
    args = parser.parse_args(argv)
    quick = args.quick
    args.batch = args.batch or (64 if quick else 1024)
    args.steps = args.steps or (3 if quick else 30)
    args.warmup = args.warmup or (1 if quick else 5)
    args.channels = args.channels or (8 if quick else 32)
    return args


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, step, *, steps: int, warmup: int) -> float:
    """Seconds per call of ``step()``: ``warmup`` untimed calls, then ``steps`` timed, synchronised."""
    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


# --- 1. correctness ------------------------------------------------------------------------------------
def correctness(device: torch.device, args) -> list[tuple[str, bool, str]]:
    checks = []
    data = load_dataset("digits", max_samples=300)
    arch = get_space("cell").parse(CELL)
    seed_everything(0)
    net_cpu = ChildNetwork(arch, data.input_shape, data.num_classes, channels=8)
    net_dev = copy.deepcopy(net_cpu).to(device)
    X, y = data.X_train[:64], data.y_train[:64]
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # full fp32 for the strict checks
    try:
        for net, X_, y_ in ((net_cpu, X, y), (net_dev, X.to(device), y.to(device))):
            nn.functional.cross_entropy(net(X_), y_).backward()
        logits_gap = (net_cpu(X) - net_dev(X.to(device)).cpu()).abs().max().item()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    grad_gap = max((a.grad - b.grad.cpu()).abs().max().item() / (a.grad.abs().max().item() + 1e-12)
                   for a, b in zip(net_cpu.parameters(), net_dev.parameters()) if a.grad is not None)
    checks.append(("same logits (max |diff|)", logits_gap < 1e-3, f"{logits_gap:.2e}"))
    checks.append(("same gradients (max relative diff)", grad_gap < 1e-2, f"{grad_gap:.2e}"))

    records = {}
    for where in ("cpu", device):
        evaluator = ChildEvaluator(data, epochs=2, lr=0.03, batch_size=64, device=where, child_kwargs={"channels": 8},
                                   measure_latency=False)
        records[str(where)] = evaluator.evaluate([arch])[0]
    cpu, dev = records["cpu"], records[str(device)]
    gap = abs(cpu["val_accuracy"] - dev["val_accuracy"])
    checks.append(("child val accuracy, device vs CPU", cpu["status"] == dev["status"] == "ok" and gap <= args.tolerance,
                   f"{dev['val_accuracy']:.3f} vs {cpu['val_accuracy']:.3f}"))

    proposals = {}
    for where in ("cpu", device):
        search = make_search(method="random", dataset=data, budget=4, batch_size=4, epochs=1, channels=4, seed=7,
                             device=str(where), progress=False)
        search.run()
        proposals[str(where)] = [row["arch"] for row in search.history]
    checks.append(("same architectures proposed", proposals["cpu"] == proposals[str(device)], f"{len(proposals['cpu'])} archs"))

    if device.type == "cuda":
        seed_everything(0)
        net = ChildNetwork(arch, data.input_shape, data.num_classes, channels=8)
        result = train_and_evaluate(net, data, epochs=1, lr=0.03, batch_size=64, device=device, precision="bf16")
        checks.append(("bf16 autocast trains", result.ok and math.isfinite(result.train_losses[-1]),
                       f"val {result.val_accuracy:.3f}"))
    return checks


# --- 2. throughput --------------------------------------------------------------------------------------
def synthetic(device: torch.device, n: int, *, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    small = slice(0, 8)  # validation and test are not what is timed
    return Dataset("synthetic-3x32x32", X, y, X[small], y[small], X[small], y[small], num_classes=10).to(device)


def hand_written_epoch(net: nn.Module, data: Dataset, opt, batch: int, bf16: bool) -> None:
    """The loop a reader would write: shuffle on the device, slice, forward, loss, backward, step."""
    net.train()
    order = torch.randperm(len(data.y_train), device=data.device)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        with torch.autocast(device_type=data.device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(net(data.X_train[idx]), data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def child_throughput(device: torch.device, args, precision: str) -> list[dict]:
    """Images/s of one child: the library's train_and_evaluate (1 epoch = ``steps`` batches) vs the hand loop."""
    bf16 = precision == "bf16"
    data = synthetic(device, args.batch * args.steps)
    arch = get_space("cell").parse(CELL)
    seed_everything(0)
    ours = ChildNetwork(arch, (3, 32, 32), 10, channels=args.channels).to(device)
    theirs = copy.deepcopy(ours)
    opt = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    rows = []
    for name, run in (
        ("child training, library", lambda: train_and_evaluate(ours, data, epochs=1, lr=1e-3, batch_size=args.batch, device=device,
                                                               precision=precision)),
        ("child training, hand-written loop", lambda: hand_written_epoch(theirs, data, opt, args.batch, bf16)),
    ):
        seconds = timed(device, run, steps=1, warmup=1)
        rows.append({"what": f"{name} ({precision})", "batch": args.batch, "ms_per_step": 1e3 * seconds / args.steps,
                     "images_per_s": len(data.y_train) / seconds})
    rows[0]["vs"] = rows[0]["images_per_s"] / rows[1]["images_per_s"]
    return rows


def controller_update(args) -> dict:
    from nasrl_nb.controllers.lstm import LSTMController
    from nasrl_nb.rl.policy_gradient import PolicyGradientTrainer

    space = get_space("cell")
    trainer = PolicyGradientTrainer(LSTMController(space), algorithm="reinforce")
    rewards = torch.rand(args.controller_batch, generator=torch.Generator().manual_seed(0)).tolist()

    def step():
        trainer.update_policy(trainer.propose(args.controller_batch), rewards)

    seconds = timed(torch.device("cpu"), step, steps=max(3, args.steps // 3), warmup=args.warmup)
    return {"what": "controller update (sample + REINFORCE, CPU)", "batch": args.controller_batch, "ms_per_step": 1e3 * seconds}


def enas_step(device: torch.device, args) -> dict | str:
    try:
        from nasrl_nb.enas.supernet import build_shared_supernet
    except ImportError as err:
        return f"ENAS step skipped: {err}"
    space = get_space("cell")
    seed_everything(0)
    supernet = build_shared_supernet(space, (3, 32, 32), 10, channels=args.channels).to(device)
    opt = torch.optim.SGD(supernet.parameters(), lr=0.05, momentum=0.9)
    data = synthetic(device, args.batch)
    archs = [space.sample() for _ in range(8)] if hasattr(space, "sample") else list(space.enumerate())[:8]
    count = [0]

    def step():
        arch = archs[count[0] % len(archs)]
        count[0] += 1
        loss = nn.functional.cross_entropy(supernet(data.X_train, arch), data.y_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    seconds = timed(device, step, steps=args.steps, warmup=args.warmup)
    return {"what": "ENAS step (shared weights)", "batch": args.batch, "ms_per_step": 1e3 * seconds,
            "images_per_s": args.batch / seconds}


def darts_step(device: torch.device, args) -> dict | str:
    try:
        from nasrl_nb.darts.architect import BilevelOptimizer
        from nasrl_nb.darts.relaxed_supernets import build_relaxed_supernet
    except ImportError as err:
        return f"DARTS step skipped: {err}"
    seed_everything(0)
    supernet = build_relaxed_supernet(get_space("cell"), (3, 32, 32), 10, channels=args.channels).to(device)
    optimizer = BilevelOptimizer(supernet, second_order=False)
    train, val = synthetic(device, args.batch, seed=1), synthetic(device, args.batch, seed=2)

    def step():
        optimizer.step((train.X_train, train.y_train), (val.X_train, val.y_train))

    seconds = timed(device, step, steps=args.steps, warmup=args.warmup)
    return {"what": "DARTS step (first order)", "batch": args.batch, "ms_per_step": 1e3 * seconds,
            "images_per_s": args.batch / seconds}


def main(argv=None) -> int:
    args = parse_args(argv)
    device = resolve_device(args.device)
    start = time.perf_counter()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"device: {device} ({name}); {machine()}; batch {args.batch}; {args.steps} timed steps")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # timings only: the correctness checks ran first

    checks = correctness(device, args)
    print("\ncorrectness" + (" (the device is the CPU: this checks the script, not a GPU)" if device.type == "cpu" else ""))
    for what, ok, detail in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {detail}")

    rows, notes = [], []
    jobs = [lambda: child_throughput(device, args, "fp32")]
    if device.type == "cuda":
        jobs.append(lambda: child_throughput(device, args, "bf16"))
    jobs += [lambda: [controller_update(args)], lambda: [enas_step(device, args)], lambda: [darts_step(device, args)]]
    for job in jobs:
        if time.perf_counter() - start > args.budget_s:
            notes.append(f"stopped after {args.budget_s:.0f} s: remaining timings skipped")
            break
        for row in job():
            if isinstance(row, str):
                notes.append(row)
            else:
                rows.append(row)

    print(f"\n{'what':48} {'batch':>6} {'ms/step':>9} {'images/s':>10} {'lib/hand':>9}")
    for row in rows:
        images = f"{row['images_per_s']:,.0f}" if "images_per_s" in row else "-"
        ratio = f"{row['vs']:.3f}" if "vs" in row else ""
        print(f"{row['what']:48} {row['batch']:>6} {row['ms_per_step']:>9.2f} {images:>10} {ratio:>9}")
    for note in notes:
        print(f"note: {note}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
