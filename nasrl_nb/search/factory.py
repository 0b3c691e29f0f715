"""Build a ready-to-run search from a :class:`~nasrl_nb.search.config.SearchConfig` (or keywords).

:func:`make_search` turns ``method="reinforce", space="cell", dataset="digits", budget=...``
into a :class:`~nasrl_nb.search.loop.Search` with its strategy, evaluator and reward; the
configuration goes to the run folder's ``config.json``, from which :func:`resume_search`
rebuilds the same search.
"""

from __future__ import annotations

import dataclasses

from ..nn.data import load_dataset
from ..rewards.objectives import RewardFunction, make_reward
from ..rl.policy_gradient import Schedule
from ..runtime import seed_everything
from ..spaces.registry import space_from_spec
from ..spaces.search_space import SearchSpace
from .checkpoint import capture_rng_state, restore_rng_state
from .config import RESUME_OVERRIDES, SearchConfig
from .evaluation import ChildEvaluator, Evaluator
from .loop import Search
from .methods import make_strategy
from .run_folder import RunFolder
from .strategy import SearchStrategy


def make_search(
    method: str | None = None,
    space=None,
    dataset=None,
    *,
    config: SearchConfig | None = None,
    reward_fn: RewardFunction | None = None,
    evaluator: Evaluator | None = None,
    out_dir=None,
    resume: bool = False,
    overwrite: bool = False,
    **settings,
) -> Search:
    """Build a ready-to-run :class:`Search` (the CLI and the notebooks use it).

    Args:
        method: ``"reinforce"`` (default), ``"ppo"``, ``"random"`` or ``"evolution"``.
        space: ``"cell"`` (default), ``"macro"``, a :class:`SearchSpace` or a space spec dict.
        dataset: a dataset name (default ``"digits"``, see :data:`nasrl_nb.nn.data.DATASETS`)
            or a :class:`~nasrl_nb.nn.data.Dataset` (custom data: pass it again to resume).
        config: a :class:`~nasrl_nb.search.config.SearchConfig` to start from (default: its
            defaults, smaller in quick mode); keywords are applied on top.
        reward_fn: a reward instead of ``make_reward(max_params=..., ...)``.
        evaluator: evaluate with this instead of a :class:`~nasrl_nb.search.evaluation.ChildEvaluator`.
        out_dir, resume, overwrite: the run folder (see :class:`Search`).
        **settings: any of :data:`nasrl_nb.search.config.SETTINGS` -- ``budget``,
            ``batch_size``, ``seed``, ``device``, ``epochs``, ``lr``, ``child_batch_size``,
            ``channels``, ``cells_per_stage``, ``lr_schedule``, ``max_samples``, ``data_seed``,
            ``max_params``, ``max_flops``, ``max_latency_ms``, ``constraint_mode``,
            ``failure_reward``, ``population_size``, ``sample_size``, ``progress``,
            ``policy_snapshots`` -- and ``controller_kwargs`` / ``trainer_kwargs`` (dicts of
            :class:`~nasrl_nb.search.config.ControllerConfig` / ``TrainerConfig`` fields; a
            ``schedule`` may be a :class:`~nasrl_nb.rl.policy_gradient.Schedule` or a dict).
            An unknown name or key is a ValueError naming it and the allowed ones.
    """
    # 1. the configuration: defaults or ``config``, then the keywords; all checked here
    if config is not None and not isinstance(config, SearchConfig):
        raise ValueError(f"config: expected a SearchConfig, got {type(config).__name__}")
    data = None if dataset is None or isinstance(dataset, str) else dataset
    if isinstance(space, SearchSpace):
        space = space.spec()
    given = {"method": method, "space": space, "dataset": dataset}
    settings = {**{k: v for k, v in given.items() if v is not None}, **settings}
    if evaluator is not None and not isinstance(dataset, str):
        settings["dataset"] = None  # the evaluator brings its own data
    config = (config or SearchConfig.from_settings()).with_settings(**settings)
    if config.method not in ("reinforce", "ppo") and (settings.get("controller_kwargs") or settings.get("trainer_kwargs")):
        raise ValueError(f"controller_kwargs, trainer_kwargs: only for reinforce and ppo, not method={config.method!r}")
    if reward_fn is not None:
        if not isinstance(reward_fn, RewardFunction):
            raise ValueError(f"reward_fn: expected a RewardFunction (see nasrl_nb.rewards.objectives), got {type(reward_fn).__name__}")
        limits = config.reward
        if any(v is not None for v in (limits.max_params, limits.max_flops, limits.max_latency_ms)):
            raise ValueError("reward_fn: pass either reward_fn or max_params/max_flops/max_latency_ms, not both")
        config.reward.custom = reward_fn.config()
    if evaluator is not None:
        config.evaluator = type(evaluator).__name__
    elif data is None and config.data.dataset is None:
        raise ValueError("dataset: this run was made on custom data; pass dataset=<Dataset> or evaluator=...")

    # 2. the parts
    space = space_from_spec(config.space)
    strategy = build_strategy(config, space)
    if reward_fn is None:
        options = dataclasses.asdict(config.reward)
        options.pop("custom")
        reward_fn = make_reward(**options)
    if evaluator is None:
        evaluator = build_evaluator(config, data)
    return Search(
        space, strategy, evaluator, reward_fn,
        budget=config.budget, batch_size=config.batch_size, seed=config.seed, progress=config.progress,
        policy_snapshots=config.policy_snapshots, config=config, out_dir=out_dir, resume=resume, overwrite=overwrite,
    )


