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

Checkpoints and interruptions. With ``out_dir`` the search keeps a run folder
(:mod:`nasrl_nb.search.run_folder`: ``config.json``, ``history.jsonl``, ``steps.jsonl``,
``checkpoint.pt``, ``summary.json``). A step is all or nothing: if it is interrupted
(``KeyboardInterrupt``) or raises before its update is committed, the strategy is rolled
back to the last committed update, the partial batch is discarded, and the exception
propagates; the step is redone -- with the same architectures, since the RNG states are
those of the last commit -- by the next :meth:`Search.step` or after
:func:`~nasrl_nb.search.factory.resume_search`. The commit (records fsync'ed to disk, then
the checkpoint that counts them, then the summary) is shielded from Ctrl-C, and a kill at
any instant leaves a folder that resumes exactly.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from ..rewards.objectives import AccuracyReward, RewardFunction
from ..runtime import seed_everything
from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_positive, require_seed, run_folder_error
from .checkpoint import capture_rng_state, json_safe, restore_rng_state
from .config import SearchConfig, config_differences
from .evaluation import Evaluator, check_record
from .run_folder import CHECKPOINT_NAME, CONFIG_NAME, RunFolder
from .strategy import SearchStrategy
from .summary import RunTally

CHECKPOINT_FORMAT = "nasrl_nb.search.loop/2"


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
        best: the record with the highest reward so far among successful children (ties:
            validation accuracy; see :mod:`nasrl_nb.search.summary`), None if none yet.
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
        out_dir: the run folder (:mod:`nasrl_nb.search.run_folder`); None keeps everything
            in memory.
        progress: show a ``tqdm`` progress bar while iterating.
        resume: continue the run in ``out_dir``. Its ``config.json`` must match this
            search's configuration except for the documented overrides
            (:data:`~nasrl_nb.search.config.RESUME_OVERRIDES`).
        overwrite: start afresh in an ``out_dir`` that holds a run, deleting its files.
            Without ``resume`` or ``overwrite`` such a folder is an error: nothing is lost silently.
        config: the :class:`~nasrl_nb.search.config.SearchConfig` that built this search
            (``make_search`` passes it), written to ``config.json``.
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
        overwrite: bool = False,
        config: SearchConfig | None = None,
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
        require_seed("seed", seed)
        self.space, self.strategy, self.evaluator, self.reward_fn = space, strategy, evaluator, reward_fn
        self._budget = require_positive("budget", budget, integer=True)
        self.batch_size = require_positive("batch_size", batch_size, integer=True)
        self.seed = seed
        self.progress = bool(progress)
        self.policy_snapshots = bool(policy_snapshots)
        if config is not None and not isinstance(config, SearchConfig):
            raise ValueError(f"config: expected a SearchConfig or None, got {type(config).__name__}")
        self.config = config
        self.folder = None if out_dir is None else RunFolder(out_dir)
        self.out_dir = None if out_dir is None else self.folder.path

        # 2. run-time state
        self.history: list[dict] = []
        self.steps: list[SearchStep] = []
        self.num_steps = 0
        self.evaluations = 0
        self.seconds = 0.0  # wall time of committed steps, across resumes
        self.tally = RunTally()  # counts, best by reward, most accurate: updated per record
        self._step_lock = threading.Lock()
        self._hparam_lock = threading.Lock()
        self._pending_hparams: dict[str, float] = {}
        self._control_lock = threading.Lock()
        self._iterating = False
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

        # 3. fresh start or resume
        if resume and overwrite:
            raise ValueError("resume, overwrite: pass one of them, not both")
        if resume and self.folder is None:
            raise ValueError("resume: needs out_dir, the folder of the run to continue")
        folder = self.folder
        if folder is not None and folder.holds_run() and not (resume or overwrite):
            raise ValueError(
                f"out_dir: {str(folder.path)!r} already holds a search; pass resume=True to continue it, "
                "overwrite=True to delete it and start over, or choose another folder"
            )
        if resume and not folder.file(CONFIG_NAME).exists():
            raise ValueError(f"resume: no search in {str(folder.path)!r} (no {CONFIG_NAME}); start one there without resume")
        if resume:
            self._check_config(folder.read_config())
        if resume and folder.file(CHECKPOINT_NAME).exists():
            self._load()
        else:  # a new run (or one killed before its first checkpoint: nothing was evaluated)
            caller = capture_rng_state()
            seed_everything(seed)
            self._rng_state = capture_rng_state()
            restore_rng_state(caller)  # the caller's generators are left as they were
            self._committed_strategy = copy.deepcopy(strategy.state_dict())
            if folder is not None:
                folder.clear()
                folder.create(self.config_dict())
                self._save()

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
        value = require_positive("budget", value, integer=True)
        if value < self.evaluations:
            raise ValueError(f"budget: {value} is below the {self.evaluations} architectures already evaluated; "
                             f"allowed values: at least {self.evaluations}")
        self._budget = value

    @property
    def done(self) -> bool:
        """True once ``budget`` architectures have been evaluated, or the evaluator's own budget
        is spent (``evaluator.exhausted``: a TabularEvaluator's simulated training seconds)."""
        return self.evaluations >= self._budget or bool(getattr(self.evaluator, "exhausted", False))

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def best(self) -> dict | None:
        """The record with the highest reward among successful children (ties: validation accuracy)."""
        return self.tally.best

    @property
    def most_accurate(self) -> dict | None:
        """The feasible record (ok, within every constraint) with the highest validation accuracy."""
        return self.tally.most_accurate

    def __repr__(self) -> str:
        best = "none" if self.best is None else f"{self.best['reward']:.4f}"
        return (
            f"Search(method={self.method!r}, space={self.space!r}, evaluations={self.evaluations}/{self._budget}, "
            f"steps={self.num_steps}, best_reward={best})"
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
        evaluator's records), ``reward`` (rewards and the baseline before the update) and ``update`` (the committed :class:`SearchStep`, with the
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
            results = [check_record(r) for r in self.evaluator.evaluate(architectures)]
        if len(results) != len(architectures):
            raise ValueError(f"evaluator: returned {len(results)} records for {len(architectures)} architectures")
        yield Stage("train", {"architectures": architectures, "results": results})
        # 4. rewards (a failed child gets the reward function's failure penalty)
        rewards = [float(self.reward_fn.reward(r)) for r in results]
        violated = [bool(self.reward_fn.constraint_violated(r)) for r in results]
        baseline = self.strategy.current_baseline()  # the advantages the loss uses come with the update
        yield Stage("reward", {"rewards": rewards, "constraint_violated": violated, "baseline": baseline})
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
        """Make a finished step permanent: memory, then disk (records before the checkpoint)."""
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
        self.tally.extend(rows)
        self.evaluations += len(rows)
        self.num_steps += 1
        self.seconds += seconds
        if self.folder is not None:
            self.folder.append(rows, json_safe(_step_line(step_index, rewards, stats, policy)))
            self._save()
        baseline, advantages = stats.get("baseline"), stats.get("advantages")
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
                    bar.set_postfix(best_reward=f"{self.best['reward']:.3f}", refresh=False)
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
        if self.folder is not None:
            self.folder.write_summary(self.summary())
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

        ``best_*`` describe the architecture with the highest *reward* among successful
        children (ties: validation accuracy), ``most_accurate_*`` the feasible one with the
        highest validation accuracy (see :mod:`nasrl_nb.search.summary`); each
        ``*_test_accuracy`` is that architecture's test accuracy, not the highest seen.
        """
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
                **self.tally.fields(),
                "seconds": self.seconds,
                "strategy": self.strategy.config(),
                "reward": self.reward_fn.config(),
                "evaluator": _evaluator_config(self.evaluator),
                "config": self.config_dict(),
            }
        )

    def config_dict(self) -> dict:
        """What ``config.json`` holds: the SearchConfig, or the essentials of a hand-built search."""
        if self.config is not None:
            return self.config.to_dict()
        return json_safe({"method": self.method, "space": self.space.spec(), "seed": self.seed,
                          "batch_size": self.batch_size, "budget": self._budget,
                          "evaluator": type(self.evaluator).__name__})

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
        evaluator_state = getattr(self.evaluator, "state_dict", None)
        return {
            "format": CHECKPOINT_FORMAT,
            "method": self.method,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "budget": self._budget,
            "step": self.num_steps,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
            "strategy": self._committed_strategy,
            "evaluator": evaluator_state() if callable(evaluator_state) else {},
            "rng": self._rng_state,
        }

    def _save(self) -> None:
        """The checkpoint (atomically replaced), then the summary."""
        self.folder.save_checkpoint(self._checkpoint_state())
        self.folder.write_summary(self.summary())

    def _check_config(self, saved: Mapping) -> None:
        """Resuming with another configuration is an error naming the fields (overrides aside)."""
        current = self.config_dict()
        if self.config is None:  # a hand-built search: compare what it knows
            current.pop("evaluator")
            saved = {key: saved.get(key) for key in current}
        differences = config_differences(saved, current)
        if differences:
            raise ValueError(
                f"resume: {str(self.out_dir)!r} holds a search with other settings: " + "; ".join(differences)
                + " (only budget, device, progress and policy_snapshots may change on resume)"
            )

    def _load(self) -> None:
        """Restore counters, strategy, evaluator, RNG states and history from the run folder."""
        path = self.folder.file(CHECKPOINT_NAME)
        state = self.folder.read_checkpoint()
        if state.get("format") != CHECKPOINT_FORMAT:
            raise run_folder_error(path, f"not a search checkpoint (format {state.get('format')!r}, expected {CHECKPOINT_FORMAT!r})")
        try:
            _check_checkpoint_fields(state)
        except (KeyError, TypeError, ValueError) as err:
            raise run_folder_error(path, f"a damaged search checkpoint ({type(err).__name__}: {err})") from None
        if self._budget < int(state["evaluations"]):
            raise ValueError(
                f"budget: {self._budget} is below the {int(state['evaluations'])} architectures already evaluated "
                f"in {str(self.out_dir)!r}; allowed values: at least {int(state['evaluations'])}"
            )
        self.strategy.load_state_dict(copy.deepcopy(state["strategy"]))
        self._committed_strategy = copy.deepcopy(state["strategy"])
        if callable(getattr(self.evaluator, "load_state_dict", None)):
            self.evaluator.load_state_dict(state["evaluator"])
        self._rng_state = state["rng"]
        self.num_steps, self.evaluations = int(state["step"]), int(state["evaluations"])
        self.seconds = float(state["seconds"])
        self.folder.truncate(evaluations=self.evaluations, steps=self.num_steps)  # lines of an uncommitted step go
        self.history = self.folder.read_history()
        self.tally = RunTally(self.history)
        self.folder.write_summary(self.summary())


def _check_checkpoint_fields(state: Mapping) -> None:
    """Raise KeyError / TypeError / ValueError when a checkpoint lacks a field or has one of the wrong type."""
    for name in ("step", "evaluations"):
        if isinstance(state[name], bool) or not isinstance(state[name], int) or state[name] < 0:
            raise ValueError(f"{name} is {state[name]!r}")
    float(state["seconds"])
    for name in ("strategy", "evaluator", "rng"):
        if not isinstance(state[name], Mapping):
            raise TypeError(f"{name} must be a dict")
    state["method"], state["seed"], state["batch_size"]  # noqa: B018 -- present


def _step_line(step: int, rewards, stats: Mapping, policy) -> dict:
    """The ``steps.jsonl`` line of one update (what a replay needs beyond the history).

    ``baseline`` and ``advantages`` are the values the update's loss used and ``kl`` /
    ``clip_fraction`` PPO's (None otherwise), all read from the strategy's stats, never
    recomputed here.
    """
    return {
        "step": step,
        "rewards": list(rewards),
        "baseline": stats.get("baseline"),
        "advantages": stats.get("advantages"),
        "kl": stats.get("kl"),
        "clip_fraction": stats.get("clip_fraction"),
        "stats": {k: v for k, v in stats.items() if k != "advantages"},
        "policy": None if policy is None else policy.to_dict(),
    }


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
