"""Child networks: an :class:`~nasrl_nb.spaces.search_space.Architecture` built into a real ``nn.Module``.

The controller of Zoph & Le (2017, Sec. 3) samples an architecture; the *child network* it
describes is trained and its validation accuracy is the reward. Four spaces have builders:

* **macro** (the project's layer vocabulary, searched layer by layer as Zoph & Le 2017,
  Sec. 3.1, do): a stem conv, then one layer per
  :class:`~nasrl_nb.spaces.macro_space.LayerSpec` -- main op, normalization, activation -- wired by
  its connectivity (sequential, residual, dense, attention) plus anchor-point skips, then
  global average pooling and a linear classifier. Resolution is kept (stride 1) throughout.
  Skips are wired as in ENAS's macro space (Pham et al. 2018, Sec. 2.3), not by Zoph & Le's
  depth concatenation: the previous layer always feeds a layer, and each chosen skip from a
  layer before it adds that layer's (projected) output to the input (see :class:`MacroLayer`).
* **zoph-le** (Zoph & Le 2017, Sec. 3.3 and 4.1): no stem; each layer is conv-BN-ReLU
  (:class:`~nasrl_nb.nn.operations.ConvBNReLU`) on the depth concatenation of the layers it
  takes as input (the image when it takes none), inputs of different sizes zero-padded;
  the depth concatenation of every output that no layer reads feeds the classifier
  (:class:`ZophLeFeatures`).
* **cell** (NAS-Bench-201, Dong & Yang 2020, Sec. 2.1 and Fig. 1): stem, three stages of
  ``cells_per_stage`` identical cells at ``C, 2C, 4C`` channels separated by the
  benchmark's residual reduction block, then BN-ReLU, global pooling and a linear classifier.
* **darts** (Liu et al. 2019, Sec. 3.1): the paper's CIFAR network of normal and reduction
  cells, built by :mod:`~nasrl_nb.nn.darts_network`.

Everything is decided at construction: the forward pass only walks precomputed index tuples
and ``nn.ModuleList``\\ s, so a child trains as fast as the same net written by hand
(``benchmarks/child_vs_static.py`` measures this).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn

from ..spaces.cell_space import CellSpace
from ..spaces.darts_space import DartsSpace
from ..spaces.macro_space import LayerSpec, MacroSpace
from ..spaces.search_space import Architecture
from ..spaces.zoph_le_space import ZophLeLayer, ZophLeSpace, unread_layers
from ..validation import require_positive
from .complexity import count_flops, count_parameters, measure_latency_ms
from .darts_network import DartsFeatures, num_cells_for
from .operations import OPS, ReLUConvBN, along_signal, build_activation, build_normalization

BUILDABLE_SPACES = ("macro", "cell", "darts", "zoph-le")


# --- macro space --------------------------------------------------------------------------
def _project(C_in: int, C_out: int) -> nn.Module:
    """Channel projection for a shortcut: identity when the widths agree, else a 1x1 conv."""
    return nn.Identity() if C_in == C_out else nn.Conv2d(C_in, C_out, 1, bias=False)


class DenseInput(nn.Module):
    """DenseNet-style input: every earlier output concatenated, projected back by a 1x1 conv."""

    def __init__(self, source_channels: Sequence[int], C_out: int):
        super().__init__()
        self.project = nn.Conv2d(sum(source_channels), C_out, 1, bias=False)

    def forward(self, outs: list[torch.Tensor]) -> torch.Tensor:
        return self.project(torch.cat(outs, dim=1))  # (B, sum C_k, H, W) -> (B, C_out, H, W)


class AttentionInput(nn.Module):
    """A learned softmax mix of every earlier output: ``sum_k softmax(logits)_k * proj_k(out_k)``."""

    def __init__(self, source_channels: Sequence[int], C_out: int):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(len(source_channels)))  # uniform mix at init
        self.projections = nn.ModuleList(_project(c, C_out) for c in source_channels)

    def mixing_weights(self) -> torch.Tensor:
        """The current weight of each earlier output (non-negative, summing to 1)."""
        return torch.softmax(self.logits, dim=0)

    def forward(self, outs: list[torch.Tensor]) -> torch.Tensor:
        projected = torch.stack([p(o) for p, o in zip(self.projections, outs, strict=True)])  # (S, B, C, H, W)
        return torch.tensordot(self.mixing_weights(), projected, dims=1)  # (B, C, H, W)


class MacroLayer(nn.Module):
    """One macro layer: gather its input, then ``activation(normalization(op(input)))``.

    ``outs`` holds every earlier output: ``outs[0]`` is the stem, ``outs[j + 1]`` layer ``j``.
    The layer's input is built in three steps (ENAS's macro wiring, Pham et al. 2018, Sec. 2.3):

    1. the previous output always feeds it: ``sequential`` and ``residual`` read
       ``outs[-1]``; ``dense`` (a 1x1 conv of the depth concatenation) and ``attention`` (a
       learned softmax mix) read every earlier output, the previous one included. For the
       first layer there is only the stem, so both read it directly, and
       :class:`~nasrl_nb.spaces.macro_space.MacroSpace` does not offer them there;
    2. each anchor-point skip ``j`` in ``spec.skips`` (Zoph & Le Sec. 3.3's "does layer i
       take layer j's output") adds ``project(outs[j + 1])`` -- only layers ``j <= i - 2``
       are candidates, since the previous layer is already the input;
    3. ``residual`` adds the projected input to the block's output.

    The input width is that of the previous output; projections are 1x1 convs where widths
    differ and identities where they agree.
    """

    def __init__(self, spec: LayerSpec, source_channels: Sequence[int]):
        super().__init__()
        C_in, C_out = source_channels[-1], spec.filters
        self.gather: nn.Module | None = None
        if len(source_channels) > 1 and spec.connectivity == "dense":
            self.gather = DenseInput(source_channels, C_in)
        elif len(source_channels) > 1 and spec.connectivity == "attention":
            self.gather = AttentionInput(source_channels, C_in)
        if any(not 0 <= j < len(source_channels) - 2 for j in spec.skips):
            raise ValueError(
                f"spec.skips: {list(spec.skips)} is not allowed for layer {len(source_channels) - 1}; allowed values: "
                f"layers 0..{len(source_channels) - 3} (the previous layer always feeds, so it is not a skip)"
            )
        self.skip_sources = tuple(j + 1 for j in spec.skips)  # layer j's output is outs[j + 1]
        self.skip_projections = nn.ModuleList(_project(source_channels[s], C_in) for s in self.skip_sources)
        self.op = OPS[spec.layer_type](C_in, C_out, 1)
        self.norm = build_normalization(spec.normalization, C_out)
        self.act = build_activation(spec.activation)
        self.shortcut = _project(C_in, C_out) if spec.connectivity == "residual" else None
        self.spec = spec

    def forward(self, outs: list[torch.Tensor]) -> torch.Tensor:
        x = outs[-1] if self.gather is None else self.gather(outs)  # (B, C_in, H, W)
        for source, project in zip(self.skip_sources, self.skip_projections, strict=True):
            x = x + project(outs[source])  # anchor-point skip from layer source - 1
        y = self.act(self.norm(self.op(x)))
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return y

    def extra_repr(self) -> str:
        s = self.spec
        skips = f", skips={list(s.skips)}" if s.skips else ""
        return f"{s.layer_type}-{s.normalization}-{s.activation}, {s.connectivity}, filters={s.filters}{skips}"


class MacroFeatures(nn.Module):
    """Stem conv3x3 + BN, then the macro layers; returns the last layer's feature map."""

    def __init__(self, layers: Sequence[LayerSpec], in_channels: int, channels: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        source_channels = [channels]
        blocks = []
        for spec in layers:
            blocks.append(MacroLayer(spec, source_channels))
            source_channels.append(spec.filters)
        self.layers = nn.ModuleList(blocks)
        self.out_channels = source_channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.stem(x)]
        for layer in self.layers:
            outs.append(layer(outs))
        return outs[-1]


# --- Zoph & Le's space ----------------------------------------------------------------------------
def concat_padded(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Depth concatenation of feature maps, the smaller ones zero-padded to the largest (Zoph & Le Sec. 3.3).

    Each ``(B, C_k, H_k, W_k)`` map is padded to ``(B, C_k, H, W)`` with ``H = max H_k`` and
    ``W = max W_k``, the zeros split between both sides (the extra row or column at the
    bottom or right), then all are concatenated: ``(B, sum C_k, H, W)``.
    """
    H = max(t.shape[2] for t in tensors)
    W = max(t.shape[3] for t in tensors)
    padded = []
    for t in tensors:
        dh, dw = H - t.shape[2], W - t.shape[3]
        padded.append(t if dh == dw == 0 else nn.functional.pad(t, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)))
    return padded[0] if len(padded) == 1 else torch.cat(padded, dim=1)


class ZophLeFeatures(nn.Module):
    """Zoph & Le's network without its classifier: the layers, wired by Sec. 3.3's rules.

    ``outs[k]`` is layer ``k``'s output. Layer ``i`` reads ``concat_padded(outs[j] for j in
    inputs)``, or the image when ``inputs`` is empty, and applies ``ReLU(BN(conv))`` from
    the op registry (``conv{h}x{w}_bn_relu``). The output is ``concat_padded`` of every
    layer that no later layer reads (:func:`~nasrl_nb.spaces.zoph_le_space.unread_layers`).
    """

    def __init__(self, layers: Sequence[ZophLeLayer], in_channels: int):
        super().__init__()
        widths, blocks = [], []
        for layer in layers:
            C_in = sum(widths[j] for j in layer.inputs) if layer.inputs else in_channels
            blocks.append(OPS[layer.op](C_in, layer.num_filters, layer.stride))
            widths.append(layer.num_filters)
        self.layers = nn.ModuleList(blocks)
        self.inputs = tuple(layer.inputs for layer in layers)
        self.outputs = unread_layers(layers)
        self.out_channels = sum(widths[k] for k in self.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor] = []
        for layer, inputs in zip(self.layers, self.inputs, strict=True):
            h = concat_padded([outs[j] for j in inputs]) if inputs else x  # (B, sum C_j, H, W)
            outs.append(layer(h))  # (B, num_filters, H / stride_h, W / stride_w), rounded up
        return concat_padded([outs[k] for k in self.outputs])  # (B, out_channels, H', W')


# --- NAS-Bench-201 cell space ----------------------------------------------------------------
class Cell(nn.Module):
    """NAS-Bench-201's cell: node ``i`` is the sum over ``j < i`` of ``op_ij(node_j)``.

    ``none`` edges contribute exactly zero, so they are dropped at construction (as the
    benchmark's ``InferCell`` does); a node whose incoming edges are all ``none`` is all
    zeros. The cell's output is its last node.
    """

    def __init__(self, edge_ops: dict[tuple[int, int], str], num_nodes: int, C: int):
        super().__init__()
        sources, edges = [], []
        for i in range(1, num_nodes):
            live = tuple(j for j in range(i) if edge_ops[(i, j)] != "none")
            sources.append(live)
            edges.append(nn.ModuleList(OPS[edge_ops[(i, j)]](C, C, 1) for j in live))
        self.sources = tuple(sources)
        self.edges = nn.ModuleList(edges)
        self.genotype = "+".join(
            "|" + "|".join(f"{edge_ops[(i, j)]}~{j}" for j in range(i)) + "|" for i in range(1, num_nodes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for sources, ops in zip(self.sources, self.edges, strict=True):
            terms = [op(nodes[j]) for j, op in zip(sources, ops, strict=True)]
            nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
        return nodes[-1]

    def extra_repr(self) -> str:
        return self.genotype


class ReductionBlock(nn.Module):
    """NAS-Bench-201's ``ResNetBasicblock`` with stride 2: halves the resolution, widens.

    ``ReLUConvBN 3x3 /2 -> ReLUConvBN 3x3`` plus the shortcut ``AvgPool2d(2) -> conv1x1``.
    """

    def __init__(self, C_in: int, C_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


def _cell_features(space: CellSpace, arch: Architecture, in_channels: int, C: int, cells_per_stage: int) -> nn.Sequential:
    """Stem, 3 stages of cells (C, 2C, 4C) joined by reduction blocks, then BN-ReLU."""
    edge_ops = space.edge_ops(arch)
    blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, C, 3, 1, 1, bias=False), nn.BatchNorm2d(C))]
    for stage, width in enumerate((C, 2 * C, 4 * C)):
        if stage > 0:
            blocks.append(ReductionBlock(width // 2, width))
        blocks.extend(Cell(edge_ops, space.num_nodes, width) for _ in range(cells_per_stage))
    blocks.append(nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU()))
    return nn.Sequential(*blocks)


# --- the child network ------------------------------------------------------------------------
class ChildNetwork(nn.Module):
    """The trainable network that ``architecture`` describes (macro, cell, darts or zoph-le space).

    Args:
        architecture: an :class:`Architecture` of a :class:`MacroSpace`, :class:`CellSpace`,
            :class:`~nasrl_nb.spaces.darts_space.DartsSpace` or
            :class:`~nasrl_nb.spaces.zoph_le_space.ZophLeSpace`.
        input_shape: ``(channels, height, width)`` of one example; ``(1, 8, 8)`` for digits,
            ``(1, 1, 40)`` for MNIST-1D. A height of 1 is a signal: every conv and pool then
            runs along the width only (:func:`~nasrl_nb.nn.operations.along_signal`).
        num_classes: outputs of the linear classifier (at least 2).
        channels: width of the stem; for the cell space the first stage's width ``C``
            (stages have ``C, 2C, 4C``). The macro layers' widths come from the architecture;
            Zoph & Le's networks have no stem and ignore it.
        cells_per_stage: cells per stage of the cell network (NAS-Bench-201 uses 5 on 32x32
            images; 1 keeps the 8x8 default small). Ignored by the macro space. For the darts
            space the normal cells per stage: ``3 * cells_per_stage + 2`` cells in all (the
            paper searches with 8, i.e. 2 per stage; 1 gives 5), see
            :mod:`~nasrl_nb.nn.darts_network`. ``channels`` is then the first cells' ``C``.

    ``forward(x)`` maps ``(B, *input_shape)`` to logits ``(B, num_classes)``.

    A cell whose output node is not connected to its input (``CellSpace.is_valid`` is False)
    still builds and runs: its output does not depend on the input (exact zeros when the
    output node's edges are all ``none``), so every example gets the same logits and the
    child trains to chance accuracy -- an honest, low reward rather than a crash.
    """

    def __init__(
        self,
        architecture: Architecture,
        input_shape: Sequence[int] = (1, 8, 8),
        num_classes: int = 10,
        *,
        channels: int = 16,
        cells_per_stage: int = 1,
    ):
        super().__init__()
        space = _check_architecture(architecture)
        self.input_shape = check_input_shape(input_shape, space)
        self.num_classes = check_num_classes(num_classes)
        channels = require_positive("channels", channels, integer=True)
        cells_per_stage = require_positive("cells_per_stage", cells_per_stage, integer=True)
        self.architecture = architecture
        in_channels = self.input_shape[0]
        if isinstance(space, MacroSpace):
            self.features = MacroFeatures(space.layers(architecture), in_channels, channels)
            feature_channels = self.features.out_channels
        elif isinstance(space, ZophLeSpace):
            self.features = ZophLeFeatures(space.layers(architecture), in_channels)
            feature_channels = self.features.out_channels
        elif isinstance(space, DartsSpace):
            self.features = DartsFeatures(space.cells(architecture), in_channels, channels, num_cells_for(cells_per_stage))
            feature_channels = self.features.out_channels
        else:
            self.features = _cell_features(space, architecture, in_channels, channels, cells_per_stage)
            feature_channels = 4 * channels
        if self.input_shape[1] == 1:  # a 1 x W signal (MNIST-1D): kernels, pools and strides along W only
            along_signal(self.features)
        self.classifier = nn.Linear(feature_channels, self.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)  # (B, C_last, H', W')
        return self.classifier(features.mean(dim=(2, 3)))  # global average pool -> (B, num_classes)

    def get_complexity_metrics(self, device=None) -> dict:
        """``{"params": int, "flops": int, "latency_ms": float}`` for one input (batch 1).

        ``flops`` follows :func:`~nasrl_nb.nn.complexity.count_flops`; ``latency_ms`` is the
        median eval-mode forward time on ``device`` (default: where the parameters live).
        """
        return {
            "params": count_parameters(self),
            "flops": count_flops(self, self.input_shape),
            "latency_ms": measure_latency_ms(self, self.input_shape, device=device),
        }

    def extra_repr(self) -> str:
        return (
            f"space={self.architecture.space.name}, arch={self.architecture}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes}"
        )


# --- argument checks ----------------------------------------------------------------------------
def _check_architecture(architecture) -> MacroSpace | CellSpace | DartsSpace | ZophLeSpace:
    if not isinstance(architecture, Architecture):
        raise ValueError(
            f"architecture: expected an Architecture of a macro, cell, darts or zoph-le space, got {type(architecture).__name__}"
        )
    space = architecture.space
    if not isinstance(space, (MacroSpace, CellSpace, DartsSpace, ZophLeSpace)):
        raise ValueError(
            f"architecture.space: {space.name!r} has no network builder; allowed values: "
            f"{', '.join(BUILDABLE_SPACES)} (search a custom space with your own evaluator)"
        )
    return space


def check_input_shape(input_shape, space) -> tuple[int, int, int]:
    """``input_shape`` as ``(C, H, W)`` ints, or a ``ValueError`` if a network of ``space`` cannot take it."""
    ok = (
        isinstance(input_shape, Sequence)
        and not isinstance(input_shape, (str, bytes))
        and len(input_shape) == 3
        and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in input_shape)
    )
    if not ok:
        raise ValueError(f"input_shape: expected 3 positive ints (channels, height, width), got {input_shape!r}")
    C, H, W = (int(s) for s in input_shape)
    if isinstance(space, CellSpace) and ((H % 4 and H != 1) or W % 4):
        raise ValueError(
            f"input_shape: height and width {H}x{W} are not allowed for the cell network's two "
            "stride-2 reductions; allowed values: multiples of 4 (4, 8, 12, ..., 32, ...), or a height of 1 (a signal)"
        )
    if H * W < 2:
        raise ValueError(
            f"input_shape: height x width {H}x{W} is not allowed; allowed values: at least 2 pixels "
            "(normalization layers need more than one value per channel)"
        )
    return (C, H, W)


def check_num_classes(num_classes) -> int:
    """``num_classes`` as an int >= 2, or a ``ValueError``."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"num_classes: {num_classes!r} is not allowed; allowed values: integers >= 2")
    return int(num_classes)
