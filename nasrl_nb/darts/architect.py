"""DARTS's bilevel optimisation: the architecture step and the weight step (Liu et al., ICLR 2019, Sec. 2.3).

DARTS searches by gradient descent on two sets of parameters of one relaxed supernet: the
network weights ``w`` on the training loss and the architecture parameters ``alpha`` on the
validation loss (Eq. 3-4)::

    min_alpha  L_val(w*(alpha), alpha)   s.t.   w*(alpha) = argmin_w L_train(w, alpha)

Algorithm 1 alternates, for each pair of a training and a validation batch:

1. the architecture step: ``alpha -= alpha_lr * grad_alpha``, where ``grad_alpha`` is
   * first order: ``grad_alpha L_val(w, alpha)`` (``xi = 0``);
   * second order: the gradient through one unrolled weight step (Eq. 6-8)::

         w'         = w - xi * grad_w L_train(w, alpha)                       (virtual_step="sgd", Eq. 6)
         grad_alpha = grad_alpha L_val(w', alpha) - xi * H v,    v = grad_w' L_val(w', alpha)
         H v       ~= (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps),
                        w+- = w +- eps v,   eps = 0.01 / ||v||      (finite differences, Eq. 8)

   ``virtual_step="reference"`` unrolls the step the weight optimiser would take instead, as
   the paper's code does (``_compute_unrolled_model`` of quark0/darts's ``architect.py``):
   ``w' = w - xi * (mu * m + grad_w L_train(w, alpha) + lambda * w)`` with SGD's momentum
   ``mu``, its momentum buffer ``m`` (zero before the first weight step) and its weight decay
   ``lambda`` (no clipping). ``m`` and ``lambda * w`` do not depend on ``alpha``, so Eq. 7-8's
   Hessian-vector product is the same; only ``w'`` moves.

2. the weight step: ``w -= lr * grad_w L_train(w, alpha)`` (SGD with momentum, weight decay
   and gradient clipping, as in the paper's Sec. 3.1.1).

The contract of a relaxed supernet
----------------------------------
:class:`BilevelOptimizer` works on any ``nn.Module`` that offers (see :class:`RelaxedSupernet`):

* ``forward(x) -> logits`` of shape ``(B, num_classes)``, mixing every edge's ops with
  ``softmax(alpha)`` (:class:`~nasrl_nb.darts.mixed_op.MixedOp`);
* ``weight_parameters() -> list[nn.Parameter]``: the network weights ``w`` (everything
  trained on the training loss; the alphas are not among them);
* ``arch_parameters() -> list[torch.Tensor]``: the architecture parameters, leaf tensors
  with ``requires_grad``, each of shape ``(num_edges, num_ops)`` (one row of logits per edge);
* ``arch_weights() -> dict[str, torch.Tensor]``: ``softmax`` of each alpha tensor, detached,
  keyed by the cell type (``"cell"`` for NAS-Bench-201; ``"normal"``, ``"reduce"`` for DARTS);
* ``edge_names() -> dict[str, list[str]]``: a readable name per row of each of those tensors
  (same keys), and ``op_names``: the op of each column (a tuple of registry names);
* ``derive() -> Architecture``: the discrete architecture of the search space (NAS-Bench-201's
  cell: argmax per edge excluding ``none``, DARTS's Sec. 2.4 rule, by default; DARTS: top-2
  inputs per node excluding ``none``);
  deterministic (ties go to the lower index);
* ``skip_share() -> float``: the share of the derived cell's edges that are
  ``skip_connect`` (the normal cell's for DARTS): the collapse indicator;
* optionally ``aux_skip_weight`` (a float attribute, DARTS-'s auxiliary skip ``beta``; 0 off).

Everything else (data order, epochs, schedules, remedies, checkpoints) belongs to the caller
(:mod:`nasrl_nb.darts.strategy` plugs it into the one search loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..spaces.search_space import Architecture
from ..validation import require_fraction, require_nonnegative, require_positive
from .config import DartsConfig

Batch = tuple[torch.Tensor, torch.Tensor]  # (X, y)


@runtime_checkable
class RelaxedSupernet(Protocol):
    """The methods a supernet offers to :class:`BilevelOptimizer` (see the module docstring)."""

    op_names: tuple[str, ...]

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...
    def weight_parameters(self) -> list[nn.Parameter]: ...
    def arch_parameters(self) -> list[torch.Tensor]: ...
    def arch_weights(self) -> dict[str, torch.Tensor]: ...
    def edge_names(self) -> dict[str, list[str]]: ...
    def derive(self) -> Architecture: ...
    def skip_share(self) -> float: ...


class RelaxedSupernetBase(nn.Module):
    """What every relaxed supernet of the package shares, whatever its cells: the split of its
    parameters into weights and alphas, and DARTS-'s auxiliary skip ``beta`` (0: off).

    A subclass defines ``arch_parameters()`` and the rest of :class:`RelaxedSupernet`
    (:class:`~nasrl_nb.darts.relaxed_cell.RelaxedCellSupernet`,
    :class:`~nasrl_nb.darts.supernet.DartsSupernet`).
    """

    aux_skip_weight = 0.0  # DARTS- (Chu et al. 2021, Sec. 3.2): beta * x added on every edge, outside the softmax

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter but the alphas: the weights ``w`` the training loss trains."""
        alphas = {id(a) for a in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in alphas]

    def set_aux_skip_weight(self, beta: float) -> None:
        """DARTS-'s auxiliary skip weight ``beta`` (0 turns it off)."""
        self.aux_skip_weight = require_fraction("aux_skip_weight", beta, low=0.0, high=float("inf"))


