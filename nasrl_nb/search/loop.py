"""The search loop: propose, evaluate, reward, update -- one batch at a time, resumable.

Zoph & Le (2017, Sec. 3.2, Fig. 1) describe NAS with RL as a loop: the controller samples
architectures, each child is trained, its validation accuracy is the reward, and the
controller is updated by policy gradient. :class:`Search` runs that loop for any search
strategy (:mod:`nasrl_nb.search.strategy`), any evaluator (:mod:`nasrl_nb.search.evaluation`) and any
reward (:mod:`nasrl_nb.rewards.objectives`). Each step does four stages:

1. sample a batch of architectures (``strategy.propose``);
2. evaluate the children (``evaluator.evaluate``);
3. compute their rewards (``reward_fn``; a failed child gets ``reward_fn.failure_reward``);
4. update the policy (``strategy.observe``),

and returns a :class:`SearchStep`. A search is a plain object: call :meth:`Search.step`,
iterate over it, or :meth:`Search.run` it; :meth:`Search.stages` yields one step stage by
stage for a step-through display; a dashboard may run it in a background thread and
:meth:`~Search.pause`, :meth:`~Search.resume` or :meth:`~Search.stop` it.

Reproducibility. The search owns private copies of the global RNG states (torch, NumPy,
Python): they are swapped in for the duration of a step and swapped out afterwards, so
code that runs between steps cannot change which architectures are proposed. Evaluators
seed each child from ``(seed, arch)`` (see :func:`~nasrl_nb.search.evaluation.architecture_seed`).

Checkpoints and interruptions. With ``out_dir`` every step appends one JSON line per
architecture to ``history.jsonl`` and one per update to ``steps.jsonl`` (rewards, baseline,
statistics, policy: what a replay needs), rewrites ``summary.json`` and atomically replaces
``checkpoint.pt`` (strategy state, RNG states, counters and configuration; readable with
``torch.load(weights_only=True)``). A step is all or nothing: if it is interrupted
(``KeyboardInterrupt``) or raises before its update is committed, the strategy is rolled
back to the last committed update, the partial batch is discarded, and the exception
propagates; the step is redone -- with the same architectures, since the RNG states are
those of the last commit -- by the next :meth:`Search.step` or after
:func:`~nasrl_nb.search.factory.resume_search`. The commit itself (history lines, checkpoint, counters) is
shielded from Ctrl-C, so disk and memory always agree.
"""

from __future__ import annotations

import copy
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..rewards.objectives import AccuracyReward, RewardFunction
from ..runtime import seed_everything
from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_positive
from .checkpoint import (
    CHECKPOINT_NAME,
    capture_rng_state,
    json_safe,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    write_text_atomic,
)
from .evaluation import Evaluator
from .strategy import SearchStrategy

HISTORY_NAME = "history.jsonl"
STEPS_NAME = "steps.jsonl"  # one line per update: rewards, baseline, stats, policy (for replays)
SUMMARY_NAME = "summary.json"
CHECKPOINT_FORMAT = "nasrl_nb.search.loop/1"


@dataclass
class Stage:
    """One stage of a step (see :meth:`Search.stages`): its ``name`` and what it produced."""

    name: str
    data: dict


@dataclass
class SearchStep:
    """What one step of a search produced.

    Attributes:
        step: 0-based index of this step (batch).
        architectures: the batch that was proposed.
        results: one history record per architecture (see :attr:`Search.history`).
        rewards: the reward of each architecture, in order.
        baseline: the policy-gradient baseline used by the update (None without one).
        advantages: reward minus baseline per architecture, as the update used it (None
            without a policy).
        policy: the policy after the update (``PolicySnapshot``), or None.
        stats: the strategy's statistics for this update (plain numbers).
        evaluations: architectures evaluated so far, this batch included.
        best: the record with the highest validation accuracy so far (None if none yet).
        seconds: wall time of this step.
    """

    step: int
    architectures: list[Architecture]
    results: list[dict]
    rewards: list[float]
    baseline: float | None
    advantages: list[float] | None
    policy: object | None
    stats: dict
    evaluations: int
    best: dict | None
    seconds: float = 0.0

    @property
    def mean_reward(self) -> float:
        return sum(self.rewards) / len(self.rewards)


