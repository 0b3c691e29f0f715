"""The configuration of a search as a few small dataclasses, written to ``config.json``.

Everything that decides what a run does -- the space, the data, how each child is built
and trained, the controller and its trainer, evolution's population, the reward -- lives
in one :class:`SearchConfig` made of plain values (as nanoGPT's ``GPTConfig``). It is
serialised into the run folder (:mod:`nasrl_nb.run.folder`) and compared with the
configuration of a resumed run: anything different is an error naming the fields, except
the :data:`RESUME_OVERRIDES`, which do not change which architectures are proposed or how
they score.

``SearchConfig.from_settings(method="ppo", epochs=2, trainer_kwargs={"lr": 0.05})`` maps
:func:`~nasrl_nb.assembly.factory.make_search`'s flat keywords onto the dataclasses through
:data:`SETTINGS`, a table generated from the fields (a new field is a keyword at once); an
unknown key anywhere is a ``ValueError`` naming it and the allowed keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# each section lives beside the component it configures, whose keyword defaults it holds
from ..controllers.config import ControllerConfig
from ..darts.config import DartsConfig
from ..darts.strategy import DARTS_DEFAULTS
from ..enas.evaluator import SupernetConfig
from ..enas.strategy import ONESHOT_DEFAULTS, ONESHOT_METHODS
from ..evaluators.base import ChildConfig
from ..nn.data import DataConfig
from ..pnas.config import PNASConfig
from ..rewards.objectives import REWARD_OBJECTIVES, RewardConfig  # noqa: F401 (REWARD_OBJECTIVES: the widgets' menu)
from ..rl.config import A2CConfig, BanditConfig, SACConfig, TrainerConfig, TRPOConfig
from ..rl.policy_gradient import Schedule
from ..run.loop import resume_mismatch
from ..runtime import quick_mode
from ..spaces.registry import get_space, space_from_spec
from ..strategies.curriculum import CurriculumConfig
from ..strategies.evolution import EvolutionConfig
from ..validation import choice, require_choice, require_choices, require_positive
from .methods import BANDIT_METHODS, METHODS, RL_METHODS

# settings a resumed run may change (``resume_search(out_dir, budget=...)``): they do not
# change the architectures proposed or their rewards (device: up to floating-point noise)
RESUME_OVERRIDES: dict[str, str] = {
    "budget": "budget",
    "device": "child.device",
    "progress": "progress",
    "policy_snapshots": "policy_snapshots",
    "evaluator_kind": "parallel.evaluator",  # where children train does not change their records
    "workers": "parallel.workers",
    "ray_address": "parallel.ray_address",
}


EVALUATOR_KINDS = ("serial", "process", "ray")  # where children train (nasrl_nb.evaluators.process)
SUPERNET_CHILD_SETTINGS = ("channels", "cells_per_stage", "device")  # what a supernet takes from ``child``


@dataclass
class ParallelConfig:
    """Where children train (:mod:`nasrl_nb.evaluators.process`) and whether updates wait for whole batches."""

    evaluator: str = choice("serial", EVALUATOR_KINDS)  # serial, process (local worker processes) or ray
    workers: int = 1  # children trained at once (process, ray)
    ray_address: str | None = None  # a Ray cluster to join; None: a local Ray that lives as long as the search
    asynchronous: bool = False  # update once batch_size results are in while others still train (staleness recorded)

    def __post_init__(self):
        require_choices(self, "parallel")
        require_positive("parallel.workers", self.workers, integer=True)
        if self.evaluator == "serial" and self.workers != 1:
            raise ValueError(f"workers: {self.workers} needs evaluator 'process' or 'ray'; the serial evaluator has 1 worker")
        if self.ray_address is not None and (self.evaluator != "ray" or not isinstance(self.ray_address, str)):
            raise ValueError(f"ray_address: {self.ray_address!r} is only for evaluator 'ray' (an address string)")
        if not isinstance(self.asynchronous, bool):
            raise ValueError(f"parallel.asynchronous: must be True or False, got {self.asynchronous!r}")


# How many architectures one update sees, when not given. A lab's budget is 50-300 evaluations;
# about 25 updates learn visibly within it (benchmarks/learning_curves.py, BENCHMARKS.md), and
# fewer than 2 architectures per batch leave the first update without a signal (its baseline is
# the batch's own mean). Worker processes each train one child of a batch, so a batch is at least
# as large as the workers. Regularized evolution replaces one member per child (Real et al. 2019),
# so it steps as soon as each worker's child is back.
BATCH_SIZE_RULE = "budget // 25, within [2, 8] (evolution: 1), and at least the number of workers"


@dataclass
class SearchConfig:
    """The whole configuration of a run; ``to_dict`` is what ``config.json`` holds."""

    method: str = "reinforce"  # a name in nasrl_nb.assembly.methods.METHODS (enas, random_ws: a shared-weight supernet)
    space: dict | str = "cell"  # a space name or spec; stored as the spec
    budget: int = 64  # architectures to evaluate (16 in quick mode)
    batch_size: int | None = field(default=None, metadata={  # architectures per step; None: batch_size_rule(...)
        "help": f"architectures per step (default: a rule of the budget: {BATCH_SIZE_RULE})"})
    seed: int = 0  # seeds the controller, the search and each child's training
    progress: bool = True  # a tqdm progress bar while iterating
    policy_snapshots: bool = True  # record the policy after every update (steps.jsonl, replays)
    evaluator: str = "ChildEvaluator"  # the evaluator's class (another one is passed in code)
    data: DataConfig = field(default_factory=DataConfig)
    child: ChildConfig = field(default_factory=ChildConfig)
    controller: ControllerConfig = field(default_factory=ControllerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    supernet: SupernetConfig = field(default_factory=SupernetConfig)
    darts: DartsConfig = field(default_factory=DartsConfig)
    a2c: A2CConfig = field(default_factory=A2CConfig)
    trpo: TRPOConfig = field(default_factory=TRPOConfig)
    sac: SACConfig = field(default_factory=SACConfig)
    bandit: BanditConfig = field(default_factory=BanditConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    pnas: PNASConfig = field(default_factory=PNASConfig)
    rules: dict = field(default_factory=dict)  # the values a documented rule set: {"batch_size": "the rule"}

    def __post_init__(self):
        require_choice("method", self.method, METHODS)
        require_positive("budget", self.budget, integer=True)
        if self.batch_size is None:  # the lab rule; recorded, so config.json says where the number came from
            self.batch_size = batch_size_rule(self.method, self.budget, self.parallel.workers)
            self.rules = {**self.rules, "batch_size": BATCH_SIZE_RULE}
        require_positive("batch_size", self.batch_size, integer=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed: must be an integer, got {self.seed!r}")
        if self.trainer.schedule is not None:
            self.trainer.schedule = dataclasses.asdict(Schedule(**_check_keys("schedule", self.trainer.schedule, Schedule)))
        if isinstance(self.space, str):
            self.space = get_space(self.space).spec()
        elif isinstance(self.space, Mapping):
            self.space = space_from_spec(self.space).spec()  # checks it
        else:
            raise ValueError(f"space: expected a space name or spec dict, got {type(self.space).__name__}")

    # --- JSON --------------------------------------------------------------------------
    def check_resume(self, saved: Mapping, *, out_dir) -> None:
        """Resume this configuration over a run's saved ``config.json``: a ValueError naming each
        field that differs, the :data:`RESUME_OVERRIDES` aside (:func:`check_resume_config`)."""
        check_resume_config(saved, self.to_dict(), out_dir=out_dir)

    def to_dict(self) -> dict:
        """Plain JSON (nested dicts), as written to ``config.json``.

        ``child`` holds only the settings this run uses (:meth:`child_settings_in_use`): a
        run scored by a table records no child epochs or device that never trained anything.
        """
        data = self._all_fields()
        used = self.child_settings_in_use()
        data["child"] = {key: value for key, value in data["child"].items() if key in used}
        return data

    def _all_fields(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def child_settings_in_use(self) -> tuple[str, ...]:
        """The ``child`` fields that decide this run's records.

        All of them when a :class:`~nasrl_nb.evaluators.base.ChildEvaluator` trains each
        child; the supernet's width, cells and device for the weight-sharing methods (enas,
        random_ws, darts) otherwise; none for an evaluator passed in code (a table, a function).
        """
        if self.evaluator == "ChildEvaluator":
            return tuple(f.name for f in dataclasses.fields(ChildConfig))
        if self.method in ("enas", "random_ws", "darts"):
            return SUPERNET_CHILD_SETTINGS
        return ()

    @classmethod
    def from_dict(cls, data: Mapping) -> SearchConfig:
        """The inverse of :meth:`to_dict`; an unknown key is a ValueError naming it and the allowed keys."""
        data = dict(_check_keys("config", data, cls))
        if isinstance(data.get("darts"), Mapping) and "batch_norm" not in data["darts"]:
            # written before darts.batch_norm existed: that supernet had the children's affine BatchNorms
            data["darts"] = {**data["darts"], "batch_norm": "affine"}
        if isinstance(data.get("trainer"), Mapping) and "optimizer" not in data["trainer"]:
            # written before trainer.optimizer existed: the controller stepped by Adam on the batch's reward std
            data["trainer"] = {**data["trainer"], "optimizer": "adam", "advantage_std": "batch"}
        if isinstance(data.get("supernet"), Mapping) and "lr_schedule" not in data["supernet"]:
            # written before supernet.lr_schedule existed: the shared weights trained at a constant rate
            data["supernet"] = {**data["supernet"], "lr_schedule": "constant"}
        for name, kind in SECTIONS.items():
            if name in data:
                data[name] = kind(**_check_keys(name, data[name], kind))
        return cls(**data)

    # --- make_search's flat keywords -------------------------------------------------------
    @classmethod
    def from_settings(cls, **settings) -> SearchConfig:
        """A config from :func:`~nasrl_nb.assembly.factory.make_search`'s keywords (quick-mode defaults)."""
        base = cls(budget=16, child=ChildConfig(epochs=1)) if quick_mode() else cls()
        method = settings.get("method", base.method)
        base = base.with_settings(**METHOD_DEFAULTS.get(method, {}))  # each method's own defaults
        preset = settings.pop("preset", None)
        if preset is not None:  # a documented preset replaces them; the keywords still come on top
            require_choice("preset", preset, tuple(PRESETS))
            if method not in ("reinforce", "ppo"):
                raise ValueError(f"preset: {preset!r} trains a controller by REINFORCE or PPO; allowed methods: "
                                 f"reinforce, ppo, not {method!r}")
            base = base.with_settings(**PRESETS[preset])
            base.rules = {**base.rules, "preset": preset}
        base = base.with_settings(**ONESHOT_DEFAULTS.get(method, {}))  # ENAS's controller settings
        if method == "darts":
            base = base.with_settings(**DARTS_DEFAULTS)  # one search epoch per step
        config = base.with_settings(**settings)
        if "batch_size" in config.rules:  # still the rule's: for this method, budget and workers
            config.batch_size = batch_size_rule(config.method, config.budget, config.parallel.workers)
        return config

    def with_settings(self, **settings) -> SearchConfig:
        """A copy with ``make_search`` keywords applied (``epochs=2``, ``trainer_kwargs={...}``...).

        ``controller_kwargs``/``trainer_kwargs`` update their section key by key; ``None``
        for one of them, or for ``schedule``'s fields, leaves the section as it is.
        """
        data = self._all_fields()  # every field, the unused child settings included
        for key, value in settings.items():
            if key in SECTION_KWARGS:
                section = key.removesuffix("_kwargs")
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise ValueError(f"{key}: expected a dict of {section} options, got {type(value).__name__}")
                data[section].update(_plain(_check_keys(key, value, SECTIONS[section])))
                continue
            if key == "preset":
                raise ValueError("preset: chooses the settings of a new search; a saved run keeps its own "
                                 "(start a new search in another folder)")
            path = SETTINGS.get(key)
            if path is None:
                allowed = ", ".join(sorted(SETTINGS) + list(SECTION_KWARGS))
                raise ValueError(f"{key}: not a search setting; allowed keywords: {allowed}")
            if key == "batch_size":  # a number given here is no longer the rule's (None: the rule again)
                data["rules"].pop("batch_size", None)
            if key == "dataset" and value is not None and not isinstance(value, str):
                value = None  # a Dataset object: custom data, passed to make_search, not stored
            _set(data, path, value)
        return type(self).from_dict(data)


