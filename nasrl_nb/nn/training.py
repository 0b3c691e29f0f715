"""Train one child network and measure the reward: its validation accuracy.

Zoph & Le (2017, Sec. 3.2) train every sampled child to convergence and feed its
validation accuracy back to the controller as the reward; this module is that inner
loop, kept small enough to read in one sitting. It trains on the on-device tensors of a
:class:`~nasrl_nb.nn.data.Dataset` by indexing them with a seeded permutation (no
``DataLoader``), and it never lets a bad child crash a search: a loss that turns NaN or
infinite, running out of memory, or an exception inside the child's forward or backward
pass ends that child's run with ``status="failed"`` and a ``reason``. Bad *arguments*
(a negative learning rate, an unknown optimizer) are the caller's bug and raise
``ValueError`` at once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ..runtime import resolve_device, seed_everything
from ..validation import require_choice, require_positive, require_seed
from .data import Dataset

OPTIMIZERS: tuple[str, ...] = ("adam", "sgd", "adamw")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")  # bf16: autocast on CUDA (weights and optimizer stay fp32)
EVAL_BATCH_SIZE = 1024  # evaluation keeps no activations for backward, so bigger batches are cheap

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What one child's training run produced.

    ``val_accuracy`` and ``test_accuracy`` are fractions in [0, 1] after the last epoch
    (NaN when the run failed, or when a split is empty). ``train_losses`` and
    ``val_accuracies`` hold one entry per *completed* epoch, and ``epochs`` counts them.
    """

    status: str  # "ok" | "failed"
    val_accuracy: float
    test_accuracy: float
    train_losses: list[float] = field(default_factory=list)
    val_accuracies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    epochs: int = 0
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        """Plain Python values (floats, lists, str/None); NaN stays a float."""
        return asdict(self)


def train_and_evaluate(
    net: nn.Module,
    data: Dataset,
    *,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 64,
    seed: int = 0,
    device="auto",
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    lr_schedule: str = "constant",
    on_epoch: Callable[[int, float, float], None] | None = None,
    precision: str = "fp32",
) -> TrainResult:
    """Train ``net`` on ``data``'s train split; report validation and test accuracy.

    Args:
        net: the child network; it is moved to ``device`` in place and trained in place.
        data: a :class:`~nasrl_nb.nn.data.Dataset` (moved to ``device`` if needed).
        epochs: full passes over the train split.
        lr: learning rate; ``weight_decay`` the L2 penalty (decoupled for ``"adamw"``).
        batch_size: training mini-batch size.
        seed: fixes the mini-batch order and anything random in the forward pass
            (dropout) by calling ``seed_everything(seed)``, which reseeds the global
            RNGs. The initial weights are fixed when the net is *built*: build it after
            ``seed_everything(seed)`` to repeat a run exactly.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9).
        lr_schedule: ``"constant"``, or ``"cosine"``: annealed per step from ``lr`` to 0
            over the whole run (Loshchilov & Hutter 2017, as NAS-Bench-201 trains), which
            makes the last epoch's accuracy far less noisy in short runs.
        on_epoch: called as ``on_epoch(epoch, train_loss, val_accuracy)`` after each
            epoch (numbered from 1) for live curves; its own exceptions propagate.
        precision: ``"fp32"``, or ``"bf16"``: forward passes under ``torch.autocast`` in
            bfloat16 on a CUDA device (about twice the throughput of fp32 on recent cards).

    Returns:
        A :class:`TrainResult`; ``status="failed"`` with a ``reason`` when the child
        diverges or raises, instead of an exception.
    """
    # 1. check the arguments: a caller's mistake is an error, not a failed child
    epochs, lr, batch_size, device = _check_arguments(
        net, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device, optimizer=optimizer,
        weight_decay=weight_decay, lr_schedule=lr_schedule, on_epoch=on_epoch, precision=precision,
    )
    bf16 = precision == "bf16"

    # 2. train; any failure of the child ends this run, not the caller's search
    start = time.perf_counter()
    seed = int(seed)
    seed_everything(seed)
    generator = torch.Generator().manual_seed(seed)  # CPU generator: the same batch order on every device
    losses: list[float] = []
    val_accuracies: list[float] = []

    def failed(reason: str) -> TrainResult:
        net.zero_grad(set_to_none=True)  # drop gradients a failed step left behind (GPU memory)
        return TrainResult("failed", math.nan, math.nan, losses, val_accuracies, time.perf_counter() - start, len(losses), reason)

    try:
        net.to(device)
        data = data.to(device)
        opt = _make_optimizer(optimizer, net, lr=lr, weight_decay=weight_decay)
        steps = epochs * math.ceil(len(data.y_train) / batch_size)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if lr_schedule == "cosine" else None
    except Exception as err:  # e.g. CUDA out of memory while moving the weights
        return failed(_describe_failure(err, device))
    for epoch in range(1, epochs + 1):
        try:
            train_loss = _train_one_epoch(net, data, opt, batch_size=batch_size, generator=generator, scheduler=scheduler,
                                          bf16=bf16)
            if not math.isfinite(train_loss):
                return failed(f"diverged: loss is {train_loss} at epoch {epoch}")
            val_accuracy = accuracy(net, data.X_val, data.y_val, bf16=bf16)
        except Exception as err:  # the child's forward/backward raised: report it, keep the caller alive
            return failed(_describe_failure(err, device))
        losses.append(train_loss)
        val_accuracies.append(val_accuracy)
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_accuracy)

    # 3. the test split is read once, after training
    try:
        test_accuracy = accuracy(net, data.X_test, data.y_test, bf16=bf16)
    except Exception as err:
        return failed(_describe_failure(err, device))
    return TrainResult("ok", val_accuracies[-1], test_accuracy, losses, val_accuracies, time.perf_counter() - start, epochs)


