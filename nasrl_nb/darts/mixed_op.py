"""DARTS's continuous relaxation of one edge: the mixed operation (Liu et al., ICLR 2019, Sec. 2.2).

An edge of a cell picks one operation ``o`` from a set ``O``. DARTS relaxes the choice into
a weighted sum whose weights are a softmax over the edge's architecture parameters
``alpha`` (Eq. 2)::

    o_bar(x) = sum_{o in O} exp(alpha_o) / sum_{o' in O} exp(alpha_o') * o(x)

:class:`MixedOp` is that sum, one line as in DARTS's own ``model_search.py``:
``sum(w * op(x) for w, op in zip(weights, ops))``. The gradient of a loss with respect to
``alpha`` then flows through the softmax into every op's output; after the search each edge
keeps its strongest op (the discrete architecture, Sec. 2.4).

The candidate ops come from the one op registry (:func:`~nasrl_nb.nn.operations.build_op`),
so a mixed op holds the modules a child network of the same space builds (with
``batch_norm="affine"`` exactly those; see below). ``none`` is never built nor run: its term
is ``w_none * 0``. Its weight still sits in the softmax, so ``alpha_none`` gets its gradient
through the normalisation, exactly as if the zeros had been computed (the reference
implementation, :mod:`~nasrl_nb.darts.reference`, runs a ``Zero`` module and
multiplies it).

The BatchNorms of the search (``batch_norm``):

* ``"darts"`` (the default): as DARTS's search network (``MixedOp`` of its ``model_search.py``):
  every op's BatchNorm without affine scale and shift (``affine=False``), and a BatchNorm
  (also without affine) after each pooling op. A learnable BN scale could otherwise stand in
  for the mixing weight (``w_k * gamma_k`` is all the output sees), so two supernets computing
  the same function would derive different ops; without it the alphas alone weigh the ops, and
  every op's output reaches the sum on the same scale (pools included);
* ``"affine"``: the children's ops exactly as they are (affine BatchNorms, no BN after
  pooling), so that an op's weights carry over to a child (weight inheritance,
  :meth:`~nasrl_nb.darts.supernet.DartsSupernet.child_state_dict`).

The fast twin, :class:`FusedMixedOp` (what the supernets use unless ``fused=False``), has the
same parameters and ``state_dict`` and computes the same function with less work
(``tests/darts/test_mixed_op.py`` checks outputs, gradients and BatchNorm statistics against
:class:`MixedOp`):

* an op whose weight is exactly ``0.0`` is not run (one-hot weights evaluate a discrete
  architecture at the cost of one op per edge). With softmax weights this is exact for the
  gradient too: ``d w_k / d alpha = w_k (delta_k - w) = 0`` when ``w_k = 0``; only the running
  statistics of the skipped op's BatchNorms stay where they were;
* one ReLU per edge: every op that starts with ``ReLU`` (DARTS's ``sep_conv``/``dil_conv``,
  NAS-Bench-201's ``nor_conv``) reads the same ``relu(x)``, computed and kept for backward once
  instead of once per op;
* the weight folded into the op's last BatchNorm: ``w_k * BN(y) = BN_{w_k gamma, w_k beta}(y)``
  (without affine: ``BN_{w_k, 0}(y)``),
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
from ..validation import require_choice, require_positive

ZERO_OP = "none"
BATCH_NORMS: tuple[str, ...] = ("darts", "affine")  # the search's BatchNorms (see the module docstring)
POOL_OPS = ("avg_pool_3x3", "max_pool_3x3")  # the candidates DARTS follows with a BatchNorm in the search


class MixedOp(nn.Module):
    """``o_bar(x) = sum_k weights[k] * op_k(x)`` over the candidate ``ops`` of one edge (Eq. 2).

    Args:
        C_in, C_out, stride: the edge's shape, as for :func:`~nasrl_nb.nn.operations.build_op`.
        ops: candidate op names (registry keys), in the order of the edge's alphas.
        batch_norm: ``"darts"`` (BatchNorms without affine, one after each pool: DARTS's
            search network) or ``"affine"`` (the children's ops, for weight inheritance).

    ``forward(x, weights)`` takes ``weights`` of shape ``(len(ops),)`` -- usually
    ``softmax(alpha)``, computed once per forward by the supernet -- and returns the mixed
    output ``(B, C_out, H / stride, W / stride)``. ``ops`` holds the built candidates (every
    name but ``none``); ``live[i]`` is the position in ``ops`` of ``self.ops[i]``.
    """

    def __init__(self, C_in: int, C_out: int, stride: int, ops: Sequence[str], *, batch_norm: str = "darts"):
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
        self.batch_norm = require_choice("batch_norm", batch_norm, BATCH_NORMS)
        self.ops = nn.ModuleList(build_search_op(self.op_names[k], C_in, C_out, stride, batch_norm) for k in self.live)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, skip: Sequence[bool] | None = None) -> torch.Tensor:
        """Eq. 2, every built op run. ``skip`` (weights known to be 0) is :class:`FusedMixedOp`'s hint; unused here."""
        self._check(weights)
        if not self.ops:  # only `none`: its term is w_none * 0
            return self._zeros(x)
        return sum(w * op(x) for w, op in zip(weights[list(self.live)], self.ops))  # (B, C_out, H', W')

    def _check(self, weights: torch.Tensor) -> None:
        if weights.shape != (len(self.op_names),):
            raise ValueError(f"weights: expected shape ({len(self.op_names)},), one per op of {list(self.op_names)}, "
                             f"got {tuple(weights.shape)}")

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        """Exact zeros, shaped (and laid out) like any op's output: the sum when no op runs."""
        shape = (x.shape[0], self.C_out, -(-x.shape[2] // self.stride), -(-x.shape[3] // self.stride))
        nhwc = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        # channels-last in, channels-last zeros: a sum with them keeps the layout an op's output would
        fmt = torch.channels_last if nhwc else torch.contiguous_format
        return torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=fmt).zero_()

    def extra_repr(self) -> str:
        return f"ops={list(self.op_names)}, batch_norm={self.batch_norm!r}"


class FusedMixedOp(MixedOp):
    """:class:`MixedOp`'s function with less work: zero weights skipped, one ReLU per edge, weights folded into BN.

    Same arguments, parameters and ``state_dict`` as :class:`MixedOp` (a state dict loads into
    either); the module docstring says what each rewrite saves and why it is exact.
    """

    def __init__(self, C_in: int, C_out: int, stride: int, ops: Sequence[str], *, batch_norm: str = "darts"):
        super().__init__(C_in, C_out, stride, ops, batch_norm=batch_norm)
        self._plans = tuple(_split(op) for op in self.ops)  # (starts with ReLU, body, last BatchNorm or None)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, skip: Sequence[bool] | None = None) -> torch.Tensor:
        """The weighted sum; ``skip[k]`` (optional, one flag per op) marks weights known to be 0.

        Without ``skip`` the zero test reads the weights once (one device sync); a supernet
        that mixes many edges passes the flags it computed for all of them in one go.
        """
        self._check(weights)
        if skip is None:
            skip = (weights == 0).tolist()
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
            if bn is not None:  # w_k * BN(h) as one BatchNorm with the affine (or, without one, 1 and 0) scaled by w_k
                term = scaled_batch_norm(bn, h, weights[k])  # (B, C_out, H', W')
                out = term if out is None else out + term
            else:
                out = h * weights[k] if out is None else torch.addcmul(out, h, weights[k])
        return self._zeros(x) if out is None else out  # None: only `none` (or zero weights) on this edge


def build_search_op(name: str, C_in: int, C_out: int, stride: int, batch_norm: str = "darts") -> nn.Module:
    """The candidate ``name`` as a mixed op holds it: the child's op (``"affine"``), or DARTS's search form.

    ``"darts"``: ``build_op(..., affine=False)``, and a pooling op followed by
    ``BatchNorm2d(C_out, affine=False)`` (``OPS[primitive](C, stride, False)`` and
    ``if 'pool' in primitive`` in DARTS's ``model_search.py``).
    """
    require_choice("batch_norm", batch_norm, BATCH_NORMS)
    if batch_norm == "affine":
        return build_op(name, C_in, C_out, stride)
    op = build_op(name, C_in, C_out, stride, affine=False)
    if name in POOL_OPS:
        op = nn.Sequential(op, nn.BatchNorm2d(C_out, affine=False))
    return op


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
    """``op`` as (starts with ReLU, the modules in between, its last BatchNorm2d or None)."""
    flat = _flatten(op)
    if flat is None:
        return False, None, None
    relu_first = bool(flat) and type(flat[0]) is nn.ReLU
    if relu_first:
        flat = flat[1:]
    bn = flat[-1] if flat and type(flat[-1]) is nn.BatchNorm2d else None
    if bn is not None:
        flat = flat[:-1]
    return relu_first, tuple(flat), bn


def scaled_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``scale * bn(x)`` as one BatchNorm whose affine weight and bias are multiplied by ``scale``.

    Same running statistics and counter updates as ``bn(x)`` (the logic of
    ``nn.BatchNorm2d.forward``). ``scale`` is a scalar tensor. Without affine (``affine=False``)
    the weight is ``scale`` on every channel and there is no bias.
    """
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:  # cumulative moving average
            momentum = 1.0 / float(bn.num_batches_tracked)
    use_batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    track = not bn.training or bn.track_running_stats
    if bn.affine:
        weight, bias = bn.weight * scale, bn.bias * scale
    else:
        weight, bias = scale.expand(bn.num_features).contiguous(), None  # (C,); a stride-0 weight gets a wrong gradient on channels-last CPU
    return F.batch_norm(x, bn.running_mean if track else None, bn.running_var if track else None,
                        weight, bias, use_batch_stats, momentum, bn.eps)


def mixing_weights(alpha: torch.Tensor) -> torch.Tensor:
    """``softmax(alpha)`` over the last dimension (one row of op weights per edge, Eq. 2)."""
    return torch.softmax(alpha, dim=-1)