def batch_size_rule(method: str, budget: int, workers: int = 1) -> int:
    """The batch size :data:`BATCH_SIZE_RULE` gives ``method`` at ``budget`` evaluations on ``workers`` workers."""
    batch = 1 if method == "evolution" else min(8, max(2, budget // 25))
    return max(batch, workers)


# Each method's defaults (make_search keywords), chosen for a lab's budget of 50-300 evaluations
# by benchmarks/learning_curves.py on validation seeds (BENCHMARKS.md, "Defaults that learn").
# REINFORCE steps by TrainerConfig's plain SGD, on rank advantages: each reward's centred rank among
# the last RANK_WINDOW rewards, this batch's included (fitness shaping, Wierstra et al. 2014, Sec. 3.1;
# Salimans et al. 2017). Only the order of the rewards counts, so the rule is the same on any table,
# any reward units and any spread of accuracies; a z-scored advantage (R - b) / sigma is set by the
# broken cells that dominate sigma, and hardly separates the good cells a search must choose between
# (BENCHMARKS.md, "Defaults that learn": at 100 evaluations on digits-cell, 100 seeds, the pick's test
# accuracy went from 92.11 +- 0.27 to 92.87 +- 0.13, level with Thompson sampling's 92.89 +- 0.17).
# PPO, A2C and SAC step with Adam: PPO's KL bound and SAC's critic set their step size themselves.
# UCB keeps BanditConfig's exploration, 1: its bonus is counted in the rewards' own std (the same rule on
# any table); 1 lies on the plateau 0.5-2 measured on digits-cell and on its rank-transformed copy at 50
# and 100 evaluations, where 16 (tuned before UCB stopped re-proposing known cells) picked at random
# search's level; at 300 evaluations 1 is not better than 16, and a bonus growing with the budget (3 or 2.45
# at 300) did not hold on digits-cell, its ranked copy and mnist1d-cell alike: not adopted (BENCHMARKS.md,
# "UCB's exploration").
RANK_WINDOW = 8  # rewards ranked together: the batch and the one before it at 100 evaluations (4-all measured)
# (two batches at every budget, 16 at 300 evaluations, gained on digits-cell and lost on mnist1d-cell: not adopted)
METHOD_DEFAULTS: dict[str, dict] = {
    "reinforce": {"trainer_kwargs": {"rank_window": RANK_WINDOW}},
    "ppo": {"trainer_kwargs": {"optimizer": "adam", "lr": 0.05, "entropy_weight": 1e-2, "advantage_std": "batch"}},
    "a2c": {"trainer_kwargs": {"optimizer": "adam", "lr": 0.01, "advantage_std": "batch"}},
    "trpo": {"trpo_kwargs": {"max_kl": 0.2}, "trainer_kwargs": {"advantage_std": "batch"}},
    "sac": {"trainer_kwargs": {"lr": 0.05}, "sac_kwargs": {"target_entropy": 0.6}},  # SAC steps with Adam
    "thompson": {"bandit_kwargs": {"prior_count": 16.0}},
}

# Presets: documented settings for other purposes than a lab's budget (make_search(preset=...),
# --preset). "zoph-le": Zoph & Le's own controller training (2017, Sec. 4.1: Adam at 6e-4 on raw
# advantages R - b, for 12,800 architectures on 800 GPUs): for long runs, not a default.
PRESETS: dict[str, dict] = {
    "zoph-le": {"trainer_kwargs": {"optimizer": "adam", "lr": 6e-4, "normalize_advantages": False, "rank_window": None}},
}


def _plain(options: Mapping) -> dict:
    """Options as plain JSON: a :class:`~nasrl_nb.rl.policy_gradient.Schedule` becomes its fields."""
    out = dict(options)
    if dataclasses.is_dataclass(out.get("schedule")):
        out["schedule"] = dataclasses.asdict(out["schedule"])
    return out


SECTIONS = {
    "data": DataConfig,
    "child": ChildConfig,
    "controller": ControllerConfig,
    "trainer": TrainerConfig,
    "evolution": EvolutionConfig,
    "reward": RewardConfig,
    "parallel": ParallelConfig,
    "supernet": SupernetConfig,
    "darts": DartsConfig,
    "a2c": A2CConfig,
    "trpo": TRPOConfig,
    "sac": SACConfig,
    "bandit": BanditConfig,
    "curriculum": CurriculumConfig,
    "pnas": PNASConfig,
}
# make_search's keywords, generated from the fields: the one translation from a flat keyword to
# a field, one keyword per field. A top-level field is its own keyword; a section's field is its
# bare name when no other section has a field of that name (``channels``, ``w_lr``,
# ``hidden_size``), else ``{section}_{field}`` (``supernet_lr``, ``child_batch_size``);
# ``{section}_kwargs`` updates a section key by key (``trpo_kwargs={"max_kl": 0.02}``).
# ALIASES replace the generated keyword of a few fields: the child's ``lr``, ``epochs`` and
# ``lr_schedule`` (the fields a lab changes most), and names that say more than the bare field.
ALIASES: dict[str, str] = {
    "lr": "child.lr",
    "epochs": "child.epochs",
    "lr_schedule": "child.lr_schedule",
    "controller": "controller.kind",
    "reward": "reward.objective",
    "curriculum": "curriculum.enabled",
    "evaluator_kind": "parallel.evaluator",
    "reward_weights": "reward.weights",
    "supernet_train_steps": "supernet.train_steps",
}
NOT_KEYWORDS = ("evaluator", "rules", "reward.custom")  # set by make_search from its evaluator= and reward_fn=


def field_help(kind: type) -> dict[str, str]:
    """Each field's help: its ``metadata["help"]``, else the comment on its line in ``kind``'s source."""
    comments = {}
    for line in inspect.getsource(kind).splitlines():
        match = re.match(r"^\s+(\w+): [^#]*#\s*(.*)$", line)
        if match:
            comments[match[1]] = match[2]
    return {f.name: f.metadata.get("help", comments.get(f.name, "")) for f in dataclasses.fields(kind)}


def keywords(config_class: type, sections: Mapping[str, type], aliases: Mapping[str, str] = ALIASES) -> dict[str, str]:
    """make_search keyword -> dotted path in ``config_class`` with ``sections`` (see the comment above)."""
    paths = {f.name: f.name for f in dataclasses.fields(config_class) if f.name not in (*sections, *NOT_KEYWORDS)}
    owners: dict[str, list[str]] = {}
    for section, kind in sections.items():
        for f in dataclasses.fields(kind):
            owners.setdefault(f.name, []).append(section)
    alias_of = {path: alias for alias, path in aliases.items()}
    for section, kind in sections.items():
        for f in dataclasses.fields(kind):
            path = f"{section}.{f.name}"
            if path in NOT_KEYWORDS:
                continue
            keyword = f.name if len(owners[f.name]) == 1 and f.name not in paths else f"{section}_{f.name}"
            keyword = alias_of.get(path, keyword)
            if (keyword in paths or (keyword in aliases and path not in alias_of)
                    or (keyword.endswith("_kwargs") and keyword.removesuffix("_kwargs") in sections)):
                raise ValueError(f"{keyword}: a make_search keyword for two fields, {paths.get(keyword, aliases.get(keyword))} "
                                 f"and {path}")
            paths[keyword] = path
    return paths


SECTION_KWARGS: tuple[str, ...] = tuple(f"{section}_kwargs" for section in SECTIONS)  # trainer_kwargs={...}
SETTINGS: dict[str, str] = keywords(SearchConfig, SECTIONS)  # make_search keyword -> dotted path in SearchConfig

# the sections that only some methods read (the others read data, child, reward, parallel and
# curriculum, which checks its own methods): a value of one given to another method is refused
METHOD_SECTIONS: dict[str, tuple[str, ...]] = {
    "controller": (*RL_METHODS, "enas"),
    "trainer": (*RL_METHODS, "enas"),
    "a2c": ("a2c",),
    "trpo": ("trpo",),
    "sac": ("sac",),
    "bandit": BANDIT_METHODS,
    "evolution": ("evolution",),
    "supernet": ONESHOT_METHODS,
    "darts": ("darts",),
    "pnas": ("pnas",),
}


def methods_reading(keyword: str) -> tuple[str, ...] | None:
    """The methods that read the section a make_search keyword sets (None: every method)."""
    section = keyword.removesuffix("_kwargs") if keyword in SECTION_KWARGS else SETTINGS.get(keyword, "").partition(".")[0]
    return METHOD_SECTIONS.get(section)


def check_method_sections(method: str, settings: Mapping, names: Mapping[str, str] | None = None) -> None:
    """A keyword that sets a field of a section ``method`` does not read is refused, naming the
    keyword (or ``names[keyword]``: the CLI's option) and the methods that read it; a value
    equal to the field's default, or None, changes nothing."""
    for key, value in settings.items():
        methods = methods_reading(key)
        if methods is None or method in methods or value is None:
            continue
        defaults = SECTIONS[key.removesuffix("_kwargs") if key in SECTION_KWARGS else SETTINGS[key].partition(".")[0]]()
        given = value if key in SECTION_KWARGS else {SETTINGS[key].partition(".")[2]: value}
        if isinstance(given, Mapping) and all(getattr(defaults, k, None) == v for k, v in given.items()):
            continue
        name = (names or {}).get(key, key)
        raise ValueError(f"{name}: only for methods {', '.join(methods)}; method {method!r} does not use it")


def _check_keys(name: str, options, kind) -> dict:
    if not isinstance(options, Mapping):
        raise ValueError(f"{name}: expected a dict, got {type(options).__name__}")
    allowed = [f.name for f in dataclasses.fields(kind)]
    for key in options:
        if key not in allowed:
            raise ValueError(f"{name}: unknown key {key!r}; allowed keys: {', '.join(allowed)}")
    return dict(options)


def _set(data: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data[part]
    data[last] = dict(value) if isinstance(value, Mapping) else value


# --- resuming with the same configuration: what differs between a saved config.json and now ---
# A resumed search must continue the search that was saved (same space, strategy, children,
# reward...); only the RESUME_OVERRIDES may change. These name every other difference.
def _flatten(data: Mapping, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "space" and key in SECTIONS:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_differences(saved: Mapping, current: Mapping, *, ignore: tuple[str, ...] | None = None) -> list[str]:
    """``["child.epochs: 3 -> 1", ...]`` for the fields of two ``config.json`` dicts that differ.

    The :data:`RESUME_OVERRIDES` are ignored, and so is ``evaluator``: an evaluator passed in
    code may be swapped for another that computes the same records (a parallel one, say).
    Pass ``ignore=()`` to see every difference.
    """
    ignore = (*RESUME_OVERRIDES.values(), "evaluator") if ignore is None else ignore
    old, new = _flatten(saved), _flatten(current)
    keys = [k for k in dict.fromkeys([*old, *new]) if k not in ignore]
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def check_resume_config(saved: Mapping, current: Mapping, *, out_dir) -> None:
    """Resuming with another configuration is a ValueError naming the fields (overrides aside).

    (A hand-built search, with no :class:`SearchConfig`, compares its few essentials:
    :func:`~nasrl_nb.run.loop.check_hand_built_resume`.)
    """
    differences = config_differences(_with_defaults(saved), current)
    if differences:
        raise resume_mismatch(out_dir, differences)


def _with_defaults(saved: Mapping) -> Mapping:
    """A saved ``config.json`` with the fields added since it was written set to their defaults.

    A run made before a section existed (say ``sac``) then resumes; a saved file that no longer
    parses is compared as it stands, so its differences are still named.
    """
    try:
        return SearchConfig.from_dict(saved).to_dict()
    except (ValueError, TypeError):
        return saved