@dataclass
class BilevelStats:
    """What one bilevel step measured (plain floats; ``hvp_norm`` and ``eps`` are None in first order)."""

    train_loss: float  # L_train(w, alpha_new) of the weight step
    train_accuracy: float  # on that training batch
    val_loss: float  # L_val of the architecture step (at w' in second order)
    alpha_grad_norm: float  # ||grad_alpha||, the gradient the architecture step used
    w_grad_norm: float  # ||grad_w L_train|| before clipping
    w_lr: float
    hvp_norm: float | None = None  # ||H v|| (second order)
    eps: float | None = None  # the finite-difference step 0.01 / ||v|| (second order)

    def to_dict(self) -> dict:
        return asdict(self)


# --- the pieces of Eq. 6-8, as functions --------------------------------------------------------
def _loss(net, criterion, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    X, y = batch
    logits = net(X)  # (B, num_classes)
    return criterion(logits, y), logits


def _add_(params: Sequence[torch.Tensor], vectors: Sequence[torch.Tensor], scale: float) -> None:
    """``p += scale * v`` for every pair, in place, without recording gradients."""
    params, vectors = list(params), list(vectors)
    if params:
        with torch.no_grad():
            torch._foreach_add_(params, vectors, alpha=scale)


def _copy_(params: Sequence[torch.Tensor], values: Sequence[torch.Tensor]) -> None:
    params, values = list(params), list(values)
    if params:
        with torch.no_grad():
            torch._foreach_copy_(params, values)


@contextmanager
def _frozen(tensors: Sequence[torch.Tensor]) -> Iterator[None]:
    """``requires_grad`` off for ``tensors`` inside the block, each flag put back even on an error.

    A pass that differentiates only some leaves still makes autograd save, for the frozen-out
    ones, what their gradient would need (e.g. every op output of a mixed op for ``d L / d w_k``);
    frozen, those tensors are freed as soon as the forward no longer needs them. The gradients
    asked for are computed by the same operations, so they are bit-identical.
    """
    flags = [t.requires_grad for t in tensors]
    try:
        for t in tensors:
            t.requires_grad_(False)
        yield
    finally:
        for t, flag in zip(tensors, flags, strict=True):
            t.requires_grad_(flag)


def _norm(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))


