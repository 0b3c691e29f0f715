"""Shared-weight supernets: one network that holds every child of a space as a subgraph.

ENAS (Pham et al., ICML 2018, Sec. 2.1) observes that all children of a search space are
subgraphs of one large graph, and lets them *share* its weights: a child is trained for a
minibatch by running only its path through the graph, and scored by the validation
accuracy of that path -- no child is trained from scratch. Random search with weight
sharing (Li & Talwalkar, UAI 2019, Sec. 3) uses the same supernet with uniform sampling.

* :class:`CellSupernet` (NAS-Bench-201 cell space): every op on every edge of every cell
  holds its own weights, built with :func:`~nasrl_nb.nn.operations.build_op`, the registry
  the standalone children use; ``forward(x, arch)`` runs, on each edge, the op ``arch``
  picks (``none`` edges contribute nothing, as in :class:`~nasrl_nb.nn.child_network.Cell`).
* :class:`MacroSupernet` (macro space): per layer, every candidate op, normalization and
  connectivity holds its weights at the layer's *largest* width; a child with fewer
  filters uses the leading slice ``W[:C_out, :C_in]`` of the same tensor (ENAS's macro
  space shares one weight per op; Sec. 2.3), so the filter-count choices share weights.
* :class:`ZophLeSupernet` (Zoph & Le's space, ``zoph-le``): per layer, one conv weight per
  filter shape (h, w) at 64 filters whose input columns hold one block per possible source
  (the image, then each earlier layer at 64 channels); a child takes the rows of its filter
  count and the columns of the inputs it concatenates, so a convolution of the depth
  concatenation is exactly the child's. BatchNorm per layer and filter shape, sliced; the
  classifier has one column block per layer for the final concatenation. Strides share the
  weights of their filter shape.

``supernet.child(arch)`` builds the standalone :class:`~nasrl_nb.nn.child_network.ChildNetwork`
of ``arch`` with the subgraph's weights copied in; the two compute the same function
(``tests/enas/test_supernet.py`` checks it for both spaces). Nothing is copied in ``forward``:
the subgraph runs on the supernet's own tensors, so its gradients train them in place.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.child_network import (
    ChildNetwork,
    MacroLayer,
    ReductionBlock,
    check_input_shape,
    check_num_classes,
    concat_padded,
)
from ..nn.operations import (
    along_signal,
    build_activation,
    build_normalization,
    build_op,
    group_norm_groups,
)
from ..spaces.cell_space import CellSpace
from ..spaces.macro_space import MacroSpace
from ..spaces.search_space import Architecture, SearchSpace
from ..spaces.zoph_le_space import FILTER_SIZES, NUM_FILTERS, ZophLeSpace
from ..validation import require_positive

SUPERNET_SPACES = ("cell", "macro", "zoph-le")
C_MAX = max(NUM_FILTERS)  # Zoph & Le's widest layer: the supernet's width


def build_shared_supernet(space: SearchSpace, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, *,
                   channels: int = 16, cells_per_stage: int = 1) -> CellSupernet | MacroSupernet | ZophLeSupernet:
    """The supernet of ``space`` (a :class:`CellSpace`, :class:`MacroSpace` or :class:`ZophLeSpace`), with the
    :class:`~nasrl_nb.nn.child_network.ChildNetwork` arguments of its children."""
    if isinstance(space, CellSpace):
        return CellSupernet(space, input_shape, num_classes, channels=channels, cells_per_stage=cells_per_stage)
    if isinstance(space, MacroSpace):
        return MacroSupernet(space, input_shape, num_classes, channels=channels)
    if isinstance(space, ZophLeSpace):
        return ZophLeSupernet(space, input_shape, num_classes, channels=channels)
    name = getattr(space, "name", type(space).__name__)
    raise ValueError(f"space: {name!r} has no supernet; allowed values: {', '.join(SUPERNET_SPACES)}")


class _Supernet(nn.Module):
    """What both supernets share: argument checks, ``child(arch)`` and a short repr."""

    space: SearchSpace

    def _init_common(self, space, input_shape, num_classes, channels) -> None:
        self.space = space
        self.input_shape = check_input_shape(input_shape, space)
        self.num_classes = check_num_classes(num_classes)
        self.channels = require_positive("channels", channels, integer=True)

    def _check_arch(self, arch) -> Architecture:
        if not isinstance(arch, Architecture) or arch.space != self.space:
            raise ValueError(f"arch: expected an Architecture of this supernet's space {self.space!r}, got {arch!r}")
        return arch

    def child_kwargs(self) -> dict:
        return {"channels": self.channels}

    @torch.no_grad()
    def child(self, arch: Architecture) -> ChildNetwork:
        """The standalone child of ``arch`` holding copies of its subgraph's weights (and BN statistics)."""
        self._check_arch(arch)
        net = ChildNetwork(arch, self.input_shape, self.num_classes, **self.child_kwargs())
        net = net.to(next(self.parameters()).device)
        self._copy_into(net, arch)
        net.train(self.training)
        return net

    def _copy_into(self, net: ChildNetwork, arch: Architecture) -> None:
        raise NotImplementedError

    def child_parameters(self, arch: Architecture) -> int:
        """Parameters of ``arch``'s standalone child (built on the meta device: no memory, no RNG)."""
        with torch.device("meta"):
            net = ChildNetwork(self._check_arch(arch), self.input_shape, self.num_classes, **self.child_kwargs())
        return sum(p.numel() for p in net.parameters())

    def extra_repr(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        return f"space={self.space!r}, input_shape={self.input_shape}, channels={self.channels}, shared_params={params:,}"


# --- cell space ------------------------------------------------------------------------------
def live_paths(space: CellSpace, arch: Architecture) -> tuple[tuple[tuple[int, str], ...] | None, ...]:
    """What ``arch``'s cell computes: for each node ``i = 1 .. N-1``, the ``(j, op)`` of its non-``none``
    incoming edges, or ``None`` when the cell's output does not depend on node ``i``.

    A node none of whose outgoing edges leads (through non-``none`` edges) to the last node
    feeds nothing: the standalone child computes it and throws it away; the supernet skips
    it, which leaves the cell's output -- and every gradient -- exactly as they are.
    Remembered per architecture (:func:`_live_paths`).
    """
    return _live_paths(space, arch.choices)


@functools.lru_cache(maxsize=16384)  # the whole NAS-Bench-201 cell space is 15,625 cells
def _live_paths(space: CellSpace, choices: tuple) -> tuple[tuple[tuple[int, str], ...] | None, ...]:
    edge_ops = dict(zip(space.edges, choices))
    n = space.num_nodes
    used = [False] * n
    used[n - 1] = True  # the output
    for j in range(n - 2, 0, -1):  # backwards: j is used if it feeds a used node through a real op
        used[j] = any(used[i] and edge_ops[(i, j)] != "none" for i in range(j + 1, n))
    return tuple(tuple((j, edge_ops[(i, j)]) for j in range(i) if edge_ops[(i, j)] != "none") if used[i] else None
                 for i in range(1, n))


class SupernetCell(nn.Module):
    """A NAS-Bench-201 cell with *every* op on every edge: ``edges[i - 1][j][op]`` is edge ``j -> i``.

    ``forward(x, paths)`` sums, into node ``i``, the op on each of its live edges
    (``paths`` from :func:`live_paths`: ``none`` edges, exactly zero, are skipped as in
    :class:`~nasrl_nb.nn.child_network.Cell`, and so are nodes the output does not read).
    """

    def __init__(self, space: CellSpace, C: int):
        super().__init__()
        ops = [op for op in space.ops if op != "none"]  # "none" has no weights and is skipped
        self.num_nodes = space.num_nodes
        self.edges = nn.ModuleList(
            nn.ModuleList(nn.ModuleDict({op: build_op(op, C, C, 1) for op in ops}) for _ in range(i))
            for i in range(1, space.num_nodes)
        )

    def forward(self, x: torch.Tensor, paths: Sequence[Sequence[tuple[int, str]] | None]) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x]
        for incoming, path in zip(self.edges, paths, strict=True):
            if path is None:  # nothing reads this node
                nodes.append(None)
                continue
            terms = [incoming[j][op](nodes[j]) for j, op in path]  # (B, C, H, W) each
            nodes.append(sum(terms[1:], terms[0]) if terms else torch.zeros_like(x))
        return nodes[-1]


