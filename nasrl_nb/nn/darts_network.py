"""The DARTS network: a stack of normal and reduction cells (Liu et al., ICLR 2019, Sec. 3.1).

A child of the :class:`~nasrl_nb.spaces.darts_space.DartsSpace` is built as the paper's
CIFAR network (``NetworkCIFAR`` of its ``model.py``, without the auxiliary head and
drop-path of the final training):

1. a stem ``conv3x3 -> BN`` to ``3 * C`` channels (``stem_multiplier = 3``);
2. ``num_cells`` cells; those at 1/3 and 2/3 of the depth (``num_cells // 3`` and
   ``2 * num_cells // 3``) are reduction cells, which double the width and halve the
   resolution. Cell ``k`` reads the outputs of cells ``k - 2`` and ``k - 1`` (both are the
   stem's output for the first cell);
3. global average pooling and a linear classifier (in :class:`~nasrl_nb.nn.child_network.ChildNetwork`).

Inside a cell (:class:`DartsCell`) the two inputs are first brought to the cell's width
``C``: ``c_{k-1}`` by ``ReLU -> conv1x1 -> BN``, ``c_{k-2}`` the same way or, when cell
``k - 1`` was a reduction, by a factorized reduction (its resolution is still twice as
large). Each intermediate node sums two ops of the earlier states; in a reduction cell the
ops that read the cell's inputs have stride 2. The output concatenates every intermediate
node: ``num_nodes * C`` channels.

:func:`darts_layout` is the plan both this network and the relaxed supernet follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..spaces.darts_space import NodeSpec
from .operations import OPS, FactorizedReduce, ReLUConvBN

STEM_MULTIPLIER = 3


@dataclass(frozen=True)
class CellPlan:
    """Shape of one cell: input widths, own width ``C``, and whether it (or its predecessor) reduces."""

    C_prev_prev: int
    C_prev: int
    C: int
    reduction: bool
    reduction_prev: bool


def darts_layout(C: int, num_cells: int, num_nodes: int) -> tuple[list[CellPlan], int]:
    """The cells' plans and the last cell's output width, exactly as the paper's code stacks them."""
    C_prev_prev = C_prev = STEM_MULTIPLIER * C
    C_curr, reduction_prev, plans = C, False, []
    for k in range(num_cells):
        reduction = k in (num_cells // 3, 2 * num_cells // 3)
        if reduction:
            C_curr *= 2
        plans.append(CellPlan(C_prev_prev, C_prev, C_curr, reduction, reduction_prev))
        C_prev_prev, C_prev, reduction_prev = C_prev, num_nodes * C_curr, reduction
    return plans, C_prev


def num_cells_for(cells_per_stage: int) -> int:
    """Cells of a network with ``cells_per_stage`` normal cells per stage: ``3 * n + 2``.

    The two reduction cells sit between three stages of normal cells: the paper's search
    network (8 cells) has 2 per stage, its CIFAR network (20 cells) 6.
    """
    return 3 * cells_per_stage + 2


def preprocess_inputs(plan: CellPlan, affine: bool = True) -> tuple[nn.Module, nn.Module]:
    """The modules that bring ``c_{k-2}`` and ``c_{k-1}`` to the cell's width ``plan.C``.

    ``affine=False``: their BatchNorms without scale and shift (DARTS's search cells).
    """
    if plan.reduction_prev:  # c_{k-2} has twice the resolution of c_{k-1}
        pre0 = FactorizedReduce(plan.C_prev_prev, plan.C, 2, affine)  # begins with its ReLU, as DARTS's
    else:
        pre0 = ReLUConvBN(plan.C_prev_prev, plan.C, 1, 1, affine)
    return pre0, ReLUConvBN(plan.C_prev, plan.C, 1, 1, affine)


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` ``(B, C, H, W)`` in the channels-last memory format: same shape and values, NHWC strides.

    The DARTS ops are mostly depthwise convolutions, which oneDNN runs several times faster
    on CPU in this layout (``benchmarks/darts_step.py``); every later activation inherits it.
    The child network and the relaxed supernet both convert their input, so that they compute
    exactly the same numbers.
    """
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def edge_stride(plan: CellPlan, source: int) -> int:
    """Stride of an op reading state ``source``: 2 from a reduction cell's inputs, else 1."""
    return 2 if plan.reduction and source < 2 else 1


class DartsCell(nn.Module):
    """One discrete DARTS cell: node ``s`` is ``op0(state[i]) + op1(state[j])``; output: the concat."""

    def __init__(self, nodes: Sequence[NodeSpec], plan: CellPlan):
        super().__init__()
        self.preprocess0, self.preprocess1 = preprocess_inputs(plan)
        self.reduction = plan.reduction
        self.inputs = tuple(n.inputs for n in nodes)
        self.ops = nn.ModuleList(
            nn.ModuleList(OPS[op](plan.C, plan.C, edge_stride(plan, i)) for op, i in zip(n.ops, n.inputs, strict=True))
            for n in nodes
        )
        self.genotype = [(op, i) for n in nodes for op, i in zip(n.ops, n.inputs, strict=True)]

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]  # each (B, C, H, W)
        for (i, j), (op_i, op_j) in zip(self.inputs, self.ops, strict=True):
            states.append(op_i(states[i]) + op_j(states[j]))
        return torch.cat(states[2:], dim=1)  # (B, num_nodes * C, H, W)

    def extra_repr(self) -> str:
        return f"{'reduce' if self.reduction else 'normal'}={self.genotype}"


class DartsFeatures(nn.Module):
    """Stem, then ``num_cells`` cells; returns the last cell's output ``(B, out_channels, H', W')``."""

    def __init__(self, cells: dict[str, Sequence[NodeSpec]], in_channels: int, C: int, num_cells: int):
        super().__init__()
        num_nodes = len(cells["normal"])
        plans, self.out_channels = darts_layout(C, num_cells, num_nodes)
        C_stem = STEM_MULTIPLIER * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_stem, 3, 1, 1, bias=False), nn.BatchNorm2d(C_stem))
        self.cells = nn.ModuleList(DartsCell(cells["reduce" if p.reduction else "normal"], p) for p in plans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(to_channels_last(x))  # (B, 3C, H, W)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return s1
