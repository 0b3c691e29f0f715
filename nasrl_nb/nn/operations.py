"""One registry of operations, shared by child networks and (later) weight-sharing supernets.

``OPS[name](C_in, C_out, stride, affine=True)`` builds the module for a cell edge (NAS-Bench-201's
five ops, Dong & Yang 2020, Sec. 2.1; DARTS's eight), a macro layer's main operation (the macro
space's layer types), or a layer of Zoph & Le's own space (conv-BN-ReLU with any filter height and
width in {1, 3, 5, 7}, Zoph & Le 2017, Sec. 4.1); ``affine`` is that of the op's BatchNorms (ops
without one ignore it). Activations and normalizations have registries of their own. Keeping a
single name -> constructor map is what lets ENAS and DARTS mix exactly the ops that a child uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..validation import require_choice


class ReLUConvBN(nn.Sequential):
    """NAS-Bench-201's ``nor_conv``: ReLU -> Conv -> BatchNorm (``affine=False``: a BN without scale and shift)."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class Zero(nn.Module):
    """The ``none`` op: contributes nothing, but with the right output shape."""

    def __init__(self, C_out: int, stride: int):
        super().__init__()
        self.C_out, self.stride = C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        if x.shape[1] == self.C_out:
            return x.mul(0.0)
        return x.new_zeros(x.shape[0], self.C_out, x.shape[2], x.shape[3])

    def extra_repr(self) -> str:
        return f"C_out={self.C_out}, stride={self.stride}"


class FactorizedReduce(nn.Module):
    """Skip connection that changes channels or halves the resolution (DARTS, NAS-Bench-201).

    Stride 2: ReLU, then two 1x1 convs with stride 2 on offset pixel grids, concatenated, then
    BatchNorm (``FactorizedReduce`` of DARTS's and NAS-Bench-201's ``operations.py``, both of
    which begin with the ReLU). Stride 1 (a change of channels only): a 1x1 conv and BatchNorm,
    without ReLU, as NAS-Bench-201's.
    """

    def __init__(self, C_in: int, C_out: int, stride: int, affine: bool = True):
        super().__init__()
        self.stride = stride
        if stride == 1:
            self.convs = nn.ModuleList([nn.Conv2d(C_in, C_out, 1, bias=False)])
        else:
            half = C_out // 2
            self.convs = nn.ModuleList([nn.Conv2d(C_in, half, 1, stride, bias=False), nn.Conv2d(C_in, C_out - half, 1, stride, bias=False)])
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return self.bn(self.convs[0](x))
        x = torch.relu(x)
        dh = 1 if x.shape[2] > 1 else 0  # a one-row signal is offset along its length only
        shifted = nn.functional.pad(x, (0, 1, 0, dh))[:, :, dh:, 1:]  # offset grid sees the other pixels
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))


