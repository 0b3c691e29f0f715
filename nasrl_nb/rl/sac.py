"""An off-policy soft actor-critic for NAS (after SAC, Haarnoja et al. 2018; discrete form).

SAC (Haarnoja et al., ICML 2018, Sec. 4; "SAC: Algorithms and Applications", 2018, Sec. 5)
learns a critic ``Q`` from a replay buffer of *all* past experience and improves the policy
towards ``exp(Q / alpha) / Z``, the soft-greedy policy of the critic, by minimising
``KL(pi || exp(Q / alpha) / Z) = E_pi[log pi(a) - Q(a) / alpha] + log Z`` (eq. 10); the
temperature ``alpha`` is tuned so that the policy's entropy stays at a target (eq. 17-18).
For discrete actions (Christodoulou 2019) the same holds with sums instead of
reparameterisation. In NAS an episode is one architecture ``a`` with a terminal reward, so
``Q(a)`` is simply a *reward model*: it predicts the reward of an architecture, and the
controller is pulled towards the softmax of its predictions. One update, in order:

1. the evaluated batch joins the replay buffer (every architecture ever evaluated, with its
   reward; repeats kept, as they are noisy re-measurements);
2. the critic (an MLP on the decisions' one-hot codes) takes ``critic_steps`` Adam steps on
   the mean squared error to the buffer's rewards, standardised by the buffer's mean and std
   (so that ``alpha`` is in units of the reward's spread);
3. ``policy_steps`` times: draw ``policy_samples`` architectures from the controller (no
   evaluation: the critic scores them) and step on the score-function gradient of
   ``E_pi[alpha log pi(a) - Q(a)]``, i.e. ``mean((alpha log pi(a) - Q(a) - b) grad log pi(a))``
   with ``b`` the samples' mean of ``alpha log pi - Q``;
4. ``alpha`` steps on ``J(alpha) = alpha (H(pi) - H_target)`` (eq. 18 with the entropy
   estimated from the same samples): it grows when the policy is less random than the
   target and shrinks when it is more; ``H_target = target_entropy * max_entropy(space)``.

Because the critic reuses every evaluation, each one informs many policy steps: this is
the sample-efficiency lesson (see ``benchmarks/rl_algorithms.py``).

Staleness (asynchronous evaluation): off-policy, so staleness is harmless: a result that
arrives late from an older policy is just one more (architecture, reward) pair in the buffer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..controllers.lstm import Controller, max_entropy
from ..validation import require_fraction, require_nonnegative, require_positive
from .config import SACConfig, TrainerConfig
from .live_settings import LiveSettings
from .policy_gradient import RewardStats, UpdateStats, propose_epsilon_greedy, rewards_tensor


class RewardCritic(nn.Module):
    """``Q(a)``: an MLP on the concatenated one-hot codes of an architecture's decisions.

    ``forward(indices (B, D)) -> (B,)`` predicted (standardised) rewards.
    """

    def __init__(self, sizes: list[int], hidden_size: int = 64):
        super().__init__()
        self.sizes = list(sizes)
        self.register_buffer("offsets", torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()[:-1]]), persistent=False)
        self.net = nn.Sequential(nn.Linear(sum(sizes), hidden_size), nn.ReLU(), nn.Linear(hidden_size, 1))

    def encode(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, D) option indices -> (B, sum K_t) one-hot codes."""
        codes = torch.zeros(indices.shape[0], sum(self.sizes), device=indices.device)
        codes.scatter_(1, indices + self.offsets.to(indices.device), 1.0)
        return codes

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        return self.net(self.encode(indices)).squeeze(-1)  # (B,)


@dataclass
class SACStats(UpdateStats):
    """:class:`UpdateStats` plus the critic and the temperature: ``critic_loss`` (standardised
    MSE on the buffer after fitting), ``alpha`` (after its step), ``target_entropy`` (nats),
    ``buffer_size`` and ``q_mean`` (mean standardised Q of the last policy samples)."""

    critic_loss: float = 0.0
    alpha: float = 0.0
    target_entropy: float = 0.0
    buffer_size: int = 0
    q_mean: float = 0.0


