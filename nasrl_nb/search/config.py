"""The configuration of a search as a few small dataclasses, written to ``config.json``.

Everything that decides what a run does -- the space, the data, how each child is built
and trained, the controller and its trainer, evolution's population, the reward -- lives
in one :class:`SearchConfig` made of plain values (as nanoGPT's ``GPTConfig``). It is
serialised into the run folder (:mod:`nasrl_nb.search.run_folder`) and compared with the
configuration of a resumed run: anything different is an error naming the fields, except
the :data:`RESUME_OVERRIDES`, which do not change which architectures are proposed or how
they score.

``SearchConfig.from_settings(method="ppo", epochs=2, trainer_kwargs={"lr": 0.05})`` maps
:func:`~nasrl_nb.search.factory.make_search`'s flat keywords onto the dataclasses; an
unknown key anywhere is a ``ValueError`` naming it and the allowed keys.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..rl.policy_gradient import Schedule
from ..runtime import quick_mode
from ..spaces.registry import get_space, space_from_spec
from ..validation import require_choice, require_positive
from .methods import METHODS

# settings a resumed run may change (``resume_search(out_dir, budget=...)``): they do not
# change the architectures proposed or their rewards (device: up to floating-point noise)
RESUME_OVERRIDES: dict[str, str] = {
    "budget": "budget",
    "device": "child.device",
    "progress": "progress",
    "policy_snapshots": "policy_snapshots",
}


@dataclass
class DataConfig:
    """The dataset the children train on."""

    dataset: str | None = "digits"  # a name in nasrl_nb.nn.data.DATASETS; None: a Dataset passed in code
    max_samples: int | None = None  # a stratified subset of this many images (None: all)
    data_seed: int = 0  # seeds the train/val/test split, fixed across search seeds


@dataclass
class ChildConfig:
    """How each proposed architecture is built as a network and trained (the reward's source)."""

    channels: int = 16  # stem / first-stage width
    cells_per_stage: int = 1  # cells per stage (cell space)
    epochs: int = 3  # training epochs per child (1 in quick mode)
    lr: float = 0.01  # child learning rate (Adam)
    batch_size: int = 64  # child mini-batch size
    lr_schedule: str = "constant"  # "constant" or "cosine" (annealed to 0 over the run)
    device: str = "auto"  # where children train: auto, cpu, cuda, cuda:N, mps (the controller stays on the CPU)

    def __post_init__(self):
        for name in ("channels", "cells_per_stage", "epochs", "batch_size"):
            require_positive(f"child.{name}", getattr(self, name), integer=True)
        require_positive("child.lr", self.lr)
        require_choice("child.lr_schedule", self.lr_schedule, ("constant", "cosine"))
        self.device = str(self.device)


@dataclass
class ControllerConfig:
    """The RNN controller of reinforce/ppo (:class:`~nasrl_nb.controllers.lstm.NASController`)."""

    hidden_size: int = 64  # LSTM width
    num_layers: int = 1  # stacked LSTM layers
    temperature: float = 1.0  # logits / T before sampling (Zoph & Le: exploration)
    tanh_constant: float | None = 2.5  # logits = c * tanh(logits) (ENAS), None: off
    skip_attention: bool = True  # skip decisions by attention over earlier layers (Zoph & Le Sec. 3.3)
    seed: int | None = None  # the sampling generator's seed; None: drawn from the search's seed


@dataclass
class TrainerConfig:
    """The policy-gradient update of reinforce/ppo (:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer`)."""

    lr: float = 3.5e-4  # controller learning rate (Adam)
    baseline_decay: float = 0.95  # exponential moving average of rewards (the baseline)
    entropy_weight: float = 1e-4  # entropy bonus in the loss
    normalize_advantages: bool = True  # divide advantages by their standard deviation (with a floor)
    grad_clip: float | None = 5.0  # clip the controller's gradient norm; None: off
    ppo_clip: float = 0.2  # PPO's epsilon: the ratio is clipped to [1 - eps, 1 + eps]
    ppo_epochs: int = 4  # PPO: passes over each batch
    target_kl: float | None = 0.02  # PPO: stop the epochs once the approximate KL passes 1.5 x this; None: off
    advantage_std_floor: float = 0.02  # floor on the rewards' std when normalising advantages
    value_baseline: bool = False  # a learned value head instead of the moving average
    value_lr: float = 1e-2  # its learning rate
    epsilon: float = 0.0  # probability of proposing a uniform random architecture instead
    schedule: dict | None = None  # Schedule fields: temperature/entropy curriculum; None: off


@dataclass
class EvolutionConfig:
    """Regularized evolution (Real et al. 2019): population P and tournament S."""

    population_size: int = 16  # P
    sample_size: int = 4  # S


@dataclass
class RewardConfig:
    """The reward (:func:`~nasrl_nb.rewards.objectives.make_reward`); ``custom`` when a reward_fn is passed."""

    max_params: float | None = None  # budget on parameters
    max_flops: float | None = None  # budget on FLOPs per image
    max_latency_ms: float | None = None  # budget on latency (batch of 1)
    constraint_mode: str = "hard"  # hard, penalty or mnasnet
    failure_reward: float = 0.0  # the reward of a child that failed to train
    custom: dict | None = None  # config() of a reward_fn passed in code (then the fields above are unused)


@dataclass
class SearchConfig:
    """The whole configuration of a run; ``to_dict`` is what ``config.json`` holds."""

    method: str = "reinforce"  # reinforce, ppo, random or evolution
    space: dict | str = "cell"  # a space name or spec; stored as the spec
    budget: int = 64  # architectures to evaluate (16 in quick mode)
    batch_size: int = 8  # architectures per step (4 in quick mode)
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

    def __post_init__(self):
        require_choice("method", self.method, METHODS)
        require_positive("budget", self.budget, integer=True)
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
    def to_dict(self) -> dict:
        """Plain JSON (nested dicts), as written to ``config.json``."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping) -> SearchConfig:
        """The inverse of :meth:`to_dict`; an unknown key is a ValueError naming it and the allowed keys."""
        data = dict(_check_keys("config", data, cls))
        for name, kind in _SECTIONS.items():
            if name in data:
                data[name] = kind(**_check_keys(name, data[name], kind))
        return cls(**data)

    # --- make_search's flat keywords -------------------------------------------------------
    @classmethod
    def from_settings(cls, **settings) -> SearchConfig:
        """A config from :func:`~nasrl_nb.search.factory.make_search`'s keywords (quick-mode defaults)."""
        base = cls(budget=16, batch_size=4, child=ChildConfig(epochs=1)) if quick_mode() else cls()
        return base.with_settings(**settings)

    def with_settings(self, **settings) -> SearchConfig:
        """A copy with ``make_search`` keywords applied (``epochs=2``, ``trainer_kwargs={...}``...).

        ``controller_kwargs``/``trainer_kwargs`` update their section key by key; ``None``
        for one of them, or for ``schedule``'s fields, leaves the section as it is.
        """
        data = copy.deepcopy(self.to_dict())
        for key, value in settings.items():
            if key in ("controller_kwargs", "trainer_kwargs"):
                section = "controller" if key == "controller_kwargs" else "trainer"
                if value is None:
                    continue
                if not isinstance(value, Mapping):
                    raise ValueError(f"{key}: expected a dict of {section} options, got {type(value).__name__}")
                data[section].update(_plain(_check_keys(key, value, _SECTIONS[section])))
                continue
            path = SETTINGS.get(key)
            if path is None:
                allowed = ", ".join(sorted(SETTINGS) + ["controller_kwargs", "trainer_kwargs"])
                raise ValueError(f"{key}: not a search setting; allowed keywords: {allowed}")
            if key == "dataset" and value is not None and not isinstance(value, str):
                value = None  # a Dataset object: custom data, passed to make_search, not stored
            _set(data, path, value)
        return type(self).from_dict(data)


def _plain(options: Mapping) -> dict:
    """Options as plain JSON: a :class:`~nasrl_nb.rl.policy_gradient.Schedule` becomes its fields."""
    out = dict(options)
    if dataclasses.is_dataclass(out.get("schedule")):
        out["schedule"] = dataclasses.asdict(out["schedule"])
    return out


_SECTIONS = {
    "data": DataConfig,
    "child": ChildConfig,
    "controller": ControllerConfig,
    "trainer": TrainerConfig,
    "evolution": EvolutionConfig,
    "reward": RewardConfig,
}

# make_search keyword -> dotted path in SearchConfig
SETTINGS: dict[str, str] = {
    "method": "method",
    "space": "space",
    "budget": "budget",
    "batch_size": "batch_size",
    "seed": "seed",
    "progress": "progress",
    "policy_snapshots": "policy_snapshots",
    "dataset": "data.dataset",
    "max_samples": "data.max_samples",
    "data_seed": "data.data_seed",
    "channels": "child.channels",
    "cells_per_stage": "child.cells_per_stage",
    "epochs": "child.epochs",
    "lr": "child.lr",
    "child_batch_size": "child.batch_size",
    "lr_schedule": "child.lr_schedule",
    "device": "child.device",
    "population_size": "evolution.population_size",
    "sample_size": "evolution.sample_size",
    "max_params": "reward.max_params",
    "max_flops": "reward.max_flops",
    "max_latency_ms": "reward.max_latency_ms",
    "constraint_mode": "reward.constraint_mode",
    "failure_reward": "reward.failure_reward",
}


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


def _flatten(data: Mapping, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "space" and key in _SECTIONS:
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
