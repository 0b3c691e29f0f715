"""Trust region policy optimisation (TRPO) for the controller (Schulman et al., ICML 2015).

TRPO maximises the surrogate ``L(theta) = mean_b sum_t r_bt(theta) A_bt`` (with
``r = pi_theta(a_t | a_<t) / pi_old(a_t | a_<t)``) subject to a bound on the mean KL
divergence ``KL(pi_old || pi_theta) <= delta`` (Sec. 4-6, eq. 12-14). Near ``theta_old``
the KL is ``0.5 s^T F s`` with ``F`` the Fisher information matrix, so the step is the
natural gradient ``F^-1 g`` scaled to the boundary (Appendix C). One update, in order:

1. advantages ``A = R - b`` with the moving-average baseline ``b`` of REINFORCE (the EMA of
   the earlier batches, see :mod:`nasrl_nb.rl.policy_gradient`), scaled like REINFORCE's;
2. ``g = grad L`` at ``theta_old`` (the REINFORCE gradient, plus the entropy bonus);
3. ``x ~= F^-1 g`` by conjugate gradient (App. C.1), touching ``F`` only through
   Fisher-vector products ``F v = grad((grad KL) . v)`` (double backward of the KL, with
   damping ``F + c I``);
4. the full step ``s = sqrt(2 delta / x^T F x) x``, whose quadratic KL is exactly ``delta``;
5. a backtracking line search: try ``theta_old + 0.5^k s`` for ``k = 0, 1, ...`` and accept the
   first that improves the surrogate with the *exact* mean KL ``<= delta``; if none does, the
   policy stays at ``theta_old``.

The KL is taken per decision over the full option distribution, at the prefixes of the
batch's architectures (teacher forcing): ``mean_b sum_t KL(pi_old(. | a_b,<t) || pi(. | a_b,<t))``.
TRPO has no learning rate: ``max_kl`` is the step size (the inherited Adam is unused).

Staleness (asynchronous evaluation): on-policy. A stale batch is treated as if the current
policy drew it; the trust region is then measured around the current parameters on that
batch's prefixes, so the KL bound still holds for the step taken, but the gradient is biased
(no importance weights): keep one or two batches in flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from ..controllers.lstm import Controller
from ..validation import require_positive
from .config import TRPOConfig
from .policy_gradient import PolicyGradientTrainer, UpdateStats


@dataclass
class TRPOStats(UpdateStats):
    """:class:`UpdateStats` plus the line search: ``step_fraction`` (0.5^k accepted, 0 when
    rejected), ``improvement`` (surrogate gain of the accepted step) and ``max_kl``."""

    step_fraction: float = 0.0
    improvement: float = 0.0
    max_kl: float = 0.0


def mean_kl(old_logits: list[torch.Tensor], logits: list[torch.Tensor]) -> torch.Tensor:
    """``mean_b sum_t KL(softmax(old_t) || softmax(new_t))``: logits lists of (B, K_t) per decision."""
    total = 0.0
    for old, new in zip(old_logits, logits, strict=True):
        old_logp = torch.log_softmax(old, dim=-1)  # (B, K_t)
        total = total + (old_logp.exp() * (old_logp - torch.log_softmax(new, dim=-1))).sum(-1)  # (B,)
    return total.mean()


def conjugate_gradient(matvec, b: torch.Tensor, iterations: int = 10, tolerance: float = 1e-10) -> torch.Tensor:
    """Solve ``A x = b`` for symmetric positive definite ``A`` given only ``matvec(v) = A v``."""
    x = torch.zeros_like(b)
    r = b.clone()  # residual b - A x
    p = r.clone()
    rr = r @ r
    for _ in range(iterations):
        if float(rr) < tolerance:
            break
        Ap = matvec(p)
        alpha = rr / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


class TRPOTrainer(PolicyGradientTrainer):
    """Natural-gradient steps inside a KL trust region.

    Args:
        controller: the policy.
        max_kl: ``delta``, the bound on the mean per-architecture KL(pi_old || pi_new)
            (0.01 in Schulman et al.'s experiments).
        cg_iterations: conjugate-gradient iterations (10 in the paper).
        cg_damping: ``c`` in ``(F + c I)``, keeping the solve well posed (0.1, as in the
            authors' code).
        backtracks: step halvings the line search tries before it gives up.
        **kwargs: :class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer` options used
            here: ``baseline_decay``, ``entropy_weight``, ``normalize_advantages``,
            ``advantage_std_floor``, ``epsilon``, ``schedule``.
    """

    def __init__(self, controller: Controller, *, max_kl: float = TRPOConfig.max_kl,
                 cg_iterations: int = TRPOConfig.cg_iterations, cg_damping: float = TRPOConfig.cg_damping,
                 backtracks: int = TRPOConfig.backtracks, **kwargs):
        for name in ("algorithm", "value_baseline", "ppo_clip", "ppo_epochs", "target_kl", "value_lr", "grad_clip"):
            if name in kwargs:
                raise ValueError(f"{name}: not an option of TRPO (its trust region is max_kl)")
        super().__init__(controller, algorithm="reinforce", grad_clip=None, **kwargs)
        self.algorithm = "trpo"
        self.max_kl = float(require_positive("max_kl", max_kl))
        self.cg_iterations = require_positive("cg_iterations", cg_iterations, integer=True)
        self.cg_damping = float(require_positive("cg_damping", cg_damping))
        self.backtracks = require_positive("backtracks", backtracks, integer=True)

    def __repr__(self) -> str:
        return (f"TRPOTrainer(max_kl={self.max_kl:g}, cg_iterations={self.cg_iterations}, cg_damping={self.cg_damping:g}, "
                f"entropy_weight={self.entropy_weight:g}, baseline={self.baseline}, updates={self.num_updates})")

    def _params(self) -> list[torch.nn.Parameter]:
        return [p for p in self.controller.parameters() if p.requires_grad]

    def _flat_grad(self, scalar: torch.Tensor, params, *, create_graph: bool = False) -> torch.Tensor:
        grads = torch.autograd.grad(scalar, params, create_graph=create_graph, allow_unused=True)
        return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads, strict=True)])

    def fisher_vector_product(self, indices: torch.Tensor, vector: torch.Tensor, *, damping: float | None = None) -> torch.Tensor:
        """``(F + c I) v`` at the current parameters, on the prefixes of ``indices`` (B, D).

        ``F`` is the Hessian of :func:`mean_kl` (pi_old fixed at the current policy) at
        ``pi = pi_old``, computed by double backward: ``grad((grad KL) . v)``.
        """
        return self.fisher_operator(indices, damping=damping)(vector)

    def fisher_operator(self, indices: torch.Tensor, *, damping: float | None = None):
        """``v -> (F + c I) v``; the KL's graph and its gradient are built once and reused."""
        params = self._params()
        out = self.controller(indices)
        kl = mean_kl([logits.detach() for logits in out.logits], out.logits)
        grads = torch.autograd.grad(kl, params, create_graph=True, allow_unused=True)
        used = [(p, g) for p, g in zip(params, grads, strict=True) if g is not None]
        grad_kl = torch.cat([g.reshape(-1) for _, g in used])  # (P_used,)
        slices, start = [], 0
        for p in params:  # where each parameter sits in the flat vector
            slices.append((start, start + p.numel()))
            start += p.numel()
        keep = torch.cat([torch.arange(a, b) for (a, b), g in zip(slices, grads, strict=True) if g is not None])
        c = self.cg_damping if damping is None else damping

        def product(vector: torch.Tensor) -> torch.Tensor:
            hvp = torch.autograd.grad(grad_kl @ vector[keep], [p for p, _ in used], retain_graph=True)
            result = c * vector.clone()
            result[keep] += torch.cat([h.reshape(-1) for h in hvp])
            return result

        return product

    def _surrogate(self, indices, old_log_probs, advantages) -> tuple[torch.Tensor, object]:
        """``mean_b sum_t r_bt A_bt + w mean entropy`` (to maximise) and the controller's output."""
        out = self.controller(indices)
        ratio = torch.exp(out.decision_log_probs - old_log_probs)  # (B, D)
        gain = (ratio * advantages).sum(1).mean() + self.entropy_weight * out.entropies.sum(1).mean()
        return gain, out

    def update_policy(self, architectures, rewards) -> TRPOStats:
        """One TRPO update from ``architectures`` (B) and their ``rewards`` (B)."""
        # 1. the batch, the EMA baseline from before it, advantages (B, D)
        ctrl = self.controller
        indices = ctrl.as_indices(architectures)
        rewards = self._rewards(rewards, indices.shape[0])
        B, D = indices.shape
        baseline = self.batch_baseline(rewards)
        advantages = (rewards - baseline)[:, None].expand(B, D)
        advantages = self.scale(advantages, rewards)
        params = self._params()
        with torch.no_grad():
            old = ctrl(indices)
        old_log_probs, old_logits = old.decision_log_probs, [logits.detach() for logits in old.logits]
        advantages = advantages * self.behaviour_weights(old_log_probs)[:, None]  # epsilon-greedy's pi / mu
        # 2. the policy gradient g of the surrogate at theta_old
        gain_old, out = self._surrogate(indices, old_log_probs, advantages)
        g = self._flat_grad(gain_old, params)
        # 3. x ~= (F + cI)^-1 g by conjugate gradient on Fisher-vector products
        fisher = self.fisher_operator(indices)
        x = conjugate_gradient(fisher, g, self.cg_iterations)
        # 4. the full step, scaled so that its quadratic KL 0.5 s^T F s equals max_kl
        quadratic = float(x @ fisher(x))
        full_step = math.sqrt(2 * self.max_kl / quadratic) * x if quadratic > 0 else torch.zeros_like(x)
        # 5. backtracking line search on the exact KL and the surrogate's improvement
        theta_old = parameters_to_vector(params).detach()
        fraction, improvement, kl = 0.0, 0.0, 0.0
        with torch.no_grad():
            for k in range(self.backtracks):
                vector_to_parameters(theta_old + 0.5**k * full_step, params)
                gain, new = self._surrogate(indices, old_log_probs, advantages)
                step_kl = float(mean_kl(old_logits, new.logits))
                if step_kl <= self.max_kl and float(gain - gain_old) > 0:
                    fraction, improvement, kl = 0.5**k, float(gain - gain_old), step_kl
                    break
            else:
                vector_to_parameters(theta_old, params)  # no acceptable step: stay at theta_old
        # 6. only now the EMA takes in this batch
        self.update_baseline(rewards)
        return self._finish_update(
            TRPOStats, loss=-float(gain_old.detach()), baseline=baseline, advantages=advantages, rewards=rewards,
            out=out, grad_norm=float(g.norm()), kl=kl, kl_stopped=fraction == 0.0, step_fraction=fraction,
            improvement=improvement, max_kl=self.max_kl,
        )
