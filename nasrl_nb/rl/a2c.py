"""Synchronous advantage actor-critic (A2C) for the controller (Mnih et al., ICML 2016).

A3C/A2C (Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning", Sec. 4
and Algorithm S3) replace REINFORCE's moving-average baseline by a learned critic
``V(s_t)`` that shares the actor's body: here a linear head on the controller's hidden state
``h_t`` at every decision, so each decision gets its own baseline. An architecture is an
episode of ``D`` decisions whose only reward ``R`` comes at the end (no discount, gamma = 1).
One update, in order:

1. teacher-force the batch: log pi(a_t | a_<t) (B, D) and the critic's values
   ``V_t = V(h_t)`` (B, D);
2. per-decision advantages by generalised advantage estimation (Schulman et al. 2016,
   eq. 16, gamma = 1): ``delta_t = V_{t+1} - V_t`` with ``V_D := R``, and
   ``A_t = sum_k lambda^k delta_{t+k}``. ``lambda = 1`` gives the Monte-Carlo advantage
   ``A_t = R - V_t`` (the critic only as a baseline, unbiased because ``h_t`` depends only
   on earlier choices); ``lambda < 1`` bootstraps from the critic (less variance, some bias);
3. one step on ``-mean_b sum_t A_bt log pi(a_bt) + c_v mean (V_t - G_t)^2 - w H`` with the
   lambda-return ``G_t = A_t + V_t`` as the critic's target; actor and critic share the
   controller's body, so the value loss shapes it too (Mnih et al.'s shared network).

The critic's bias starts at the first batch's mean reward (so the first advantages are
centred as REINFORCE's are) and its weights at zero. :class:`~nasrl_nb.rl.policy_gradient.UpdateStats`
reports ``baseline`` = ``V(h_0)`` (the start state's value, the same for every
architecture), ``advantages`` (each architecture's mean over its decisions) and
``decision_advantages`` (B x D), exactly as the loss used them.

With epsilon-greedy proposals the actor's advantages are weighted by ``pi / mu``
(:meth:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer.behaviour_weights`); the critic is
fit on the batch as drawn (any state distribution gives an unbiased baseline).

Staleness (asynchronous evaluation): A2C is on-policy. A batch proposed by an older policy
is still used as if drawn by the current one (no importance weights, as in A3C, whose
workers also send gradients computed on slightly stale parameters); the bias grows with
staleness, so keep the number of batches in flight small (one or two).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..controllers.lstm import Controller
from ..validation import require_fraction, require_positive
from .config import A2CConfig
from .policy_gradient import PolicyGradientTrainer, UpdateStats, reinforce_loss


def gae_advantages(values: torch.Tensor, rewards: torch.Tensor, gae_lambda: float) -> torch.Tensor:
    """Per-decision advantages (B, D) for one terminal reward (Schulman et al. 2016, eq. 16, gamma = 1).

    ``values`` (B, D) is ``V(h_t)``; ``rewards`` (B,) is ``R``. ``delta_t = V_{t+1} - V_t``
    with ``V_D = R``; ``A_t = delta_t + lambda A_{t+1}``.
    """
    next_values = torch.cat([values[:, 1:], rewards[:, None]], dim=1)  # (B, D): V_{t+1}, V_D = R
    deltas = next_values - values  # (B, D)
    advantages = torch.zeros_like(values)
    running = torch.zeros_like(rewards)  # (B,)
    for t in reversed(range(values.shape[1])):
        running = deltas[:, t] + gae_lambda * running
        advantages[:, t] = running
    return advantages


class A2CTrainer(PolicyGradientTrainer):
    """Advantage actor-critic: a per-decision critic on the controller's state as the baseline.

    Args:
        controller: the policy (any controller with ``hidden_size`` and ``forward().hidden``).
        value_coef: weight ``c_v`` of the critic's squared error in the shared loss (0.5 as in
            Mnih et al.'s and Stable-Baselines3's A2C).
        gae_lambda: GAE's lambda in [0, 1]; 1 is the Monte-Carlo advantage ``R - V(h_t)``.
        **kwargs: :class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer` options
            (``lr``, ``entropy_weight``, ``normalize_advantages``, ``grad_clip``, ``epsilon``,
            ``schedule``...); ``algorithm`` and ``value_baseline`` are set here, and ``optimizer``
            defaults to Adam (actor and critic share it).
    """

    def __init__(self, controller: Controller, *, value_coef: float = A2CConfig.value_coef,
                 gae_lambda: float = A2CConfig.gae_lambda, **kwargs):
        for name in ("algorithm", "value_baseline", "ppo_clip", "ppo_epochs", "target_kl", "value_lr", "baseline_decay"):
            if name in kwargs:
                raise ValueError(f"{name}: not an option of A2C (its critic replaces the moving-average baseline)")
        kwargs.setdefault("optimizer", "adam")  # one optimiser for actor and critic: the critic's step needs Adam
        super().__init__(controller, algorithm="reinforce", **kwargs)
        self.algorithm = "a2c"
        self.value_coef = float(require_positive("value_coef", value_coef))
        self.gae_lambda = require_fraction("gae_lambda", gae_lambda)
        self.critic = nn.Linear(controller.hidden_size, 1).to(controller.device)  # V(h_t)
        self.optimizer.add_param_group({"params": list(self.critic.parameters())})  # shared Adam, one lr
        self._critic_ready = False

    def __repr__(self) -> str:
        return (f"A2CTrainer(lr={self.lr:g}, value_coef={self.value_coef:g}, gae_lambda={self.gae_lambda:g}, "
                f"entropy_weight={self.entropy_weight:g}, updates={self.num_updates})")

    def values(self, hidden: torch.Tensor) -> torch.Tensor:
        """The critic ``V(h_t)`` (B, D) from the controller's states ``hidden`` (B, D, H)."""
        return self.critic(hidden).squeeze(-1)

    def update_policy(self, architectures, rewards) -> UpdateStats:
        """One A2C step from ``architectures`` (B) and their ``rewards`` (B)."""
        # 1. the batch: log pi (B, D) and V(h_t) (B, D)
        ctrl = self.controller
        indices = ctrl.as_indices(architectures)
        rewards = self._rewards(rewards, indices.shape[0])
        if not self._critic_ready:  # start the critic at the first batch's mean reward
            with torch.no_grad():
                self.critic.weight.zero_()
                self.critic.bias.fill_(float(rewards.mean()))
            self._critic_ready = True
        out = ctrl(indices)
        values = self.values(out.hidden)  # (B, D), with gradients into the shared body
        # 2. GAE advantages (detached: the actor's weights) and the critic's lambda-return targets
        advantages = gae_advantages(values.detach(), rewards, self.gae_lambda)  # (B, D)
        targets = advantages + values.detach()  # (B, D): G_t = A_t + V_t
        advantages = self.scale(advantages, rewards)
        advantages = advantages * self.behaviour_weights(out.decision_log_probs)[:, None]  # epsilon-greedy's pi / mu
        # 3. one step on the shared loss: actor + c_v * critic - entropy bonus (added in _step)
        value_loss = ((values - targets) ** 2).mean()
        loss, grad_norm = self._step(reinforce_loss(out.decision_log_probs, advantages) + self.value_coef * value_loss, out)
        baseline = float(values[0, 0].detach())
        self.baseline = self.start_value()
        return self._finish_update(
            loss=loss, baseline=baseline, advantages=advantages, rewards=rewards, out=out, grad_norm=grad_norm,
            value_loss=float(value_loss.detach()), decision_advantages=advantages.tolist(),
        )

    @torch.no_grad()
    def start_value(self) -> float:
        """``V(h_0)``: the critic's value of the start state, the first decision's baseline."""
        first = torch.zeros(1, len(self.controller.space.decisions), dtype=torch.long, device=self.controller.device)
        return float(self.values(self.controller(first).hidden)[0, 0])

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["critic"] = self.critic.state_dict()
        state["critic_ready"] = self._critic_ready
        return state

    def load_state_dict(self, state: Mapping) -> None:
        if "critic" not in state:
            raise ValueError("state: not an A2C checkpoint (no critic)")
        super().load_state_dict(state)  # the optimizer's state includes the critic's group
        self.critic.load_state_dict(state["critic"])
        self._critic_ready = bool(state["critic_ready"])
