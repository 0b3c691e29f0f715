"""The search loop: propose, evaluate, reward, update -- one batch at a time, resumable.

Zoph & Le (2017, Sec. 3.2, Fig. 1) describe NAS with RL as a loop: the controller samples
architectures, each child is trained, its validation accuracy is the reward, and the
controller is updated by policy gradient. :class:`Search` runs that loop for any search
strategy (:mod:`nasrl_nb.strategies.base`), any evaluator (:mod:`nasrl_nb.evaluators.base`) and any
reward (:mod:`nasrl_nb.rewards.objectives`). Each step (:meth:`Search._stages`) does:

1. sample a batch of architectures (``strategy.propose``);
2. build the children -- for a step-through display only; the evaluator builds its own;
3. evaluate the children (``evaluator.evaluate``);
4. compute their rewards (``reward_fn``; a failed child gets ``reward_fn.failure_reward``);
5. update the policy (``strategy.observe``);
6. commit the step (:meth:`Search._commit`): memory, then the run folder,

and returns a :class:`SearchStep`. A search is a plain object: call :meth:`Search.step`,
iterate over it, or :meth:`Search.run` it; :meth:`Search.stages` yields one step stage by
stage for a step-through display; a dashboard may run it in a background thread and
:meth:`~Search.pause`, :meth:`~Search.resume` or :meth:`~Search.stop` it.

Reproducibility. The search owns private copies of the global RNG states (torch, NumPy,
Python): they are swapped in for the duration of a step and swapped out afterwards, so
code that runs between steps cannot change which architectures are proposed. Evaluators
seed each child from ``(seed, arch)`` (see :func:`~nasrl_nb.evaluators.base.architecture_seed`).

Checkpoints and interruptions. With ``out_dir`` the search keeps a run folder
(:mod:`nasrl_nb.run.folder`: ``config.json``, ``history.jsonl``, ``steps.jsonl``,
``checkpoint.pt``, ``summary.json``). A step is all or nothing: if it is interrupted
(``KeyboardInterrupt``) or raises before its update is committed, the strategy is rolled
back to the last committed update, the partial batch is discarded, and the exception
propagates; the step is redone -- with the same architectures, since the RNG states are
those of the last commit -- by the next :meth:`Search.step` or after
:func:`~nasrl_nb.assembly.factory.resume_search`. The commit (records fsync'ed to disk, then
the checkpoint that counts them, then the summary) is shielded from Ctrl-C, and a kill at
any instant leaves a folder that resumes exactly.

What is not the loop lives beside it: pause, stop and hyper-parameter requests from a
dashboard thread and the Ctrl-C shield in :mod:`~nasrl_nb.run.control`; the checkpoint's
contents and the private RNG states in :mod:`~nasrl_nb.checkpoint`; the history and
steps lines in :mod:`~nasrl_nb.run.folder`; the summary in
:mod:`~nasrl_nb.run.summary`; the configuration check on resume in
:mod:`~nasrl_nb.assembly.config`; the progress bar in :mod:`~nasrl_nb.run.progress`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import PrivateRng, json_safe, read_search_checkpoint, search_checkpoint
from ..evaluators.asynchronous import AsyncBatches, SyncBatches
from ..evaluators.base import Evaluator
from ..interrupts import deferred_interrupt
from ..rewards.objectives import AccuracyReward, RewardFunction
from ..spaces.search_space import Architecture, SearchSpace
from ..strategies import hooks
from ..strategies.base import SearchStrategy, proposal_stats
from ..validation import require_positive, require_seed
from .control import SearchControl
from .folder import CHECKPOINT_NAME, CONFIG_NAME, RunFolder, history_row, step_line
from .progress import progress_bar
from .summary import RunTally, search_summary


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
            validation accuracy; see :mod:`nasrl_nb.run.summary`), None if none yet.
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
        strategy: a :class:`~nasrl_nb.strategies.base.SearchStrategy`.
        evaluator: anything with ``evaluate(architectures) -> list[dict]``
            (:class:`~nasrl_nb.evaluators.base.Evaluator`).
        reward_fn: a :class:`~nasrl_nb.rewards.objectives.RewardFunction` (default: validation accuracy).
        budget: number of architectures to evaluate in all (a repeated architecture counts
            again, even when the evaluator answers it from its cache).
        batch_size: architectures per step (the last batch may be smaller, to fit the budget).
        seed: seeds the search's private RNG states.
        out_dir: the run folder (:mod:`nasrl_nb.run.folder`); None keeps everything
            in memory.
        progress: show a ``tqdm`` progress bar while iterating.
        resume: continue the run in ``out_dir``. Its ``config.json`` must match this
            search's configuration except for the documented overrides
            (:data:`~nasrl_nb.assembly.config.RESUME_OVERRIDES`).
        overwrite: start afresh in an ``out_dir`` that holds a run, deleting its files.
            Without ``resume`` or ``overwrite`` such a folder is an error: nothing is lost silently.
        config: the :class:`~nasrl_nb.assembly.config.SearchConfig` that built this search
            (``make_search`` passes it), written to ``config.json``: any object with
            ``to_dict()`` and ``check_resume(saved, out_dir=...)`` (the loop sits below the
            configuration, which assembles every method). The defaults above are
            ``SearchConfig``'s (``tests/assembly/test_loop_defaults.py``).
        policy_snapshots: record the strategy's ``policy_snapshot()`` after every update.
        asynchronous: update as soon as ``batch_size`` records are back (one, for a
            strategy with ``steady_state``: evolution) while ``evaluator.workers`` children
            keep training; each record gets its ``staleness`` (:mod:`~nasrl_nb.evaluators.asynchronous`).
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
        config=None,
        policy_snapshots: bool = True,
        asynchronous: bool = False,
    ):
        # 1. check the parts
        reward_fn = _check_parts(space, strategy, evaluator, AccuracyReward() if reward_fn is None else reward_fn)
        require_seed("seed", seed)
        self.space, self.strategy, self.evaluator, self.reward_fn = space, strategy, evaluator, reward_fn
        self._budget = require_positive("budget", budget, integer=True)
        self.batch_size = require_positive("batch_size", batch_size, integer=True)
        self.seed = seed
        self.progress = bool(progress)
        self.policy_snapshots = bool(policy_snapshots)
        if config is not None and not all(callable(getattr(config, m, None)) for m in ("to_dict", "check_resume")):
            raise ValueError(f"config: expected a SearchConfig or None, got {type(config).__name__}")
        self.config = config
        self.folder = None if out_dir is None else RunFolder(_check_out_dir(out_dir))
        self.out_dir = None if out_dir is None else self.folder.path

        # 2. run-time state
        self.history: list[dict] = []
        self.steps: list[SearchStep] = []
        self.num_steps = 0
        self.evaluations = 0
        self.seconds = 0.0  # wall time of committed steps, across resumes
        self.tally = RunTally()  # counts, best by reward, most accurate: updated per record
        self._step_lock = threading.Lock()
        self._control = SearchControl()  # pause / stop / hyper-parameters from other threads
        update_size = 1 if getattr(strategy, "steady_state", False) else self.batch_size
        # who decides what an update learns from: all of a batch, or the first records back
        self._batches = (AsyncBatches(evaluator, update_size=update_size) if asynchronous
                         else SyncBatches(evaluator, batch_size=self.batch_size))

        # 3. fresh start or resume
        self._start_or_resume(resume, overwrite, hand_built=config is None)

    def _start_or_resume(self, resume: bool, overwrite: bool, *, hand_built: bool) -> None:
        """Load the run in the folder (``resume``) or start a new one, refusing to lose a run silently."""
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
            if hand_built:
                check_hand_built_resume(folder.read_config(), self.config_dict(), out_dir=self.out_dir)
            else:
                self.config.check_resume(folder.read_config(), out_dir=self.out_dir)
        if resume and not folder.file(CHECKPOINT_NAME).exists() and folder.has_records():
            raise folder.missing_checkpoint_error()  # starting afresh would delete the records
        if resume and folder.file(CHECKPOINT_NAME).exists():
            self._load()
        else:  # a new run (or one killed before its first checkpoint: nothing was evaluated)
            self._rng = PrivateRng.seeded(self.seed)  # the caller's generators are left as they were
            self._committed_strategy = copy.deepcopy(self.strategy.state_dict())
            if folder is not None:
                folder.clear()
                folder.create(self.config_dict())
                self._save()

    # --- properties ---------------------------------------------------------------------
    @property
    def evaluator(self) -> Evaluator:
        """What trains (or looks up) the children; set it between steps to swap it (e.g. for worker
        processes): the batches then hand their children to the new one."""
        return self._evaluator

    @evaluator.setter
    def evaluator(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator
        if hasattr(self, "_batches"):
            self._batches.evaluator = evaluator

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
        return self._control.paused

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

    # --- control from another thread (see nasrl_nb.run.control) ----------------------------
    def stop(self) -> None:
        """Ask a running iteration (``run()`` or a ``for`` loop) to end after its current step.

        Thread-safe. When no iteration is running there is nothing to stop and the call does
        nothing, so a later ``run()`` is not cut short.
        """
        self._control.stop()

    def pause(self) -> None:
        """Hold a running iteration before its next step until :meth:`resume` (thread-safe)."""
        self._control.pause()

    def resume(self) -> None:
        """Let a paused iteration continue (to continue a run from disk see :func:`~nasrl_nb.assembly.factory.resume_search`)."""
        self._control.resume()

    def set_hyperparameters(self, *, lr=None, entropy_weight=None, temperature=None) -> dict:
        """Change the policy's ``lr``, ``entropy_weight`` or ``temperature`` (thread-safe).

        Values are checked now and applied at the start of the next step, so a batch is
        sampled and updated with one setting. Only RL strategies accept them. Returns the
        changes still pending.
        """
        return self._control.request(self.strategy, lr=lr, entropy_weight=entropy_weight, temperature=temperature)

    def hyperparameters(self) -> dict:
        """The strategy's current run-time settings with pending changes applied on top."""
        return self._control.hyperparameters(self.strategy)

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
            self._batches.rollback()  # cancel the children in flight; the committed ones go again
            raise
        finally:
            self._step_lock.release()

    def _stages(self, describe: bool) -> Iterator[Stage]:
        start = time.perf_counter()
        remaining = self._budget - self.evaluations
        n = self._batches.wanted(remaining)
        pending = self._control.pending()  # hyper-parameters requested since the last step
        # 1. sample a batch (from the RNG states of the last commit)
        with self._rng.active(restart=True):
            if pending:
                self.strategy.set_hyperparameters(**pending)
            proposal = self.strategy.propose(n) if n else []
            architectures, proposed = list(proposal), proposal_stats(proposal)  # DARTS: its search epochs
            before = hooks.choice_probabilities(self.strategy, architectures) if describe else None
        yield Stage("sample", {"architectures": architectures, "probabilities": before})
        # 2. build (display only: the evaluator builds its own children)
        if describe:
            networks = [self.evaluator.describe(a) for a in architectures] if hasattr(self.evaluator, "describe") else []
            yield Stage("build", {"networks": [n for n in networks if n is not None]})
        # 3. evaluate the children
        with self._rng.active():
            # asynchronous: submit the new ones; take the first records back, whoever proposed them
            architectures, results = self._batches.next_batch(architectures, version=self.num_steps)
        if len(results) != len(architectures):
            raise ValueError(f"evaluator: returned {len(results)} records for {len(architectures)} architectures")
        yield Stage("train", {"architectures": architectures, "results": results})
        # 4. rewards (a failed child gets the reward function's failure penalty)
        rewards = [float(self.reward_fn.reward(r)) for r in results]
        violated = [bool(self.reward_fn.constraint_violated(r)) for r in results]
        baseline = hooks.current_baseline(self.strategy)  # the advantages the loss uses come with the update
        yield Stage("reward", {"rewards": rewards, "constraint_violated": violated, "baseline": baseline})
        # 5. policy update
        with self._rng.active():
            observed = self.strategy.observe(architectures, results, rewards) or {}
            stats = {**proposed, **observed, **self._batches.update_stats(results)}
            policy = hooks.policy_snapshot(self.strategy) if self.policy_snapshots else None
            after = hooks.choice_probabilities(self.strategy, architectures) if describe else None
        # 6. commit: memory, then disk (records before the checkpoint), shielded from Ctrl-C
        rows = [history_row(*row, space=self.space) for row in zip(architectures, results, rewards, violated, strict=True)]
        with deferred_interrupt():
            step = self._commit(architectures, rows, rewards, stats, policy, pending, time.perf_counter() - start)
        yield Stage("update", {"step": step, "before": before, "after": after})

    def _commit(self, architectures, rows, rewards, stats, policy, pending, seconds) -> SearchStep:
        """Make a finished step permanent: memory, then disk (records before the checkpoint)."""
        self._rng.commit()
        self._batches.commit()
        self._committed_strategy = copy.deepcopy(self.strategy.state_dict())
        self._control.applied(pending)
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
            self.folder.append(rows, step_line(step_index, rewards, stats, policy))
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
        try:
            with self._control.iteration(), progress_bar(self) as advance:
                while not self.done and self._control.may_continue():
                    result = self.step()
                    advance(result)
                    yield result
        finally:
            self._batches.rollback()  # Stop or the end: cancel the children in flight; they go again on the next step

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

    # --- summary and configuration ---------------------------------------------------------------
    def summary(self) -> dict:
        """Plain-JSON summary of the run so far (:func:`~nasrl_nb.run.summary.search_summary`).

        ``best_*`` describe the architecture with the highest *reward* among successful
        children (ties: validation accuracy), ``most_accurate_*`` the feasible one with the
        highest validation accuracy (see :mod:`nasrl_nb.run.summary`); each
        ``*_test_accuracy`` is that architecture's test accuracy, not the highest seen.
        """
        return search_summary(self)

    def config_dict(self) -> dict:
        """What ``config.json`` holds: the SearchConfig, or the essentials of a hand-built search."""
        if self.config is not None:
            return self.config.to_dict()
        return json_safe({"method": self.method, "space": self.space.spec(), "seed": self.seed,
                          "batch_size": self.batch_size, "budget": self._budget,
                          "evaluator": type(self.evaluator).__name__})

    # --- checkpoints (see nasrl_nb.checkpoint) ----------------------------------------------
    def checkpoint_state(self) -> dict:
        """What ``checkpoint.pt`` holds for this search as of its last committed step."""
        state = search_checkpoint(self, strategy_state=self._committed_strategy, rng_state=self._rng.committed)
        in_flight = self._batches.state_dict()  # proposed by committed steps, not yet used (asynchronous only)
        if in_flight is not None:
            state["in_flight"] = in_flight
        return state

    def _save(self) -> None:
        """The checkpoint (atomically replaced), then the summary."""
        self.folder.save_checkpoint(self.checkpoint_state())
        self.folder.write_summary(self.summary())

    def _load(self) -> None:
        """Restore counters, strategy, evaluator, RNG states and history from the run folder."""
        state = read_search_checkpoint(self.folder.file(CHECKPOINT_NAME))
        if self._budget < state["evaluations"]:
            raise ValueError(
                f"budget: {self._budget} is below the {state['evaluations']} architectures already evaluated "
                f"in {str(self.out_dir)!r}; allowed values: at least {state['evaluations']}"
            )
        self.strategy.load_state_dict(copy.deepcopy(state["strategy"]))
        self._committed_strategy = copy.deepcopy(state["strategy"])
        if callable(getattr(self.evaluator, "load_state_dict", None)):
            self.evaluator.load_state_dict(state["evaluator"])
        self._rng = PrivateRng(state["rng"])
        self._batches.load_state_dict(state.get("in_flight", []))
        self.num_steps, self.evaluations = state["step"], state["evaluations"]
        self.seconds = float(state["seconds"])
        self.folder.truncate(evaluations=self.evaluations, steps=self.num_steps)  # lines of an uncommitted step go
        self.history = self.folder.read_history()
        self.tally = RunTally(self.history)
        self.folder.write_summary(self.summary())


