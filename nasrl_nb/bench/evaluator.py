"""Evaluate architectures by looking them up in a tabular benchmark (NAS-Bench-201's protocol).

Dong & Yang (ICLR 2020, Sec. 5) run every search method on the table with one protocol:
the searcher sees the *validation* accuracy of one training run (a seed drawn at random for
each query, so that it faces the noise a real search would), pays that run's training time
against a time budget, and is judged by the *test* accuracy of the architecture it picks.
:class:`TabularEvaluator` implements that protocol behind the one
:class:`~nasrl_nb.evaluators.base.Evaluator` interface, so REINFORCE, PPO, random search and
evolution run on a table unchanged and in milliseconds.

Each record (see :data:`~nasrl_nb.evaluators.base.RECORD_KEYS`) holds:

* ``val_accuracy``: the ``select_by`` column of the drawn run -- what the search optimises;
* ``test_accuracy``: the ``report`` column, averaged over the architecture's runs -- what
  the search is judged by (never seen by the strategy unless you select by it);
* ``params``, ``flops``: the table's; ``seconds``: the drawn run's ``train_seconds``
  (simulated, not wall time); ``table_seed``, ``table_entry``: which run answered.

A run that failed in the table (NaN accuracy) gives a failed record. The evaluator sums the
seconds it answered in :attr:`~TabularEvaluator.simulated_seconds`; with ``budget_seconds``
it reports :attr:`~TabularEvaluator.exhausted` once the sum reaches the budget (the
evaluation that crosses it counts, as in NAS-Bench-201's code), and a search stops there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..evaluators.base import Evaluator, failed_record, make_record
from ..spaces.search_space import Architecture
from ..validation import require_choice, require_positive
from .tabular import METRICS, TabularBenchmark

ON_MISSING: tuple[str, ...] = ("error", "fail")


class TabularEvaluator(Evaluator):
    """Answer each architecture from ``bench`` instead of training it.

    Args:
        bench: a :class:`~nasrl_nb.bench.tabular.TabularBenchmark`, or its source
            (``"bench:digits-cell"``, ``"csv:PATH"``).
        select_by: the column the search sees as ``val_accuracy`` (default ``val_accuracy``;
            ``test_accuracy`` gives an oracle search, for comparison only).
        report: the column recorded as ``test_accuracy``, averaged over runs.
        seed: seeds the evaluator's own generator, which draws one run per query when the
            architecture has several (the same seed gives the same draws in the same order).
        epoch: select by the validation accuracy after this many epochs (1-based; needs the
            per-epoch column) and pay ``epoch / epochs`` of the training time: a cheap,
            noisier fidelity.
        budget_seconds: simulated training seconds after which :attr:`exhausted` is True.
        spent_seconds: seconds already spent (continuing a search).
        on_missing: ``"error"`` raises for an architecture the table cannot answer;
            ``"fail"`` returns a failed record and the search goes on.
    """

    def __init__(
        self,
        bench,
        *,
        select_by: str = "val_accuracy",
        report: str = "test_accuracy",
        seed: int = 0,
        epoch: int | None = None,
        budget_seconds: float | None = None,
        spent_seconds: float = 0.0,
        on_missing: str = "error",
    ):
        self.bench = bench if isinstance(bench, TabularBenchmark) else TabularBenchmark.load(bench)
        self.select_by = require_choice("select_by", select_by, METRICS)
        self.report = require_choice("report", report, METRICS)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed: must be an integer, got {seed!r}")
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        if epoch is not None:
            if self.bench.epochs is None:
                raise ValueError(f"epoch: the table {self.bench.name!r} has no val_accuracy_per_epoch column")
            if select_by != "val_accuracy":
                raise ValueError(f"epoch: selects by validation accuracy after some epochs; select_by must be val_accuracy, got {select_by!r}")
            if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.bench.epochs:
                raise ValueError(f"epoch: {epoch!r} is not allowed; allowed values: 1..{self.bench.epochs}")
        self.epoch = epoch
        self.budget_seconds = None if budget_seconds is None else float(require_positive("budget_seconds", budget_seconds))
        if isinstance(spent_seconds, bool) or not isinstance(spent_seconds, (int, float)) or not spent_seconds >= 0:
            raise ValueError(f"spent_seconds: must be a number >= 0, got {spent_seconds!r}")
        self.simulated_seconds = float(spent_seconds)
        self.on_missing = require_choice("on_missing", on_missing, ON_MISSING)
        self.queries = 0
        # per-run arrays, looked up by position: (E, S)
        self._select = bench_runs(self.bench, self.select_by)
        self._seconds = bench_runs(self.bench, "train_seconds")
        self._report = self.bench.values(self.report)  # (E,) mean over runs
        self._columns = [np.flatnonzero(row) for row in self.bench.run_mask()]  # runs of each entry

    @property
    def exhausted(self) -> bool:
        """True once the simulated training seconds reach ``budget_seconds`` (never without one)."""
        return self.budget_seconds is not None and self.simulated_seconds >= self.budget_seconds

    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict]:
        return [self.evaluate_one(arch) for arch in architectures]

    def evaluate_one(self, arch: Architecture) -> dict:
        """Draw one run of ``arch``'s entry; the record of that run (see the module docstring)."""
        self.queries += 1
        try:
            e = self.bench.index(arch)
        except ValueError as err:
            if self.on_missing == "error":
                raise
            return failed_record(f"missing from the table: {err}")
        columns = self._columns[e]
        s = int(columns[self.rng.integers(len(columns))]) if len(columns) > 1 else int(columns[0])
        seconds = float(self._seconds[e, s])
        seconds = 0.0 if math.isnan(seconds) else seconds
        if self.epoch is not None:
            selected = self.bench.run_value("val_accuracy", e, s, epoch=self.epoch)
            seconds *= self.epoch / self.bench.epochs
        else:
            selected = float(self._select[e, s])
        self.simulated_seconds += seconds
        fields = {
            "params": _int_or_none(self.bench.params[e]),
            "flops": _int_or_none(self.bench.flops[e]),
            "seconds": seconds,
            "table_seed": self.bench.seeds[s],
            "table_entry": self.bench.archs[e],
        }
        if math.isnan(selected):
            return failed_record(f"the table's run of this cell (seed {self.bench.seeds[s]}) failed to train", **fields)
        return make_record(val_accuracy=selected, test_accuracy=float(self._report[e]), **fields)

    def state_dict(self) -> dict:
        """The generator's state and the seconds spent (to continue a search exactly)."""
        return {"rng": self.rng.bit_generator.state, "simulated_seconds": self.simulated_seconds, "queries": self.queries}

    def load_state_dict(self, state: Mapping) -> None:
        self.rng.bit_generator.state = dict(state["rng"])
        self.simulated_seconds = float(state["simulated_seconds"])
        self.queries = int(state.get("queries", 0))

    @classmethod
    def from_config(cls, config: Mapping) -> TabularEvaluator:
        """The evaluator that :meth:`config` describes (a run's ``summary.json``): how a tabular search resumes.

        The generator's state and the seconds spent come from the checkpoint (:meth:`load_state_dict`).
        """
        if not isinstance(config, Mapping) or config.get("kind") != cls.__name__:
            raise ValueError(f"evaluator: expected the config of a {cls.__name__} (summary.json's 'evaluator'), got {config!r}")
        source = config.get("path") or f"bench:{config.get('table')}"
        options = {k: config[k] for k in ("select_by", "report", "seed", "epoch", "budget_seconds") if k in config}
        return cls(source, **options)

    def config(self) -> dict:
        return {
            "kind": type(self).__name__,
            **table_children(self.bench),  # input_shape, num_classes, child_kwargs: what export builds
            "table": self.bench.name,
            "path": None if self.bench.path is None else str(self.bench.path),
            "scale": self.bench.scale,
            "select_by": self.select_by,
            "report": self.report,
            "seed": self.seed,
            "epoch": self.epoch,
            "budget_seconds": self.budget_seconds,
        }

    def __repr__(self) -> str:
        budget = "" if self.budget_seconds is None else f", budget_seconds={self.budget_seconds:g}"
        return (
            f"TabularEvaluator({self.bench.name!r}, select_by={self.select_by!r}, report={self.report!r}, "
            f"seed={self.seed}{budget}, simulated_seconds={self.simulated_seconds:.1f})"
        )


