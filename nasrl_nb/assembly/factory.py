"""Build a ready-to-run search from a :class:`~nasrl_nb.assembly.config.SearchConfig` (or keywords).

:func:`make_search` turns ``method="reinforce", space="cell", dataset="digits", budget=...``
into a :class:`~nasrl_nb.run.loop.Search` with its strategy, evaluator and reward; the
configuration goes to the run folder's ``config.json``, from which :func:`resume_search`
rebuilds the same search.
"""

from __future__ import annotations

import dataclasses

from ..checkpoint import capture_rng_state, restore_rng_state
from ..darts.strategy import search_data
from ..enas.evaluator import SharedWeightEvaluator
from ..enas.strategy import ONESHOT_METHODS, wire_sampler
from ..evaluators.base import ChildEvaluator, Evaluator, SerialEvaluator
from ..evaluators.process import ParallelEvaluator
from ..nn.data import load_dataset
from ..pnas.config import BEAM_SIZE_RULE
from ..pnas.expansion import pnas_beam_size
from ..rewards.objectives import MultiObjectiveReward, RewardFunction, make_reward
from ..rl.policy_gradient import Schedule
from ..run.folder import RunFolder
from ..run.loop import Search
from ..runtime import seed_everything
from ..spaces.registry import space_from_spec
from ..spaces.search_space import SearchSpace
from ..strategies.base import SearchStrategy
from ..strategies.curriculum import CURRICULUM_METHODS, CurriculumStrategy
from .config import RESUME_OVERRIDES, SearchConfig, check_method_sections
from .methods import BANDIT_METHODS, RL_METHODS, make_strategy

