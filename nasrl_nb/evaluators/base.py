"""Evaluators: turn proposed architectures into evaluation records.

In Zoph & Le (2017, Sec. 3.2) each sampled child is trained and its validation accuracy
comes back to the controller. How that happens -- serially, by training each child
(:class:`ChildEvaluator`), or by calling a function (:class:`FunctionEvaluator`) -- is hidden
behind one method, ``evaluate(architectures) -> list[dict]``, so that a search loop
never cares which evaluator it is given.

Every record is a dict with at least these keys (see :data:`RECORD_KEYS`):

* ``status``: ``"ok"`` or ``"failed"``; a failed child never raises, it gets a ``reason``;
* ``val_accuracy``, ``test_accuracy``: fractions in [0, 1] (NaN when failed);
* ``params``, ``flops``, ``latency_ms``: the child's cost (None when not measured);
* ``seconds``: wall time spent on this child; ``train_losses``: mean loss per epoch;
* ``val_accuracies``: validation accuracy after each epoch (``val_accuracy`` is the last
  one); empty when the evaluator did not train epoch by epoch (a ``FunctionEvaluator``).
"""

from __future__ import annotations

import hashlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ..checkpoint import json_safe, preserved_rng
from ..nn.training import LR_SCHEDULES, PRECISIONS
from ..runtime import resolve_device, seed_everything, torch_threads
from ..spaces.search_space import Architecture
from ..validation import choice, require_choices, require_positive, require_seed

RECORD_KEYS: tuple[str, ...] = (
    "status",
    "val_accuracy",
    "test_accuracy",
    "params",
    "flops",
    "latency_ms",
    "seconds",
    "reason",
    "train_losses",
    "val_accuracies",
)


def make_record(**fields) -> dict:
    """A record with every key of :data:`RECORD_KEYS` (defaults: ok, NaN accuracies, None costs)."""
    record = {
        "status": "ok",
        "val_accuracy": math.nan,
        "test_accuracy": math.nan,
        "params": None,
        "flops": None,
        "latency_ms": None,
        "seconds": 0.0,
        "reason": None,
        "train_losses": [],
        "val_accuracies": [],
    }
    record.update(fields)
    return record


def failed_record(reason: str, **fields) -> dict:
    """A ``status="failed"`` record with its ``reason``."""
    return make_record(**{**fields, "status": "failed", "reason": reason})


def check_record(record) -> dict:
    """``record`` as a dict if it is a valid evaluation record, else a failed record saying why.

    An evaluator that reports an accuracy outside [0, 1] (say 2.0 or -5) or returns
    something other than a dict does not stop the search: that child is recorded as
    ``status="failed"`` with a ``reason`` naming the field and what is accepted.
    """
    if not isinstance(record, Mapping):
        return failed_record(f"evaluator returned a {type(record).__name__}, not a record dict")
    record = dict(record)
    if record.get("status", "ok") != "ok":
        return record
    for key in ("val_accuracy", "test_accuracy"):
        value = record.get(key)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        if missing and key == "test_accuracy":  # the test split is optional
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            costs = {k: record.get(k) for k in ("params", "flops", "latency_ms", "seconds") if k in record}
            return failed_record(f"{key}: {value!r} is not allowed; allowed values: a fraction in [0, 1]", **costs)
    return record


def describe_exception(err: BaseException) -> str:
    """``"<ExceptionType>: <first line of the message>"`` (at most 300 characters)."""
    text = str(err).strip()
    message = text.splitlines()[0] if text else ""
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