def build_strategy(config: SearchConfig, space: SearchSpace) -> SearchStrategy:
    """The configured strategy, built on seeded generators that are put back afterwards."""
    kwargs: dict = {}
    if config.method in ("reinforce", "ppo"):
        trainer_kwargs = _changed(config.trainer)
        if trainer_kwargs.get("schedule") is not None:
            trainer_kwargs["schedule"] = Schedule(**trainer_kwargs["schedule"])
        kwargs = {"controller_kwargs": _changed(config.controller), "trainer_kwargs": trainer_kwargs}
    elif config.method == "evolution":
        kwargs = dataclasses.asdict(config.evolution)
    caller = capture_rng_state()
    try:
        seed_everything(config.seed)
        return make_strategy(config.method, space, seed=config.seed, **kwargs)
    finally:
        restore_rng_state(caller)


def build_evaluator(config: SearchConfig, data=None) -> ChildEvaluator:
    """A :class:`ChildEvaluator` on ``data`` (or the configured dataset) with the configured children."""
    if data is None:
        data = load_dataset(config.data.dataset, seed=config.data.data_seed, max_samples=config.data.max_samples)
    child = config.child
    return ChildEvaluator(
        data,
        epochs=child.epochs,
        lr=child.lr,
        batch_size=child.batch_size,
        device=child.device,
        seed=config.seed,
        child_kwargs={"channels": child.channels, "cells_per_stage": child.cells_per_stage},
        lr_schedule=child.lr_schedule,
    )


def _changed(section) -> dict:
    """The fields of a config section that differ from its defaults (the constructor has the rest)."""
    defaults = type(section)()
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if getattr(section, f.name) != getattr(defaults, f.name)}


def resume_search(out_dir, *, evaluator: Evaluator | None = None, reward_fn: RewardFunction | None = None,
                  dataset=None, **overrides) -> Search:
    """Rebuild the search in ``out_dir`` from its ``config.json`` and continue it.

    ``overrides`` may change ``budget``, ``device``, ``progress`` and ``policy_snapshots``
    (:data:`~nasrl_nb.search.config.RESUME_OVERRIDES`). A run on custom data needs its
    ``dataset`` (a :class:`~nasrl_nb.nn.data.Dataset`), one with a custom evaluator or
    reward its ``evaluator`` or ``reward_fn``.
    """
    for name in overrides:
        if name not in RESUME_OVERRIDES:
            raise ValueError(f"{name}: cannot change on resume; allowed overrides: {', '.join(RESUME_OVERRIDES)}")
    saved = RunFolder(out_dir).read_config()
    if saved is None:
        raise ValueError(f"out_dir: no search in {str(out_dir)!r} (no config.json); start one with make_search")
    config = SearchConfig.from_dict(saved).with_settings(**overrides)
    if evaluator is None and config.evaluator != "ChildEvaluator":
        raise ValueError(f"evaluator: this run used a {config.evaluator}; pass evaluator=... to continue it")
    if reward_fn is None and config.reward.custom is not None:
        raise ValueError(f"reward_fn: this run used a {config.reward.custom.get('kind')}; pass reward_fn=... to continue it")
    return make_search(config=config, dataset=dataset, evaluator=evaluator, reward_fn=reward_fn, out_dir=out_dir, resume=True)