def finite_difference_hvp(
    net: nn.Module,
    criterion: Callable,
    batch: Batch,
    weights: Sequence[nn.Parameter],
    alphas: Sequence[torch.Tensor],
    v: Sequence[torch.Tensor],
    r: float = 0.01,
) -> tuple[list[torch.Tensor], float]:
    """``(grad^2_{alpha,w} L(w, alpha)) v`` by central differences (DARTS Eq. 8), and its ``eps``.

    ``eps = r / ||v||``; ``w`` is moved to ``w + eps v`` and ``w - eps v`` and put back
    exactly (copied, not subtracted). Two forward-backward passes, gradients w.r.t. the
    alphas only; BatchNorm running statistics are updated by the two forwards (callers that
    care restore them, as :meth:`BilevelOptimizer.architecture_gradient` does).
    """
    saved = [p.detach().clone() for p in weights]
    eps = r / max(float(_norm(v)), 1e-12)
    grads = []
    for sign in (1.0, -1.0):
        _add_(weights, v, sign * eps)  # w +- eps v
        loss, _ = _loss(net, criterion, batch)
        grads.append(torch.autograd.grad(loss, list(alphas)))
        del loss, _  # free this pass's graph before the next forward
        _copy_(weights, saved)
    return [(gp - gm) / (2 * eps) for gp, gm in zip(grads[0], grads[1], strict=True)], eps