def architecture_seed(seed: int, arch: Architecture) -> int:
    """A seed in [0, 2**31) from ``(seed, arch)`` alone, independent of evaluation order.

    It hashes the search seed, the space's name and the architecture's text with SHA-256,
    so the same child gets the same initial weights and batch order wherever it is trained.
    """
    digest = hashlib.sha256(f"{int(seed)}|{arch.space.name}|{arch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**31


def data_fields(data) -> dict:
    """What a trained child is built for, as an evaluator's config records it (export reads it)."""
    return {"dataset": data.name, "input_shape": list(data.input_shape), "num_classes": data.num_classes}


class Evaluator(ABC):
    """Interface: ``evaluate(architectures) -> list[dict]``, one record per architecture, in order.

    Implementations must not raise for a child that fails to build or train: they return
    a record with ``status="failed"`` and a ``reason`` instead. ``config()`` describes the
    evaluator in plain JSON (stored with a search's checkpoint).
    """

    @abstractmethod
    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict]:
        """One record per architecture, in the same order."""

    def describe(self, arch: Architecture) -> dict | None:
        """What building ``arch`` gives, for a step-through display (None if nothing is built)."""
        return None

    def config(self) -> dict:
        return {"kind": type(self).__name__}

    def state_dict(self) -> dict:
        """What a search's checkpoint keeps to continue exactly (a supernet's weights; default: nothing).

        Tensors and plain containers only: checkpoints are read with ``weights_only=True``.
        """
        return {}

    def load_state_dict(self, state: Mapping) -> None:
        """Restore what :meth:`state_dict` returned (when a search resumes)."""
        return None

    # --- asynchronous use: submit children, collect them as they finish -------------------------
    # An asynchronous search (Zoph & Le 2017, Sec. 3.2: replicas update while children train)
    # keeps ``workers`` children in flight. This default runs nothing in the background: a
    # submitted child is evaluated when :meth:`next_results` is called, one at a time, so every
    # evaluator can serve an asynchronous search; parallel evaluators override all four.
    workers: int = 1  # children evaluated at once

    def submit(self, arch: Architecture) -> int:
        """Queue ``arch`` for evaluation; returns a ticket that :meth:`next_results` pairs with its record."""
        queue = self.__dict__.setdefault("_submitted", [])
        ticket = self.__dict__.get("_next_ticket", 0)
        self._next_ticket = ticket + 1
        queue.append((ticket, arch))
        return ticket

    def next_results(self) -> list[tuple[int, dict]]:
        """Wait for at least one submitted child; ``[(ticket, record)]`` of those finished (oldest first here)."""
        queue = self.__dict__.get("_submitted") or []
        if not queue:
            raise RuntimeError("evaluator: next_results() with nothing submitted")
        ticket, arch = queue.pop(0)
        return [(ticket, self.evaluate([arch])[0])]

    @property
    def outstanding(self) -> int:
        """Children submitted and not yet returned by :meth:`next_results`."""
        return len(self.__dict__.get("_submitted") or [])

    def cancel(self) -> int:
        """Drop every outstanding child (Ctrl-C, Stop); returns how many were dropped."""
        queue = self.__dict__.get("_submitted") or []
        dropped = len(queue)
        queue.clear()
        return dropped

    def close(self) -> None:
        """Release workers, processes or a cluster connection (nothing to release here)."""
        self.cancel()


class SerialEvaluator(Evaluator):
    """An evaluator that handles one architecture at a time, with an optional memo cache.

    Subclasses implement :meth:`evaluate_one`. With ``cache`` a repeated architecture gets
    a copy of its first record with ``cached=True`` instead of being trained again.
    """

    def __init__(self, *, cache: bool = True):
        self.cache: dict[str, dict] | None = {} if cache else None  # str(arch) -> its first record

    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict]:
        records = []
        for arch in architectures:
            if self.cache is not None and str(arch) in self.cache:
                records.append({**self.cache[str(arch)], "cached": True})
                continue
            record = check_record(self.evaluate_one(arch))  # an accuracy of 2.0 is a failed record, with why
            if self.cache is not None:
                self.cache[str(arch)] = dict(record)
            records.append({**record, "cached": False})
        return records

    def state_dict(self) -> dict:
        """The cache, so that a resumed search answers repeated architectures as the first run did."""
        return {"cache": json_safe(self.cache)}

    def load_state_dict(self, state: Mapping) -> None:
        if self.cache is not None:
            self.cache = dict(state.get("cache") or {})

    @abstractmethod
    def evaluate_one(self, arch: Architecture) -> dict:
        """The record of one architecture (never raises for a failing child)."""


