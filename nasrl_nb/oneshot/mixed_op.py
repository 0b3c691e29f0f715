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

Two more rewrite the sum into the same function with less work (``fused=True``, the default;
``tests/test_mixed_op.py`` checks outputs, gradients and BatchNorm statistics against the
op-by-op sum):

* one ReLU per edge: every op that starts with ``ReLU`` (DARTS's ``sep_conv``/``dil_conv``,
  NAS-Bench-201's ``nor_conv``) reads the same ``relu(x)``, computed and kept for backward once
  instead of once per op;
* the weight folded into the op's last BatchNorm: ``w_k * BN(y) = BN_{w_k gamma, w_k beta}(y)``,
  so the op's output is not kept a second time for ``d L / d w_k`` (BatchNorm recomputes it
  from the input it keeps anyway) and no separate multiply runs.

The fused path runs an op's modules one by one (``Sequential`` ops are flattened), so a hook on
the op module itself does not fire there; ops that are not plain ``Sequential`` run whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.operations import OPS, build_op
from ..validation import require_positive

ZERO_OP = "none"


class MixedOp(nn.Module):
    """``sum_k weights[k] * op_k(x)`` over the candidate ``ops`` of one edge.

    Args:
        C_in, C_out, stride: the edge's shape, as for :func:`~nasrl_nb.nn.operations.build_op`.
        ops: candidate op names (registry keys), in the order of the edge's alphas.
        fused: share one ``relu(x)`` among the ops that start with it and fold each weight
            into its op's last BatchNorm (see the module docstring); False runs op by op.

    ``forward(x, weights)`` takes ``weights`` of shape ``(len(ops),)`` -- usually
    ``softmax(alpha)``, computed once per forward by the supernet -- and returns the mixed
    output ``(B, C_out, H / stride, W / stride)``.
    """

    def __init__(self, C_in: int, C_out: int, stride: int, ops: Sequence[str], *, fused: bool = True):
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
        self.fused = bool(fused)
        self._plans = tuple(_split(op) for op in self.ops)  # (starts with ReLU, body, last BatchNorm or None)

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
        out = self._fused(x, weights, skip) if self.fused else self._op_by_op(x, weights, skip)
        if out is None:  # only `none` (or zero weights): the exact zeros, shaped (and laid out) like any op's output
            shape = (x.shape[0], self.C_out, -(-x.shape[2] // self.stride), -(-x.shape[3] // self.stride))
            nhwc = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
            # channels-last in, channels-last zeros: a sum with them keeps the layout an op's output would
            fmt = torch.channels_last if nhwc else torch.contiguous_format
            out = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=fmt).zero_()
        return out

    def _op_by_op(self, x, weights, skip):
        out = None
        for k, op in zip(self.live, self.ops, strict=True):
            if skip[k]:
                continue
            term = op(x)  # (B, C_out, H', W')
            out = term * weights[k] if out is None else torch.addcmul(out, term, weights[k])
        return out

    def _fused(self, x, weights, skip):
        relu_x = None
        out = None
        for k, op, (relu_first, body, bn) in zip(self.live, self.ops, self._plans, strict=True):
            if skip[k]:
                continue
            if body is None:  # not a plain Sequential: run it whole
                h, bn = op(x), None
            else:
                if relu_first and relu_x is None:
                    relu_x = torch.relu(x)  # (B, C_in, H, W), shared by every op that starts with ReLU
                h = relu_x if relu_first else x
                for module in body:
                    h = module(h)
            if bn is not None:  # w_k * BN(h) as one BatchNorm with the affine scaled by w_k
                term = scaled_batch_norm(bn, h, weights[k])  # (B, C_out, H', W')
                out = term if out is None else out + term
            else:
                out = h * weights[k] if out is None else torch.addcmul(out, h, weights[k])
        return out

    def extra_repr(self) -> str:
        return f"ops={list(self.op_names)}" + ("" if self.fused else ", fused=False")


def _flatten(module: nn.Module) -> list[nn.Module] | None:
    """The modules a ``Sequential`` (nested ones too) runs one after the other; None for any other module."""
    if not isinstance(module, nn.Sequential) or type(module).forward is not nn.Sequential.forward:
        return None
    flat: list[nn.Module] = []
    for child in module:
        inner = _flatten(child)
        flat.extend([child] if inner is None else inner)
    return flat


def _split(op: nn.Module) -> tuple[bool, tuple[nn.Module, ...] | None, nn.BatchNorm2d | None]:
    """``op`` as (starts with ReLU, the modules in between, its last BatchNorm2d if affine; else None)."""
    flat = _flatten(op)
    if flat is None:
        return False, None, None
    relu_first = bool(flat) and type(flat[0]) is nn.ReLU
    if relu_first:
        flat = flat[1:]
    bn = flat[-1] if flat and type(flat[-1]) is nn.BatchNorm2d and flat[-1].affine else None
    if bn is not None:
        flat = flat[:-1]
    return relu_first, tuple(flat), bn


def scaled_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale * bn(x)`` as one BatchNorm whose affine weight and bias are multiplied by ``scale``.

    Same running statistics and counter updates as ``bn(x)`` (the logic of
    ``nn.BatchNorm2d.forward``); ``bn`` must be affine. ``scale`` is a scalar tensor.
    """
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:  # cumulative moving average
            momentum = 1.0 / float(bn.num_batches_tracked)
    use_batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    track = not bn.training or bn.track_running_stats
    return F.batch_norm(x, bn.running_mean if track else None, bn.running_var if track else None,
                        bn.weight * scale, bn.bias * scale, use_batch_stats, momentum, bn.eps)


def mixing_weights(alpha: torch.Tensor) -> torch.Tensor:
    """``softmax(alpha)`` over the last dimension (one row of op weights per edge, Eq. 2)."""
    return torch.softmax(alpha, dim=-1)
