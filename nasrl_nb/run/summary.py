"""The running summary of a search: counts, the best architecture and the most accurate one.

"Best" follows the reward: under a constrained, MnasNet or multi-objective reward, the
architecture a search found is the one with the highest *reward* among successful
children (ties broken by validation accuracy, then by the earlier evaluation), which may
not be the most accurate. The most accurate *feasible* child (successful, within every
constraint) is kept beside it, labelled as such. :class:`RunTally` updates both per
record, so a step costs the same at evaluation 10 and at evaluation 10,000.

Summary keys (``summary.json``): ``best_arch``, ``best_space`` (the spec of the space the
architecture was sampled in, when it is not the search's: a curriculum's shallower stage;
else None), ``best_reward``, ``best_val_accuracy``, ``best_test_accuracy``, ``best_params``,
``best_flops``, ``best_latency_ms``, ``best_step``, ``best_evaluation`` and the same with
``most_accurate_`` instead of ``best_``; ``result``: the architecture the method hands over
(its strategy's ``result_rule``, :mod:`nasrl_nb.run.result`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..checkpoint import json_safe
from .result import summary_result

RECORD_FIELDS = ("arch", "space", "reward", "val_accuracy", "test_accuracy", "params", "flops", "latency_ms", "step",
                 "evaluation")


def _number(value) -> float | None:
    return None if value is None or isinstance(value, bool) or value != value else float(value)  # NaN -> None


def beats_by_reward(row: Mapping, best: Mapping | None) -> bool:
    """True if successful ``row`` has a higher reward than ``best`` (ties: higher validation accuracy)."""
    if row.get("status") != "ok" or _number(row.get("reward")) is None:
        return False
    if best is None:
        return True
    key = (_number(row["reward"]), _number(row.get("val_accuracy")) or float("-inf"))
    return key > (_number(best["reward"]), _number(best.get("val_accuracy")) or float("-inf"))


def beats_by_accuracy(row: Mapping, best: Mapping | None) -> bool:
    """True if ``row`` is feasible (ok, no constraint violated) and more accurate than ``best``."""
    accuracy = _number(row.get("val_accuracy"))
    if row.get("status") != "ok" or row.get("constraint_violated") or accuracy is None:
        return False
    return best is None or accuracy > best["val_accuracy"]


def best_by_reward(history: Iterable[Mapping]) -> dict | None:
    """The record with the highest reward among successful children (None if none)."""
    return RunTally(history).best


def most_accurate(history: Iterable[Mapping]) -> dict | None:
    """The feasible record with the highest validation accuracy (None if none)."""
    return RunTally(history).most_accurate


class RunTally:
    """Counts and bests of a history, kept up to date one record at a time."""

    def __init__(self, history: Iterable[Mapping] = ()):
        self.evaluations = 0
        self.failed = 0
        self.constraint_violated = 0
        self.architectures: set[str] = set()
        self.best: dict | None = None
        self.most_accurate: dict | None = None
        self.last: dict | None = None  # the latest record, failed or not (DARTS's result: the last derived cell)
        self.extend(history)

    def add(self, row: Mapping) -> None:
        self.evaluations += 1
        self.failed += row.get("status") != "ok"
        self.constraint_violated += bool(row.get("constraint_violated"))
        self.architectures.add(row["arch"])
        if beats_by_reward(row, self.best):
            self.best = dict(row)
        if beats_by_accuracy(row, self.most_accurate):
            self.most_accurate = dict(row)
        self.last = row

    def extend(self, rows: Iterable[Mapping]) -> None:
        for row in rows:
            self.add(row)

    def fields(self) -> dict:
        """The summary's counts and ``best_*`` / ``most_accurate_*`` fields."""
        out = {
            "failed": self.failed,
            "constraint_violated": self.constraint_violated,
            "unique_architectures": len(self.architectures),
        }
        for prefix, row in (("best", self.best), ("most_accurate", self.most_accurate)):
            out.update({f"{prefix}_{name}": (row or {}).get(name) for name in RECORD_FIELDS})
        return out


def search_summary(search) -> dict:
    """What ``summary.json`` holds for ``search`` (a :class:`~nasrl_nb.run.loop.Search`), plain JSON."""
    return json_safe(
        {
            "method": search.method,
            "seed": search.seed,
            "space": search.space.spec(),
            "budget": search.budget,
            "batch_size": search.batch_size,
            "evaluations": search.evaluations,
            "steps": search.num_steps,
            "done": search.done,
            **search.tally.fields(),
            "result": summary_result(search.strategy.result_rule, search.tally),
            "seconds": search.seconds,
            "strategy": search.strategy.config(),
            "reward": search.reward_fn.config(),
            "evaluator": evaluator_config(search.evaluator),
            "config": search.config_dict(),
        }
    )


def evaluator_config(evaluator) -> dict:
    """``evaluator.config()``, or its class name when it has none."""
    config = getattr(evaluator, "config", None)
    return config() if callable(config) else {"kind": type(evaluator).__name__}