@dataclass
class ChildConfig:
    """How each proposed architecture is built as a network and trained (the reward's source)."""

    channels: int = 16  # stem / first-stage width
    cells_per_stage: int = 1  # cells per stage (cell space)
    epochs: int = 3  # training epochs per child (1 in quick mode)
    lr: float = 0.01  # child learning rate (Adam)
    batch_size: int = 64  # child mini-batch size
    lr_schedule: str = choice("constant", LR_SCHEDULES)  # "constant" or "cosine" (annealed to 0 over the run)
    device: str = "auto"  # where children train: auto, cpu, cuda, cuda:N, mps (the controller stays on the CPU)
    precision: str = choice("fp32", PRECISIONS)  # fp32, or bf16: autocast on CUDA
    threads: int = 1  # intra-op torch threads per child, the same in the serial, process and Ray evaluators

    def __post_init__(self):
        for name in ("channels", "cells_per_stage", "epochs", "batch_size"):
            require_positive(f"child.{name}", getattr(self, name), integer=True)
        require_positive("child.lr", self.lr)
        require_choices(self, "child")
        require_positive("child.threads", self.threads, integer=True)
        self.device = str(self.device)


class ChildEvaluator(SerialEvaluator):
    """Build each architecture as a :class:`~nasrl_nb.nn.child_network.ChildNetwork`, measure it, train it.

    Args:
        data: a :class:`~nasrl_nb.nn.data.Dataset` (moved to ``device`` once).
        epochs, lr, batch_size: child training (see :func:`~nasrl_nb.nn.training.train_and_evaluate`).
        device: where children train and where latency is measured.
        seed: combined with each architecture by :func:`architecture_seed`; the child's
            weights and batch order depend on ``(seed, arch)`` only, never on the order of
            evaluation. The caller's RNG states are left untouched.
        child_kwargs: extra ``ChildNetwork`` arguments (``channels``, ``cells_per_stage``).
        cache: reuse the record of an architecture seen before.
        measure_latency: time each child's forward pass (``latency_ms``; else None).
        precision: ``"fp32"`` or ``"bf16"`` (autocast, CUDA only; see :func:`~nasrl_nb.nn.training.train_and_evaluate`).
        threads: intra-op torch threads while a child is built, measured and trained (the
            count before is restored after); worker processes and Ray tasks use the same
            count, so that every evaluator gives this one's records (see
            :mod:`nasrl_nb.evaluators.process`).
    """

    def __init__(
        self,
        data,
        *,
        epochs: int = ChildConfig.epochs,
        lr: float = ChildConfig.lr,
        batch_size: int = ChildConfig.batch_size,
        device=ChildConfig.device,
        seed: int = 0,
        child_kwargs: Mapping | None = None,
        cache: bool = True,
        measure_latency: bool = True,
        lr_schedule: str = ChildConfig.lr_schedule,
        precision: str = ChildConfig.precision,
        threads: int = ChildConfig.threads,
    ):
        from ..nn.data import Dataset

        super().__init__(cache=cache)
        if not isinstance(data, Dataset):
            raise ValueError(f"data: expected a nasrl_nb.nn.data.Dataset (see load_dataset), got {type(data).__name__}")
        ChildConfig(epochs=epochs, lr=lr, batch_size=batch_size, device=device, lr_schedule=lr_schedule,
                    precision=precision, threads=threads)  # checks them
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        require_seed("seed", seed)
        self.seed = seed
        self.device = resolve_device(device)
        self.data = data.to(self.device)
        self.child_kwargs = dict(child_kwargs or {})
        self.measure_latency = bool(measure_latency)
        self.lr_schedule, self.precision, self.threads = lr_schedule, precision, threads
        if precision == "bf16" and self.device.type != "cuda":
            raise ValueError(f"precision: 'bf16' autocast is for CUDA devices, not {self.device}; allowed values here: fp32")

    def describe(self, arch: Architecture) -> dict:
        """The child network of ``arch`` as it will be trained: summary, params, FLOPs."""
        from ..nn.child_network import ChildNetwork
        from ..nn.complexity import count_flops, count_parameters

        with preserved_rng():
            net = ChildNetwork(arch, self.data.input_shape, self.data.num_classes, **self.child_kwargs)
        return {"arch": str(arch), "params": count_parameters(net), "flops": count_flops(net, net.input_shape),
                "summary": repr(net)}

    def evaluate_one(self, arch: Architecture) -> dict:
        from ..nn.child_network import ChildNetwork
        from ..nn.complexity import count_flops, count_parameters, measure_latency_ms
        from ..nn.training import train_and_evaluate

        start = time.perf_counter()
        arch_seed = architecture_seed(self.seed, arch)
        costs: dict = {}
        with preserved_rng(), torch_threads(self.threads):  # the search's stream must not see the child's seeding
            try:
                seed_everything(arch_seed)  # initial weights depend on (seed, arch) only
                net = ChildNetwork(arch, self.data.input_shape, self.data.num_classes, **self.child_kwargs)
                costs["params"] = count_parameters(net)
                costs["flops"] = count_flops(net, net.input_shape)
                if self.measure_latency:
                    costs["latency_ms"] = measure_latency_ms(net, net.input_shape, device=self.device)
                result = train_and_evaluate(
                    net,
                    self.data,
                    epochs=self.epochs,
                    lr=self.lr,
                    batch_size=self.batch_size,
                    seed=arch_seed,
                    device=self.device,
                    lr_schedule=self.lr_schedule,
                    precision=self.precision,
                )
            except Exception as err:  # a child that cannot be built or measured is a failed child
                return failed_record(describe_exception(err), seconds=time.perf_counter() - start, **costs)
        return make_record(
            status=result.status,
            val_accuracy=result.val_accuracy,
            test_accuracy=result.test_accuracy,
            seconds=time.perf_counter() - start,
            reason=result.reason,
            train_losses=list(result.train_losses),
            val_accuracies=list(result.val_accuracies),
            **costs,
        )

    def config(self) -> dict:
        return {
            "kind": type(self).__name__,
            **data_fields(self.data),
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "child_kwargs": dict(self.child_kwargs),
            "device": str(self.device),
            "precision": self.precision,
            "threads": self.threads,
        }