def _check_parts(space, strategy, evaluator, reward_fn) -> RewardFunction:
    """A search's parts checked against each other; returns ``reward_fn``."""
    if not isinstance(space, SearchSpace):
        raise ValueError(f"space: expected a SearchSpace, got {type(space).__name__}")
    if not isinstance(strategy, SearchStrategy):
        raise ValueError(f"strategy: expected a SearchStrategy (see make_strategy), got {type(strategy).__name__}")
    if strategy.space != space:
        raise ValueError(f"strategy: its space {strategy.space!r} differs from the search space {space!r}")
    if not callable(getattr(evaluator, "evaluate", None)):
        raise ValueError(f"evaluator: expected an object with evaluate(architectures), got {type(evaluator).__name__}")
    if not isinstance(reward_fn, RewardFunction):
        raise ValueError(f"reward_fn: expected a RewardFunction (see nasrl_nb.rewards.objectives), got {type(reward_fn).__name__}")
    return reward_fn


def _check_out_dir(out_dir):
    """``out_dir`` if it is, or can become, a folder: a file there (or above it) is a ValueError naming it."""
    path = Path(out_dir)
    for part in (path, *path.parents):  # the nearest part that exists must be a folder
        if part.exists():
            if not part.is_dir():
                where = "" if part == path else f", so {str(path)!r} cannot be a folder"
                raise ValueError(f"out_dir: {str(part)!r} is a file{where}; allowed values: a new folder or one that holds a search")
            break
    return out_dir


def resume_mismatch(out_dir, differences: list[str]) -> ValueError:
    """The error of a resume whose configuration differs from the saved one (``differences``: ``"field: old -> new"``)."""
    return ValueError(
        f"resume: {str(out_dir)!r} holds a search with other settings: " + "; ".join(differences)
        + " (only budget, device, progress, policy_snapshots, evaluator_kind, workers and ray_address may change on resume)"
    )


def check_hand_built_resume(saved: Mapping, current: Mapping, *, out_dir) -> None:
    """Resuming a hand-built search (no configuration object): its essentials must match, budget aside.

    ``evaluator`` (a class name) is not compared: an evaluator passed in code may be swapped for
    another that computes the same records (a parallel one, say).
    """
    differences = [f"{key}: {saved.get(key)!r} -> {value!r}" for key, value in current.items()
                   if key not in ("budget", "evaluator") and saved.get(key) != value]
    if differences:
        raise resume_mismatch(out_dir, differences)
