"""Fitness of a program, and the functional-equivalence cache (Real et al. 2020, Sec. 4 and Supplementary S1).

Fitness: run the program (:func:`~nasrl_nb.zero.interpreter.execute`) on a batch of search
tasks (:mod:`nasrl_nb.zero.tasks`) and average the held-out accuracy over them; this is the
record's ``val_accuracy``, the reward the search sees. ``test_accuracy`` is the same on other
tasks (other class pairs, other projections), never seen by the search: the paper's
selection of a final algorithm on unseen tasks.

Functional equivalence checking (FEC). Many mutations do not change what a program computes
(an instruction nobody reads, a swapped pair of independent lines). Before a full evaluation
the program runs on a small probe -- the first ``probe_train`` training and ``probe_valid``
held-out examples of every search task, as the paper's 10 and 10 -- and the rounded
predictions are hashed. A program whose hash is in the cache gets the cached fitness
without being evaluated (``fec_hit`` in its record); the cache keeps the latest
``cache_size`` hashes. As in the paper, two programs that agree on the probe are taken to
agree everywhere: an approximation that a test bounds.

Random initialisation ops draw from a generator seeded afresh for every program, so a
program's fitness depends on the program alone, not on the order of evaluation.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np

from ..evaluators.base import Evaluator, make_record
from ..validation import require_positive, require_seed
from .interpreter import execute, task_accuracies
from .program import Program
from .tasks import TaskBatch, projected_binary_tasks


def program_fitness(program: Program, layout, tasks: TaskBatch, *, seed: int = 0) -> np.ndarray:
    """Per task, the held-out accuracy after Setup and one pass of Predict/Learn over the training examples."""
    execution = execute(program, layout, tasks.x_train, tasks.y_train, tasks.x_valid, rng=np.random.default_rng(seed))
    return task_accuracies(execution, tasks.y_valid)


def probe_hash(program: Program, layout, probe: TaskBatch, *, seed: int = 0, decimals: int = 6) -> str:
    """SHA-256 of the program's predictions on ``probe`` (training ones after the sigmoid, then the
    held-out logits), rounded to ``decimals``: equal for programs that compute the same thing there."""
    execution = execute(program, layout, probe.x_train, probe.y_train, probe.x_valid, rng=np.random.default_rng(seed))
    values = np.concatenate([execution.train_predictions.ravel(), execution.valid_logits.ravel()])
    with np.errstate(all="ignore"):
        rounded = np.round(values, decimals) + 0.0  # + 0.0: -0.0 and 0.0 hash alike
    rounded[np.isnan(rounded)] = np.nan  # one NaN bit pattern
    return hashlib.sha256(rounded.tobytes()).hexdigest()


class ProgramEvaluator(Evaluator):
    """Records for programs (architectures of a :class:`~nasrl_nb.zero.space.ProgramSpace`), with FEC.

    Args:
        num_tasks: search tasks (fitness is their mean accuracy).
        test_tasks: unseen tasks for ``test_accuracy`` (0: none, NaN in the records).
        n_train, n_valid: examples per task.
        seed: the tasks' seed (test tasks use ``seed + 1``) and the random ops' seed.
        fec: check functional equivalence before evaluating.
        probe_train, probe_valid: the probe's examples per task.
        cache_size: hashes the cache keeps (the oldest go first).
        standardize, offset: how the features are scaled (:func:`~nasrl_nb.zero.tasks.projected_binary_tasks`).
    """

    def __init__(self, *, dim: int = 8, num_tasks: int = 8, test_tasks: int = 8, n_train: int = 100,
                 n_valid: int = 100, seed: int = 0, fec: bool = True, probe_train: int = 10, probe_valid: int = 10,
                 cache_size: int = 20_000, standardize: bool = True, offset: float = 0.5):
        self.dim = require_positive("dim", dim, integer=True)
        self.num_tasks = require_positive("num_tasks", num_tasks, integer=True)
        if isinstance(test_tasks, bool) or not isinstance(test_tasks, int) or test_tasks < 0:
            raise ValueError(f"test_tasks: must be an integer >= 0, got {test_tasks!r}")
        self.test_tasks = test_tasks
        self.seed = require_seed("seed", seed)
        self.n_train, self.n_valid = n_train, n_valid
        self.fec = bool(fec)
        self.cache_size = require_positive("cache_size", cache_size, integer=True)
        self.standardize = bool(standardize)
        self.offset = float(offset)
        kwargs = dict(dim=dim, n_train=n_train, n_valid=n_valid, standardize=self.standardize, offset=self.offset)
        self.tasks = projected_binary_tasks(num_tasks, seed=seed, **kwargs)
        self.held_out = projected_binary_tasks(test_tasks, seed=seed + 1, **kwargs) if test_tasks else None
        self.probe_train = min(require_positive("probe_train", probe_train, integer=True), n_train)
        self.probe_valid = min(require_positive("probe_valid", probe_valid, integer=True), n_valid)
        self.probe = self.tasks.head(self.probe_train, self.probe_valid)
        self._all = self.tasks if self.held_out is None else self.tasks.join(self.held_out)  # one batch: one run
        self.cache: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def evaluate_program(self, program: Program, layout) -> dict:
        """One record for ``program`` (uses and fills the cache)."""
        start = time.perf_counter()
        key = probe_hash(program, layout, self.probe, seed=self.seed) if self.fec else None
        if key is not None and key in self.cache:
            self.hits += 1
            self.cache.move_to_end(key)
            val, test = self.cache[key]
            return make_record(val_accuracy=val, test_accuracy=test, instructions=len(program), fec_hit=True,
                               seconds=time.perf_counter() - start)
        self.misses += 1
        accuracies = program_fitness(program, layout, self._all, seed=self.seed)
        val = float(accuracies[: self.num_tasks].mean())
        test = float(accuracies[self.num_tasks:].mean()) if self.held_out is not None else float("nan")
        if key is not None:
            self.cache[key] = (val, test)
            while len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        return make_record(val_accuracy=val, test_accuracy=test, instructions=len(program), fec_hit=False,
                           seconds=time.perf_counter() - start)

    def evaluate(self, architectures: Sequence) -> list[dict]:
        return [self.evaluate_program(arch.choices[0], arch.space.layout) for arch in architectures]

    def config(self) -> dict:
        return {"kind": type(self).__name__, "dim": self.dim, "num_tasks": self.num_tasks, "test_tasks": self.test_tasks,
                "n_train": self.n_train, "n_valid": self.n_valid, "seed": self.seed, "fec": self.fec,
                "probe_train": self.probe_train, "probe_valid": self.probe_valid, "cache_size": self.cache_size,
                "standardize": self.standardize, "offset": self.offset}

    def state_dict(self) -> dict:
        """The cache and its counters: a resumed search answers the same programs from it."""
        return {"hits": self.hits, "misses": self.misses, "cache": [[k, v, t] for k, (v, t) in self.cache.items()]}

    def load_state_dict(self, state: Mapping) -> None:
        self.hits, self.misses = int(state["hits"]), int(state["misses"])
        self.cache = OrderedDict((k, (float(v), float(t))) for k, v, t in state["cache"])