class Search:
    """A resumable NAS loop over ``space`` with ``strategy``, ``evaluator`` and ``reward_fn``.

    Args:
        space: the search space (the strategy's space).
        strategy: a :class:`~nasrl_nb.search.strategy.SearchStrategy`.
        evaluator: anything with ``evaluate(architectures) -> list[dict]``
            (:class:`~nasrl_nb.search.evaluation.Evaluator`).
        reward_fn: a :class:`~nasrl_nb.rewards.objectives.RewardFunction` (default: validation accuracy).
        budget: number of architectures to evaluate in all (a repeated architecture counts
            again, even when the evaluator answers it from its cache).
        batch_size: architectures per step (the last batch may be smaller, to fit the budget).
        seed: seeds the search's private RNG states.
        out_dir: folder for ``history.jsonl``, ``summary.json`` and ``checkpoint.pt``
            (None keeps everything in memory).
        progress: show a ``tqdm`` progress bar while iterating.
        resume: continue from ``out_dir``'s checkpoint. Without it, an ``out_dir`` that
            already holds a checkpoint is an error (nothing is overwritten silently).
        config: plain-JSON settings that rebuild this search (``make_search`` passes its
            arguments); stored in the checkpoint for :func:`~nasrl_nb.search.factory.resume_search`.
        policy_snapshots: record the strategy's ``policy_snapshot()`` after every update.
    """

    def __init__(
        self,
        space: SearchSpace,
        strategy: SearchStrategy,
        evaluator: Evaluator,
        reward_fn: RewardFunction | None = None,
        *,
        budget: int,
        batch_size: int = 8,
        seed: int = 0,
        out_dir=None,
        progress: bool = True,
        resume: bool = False,
        config: Mapping | None = None,
        policy_snapshots: bool = True,
    ):
        # 1. check the parts
        if not isinstance(space, SearchSpace):
            raise ValueError(f"space: expected a SearchSpace, got {type(space).__name__}")
        if not isinstance(strategy, SearchStrategy):
            raise ValueError(f"strategy: expected a SearchStrategy (see make_strategy), got {type(strategy).__name__}")
        if strategy.space != space:
            raise ValueError(f"strategy: its space {strategy.space!r} differs from the search space {space!r}")
        if not callable(getattr(evaluator, "evaluate", None)):
            raise ValueError(f"evaluator: expected an object with evaluate(architectures), got {type(evaluator).__name__}")
        reward_fn = AccuracyReward() if reward_fn is None else reward_fn
        if not isinstance(reward_fn, RewardFunction):
            raise ValueError(f"reward_fn: expected a RewardFunction (see nasrl_nb.rewards.objectives), got {type(reward_fn).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed: must be an integer, got {seed!r}")
        self.space, self.strategy, self.evaluator, self.reward_fn = space, strategy, evaluator, reward_fn
        self._budget = require_positive("budget", budget, integer=True)
        self.batch_size = require_positive("batch_size", batch_size, integer=True)
        self.seed = seed
        self.progress = bool(progress)
        self.policy_snapshots = bool(policy_snapshots)
        self.config = json_safe(dict(config)) if config is not None else None
        self.out_dir = None if out_dir is None else Path(out_dir)

        # 2. run-time state
        self.history: list[dict] = []
        self.steps: list[SearchStep] = []
        self.num_steps = 0
        self.evaluations = 0
        self.seconds = 0.0  # wall time of committed steps, across resumes
        self.best: dict | None = None
        self._step_lock = threading.Lock()
        self._hparam_lock = threading.Lock()
        self._pending_hparams: dict[str, float] = {}
        self._control_lock = threading.Lock()
        self._iterating = False
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

        # 3. fresh start or resume
        checkpoint_path = None if self.out_dir is None else self.out_dir / CHECKPOINT_NAME
        if resume:
            if checkpoint_path is None:
                raise ValueError("resume: needs out_dir, the folder of the run to continue")
            self._load(checkpoint_path)
        else:
            if checkpoint_path is not None and checkpoint_path.exists():
                raise ValueError(
                    f"out_dir: {str(self.out_dir)!r} already holds a search; pass resume=True to continue it "
                    "or choose another folder"
                )
            state = capture_rng_state()
            seed_everything(seed)
            self._rng_state = capture_rng_state()
            restore_rng_state(state)  # the caller's generators are left as they were
            self._committed_strategy = copy.deepcopy(strategy.state_dict())
            if self.out_dir is not None:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                (self.out_dir / HISTORY_NAME).write_text("", encoding="utf-8")
                (self.out_dir / STEPS_NAME).write_text("", encoding="utf-8")
                self._write_checkpoint()
                self._write_summary()

    # --- properties ---------------------------------------------------------------------
    @property
    def method(self) -> str:
        return self.strategy.method

    @property
    def budget(self) -> int:
        return self._budget

    @budget.setter
    def budget(self, value: int) -> None:
        """The budget may grow (or shrink, not below what is evaluated) between steps."""
        self._budget = require_positive("budget", value, integer=True)

    @property
    def done(self) -> bool:
        """True once ``budget`` architectures have been evaluated."""
        return self.evaluations >= self._budget

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def __repr__(self) -> str:
        best = "none" if self.best is None else f"{self.best['val_accuracy']:.4f}"
        return (
            f"Search(method={self.method!r}, space={self.space!r}, evaluations={self.evaluations}/{self._budget}, "
            f"steps={self.num_steps}, best_val_accuracy={best})"
        )

    # --- control from another thread ---------------------------------------------------------
    def stop(self) -> None:
        """Ask a running iteration (``run()`` or a ``for`` loop) to end after its current step.

        Thread-safe. When no iteration is running there is nothing to stop and the call does
        nothing, so a later ``run()`` is not cut short.
        """
        with self._control_lock:
            if self._iterating:
                self._stop.set()
                self._running.set()  # a paused loop wakes up to notice

    def pause(self) -> None:
        """Hold a running iteration before its next step until :meth:`resume` (thread-safe)."""
        self._running.clear()

    def resume(self) -> None:
        """Let a paused iteration continue (to continue a run from disk see :func:`~nasrl_nb.search.factory.resume_search`)."""
        self._running.set()

    def set_hyperparameters(self, *, lr=None, entropy_weight=None, temperature=None) -> dict:
        """Change the policy's ``lr``, ``entropy_weight`` or ``temperature`` (thread-safe).

        Values are checked now and applied at the start of the next step, so a batch is
        sampled and updated with one setting. Only RL strategies accept them. Returns the
        changes still pending.
        """
        given = {"lr": lr, "entropy_weight": entropy_weight, "temperature": temperature}
        given = {k: v for k, v in given.items() if v is not None}
        if given and not self.strategy.hyperparameters():
            name = next(iter(given))
            raise ValueError(f"{name}: the {self.method} strategy has no policy to tune; allowed for: reinforce, ppo")
        if "lr" in given:
            given["lr"] = float(require_positive("lr", given["lr"]))
        if "temperature" in given:
            given["temperature"] = float(require_positive("temperature", given["temperature"]))
        if "entropy_weight" in given:
            value = given["entropy_weight"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"entropy_weight: must be a finite number >= 0, got {value!r}")
            given["entropy_weight"] = float(value)
        with self._hparam_lock:
            self._pending_hparams.update(given)
            return dict(self._pending_hparams)

    def hyperparameters(self) -> dict:
        """The strategy's current run-time settings with pending changes applied on top."""
        with self._hparam_lock:
            return {**self.strategy.hyperparameters(), **self._pending_hparams}

    # --- the loop --------------------------------------------------------------------------
    def step(self) -> SearchStep:
        """Run one step: propose, evaluate, reward, update; then commit it (and checkpoint)."""
        *_, update = self.stages(describe=False)
        return update.data["step"]

    def stages(self, *, describe: bool = True) -> Iterator[Stage]:
        """One step as its stages, yielding a :class:`Stage` after each (step-through teaching).

        ``sample`` (the batch and each choice's probability), ``build`` (each child as
        the evaluator will build it; skipped with ``describe=False``), ``train`` (the
        evaluator's records), ``reward`` (rewards, the baseline before the update and the
        advantages it implies) and ``update`` (the committed :class:`SearchStep`, with the
        choices' probabilities before and after). The step is committed only when the
        ``update`` stage is produced; a generator abandoned earlier rolls the strategy back,
        like an interrupted :meth:`step`. Between stages the caller's RNG states are in place.
        """
        if not self._step_lock.acquire(blocking=False):
            raise RuntimeError("search: a step is already in progress (in another thread or an unfinished stages())")
        try:
            if self.done:
                raise RuntimeError(f"search is done: {self.evaluations} of budget {self._budget} evaluated")
            yield from self._stages(describe)
        except BaseException:
            self.strategy.load_state_dict(copy.deepcopy(self._committed_strategy))  # discard the partial step
            raise
        finally:
            self._step_lock.release()

    def _stages(self, describe: bool) -> Iterator[Stage]:
        start = time.perf_counter()
        n = min(self.batch_size, self._budget - self.evaluations)
        with self._hparam_lock:
            pending = dict(self._pending_hparams)
        # 1. sample a batch
        with self._own_rng(self._rng_state):
            if pending:
                self.strategy.set_hyperparameters(**pending)
            architectures = list(self.strategy.propose(n))
            before = self.strategy.choice_probabilities(architectures) if describe else None
        yield Stage("sample", {"architectures": architectures, "probabilities": before})
        # 2. build (display only: the evaluator builds its own children)
        if describe:
            networks = [self.evaluator.describe(a) for a in architectures] if hasattr(self.evaluator, "describe") else []
            yield Stage("build", {"networks": [n for n in networks if n is not None]})
        # 3. evaluate the children
        with self._own_rng(self._step_rng_state):
            results = list(self.evaluator.evaluate(architectures))
        if len(results) != len(architectures):
            raise ValueError(f"evaluator: returned {len(results)} records for {len(architectures)} architectures")
        yield Stage("train", {"architectures": architectures, "results": results})
        # 4. rewards (a failed child gets the reward function's failure penalty)
        rewards = [float(self.reward_fn.reward(r)) for r in results]
        violated = [bool(self.reward_fn.constraint_violated(r)) for r in results]
        baseline = self.strategy.current_baseline()
        advantages = None if baseline is None else [r - baseline for r in rewards]
        yield Stage("reward", {"rewards": rewards, "constraint_violated": violated, "baseline": baseline,
                               "advantages": advantages})
        # 5. policy update, then commit
        with self._own_rng(self._step_rng_state):
            stats = dict(self.strategy.observe(architectures, results, rewards) or {})
            policy = self.strategy.policy_snapshot() if self.policy_snapshots else None
            after = self.strategy.choice_probabilities(architectures) if describe else None
        rows = [
            self._history_row(arch, record, reward, flag)
            for arch, record, reward, flag in zip(architectures, results, rewards, violated, strict=True)
        ]
        with _deferred_interrupt():
            step = self._commit(architectures, rows, rewards, stats, policy, pending, time.perf_counter() - start)
        yield Stage("update", {"step": step, "before": before, "after": after})

    def _commit(self, architectures, rows, rewards, stats, policy, pending, seconds) -> SearchStep:
        """Make a finished step permanent: memory, history file, checkpoint, summary."""
        self._rng_state = self._step_rng_state
        self._committed_strategy = copy.deepcopy(self.strategy.state_dict())
        with self._hparam_lock:
            for key, value in pending.items():
                if self._pending_hparams.get(key) == value:
                    del self._pending_hparams[key]
        step_index = self.num_steps
        for offset, row in enumerate(rows):
            row["step"] = step_index
            row["evaluation"] = self.evaluations + offset
        self.history.extend(rows)
        self.evaluations += len(rows)
        self.num_steps += 1
        self.seconds += seconds
        self.best = best_record(self.history)
        if self.out_dir is not None:
            with open(self.out_dir / HISTORY_NAME, "a", encoding="utf-8") as file:
                file.writelines(json.dumps(row) + "\n" for row in rows)
            with open(self.out_dir / STEPS_NAME, "a", encoding="utf-8") as file:
                file.write(json.dumps(json_safe(_step_line(step_index, rewards, stats, policy))) + "\n")
            self._write_checkpoint()
            self._write_summary()
        baseline = stats.get("baseline")
        advantages = stats.get("advantages")
        result = SearchStep(
            step=step_index,
            architectures=list(architectures),
            results=rows,
            rewards=list(rewards),
            baseline=None if baseline is None else float(baseline),
            advantages=None if advantages is None else [float(a) for a in advantages],
            policy=policy,
            stats=stats,
            evaluations=self.evaluations,
            best=self.best,
            seconds=seconds,
        )
        self.steps.append(result)
        return result

    def __iter__(self) -> Iterator[SearchStep]:
        """Steps until the budget is spent or :meth:`stop` is called; honours :meth:`pause`."""
        with self._control_lock:
            if self._iterating:
                raise RuntimeError("search: it is already being iterated (in another thread?)")
            self._iterating = True
            self._stop.clear()
        bar = _progress_bar(self)
        try:
            while not self.done:
                while not self._running.wait(timeout=0.1):
                    pass
                if self._stop.is_set():
                    break
                result = self.step()
                bar.update(len(result.architectures))
                if self.best is not None:
                    bar.set_postfix(best_val=f"{self.best['val_accuracy']:.3f}", refresh=False)
                yield result
        finally:
            with self._control_lock:
                self._iterating = False
                self._stop.clear()
            bar.close()

    def run(self, callback: Callable[[SearchStep], object] | None = None) -> dict:
        """Iterate to the end of the budget (or :meth:`stop`); returns :meth:`summary`.

        ``callback(step)`` is called after every step; returning ``False`` stops the run.
        A ``KeyboardInterrupt`` discards the unfinished step (see the module docstring) and
        propagates; ``summary.json`` and the checkpoint describe the last committed step.
        """
        for result in self:
            if callback is not None and callback(result) is False:
                break
        if self.out_dir is not None:
            self._write_summary()
        return self.summary()

    # --- records and summary ---------------------------------------------------------------
    def _history_row(self, arch: Architecture, record: Mapping, reward: float, violated: bool) -> dict:
        row = {
            "step": None,
            "evaluation": None,
            "arch": str(arch),
            **{k: v for k, v in record.items() if k != "arch"},
            "reward": reward,
            "constraint_violated": violated,
        }
        return json_safe(row)

    def summary(self) -> dict:
        """Plain-JSON summary of the run so far.

        ``best_*`` describe the architecture with the highest *validation* accuracy among
        successful children within the constraints; ``best_test_accuracy`` is that
        architecture's test accuracy (not the highest test accuracy seen).
        """
        best = self.best or {}
        return json_safe(
            {
                "method": self.method,
                "seed": self.seed,
                "space": self.space.spec(),
                "budget": self._budget,
                "batch_size": self.batch_size,
                "evaluations": self.evaluations,
                "steps": self.num_steps,
                "done": self.done,
                "failed": sum(row["status"] != "ok" for row in self.history),
                "constraint_violated": sum(bool(row.get("constraint_violated")) for row in self.history),
                "unique_architectures": len({row["arch"] for row in self.history}),
                "best_arch": best.get("arch"),
                "best_val_accuracy": best.get("val_accuracy"),
                "best_test_accuracy": best.get("test_accuracy"),
                "best_params": best.get("params"),
                "best_flops": best.get("flops"),
                "best_latency_ms": best.get("latency_ms"),
                "best_reward": best.get("reward"),
                "best_step": best.get("step"),
                "seconds": self.seconds,
                "strategy": self.strategy.config(),
                "reward": self.reward_fn.config(),
                "evaluator": _evaluator_config(self.evaluator),
                "config": self.config,
            }
        )

    # --- RNG ownership -------------------------------------------------------------------------
    @contextmanager
    def _own_rng(self, state):
        """Swap ``state`` in (the search's RNG states); keep the new ones; put the caller's back."""
        caller = capture_rng_state()
        restore_rng_state(state)
        try:
            yield
            self._step_rng_state = capture_rng_state()
        finally:
            restore_rng_state(caller)

    # --- checkpoints -------------------------------------------------------------------------------
    def _checkpoint_state(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "method": self.method,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "budget": self._budget,
            "step": self.num_steps,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "space": json.dumps(self.space.spec()),
            "config": json.dumps(self.config),
            "evaluator": json.dumps(json_safe(_evaluator_config(self.evaluator))),
            "strategy": self._committed_strategy,
            "rng": self._rng_state,
        }

    def _write_checkpoint(self) -> None:
        save_checkpoint(self.out_dir / CHECKPOINT_NAME, self._checkpoint_state())

    def _write_summary(self) -> None:
        write_text_atomic(self.out_dir / SUMMARY_NAME, json.dumps(self.summary(), indent=2) + "\n")

    def _load(self, path: Path) -> None:
        """Restore counters, strategy, RNG states and history from ``out_dir``."""
        if not path.exists():
            raise ValueError(f"resume: no checkpoint in {str(path.parent)!r}; start a new search there without resume")
        state = load_checkpoint(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"resume: {str(path)!r} is not a search checkpoint (format {state.get('format')!r})")
        mismatches = [
            f"{name} {saved!r} (this search: {current!r})"
            for name, saved, current in (
                ("method", state["method"], self.method),
                ("seed", state["seed"], self.seed),
                ("batch_size", state["batch_size"], self.batch_size),
                ("space", json.loads(state["space"]), self.space.spec()),
            )
            if saved != current
        ]
        if mismatches:
            raise ValueError("resume: the checkpoint was made with different settings: " + "; ".join(mismatches))
        self.strategy.load_state_dict(copy.deepcopy(state["strategy"]))
        self._committed_strategy = copy.deepcopy(state["strategy"])
        self._rng_state = state["rng"]
        self.num_steps, self.evaluations = int(state["step"]), int(state["evaluations"])
        self.seconds = float(state["seconds"])
        self.history = read_history(self.out_dir, limit=self.evaluations)
        _truncate_jsonl(self.out_dir / STEPS_NAME, self.num_steps)
        self.best = best_record(self.history)
        if self.config is None:
            self.config = json.loads(state["config"])
        self._write_summary()