class SoftActorCritic(LiveSettings):
    """Discrete SAC for NAS: a reward critic on a replay buffer, the controller pulled towards its softmax.

    Args:
        controller: the policy, stepped by Adam with learning rate ``lr``.
        critic_hidden: the critic MLP's width.
        critic_lr: the critic's Adam learning rate.
        critic_steps: full-batch critic steps per update (the buffer is small).
        policy_steps: controller steps per update against the critic.
        policy_samples: architectures the critic scores per policy step (never evaluated).
        target_entropy: the target entropy as a fraction of :func:`max_entropy` (the uniform
            policy's), in [0, 1].
        alpha: the initial temperature (> 0), in units of the rewards' standard deviation.
        alpha_lr: Adam learning rate of ``log alpha``.
        reward_std_floor: the smallest std the buffer's rewards are divided by.
        lr, grad_clip, epsilon: the controller's Adam learning rate, the max gradient norm of
            a policy step (None: no clipping) and the probability that :meth:`propose` replaces
            a sample by a uniform architecture, as for
            :class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer` (whose interface this
            class shares: ``propose``, ``update_policy``, ``state_dict``, ``lr``,
            ``entropy_weight``, ``temperature``).
    """

    algorithm = "sac"
    value_baseline = False  # no baseline: the critic scores the policy's samples
    baseline = None
    value_head = None
    schedule = None

    def __init__(self, controller: Controller, *, critic_hidden: int = SACConfig.critic_hidden,
                 critic_lr: float = SACConfig.critic_lr, critic_steps: int = SACConfig.critic_steps,
                 policy_steps: int = SACConfig.policy_steps, policy_samples: int = SACConfig.policy_samples,
                 target_entropy: float = SACConfig.target_entropy, alpha: float = SACConfig.alpha,
                 alpha_lr: float = SACConfig.alpha_lr, reward_std_floor: float = 0.02, **kwargs):
        for name in kwargs:
            if name not in ("lr", "grad_clip", "epsilon"):
                raise ValueError(f"{name}: not an option of SAC; its own are critic_hidden, critic_lr, critic_steps, "
                                 "policy_steps, policy_samples, target_entropy, alpha, alpha_lr, reward_std_floor, and "
                                 "lr, grad_clip, epsilon")
        if not isinstance(controller, Controller):
            raise ValueError(f"controller: expected a Controller, got {type(controller).__name__}")
        self.controller = controller
        grad_clip = kwargs.get("grad_clip", TrainerConfig.grad_clip)
        self.grad_clip = None if grad_clip is None else float(require_positive("grad_clip", grad_clip))
        self.epsilon = require_fraction("epsilon", kwargs.get("epsilon", TrainerConfig.epsilon))
        # the policy steps towards softmax(Q / alpha) with Adam: the critic, not an advantage, sets their size
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=require_positive("lr", kwargs.get("lr", TrainerConfig.lr)))
        self.num_updates = 0
        self.critic_steps = require_positive("critic_steps", critic_steps, integer=True)
        self.policy_steps = require_positive("policy_steps", policy_steps, integer=True)
        self.policy_samples = require_positive("policy_samples", policy_samples, integer=True)
        self.target_entropy_fraction = require_fraction("target_entropy", target_entropy)
        self.target_entropy = self.target_entropy_fraction * max_entropy(controller.space)  # nats
        self.reward_std_floor = float(require_positive("reward_std_floor", reward_std_floor))
        sizes = [len(d.choices) for d in controller.space.decisions]
        self.critic = RewardCritic(sizes, require_positive("critic_hidden", critic_hidden, integer=True)).to(controller.device)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=require_positive("critic_lr", critic_lr))
        self.log_alpha = torch.tensor(math.log(require_positive("alpha", alpha)), requires_grad=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=require_positive("alpha_lr", alpha_lr))
        D = len(sizes)
        self.buffer_indices = torch.zeros(0, D, dtype=torch.long)  # (N, D), every evaluated architecture
        self.buffer_rewards = torch.zeros(0)  # (N,)

    # --- run-time settings: lr, temperature, and alpha as the entropy weight ------------------------------
    # alpha is SAC's entropy weight: a dashboard's entropy_weight sets it (and tuning continues from there)
    @property
    def entropy_weight(self) -> float:
        return self.alpha

    @entropy_weight.setter
    def entropy_weight(self, value: float) -> None:
        value = float(require_nonnegative("entropy_weight", value))
        with torch.no_grad():
            self.log_alpha.fill_(math.log(require_positive("entropy_weight", value)))

    @property
    def alpha(self) -> float:
        return float(self.log_alpha.detach().exp())

    def __repr__(self) -> str:
        return (f"SoftActorCritic(lr={self.lr:g}, alpha={self.alpha:.3g}, target_entropy={self.target_entropy:.3g}, "
                f"buffer={len(self.buffer_rewards)}, updates={self.num_updates})")

    def propose(self, batch_size: int) -> list:
        """Architectures to evaluate next: controller samples, epsilon-greedy mixed (off-policy: no reweighting)."""
        return propose_epsilon_greedy(self.controller, batch_size, self.epsilon)

    # --- the three fits ---------------------------------------------------------------------------------
    def standardised_rewards(self) -> torch.Tensor:
        """The buffer's rewards as ``(R - mean) / max(std, floor)`` (N,)."""
        rewards = self.buffer_rewards
        std = float(rewards.std()) if rewards.numel() > 1 else 0.0
        return (rewards - rewards.mean()) / max(std, self.reward_std_floor)

    def fit_critic(self) -> float:
        """``critic_steps`` Adam steps on the buffer's standardised MSE; returns the MSE after them."""
        device = self.controller.device
        indices, targets = self.buffer_indices.to(device), self.standardised_rewards().to(device)
        for _ in range(self.critic_steps):
            loss = ((self.critic(indices) - targets) ** 2).mean()
            self.critic_optimizer.zero_grad()
            loss.backward()
            self.critic_optimizer.step()
        with torch.no_grad():
            return float(((self.critic(indices) - targets) ** 2).mean())

    def policy_step(self) -> tuple[float, float, float, float]:
        """One step of the controller towards ``softmax(Q / alpha)`` and one of ``alpha``.

        Returns (policy loss, entropy estimate in nats, mean Q of the samples, the policy
        gradient's norm before clipping).
        """
        ctrl = self.controller
        sample = ctrl.sample(self.policy_samples)  # (M,) log pi with gradients; drawn from ctrl.generator
        with torch.no_grad():
            q = self.critic(sample.indices)  # (M,)
        alpha = self.alpha
        # grad E_pi[alpha log pi - Q] = E[(alpha log pi - Q - b) grad log pi]  (score function, baseline b)
        cost = alpha * sample.log_prob.detach() - q  # (M,)
        loss = ((cost - cost.mean()) * sample.log_prob).mean()
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(ctrl.parameters(), self.grad_clip if self.grad_clip is not None else math.inf)
        self.optimizer.step()
        # J(alpha) = alpha (H(pi) - H_target), on log alpha (Haarnoja et al. 2018b, eq. 18)
        entropy = float(sample.entropy.detach().mean())
        alpha_loss = self.log_alpha.exp() * (entropy - self.target_entropy)
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        self.alpha_optimizer.step()
        return float(loss.detach()), entropy, float(q.mean()), float(grad_norm)

    def update_policy(self, architectures, rewards) -> SACStats:
        """Buffer the batch, fit the critic, then pull the controller towards its softmax."""
        # 1. the replay buffer takes the batch
        indices = self.controller.as_indices(architectures)
        rewards = rewards_tensor(rewards, indices.shape[0], self.controller.device)
        self.buffer_indices = torch.cat([self.buffer_indices, indices.cpu()])
        self.buffer_rewards = torch.cat([self.buffer_rewards, rewards.cpu()])
        # 2. the critic on every evaluation so far
        critic_loss = self.fit_critic()
        # 3-4. the controller towards softmax(Q / alpha); alpha towards the target entropy
        losses, entropies, qs, norms = zip(*(self.policy_step() for _ in range(self.policy_steps)), strict=True)
        stats = SACStats(
            step=self.num_updates,
            loss=sum(losses) / len(losses),
            baseline=None,
            advantages=None,
            mean_reward=float(rewards.mean()),
            entropy=entropies[-1],
            grad_norm=sum(norms) / len(norms),  # the policy steps' mean, before clipping
            kl=None,
            clip_fraction=None,
            lr=self.lr,
            entropy_weight=self.alpha,
            temperature=self.temperature,
            epochs=self.policy_steps,
            critic_loss=critic_loss,
            alpha=self.alpha,
            target_entropy=self.target_entropy,
            buffer_size=len(self.buffer_rewards),
            q_mean=qs[-1],
        )
        self.num_updates += 1
        return stats

    # --- checkpoints ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and plain containers only (``torch.load(weights_only=True)``); the keys of every trainer's, plus SAC's."""
        return {
            "controller": self.controller.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "baseline": None,
            "reward_stats": RewardStats().state_dict(),
            "num_updates": self.num_updates,
            "entropy_weight": self.entropy_weight,
            "temperature": self.temperature,
            "critic": self.critic.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "buffer_indices": self.buffer_indices.clone(),
            "buffer_rewards": self.buffer_rewards.clone(),
        }

    def load_state_dict(self, state: Mapping) -> None:
        if "critic" not in state or "log_alpha" not in state:
            raise ValueError("state: not a SAC checkpoint (no critic or log_alpha)")
        if "value_head" in state:
            raise ValueError("state: value_baseline=False does not match the checkpoint")
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.num_updates = int(state["num_updates"])
        self.temperature = float(state["temperature"])
        self.critic.load_state_dict(state["critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.buffer_indices = state["buffer_indices"].clone().long()
        self.buffer_rewards = state["buffer_rewards"].clone().float()