def _check_arguments(net, data, *, epochs, lr, batch_size, seed, device, optimizer, weight_decay, lr_schedule, on_epoch,
                     precision) -> tuple[int, float, int, torch.device]:
    """:func:`train_and_evaluate`'s arguments checked; returns epochs, lr, batch size and the resolved device."""
    if not isinstance(net, nn.Module):
        raise ValueError(f"net: expected a torch.nn.Module, got {type(net).__name__}")
    if not isinstance(data, Dataset):
        raise ValueError(f"data: expected a nasrl_nb.nn.data.Dataset (see load_dataset), got {type(data).__name__}")
    epochs = require_positive("epochs", epochs, integer=True)
    lr = require_positive("lr", lr)
    batch_size = require_positive("batch_size", batch_size, integer=True)
    require_choice("optimizer", optimizer, OPTIMIZERS)
    require_choice("lr_schedule", lr_schedule, LR_SCHEDULES)
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or not 0 <= weight_decay < math.inf:
        raise ValueError(f"weight_decay: must be a finite number >= 0, got {weight_decay!r}")
    require_seed("seed", seed)
    if on_epoch is not None and not callable(on_epoch):
        raise ValueError(f"on_epoch: expected a callable (epoch, train_loss, val_accuracy), got {on_epoch!r}")
    device = resolve_device(device)
    require_choice("precision", precision, PRECISIONS)
    if precision == "bf16" and device.type != "cuda":
        raise ValueError(f"precision: 'bf16' autocast is for CUDA devices, not {device}; allowed values here: fp32")
    return epochs, lr, batch_size, device


def _train_one_epoch(net: nn.Module, data: Dataset, opt: torch.optim.Optimizer, *, batch_size: int, generator, scheduler=None,
                     bf16: bool = False) -> float:
    """One pass over the train split in a seeded order; returns the mean cross-entropy."""
    net.train()
    n = len(data.y_train)
    order = torch.randperm(n, generator=generator).to(data.device)
    total = torch.zeros((), device=data.device)
    for start in range(0, n, batch_size):
        batch = order[start : start + batch_size]
        X, y = data.X_train[batch], data.y_train[batch]  # (B, C, H, W), (B,)
        with _autocast(data.device, bf16):
            loss = nn.functional.cross_entropy(net(X), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.detach() * len(batch)
    return float(total) / n  # one device sync per epoch; NaN/inf anywhere shows up here


def accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor, *, batch_size: int = EVAL_BATCH_SIZE, bf16: bool = False) -> float:
    """Fraction of ``X`` that ``net`` classifies as ``y``, in eval mode (NaN for no data)."""
    if len(y) == 0:
        return math.nan
    was_training = net.training
    net.eval()
    correct = torch.zeros((), dtype=torch.int64, device=y.device)
    try:
        with torch.inference_mode(), _autocast(y.device, bf16):
            for start in range(0, len(y), batch_size):
                logits = net(X[start : start + batch_size])  # (B, num_classes)
                correct += (logits.argmax(dim=1) == y[start : start + batch_size]).sum()
    finally:
        net.train(was_training)
    return int(correct) / len(y)


def recalibrate_batch_norm(net: nn.Module, X: torch.Tensor, *, batch_size: int = EVAL_BATCH_SIZE,
                           forward: Callable[[torch.Tensor], object] | None = None) -> None:
    """Re-estimate the running statistics of every BatchNorm in ``net`` on ``X`` (BN recalibration).

    Running averages (momentum 0.1) remember the weights they were collected with: the first
    steps of a short training, or every architecture a supernet trained. Single Path One-Shot
    (Guo et al. 2020, Sec. 3.3) recomputes them with the final weights: each layer's are reset
    to the plain average (``momentum=None``, cumulative) of the batch statistics of
    ``forward`` (default: ``net``; a supernet passes ``lambda x: supernet(x, arch)``) over ``X``
    in batches of ``batch_size``. Afterwards the layers are in eval mode, using the new
    statistics, with their momentum put back.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    forward = forward or net
    with torch.no_grad():
        for m in norms:
            m.reset_running_stats()
            m.momentum, m.training = None, True  # momentum None: the cumulative (plain) average
        for start in range(0, len(X), batch_size):
            forward(X[start : start + batch_size])  # (B, C, H, W) in; only the statistics are kept
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum, m.training = momentum, False


def _autocast(device: torch.device, bf16: bool):
    """bfloat16 autocast on a CUDA device when ``bf16``; otherwise nothing changes."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def _make_optimizer(name: str, net: nn.Module, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ValueError("net has no trainable parameters")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _describe_failure(err: Exception, device: torch.device) -> str:
    """``"<ExceptionType>: <first line of the message>"``; frees cached GPU memory after OOM."""
    logger.debug("child training failed", exc_info=err)
    if isinstance(err, torch.cuda.OutOfMemoryError) and device.type == "cuda":
        torch.cuda.empty_cache()
    message = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{type(err).__name__}: {message}" if message else type(err).__name__
