"""The relaxed NAS-Bench-201 supernet: every edge of the cell a :class:`~nasrl_nb.darts.mixed_op.MixedOp`.

NAS-Bench-201 (Dong & Yang, ICLR 2020, Sec. 5) runs DARTS on its own space: the skeleton of
the child networks (stem, three stages of cells joined by residual reduction blocks, global
pooling, a linear classifier) with each of the cell's 6 edges replaced by a mixed op over the 5
candidate ops, one ``alpha`` row per edge shared by every cell (Liu et al. 2019, Sec. 2.2).
The mixed ops search with DARTS's BatchNorms by default (``batch_norm="darts"``: no affine, a
BatchNorm after the pool; :mod:`~nasrl_nb.darts.mixed_op`).

Deriving the discrete cell (:data:`DERIVE_RULES`) takes the strongest op of each edge:

* ``"darts"`` (the default): ``none`` excluded, DARTS's rule (Liu et al. 2019, Sec. 2.4: "the
  strongest operation ... excluding the zero operation");
* ``"nas-bench-201"``: over all ops, ``none`` included, as NAS-Bench-201's own DARTS code does
  (``genotype()`` of its ``search_model_darts.py`` takes the argmax of every row), so an edge
  whose ``none`` wins is cut.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn.child_network import ReductionBlock
from ..nn.operations import along_signal
from ..spaces.cell_space import CellSpace
from ..spaces.search_space import Architecture
from ..validation import require_choice, require_positive
from .architect import RelaxedSupernetBase
from .mixed_op import BATCH_NORMS, ZERO_OP, FusedMixedOp, MixedOp, mixing_weights

SKIP_OP = "skip_connect"
DERIVE_RULES: tuple[str, ...] = ("darts", "nas-bench-201")  # argmax without `none` (DARTS Sec. 2.4); with it


class RelaxedCell(nn.Module):
    """Node ``i`` is ``sum_{j<i} MixedOp_ij(node_j)``; the cell's output is its last node.

    ``forward(x, weights, skip, aux_skip_weight)``: ``weights`` ``(E, K)`` is one row of op weights
    per edge (edges in :attr:`CellSpace.edges` order); ``aux_skip_weight`` ``beta`` adds
    ``beta * node_j`` to every edge (DARTS-'s auxiliary skip, Chu et al. 2021, Sec. 3.2).
    """

    def __init__(self, space: CellSpace, C: int, batch_norm: str = "darts", fused: bool = True):
        super().__init__()
        self.edges = space.edges  # ((to, from), ...)
        self.num_nodes = space.num_nodes
        mixed_op = FusedMixedOp if fused else MixedOp  # the same function and state_dict; the fused one is faster
        self.mixed = nn.ModuleList(mixed_op(C, C, 1, space.ops, batch_norm=batch_norm) for _ in self.edges)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, skip: list[list[bool]], aux_skip_weight: float = 0.0):
        nodes = [x]
        e = 0
        for i in range(1, self.num_nodes):
            total = None
            for j in range(i):
                term = self.mixed[e](nodes[j], weights[e], skip[e])  # (B, C, H, W)
                if aux_skip_weight:
                    term = term + aux_skip_weight * nodes[j]
                total = term if total is None else total + term
                e += 1
            nodes.append(total)
        return nodes[-1]


class RelaxedCellSupernet(RelaxedSupernetBase):
    """DARTS's relaxed supernet of the cell space (the contract of :mod:`nasrl_nb.darts.architect`).

    Args:
        space: the :class:`CellSpace` (its ops are the candidates of every edge).
        input_shape: ``(C, H, W)`` of one example; num_classes: classifier outputs.
        channels: the first stage's width ``C`` (stages ``C, 2C, 4C``, as the child networks).
        cells_per_stage: relaxed cells per stage.
        alpha_init: the alphas start as ``alpha_init * N(0, 1)`` (DARTS: 1e-3).
        batch_norm: the mixed ops' BatchNorms, ``"darts"`` (no affine, BN after the pool) or
            ``"affine"`` (the children's ops).
        derive_rule: :meth:`derive`'s default rule, ``"darts"`` (``none`` excluded) or
            ``"nas-bench-201"`` (``none`` included).
        fused: every edge a :class:`~nasrl_nb.darts.mixed_op.FusedMixedOp` (the default:
            faster) or, False, the plain :class:`~nasrl_nb.darts.mixed_op.MixedOp` sum.

    ``alphas`` ``(E, K)`` is one learnable row per edge, shared by every cell. The module holds
    it as a parameter, so ``state_dict()`` has the weights and the alphas together; the
    optimiser separates them through :meth:`weight_parameters` and :meth:`arch_parameters`.
    """

    def __init__(
        self,
        space: CellSpace,
        input_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        *,
        channels: int = 16,
        cells_per_stage: int = 1,
        alpha_init: float = 1e-3,
        batch_norm: str = "darts",
        derive_rule: str = "darts",
        fused: bool = True,
    ):
        super().__init__()
        self.batch_norm = require_choice("batch_norm", batch_norm, BATCH_NORMS)
        self.derive_rule = require_choice("derive_rule", derive_rule, DERIVE_RULES)
        if not isinstance(space, CellSpace):
            raise ValueError(f"space: expected a CellSpace, got {type(space).__name__}")
        if ZERO_OP in space.ops and len(space.ops) == 1:
            raise ValueError("space.ops: needs an op other than 'none' to derive a cell")
        C = require_positive("channels", channels, integer=True)
        cells_per_stage = require_positive("cells_per_stage", cells_per_stage, integer=True)
        self.space = space
        self.op_names = tuple(space.ops)
        in_channels = int(input_shape[0])
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, 1, 1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                blocks.append(ReductionBlock(width // 2, width))
            blocks.extend(RelaxedCell(space, width, batch_norm, fused) for _ in range(cells_per_stage))
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU())
        self.classifier = nn.Linear(4 * C, int(num_classes))
        self.alphas = nn.Parameter(alpha_init * torch.randn(len(space.edges), len(space.ops)))  # (E, K)
        if int(input_shape[1]) == 1:  # a 1 x W signal: convs and pools along W, as in the derived child
            along_signal(self.stem)
            along_signal(self.blocks)

    # --- the relaxed forward pass ----------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = mixing_weights(self.alphas)  # (E, K), one softmax per edge, shared by every cell
        skip = (weights == 0).tolist()  # one device sync for every edge of every cell
        h = self.stem(x)  # (B, C, H, W)
        for block in self.blocks:
            h = block(h, weights, skip, self.aux_skip_weight) if isinstance(block, RelaxedCell) else block(h)
        h = self.head(h)  # (B, 4C, H/4, W/4)
        return self.classifier(h.mean(dim=(2, 3)))  # (B, num_classes)

    # --- the contract -------------------------------------------------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        return [self.alphas]

    def arch_weights(self) -> dict[str, torch.Tensor]:
        return {"cell": mixing_weights(self.alphas.detach())}

    def edge_names(self) -> dict[str, list[str]]:
        return {"cell": [f"{j}->{i}" for i, j in self.space.edges]}

    def derive(self, rule: str | None = None) -> Architecture:
        """The strongest op of every edge (ties: the op listed first) by ``rule`` (None: :attr:`derive_rule`).

        ``"darts"``: ``none`` excluded (DARTS Sec. 2.4); ``"nas-bench-201"``: ``none`` included
        (NAS-Bench-201's ``genotype()``).
        """
        rule = self.derive_rule if rule is None else require_choice("rule", rule, DERIVE_RULES)
        logits = self.alphas.detach().clone()  # (E, K); softmax is monotone, so argmax of alpha
        if rule == "darts" and ZERO_OP in self.op_names:
            logits[:, self.op_names.index(ZERO_OP)] = -float("inf")
        return self.space.from_indices(logits.argmax(dim=1).tolist())

    def skip_share(self) -> float:
        choices = self.derive().choices
        return sum(c == SKIP_OP for c in choices) / len(choices)

    def parameter_free_share(self) -> float:
        """The share of the derived cell's edges whose op has no weights (skip, pooling): the wider collapse.

        On digits-cell plain DARTS collapses to ``avg_pool_3x3`` rather than to skips, both
        parameter-free (Zela et al. 2020, "Understanding and robustifying DARTS", Sec. 3).
        """
        free = self.parameter_free_ops()
        choices = self.derive().choices
        return sum(c in free for c in choices) / len(choices)

    def parameter_free_ops(self) -> tuple[str, ...]:
        """The candidate ops without weights (skip, pooling; ``none`` is not among them: it is no op)."""
        edge = self.blocks[0].mixed[0]  # every edge holds the same ops at width C, stride 1
        return tuple(self.op_names[k] for k, op in zip(edge.live, edge.ops) if next(op.parameters(), None) is None)

    def parameter_free_weight(self) -> tuple[float, float]:
        """(mean over edges of softmax(alpha)'s mass on the parameter-free ops, that mass at uniform alphas).

        The drift itself, before any argmax: at the start it is the chance value
        ``len(parameter_free_ops()) / len(op_names)`` (2/5 on NAS-Bench-201's ops, the share of
        parameter-free edges in a random cell of the space, ``none`` counted), and it rises only
        when the alphas really move towards weight-free ops.
        """
        free = [self.op_names.index(op) for op in self.parameter_free_ops()]
        mass = mixing_weights(self.alphas.detach())[:, free].sum(dim=1).mean()  # (E, K) -> scalar
        return float(mass), len(free) / len(self.op_names)

    def extra_repr(self) -> str:
        return (f"ops={list(self.op_names)}, edges={len(self.space.edges)}, batch_norm={self.batch_norm!r}, "
                f"derive_rule={self.derive_rule!r}")
