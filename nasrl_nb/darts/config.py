"""DARTS's settings (:class:`DartsConfig`): the one place their defaults live and are checked.

:class:`~nasrl_nb.darts.architect.BilevelOptimizer` and
:class:`~nasrl_nb.darts.strategy.DartsStrategy` read their keyword defaults from these
fields and check their values by building one; a search's ``config.json`` stores them in its
``darts`` section (:class:`~nasrl_nb.assembly.config.SearchConfig`). The defaults are the paper's
(Liu et al., ICLR 2019, Sec. 3.1.2 and A.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import choice, require_choices, require_nonnegative, require_positive
from .mixed_op import BATCH_NORMS

REMEDIES: tuple[str, ...] = ("none", "darts-", "darts+", "r-darts-l2")  # see nasrl_nb.darts.strategy
VIRTUAL_STEPS: tuple[str, ...] = ("sgd", "reference")  # second order's w': Eq. 6, or with momentum and weight decay


@dataclass
class DartsConfig:
    """DARTS's bilevel search (:class:`~nasrl_nb.darts.strategy.DartsStrategy`, method darts).

    The supernet's width and cells come from ``child`` (``channels``, ``cells_per_stage``), its device from ``child.device``.
    """

    second_order: bool = False  # the unrolled architecture gradient (DARTS Eq. 7-8)
    batch_size: int = 64  # minibatch of each half of the training split
    w_lr: float = 0.025  # SGD on the weights, cosine-annealed to w_lr_min over `epochs`
    w_lr_min: float = 0.001  # the cosine's floor
    w_momentum: float = 0.9  # the weights' SGD momentum
    w_weight_decay: float = 3e-4  # the weights' L2 weight decay (r-darts-l2: x 27)
    grad_clip: float | None = 5.0  # clip the weights' gradient norm; None: off
    alpha_lr: float = 3e-4  # Adam on the alphas, betas (0.5, 0.999)
    alpha_weight_decay: float = 1e-3  # the alphas' L2 weight decay
    epochs: int | None = None  # planned search epochs (cosine, DARTS-'s decay); None: the budget
    remedy: str = choice("none", REMEDIES)  # none, darts- (auxiliary skip), darts+ (early stop on skips), r-darts-l2 (one grid point: weight decay x 27)
    aux_skip_weight: float = 1.0  # DARTS-: beta at the start, decayed linearly to 0
    max_skips: int = 2  # DARTS+: stop once the derived cell has this many skip connections
    virtual_step: str = choice("sgd", VIRTUAL_STEPS)  # second order's w': sgd (Eq. 6) or reference (+ momentum and weight decay, as quark0's code)
    batch_norm: str = choice("darts", BATCH_NORMS)  # the supernet's BNs: darts (affine=False, BN after pools, as the paper searched) or affine

    def __post_init__(self):
        require_choices(self, "darts")
        if not isinstance(self.second_order, bool):
            raise ValueError(f"darts.second_order: must be True or False, got {self.second_order!r}")
        for name in ("batch_size", "max_skips") + (("epochs",) if self.epochs is not None else ()):
            require_positive(f"darts.{name}", getattr(self, name), integer=True)
        for name in ("w_lr", "alpha_lr"):
            require_positive(f"darts.{name}", getattr(self, name))
        for name in ("w_lr_min", "w_momentum", "w_weight_decay", "alpha_weight_decay", "aux_skip_weight"):
            require_nonnegative(f"darts.{name}", getattr(self, name))
        if self.w_lr_min > self.w_lr:
            raise ValueError(f"darts.w_lr_min: {self.w_lr_min!r} is above w_lr={self.w_lr!r}; allowed values: 0..w_lr")
        if self.grad_clip is not None:
            require_positive("darts.grad_clip", self.grad_clip)