def _step_line(step: int, rewards, stats: Mapping, policy) -> dict:
    """The ``steps.jsonl`` line of one update (what a replay needs beyond the history)."""
    return {
        "step": step,
        "rewards": list(rewards),
        "baseline": stats.get("baseline"),
        "advantages": stats.get("advantages"),
        "stats": {k: v for k, v in stats.items() if k != "advantages"},
        "policy": None if policy is None else policy.to_dict(),
    }


def _truncate_jsonl(path: Path, limit: int) -> None:
    """Keep the first ``limit`` lines of ``path`` (lines of a step whose checkpoint never landed go)."""
    if path.exists():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if len(lines) > limit:
            write_text_atomic(path, "".join(line + "\n" for line in lines[:limit]))


def read_history(out_dir, *, limit: int | None = None) -> list[dict]:
    """The records in ``out_dir/history.jsonl``; with ``limit``, the first ``limit`` of them.

    Lines beyond ``limit`` (written by a step whose checkpoint never landed) are dropped
    from the file too, so that the file always matches the checkpoint.
    """
    path = Path(out_dir) / HISTORY_NAME
    if not path.exists():
        raise ValueError(f"out_dir: no {HISTORY_NAME} in {str(out_dir)!r}")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if limit is not None:
        if len(lines) < limit:
            raise ValueError(f"resume: {str(path)!r} has {len(lines)} records but the checkpoint counts {limit}")
        if len(lines) > limit:
            lines = lines[:limit]
            write_text_atomic(path, "".join(line + "\n" for line in lines))
    return [json.loads(line) for line in lines]


def best_record(history: Sequence[Mapping]) -> dict | None:
    """The first record with the highest validation accuracy among successful children
    that violate no constraint (None when there is none)."""
    best = None
    for row in history:
        accuracy = row.get("val_accuracy")
        if row.get("status") != "ok" or row.get("constraint_violated") or accuracy is None:
            continue
        if best is None or accuracy > best["val_accuracy"]:
            best = row
    return best


def _evaluator_config(evaluator) -> dict:
    config = getattr(evaluator, "config", None)
    return config() if callable(config) else {"kind": type(evaluator).__name__}


@contextmanager
def _deferred_interrupt():
    """Hold back Ctrl-C (SIGINT) for the block, then raise it: commits are never half done.

    Signal handlers can only be changed in the main thread; elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _progress_bar(search: Search):
    from tqdm.auto import tqdm

    return tqdm(
        total=search.budget,
        initial=search.evaluations,
        disable=not search.progress,
        desc=f"{search.method} search",
        unit="arch",
        leave=True,
    )
