"""Build a ready-to-run search from names and numbers: the one factory of the CLI and notebooks.

:func:`make_search` turns ``method="reinforce", space="cell", dataset="digits", budget=...``
into a :class:`~nasrl_nb.search.loop.Search` with its strategy, evaluator and reward, and records
those settings in the checkpoint so that :func:`resume_search` can rebuild it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ..rewards.objectives import RewardFunction
from ..runtime import quick_mode, seed_everything
from ..spaces.registry import space_from_spec
from ..spaces.search_space import SearchSpace
from ..validation import require_choice, require_positive
from .checkpoint import (
    CHECKPOINT_NAME,
    capture_rng_state,
    json_safe,
    load_checkpoint,
    restore_rng_state,
)
from .evaluation import Evaluator
from .loop import Search
from .methods import METHODS

# settings that may change when a run is resumed (they do not change its results)
RESUMABLE_OVERRIDES = ("budget", "device", "progress")


@dataclass
class SearchDefaults:
    """Defaults of :func:`make_search` that shrink in quick mode (``NASRL_NB_QUICK``)."""

    budget: int = 64
    batch_size: int = 8
    epochs: int = 3

    @classmethod
    def current(cls) -> SearchDefaults:
        return cls(budget=16, batch_size=4, epochs=1) if quick_mode() else cls()


def make_search(
    method: str = "reinforce",
    space="cell",
    dataset="digits",
    *,
    budget: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device="auto",
    epochs: int | None = None,
    lr: float = 0.01,
    child_batch_size: int = 64,
    channels: int = 16,
    cells_per_stage: int = 1,
    max_samples: int | None = None,
    data_seed: int = 0,
    max_params: float | None = None,
    max_flops: float | None = None,
    max_latency_ms: float | None = None,
    constraint_mode: str = "hard",
    failure_reward: float = 0.0,
    reward_fn: RewardFunction | None = None,
    controller_kwargs: Mapping | None = None,
    trainer_kwargs: Mapping | None = None,
    population_size: int = 16,
    sample_size: int = 4,
    evaluator: Evaluator | None = None,
    out_dir=None,
    resume: bool = False,
    progress: bool = True,
    policy_snapshots: bool = True,
) -> Search:
    """Build a ready-to-run :class:`Search` from names and numbers (the CLI and notebooks use it).

    Args:
        method: ``"reinforce"``, ``"ppo"``, ``"random"`` or ``"evolution"``.
        space: ``"cell"``, ``"macro"``, a :class:`SearchSpace` or a space spec dict.
        dataset: a dataset name (see :data:`nasrl_nb.nn.data.DATASETS`) or a ``Dataset``.
        budget, batch_size, epochs: default to 64, 8, 3 (16, 4, 1 in quick mode).
        seed: seeds the controller's initial weights, the search and each child's training.
        device: where children train (the controller stays on the CPU).
        lr, child_batch_size, channels, cells_per_stage: child training and network width.
        max_samples, data_seed: dataset subsample and split seed (the split stays fixed
            across search seeds).
        max_params, max_flops, max_latency_ms, constraint_mode, failure_reward: the reward
            (see :func:`nasrl_nb.rewards.objectives.make_reward`); ``reward_fn`` replaces it entirely.
        controller_kwargs, trainer_kwargs: for ``reinforce``/``ppo`` (a ``schedule`` may be a
            dict of :class:`~nasrl_nb.rl.policy_gradient.Schedule` fields).
        population_size, sample_size: regularized evolution's P and S.
        evaluator: evaluate with this instead of a :class:`~nasrl_nb.search.evaluation.ChildEvaluator`.
        out_dir, resume, progress, policy_snapshots: see :class:`Search`.
    """
    from ..rewards.objectives import make_reward
    from ..spaces.registry import get_space
    from .evaluation import ChildEvaluator
    from .methods import make_strategy

    require_choice("method", method, METHODS)
    defaults = SearchDefaults.current()
    budget = defaults.budget if budget is None else budget
    batch_size = defaults.batch_size if batch_size is None else batch_size
    epochs = defaults.epochs if epochs is None else epochs
    require_positive("budget", budget, integer=True)
    require_positive("batch_size", batch_size, integer=True)
    require_positive("epochs", epochs, integer=True)

    # 1. the space and the reward
    if isinstance(space, str):
        space = get_space(space)
    elif isinstance(space, Mapping):
        space = space_from_spec(space)
    elif not isinstance(space, SearchSpace):
        raise ValueError(f"space: expected 'cell', 'macro', a SearchSpace or a spec dict, got {type(space).__name__}")
    if reward_fn is None:
        reward_fn = make_reward(
            max_params=max_params,
            max_flops=max_flops,
            max_latency_ms=max_latency_ms,
            constraint_mode=constraint_mode,
            failure_reward=failure_reward,
        )
    elif any(v is not None for v in (max_params, max_flops, max_latency_ms)):
        raise ValueError("reward_fn: pass either reward_fn or max_params/max_flops/max_latency_ms, not both")

    # 2. the strategy, built on seeded generators that are put back afterwards
    trainer_kwargs = dict(trainer_kwargs or {})
    if isinstance(trainer_kwargs.get("schedule"), Mapping):
        from ..rl.policy_gradient import Schedule

        trainer_kwargs["schedule"] = Schedule(**trainer_kwargs["schedule"])
    strategy_kwargs: dict = {}
    if method in ("reinforce", "ppo"):
        strategy_kwargs = {"controller_kwargs": controller_kwargs, "trainer_kwargs": trainer_kwargs}
    elif controller_kwargs or trainer_kwargs:
        raise ValueError(f"controller_kwargs, trainer_kwargs: only for reinforce and ppo, not method={method!r}")
    if method == "evolution":
        strategy_kwargs = {"population_size": population_size, "sample_size": sample_size}
    caller_rng = capture_rng_state()
    try:
        seed_everything(seed)
        strategy = make_strategy(method, space, seed=seed, **strategy_kwargs)
    finally:
        restore_rng_state(caller_rng)

    # 3. the evaluator
    dataset_name = dataset if isinstance(dataset, str) else None
    if evaluator is None:
        if dataset is None:
            raise ValueError("dataset: this run was made on custom data; pass dataset=<Dataset> or evaluator=...")
        if isinstance(dataset, str):
            from ..nn.data import load_dataset

            dataset = load_dataset(dataset, seed=data_seed, max_samples=max_samples)
        evaluator = ChildEvaluator(
            dataset,
            epochs=epochs,
            lr=lr,
            batch_size=child_batch_size,
            device=device,
            seed=seed,
            child_kwargs={"channels": channels, "cells_per_stage": cells_per_stage},
        )

    # 4. the settings that rebuild this search (see resume_search)
    config = {
        "method": method,
        "space": space.spec(),
        "dataset": dataset_name,
        "budget": budget,
        "batch_size": batch_size,
        "seed": seed,
        "device": device if isinstance(device, str) else str(device),
        "epochs": epochs,
        "lr": lr,
        "child_batch_size": child_batch_size,
        "channels": channels,
        "cells_per_stage": cells_per_stage,
        "max_samples": max_samples,
        "data_seed": data_seed,
        "max_params": max_params,
        "max_flops": max_flops,
        "max_latency_ms": max_latency_ms,
        "constraint_mode": constraint_mode,
        "failure_reward": failure_reward,
        "controller_kwargs": dict(controller_kwargs or {}),
        "trainer_kwargs": {
            k: asdict(v) if k == "schedule" and v is not None else v for k, v in trainer_kwargs.items()
        },
        "population_size": population_size,
        "sample_size": sample_size,
        "progress": progress,
        "policy_snapshots": policy_snapshots,
    }
    if out_dir is not None and resume:
        _check_resume_config(Path(out_dir), config)
    return Search(
        space,
        strategy,
        evaluator,
        reward_fn,
        budget=budget,
        batch_size=batch_size,
        seed=seed,
        out_dir=out_dir,
        progress=progress,
        resume=resume,
        config=config,
        policy_snapshots=policy_snapshots,
    )


def config_differences(saved: Mapping, current: Mapping) -> list[str]:
    """``["name: saved -> current", ...]`` for settings that change a run's results."""
    keys = sorted((set(saved) | set(current)) - set(RESUMABLE_OVERRIDES))
    return [f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in keys if json_safe(saved.get(k)) != json_safe(current.get(k))]


