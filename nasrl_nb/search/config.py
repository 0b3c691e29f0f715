"""The configuration of a search as a few small dataclasses, written to ``config.json``.

Everything that decides what a run does -- the space, the data, how each child is built
and trained, the controller and its trainer, evolution's population, the reward -- lives
in one :class:`SearchConfig` made of plain values (as nanoGPT's ``GPTConfig``). It is
serialised into the run folder (:mod:`nasrl_nb.search.run_folder`) and compared with the
configuration of a resumed run: anything different is an error naming the fields, except
the :data:`RESUME_OVERRIDES`, which do not change which architectures are proposed or how
they score.

``SearchConfig.from_settings(method="ppo", epochs=2, trainer_kwargs={"lr": 0.05})`` maps
:func:`~nasrl_nb.search.factory.make_search`'s flat keywords onto the dataclasses through
:data:`SETTINGS`, a table generated from the fields (a new field is a keyword at once); an
unknown key anywhere is a ``ValueError`` naming it and the allowed keys.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..controllers.registry import CONTROLLERS
from ..oneshot.darts import VIRTUAL_STEPS
from ..oneshot.darts_strategy import DARTS_DEFAULTS, REMEDIES
from ..oneshot.enas import ONESHOT_DEFAULTS, ONESHOT_METHODS
from ..oneshot.mixed_op import BATCH_NORMS
from ..rewards.objectives import OBJECTIVES, check_weights
from ..rl.policy_gradient import ADVANTAGE_STDS, OPTIMIZERS, Schedule
from ..runtime import quick_mode
from ..spaces.registry import get_space, space_from_spec
from ..validation import require_choice, require_positive
from .methods import BANDIT_METHODS, METHODS, RL_METHODS

REWARD_OBJECTIVES = (*OBJECTIVES, "multi")  # multi: the seed's compute_reward with weights (MultiObjectiveReward)

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


SUPERNET_CHILD_SETTINGS = ("channels", "cells_per_stage", "device")  # what a supernet takes from ``child``


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
    precision: str = "fp32"  # fp32, or bf16: autocast on CUDA
    threads: int = 1  # intra-op torch threads per child, the same in the serial, process and Ray evaluators

    def __post_init__(self):
        for name in ("channels", "cells_per_stage", "epochs", "batch_size"):
            require_positive(f"child.{name}", getattr(self, name), integer=True)
        require_positive("child.lr", self.lr)
        require_choice("child.lr_schedule", self.lr_schedule, ("constant", "cosine"))
        require_choice("child.precision", self.precision, ("fp32", "bf16"))
        require_positive("child.threads", self.threads, integer=True)
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
    kind: str = "lstm"  # the core: lstm (Zoph & Le), gru or attention (nasrl_nb.controllers.registry)
    num_heads: int = 2  # attention controller only: heads per block

    def __post_init__(self):
        require_choice("controller.kind", self.kind, CONTROLLERS)


@dataclass
class TrainerConfig:
    """The policy-gradient update of reinforce/ppo (:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer`)."""

    lr: float = 0.2  # controller learning rate (of `optimizer`)
    optimizer: str = "sgd"  # sgd: steps proportional to the advantages; adam: Zoph & Le's and ENAS's (long runs)
    baseline_decay: float = 0.95  # exponential moving average of rewards (the baseline)
    entropy_weight: float = 1e-4  # entropy bonus in the loss
    normalize_advantages: bool = True  # divide advantages by a reward standard deviation (advantage_std)
    advantage_std: str = "history"  # history: std of every reward so far (scale-free); batch: this batch's, floored
    grad_clip: float | None = 5.0  # clip the controller's gradient norm; None: off
    ppo_clip: float = 0.2  # PPO's epsilon: the ratio is clipped to [1 - eps, 1 + eps]
    ppo_epochs: int = 4  # PPO: passes over each batch
    target_kl: float | None = 0.02  # PPO: stop the epochs once the approximate KL passes 1.5 x this; None: off
    advantage_std_floor: float = 0.02  # advantage_std "batch": floor on the batch's reward std
    value_baseline: bool = False  # a learned value head instead of the moving average
    value_lr: float = 1e-2  # its learning rate
    epsilon: float = 0.0  # probability of proposing a uniform random architecture instead
    schedule: dict | None = None  # Schedule fields: temperature/entropy curriculum; None: off

    def __post_init__(self):
        require_choice("trainer.optimizer", self.optimizer, OPTIMIZERS)
        require_choice("trainer.advantage_std", self.advantage_std, ADVANTAGE_STDS)


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
    objective: str = "accuracy"  # accuracy, zoph_le, or multi: compute_reward(accuracy, efficiency, complexity)
    weights: list | None = None  # multi: (w_accuracy, w_efficiency, w_complexity); None: (1, 0, 0)
    reference_params: float | None = None  # multi: params at which complexity reaches 1
    reference_latency_ms: float | None = None  # multi: latency at which efficiency reaches 0

    def __post_init__(self):
        require_choice("reward.objective", self.objective, REWARD_OBJECTIVES)
        if self.objective != "multi" and (self.weights is not None or self.reference_params is not None
                                          or self.reference_latency_ms is not None):
            raise ValueError("reward_weights, reference_params, reference_latency_ms: only for reward 'multi', "
                             f"not {self.objective!r}")
        if self.weights is not None:
            self.weights = list(check_weights(self.weights))


@dataclass
class ParallelConfig:
    """Where children train (:mod:`nasrl_nb.search.parallel`) and whether updates wait for whole batches."""

    evaluator: str = "serial"  # serial, process (local worker processes) or ray
    workers: int = 1  # children trained at once (process, ray)
    ray_address: str | None = None  # a Ray cluster to join; None: a local Ray that lives as long as the search
    asynchronous: bool = False  # update once batch_size results are in while others still train (staleness recorded)

    def __post_init__(self):
        require_choice("parallel.evaluator", self.evaluator, ("serial", "process", "ray"))
        require_positive("parallel.workers", self.workers, integer=True)
        if self.evaluator == "serial" and self.workers != 1:
            raise ValueError(f"workers: {self.workers} needs evaluator 'process' or 'ray'; the serial evaluator has 1 worker")
        if self.ray_address is not None and (self.evaluator != "ray" or not isinstance(self.ray_address, str)):
            raise ValueError(f"ray_address: {self.ray_address!r} is only for evaluator 'ray' (an address string)")
        if not isinstance(self.asynchronous, bool):
            raise ValueError(f"parallel.asynchronous: must be True or False, got {self.asynchronous!r}")


@dataclass
class SupernetConfig:
    """The shared-weight supernet of enas and random_ws (:class:`~nasrl_nb.oneshot.evaluator.SharedWeightEvaluator`).

    Its width and cells come from ``child`` (``channels``, ``cells_per_stage``), its device from ``child.device``.
    """

    train_steps: int | None = None  # shared-weight minibatches per phase 1; None: one pass over the training split
    warmup_steps: int = 0  # minibatches with uniform architectures before the first step
    lr: float = 0.05  # SGD with Nesterov momentum (ENAS)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float | None = 5.0  # clip the shared weights' gradient norm; None: off
    batch_size: int = 64  # training minibatch
    eval_batch_size: int = 128  # the validation minibatch that scores one architecture
    lr_schedule: str = "cosine"  # cosine: SGDR from lr to lr_min (ENAS Sec. 3.2); constant: lr throughout
    lr_min: float = 0.001  # the cosine's floor (ENAS: 0.001)
    lr_t0: float = 10.0  # the first cosine cycle, in epochs (ENAS: T_0 = 10)
    lr_t_mul: float = 2.0  # each next cycle this many times longer (ENAS: T_mul = 2)
    controller_steps: int = 1  # search steps (controller updates) per phase 1; enas: ENAS_CONTROLLER_STEPS

    def __post_init__(self):
        if self.train_steps is not None:
            require_positive("supernet.train_steps", self.train_steps, integer=True)
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"supernet.warmup_steps: must be an integer >= 0, got {self.warmup_steps!r}")
        require_positive("supernet.lr", self.lr)
        require_positive("supernet.batch_size", self.batch_size, integer=True)
        require_positive("supernet.eval_batch_size", self.eval_batch_size, integer=True)
        require_choice("supernet.lr_schedule", self.lr_schedule, ("cosine", "constant"))
        if isinstance(self.lr_min, bool) or not isinstance(self.lr_min, (int, float)) or not 0 <= self.lr_min < float("inf"):
            raise ValueError(f"supernet.lr_min: must be a finite number >= 0, got {self.lr_min!r}")
        require_positive("supernet.lr_t0", self.lr_t0)
        if isinstance(self.lr_t_mul, bool) or not isinstance(self.lr_t_mul, (int, float)) or not 1 <= self.lr_t_mul < float("inf"):
            raise ValueError(f"supernet.lr_t_mul: must be a finite number >= 1, got {self.lr_t_mul!r}")
        require_positive("supernet.controller_steps", self.controller_steps, integer=True)


@dataclass
class DartsConfig:
    """DARTS's bilevel search (:class:`~nasrl_nb.oneshot.darts_strategy.DartsStrategy`, method darts).

    The supernet's width and cells come from ``child`` (``channels``, ``cells_per_stage``), its device from ``child.device``.
    """

    second_order: bool = False  # the unrolled architecture gradient (DARTS Eq. 7-8)
    batch_size: int = 64  # minibatch of each half of the training split
    w_lr: float = 0.025  # SGD on the weights, cosine-annealed to w_lr_min over `epochs`
    w_lr_min: float = 0.001
    w_momentum: float = 0.9
    w_weight_decay: float = 3e-4
    grad_clip: float | None = 5.0
    alpha_lr: float = 3e-4  # Adam on the alphas, betas (0.5, 0.999)
    alpha_weight_decay: float = 1e-3
    epochs: int | None = None  # planned search epochs (cosine, DARTS-'s decay); None: the budget
    remedy: str = "none"  # none, darts- (auxiliary skip), darts+ (early stop on skips), r-darts-l2 (one grid point: weight decay x 27)
    aux_skip_weight: float = 1.0  # DARTS-: beta at the start, decayed linearly to 0
    max_skips: int = 2  # DARTS+: stop once the derived cell has this many skip connections
    virtual_step: str = "sgd"  # second order's w': sgd (Eq. 6) or reference (+ momentum and weight decay, as quark0's code)
    batch_norm: str = "darts"  # the supernet's BNs: darts (affine=False, BN after pools, as the paper searched) or affine

    def __post_init__(self):
        require_choice("darts.remedy", self.remedy, REMEDIES)
        require_choice("darts.virtual_step", self.virtual_step, VIRTUAL_STEPS)
        require_choice("darts.batch_norm", self.batch_norm, BATCH_NORMS)
        if not isinstance(self.second_order, bool):
            raise ValueError(f"darts.second_order: must be True or False, got {self.second_order!r}")
        for name in ("batch_size", "max_skips") + (("epochs",) if self.epochs is not None else ()):
            require_positive(f"darts.{name}", getattr(self, name), integer=True)
        for name in ("w_lr", "alpha_lr"):
            require_positive(f"darts.{name}", getattr(self, name))


@dataclass
class A2CConfig:
    """A2C's critic (:class:`~nasrl_nb.rl.a2c.A2CTrainer`, method a2c); lr, entropy etc. come from ``trainer``."""

    value_coef: float = 0.5  # weight of the critic's squared error in the shared loss
    gae_lambda: float = 1.0  # GAE's lambda: 1 = Monte-Carlo advantage R - V(h_t), < 1 bootstraps


@dataclass
class TRPOConfig:
    """TRPO's trust region (:class:`~nasrl_nb.rl.trpo.TRPOTrainer`, method trpo); it has no learning rate."""

    max_kl: float = 0.01  # bound on the mean KL(pi_old || pi_new) per architecture
    cg_iterations: int = 10  # conjugate-gradient iterations for F^-1 g
    cg_damping: float = 0.1  # (F + c I)
    backtracks: int = 10  # step halvings of the line search


@dataclass
class SACConfig:
    """Discrete SAC for NAS (:class:`~nasrl_nb.rl.sac.SoftActorCritic`, method sac); its lr is ``trainer.lr``."""

    critic_hidden: int = 64  # the reward critic's width
    critic_lr: float = 1e-2
    critic_steps: int = 50  # critic steps on the replay buffer per update
    policy_steps: int = 5  # controller steps towards softmax(Q / alpha) per update
    policy_samples: int = 64  # architectures the critic scores per policy step (not evaluated)
    target_entropy: float = 0.3  # target entropy, a fraction of the uniform policy's
    alpha: float = 0.5  # initial temperature (units of the rewards' std)
    alpha_lr: float = 0.05


@dataclass
class BanditConfig:
    """Factored bandits (:mod:`nasrl_nb.rl.bandits`, methods ucb and thompson)."""

    exploration: float = 1.0  # ucb: c in mean + c sigma sqrt(2 ln N / n)
    prior_count: float = 1.0  # thompson: pseudo-observations at the global mean
    std_floor: float = 0.01  # the smallest reward std sigma


@dataclass
class CurriculumConfig:
    """Growing a layered space (macro, zoph-le) in depth (:class:`~nasrl_nb.search.curriculum.CurriculumStrategy`)."""

    enabled: bool = False  # on: the search starts shallow and adds layers (reinforce, ppo, a2c, trpo; macro or zoph-le space)
    start_layers: int = 1  # the first stage's depth
    grow_every: int | None = None  # architectures per stage; None: the budget split evenly over the stages
    step_layers: int = 1  # layers added at each growth

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise ValueError(f"curriculum.enabled: must be True or False, got {self.enabled!r}")
        require_positive("curriculum.start_layers", self.start_layers, integer=True)
        require_positive("curriculum.step_layers", self.step_layers, integer=True)
        if self.grow_every is not None:
            require_positive("curriculum.grow_every", self.grow_every, integer=True)


@dataclass
class SearchConfig:
    """The whole configuration of a run; ``to_dict`` is what ``config.json`` holds."""

    method: str = "reinforce"  # a name in nasrl_nb.search.methods.METHODS (enas, random_ws: a shared-weight supernet)
    space: dict | str = "cell"  # a space name or spec; stored as the spec
    budget: int = 64  # architectures to evaluate (16 in quick mode)
    batch_size: int | None = None  # architectures per step; None: batch_size_rule(method, budget, workers)
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

        All of them when a :class:`~nasrl_nb.search.evaluation.ChildEvaluator` trains each
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
        """A config from :func:`~nasrl_nb.search.factory.make_search`'s keywords (quick-mode defaults)."""
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


# How many architectures one update sees, when not given. A lab's budget is 50-300 evaluations;
# about 25 updates learn visibly within it (benchmarks/learning_curves.py, BENCHMARKS.md), and
# fewer than 2 architectures per batch leave the first update without a signal (its baseline is
# the batch's own mean). Worker processes each train one child of a batch, so a batch is at least
# as large as the workers. Regularized evolution replaces one member per child (Real et al. 2019),
# so it steps as soon as each worker's child is back.
BATCH_SIZE_RULE = "budget // 25, within [2, 8] (evolution: 1), and at least the number of workers"


def batch_size_rule(method: str, budget: int, workers: int = 1) -> int:
    """The batch size :data:`BATCH_SIZE_RULE` gives ``method`` at ``budget`` evaluations on ``workers`` workers."""
    batch = 1 if method == "evolution" else min(8, max(2, budget // 25))
    return max(batch, workers)


# Each method's defaults (make_search keywords), chosen for a lab's budget of 50-300 evaluations
# by benchmarks/learning_curves.py on validation seeds (BENCHMARKS.md, "Defaults that learn").
# REINFORCE uses TrainerConfig's own defaults (plain SGD, advantages over the history's std).
# PPO, A2C and SAC step with Adam: PPO's KL bound and SAC's critic set their step size themselves.
METHOD_DEFAULTS: dict[str, dict] = {
    "ppo": {"trainer_kwargs": {"optimizer": "adam", "lr": 0.05, "entropy_weight": 1e-2, "advantage_std": "batch"}},
    "a2c": {"trainer_kwargs": {"optimizer": "adam", "lr": 0.01, "advantage_std": "batch"}},
    "trpo": {"trpo_kwargs": {"max_kl": 0.2}, "trainer_kwargs": {"advantage_std": "batch"}},
    "sac": {"trainer_kwargs": {"lr": 0.05}, "sac_kwargs": {"target_entropy": 0.6}},  # SAC steps with Adam
    "ucb": {"bandit_kwargs": {"exploration": 16.0}},
    "thompson": {"bandit_kwargs": {"prior_count": 16.0}},
}

# Presets: documented settings for other purposes than a lab's budget (make_search(preset=...),
# --preset). "zoph-le": Zoph & Le's own controller training (2017, Sec. 4.1: Adam at 6e-4 on raw
# advantages R - b, for 12,800 architectures on 800 GPUs): for long runs, not a default.
PRESETS: dict[str, dict] = {
    "zoph-le": {"trainer_kwargs": {"optimizer": "adam", "lr": 6e-4, "normalize_advantages": False}},
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


def keywords(config_class: type, sections: Mapping[str, type], aliases: Mapping[str, str] = ALIASES) -> dict[str, str]:
    """make_search keyword -> dotted path in ``config_class`` with ``sections`` (see the comment above)."""
    paths = {f.name: f.name for f in dataclasses.fields(config_class) if f.name not in (*sections, *NOT_KEYWORDS)}
    owners: dict[str, list[str]] = {}
    for section, kind in sections.items():
        for f in dataclasses.fields(kind):
            owners.setdefault(f.name, []).append(section)
    aliased = set(aliases.values())
    for section, kind in sections.items():
        for f in dataclasses.fields(kind):
            path = f"{section}.{f.name}"
            if path in aliased or path in NOT_KEYWORDS:
                continue
            keyword = f.name if len(owners[f.name]) == 1 and f.name not in paths else f"{section}_{f.name}"
            if keyword in paths or keyword in aliases or keyword.removesuffix("_kwargs") in sections:
                raise ValueError(f"{keyword}: a make_search keyword for two fields, {paths.get(keyword)} and {path}")
            paths[keyword] = path
    return {**paths, **aliases}


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
}


def check_method_sections(method: str, settings: Mapping) -> None:
    """A keyword that sets a field of a section ``method`` does not read is refused, naming the
    keyword and the methods that read it; a value equal to the field's default changes nothing."""
    for key, value in settings.items():
        section = key.removesuffix("_kwargs") if key in SECTION_KWARGS else SETTINGS.get(key, "").partition(".")[0]
        methods = METHOD_SECTIONS.get(section)
        if methods is None or method in methods or value is None:
            continue
        defaults = SECTIONS[section]()
        given = value if key in SECTION_KWARGS else {SETTINGS[key].partition(".")[2]: value}
        if isinstance(given, Mapping) and all(getattr(defaults, k, None) == v for k, v in given.items()):
            continue
        names = f"method {' or '.join(methods)}" if len(methods) < 3 else f"{', '.join(methods[:-1])} and {methods[-1]}"
        raise ValueError(f"{key}: only for {names}, not method={method!r}")


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
