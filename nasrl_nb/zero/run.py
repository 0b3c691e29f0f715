"""An AutoML-Zero search on the NAS search loop: its settings, and building, resuming and reading one.

:func:`make_zero_search` wires a :class:`~nasrl_nb.zero.space.ProgramSpace`, a
:class:`~nasrl_nb.zero.strategy.ProgramEvolution` and a
:class:`~nasrl_nb.zero.evaluate.ProgramEvaluator` into the same
:class:`~nasrl_nb.run.loop.Search` every NAS method runs on: the same run folder
(``config.json``, ``history.jsonl``, ``steps.jsonl``, ``checkpoint.pt``, ``summary.json``),
the same all-or-nothing steps, checkpoints and exact resume. ``config.json`` holds the
:class:`ZeroConfig`, one ``"zero.<field>"`` key per setting; resuming with other settings is a ``ValueError``
naming them (only ``budget`` may change).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..run.folder import RunFolder
from ..run.loop import Search
from ..validation import require_choice
from .evaluate import ProgramEvaluator
from .ops import OP_SETS
from .program import MemoryLayout, Program
from .space import ProgramSpace
from .strategy import ProgramEvolution

ZERO_ALLOWED = ("matrices", "max_setup", "max_predict", "max_learn", "test_tasks", "seed", "task_seed")  # may be 0


@dataclass(frozen=True)
class ZeroConfig:
    """Every setting of an AutoML-Zero search (the defaults: the linear rediscovery of BENCHMARKS.md)."""

    ops: str = "linear"  # the op set: linear (s_sub, sv_mul, v_add, dot; a Sec. 4.1-style restriction) or full
    dim: int = 8  # features per example after the random projection
    scalars: int = 3  # memory: s0 (label), s1 (prediction), s2, ...
    vectors: int = 2  # memory: v0 (features), v1, ...
    matrices: int = 0  # memory: m0.. (the full op set needs at least one)
    max_setup: int = 0  # instructions at most in Setup
    max_predict: int = 1  # ... in Predict
    max_learn: int = 4  # ... in Learn (4 rediscovers SGD about twice as often as 3: BENCHMARKS.md, AutoML-Zero)
    num_tasks: int = 8  # search tasks (digit pairs); fitness is their mean held-out accuracy
    test_tasks: int = 8  # unseen tasks for test_accuracy
    n_train: int = 100  # training examples per task (one pass)
    n_valid: int = 100  # held-out examples per task
    standardize: bool = True  # standardise each task's features, then ...
    offset: float = 0.5  # ... then add this to every feature (0: a Hebbian rule does as well as GD; see zero.tasks)
    population_size: int = 100  # P
    sample_size: int = 10  # tournament S
    fec: bool = True  # functional equivalence checking
    seed: int = 0  # evolution's seed (the tasks are fixed by task_seed)
    task_seed: int = 0  # the tasks and the random ops' seed
    budget: int = 2000  # programs to evaluate (FEC hits count)
    batch_size: int = 20  # programs per step (a checkpoint after each)

    def __post_init__(self):
        require_choice("ops", self.ops, OP_SETS)
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"{f.name}: must be true or false, got {value!r}")
            if f.type == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise ValueError(f"{f.name}: must be a finite number, got {value!r}")
            if f.type == "int":
                low = 0 if f.name in ZERO_ALLOWED else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    raise ValueError(f"{f.name}: must be an integer >= {low}, got {value!r}")
        if self.scalars < 2:
            raise ValueError(f"scalars: must be an integer >= 2 (s0 is the label, s1 the prediction), got {self.scalars!r}")
        if self.sample_size > self.population_size:
            raise ValueError(f"sample_size: {self.sample_size} is not allowed; allowed values: "
                             f"1..population_size ({self.population_size})")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data) -> ZeroConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"zero: unknown settings {unknown}; allowed keys: {sorted(names)}")
        return cls(**data)

    def space(self) -> ProgramSpace:
        layout = MemoryLayout(scalars=self.scalars, vectors=self.vectors, matrices=self.matrices, dim=self.dim)
        return ProgramSpace(layout, self.ops, {"setup": self.max_setup, "predict": self.max_predict, "learn": self.max_learn})


class ZeroSearch(Search):
    """A :class:`~nasrl_nb.run.loop.Search` whose ``config.json`` records the :class:`ZeroConfig`."""

    def __init__(self, *args, zero_config: ZeroConfig, **kwargs):
        self.zero_config = zero_config  # before Search.__init__, which writes (or checks) config.json
        super().__init__(*args, **kwargs)

    def config_dict(self) -> dict:
        # one key per setting ("zero.dim"), so that a resume with other settings names each one; budget may change
        settings = {f"zero.{k}": v for k, v in self.zero_config.to_dict().items() if k != "budget"}
        return {**super().config_dict(), **settings}

    @property
    def fec_hits(self) -> int:
        """Programs answered from the functional-equivalence cache so far."""
        return sum(1 for row in self.history if row.get("fec_hit"))


def make_zero_search(config: ZeroConfig | None = None, *, out_dir=None, resume: bool = False, overwrite: bool = False,
                     progress: bool = False, **settings) -> ZeroSearch:
    """An AutoML-Zero search from a :class:`ZeroConfig` (or its fields as keywords)."""
    if config is None:
        config = ZeroConfig.from_dict(settings)
    elif settings:
        config = ZeroConfig.from_dict({**config.to_dict(), **settings})
    space = config.space()
    strategy = ProgramEvolution(space, population_size=config.population_size, sample_size=config.sample_size,
                                seed=config.seed)
    evaluator = ProgramEvaluator(dim=config.dim, num_tasks=config.num_tasks, test_tasks=config.test_tasks,
                                 n_train=config.n_train, n_valid=config.n_valid, seed=config.task_seed, fec=config.fec,
                                 standardize=config.standardize, offset=config.offset)
    return ZeroSearch(space, strategy, evaluator, budget=config.budget, batch_size=config.batch_size, seed=config.seed,
                      out_dir=out_dir, resume=resume, overwrite=overwrite, progress=progress, zero_config=config)


def saved_config(out_dir) -> ZeroConfig | None:
    """The :class:`ZeroConfig` of the AutoML-Zero run in ``out_dir`` (None if the folder holds no run)."""
    saved = RunFolder(out_dir).read_config()
    if saved is None:
        return None
    settings = {k.removeprefix("zero."): v for k, v in saved.items() if k.startswith("zero.")}
    if saved.get("method") != ProgramEvolution.method or not settings:
        raise ValueError(f"out_dir: {str(out_dir)!r} holds a {saved.get('method')!r} search, not an AutoML-Zero one")
    return ZeroConfig.from_dict({**settings, "budget": saved.get("budget", ZeroConfig.budget)})


def best_program(search_or_history) -> tuple[Program, dict] | None:
    """The program with the highest reward in a search's history (ties: the earliest), and its record."""
    history = getattr(search_or_history, "history", search_or_history)
    best = None
    for row in history:
        if row.get("status") == "ok" and (best is None or row["reward"] > best["reward"]):
            best = row
    return None if best is None else (Program.parse(best["arch"]), best)


def improvements(history) -> list[dict]:
    """The records where the best reward so far went up: the program's story, one line per change."""
    out, best = [], None
    for row in history:
        if row.get("status") == "ok" and (best is None or row["reward"] > best):
            best = row["reward"]
            out.append(row)
    return out
