"""DARTS's continuous relaxation of one edge: the mixed operation (Liu et al., ICLR 2019, Sec. 2.2).

An edge of a cell picks one operation ``o`` from a set ``O``. DARTS relaxes the choice into
a weighted sum whose weights are a softmax over the edge's architecture parameters
``alpha`` (Eq. 2)::

    o_bar(x) = sum_{o in O} softmax(alpha)_o * o(x)

The candidate ops come from the one op registry (:func:`~nasrl_nb.nn.operations.build_op`),
so a mixed op holds exactly the modules a child network of the same space builds.

Two kinds of work are skipped, because they add exactly zero:

* ``none`` is never built nor run: its term is ``w_none * 0``. Its weight still sits in the
  softmax, so ``alpha_none`` gets its gradient through the normalisation, exactly as if the
  zeros had been computed (reference implementations run a ``Zero`` module and multiply it);
* an op whose weight is exactly ``0.0`` is not run (one-hot weights evaluate a discrete
  architecture at the cost of one op per edge). With softmax weights this is exact for the
  gradient too: ``d w_k / d alpha = w_k (delta_k - w) = 0`` when ``w_k = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn.operations import OPS, build_op
from ..validation import require_positive

ZERO_OP = "none"


class MixedOp(nn.Module):
    """``sum_k weights[k] * op_k(x)`` over the candidate ``ops`` of one edge.

    Args:
        C_in, C_out, stride: the edge's shape, as for :func:`~nasrl_nb.nn.operations.build_op`.
        ops: candidate op names (registry keys), in the order of the edge's alphas.

    ``forward(x, weights)`` takes ``weights`` of shape ``(len(ops),)`` -- usually
    ``softmax(alpha)``, computed once per forward by the supernet -- and returns the mixed
    output ``(B, C_out, H / stride, W / stride)``.
    """

    def __init__(self, C_in: int, C_out: int, stride: int, ops: Sequence[str]):
        super().__init__()
        if isinstance(ops, str) or not ops:
            raise ValueError(f"ops: expected a non-empty list of op names from {sorted(OPS)}, got {ops!r}")
        if len(set(ops)) != len(ops):
            raise ValueError(f"ops: names must be distinct, got {list(ops)}")
        self.op_names = tuple(ops)
        self.C_out = require_positive("C_out", C_out, integer=True)
        self.stride = require_positive("stride", stride, integer=True)
        # position in ``ops`` of every op that is run (``none`` contributes zero: not built)
        self.live = tuple(k for k, name in enumerate(self.op_names) if name != ZERO_OP)
        self.ops = nn.ModuleList(build_op(self.op_names[k], C_in, C_out, stride) for k in self.live)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, skip: Sequence[bool] | None = None) -> torch.Tensor:
        """The weighted sum; ``skip[k]`` (optional, one flag per op) marks weights known to be 0.

        Without ``skip`` the zero test reads the weights once (one device sync); a supernet
        that mixes many edges passes the flags it computed for all of them in one go.
        """
        if weights.shape != (len(self.op_names),):
            raise ValueError(f"weights: expected shape ({len(self.op_names)},), one per op of {list(self.op_names)}, "
                             f"got {tuple(weights.shape)}")
        if skip is None:
            skip = (weights == 0).tolist()
        out = None
        for k, op in zip(self.live, self.ops, strict=True):
            if skip[k]:
                continue
            term = op(x)  # (B, C_out, H', W')
            out = term * weights[k] if out is None else torch.addcmul(out, term, weights[k])
        if out is None:  # only `none` (or zero weights): the exact zeros, shaped like any op's output
            out = x.new_zeros(x.shape[0], self.C_out, -(-x.shape[2] // self.stride), -(-x.shape[3] // self.stride))
        return out

    def extra_repr(self) -> str:
        return f"ops={list(self.op_names)}"


def mixing_weights(alpha: torch.Tensor) -> torch.Tensor:
    """``softmax(alpha)`` over the last dimension (one row of op weights per edge, Eq. 2)."""
    return torch.softmax(alpha, dim=-1)
