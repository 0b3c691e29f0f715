"""Does a ChildNetwork train as fast as the same network written by hand?

A child is built from an architecture at run time; it must not pay for that in every
training step (no op-name lookups, no modules created in ``forward``). For two
representative architectures -- a macro child that uses all four connectivity patterns and
an anchor-point skip, and a NAS-Bench-201 cell child -- this script times one training step
(forward, cross-entropy, backward, SGD-with-momentum step; batch 64 of 8x8 single-channel
images, CPU) of the ChildNetwork and of a hand-written static module of exactly the same
architecture. The static module gets the child's weights, and the script asserts that both
have the same parameter count and compute the same logits before timing anything.

Timing: ``--rounds`` rounds, each timing ``--steps`` consecutive steps of one net and then
of the other (the order alternates every round, so drift and turbo effects hit both
alike). Reported: the median seconds per step of each, their ratio (child / static), and
the median of the per-round ratios, each for wall-clock time and for the process's CPU time
(with one thread the CPU clock ignores time spent descheduled, so it is the steadier one on
a shared machine). Target: ratio <= 1.05.

    python -m benchmarks.child_vs_static                  # 1 intra-op thread (default)
    python -m benchmarks.child_vs_static --control        # plus A/A runs: the noise floor
    python -m benchmarks.child_vs_static --batch 2        # framework overhead, not arithmetic
    python -m benchmarks.child_vs_static --threads 2 --rounds 41
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks import machine
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import ARCHITECTURE_VOCAB, MacroSpace

TARGET_RATIO = 1.05
INPUT_SHAPE, NUM_CLASSES = (1, 8, 8), 10

MACRO_LAYERS = [
    {"layer_type": "conv3x3", "activation": "relu", "normalization": "batch_norm", "connectivity": "sequential", "filters": 16, "skips": []},
    {"layer_type": "conv5x5", "activation": "swish", "normalization": "batch_norm", "connectivity": "residual", "filters": 32, "skips": []},
    {"layer_type": "conv3x3", "activation": "relu", "normalization": "group_norm", "connectivity": "dense", "filters": 32, "skips": []},
    {"layer_type": "conv1x1", "activation": "gelu", "normalization": "batch_norm", "connectivity": "attention", "filters": 32, "skips": [0]},
]
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


# --- the same two architectures, written by hand -------------------------------------------------
class StaticMacro(nn.Module):
    """MACRO_LAYERS by hand, as one would write it without a search space."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16))
        # layer 0: conv3x3 16->16, BN, ReLU; sequential
        self.conv0, self.norm0 = nn.Conv2d(16, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)
        # layer 1: conv5x5 16->32, BN, swish; residual with a 1x1 projection 16->32
        self.conv1, self.norm1 = nn.Conv2d(16, 32, 5, 1, 2, bias=False), nn.BatchNorm2d(32)
        self.shortcut1 = nn.Conv2d(16, 32, 1, bias=False)
        # layer 2: dense: cat(stem 16, h0 16, h1 32) -> 1x1 conv to 32; conv3x3, GroupNorm(8), ReLU
        self.dense2 = nn.Conv2d(64, 32, 1, bias=False)
        self.conv2, self.norm2 = nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.GroupNorm(8, 32)
        # layer 3: softmax mix of (stem, h0, h1, h2), 16-wide ones projected; + skip from h0
        self.logits3 = nn.Parameter(torch.zeros(4))
        self.mix3_stem, self.mix3_h0 = nn.Conv2d(16, 32, 1, bias=False), nn.Conv2d(16, 32, 1, bias=False)
        self.skip3 = nn.Conv2d(16, 32, 1, bias=False)
        self.conv3, self.norm3 = nn.Conv2d(32, 32, 1, bias=False), nn.BatchNorm2d(32)
        self.classifier = nn.Linear(32, NUM_CLASSES)

    def parameters_in_child_order(self) -> list[nn.Parameter]:
        """The child registers layer 3's mixing logits before its projections; match that."""
        params = [p for p in self.parameters() if p is not self.logits3]
        first_layer3 = next(i for i, p in enumerate(params) if p is self.mix3_stem.weight)
        return params[:first_layer3] + [self.logits3] + params[first_layer3:]

    def forward(self, x):
        s = self.stem(x)
        h0 = F.relu(self.norm0(self.conv0(s)))
        h1 = F.silu(self.norm1(self.conv1(h0))) + self.shortcut1(h0)
        h2 = F.relu(self.norm2(self.conv2(self.dense2(torch.cat([s, h0, h1], dim=1)))))
        w = torch.softmax(self.logits3, dim=0)
        x3 = w[0] * self.mix3_stem(s) + w[1] * self.mix3_h0(h0) + w[2] * h1 + w[3] * h2 + self.skip3(h0)
        h3 = F.gelu(self.norm3(self.conv3(x3)))
        return self.classifier(h3.mean(dim=(2, 3)))