class FunctionEvaluator(SerialEvaluator):
    """Evaluate with your own function ``fn(arch)`` (custom spaces, lookup tables, toy rewards).

    ``fn`` returns either a float (the validation accuracy) or a dict of record fields
    (``val_accuracy`` required unless ``status="failed"``). An exception inside ``fn`` or a
    non-finite accuracy becomes a failed record.
    """

    def __init__(self, fn: Callable[[Architecture], float | Mapping], *, cache: bool = True):
        if not callable(fn):
            raise ValueError(f"fn: expected a callable fn(arch) -> float or dict, got {fn!r}")
        super().__init__(cache=cache)
        self.fn = fn

    def evaluate_one(self, arch: Architecture) -> dict:
        start = time.perf_counter()
        try:
            value = self.fn(arch)
        except Exception as err:
            return failed_record(describe_exception(err), seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        fields = dict(value) if isinstance(value, Mapping) else {"val_accuracy": value}
        record = make_record(**{"seconds": seconds, **fields})
        if record["status"] == "ok":
            accuracy = record["val_accuracy"]
            if isinstance(accuracy, bool) or not isinstance(accuracy, (int, float)) or not math.isfinite(accuracy):
                return failed_record(f"fn returned a non-finite or non-numeric accuracy {accuracy!r}", seconds=seconds)
            record["val_accuracy"] = float(accuracy)
        return check_record(record)

    def config(self) -> dict:
        return {"kind": type(self).__name__, "fn": getattr(self.fn, "__qualname__", repr(self.fn))}


def train_architecture(
    arch: Architecture,
    data,
    *,
    epochs: int = 5,
    lr: float = 0.01,
    batch_size: int = 64,
    optimizer: str = "adam",
    seed: int = 0,
    device="auto",
    child_kwargs: Mapping | None = None,
    lr_schedule: str = "constant",
) -> dict:
    """Build ``arch`` as a child network, measure its cost and train it: one plain-JSON record.

    The initial weights, batch order and dropout depend on ``seed`` alone (``nasrl-nb train``
    is this function). The record holds the :class:`~nasrl_nb.nn.training.TrainResult`
    fields (``status``, ``val_accuracy``, ``test_accuracy``, ``train_losses``, ...), the
    child's ``params``, ``flops`` and ``latency_ms``, ``arch`` and ``device``. A child that
    diverges is ``status="failed"``; bad arguments raise ValueError before anything trains.
    """
    from ..nn.child_network import ChildNetwork
    from ..nn.training import train_and_evaluate

    device = resolve_device(device)
    seed_everything(seed)  # the initial weights depend on the seed only
    net = ChildNetwork(arch, data.input_shape, data.num_classes, **dict(child_kwargs or {}))
    metrics = net.get_complexity_metrics(device=device)
    result = train_and_evaluate(
        net, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
        optimizer=optimizer, lr_schedule=lr_schedule,
    )
    return json_safe({**result.to_dict(), **metrics, "arch": str(arch), "device": str(device)})
