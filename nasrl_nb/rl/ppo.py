"""Proximal policy optimisation of the controller (Schulman et al., 2017).

PPO reuses each batch of evaluated architectures for up to ``ppo_epochs`` steps of the clipped
surrogate (eq. 7)::

    L_CLIP = E[min(r A, clip(r, 1 - eps, 1 + eps) A)],   r = pi(a_t | a_<t) / pi_old(a_t | a_<t)

with the ratio taken per decision, as in PPO for any sequence of actions with one terminal
reward. Like Stable-Baselines3 it stops the epochs once the approximate KL(pi_old || pi) on the
batch passes ``1.5 * target_kl``; the step that crossed the bound is shrunk back inside it, so
the update is a trust region at any learning rate. One update (:func:`ppo_update`), in order:

1. ``pi_old``: the batch's per-decision log-probabilities before any step;
2. each epoch: the clipped surrogate on the same advantages, one optimiser step;
3. after each step: the approximate KL; past the bound, the step is halved back inside it
   (:func:`backtrack`) and the remaining epochs are skipped.

The advantages, the baseline and the optimiser are REINFORCE's
(:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer` with ``algorithm="ppo"``); only
the policy step differs, and it is here.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import fmean
from typing import NamedTuple

import torch

KL_STOP_FACTOR = 1.5  # Stable-Baselines3: stop PPO's epochs once approx KL > 1.5 * target_kl
MAX_BACKTRACKS = 10  # halvings of the step that crossed the KL bound before it is undone


def ppo_loss(log_probs, old_log_probs, advantages, clip: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), negated; also the clip fraction.

    ``r = exp(log pi - log pi_old)`` per decision; loss
    ``-mean_b sum_t min(r A, clip(r, 1 - clip, 1 + clip) A)``.
    """
    ratio = torch.exp(log_probs - old_log_probs)  # (B, D)
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    clipped = ((ratio - 1).abs() > clip).float().mean()
    return -surrogate.reshape(log_probs.shape[0], -1).sum(1).mean(), clipped


def approx_kl(log_probs: torch.Tensor, old_log_probs: torch.Tensor) -> float:
    """Approximate KL(pi_old || pi) on a batch drawn from pi_old (Schulman's k3 estimator).

    Per architecture ``log r = sum_t log pi(a_t) - log pi_old(a_t)``; the estimate is
    ``mean((r - 1) - log r)``, unbiased and never negative (Stable-Baselines3's ``approx_kl``).
    """
    log_ratio = (log_probs - old_log_probs).detach().reshape(log_probs.shape[0], -1).sum(1)  # (B,)
    return float((log_ratio.exp() - 1 - log_ratio).mean())


class PPOResult(NamedTuple):
    """What :func:`ppo_update` did: mean loss and grad norm over the epochs run, the KL after the
    last one, the mean clip fraction, the epochs run and whether the KL bound stopped them."""

    loss: float
    grad_norm: float
    kl: float
    clip_fraction: float
    epochs: int
    kl_stopped: bool


def ppo_update(controller, step: Callable, indices: torch.Tensor, out, advantages: torch.Tensor, *,
               clip: float, epochs: int, target_kl: float | None) -> PPOResult:
    """Up to ``epochs`` clipped steps against pi_old, the policy before this update.

    ``controller`` is the policy, teacher-forced on ``indices`` (B, D); ``out`` its output on
    them before any step; ``advantages`` (B, D). ``step(policy_loss, out)`` adds the entropy
    bonus, steps the optimiser and returns (loss, grad norm before clipping).
    """
    old_log_probs = out.decision_log_probs.detach()  # (B, D), computed before any step
    bound = None if target_kl is None else KL_STOP_FACTOR * target_kl
    params = list(controller.parameters())
    losses, norms, clips = [], [], []
    kl, stopped = 0.0, False
    for epoch in range(epochs):
        if epoch > 0:
            out = controller(indices)
        surrogate, clipped = ppo_loss(out.decision_log_probs, old_log_probs, advantages, clip)
        clips.append(float(clipped))
        before = [p.detach().clone() for p in params]  # inside the trust region
        loss, grad_norm = step(surrogate, out)
        losses.append(loss)
        norms.append(grad_norm)
        kl = policy_kl(controller, indices, old_log_probs)
        if bound is not None and kl > bound:  # early stop; pull this step back inside the bound
            kl, stopped = backtrack(controller, indices, old_log_probs, params, before, bound), True
            break
    return PPOResult(fmean(losses), fmean(norms), kl, fmean(clips), len(losses), stopped)


@torch.no_grad()
def policy_kl(controller, indices: torch.Tensor, old_log_probs: torch.Tensor) -> float:
    """:func:`approx_kl` of the controller's current policy on ``indices`` against ``old_log_probs``."""
    return approx_kl(controller(indices).decision_log_probs, old_log_probs)


@torch.no_grad()
def backtrack(controller, indices, old_log_probs, params, before, bound) -> float:
    """Shrink the last step ``theta_before -> theta`` by halves until KL <= bound; returns KL.

    After ``MAX_BACKTRACKS`` halvings the step is undone (``theta_before`` was inside).
    """
    after = [p.detach().clone() for p in params]
    for k in range(1, MAX_BACKTRACKS + 1):
        for p, b, a in zip(params, before, after, strict=True):
            p.copy_(b + 0.5**k * (a - b))
        kl = policy_kl(controller, indices, old_log_probs)
        if kl <= bound:
            return kl
    for p, b in zip(params, before, strict=True):
        p.copy_(b)
    return policy_kl(controller, indices, old_log_probs)