class CellSupernet(_Supernet):
    """The NAS-Bench-201 cell network with a :class:`SupernetCell` in every cell position.

    The same skeleton as :class:`~nasrl_nb.nn.child_network.ChildNetwork` for the cell space
    (stem, three stages of ``cells_per_stage`` cells at ``C, 2C, 4C`` joined by reduction
    blocks, BN-ReLU, global pooling, linear classifier); only the cells are shared.
    ``forward(x, arch)`` maps ``(B, *input_shape)`` to logits ``(B, num_classes)``.
    """

    def __init__(self, space: CellSpace, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, *,
                 channels: int = 16, cells_per_stage: int = 1):
        super().__init__()
        self._init_common(space, input_shape, num_classes, channels)
        self.cells_per_stage = require_positive("cells_per_stage", cells_per_stage, integer=True)
        C = self.channels
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(self.input_shape[0], C, 3, 1, 1, bias=False), nn.BatchNorm2d(C))]
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                blocks.append(ReductionBlock(width // 2, width))
            blocks.extend(SupernetCell(space, width) for _ in range(self.cells_per_stage))
        blocks.append(nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU()))
        self.features = nn.ModuleList(blocks)  # the same order as the child's features
        if self.input_shape[1] == 1:  # a 1 x W signal: convs and pools along W, as in the child
            along_signal(self.features)
        self.classifier = nn.Linear(4 * C, self.num_classes)

    def child_kwargs(self) -> dict:
        return {"channels": self.channels, "cells_per_stage": self.cells_per_stage}

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        paths = live_paths(self.space, self._check_arch(arch))
        for block in self.features:
            x = block(x, paths) if isinstance(block, SupernetCell) else block(x)  # (B, C_k, H_k, W_k)
        return self.classifier(x.mean(dim=(2, 3)))  # (B, num_classes)

    def child_parameters(self, arch: Architecture) -> int:
        """Parameters of ``arch``'s standalone child, summed over its path (no network is built)."""
        edge_ops = self.space.edge_ops(self._check_arch(arch))
        total = 0
        for block in [*self.features, self.classifier]:
            if not isinstance(block, SupernetCell):
                total += sum(p.numel() for p in block.parameters())
                continue
            for i, incoming in enumerate(block.edges, start=1):
                ops = [incoming[j][edge_ops[(i, j)]] for j in range(i) if edge_ops[(i, j)] != "none"]
                total += sum(p.numel() for op in ops for p in op.parameters())
        return total

    def _copy_into(self, net: ChildNetwork, arch: Architecture) -> None:
        edge_ops = self.space.edge_ops(arch)
        for mine, theirs in zip(self.features, net.features, strict=True):
            if not isinstance(mine, SupernetCell):
                theirs.load_state_dict(mine.state_dict())
                continue
            for i, (incoming, live, ops) in enumerate(zip(mine.edges, theirs.sources, theirs.edges, strict=True), start=1):
                for j, op in zip(live, ops, strict=True):  # the child keeps only the non-none edges
                    op.load_state_dict(incoming[j][edge_ops[(i, j)]].state_dict())
        net.classifier.load_state_dict(self.classifier.state_dict())


# --- macro space ---------------------------------------------------------------------------------
def _options(space: MacroSpace, i: int, key: str) -> tuple:
    """Layer ``i``'s options for ``key``: its decision's options, or the fixed value."""
    return space.options(i, key) if key in space.vocab else (space.fixed[key],)


def _conv(x: torch.Tensor, conv: nn.Conv2d, C_out: int, C_in: int) -> torch.Tensor:
    """``conv`` with its weight sliced to the leading ``(C_out, C_in)`` block (shared filters)."""
    return F.conv2d(x, conv.weight[:C_out, :C_in], None, conv.stride, conv.padding)


def _project(x: torch.Tensor, conv: nn.Conv2d, C_out: int) -> torch.Tensor:
    """The child's ``_project``: identity when the widths agree, else the sliced 1x1 conv."""
    return x if x.shape[1] == C_out else _conv(x, conv, C_out, x.shape[1])


def _normalize(x: torch.Tensor, name: str, norm: nn.Module) -> torch.Tensor:
    """``build_normalization(name, C)(x)`` at ``C = x.shape[1]``, on the leading slice of ``norm``'s tensors."""
    C = x.shape[1]
    weight, bias = norm.weight[:C], norm.bias[:C]
    if name == "batch_norm":  # as nn.BatchNorm2d: training mode uses the batch's statistics
        if norm.training and not norm.track_running_stats:  # ... and, so switched, leaves the running ones alone
            return F.batch_norm(x, None, None, weight, bias, True, norm.momentum, norm.eps)
        momentum = norm.momentum
        if norm.training:
            norm.num_batches_tracked.add_(1)
            if momentum is None:  # as nn.BatchNorm2d: the cumulative average
                momentum = 1.0 / float(norm.num_batches_tracked)
        # the running statistics are updated in place through the slice views (training mode)
        return F.batch_norm(x, norm.running_mean[:C], norm.running_var[:C], weight, bias, norm.training, momentum, norm.eps)
    if name == "layer_norm":
        return F.group_norm(x, 1, weight, bias, norm.eps)
    if name == "instance_norm":
        return F.instance_norm(x, weight=weight, bias=bias, eps=norm.eps)
    return F.group_norm(x, group_norm_groups(C), weight, bias, norm.eps)  # group_norm: G depends on C


class SupernetMacroLayer(nn.Module):
    """Macro layer ``i`` with every candidate's weights at the largest widths.

    ``source_widths[k]`` lists the possible widths of ``outs[k]`` (the stem, then each
    earlier layer). Each candidate op, normalization, input gathering (dense, attention),
    skip projection and residual shortcut has one tensor at the largest widths; a child
    uses its leading slice. ``forward(outs, spec)`` computes
    :class:`~nasrl_nb.nn.child_network.MacroLayer`'s three steps for ``spec``.
    """

    def __init__(self, space: MacroSpace, i: int, source_widths: Sequence[Sequence[int]]):
        super().__init__()
        in_max = max(source_widths[-1])
        out_max = max(_options(space, i, "filters"))
        source_max = [max(w) for w in source_widths]
        self.ops = nn.ModuleDict()  # conv: its Conv2d; pool: the pool (its projection in op_projections)
        self.op_projections = nn.ModuleDict()
        for layer_type in _options(space, i, "layer_type"):
            if "pool" in layer_type:
                self.ops[layer_type] = build_op(layer_type, out_max, out_max, 1)  # the bare pool
                self.op_projections[layer_type] = nn.Conv2d(in_max, out_max, 1, bias=False)
            else:
                self.ops[layer_type] = build_op(layer_type, in_max, out_max, 1)
        self.norms = nn.ModuleDict({n: build_normalization(n, out_max) for n in _options(space, i, "normalization")})
        self.acts = nn.ModuleDict({a: build_activation(a) for a in _options(space, i, "activation")})
        connectivity = set(_options(space, i, "connectivity"))
        many = len(source_widths) > 1  # dense and attention need earlier outputs besides the stem
        self.dense = nn.Conv2d(sum(source_max), in_max, 1, bias=False) if many and "dense" in connectivity else None
        self.offsets = [sum(source_max[:k]) for k in range(len(source_max))]  # block k of the dense weight's columns
        self.attention_logits = nn.Parameter(torch.zeros(len(source_max))) if many and "attention" in connectivity else None
        self.attention_projections = (
            nn.ModuleList(nn.Conv2d(m, in_max, 1, bias=False) for m in source_max) if self.attention_logits is not None else None
        )
        self.skip_projections = nn.ModuleDict(
            {str(j): nn.Conv2d(source_max[j + 1], in_max, 1, bias=False) for j in (space.skip_sources(i) if space.skip_connections else ())}
        )
        self.shortcut = nn.Conv2d(in_max, out_max, 1, bias=False) if "residual" in connectivity else None

    def _dense_columns(self, widths: Sequence[int], device) -> torch.Tensor:
        return torch.cat([torch.arange(o, o + w, device=device) for o, w in zip(self.offsets, widths, strict=True)])

    def forward(self, outs: list[torch.Tensor], spec) -> torch.Tensor:
        C_in, C_out = outs[-1].shape[1], spec.filters
        # 1. gather the input: the previous output, or every earlier one (dense, attention)
        x = outs[-1]  # (B, C_in, H, W)
        if len(outs) > 1 and spec.connectivity == "dense":
            columns = self._dense_columns([o.shape[1] for o in outs], x.device)
            x = F.conv2d(torch.cat(outs, dim=1), self.dense.weight[:C_in][:, columns])  # (B, sum C_k, H, W) -> (B, C_in, H, W)
        elif len(outs) > 1 and spec.connectivity == "attention":
            projected = torch.stack([_project(o, p, C_in) for o, p in zip(outs, self.attention_projections, strict=True)])
            x = torch.tensordot(torch.softmax(self.attention_logits, dim=0), projected, dims=1)  # (S, B, C, H, W) -> (B, C, H, W)
        # 2. anchor-point skips add earlier outputs
        for j in spec.skips:
            x = x + _project(outs[j + 1], self.skip_projections[str(j)], C_in)
        # 3. op, normalization, activation (+ residual shortcut)
        if spec.layer_type in self.op_projections:
            h = self.ops[spec.layer_type](x if C_in == C_out else _conv(x, self.op_projections[spec.layer_type], C_out, C_in))
        else:
            h = _conv(x, self.ops[spec.layer_type], C_out, C_in)
        y = self.acts[spec.activation](_normalize(h, spec.normalization, self.norms[spec.normalization]))
        if spec.connectivity == "residual":
            y = y + _project(x, self.shortcut, C_out)
        return y

    @torch.no_grad()
    def copy_into(self, layer: MacroLayer, spec, widths: Sequence[int]) -> None:
        """Copy the slices ``spec`` uses into the child's ``layer`` (``widths``: of the stem and earlier layers)."""
        C_in, C_out = widths[-1], spec.filters
        gather = layer.gather
        if gather is not None and spec.connectivity == "dense":
            gather.project.weight.copy_(self.dense.weight[:C_in][:, self._dense_columns(widths, self.dense.weight.device)])
        elif gather is not None:
            gather.logits.copy_(self.attention_logits)
            for p, mine, w in zip(gather.projections, self.attention_projections, widths, strict=True):
                if isinstance(p, nn.Conv2d):
                    p.weight.copy_(mine.weight[:C_in, :w])
        for p, j in zip(layer.skip_projections, spec.skips, strict=True):
            if isinstance(p, nn.Conv2d):
                p.weight.copy_(self.skip_projections[str(j)].weight[:C_in, : widths[j + 1]])
        if spec.layer_type in self.op_projections:
            if C_in != C_out:
                layer.op[0].weight.copy_(self.op_projections[spec.layer_type].weight[:C_out, :C_in])
        else:
            layer.op.weight.copy_(self.ops[spec.layer_type].weight[:C_out, :C_in])
        norm = self.norms[spec.normalization]
        layer.norm.weight.copy_(norm.weight[:C_out])
        layer.norm.bias.copy_(norm.bias[:C_out])
        if spec.normalization == "batch_norm":
            layer.norm.running_mean.copy_(norm.running_mean[:C_out])
            layer.norm.running_var.copy_(norm.running_var[:C_out])
            layer.norm.num_batches_tracked.copy_(norm.num_batches_tracked)
        if isinstance(layer.shortcut, nn.Conv2d):
            layer.shortcut.weight.copy_(self.shortcut.weight[:C_out, :C_in])


class MacroSupernet(_Supernet):
    """The macro network with a :class:`SupernetMacroLayer` per layer (stem and classifier shared).

    ``forward(x, arch)`` maps ``(B, *input_shape)`` to logits ``(B, num_classes)`` through
    ``arch``'s layers; the classifier reads the leading ``C_last`` columns of its weight.
    """

    def __init__(self, space: MacroSpace, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, *,
                 channels: int = 16):
        super().__init__()
        self._init_common(space, input_shape, num_classes, channels)
        self.stem = nn.Sequential(nn.Conv2d(self.input_shape[0], channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        source_widths: list[tuple[int, ...]] = [(channels,)]
        layers = []
        for i in range(space.num_layers):
            layers.append(SupernetMacroLayer(space, i, source_widths))
            source_widths.append(tuple(_options(space, i, "filters")))
        self.layers = nn.ModuleList(layers)
        if self.input_shape[1] == 1:  # a 1 x W signal: convs and pools along W, as in the child
            along_signal(self.stem)
            along_signal(self.layers)
        self.classifier = nn.Linear(max(source_widths[-1]), self.num_classes)

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        outs = [self.stem(x)]  # (B, channels, H, W)
        for layer, spec in zip(self.layers, self.space.layers(self._check_arch(arch)), strict=True):
            outs.append(layer(outs, spec))
        features = outs[-1].mean(dim=(2, 3))  # (B, C_last)
        return F.linear(features, self.classifier.weight[:, : features.shape[1]], self.classifier.bias)

    def _copy_into(self, net: ChildNetwork, arch: Architecture) -> None:
        net.features.stem.load_state_dict(self.stem.state_dict())
        widths = [self.channels]
        for mine, theirs, spec in zip(self.layers, net.features.layers, self.space.layers(arch), strict=True):
            mine.copy_into(theirs, spec, widths)
            widths.append(spec.filters)
        net.classifier.weight.copy_(self.classifier.weight[:, : widths[-1]])
        net.classifier.bias.copy_(self.classifier.bias)


# --- Zoph & Le's space ------------------------------------------------------------------------------
class ZophLeSupernet(_Supernet):
    """Zoph & Le's network with every filter shape's weights at 64 filters (``channels`` unused: no stem).

    Layer ``i``'s conv for shape ``(h, w)`` has weight ``(64, C_img + 64 * i, h, w)``: column
    block 0 reads the image, block ``j + 1`` layer ``j``. A layer reading inputs ``J``
    convolves their padded concatenation with rows ``[:C_out]`` and the columns
    ``[block_j[:C_j] for j in J]`` (only block 0 when it reads the image), which is the
    child's conv on the same concatenation (Sec. 3.3). ``forward(x, arch)`` runs that path.
    """

    def __init__(self, space: ZophLeSpace, input_shape: Sequence[int] = (1, 8, 8), num_classes: int = 10, *,
                 channels: int = 16):
        super().__init__()
        self._init_common(space, input_shape, num_classes, channels)
        C_img, C_max = self.input_shape[0], max(NUM_FILTERS)
        self.offsets = [0] + [C_img + C_max * j for j in range(space.num_layers)]  # column block of each source
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(space.num_layers):
            shapes = [(h, w) for h in FILTER_SIZES for w in FILTER_SIZES]
            self.convs.append(nn.ModuleDict({f"{h}x{w}": nn.Conv2d(C_img + C_max * i, C_max, (h, w), bias=False) for h, w in shapes}))
            self.norms.append(nn.ModuleDict({f"{h}x{w}": nn.BatchNorm2d(C_max) for h, w in shapes}))
        self.classifier = nn.Linear(C_max * space.num_layers, self.num_classes)  # block k: layer k's output

    def _columns(self, sources: Sequence[int], widths: Sequence[int], device) -> torch.Tensor:
        """Input columns of sources (0: the image, j + 1: layer j) with their widths."""
        return torch.cat([torch.arange(self.offsets[s], self.offsets[s] + w, device=device) for s, w in zip(sources, widths, strict=True)])

    def _plan(self, arch: Architecture):
        """Per layer: (layer, key, sources, widths) -- the blocks its conv reads."""
        plan, widths = [], []
        for layer in self.space.layers(arch):
            if layer.inputs:
                sources, source_widths = [j + 1 for j in layer.inputs], [widths[j] for j in layer.inputs]
            else:
                sources, source_widths = [0], [self.input_shape[0]]
            plan.append((layer, f"{layer.filter_height}x{layer.filter_width}", sources, source_widths))
            widths.append(layer.num_filters)
        return plan, widths

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        plan, widths = self._plan(self._check_arch(arch))
        outs: list[torch.Tensor] = []
        for i, (layer, key, sources, source_widths) in enumerate(plan):
            h = concat_padded([outs[s - 1] for s in sources]) if sources != [0] else x  # (B, sum C_j, H, W)
            conv = self.convs[i][key]
            weight = conv.weight[: layer.num_filters][:, self._columns(sources, source_widths, x.device)]
            y = F.conv2d(h, weight, None, layer.stride, (layer.filter_height // 2, layer.filter_width // 2))
            outs.append(F.relu(_normalize(y, "batch_norm", self.norms[i][key])))
        unread = self.space.output_layers(arch)
        features = concat_padded([outs[k] for k in unread]).mean(dim=(2, 3))  # (B, sum C_k)
        columns = torch.cat([torch.arange(C_MAX * k, C_MAX * k + widths[k], device=x.device) for k in unread])
        return F.linear(features, self.classifier.weight[:, columns], self.classifier.bias)

    def _copy_into(self, net: ChildNetwork, arch: Architecture) -> None:
        plan, widths = self._plan(arch)
        device = self.classifier.weight.device
        for i, (layer, key, sources, source_widths) in enumerate(plan):
            conv, bn = net.features.layers[i][0], net.features.layers[i][1]
            conv.weight.copy_(self.convs[i][key].weight[: layer.num_filters][:, self._columns(sources, source_widths, device)])
            mine, C = self.norms[i][key], layer.num_filters
            bn.weight.copy_(mine.weight[:C])
            bn.bias.copy_(mine.bias[:C])
            bn.running_mean.copy_(mine.running_mean[:C])
            bn.running_var.copy_(mine.running_var[:C])
            bn.num_batches_tracked.copy_(mine.num_batches_tracked)
        unread = self.space.output_layers(arch)
        columns = torch.cat([torch.arange(C_MAX * k, C_MAX * k + widths[k], device=device) for k in unread])
        net.classifier.weight.copy_(self.classifier.weight[:, columns])
        net.classifier.bias.copy_(self.classifier.bias)