def table_children(bench: TabularBenchmark) -> dict:
    """The child networks a table's builder trained (``input_shape``, ``num_classes``, ``child_kwargs``).

    Read from the sidecar's ``settings`` (dataset, channels, cells per stage); the dataset's
    shape is looked up once per process. Empty when the table does not say (a foreign CSV).
    """
    settings = bench.metadata.get("settings") or {}
    shape = _dataset_shape(settings.get("dataset"))
    if shape is None:
        return {}
    child_kwargs = {k: settings[k] for k in ("channels", "cells_per_stage") if isinstance(settings.get(k), int)}
    return {"input_shape": list(shape[0]), "num_classes": shape[1], "child_kwargs": child_kwargs}


_DATASET_SHAPES: dict[str, tuple | None] = {}


def _dataset_shape(name) -> tuple | None:
    """``(input_shape, num_classes)`` of dataset ``name`` (None if unknown or not on this machine)."""
    from ..nn.data import DATASETS, load_dataset

    if name not in DATASETS:
        return None
    if name not in _DATASET_SHAPES:
        try:
            data = load_dataset(name, max_samples=100)
            _DATASET_SHAPES[name] = (tuple(data.input_shape), int(data.num_classes))
        except (OSError, RuntimeError, ValueError):  # a torchvision dataset that is not downloaded
            _DATASET_SHAPES[name] = None
    return _DATASET_SHAPES[name]


def bench_runs(bench: TabularBenchmark, column: str) -> np.ndarray:
    """The (entries, seeds) array of a per-run column (NaN where an entry lacks a run)."""
    return bench.values(column, reduce="none")


def _int_or_none(value) -> int | None:
    return int(value) if np.isfinite(value) else None