def relu_conv_bn(c_in, c_out, k, stride=1):
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False), nn.BatchNorm2d(c_out))


class StaticCell(nn.Module):
    """CELL by hand: n1 = conv(x); n2 = conv(x) + pool(n1); n3 = x + conv(n1) + n2."""

    def __init__(self, C):
        super().__init__()
        self.e10, self.e20 = relu_conv_bn(C, C, 3), relu_conv_bn(C, C, 3)
        self.e21 = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.e31 = relu_conv_bn(C, C, 3)

    def forward(self, x):
        n1 = self.e10(x)
        n2 = self.e20(x) + self.e21(n1)
        return x + self.e31(n1) + n2


class StaticReduction(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv_a, self.conv_b = relu_conv_bn(c_in, c_out, 3, 2), relu_conv_bn(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class StaticNB201(nn.Module):
    """NAS-Bench-201 skeleton with one CELL per stage, C = 16 (resolutions 8, 4, 2)."""

    def __init__(self, C=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, C, 3, 1, 1, bias=False), nn.BatchNorm2d(C))
        self.cell1, self.reduce1 = StaticCell(C), StaticReduction(C, 2 * C)
        self.cell2, self.reduce2 = StaticCell(2 * C), StaticReduction(2 * C, 4 * C)
        self.cell3, self.last_bn = StaticCell(4 * C), nn.BatchNorm2d(4 * C)
        self.classifier = nn.Linear(4 * C, NUM_CLASSES)

    def forward(self, x):
        x = self.cell1(self.stem(x))
        x = self.cell2(self.reduce1(x))
        x = self.cell3(self.reduce2(x))
        return self.classifier(F.relu(self.last_bn(x)).mean(dim=(2, 3)))


# --- equivalence and timing --------------------------------------------------------------------------
def copy_child_into_static(child: nn.Module, static: nn.Module) -> None:
    """Give ``static`` the child's weights and buffers, tensor by tensor, checking shapes."""
    child_params = list(child.parameters())
    static_params = list(getattr(static, "parameters_in_child_order", static.parameters)())
    assert len(child_params) == len(static_params), (len(child_params), len(static_params))
    child_count, static_count = (sum(p.numel() for p in m.parameters()) for m in (child, static))
    assert child_count == static_count, f"params differ: child {child_count}, static {static_count}"
    with torch.no_grad():
        for source, target in zip(child_params, static_params, strict=True):
            assert source.shape == target.shape, (source.shape, target.shape)
            target.copy_(source)
        for source, target in zip(child.buffers(), static.buffers(), strict=True):
            target.copy_(source)


def train_step(net, optimizer, x, y) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.cross_entropy(net(x), y).backward()
    optimizer.step()


def seconds_per_step(net, optimizer, x, y, steps: int) -> tuple[float, float]:
    """(wall-clock, CPU) seconds per training step, averaged over ``steps`` steps."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        train_step(net, optimizer, x, y)
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def compare(name: str, child: nn.Module, static: nn.Module, *, batch: int, rounds: int, steps: int, warmup: int) -> dict:
    """Interleaved timing of two nets that hold the same weights (``child`` is timed first
    in even rounds); the ratio is child / static."""
    x = torch.randn(batch, *INPUT_SHAPE, generator=torch.Generator().manual_seed(0))
    y = torch.arange(batch) % NUM_CLASSES
    assert sum(p.numel() for p in child.parameters()) == sum(p.numel() for p in static.parameters())
    torch.testing.assert_close(child(x), static(x))  # same function (train-mode BN on this batch)
    nets = {"child": child, "static": static}
    optimizers = {k: torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9) for k, n in nets.items()}
    for key, net in nets.items():
        for _ in range(warmup):
            train_step(net, optimizers[key], x, y)
    times = {"child": [], "static": []}  # per round: (wall, cpu) seconds per step
    for r in range(rounds):
        order = ("child", "static") if r % 2 == 0 else ("static", "child")
        for key in order:
            times[key].append(seconds_per_step(nets[key], optimizers[key], x, y, steps))
    result = {"name": name, "params": sum(p.numel() for p in child.parameters())}
    for clock, k in (("wall", 0), ("cpu", 1)):
        child_s, static_s = ([t[k] for t in times[key]] for key in ("child", "static"))
        result[f"{clock}_child_ms"] = 1000 * statistics.median(child_s)
        result[f"{clock}_static_ms"] = 1000 * statistics.median(static_s)
        result[f"{clock}_ratio"] = result[f"{clock}_child_ms"] / result[f"{clock}_static_ms"]
        result[f"{clock}_paired_ratio"] = statistics.median(c / s for c, s in zip(child_s, static_s, strict=True))
    return result


def build_pairs():
    macro_space = MacroSpace(
        num_layers=len(MACRO_LAYERS), vocab={**ARCHITECTURE_VOCAB, "filters": [16, 32]}, skip_connections=True
    )
    torch.manual_seed(0)
    macro = ChildNetwork(macro_space.parse(MACRO_LAYERS), INPUT_SHAPE, NUM_CLASSES, channels=16)
    cell = ChildNetwork(CellSpace().parse(CELL), INPUT_SHAPE, NUM_CLASSES, channels=16, cells_per_stage=1)
    pairs = [
        ("macro: seq, residual, dense, attention + skip", macro, StaticMacro()),
        ("cell: NAS-Bench-201, C=16, 1 cell/stage", cell, StaticNB201(16)),
    ]
    for _, child, static in pairs:
        copy_child_into_static(child, static)
    return pairs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64,
                        help="batch size (default 64; a tiny batch such as 2 exposes per-call Python overhead)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--rounds", type=int, default=31, help="interleaved timing rounds")
    parser.add_argument("--steps", type=int, default=20, help="training steps per net per round")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps per net first")
    parser.add_argument("--control", action="store_true",
                        help="also time each static net against an identical copy of itself (A/A): the noise floor")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{machine()}, batch={args.batch}, input={INPUT_SHAPE}, "
          f"rounds={args.rounds} x {args.steps} steps, load average {os.getloadavg()[0]:.2f}")
    worst = 0.0
    for pair_name, child, static in build_pairs():
        runs = [(pair_name, child)]
        if args.control:
            runs.append((f"control (A/A): static vs a copy of itself, {pair_name.split(':')[0]}", None))
        for name, first in runs:
            if first is None:
                first = copy.deepcopy(static)  # copied now, after the first comparison trained it
            result = compare(name, first, static, batch=args.batch, rounds=args.rounds, steps=args.steps, warmup=args.warmup)
            print(f"{name} (params={result['params']:,}):")
            for clock in ("wall", "cpu"):
                if not name.startswith("control"):
                    worst = max(worst, result[f"{clock}_ratio"])
                label = "copy" if name.startswith("control") else "child"
                print(f"  {clock:>4} time: {label} {result[f'{clock}_child_ms']:.3f} ms/step, "
                      f"static {result[f'{clock}_static_ms']:.3f} ms/step, ratio {result[f'{clock}_ratio']:.3f} "
                      f"(median per-round ratio {result[f'{clock}_paired_ratio']:.3f})")
    verdict = "within" if worst <= TARGET_RATIO else "ABOVE"
    print(f"worst ratio child/static = {worst:.3f} ({verdict} the {TARGET_RATIO} target); "
          f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
