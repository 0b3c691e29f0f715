"""Policy-gradient training of the controller: REINFORCE and PPO.

REINFORCE (Williams 1992; Zoph & Le 2017, Sec. 3.2, eq. 3) follows
``grad J = E[sum_t grad log pi(a_t | a_<t) (R - b)]`` with an exponential moving average
baseline ``b``. PPO (Schulman et al. 2017, eq. 7) reuses each batch for ``ppo_epochs``
steps of the clipped surrogate ``min(r A, clip(r, 1 - eps, 1 + eps) A)`` with the ratio
``r = pi(a_t | a_<t) / pi_old(a_t | a_<t)`` taken per decision, as in PPO for any
sequence of actions with one terminal reward. The losses are pure functions; the trainer
holds the state that survives between updates (optimizer, baseline, step count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from statistics import fmean

import torch
from torch import nn

from ..controllers.lstm import NASController
from ..validation import require_choice, require_fraction, require_positive

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

    ``baseline`` is the EMA baseline after this batch, or the critic's V(start state)
    with a value baseline. ``advantages`` holds one number per architecture (averaged over decisions when a
    value baseline gives each decision its own). ``kl`` (an estimate of
    KL(pi_old || pi_new) on the batch) and ``clip_fraction`` are PPO's, None otherwise;
    for PPO, ``loss``, ``grad_norm``, ``kl`` and ``clip_fraction`` average the epochs.
    ``grad_norm`` is the norm before clipping.
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

    def to_dict(self) -> dict:
        return asdict(self)


def reinforce_loss(log_probs: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """``-mean_b sum_t A_bt log pi(a_bt | a_b,<t)``: its gradient estimates -grad J.

    ``log_probs`` is (B, D) (or (B,) for whole architectures); ``advantages`` broadcasts to it.
    """
    per_arch = (advantages * log_probs).reshape(log_probs.shape[0], -1).sum(1)  # (B,)
    return -per_arch.mean()


def ppo_loss(log_probs, old_log_probs, advantages, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), negated; also the clip fraction.

    ``r = exp(log pi - log pi_old)`` per decision; loss
    ``-mean_b sum_t min(r A, clip(r, 1 - clip, 1 + clip) A)``.
    """
    ratio = torch.exp(log_probs - old_log_probs)  # (B, D)
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    clipped = ((ratio - 1).abs() > clip).float().mean()
    return -surrogate.reshape(log_probs.shape[0], -1).sum(1).mean(), clipped