BUILT_EVALUATORS = ("ChildEvaluator", "SharedWeightEvaluator")  # what make_search builds from a config alone


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
        config: a :class:`~nasrl_nb.assembly.config.SearchConfig` to start from (default: its
            defaults, smaller in quick mode); keywords are applied on top.
        reward_fn: a reward instead of ``make_reward(max_params=..., ...)``.
        evaluator: evaluate with this instead of a :class:`~nasrl_nb.evaluators.base.ChildEvaluator`;
            or where the children train: ``"serial"`` (default), ``"process"`` (local worker
            processes) or ``"ray"`` (:mod:`nasrl_nb.evaluators.process`), with ``workers``,
            ``ray_address`` and ``asynchronous`` among the settings.
        out_dir, resume, overwrite: the run folder (see :class:`Search`).
        **settings: any of :data:`nasrl_nb.assembly.config.SETTINGS`, generated from the
            fields of :class:`~nasrl_nb.assembly.config.SearchConfig`: a field's own name where
            it is unique (``budget``, ``seed``, ``device``, ``channels``, ``w_lr``,
            ``population_size``...), ``section_field`` where two sections share it
            (``supernet_lr``, ``child_batch_size``), the aliases ``lr``, ``epochs`` and
            ``lr_schedule`` (the child's), ``controller``, ``reward``, ``curriculum`` and
            ``evaluator_kind``; and ``<section>_kwargs`` (``controller_kwargs``,
            ``trainer_kwargs``, ``darts_kwargs``...: a dict of that section's fields; a
            ``schedule`` may be a :class:`~nasrl_nb.rl.policy_gradient.Schedule` or a dict).
            An unknown name or key is a ValueError naming it and the allowed ones; so is a
            setting of a section the method does not read (``remedy`` for ``random``).
    """
    # 1. the configuration: defaults or ``config``, then the keywords; all checked here
    config, data, evaluator = configure(method, space, dataset, config=config, reward_fn=reward_fn, evaluator=evaluator,
                                        settings=settings)
    # 2. the parts
    space = space_from_spec(config.space)
    fix_budget_rules(config, space)
    strategy = build_strategy(config, space, data, table=getattr(evaluator, "bench", None))
    if reward_fn is None:
        reward_fn = build_reward(config)
    if evaluator is None:
        evaluator = build_evaluator(config, data)
    wire_sampler(strategy, evaluator)  # enas, random_ws: the strategy samples the supernet's training architectures
    evaluator = parallelize(evaluator, config)
    return Search(
        space, strategy, evaluator, reward_fn,
        budget=config.budget, batch_size=config.batch_size, seed=config.seed, progress=config.progress,
        policy_snapshots=config.policy_snapshots, config=config, out_dir=out_dir, resume=resume, overwrite=overwrite,
        asynchronous=config.parallel.asynchronous,
    )


def configure(method, space, dataset, *, config: SearchConfig | None, reward_fn: RewardFunction | None,
              evaluator: Evaluator | str | None, settings: dict) -> tuple[SearchConfig, object, Evaluator | None]:
    """:func:`make_search`'s arguments as one checked :class:`SearchConfig`, the custom data (or None)
    and the given evaluator (None where the config builds one: ``"serial"``, ``"process"``, ``"ray"``)."""
    if config is not None and not isinstance(config, SearchConfig):
        raise ValueError(f"config: expected a SearchConfig, got {type(config).__name__}")
    data = None if dataset is None or isinstance(dataset, str) else dataset
    if isinstance(space, SearchSpace):
        space = space.spec()
    given = {"method": method, "space": space, "dataset": dataset}
    settings = {**{k: v for k, v in given.items() if v is not None}, **settings}
    if isinstance(evaluator, str):  # "serial", "process" or "ray": where the configured children train
        settings["evaluator_kind"], evaluator = evaluator, None
    if isinstance(evaluator, ParallelEvaluator):  # config.json records where the children train
        settings = {"evaluator_kind": evaluator.kind, "workers": evaluator.workers, **settings}
    if evaluator is not None and not isinstance(dataset, str):
        settings["dataset"] = None  # the evaluator brings its own data
    config = SearchConfig.from_settings(**settings) if config is None else config.with_settings(**settings)
    check_method_sections(config.method, settings)
    if reward_fn is not None:
        if not isinstance(reward_fn, RewardFunction):
            raise ValueError(f"reward_fn: expected a RewardFunction (see nasrl_nb.rewards.objectives), got {type(reward_fn).__name__}")
        limits = config.reward
        if any(v is not None for v in (limits.max_params, limits.max_flops, limits.max_latency_ms)):
            raise ValueError("reward_fn: pass either reward_fn or max_params/max_flops/max_latency_ms, not both")
        config.reward.custom = reward_fn.config()
    if evaluator is not None:
        config.evaluator = type(evaluator).__name__
    elif config.method in ONESHOT_METHODS:
        config.evaluator = "SharedWeightEvaluator"  # built from config.supernet, like a ChildEvaluator from config.child
    if evaluator is None and data is None and config.data.dataset is None:
        raise ValueError("dataset: this run was made on custom data; pass dataset=<Dataset> or evaluator=...")
    return config, data, evaluator


def fix_budget_rules(config: SearchConfig, space: SearchSpace) -> None:
    """Settings that follow a rule of the budget, fixed now, so that a resume with another budget changes nothing:
    DARTS's epochs, PNAS's beam size and the curriculum's stage length."""
    if config.method == "darts" and config.darts.epochs is None:
        config.darts.epochs = config.budget
    if config.method == "pnas" and config.pnas.beam_size is None:
        config.pnas.beam_size = pnas_beam_size(config.budget, space)
        config.rules = {**config.rules, "beam_size": BEAM_SIZE_RULE}
    if config.curriculum.enabled and config.curriculum.grow_every is None:
        config.curriculum.grow_every = curriculum_stage_size(config, space)


def build_strategy(config: SearchConfig, space: SearchSpace, data=None, *, table=None) -> SearchStrategy:
    """The configured strategy, built on seeded generators that are put back afterwards.

    DARTS trains its supernet on ``data`` (default: the dataset ``table`` was built on -- a
    TabularEvaluator's -- or else the configured dataset).
    """
    kwargs: dict = {}
    if config.method in (*RL_METHODS, "enas"):
        trainer_kwargs = _changed(config.trainer)
        if trainer_kwargs.get("schedule") is not None:
            trainer_kwargs["schedule"] = Schedule(**trainer_kwargs["schedule"])
        if config.method in ("a2c", "trpo", "sac"):  # the optimiser's own section (config.a2c, ...)
            trainer_kwargs.update(_changed(getattr(config, config.method)))
        kwargs = {"controller_kwargs": _changed(config.controller), "trainer_kwargs": trainer_kwargs}
    elif config.method in BANDIT_METHODS:
        own = "exploration" if config.method == "ucb" else "prior_count"
        kwargs = {key: getattr(config.bandit, key) for key in (own, "std_floor")}
    elif config.method == "evolution":
        kwargs = dataclasses.asdict(config.evolution)
    elif config.method == "pnas":
        kwargs = {**dataclasses.asdict(config.pnas), "budget": config.budget}
    elif config.method == "darts":
        data = search_data(config.data.dataset, data=data, table=table, data_seed=config.data.data_seed,
                           max_samples=config.data.max_samples)
        kwargs = {**dataclasses.asdict(config.darts), "data": data, "channels": config.child.channels,
                  "cells_per_stage": config.child.cells_per_stage, "device": config.child.device}
    caller = capture_rng_state()
    try:
        seed_everything(config.seed)
        if config.curriculum.enabled:
            if config.method not in CURRICULUM_METHODS:
                raise ValueError(f"curriculum: grows an on-policy controller; allowed methods: {', '.join(CURRICULUM_METHODS)}, "
                                 f"not {config.method!r}")
            options = dataclasses.asdict(config.curriculum)
            options.pop("enabled")
            return CurriculumStrategy(space, algorithm=config.method, **options, **kwargs)
        return make_strategy(config.method, space, seed=config.seed, **kwargs)
    finally:
        restore_rng_state(caller)


def curriculum_stage_size(config: SearchConfig, space: SearchSpace) -> int:
    """Architectures per curriculum stage when not given: the budget split evenly over the depths."""
    depth = getattr(space, "num_layers", None)
    if depth is None:
        raise ValueError("curriculum: grows a layered space's depth; allowed spaces: macro, zoph-le")
    stages = 1 + -(-(depth - config.curriculum.start_layers) // config.curriculum.step_layers)
    return max(1, config.budget // max(stages, 1))


def build_reward(config: SearchConfig) -> RewardFunction:
    """The configured reward (``make_reward`` with ``config.reward``'s limits and mode)."""
    options = dataclasses.asdict(config.reward)
    options.pop("custom")
    weights, reference_params, reference_latency_ms = (options.pop(k) for k in ("weights", "reference_params",
                                                                                "reference_latency_ms"))
    if options["objective"] != "multi":
        return make_reward(**options)
    # the seed's w_acc * accuracy + w_eff * efficiency - w_cplx * complexity (rewards.objectives.compute_reward)
    if any(options[k] is not None for k in ("max_params", "max_flops", "max_latency_ms")):
        raise ValueError("reward: 'multi' weighs costs itself; pass reward_weights or max_params/max_flops/max_latency_ms, "
                         "not both")
    return MultiObjectiveReward(weights or (1.0, 0.0, 0.0), reference_params=reference_params,
                                reference_latency_ms=reference_latency_ms, failure_reward=options["failure_reward"])


def build_evaluator(config: SearchConfig, data=None) -> ChildEvaluator:
    """A :class:`ChildEvaluator` on ``data`` (or the configured dataset) with the configured children
    (for enas and random_ws a :class:`~nasrl_nb.enas.evaluator.SharedWeightEvaluator`)."""
    if data is None:
        data = load_dataset(config.data.dataset, seed=config.data.data_seed, max_samples=config.data.max_samples)
    child = config.child
    if config.method in ONESHOT_METHODS:
        if config.parallel.evaluator != "serial":
            raise ValueError(f"evaluator_kind: {config.parallel.evaluator!r} is not allowed for method {config.method!r}, "
                             "which trains one shared supernet; allowed values: serial")
        return SharedWeightEvaluator(space_from_spec(config.space), data, channels=child.channels,
                                     cells_per_stage=child.cells_per_stage, device=child.device, seed=config.seed,
                                     **dataclasses.asdict(config.supernet))
    return ChildEvaluator(
        data,
        epochs=child.epochs,
        lr=child.lr,
        batch_size=child.batch_size,
        device=child.device,
        seed=config.seed,
        child_kwargs={"channels": child.channels, "cells_per_stage": child.cells_per_stage},
        lr_schedule=child.lr_schedule,
        precision=child.precision,
        threads=child.threads,
    )


def parallelize(evaluator: Evaluator, config: SearchConfig) -> Evaluator:
    """``evaluator`` run by ``config.parallel``: as it is (serial), on worker processes, or on Ray."""
    from ..evaluators.process import ParallelEvaluator, ProcessEvaluator
    from ..evaluators.ray_evaluator import RayEvaluator

    options = config.parallel
    if options.asynchronous and config.method == "pnas":
        raise ValueError("asynchronous: method 'pnas' starts a step only once the previous one is back; "
                         "allowed for the methods that update from any batch (reinforce, ppo, random, evolution, ...)")
    if options.asynchronous and config.method in (*ONESHOT_METHODS, "darts"):
        raise ValueError(f"asynchronous: method {config.method!r} trains one shared supernet step by step; "
                         "allowed for the methods that train separate children (reinforce, ppo, random, evolution, ...)")
    if options.evaluator == "serial" or isinstance(evaluator, ParallelEvaluator):
        return evaluator
    if not isinstance(evaluator, SerialEvaluator):
        raise ValueError(f"evaluator_kind: {options.evaluator!r} trains separate children on workers; the "
                         f"{type(evaluator).__name__} of method {config.method!r} cannot be split; allowed values: serial")
    if options.evaluator == "process":
        return ProcessEvaluator(evaluator, workers=options.workers)
    return RayEvaluator(evaluator, workers=options.workers, ray_address=options.ray_address)


def _changed(section) -> dict:
    """The fields of a config section that differ from its defaults.

    The constructors' defaults are these fields (``TrainerConfig.lr``...), so leaving the
    unchanged ones out changes nothing; it lets an optimiser refuse, by name, a field it does
    not read (SAC takes no ``ppo_epochs``) only when someone set it.
    """
    defaults = type(section)()
    return {f.name: getattr(section, f.name) for f in dataclasses.fields(section)
            if getattr(section, f.name) != getattr(defaults, f.name)}


def resume_search(out_dir, *, evaluator: Evaluator | None = None, reward_fn: RewardFunction | None = None,
                  dataset=None, **overrides) -> Search:
    """Rebuild the search in ``out_dir`` from its ``config.json`` and continue it.

    ``overrides`` may change ``budget``, ``device``, ``progress`` and ``policy_snapshots``
    (:data:`~nasrl_nb.assembly.config.RESUME_OVERRIDES`). A run on custom data needs its
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
    if evaluator is None and config.evaluator not in BUILT_EVALUATORS:
        raise ValueError(f"evaluator: this run used a {config.evaluator}; pass evaluator=... to continue it")
    if reward_fn is None and config.reward.custom is not None:
        raise ValueError(f"reward_fn: this run used a {config.reward.custom.get('kind')}; pass reward_fn=... to continue it")
    return make_search(config=config, dataset=dataset, evaluator=evaluator, reward_fn=reward_fn, out_dir=out_dir, resume=True)
