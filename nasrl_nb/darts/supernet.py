"""The relaxed DARTS-space supernet (Liu et al., ICLR 2019, Sec. 2.1-2.2 and 2.4).

The search network of the paper (``Network`` of its ``model_search.py``): the skeleton of
the DARTS child (:mod:`nasrl_nb.nn.darts_network`: stem, cells with reductions at 1/3 and
2/3 of the depth, each cell's inputs preprocessed, the concat of its intermediate nodes,
global pooling, a linear classifier), in which node ``s`` of every cell sums a
:class:`~nasrl_nb.darts.mixed_op.MixedOp` from *every* earlier state ``j < s``: 14 edges
with 4 nodes, each mixing the 8 ops of :data:`~nasrl_nb.spaces.darts_space.RELAXED_OPS`.
All normal cells share one alpha tensor ``(14, 8)``, all reduction cells another.

Deriving the discrete cell (Sec. 2.4): for each node keep the two incoming edges whose
strongest non-``none`` op weight is largest, and on each the strongest non-``none`` op.

Its ops come from the children's registry. By default (``batch_norm="darts"``) it searches
as the paper's search network does: every BatchNorm of the ops and of the cells'
preprocessing without affine scale and shift, and a BatchNorm after each pool
(:mod:`~nasrl_nb.darts.mixed_op`). ``batch_norm="affine"`` keeps the children's ops as they
are, so that weights carry over between a supernet and a child
(:meth:`DartsSupernet.child_state_dict`) and with one-hot mixing weights the supernet computes
exactly its derived child.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn.darts_network import (
    STEM_MULTIPLIER,
    darts_layout,
    edge_stride,
    num_cells_for,
    preprocess_inputs,
    to_channels_last,
)
from ..nn.operations import along_signal
from ..spaces.darts_space import CELL_TYPES, DartsSpace
from ..spaces.search_space import Architecture
from ..validation import require_choice, require_positive
from .architect import RelaxedSupernetBase
from .mixed_op import BATCH_NORMS, ZERO_OP, FusedMixedOp, MixedOp, mixing_weights

SKIP_OP = "skip_connect"
PARAMETER_FREE_OPS = ("skip_connect", "max_pool_3x3", "avg_pool_3x3")  # at stride 1 (a normal cell)


class RelaxedDartsCell(nn.Module):
    """A DARTS cell with a mixed op on every edge ``j -> s`` (``j < s``); output: the nodes' concat.

    ``edges`` lists ``(s, j)`` node by node, ``j`` ascending: the row order of the alphas.
    ``forward(s0, s1, weights, skip, aux_skip_weight)``: ``weights`` ``(E, K)``; ``skip[e][k]``
    flags weights that are exactly 0; ``aux_skip_weight`` ``beta`` adds ``beta * state_j`` to
    every stride-1 edge (DARTS-'s auxiliary skip, Chu et al. 2021, Sec. 3.2; a reduction
    cell's stride-2 edges get none).
    """

    def __init__(self, plan, num_nodes: int, ops: Sequence[str], batch_norm: str = "darts", fused: bool = True):
        super().__init__()
        self.preprocess0, self.preprocess1 = preprocess_inputs(plan, affine=batch_norm == "affine")
        self.reduction = plan.reduction
        self.num_nodes = num_nodes
        self.edges = tuple((s, j) for s in range(2, num_nodes + 2) for j in range(s))
        self.strides = tuple(edge_stride(plan, j) for _, j in self.edges)
        mixed_op = FusedMixedOp if fused else MixedOp
        self.mixed = nn.ModuleList(mixed_op(plan.C, plan.C, stride, ops, batch_norm=batch_norm) for stride in self.strides)

    def forward(self, s0, s1, weights: torch.Tensor, skip: list[list[bool]], aux_skip_weight: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]  # each (B, C, H, W)
        e = 0
        for s in range(2, self.num_nodes + 2):
            total = None
            for j in range(s):
                term = self.mixed[e](states[j], weights[e], skip[e])  # (B, C, H', W')
                if aux_skip_weight and self.strides[e] == 1:
                    term = term + aux_skip_weight * states[j]
                total = term if total is None else total + term
                e += 1
            states.append(total)
        return torch.cat(states[2:], dim=1)  # (B, num_nodes * C, H', W')


class DartsSupernet(RelaxedSupernetBase):
    """The relaxed supernet of a :class:`DartsSpace` (the contract of :mod:`nasrl_nb.darts.architect`).

    Args:
        space: the DARTS space; its ops plus ``none`` are the candidates of every edge.
        input_shape: ``(C, H, W)`` of one example; num_classes: classifier outputs.
        channels: the first cells' width ``C`` (the stem has ``3 C``).
        cells_per_stage: normal cells per stage; ``3 * cells_per_stage + 2`` cells in all
            (the paper searches with 8 cells, ``cells_per_stage=2``).
        alpha_init: the alphas start as ``alpha_init * N(0, 1)`` (DARTS: 1e-3).
        batch_norm: ``"darts"`` (BatchNorms without affine, one after each pool: the paper's
            search network) or ``"affine"`` (the children's ops, for :meth:`child_state_dict`).
        fused: every edge a :class:`~nasrl_nb.darts.mixed_op.FusedMixedOp` (the default:
            faster) or, False, the plain :class:`~nasrl_nb.darts.mixed_op.MixedOp` sum.

    ``alphas_normal`` and ``alphas_reduce`` ``(E, K)`` are parameters of the module (so
    ``state_dict()`` holds weights and alphas together); :meth:`weight_parameters` and
    :meth:`arch_parameters` separate them for the optimiser.

    Speed: every edge is a :class:`~nasrl_nb.darts.mixed_op.FusedMixedOp` (one ReLU per edge,
    the weights folded into BatchNorm; ``fused=False``: the plain :class:`MixedOp` sum) and the network runs channels-last (``channels_last``, as the derived child
    does), the same function as op by op in NCHW, to float rounding
    (``tests/darts/test_darts_supernet.py``); ``BENCHMARKS.md`` has what each buys.
    """

    def __init__(
        self,
        space: DartsSpace,
        input_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        *,
        channels: int = 16,
        cells_per_stage: int = 1,
        alpha_init: float = 1e-3,
        batch_norm: str = "darts",
        fused: bool = True,
    ):
        super().__init__()
        if not isinstance(space, DartsSpace):
            raise ValueError(f"space: expected a DartsSpace, got {type(space).__name__}")
        self.batch_norm = require_choice("batch_norm", batch_norm, BATCH_NORMS)
        C = require_positive("channels", channels, integer=True)
        cells_per_stage = require_positive("cells_per_stage", cells_per_stage, integer=True)
        self.space = space
        self.op_names = (ZERO_OP, *space.ops)
        self.channels_last = True  # run in the NHWC layout (faster depthwise convs on CPU); False: NCHW
        plans, C_out = darts_layout(C, num_cells_for(cells_per_stage), space.num_nodes)
        C_stem = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(nn.Conv2d(int(input_shape[0]), C_stem, 3, 1, 1, bias=False), nn.BatchNorm2d(C_stem))
        self.cells = nn.ModuleList(RelaxedDartsCell(p, space.num_nodes, self.op_names, batch_norm, fused) for p in plans)
        self.classifier = nn.Linear(C_out, int(num_classes))
        self.edges = self.cells[0].edges
        shape = (len(self.edges), len(self.op_names))
        self.alphas_normal = nn.Parameter(alpha_init * torch.randn(shape))  # (E, K)
        self.alphas_reduce = nn.Parameter(alpha_init * torch.randn(shape))  # (E, K)
        if int(input_shape[1]) == 1:  # a 1 x W signal: convs and pools along W, as in the derived child
            along_signal(self.stem)
            along_signal(self.cells)

    # --- the relaxed forward pass ----------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_normal, w_reduce = mixing_weights(self.alphas_normal), mixing_weights(self.alphas_reduce)  # (E, K) each
        skip_normal, skip_reduce = (w_normal == 0).tolist(), (w_reduce == 0).tolist()  # one sync per cell type
        s0 = s1 = self.stem(to_channels_last(x) if self.channels_last else x)  # (B, 3C, H, W)
        for cell in self.cells:
            if cell.reduction:
                s0, s1 = s1, cell(s0, s1, w_reduce, skip_reduce, self.aux_skip_weight)
            else:
                s0, s1 = s1, cell(s0, s1, w_normal, skip_normal, self.aux_skip_weight)
        return self.classifier(s1.mean(dim=(2, 3)))  # global average pool -> (B, num_classes)

    # --- the contract -------------------------------------------------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        return [self.alphas_normal, self.alphas_reduce]

    def arch_weights(self) -> dict[str, torch.Tensor]:
        return {cell: mixing_weights(alpha.detach()) for cell, alpha in zip(CELL_TYPES, self.arch_parameters())}

    def edge_names(self) -> dict[str, list[str]]:
        names = [f"{j}->{s}" for s, j in self.edges]
        return {cell: list(names) for cell in CELL_TYPES}

    def derive(self) -> Architecture:
        """The discrete cells (Sec. 2.4, the paper code's ``genotype()``); ties go to the lower index.

        Per node, the two incoming edges with the largest non-``none`` softmax weight (the
        weights, not the alphas: each edge has its own softmax), and on each its argmax op.
        """
        cells = {}
        for cell, weights in self.arch_weights().items():
            strength = weights.clone()  # (E, K)
            strength[:, self.op_names.index(ZERO_OP)] = -1.0  # below every weight
            best_weight, best_op = strength.max(dim=1)  # first maximum on ties
            pairs, e = [], 0
            for s in range(2, self.space.num_nodes + 2):
                ranked = sorted(range(s), key=lambda j, e=e: -float(best_weight[e + j]))[:2]  # stable: lower j first
                pairs.extend((self.op_names[int(best_op[e + j])], j) for j in sorted(ranked))
                e += s
            cells[cell] = pairs
        return self.space.from_cells(cells)

    def skip_count(self) -> int:
        """``skip_connect`` edges of the derived normal cell (DARTS+ stops the search at 2)."""
        return sum(op == SKIP_OP for n in self.space.cells(self.derive())["normal"] for op in n.ops)

    def skip_share(self) -> float:
        """The share of the derived normal cell's edges that are ``skip_connect`` (the collapse)."""
        return self.skip_count() / (2 * self.space.num_nodes)

    def parameter_free_share(self) -> float:
        """The share of the derived normal cell's edges whose op has no weights (skip, pools)."""
        ops = [op for n in self.space.cells(self.derive())["normal"] for op in n.ops]
        return sum(op in PARAMETER_FREE_OPS for op in ops) / len(ops)

    def parameter_free_weight(self) -> tuple[float, float]:
        """(mean over the normal cell's edges of softmax(alpha)'s mass on parameter-free ops, its value at uniform alphas)."""
        free = [self.op_names.index(op) for op in PARAMETER_FREE_OPS]
        mass = mixing_weights(self.alphas_normal.detach())[:, free].sum(dim=1).mean()  # (E, K) -> scalar
        return float(mass), len(free) / len(self.op_names)

    # --- weight inheritance -----------------------------------------------------------------------------
    def child_state_dict(self, arch: Architecture) -> dict[str, torch.Tensor]:
        """The supernet's weights under the names of ``ChildNetwork(arch, ...)``'s parameters and buffers.

        Each edge of the child takes the weights of its op on the same edge of the supernet;
        stem, preprocessing and classifier carry over as they are. Needs ``batch_norm="affine"``
        (the search form's BatchNorms have no scale and shift, and its pools one more BatchNorm).
        """
        if self.batch_norm != "affine":
            raise ValueError(f"batch_norm: weight inheritance needs a supernet built with batch_norm='affine', "
                             f"this one has {self.batch_norm!r}")
        if arch.space != self.space:
            raise ValueError(f"arch: expected an architecture of {self.space!r}, got one of {arch.space!r}")
        cells = self.space.cells(arch)
        state = {f"features.stem.{k}": v for k, v in self.stem.state_dict().items()}
        state.update({f"classifier.{k}": v for k, v in self.classifier.state_dict().items()})
        for c, cell in enumerate(self.cells):
            prefix = f"features.cells.{c}"
            for name in ("preprocess0", "preprocess1"):
                state.update({f"{prefix}.{name}.{k}": v for k, v in getattr(cell, name).state_dict().items()})
            for n, node in enumerate(cells["reduce" if cell.reduction else "normal"]):
                for t, (op, j) in enumerate(zip(node.ops, node.inputs, strict=True)):
                    mixed = cell.mixed[self.edges.index((node.node, j))]
                    module = mixed.ops[mixed.live.index(self.op_names.index(op))]
                    state.update({f"{prefix}.ops.{n}.{t}.{k}": v for k, v in module.state_dict().items()})
        return state

    def extra_repr(self) -> str:
        return (f"ops={list(self.op_names)}, edges per cell={len(self.edges)}, cells={len(self.cells)}, "
                f"batch_norm={self.batch_norm!r}")