class PolicyGradientTrainer:
    """Updates a :class:`NASController` from (architecture, reward) batches.

    Args:
        controller: the policy.
        algorithm: ``"reinforce"`` or ``"ppo"``.
        lr: Adam learning rate (settable at run time: :attr:`lr`).
        baseline_decay: EMA decay ``d`` in ``b <- d b + (1 - d) mean(R)``, in [0, 1).
        entropy_weight: bonus ``w`` in ``loss -= w * mean entropy`` (settable at run time).
        normalize_advantages: divide the advantages by the batch's reward standard
            deviation (skipped when B == 1 or it is 0). They are not re-centred, so the
            baseline still decides which architectures are pushed up.
        grad_clip: max gradient norm (``clip_grad_norm_``); None disables clipping.
        ppo_clip, ppo_epochs: PPO's epsilon and passes over each batch.
        value_baseline: replace the EMA by a learned critic ``V(h_t)`` (a linear head on
            the controller's detached LSTM state at each decision, fit by MSE to the
            rewards, Adam with ``value_lr``); the advantage of decision t is then
            ``R - V(h_t)``, an unbiased baseline because ``h_t`` depends only on earlier
            choices. Its bias starts at the first batch's mean reward.
        epsilon: in :meth:`propose`, each architecture is replaced by a uniform random one
            with probability ``epsilon``.
        schedule: a :class:`Schedule`; it sets the controller's temperature and the
            entropy weight before each update's sampling (overriding manual values).
    """

    def __init__(
        self,
        controller: NASController,
        *,
        algorithm: str = "reinforce",
        lr: float = 3.5e-4,
        baseline_decay: float = 0.95,
        entropy_weight: float = 1e-4,
        normalize_advantages: bool = True,
        grad_clip: float | None = 5.0,
        ppo_clip: float = 0.2,
        ppo_epochs: int = 4,
        value_baseline: bool = False,
        value_lr: float = 1e-2,
        epsilon: float = 0.0,
        schedule: Schedule | None = None,
    ):
        if not isinstance(controller, NASController):
            raise ValueError(f"controller: expected a NASController, got {type(controller).__name__}")
        self.controller = controller
        self.algorithm = require_choice("algorithm", algorithm, ALGORITHMS)
        require_positive("lr", lr)
        if isinstance(baseline_decay, bool) or not isinstance(baseline_decay, (int, float)) or not 0 <= baseline_decay < 1:
            raise ValueError(f"baseline_decay: must be a number in [0, 1), got {baseline_decay!r}")
        self.baseline_decay = float(baseline_decay)
        self.entropy_weight = entropy_weight
        self.normalize_advantages = bool(normalize_advantages)
        self.grad_clip = None if grad_clip is None else float(require_positive("grad_clip", grad_clip))
        self.ppo_clip = float(require_positive("ppo_clip", ppo_clip))
        self.ppo_epochs = require_positive("ppo_epochs", ppo_epochs, integer=True)
        self.epsilon = require_fraction("epsilon", epsilon)
        if schedule is not None and not isinstance(schedule, Schedule):
            raise ValueError(f"schedule: expected a Schedule or None, got {type(schedule).__name__}")
        self.schedule = schedule
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=lr)
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
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(require_positive("lr", value))
        for group in self.optimizer.param_groups:
            group["lr"] = value

    @property
    def entropy_weight(self) -> float:
        return self._entropy_weight

    @entropy_weight.setter
    def entropy_weight(self, value: float) -> None:
        self._entropy_weight = _require_non_negative("entropy_weight", value)

    @property
    def temperature(self) -> float:
        return self.controller.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self.controller.temperature = value

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

        With probability ``epsilon`` an architecture is replaced by a uniform random one.
        The update still scores it with the controller's log pi, although it was drawn
        from the mixture ``(1 - eps) pi + eps uniform``: the importance weight
        ``pi / mixture`` is ignored, which biases the gradient slightly in exchange for
        exploration (keep epsilon small).
        """
        batch_size = require_positive("batch_size", batch_size, integer=True)
        indices = self.controller.sample(batch_size).indices  # (B, D)
        if self.epsilon > 0:
            explore = torch.rand(batch_size, device=indices.device) < self.epsilon  # (B,)
            uniform = torch.stack(
                [torch.randint(len(d.choices), (batch_size,), device=indices.device) for d in self.controller.space.decisions],
                dim=1,
            )  # (B, D)
            indices = torch.where(explore[:, None], uniform, indices)
        return self.controller.to_architectures(indices)

    # --- the update ------------------------------------------------------------------------------
    def compute_baseline(self, rewards) -> float:
        """Update and return the EMA baseline ``b <- d b + (1 - d) mean(R)``.

        The first batch sets ``b`` to its mean reward (no bias towards 0 at the start).
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

    def update_policy(self, architectures, rewards) -> UpdateStats:
        """One policy-gradient update from ``architectures`` (B) and their ``rewards`` (B)."""
        # 1. the batch as tensors: indices (B, D), rewards (B,)
        ctrl = self.controller
        indices = ctrl.as_indices(architectures)
        rewards = self._rewards(rewards, indices.shape[0])
        B = indices.shape[0]
        # 2. the baseline and per-decision advantages A (B, D)
        ema = self.compute_baseline(rewards)
        out = ctrl(indices)
        if self.value_baseline:
            values = self._values(out.hidden, rewards)  # (B, D)
            advantages = rewards[:, None] - values.detach()
            baseline = float(values[0, 0].detach())  # V(start state), the same for every architecture
        else:
            advantages = (rewards - ema)[:, None].expand(B, out.log_probs.shape[1])
            baseline = ema
        # 3. optional scale normalisation (kept centred on the baseline)
        if self.normalize_advantages and B > 1:
            std = rewards.std()
            if std > 0:
                advantages = advantages / std
        # 4. policy step(s): REINFORCE once, PPO ppo_epochs times against pi_old
        if self.algorithm == "reinforce":
            loss, grad_norm = self._step(reinforce_loss(out.log_probs, advantages), out)
            kl = clip_fraction = None
        else:
            loss, grad_norm, kl, clip_fraction = self._ppo(indices, out, advantages)
        # 5. fit the critic, then advance the schedule for the next batch
        value_loss = self._fit_values(out.hidden, rewards) if self.value_baseline else None
        stats = UpdateStats(
            step=self.num_updates,
            loss=loss,
            baseline=baseline,
            advantages=advantages.mean(1).tolist(),
            mean_reward=float(rewards.mean()),
            entropy=float(out.entropies.detach().sum(1).mean()),
            grad_norm=grad_norm,
            kl=kl,
            clip_fraction=clip_fraction,
            lr=self.lr,
            entropy_weight=self.entropy_weight,
            temperature=self.temperature,
            value_loss=value_loss,
        )
        self.num_updates += 1
        self._apply_schedule()
        return stats

    def _step(self, policy_loss: torch.Tensor, out) -> tuple[float, float]:
        """Entropy bonus, backward, clip, Adam step; returns (loss, grad norm before clipping)."""
        loss = policy_loss - self.entropy_weight * out.entropies.sum(1).mean()
        self.optimizer.zero_grad()
        loss.backward()
        max_norm = self.grad_clip if self.grad_clip is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(self.controller.parameters(), max_norm)
        self.optimizer.step()
        return float(loss.detach()), float(grad_norm)

    def _ppo(self, indices, out, advantages):
        """``ppo_epochs`` clipped steps; pi_old is the policy before this update."""
        old_log_probs = out.log_probs.detach()  # (B, D), computed before any step
        losses, norms, kls, clips = [], [], [], []
        for epoch in range(self.ppo_epochs):
            if epoch > 0:
                out = self.controller(indices)
            surrogate, clipped = ppo_loss(out.log_probs, old_log_probs, advantages, self.ppo_clip)
            log_ratio = (out.log_probs - old_log_probs).detach().sum(1)  # (B,) log pi/pi_old per architecture
            kls.append(float((log_ratio.exp() - 1 - log_ratio).mean()))  # k3 estimate of KL(pi_old || pi)
            clips.append(float(clipped))
            loss, grad_norm = self._step(surrogate, out)
            losses.append(loss)
            norms.append(grad_norm)
        return fmean(losses), fmean(norms), fmean(kls), fmean(clips)

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
        try:
            rewards = torch.as_tensor(rewards, dtype=torch.float32, device=self.controller.device).reshape(-1)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"rewards: expected a sequence of numbers, got {rewards!r}") from None
        if rewards.numel() != batch_size:
            raise ValueError(f"rewards: expected {batch_size} rewards (one per architecture), got {rewards.numel()}")
        if not bool(torch.isfinite(rewards).all()):
            raise ValueError(f"rewards: must be finite numbers, got {rewards.tolist()}")
        return rewards

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and plain containers only, so ``torch.load(weights_only=True)`` reads it."""
        state = {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": self.baseline,
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
        self.num_updates = int(state["num_updates"])
        self.entropy_weight = float(state["entropy_weight"])
        self.temperature = float(state["temperature"])
        if self.value_baseline:
            self.value_head.load_state_dict(state["value_head"])
            self.value_optimizer.load_state_dict(state["value_optimizer"])
            self._value_ready = bool(state["value_ready"])


def _require_non_negative(field: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{field}: must be a finite number >= 0, got {value!r}")
    return float(value)
