"""The settings of the controller's optimisers as dataclasses: the one place their defaults live.

:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer` (REINFORCE, PPO), A2C, TRPO,
discrete SAC and the factored bandits read their keyword defaults from these fields; a
search's ``config.json`` stores them in its ``trainer``, ``a2c``, ``trpo``, ``sac`` and
``bandit`` sections (:class:`~nasrl_nb.assembly.config.SearchConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import choice, require_choices

OPTIMIZERS = ("sgd", "adam")
ADVANTAGE_STDS = ("history", "batch")


@dataclass
class TrainerConfig:
    """The policy-gradient update of reinforce/ppo (:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer`)."""

    lr: float = 0.2  # controller learning rate (of `optimizer`)
    optimizer: str = choice("sgd", OPTIMIZERS)  # sgd: steps proportional to the advantages; adam: Zoph & Le's and ENAS's (long runs)
    baseline_decay: float = 0.95  # exponential moving average of rewards (the baseline)
    entropy_weight: float = 1e-4  # entropy bonus in the loss
    normalize_advantages: bool = True  # divide advantages by a reward standard deviation (advantage_std)
    advantage_std: str = choice("history", ADVANTAGE_STDS)  # history: std of every reward so far (scale-free); batch: this batch's, floored
    grad_clip: float | None = 5.0  # clip the controller's gradient norm; None: off
    ppo_clip: float = 0.2  # PPO's epsilon: the ratio is clipped to [1 - eps, 1 + eps]
    ppo_epochs: int = 4  # PPO: passes over each batch
    target_kl: float | None = 0.02  # PPO: stop the epochs once the approximate KL passes 1.5 x this; None: off
    advantage_std_floor: float = 0.02  # advantage_std "batch": floor on the batch's reward std
    value_baseline: bool = False  # a learned value head instead of the moving average
    value_lr: float = 1e-2  # its learning rate
    epsilon: float = 0.0  # probability of proposing a uniform random architecture instead
    schedule: dict | None = None  # Schedule fields: temperature/entropy curriculum; None: off
    rank_window: int | None = None  # advantages from reward ranks among the last this many rewards; None: R - b

    def __post_init__(self):
        require_choices(self, "trainer")


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
    critic_lr: float = 1e-2  # the critic's Adam learning rate
    critic_steps: int = 50  # critic steps on the replay buffer per update
    policy_steps: int = 5  # controller steps towards softmax(Q / alpha) per update
    policy_samples: int = 64  # architectures the critic scores per policy step (not evaluated)
    target_entropy: float = 0.3  # target entropy, a fraction of the uniform policy's
    alpha: float = 0.5  # initial temperature (units of the rewards' std)
    alpha_lr: float = 0.05  # Adam learning rate of log alpha


@dataclass
class BanditConfig:
    """Factored bandits (:mod:`nasrl_nb.rl.bandits`, methods ucb and thompson)."""

    exploration: float = 1.0  # ucb: c in mean + c sigma sqrt(2 ln N / n)
    prior_count: float = 1.0  # thompson: pseudo-observations at the global mean
    std_floor: float = 0.01  # the smallest reward std sigma