class DilConv(nn.Sequential):
    """DARTS's ``dil_conv``: ReLU -> depthwise dilated conv -> pointwise conv -> BatchNorm.

    Liu et al. 2019, Sec. 3.1.1 (``DilConv`` of the paper's ``operations.py``); dilation 2
    gives a 3x3 kernel a 5x5 field and a 5x5 kernel a 9x9 one at the cost of a 3x3 / 5x5.
    """

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, dilation: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel_size, stride, dilation * (kernel_size // 2), dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """DARTS's ``sep_conv``: a separable conv (ReLU, depthwise, pointwise, BN) applied twice.

    Liu et al. 2019, Sec. 3.1.1, after Zoph et al. 2018; only the first depthwise conv has
    the stride, and the first block keeps ``C_in`` channels.
    """

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, affine: bool = True):
        super().__init__(
            DilConv(C_in, C_in, kernel_size, stride, dilation=1, affine=affine),
            DilConv(C_in, C_out, kernel_size, 1, dilation=1, affine=affine),
        )


class ConvBNReLU(nn.Sequential):
    """Zoph & Le's layer (2017, Sec. 4.1): Conv (any filter height x width, "same" padding) -> BatchNorm -> ReLU.

    ``stride`` is an int or a ``(height, width)`` pair (the stride-predicting variant).
    """

    def __init__(self, C_in: int, C_out: int, kernel_size: tuple[int, int], stride, affine: bool = True):
        padding = (kernel_size[0] // 2, kernel_size[1] // 2)
        super().__init__(
            nn.Conv2d(C_in, C_out, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
            nn.ReLU(inplace=False),
        )


def _skip(C_in: int, C_out: int, stride: int, affine: bool = True) -> nn.Module:
    return nn.Identity() if stride == 1 and C_in == C_out else FactorizedReduce(C_in, C_out, stride, affine)


def _pool(kind: str, with_bn_projection: bool) -> Callable[..., nn.Module]:
    def build(C_in: int, C_out: int, stride: int, affine: bool = True) -> nn.Module:
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False) if kind == "avg" else nn.MaxPool2d(3, stride, 1)
        if C_in == C_out:
            return pool
        project = ReLUConvBN(C_in, C_out, 1, 1, affine) if with_bn_projection else nn.Conv2d(C_in, C_out, 1, bias=False)
        return nn.Sequential(project, pool)

    return build


def _conv(kernel_size: int) -> Callable[..., nn.Module]:
    return lambda C_in, C_out, stride, affine=True: nn.Conv2d(C_in, C_out, kernel_size, stride, kernel_size // 2, bias=False)


def _conv_bn_relu(height: int, width: int) -> Callable[..., nn.Module]:
    return lambda C_in, C_out, stride, affine=True: ConvBNReLU(C_in, C_out, (height, width), stride, affine)


# OPS[name](C_in, C_out, stride, affine=True); ``affine`` is that of the op's BatchNorms (ops without one ignore it)
OPS: dict[str, Callable[..., nn.Module]] = {
    # NAS-Bench-201 cell edges
    "none": lambda C_in, C_out, stride, affine=True: Zero(C_out, stride),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda C_in, C_out, stride, affine=True: ReLUConvBN(C_in, C_out, 1, stride, affine),
    "nor_conv_3x3": lambda C_in, C_out, stride, affine=True: ReLUConvBN(C_in, C_out, 3, stride, affine),
    "avg_pool_3x3": _pool("avg", with_bn_projection=True),
    # the macro space's layer types (normalization and activation are separate decisions)
    "conv1x1": _conv(1),
    "conv3x3": _conv(3),
    "conv5x5": _conv(5),
    "maxpool3x3": _pool("max", with_bn_projection=False),
    "avgpool3x3": _pool("avg", with_bn_projection=False),
    # DARTS cell edges (Liu et al. 2019, Sec. 3.1.1); none, skip_connect, avg_pool_3x3 are above
    "max_pool_3x3": _pool("max", with_bn_projection=True),
    "sep_conv_3x3": lambda C_in, C_out, stride, affine=True: SepConv(C_in, C_out, 3, stride, affine),
    "sep_conv_5x5": lambda C_in, C_out, stride, affine=True: SepConv(C_in, C_out, 5, stride, affine),
    "dil_conv_3x3": lambda C_in, C_out, stride, affine=True: DilConv(C_in, C_out, 3, stride, dilation=2, affine=affine),
    "dil_conv_5x5": lambda C_in, C_out, stride, affine=True: DilConv(C_in, C_out, 5, stride, dilation=2, affine=affine),
}
# Zoph & Le's layers: filter height and width in {1, 3, 5, 7} (2017, Sec. 4.1), e.g. "conv3x5_bn_relu"
OPS.update({f"conv{h}x{w}_bn_relu": _conv_bn_relu(h, w) for h in (1, 3, 5, 7) for w in (1, 3, 5, 7)})

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "swish": nn.SiLU,
    "gelu": nn.GELU,
}


def group_norm_groups(C: int) -> int:
    """Groups of ``group_norm`` at ``C`` channels: ``gcd(C, 8)`` when that lies strictly between 1
    and ``C``, else ``C``'s largest divisor below ``C`` (Wu & He 2018 fix the group count).

    ``1 < G < C`` whenever ``C`` has such a divisor (4, 6, 8, 9, ...), so group norm is never
    instance norm (G = C) or layer norm (G = 1) in disguise; at a prime width it is 1.
    """
    g = math.gcd(C, 8)
    if 1 < g < C:
        return g
    return max((d for d in range(1, C) if C % d == 0), default=1)


NORMALIZATIONS: dict[str, Callable[[int], nn.Module]] = {
    "batch_norm": nn.BatchNorm2d,
    "layer_norm": lambda C: nn.GroupNorm(1, C),  # normalizes over (C, H, W): LayerNorm for images
    "instance_norm": lambda C: nn.InstanceNorm2d(C, affine=True),
    "group_norm": lambda C: nn.GroupNorm(group_norm_groups(C), C),
}


def along_signal(module: nn.Module) -> nn.Module:
    """Make every 2-D conv and pool inside ``module`` act along the width only; returns ``module``.

    For a one-row input such as MNIST-1D's 1 x 40 signals (Greydanus 2020): a ``k x k``
    kernel becomes ``1 x k`` with the same width, stride, padding and dilation along the
    signal and none across it, so a 3x3 conv is a length-3 1-D conv (3 weights per channel
    pair, not 9 of which 6 only ever see padding) and a stride-2 reduction halves the length
    while the height stays 1. Convs are rebuilt (freshly initialized, on the old weight's
    device); pools are replaced. Call it on a network right after building it.

    A module that keeps references to its submodules outside ``named_children`` (a
    :class:`~nasrl_nb.darts.mixed_op.FusedMixedOp`'s plans) offers ``replan()``: it is called
    once the module's subtree is rewritten, so it runs the new convs and pools, not the old ones.
    """
    for name, child in module.named_children():
        replacement = _signal_version(child)
        if replacement is not None:
            setattr(module, name, replacement)
        else:
            along_signal(child)
    replan = getattr(module, "replan", None)
    if callable(replan):
        replan()
    return module


def _signal_version(m: nn.Module) -> nn.Module | None:
    """The 1 x k twin of a 2-D conv or pool, or None for any other module."""
    pair = nn.modules.utils._pair
    if isinstance(m, nn.Conv2d):
        (_, kw), (_, sw), (_, dw) = m.kernel_size, m.stride, m.dilation
        pw = m.padding if isinstance(m.padding, str) else m.padding[1]
        padding = pw if isinstance(pw, str) else (0, pw)
        return nn.Conv2d(m.in_channels, m.out_channels, (1, kw), (1, sw), padding, (1, dw), m.groups,
                         bias=m.bias is not None, padding_mode=m.padding_mode, device=m.weight.device, dtype=m.weight.dtype)
    if isinstance(m, nn.AvgPool2d):
        k, st, p = pair(m.kernel_size), pair(m.stride if m.stride is not None else m.kernel_size), pair(m.padding)
        return nn.AvgPool2d((1, k[1]), (1, st[1]), (0, p[1]), m.ceil_mode, m.count_include_pad, m.divisor_override)
    if isinstance(m, nn.MaxPool2d):
        k, st, p, d = pair(m.kernel_size), pair(m.stride if m.stride is not None else m.kernel_size), pair(m.padding), pair(m.dilation)
        return nn.MaxPool2d((1, k[1]), (1, st[1]), (0, p[1]), (1, d[1]), ceil_mode=m.ceil_mode)
    return None


def build_op(name: str, C_in: int, C_out: int, stride: int = 1, *, affine: bool = True) -> nn.Module:
    """``OPS[name](C_in, C_out, stride, affine)`` with a clear error for an unknown name.

    ``affine=False`` builds the op's BatchNorms without scale and shift, as DARTS's search
    network does (``OPS[primitive](C, stride, False)`` in its ``model_search.py``); the
    children use ``affine=True``.
    """
    require_choice("op", name, OPS)
    return OPS[name](C_in, C_out, stride, affine=affine)


def build_activation(name: str) -> nn.Module:
    require_choice("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]()


def build_normalization(name: str, channels: int) -> nn.Module:
    require_choice("normalization", name, NORMALIZATIONS)
    return NORMALIZATIONS[name](channels)