class BilevelOptimizer:
    """Algorithm 1 of DARTS on a :class:`RelaxedSupernet`: one :meth:`step` per (train, val) batch pair.

    Args:
        supernet: the relaxed network (its weights and alphas are optimised in place).
        w_lr, w_momentum, w_weight_decay, grad_clip: SGD on the weights (paper: 0.025, 0.9,
            3e-4, 5); ``w_lr`` is the starting rate, change it with :attr:`w_lr` (a schedule).
        alpha_lr, alpha_betas, alpha_weight_decay: Adam on the alphas (paper: 3e-4,
            (0.5, 0.999), 1e-3).
        second_order: the unrolled architecture gradient (Eq. 7-8) instead of the first-order one.
        xi: the virtual step of the unrolled weights; None: the current ``w_lr`` (the paper's choice).
        virtual_step: the unrolled weight step of second order, ``"sgd"`` (plain SGD, the
            paper's Eq. 6) or ``"reference"`` (with SGD's momentum buffer and weight decay, as
            the paper's code; see the module docstring). First order ignores it.
        criterion: ``criterion(logits, y) -> scalar loss`` (default: cross-entropy).

    Memory: each pass asks autograd only for the gradient it needs and freezes
    (``requires_grad_(False)``, restored on exit, errors included) what it does not
    differentiate: the alphas in the weight step, the weights in the first-order architecture
    pass; each pass's loss and graph are dropped before the next forward. The numbers are
    those of a plain ``loss.backward()`` into everything, bit for bit
    (``tests/darts/test_bilevel_step_oracle.py``).
    """

    def __init__(
        self,
        supernet: nn.Module,
        *,
        w_lr: float = DartsConfig.w_lr,
        w_momentum: float = DartsConfig.w_momentum,
        w_weight_decay: float = DartsConfig.w_weight_decay,
        grad_clip: float | None = DartsConfig.grad_clip,
        alpha_lr: float = DartsConfig.alpha_lr,
        alpha_betas: tuple[float, float] = (0.5, 0.999),
        alpha_weight_decay: float = DartsConfig.alpha_weight_decay,
        second_order: bool = DartsConfig.second_order,
        xi: float | None = None,
        virtual_step: str = DartsConfig.virtual_step,
        criterion: Callable | None = None,
    ):
        for name in ("weight_parameters", "arch_parameters"):
            if not callable(getattr(supernet, name, None)):
                raise ValueError(f"supernet: expected a relaxed supernet with {name}() (see nasrl_nb.darts.architect), "
                                 f"got {type(supernet).__name__}")
        self.supernet = supernet
        self.weights = list(supernet.weight_parameters())
        self.alphas = list(supernet.arch_parameters())
        if not self.alphas or not all(a.requires_grad and a.is_leaf for a in self.alphas):
            raise ValueError("supernet: arch_parameters() must return leaf tensors with requires_grad=True")
        ids = {id(a) for a in self.alphas}
        if any(id(p) in ids for p in self.weights):
            raise ValueError("supernet: weight_parameters() must not include the arch_parameters()")
        DartsConfig(w_lr=w_lr, w_lr_min=0.0, w_momentum=w_momentum, w_weight_decay=w_weight_decay, grad_clip=grad_clip, alpha_lr=alpha_lr,
                    alpha_weight_decay=alpha_weight_decay, second_order=second_order,
                    virtual_step=virtual_step)  # checks them
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.second_order = second_order
        self.xi = None if xi is None else float(require_nonnegative("xi", xi))
        self.virtual_step = virtual_step
        self.criterion = criterion or nn.functional.cross_entropy
        self.w_optimizer = torch.optim.SGD(self.weights, lr=w_lr, momentum=w_momentum, weight_decay=w_weight_decay)
        self.alpha_optimizer = torch.optim.Adam(self.alphas, lr=alpha_lr, betas=tuple(alpha_betas),
                                                weight_decay=alpha_weight_decay)

    @property
    def w_lr(self) -> float:
        return float(self.w_optimizer.param_groups[0]["lr"])

    @w_lr.setter
    def w_lr(self, value: float) -> None:
        self.w_optimizer.param_groups[0]["lr"] = float(require_positive("w_lr", value))

    # --- 1. the architecture gradient ---------------------------------------------------------------
    def architecture_gradient(self, train_batch: Batch, val_batch: Batch) -> tuple[list[torch.Tensor], dict]:
        """``grad_alpha`` of the architecture step and its statistics; ``w`` and BN buffers unchanged."""
        net, crit = self.supernet, self.criterion
        buffers = [b.detach().clone() for b in net.buffers()]
        info: dict = {"hvp_norm": None, "eps": None}
        saved = None
        try:
            if not self.second_order:  # grad_alpha L_val(w, alpha), with w frozen: nothing kept for grad_w
                with _frozen(self.weights):
                    val_loss, _ = _loss(net, crit, val_batch)
                    grad_alpha = list(torch.autograd.grad(val_loss, self.alphas))
                val_loss_value = float(val_loss.detach())
                del val_loss, _
            else:
                xi = self.w_lr if self.xi is None else self.xi
                saved = [p.detach().clone() for p in self.weights]
                # (a) unrolled weights w' = w - xi * grad_w L_train(w, alpha)   (Eq. 6)
                train_loss, _ = _loss(net, crit, train_batch)
                grad_w = torch.autograd.grad(train_loss, self.weights)
                # an alpha- or weight-only grad leaves the nodes that lead only to the other set
                # unrun, with their saved tensors: drop each pass's loss and logits before the next
                del train_loss, _
                if self.virtual_step == "reference":  # quark0: xi * (mu * m + g + lambda * w)
                    grad_w = self._reference_direction(grad_w, saved)
                _add_(self.weights, grad_w, -xi)
                # (b) grad_alpha L_val(w', alpha) and v = grad_w' L_val(w', alpha)
                val_loss, _ = _loss(net, crit, val_batch)
                grads = torch.autograd.grad(val_loss, self.alphas + self.weights)
                val_loss_value = float(val_loss.detach())
                del val_loss, _
                direct, v = list(grads[: len(self.alphas)]), list(grads[len(self.alphas):])
                _copy_(self.weights, saved)  # back to w
                # (c) H v by finite differences at w, then Eq. 7
                hvp, eps = finite_difference_hvp(net, crit, train_batch, self.weights, self.alphas, v)
                grad_alpha = [d - xi * h for d, h in zip(direct, hvp, strict=True)]
                info.update(hvp_norm=float(_norm(hvp)), eps=eps, terms={"direct": direct, "hvp": hvp, "xi": xi})
        except BaseException:
            if saved is not None:  # interrupted between (a) and (c): w, not w', is what a checkpoint must see
                _copy_(self.weights, saved)
            raise
        finally:
            _copy_(list(net.buffers()), buffers)  # the architecture step leaves BN statistics alone
        info.update(val_loss=val_loss_value, alpha_grad_norm=float(_norm(grad_alpha)))
        return grad_alpha, info

    def _reference_direction(self, grad_w: Sequence[torch.Tensor], w: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """``mu * m + g + lambda * w``: the direction of SGD's next step (momentum buffer ``m``, 0 if none yet)."""
        group = self.w_optimizer.param_groups[0]
        mu, decay = group["momentum"], group["weight_decay"]
        direction = []
        for p, g, w_p in zip(self.weights, grad_w, w, strict=True):
            buf = self.w_optimizer.state.get(p, {}).get("momentum_buffer")
            d = g + decay * w_p
            direction.append(d if buf is None else d + mu * buf)
        return direction

    # --- Algorithm 1: one step -------------------------------------------------------------------------
    def step(self, train_batch: Batch, val_batch: Batch) -> BilevelStats:
        """1. the architecture step on ``val_batch``; 2. the weight step on ``train_batch``."""
        return self._step(train_batch, val_batch, None)

    def traced_step(self, train_batch: Batch, val_batch: Batch) -> tuple[BilevelStats, dict]:
        """:meth:`step`, and what each stage produced (for a step-through display).

        The trace holds detached copies: ``alphas_before``, ``grad_alpha`` (and in second order
        its two terms ``direct`` = grad_alpha L_val(w', alpha) and ``hvp`` = H v, with ``xi``),
        ``alphas_after``, and the weight step's ``w_change_norm`` ||w_after - w_before||.
        """
        trace: dict = {}
        return self._step(train_batch, val_batch, trace), trace

    def _step(self, train_batch: Batch, val_batch: Batch, trace: dict | None) -> BilevelStats:
        if trace is not None:
            trace["alphas_before"] = [a.detach().clone() for a in self.alphas]
            w_before = [p.detach().clone() for p in self.weights]
        grad_alpha, info = self.architecture_gradient(train_batch, val_batch)
        terms = info.pop("terms", None)
        self.alpha_optimizer.zero_grad(set_to_none=True)
        for a, g in zip(self.alphas, grad_alpha, strict=True):
            a.grad = g
        self.alpha_optimizer.step()
        stats = BilevelStats(**self.weight_step(train_batch), **info)
        if trace is not None:
            trace.update(
                grad_alpha=[g.detach().clone() for g in grad_alpha],
                direct=None if terms is None else [t.detach().clone() for t in terms["direct"]],
                hvp=None if terms is None else [t.detach().clone() for t in terms["hvp"]],
                xi=None if terms is None else terms["xi"],
                alphas_after=[a.detach().clone() for a in self.alphas],
                w_change_norm=float(_norm([p.detach() - b for p, b in zip(self.weights, w_before, strict=True)])),
            )
        return stats

    def weight_step(self, train_batch: Batch) -> dict:
        """``w -= lr * clip(grad_w L_train(w, alpha))`` with SGD's momentum and weight decay."""
        self.w_optimizer.zero_grad(set_to_none=True)
        with _frozen(self.alphas):  # no gradient for the alphas here, so none of what it would need is kept
            loss, logits = _loss(self.supernet, self.criterion, train_batch)
            loss.backward(inputs=self.weights)
        if self.grad_clip is not None:
            w_grad_norm = float(nn.utils.clip_grad_norm_(self.weights, self.grad_clip))
        else:
            w_grad_norm = float(_norm([p.grad for p in self.weights if p.grad is not None]))
        self.w_optimizer.step()
        y = train_batch[1]
        accuracy = float((logits.argmax(dim=1) == y).float().mean()) if logits.dim() == 2 and y.dtype == torch.int64 else math.nan
        return {"train_loss": float(loss.detach()), "train_accuracy": accuracy, "w_grad_norm": w_grad_norm, "w_lr": self.w_lr}

    # --- checkpoints ---------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Both optimisers' states (momentum buffers, Adam moments, learning rates)."""
        return {"w_optimizer": self.w_optimizer.state_dict(), "alpha_optimizer": self.alpha_optimizer.state_dict()}

    def load_state_dict(self, state: Mapping) -> None:
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])

    def __repr__(self) -> str:
        order = f"second order, virtual step {self.virtual_step}" if self.second_order else "first order"
        return f"BilevelOptimizer({order}, w_lr={self.w_lr:g}, alpha_lr={self.alpha_optimizer.param_groups[0]['lr']:g})"
