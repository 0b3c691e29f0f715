"""Model complexity: parameters, FLOPs and latency, the costs that NAS trades accuracy against.

Multi-objective NAS rewards (MnasNet, Tan et al. 2019, Sec. 3: ``ACC(m) * [LAT(m)/T]^w``)
and the NAS-Bench-201 tables (Dong & Yang 2020, Sec. 3) report a child's size and speed
beside its accuracy. These functions measure them for any ``nn.Module``:

* ``count_parameters`` -- exact number of parameter scalars (shared tensors counted once);
* ``count_flops`` -- floating-point operations of one forward pass on a batch of 1, as
  counted by :class:`torch.utils.flop_counter.FlopCounterMode` (a multiply-add is 2 FLOPs;
  convolutions, matrix products and attention are counted, element-wise ops, normalization
  and pooling are not);
* ``measure_latency_ms`` -- median wall-clock time of one forward pass on a batch of 1.

FLOPs and latency run the module in eval mode under ``torch.no_grad`` and then restore every
submodule's train/eval flag, so measuring never updates BatchNorm running statistics nor
leaves a training loop in the wrong mode.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..runtime import resolve_device
from ..validation import require_positive


def count_parameters(module: nn.Module) -> int:
    """Number of parameter scalars, ``sum(p.numel())`` over the distinct parameter tensors."""
    return int(sum(p.numel() for p in module.parameters()))


def count_flops(module: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass on a batch of 1 of shape ``(1, *input_shape)``.

    Uses FlopCounterMode's convention: a ``Conv2d`` costs ``2 * C_in * C_out * k * k * H_out
    * W_out`` (bias ignored), a ``Linear`` ``2 * in_features * out_features``.
    """
    x = _example_input(module, input_shape)
    with _measuring(module), FlopCounterMode(display=False) as counter:
        module(x)
    return int(counter.get_total_flops())


def measure_latency_ms(
    module: nn.Module,
    input_shape: Sequence[int],
    device=None,
    repeats: int = 20,
    warmup: int = 3,
) -> float:
    """Median forward latency in milliseconds for a batch of 1 (eval mode, no grad).

    Args:
        module: the network to time.
        input_shape: one example's shape, without the batch dimension, e.g. ``(1, 8, 8)``.
        device: where to time it (``"cpu"``, ``"cuda"``, ...). ``None`` means the device of
            the module's parameters. A module on another device is timed on a copy, so the
            caller's module never moves.
        repeats: timed forward passes; the median resists outliers from other processes.
        warmup: untimed passes first (allocator, lazy kernel selection, caches).
    """
    repeats = require_positive("repeats", repeats, integer=True)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup: must be a non-negative integer, got {warmup!r}")
    target = _module_device(module) if device is None else resolve_device(device)
    if target != _module_device(module):
        module = copy.deepcopy(module).to(target)
    x = _example_input(module, input_shape)
    times_ms = []
    with _measuring(module):
        for step in range(warmup + repeats):
            _synchronize(target)
            start = time.perf_counter()
            module(x)
            _synchronize(target)
            if step >= warmup:
                times_ms.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(times_ms))


# --- helpers ------------------------------------------------------------------------------
def _module_device(module: nn.Module) -> torch.device:
    tensor = next(module.parameters(), None)
    if tensor is None:
        tensor = next(module.buffers(), None)
    return torch.device("cpu") if tensor is None else tensor.device


def _example_input(module: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    """A random batch of 1 on the module's device, in its floating dtype."""
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or not input_shape:
        raise ValueError(f"input_shape: expected a non-empty tuple of positive ints such as (1, 8, 8), got {input_shape!r}")
    shape = tuple(require_positive("input_shape", s, integer=True) for s in input_shape)
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
    generator = torch.Generator().manual_seed(0)
    return torch.randn((1, *shape), generator=generator, dtype=dtype).to(_module_device(module))


@contextmanager
def _measuring(module: nn.Module) -> Iterator[None]:
    """Eval mode and no grad for the block, then each submodule's own flag back."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, training in modes:
            m.training = training


def _synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so that a timer measures work rather than launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
