"""Policy-gradient training of the controller: REINFORCE (and the trainer PPO shares).

REINFORCE (Williams 1992; Zoph & Le 2017, Sec. 3.2, eq. 3) follows
``grad J = E[sum_t grad log pi(a_t | a_<t) (R - b)]`` with an exponential moving average
baseline ``b``. One update, in order:

1. ``b`` is the EMA of the *earlier* batches' mean rewards (on the very first update there
   is none: ``b`` is that batch's own mean reward, see :meth:`PolicyGradientTrainer.batch_baseline`);
2. each architecture's advantage is ``A_k = R_k - b``, divided by a reward scale: the standard
   deviation of every reward seen so far (``advantage_std="history"``, the default), or of this
   batch's rewards, floored (``"batch"``; :func:`scale_advantages`);
3. the loss is formed from exactly these ``A_k`` and the policy steps;
4. only then does the EMA take in this batch: ``b <- d b + (1 - d) mean(R)``.

PPO (``algorithm="ppo"``) takes steps 1, 2 and 4 from here and replaces step 3's single step by
up to ``ppo_epochs`` clipped steps against the policy before the update (:mod:`.ppo`).
The losses are pure functions; the trainer holds the state that survives between updates
(optimizer, baseline, reward statistics, step count). :class:`UpdateStats` reports exactly what
the update used.

Why plain SGD and the history's reward scale by default: a step of Adam has about the same size
whatever the advantages are (it divides by their running magnitude), so on noisy rewards a high
learning rate commits early to whatever cell got lucky and a low one never moves. SGD's step is
proportional to the advantages: large while the rewards spread around the baseline, smaller as the
baseline catches up with a policy that has settled. Dividing by the spread of *all* rewards seen
(not the batch's) keeps that property and makes the learning rate independent of the reward's units
(accuracy in [0, 1] or in percent, a table whose cells lie close together or far apart).

Rank advantages (``rank_window=W``, REINFORCE's default in ``assembly.config.METHOD_DEFAULTS``)
replace steps 1-2 by fitness shaping (Wierstra et al., JMLR 2014, Sec. 3.1; Salimans et al. 2017):
``A_k = sqrt(12) (F(R_k) - 1/2)``, ``F`` the reward's mid-rank quantile among the last ``W``
rewards, this batch's included (:func:`rank_advantages`). A z-score ``(R - b) / sigma`` is
scale-free but not shape-free: on a table with a tail of broken cells near chance, ``sigma`` is
set by that tail, so once the policy samples only good cells their advantages shrink and the
search stops separating them. Ranks among the recent rewards give the better half of the latest
samples the same push whatever the gap, and any increasing transform of the reward leaves every
update unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..controllers.lstm import Controller
from ..validation import require_choice, require_fraction, require_positive
from .config import ADVANTAGE_STDS, OPTIMIZERS, TrainerConfig
from .live_settings import LiveSettings
from .ppo import ppo_update

ALGORITHMS = ("reinforce", "ppo")


@dataclass(frozen=True)
class Schedule:
    """Linear curriculum per update: temperature and entropy weight from start to end.

    A hot, entropy-rich policy explores early; after ``steps`` updates the end values hold.
    """

    temperature_start: float = 5.0
    temperature_end: float = 1.0
    entropy_start: float = 1e-2
    entropy_end: float = 1e-4
    steps: int = 100

    def __post_init__(self):
        require_positive("temperature_start", self.temperature_start)
        require_positive("temperature_end", self.temperature_end)
        _require_non_negative("entropy_start", self.entropy_start)
        _require_non_negative("entropy_end", self.entropy_end)
        require_positive("steps", self.steps, integer=True)

    def at(self, step: int) -> tuple[float, float]:
        """(temperature, entropy_weight) for update number ``step`` (0-based)."""
        frac = min(step / self.steps, 1.0)
        temperature = self.temperature_start + frac * (self.temperature_end - self.temperature_start)
        entropy_weight = self.entropy_start + frac * (self.entropy_end - self.entropy_start)
        return temperature, entropy_weight


@dataclass
class UpdateStats:
    """What one :meth:`PolicyGradientTrainer.update_policy` did (plain numbers, JSON-safe).

    ``baseline`` is the value the advantages were computed with: the EMA of the earlier
    batches' mean rewards, before this batch (on the first update, this batch's mean
    reward), or the critic's V(start state) with a value baseline. ``advantages`` are the
    ones the loss used, one per architecture, after any normalisation (with a value
    baseline each decision has its own, in ``decision_advantages`` (B x D); ``advantages``
    is then their mean over decisions). ``kl`` (the approximate KL(pi_old || pi_new) on the
    batch, measured after the last epoch) and ``clip_fraction`` (averaged over the epochs
    run) are PPO's, None otherwise; ``epochs`` is how many passes over the batch stepped
    the policy (PPO may stop early) and ``kl_stopped`` whether the KL bound stopped them.
    ``loss`` and ``grad_norm`` (before clipping) average the epochs.
    """

    step: int
    loss: float
    baseline: float
    advantages: list[float]
    mean_reward: float
    entropy: float
    grad_norm: float
    kl: float | None
    clip_fraction: float | None
    lr: float
    entropy_weight: float
    temperature: float
    value_loss: float | None = None
    epochs: int = 1
    kl_stopped: bool | None = None
    decision_advantages: list[list[float]] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def reinforce_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """``-mean_b sum_t A_bt log pi(a_bt | a_b,<t)``: its gradient estimates -grad J.

    ``log_probs`` is (B, D) (or (B,) for whole architectures); ``advantages`` broadcasts to it.
    """
    per_arch = (advantages * log_probs).reshape(log_probs.shape[0], -1).sum(1)  # (B,)
    return -per_arch.mean()


def epsilon_greedy_weights(log_pi: torch.Tensor, log_uniform: float, epsilon: float) -> torch.Tensor:
    """Importance weights ``pi(a) / mu(a)`` for samples of the epsilon-greedy mixture ``mu``.

    ``mu = (1 - eps) pi + eps u`` draws from the controller ``pi`` or, with probability
    ``eps``, uniformly (``u(a) = prod_t 1 / K_t``). REINFORCE's expectation is over ``pi``,
    so a sample of ``mu`` is reweighted (importance sampling, Sutton & Barto 2018, Sec. 5.5):
    ``E_mu[w (R - b) grad log pi] = E_pi[(R - b) grad log pi]`` with
    ``w = pi / mu = 1 / ((1 - eps) + eps u / pi)``, which lies in ``[0, 1 / (1 - eps)]``
    (so the weighted estimator's variance stays bounded), and the baseline cancels again.
    ``log_pi`` (B,) is each architecture's ``log pi(a)``; the result (B,) carries no gradient.
    """
    log_pi = log_pi.detach()
    return 1.0 / ((1 - epsilon) + epsilon * torch.exp(log_uniform - log_pi))


def scale_advantages(advantages: torch.Tensor, rewards: torch.Tensor, std_floor: float) -> torch.Tensor:
    """``A / max(std(R), std_floor)``: the advantages on a common scale, not re-centred.

    ``std(R)`` is the batch's reward standard deviation; the floor keeps nearly equal rewards
    (batch noise) from being stretched into huge advantages. A batch of one has no spread to
    measure and is returned unchanged.
    """
    if rewards.numel() < 2:
        return advantages
    return advantages / max(float(rewards.std()), std_floor)


def rank_advantages(rewards: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """``sqrt(12) (F(R_k) - 1/2)``: each reward's mid-rank quantile ``F`` in ``window``, centred and scaled.

    ``F(R) = (#{w < R} + #{w == R} / 2) / n`` over the ``n`` rewards of ``window`` (which holds
    ``rewards`` themselves), so ``F`` averages 1/2 over the window and the window's median is the
    baseline. Uniform quantiles have standard deviation ``1 / sqrt(12)``, so the advantages have
    unit spread, as standardised ones do. Fitness shaping by ranks (Wierstra et al., JMLR 2014,
    Sec. 3.1; Salimans et al. 2017's centred ranks): the result depends only on the order of the
    rewards, so any increasing transform of the reward (units, a table's spread, ranks) leaves
    every update unchanged.
    """
    below = (window[None, :] < rewards[:, None]).sum(1).to(rewards.dtype)  # (B,)
    equal = (window[None, :] == rewards[:, None]).sum(1).to(rewards.dtype)  # (B,), counts R_k itself
    quantile = (below + equal / 2) / window.numel()
    return math.sqrt(12.0) * (quantile - 0.5)


class PolicyGradientTrainer(LiveSettings):
    """Updates a :class:`Controller` from (architecture, reward) batches.

    Args:
        controller: the policy.
        algorithm: ``"reinforce"`` or ``"ppo"``.
        lr: the optimiser's learning rate (settable at run time: :attr:`lr`).
        optimizer: ``"sgd"`` (plain SGD: steps proportional to the advantages) or ``"adam"``
            (Zoph & Le's and ENAS's choice, for long runs at small learning rates).
        baseline_decay: EMA decay ``d`` in ``b <- d b + (1 - d) mean(R)``, in [0, 1).
        entropy_weight: bonus ``w`` in ``loss -= w * mean entropy`` (settable at run time).
        normalize_advantages: divide the advantages by a reward standard deviation (see
            ``advantage_std``). They are not re-centred, so the baseline still decides which
            architectures are pushed up.
        advantage_std: ``"history"``: the std of every reward seen so far, this batch's
            included (scale-free; it stays at the search's whole spread while the batches
            settle, so steps shrink as the baseline catches up); ``"batch"``:
            ``max(std(R), advantage_std_floor)`` of this batch (skipped when B == 1).
        advantage_std_floor: ``"batch"`` only: the smallest std the advantages are divided by
            (> 0): rewards closer together than this are treated as noise, not stretched
            apart. 0.02 is two points of accuracy for rewards in [0, 1].
        grad_clip: max gradient norm (``clip_grad_norm_``); None disables clipping.
        ppo_clip, ppo_epochs: PPO's epsilon and the most passes over each batch.
        target_kl: PPO's trust region (Stable-Baselines3's ``target_kl``): after each epoch
            the approximate KL(pi_old || pi) on the batch is measured; once it passes
            ``1.5 * target_kl`` that epoch's step is halved (up to 10 times, then undone)
            until it is back inside, and the remaining epochs are skipped. None disables it.
        value_baseline: replace the EMA by a learned critic ``V(h_t)`` (a linear head on
            the controller's detached LSTM state at each decision, fit by MSE to the
            rewards, Adam with ``value_lr``); the advantage of decision t is then
            ``R - V(h_t)``, an unbiased baseline because ``h_t`` depends only on earlier
            choices. Its bias starts at the first batch's mean reward.
        epsilon: in :meth:`propose`, each architecture is replaced by a uniform random one
            with probability ``epsilon``; the update then weights each architecture's
            advantages by ``pi / mu`` (:func:`epsilon_greedy_weights`), so that the gradient
            is still REINFORCE's (PPO's, A2C's, TRPO's) expectation under the controller.
        schedule: a :class:`Schedule`; it sets the controller's temperature and the
            entropy weight before each update's sampling (overriding manual values).
        rank_window: None (the default): advantages ``R - b`` as above. An integer ``W``:
            rank advantages instead (:func:`rank_advantages`): each reward's centred quantile
            among the last ``W`` rewards, this batch's included, so that only the order of the
            rewards counts (their units, spread and shape do not). The EMA and
            ``normalize_advantages`` are then unused; the stats' ``baseline`` is the window's median.
    """

    def __init__(
        self,
        controller: Controller,
        *,
        algorithm: str = "reinforce",
        lr: float = TrainerConfig.lr,
        optimizer: str = TrainerConfig.optimizer,
        baseline_decay: float = TrainerConfig.baseline_decay,
        entropy_weight: float = TrainerConfig.entropy_weight,
        normalize_advantages: bool = TrainerConfig.normalize_advantages,
        advantage_std: str = TrainerConfig.advantage_std,
        grad_clip: float | None = TrainerConfig.grad_clip,
        ppo_clip: float = TrainerConfig.ppo_clip,
        ppo_epochs: int = TrainerConfig.ppo_epochs,
        target_kl: float | None = TrainerConfig.target_kl,
        advantage_std_floor: float = TrainerConfig.advantage_std_floor,
        value_baseline: bool = TrainerConfig.value_baseline,
        value_lr: float = TrainerConfig.value_lr,
        epsilon: float = TrainerConfig.epsilon,
        schedule: Schedule | None = TrainerConfig.schedule,
        rank_window: int | None = TrainerConfig.rank_window,
    ):
        if not isinstance(controller, Controller):
            raise ValueError(f"controller: expected a Controller, got {type(controller).__name__}")
        self.controller = controller
        self.algorithm = require_choice("algorithm", algorithm, ALGORITHMS)
        require_positive("lr", lr)
        if isinstance(baseline_decay, bool) or not isinstance(baseline_decay, (int, float)) or not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay: must be a number in [0, 1), got {baseline_decay!r}")
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = entropy_weight
        self.normalize_advantages = bool(normalize_advantages)
        self.advantage_std = require_choice("advantage_std", advantage_std, ADVANTAGE_STDS)
        self.reward_stats = RewardStats()
        self.grad_clip = None if grad_clip is None else float(require_positive("grad_clip", grad_clip))
        self.ppo_clip = float(require_positive("ppo_clip", ppo_clip))
        self.ppo_epochs = require_positive("ppo_epochs", ppo_epochs, integer=True)
        self.target_kl = None if target_kl is None else float(require_positive("target_kl", target_kl))
        self.advantage_std_floor = float(require_positive("advantage_std_floor", advantage_std_floor))
        self.epsilon = require_fraction("epsilon", epsilon)
        if rank_window is not None:
            require_positive("rank_window", rank_window, integer=True)
            if value_baseline:
                raise ValueError("rank_window: replaces the baseline by ranks; it cannot be combined with value_baseline")
        self.rank_window = rank_window
        self.recent_rewards: list[float] = []  # the last rank_window rewards (rank advantages only)
        if schedule is not None and not isinstance(schedule, Schedule):
            raise ValueError(f"schedule: expected a Schedule or None, got {type(schedule).__name__}")
        self.schedule = schedule
        self.optimizer_name = require_choice("optimizer", optimizer, OPTIMIZERS)
        optimizer_class = torch.optim.SGD if self.optimizer_name == "sgd" else torch.optim.Adam
        self.optimizer = optimizer_class(controller.parameters(), lr=lr)
        self.baseline: float | None = None  # EMA of rewards; None until the first batch
        self.num_updates = 0
        self.value_head: nn.Linear | None = None
        self.value_optimizer = None
        self._value_ready = False
        if value_baseline:
            self.value_head = nn.Linear(controller.hidden_size, 1).to(controller.device)
            self.value_optimizer = torch.optim.Adam(self.value_head.parameters(), lr=require_positive("value_lr", value_lr))
        self._apply_schedule()

    # --- run-time settings ----------------------------------------------------------------
    @property
    def entropy_weight(self) -> float:
        return self._entropy_weight

    @entropy_weight.setter
    def entropy_weight(self, value: float) -> None:
        self._entropy_weight = _require_non_negative("entropy_weight", value)

    @property
    def value_baseline(self) -> bool:
        return self.value_head is not None

    def _apply_schedule(self) -> None:
        if self.schedule is not None:
            self.temperature, self.entropy_weight = self.schedule.at(self.num_updates)

    def __repr__(self) -> str:
        return (
            f"PolicyGradientTrainer(algorithm={self.algorithm!r}, lr={self.lr:g}, entropy_weight={self.entropy_weight:g}, "
            f"baseline={'learned' if self.value_baseline else self.baseline}, updates={self.num_updates})"
        )

    # --- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def propose(self, batch_size: int) -> list:
        """Architectures to evaluate next: controller samples, epsilon-greedy mixed.

        With probability ``epsilon`` an architecture is replaced by a uniform random one, so
        the batch is drawn from the mixture ``mu = (1 - eps) pi + eps uniform``; the update
        weights each one by ``pi / mu`` (:meth:`behaviour_weights`), which keeps the
        expected gradient exactly the on-policy one. Every draw comes from the controller's
        own generator, never torch's global RNG.
        """
        return propose_epsilon_greedy(self.controller, batch_size, self.epsilon)

    # --- the update ------------------------------------------------------------------------------
    def behaviour_weights(self, log_probs: torch.Tensor) -> torch.Tensor:
        """``pi(a) / mu(a)`` (B,) for a batch proposed by :meth:`propose`; ones when epsilon is 0.

        ``log_probs`` (B, D) are the controller's per-decision ``log pi`` of the batch (at the
        temperature it was sampled with); ``mu`` is the epsilon-greedy mixture.
        """
        log_pi = log_probs.detach().reshape(log_probs.shape[0], -1).sum(1)  # (B,)
        if self.epsilon == 0:
            return torch.ones_like(log_pi)
        log_uniform = -sum(math.log(len(d.choices)) for d in self.controller.space.decisions)
        return epsilon_greedy_weights(log_pi, log_uniform, self.epsilon)

    def batch_baseline(self, rewards) -> float:
        """The baseline this batch's advantages use: the EMA *before* this batch.

        On the very first update there is no EMA yet; the batch's own mean reward is used,
        so the first advantages are centred (a baseline of 0 would push up every sampled
        architecture when all rewards are positive). That first baseline depends on the
        batch, which scales the expected gradient by (B - 1) / B (the cross terms have mean
        zero); with B == 1 the first policy-gradient term is zero.
        """
        if self.baseline is not None:
            return self.baseline
        return float(torch.as_tensor(rewards, dtype=torch.float64).mean())

    def update_baseline(self, rewards) -> float:
        """Update and return the EMA baseline ``b <- d b + (1 - d) mean(R)``.

        :meth:`update_policy` calls it after the loss is formed, so it is the baseline of
        the *next* batch. The first batch sets ``b`` to its mean reward (no bias towards 0).
        """
        rewards = torch.as_tensor(rewards, dtype=torch.float64).reshape(-1)
        if rewards.numel() == 0 or not bool(torch.isfinite(rewards).all()):
            raise ValueError(f"rewards: expected a non-empty sequence of finite numbers, got {rewards.tolist()}")
        mean = float(rewards.mean())
        if self.baseline is None:
            self.baseline = mean
        else:
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * mean
        return self.baseline

    def scale(self, advantages: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        """The advantages divided by the reward scale ``advantage_std`` names (unchanged when not normalising).

        Takes this batch's rewards into the history's statistics first (every update calls it once).
        """
        self.reward_stats.add(rewards.tolist())
        if not self.normalize_advantages:
            return advantages
        if self.advantage_std == "batch":
            return scale_advantages(advantages, rewards, self.advantage_std_floor)
        std = self.reward_stats.std
        return advantages / std if std > 0 else advantages

    def rank_advantages(self, rewards: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Centred-rank advantages (B,) of ``rewards`` among the last ``rank_window`` rewards, and that window's median.

        The window holds this batch and the rewards just before it (all of this batch even when it is
        larger than ``rank_window``); see :func:`rank_advantages`. The batch then joins the window and
        the oldest rewards leave it.
        """
        window = (self.recent_rewards + rewards.tolist())[-max(self.rank_window, rewards.numel()):]
        values = torch.as_tensor(window, dtype=rewards.dtype, device=rewards.device)
        self.recent_rewards = window[-self.rank_window:]
        return rank_advantages(rewards, values), float(values.median())

    def update_policy(self, architectures, rewards) -> UpdateStats:
        """One policy-gradient update from ``architectures`` (B) and their ``rewards`` (B)."""
        # 1. the batch as tensors: indices (B, D), rewards (B,)
        ctrl = self.controller
        indices = ctrl.as_indices(architectures)
        rewards = self._rewards(rewards, indices.shape[0])
        B = indices.shape[0]
        # 2. the baseline b from BEFORE this batch, and per-decision advantages A (B, D)
        out = ctrl(indices)
        if self.value_baseline:
            values = self._values(out.hidden, rewards)  # (B, D)
            advantages = rewards[:, None] - values.detach()
            baseline = float(values[0, 0].detach())  # V(start state), the same for every architecture
        else:
            baseline = self.batch_baseline(rewards)
            advantages = (rewards - baseline)[:, None].expand(B, out.decision_log_probs.shape[1])
        # 3. optional scale normalisation (kept centred on the baseline), or rank advantages; epsilon-greedy's pi / mu
        if self.rank_window is not None:  # ranks in the recent window: its median plays the baseline's part
            self.reward_stats.add(rewards.tolist())
            ranked, baseline = self.rank_advantages(rewards)
            advantages = ranked[:, None].expand(B, out.decision_log_probs.shape[1])
        else:
            advantages = self.scale(advantages, rewards)
        advantages = advantages * self.behaviour_weights(out.decision_log_probs)[:, None]  # (B, D)
        # 4. policy step(s) on exactly these advantages: REINFORCE once, PPO up to ppo_epochs times
        if self.algorithm == "reinforce":
            loss, grad_norm = self._step(reinforce_loss(out.decision_log_probs, advantages), out)
            kl = clip_fraction = kl_stopped = None
            epochs = 1
        else:
            loss, grad_norm, kl, clip_fraction, epochs, kl_stopped = ppo_update(
                ctrl, self._step, indices, out, advantages, clip=self.ppo_clip, epochs=self.ppo_epochs,
                target_kl=self.target_kl)
        # 5. only now the EMA takes in this batch; fit the critic; advance the schedule
        self.update_baseline(rewards)
        value_loss = self._fit_values(out.hidden, rewards) if self.value_baseline else None
        return self._finish_update(
            loss=loss, baseline=baseline, advantages=advantages, rewards=rewards, out=out, grad_norm=grad_norm,
            kl=kl, clip_fraction=clip_fraction, value_loss=value_loss, epochs=epochs, kl_stopped=kl_stopped,
            decision_advantages=advantages.tolist() if self.value_baseline else None,
        )

    def _finish_update(self, stats_class=UpdateStats, *, loss, baseline, advantages, rewards, out, grad_norm,
                       **extra) -> UpdateStats:
        """Record what this update did, count it and advance the schedule (every optimiser ends here)."""
        stats = stats_class(
            step=self.num_updates,
            loss=loss,
            baseline=baseline,
            advantages=advantages.mean(1).tolist(),
            mean_reward=float(rewards.mean()),
            entropy=float(out.entropies.detach().sum(1).mean()),
            grad_norm=grad_norm,
            lr=self.lr,
            entropy_weight=self.entropy_weight,
            temperature=self.temperature,
            **{"kl": None, "clip_fraction": None, **extra},
        )
        self.num_updates += 1
        self._apply_schedule()
        return stats

    def _step(self, policy_loss: torch.Tensor, out) -> tuple[float, float]:
        """Entropy bonus, backward, clip, optimiser step; returns (loss, grad norm before clipping).

        The norm is taken, and clipped, over every parameter the optimiser steps: the
        controller's and, for A2C, its critic's too (one shared loss, one clip, as SB3's A2C).
        """
        loss = policy_loss - self.entropy_weight * out.entropies.sum(1).mean()
        self.optimizer.zero_grad()
        loss.backward()
        max_norm = self.grad_clip if self.grad_clip is not None else math.inf
        params = [p for group in self.optimizer.param_groups for p in group["params"]]  # all it steps (A2C: + critic)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        self.optimizer.step()
        return float(loss.detach()), float(grad_norm)

    def _values(self, hidden: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        """Critic V(h_t) (B, D); the first call starts its bias at the mean reward."""
        if not self._value_ready:
            with torch.no_grad():
                self.value_head.weight.zero_()
                self.value_head.bias.fill_(float(rewards.mean()))
            self._value_ready = True
        return self.value_head(hidden.detach()).squeeze(-1)

    def _fit_values(self, hidden: torch.Tensor, rewards: torch.Tensor) -> float:
        """One Adam step on ``mean (V(h_t) - R)^2``; returns that loss before the step."""
        values = self.value_head(hidden.detach()).squeeze(-1)  # (B, D)
        value_loss = ((values - rewards[:, None]) ** 2).mean()
        self.value_optimizer.zero_grad()
        value_loss.backward()
        self.value_optimizer.step()
        return float(value_loss.detach())

    def _rewards(self, rewards, batch_size: int) -> torch.Tensor:
        return rewards_tensor(rewards, batch_size, self.controller.device)

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and plain containers only, so ``torch.load(weights_only=True)`` reads it."""
        state = {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
            "reward_stats": self.reward_stats.state_dict(),
            "recent_rewards": list(self.recent_rewards),
            "num_updates": self.num_updates,
            "entropy_weight": self.entropy_weight,
            "temperature": self.temperature,
        }
        if self.value_baseline:
            state["value_head"] = self.value_head.state_dict()
            state["value_optimizer"] = self.value_optimizer.state_dict()
            state["value_ready"] = self._value_ready
        return state

    def load_state_dict(self, state: Mapping) -> None:
        """Restore what :meth:`state_dict` saved (lr comes back with the optimizer)."""
        if self.value_baseline != ("value_head" in state):
            raise ValueError(f"state: value_baseline={self.value_baseline} does not match the checkpoint")
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.baseline = None if state["baseline"] is None else float(state["baseline"])
        self.reward_stats = RewardStats.from_state(state.get("reward_stats"))
        self.recent_rewards = [float(r) for r in state.get("recent_rewards", [])]
        self.num_updates = int(state["num_updates"])
        self.entropy_weight = float(state["entropy_weight"])
        self.temperature = float(state["temperature"])
        if self.value_baseline:
            self.value_head.load_state_dict(state["value_head"])
            self.value_optimizer.load_state_dict(state["value_optimizer"])
            self._value_ready = bool(state["value_ready"])


@torch.no_grad()
def propose_epsilon_greedy(controller: Controller, batch_size: int, epsilon: float) -> list:
    """``batch_size`` architectures: controller samples, each replaced by a uniform one with probability ``epsilon``.

    Every draw comes from the controller's own generator (a CPU generator), never torch's global RNG.
    """
    batch_size = require_positive("batch_size", batch_size, integer=True)
    generator = controller.generator
    indices = controller.sample(batch_size).indices  # (B, D)
    if epsilon > 0:
        explore = torch.rand(batch_size, generator=generator) < epsilon  # (B,)
        uniform = torch.stack(
            [torch.randint(len(d.choices), (batch_size,), generator=generator) for d in controller.space.decisions],
            dim=1,
        )  # (B, D)
        indices = torch.where(explore[:, None].to(indices.device), uniform.to(indices.device), indices)
    return controller.to_architectures(indices)


def rewards_tensor(rewards, batch_size: int, device) -> torch.Tensor:
    """``rewards`` as a float32 tensor (B,) on ``device``; refused unless ``batch_size`` finite numbers."""
    try:
        rewards = torch.as_tensor(rewards, dtype=torch.float32, device=device).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"rewards: expected a sequence of numbers, got {rewards!r}") from None
    if rewards.numel() != batch_size:
        raise ValueError(f"rewards: expected {batch_size} rewards (one per architecture), got {rewards.numel()}")
    if not bool(torch.isfinite(rewards).all()):
        raise ValueError(f"rewards: must be finite numbers, got {rewards.tolist()}")
    return rewards


class RewardStats:
    """Count, mean and standard deviation of every reward seen (Welford's running algorithm)."""

    def __init__(self, count: int = 0, mean: float = 0.0, m2: float = 0.0):
        self.count, self.mean, self.m2 = int(count), float(mean), float(m2)

    def add(self, rewards) -> None:
        for r in rewards:
            self.count += 1
            delta = float(r) - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (float(r) - self.mean)

    @property
    def std(self) -> float:
        """The population standard deviation of the rewards seen (0 before two)."""
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 0.0

    def state_dict(self) -> dict:
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    @classmethod
    def from_state(cls, state) -> RewardStats:
        return cls(**state) if state else cls()

    def __repr__(self) -> str:
        return f"RewardStats(count={self.count}, mean={self.mean:.4g}, std={self.std:.4g})"


def _require_non_negative(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{field}: must be a finite number >= 0, got {value!r}")
    return float(value)