def _check_resume_config(out_dir: Path, config: Mapping) -> None:
    path = out_dir / CHECKPOINT_NAME
    if not path.exists():
        raise ValueError(f"resume: no checkpoint in {str(out_dir)!r}; start a new search there without resume")
    saved = json.loads(load_checkpoint(path).get("config") or "null")
    if saved is not None:
        differences = config_differences(saved, config)
        if differences:
            raise ValueError(f"resume: {str(out_dir)!r} holds a search with other settings: " + "; ".join(differences))


def resume_search(out_dir, *, evaluator: Evaluator | None = None, **overrides) -> Search:
        """Rebuild a search made by :func:`make_search` from its folder and continue it.

        ``overrides`` may change ``budget``, ``device`` and ``progress``, or supply the
        ``dataset`` (a :class:`~nasrl_nb.nn.data.Dataset`) of a run on custom data; pass
        ``evaluator`` to evaluate with another evaluator.
        """
        state = load_checkpoint(Path(out_dir) / CHECKPOINT_NAME)
        config = json.loads(state.get("config") or "null")
        if config is None:
            raise ValueError(
                f"out_dir: the checkpoint in {str(out_dir)!r} has no make_search settings; "
                "build the same Search yourself and pass resume=True"
            )
        kind = json.loads(state.get("evaluator") or "{}").get("kind")
        if evaluator is None and kind != "ChildEvaluator":
            raise ValueError(f"evaluator: this run used a {kind}; pass evaluator=... to continue it")
        return make_search(**{**config, **overrides, "evaluator": evaluator, "out_dir": out_dir, "resume": True})
