"""An architecture as a standalone PyTorch file: readable source that needs only ``torch``.

DARTS (Liu et al. 2019) made the *genotype* the only contract between search and
evaluation. :func:`export_pytorch` writes the :class:`~nasrl_nb.nn.child_network.ChildNetwork`
of an architecture as source: every layer is one explicit line in ``__init__`` and the
forward pass is written out node by node (no interpreter of the architecture string). The
file also carries a map from its flat layer names to ChildNetwork's parameter names, so
weights trained inside nasrl_nb load with ``net.load_child_state_dict(child.state_dict())``.
:mod:`nasrl_nb.assembly.export` decides *which* architecture a search hands over.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..nn.operations import group_norm_groups
from ..spaces.cell_space import CellSpace
from ..spaces.darts_space import DartsSpace
from ..spaces.macro_space import LayerSpec, MacroSpace
from ..spaces.search_space import Architecture
from ..spaces.zoph_le_space import ZophLeSpace

_ACTIVATIONS = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()", "swish": "nn.SiLU()", "gelu": "nn.GELU()"}


def _normalization(name: str, C: int) -> str:
    return {
        "batch_norm": f"nn.BatchNorm2d({C})",
        "layer_norm": f"nn.GroupNorm(1, {C})",
        "instance_norm": f"nn.InstanceNorm2d({C}, affine=True)",
        "group_norm": f"nn.GroupNorm({group_norm_groups(C)}, {C})",
    }[name]


def _relu_conv_bn(C_in: int, C_out: int, k: int, stride: int) -> str:
    conv = f"nn.Conv2d({C_in}, {C_out}, {k}, {stride}, {k // 2}, bias=False)"
    return f"nn.Sequential(nn.ReLU(), {conv}, nn.BatchNorm2d({C_out}))"


def _projection(C_in: int, C_out: int) -> str:
    return "nn.Identity()" if C_in == C_out else f"nn.Conv2d({C_in}, {C_out}, 1, bias=False)"


@dataclass
class _Source:
    """The generated module under construction: layer lines, forward lines, name map."""

    layers: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    child_names: dict[str, str] = field(default_factory=dict)

    def layer(self, name: str, code: str, child_name: str, comment: str = "") -> None:
        suffix = f"  # {comment}" if comment else ""
        self.layers.append(f"self.{name} = {code}{suffix}")
        self.child_names[name] = child_name

    def line(self, code: str) -> None:
        self.forward.append(code)


# --- macro space ------------------------------------------------------------------------------
def _macro_layer(src: _Source, i: int, spec: LayerSpec, source_channels: list[int], hw: str) -> None:
    """One MacroLayer: gather, skips, op -> norm -> activation, residual shortcut."""
    prefix, child = f"layer{i}", f"features.layers.{i}"
    C_in, C_out = source_channels[-1], spec.filters
    skips = f", skips from layers {list(spec.skips)}" if spec.skips else ""
    src.line(f"# layer {i}: {spec.layer_type} -> {spec.normalization} -> {spec.activation}, {spec.connectivity}{skips}")
    earlier = ", ".join(f"x{k}" for k in range(len(source_channels)))
    if len(source_channels) > 1 and spec.connectivity == "dense":
        src.layer(f"{prefix}_dense", f"nn.Conv2d({sum(source_channels)}, {C_in}, 1, bias=False)", f"{child}.gather.project")
        src.line(f"h = self.{prefix}_dense(torch.cat([{earlier}], dim=1))  # (B, {C_in}, {hw})")
    elif len(source_channels) > 1 and spec.connectivity == "attention":
        src.layers.append(f"self.{prefix}_mix_logits = nn.Parameter(torch.zeros({len(source_channels)}))")
        src.child_names[f"{prefix}_mix_logits"] = f"{child}.gather.logits"
        for k, c in enumerate(source_channels):
            src.layer(f"{prefix}_mix{k}", _projection(c, C_in), f"{child}.gather.projections.{k}")
        projected = ", ".join(f"self.{prefix}_mix{k}(x{k})" for k in range(len(source_channels)))
        src.line(f"mix = torch.softmax(self.{prefix}_mix_logits, dim=0)  # ({len(source_channels)},)")
        src.line(f"h = torch.tensordot(mix, torch.stack([{projected}]), dims=1)  # (B, {C_in}, {hw})")
    else:
        src.line(f"h = x{len(source_channels) - 1}")
    for k, j in enumerate(spec.skips):
        src.layer(f"{prefix}_skip{j}", _projection(source_channels[j + 1], C_in), f"{child}.skip_projections.{k}")
        src.line(f"h = h + self.{prefix}_skip{j}(x{j + 1})  # anchor-point skip from layer {j}")
    if spec.layer_type.startswith("conv"):
        k = int(spec.layer_type[4])
        op = f"nn.Conv2d({C_in}, {C_out}, {k}, 1, {k // 2}, bias=False)"
    else:
        pool = "nn.MaxPool2d(3, 1, 1)" if spec.layer_type == "maxpool3x3" else "nn.AvgPool2d(3, 1, 1, count_include_pad=False)"
        op = pool if C_in == C_out else f"nn.Sequential(nn.Conv2d({C_in}, {C_out}, 1, bias=False), {pool})"
    src.layer(f"{prefix}_op", op, f"{child}.op")
    src.layer(f"{prefix}_norm", _normalization(spec.normalization, C_out), f"{child}.norm")
    src.layer(f"{prefix}_act", _ACTIVATIONS[spec.activation], f"{child}.act")
    out = f"x{len(source_channels)}"
    src.line(f"{out} = self.{prefix}_act(self.{prefix}_norm(self.{prefix}_op(h)))  # (B, {C_out}, {hw})")
    if spec.connectivity == "residual":
        src.layer(f"{prefix}_shortcut", _projection(C_in, C_out), f"{child}.shortcut")
        src.line(f"{out} = {out} + self.{prefix}_shortcut(h)")


def _macro_source(arch: Architecture, in_channels: int, channels: int, H: int, W: int) -> tuple[_Source, int]:
    """Stem, then the layers; every layer keeps the resolution (stride 1)."""
    space: MacroSpace = arch.space
    src = _Source()
    src.layer("stem_conv", f"nn.Conv2d({in_channels}, {channels}, 3, 1, 1, bias=False)", "features.stem.0")
    src.layer("stem_bn", f"nn.BatchNorm2d({channels})", "features.stem.1")
    src.line(f"x0 = self.stem_bn(self.stem_conv(x))  # (B, {channels}, {H}, {W})")
    source_channels = [channels]
    for i, spec in enumerate(space.layers(arch)):
        _macro_layer(src, i, spec, source_channels, f"{H}, {W}")
        source_channels.append(spec.filters)
    src.line(f"features = x{len(source_channels) - 1}")
    return src, source_channels[-1]


# --- Zoph & Le's space -------------------------------------------------------------------------------
_CONCAT_PADDED = '''def concat_padded(tensors):
    """Depth concatenation, smaller maps zero-padded to the largest (Zoph & Le 2017, Sec. 3.3)."""
    H = max(t.shape[2] for t in tensors)
    W = max(t.shape[3] for t in tensors)
    padded = []
    for t in tensors:
        dh, dw = H - t.shape[2], W - t.shape[3]
        padded.append(nn.functional.pad(t, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)))
    return torch.cat(padded, dim=1)
'''


def _zoph_le_source(arch: Architecture, in_channels: int, H: int, W: int) -> tuple[_Source, int]:
    """One conv-BN-ReLU per layer on its chosen inputs (the image when none); unread outputs concatenated."""
    space: ZophLeSpace = arch.space
    layers = space.layers(arch)
    src = _Source()
    widths, sizes = [], []  # per layer: filters, (H, W) of its output
    for i, layer in enumerate(layers):
        (kh, kw), (sh, sw) = (layer.filter_height, layer.filter_width), layer.stride
        if layer.inputs:
            C_in = sum(widths[j] for j in layer.inputs)
            h_in, w_in = max(sizes[j][0] for j in layer.inputs), max(sizes[j][1] for j in layer.inputs)
            names = ", ".join(f"x{j}" for j in layer.inputs)
            source = f"x{layer.inputs[0]}" if len(layer.inputs) == 1 else f"concat_padded([{names}])"
            reads = f"layers {list(layer.inputs)}"
        else:
            C_in, (h_in, w_in), source, reads = in_channels, (H, W), "x", "the image"
        h_out, w_out = -(-h_in // sh), -(-w_in // sw)
        conv = f"nn.Conv2d({C_in}, {layer.num_filters}, ({kh}, {kw}), ({sh}, {sw}), ({kh // 2}, {kw // 2}), bias=False)"
        src.line(f"# layer {i}: {kh}x{kw} conv, {layer.num_filters} filters, stride {sh}x{sw}, reads {reads}")
        src.layer(f"layer{i}", f"nn.Sequential({conv}, nn.BatchNorm2d({layer.num_filters}), nn.ReLU())", f"features.layers.{i}")
        src.line(f"x{i} = self.layer{i}({source})  # (B, {layer.num_filters}, {h_out}, {w_out})")
        widths.append(layer.num_filters)
        sizes.append((h_out, w_out))
    outputs = space.output_layers(arch)
    if len(outputs) == 1:
        src.line(f"features = x{outputs[0]}")
    else:
        names = ", ".join(f"x{k}" for k in outputs)
        src.line(f"features = concat_padded([{names}])  # the outputs no layer reads (Zoph & Le Sec. 3.3)")
    return src, sum(widths[k] for k in outputs)


# --- NAS-Bench-201 cell space ---------------------------------------------------------------------
def _cell(src: _Source, space: CellSpace, edge_ops: dict, C: int, name: str, child: str, hw: str) -> None:
    """One cell: node i = sum over live edges j -> i of op_ij(node j); ``none`` edges dropped."""
    src.line(f"# {name}: NAS-Bench-201 cell at {C} channels")
    src.line(f"{name}_n0 = x")
    for i in range(1, space.num_nodes):
        live = [j for j in range(i) if edge_ops[(i, j)] != "none"]
        terms = []
        for m, j in enumerate(live):
            op = edge_ops[(i, j)]
            layer_name = f"{name}_e{j}to{i}"
            if op == "skip_connect":
                code = "nn.Identity()"
            elif op == "avg_pool_3x3":
                code = "nn.AvgPool2d(3, 1, 1, count_include_pad=False)"
            else:
                k = 1 if op == "nor_conv_1x1" else 3
                code = _relu_conv_bn(C, C, k, 1)
            src.layer(layer_name, code, f"{child}.edges.{i - 1}.{m}", comment=f"{op}, node {j} -> node {i}")
            terms.append(f"self.{layer_name}({name}_n{j})")
        value = " + ".join(terms) if terms else "torch.zeros_like(x)  # every edge into this node is 'none'"
        src.line(f"{name}_n{i} = {value}")
    src.line(f"x = {name}_n{space.num_nodes - 1}  # (B, {C}, {hw})")


def _cell_source(arch: Architecture, in_channels: int, C: int, cells_per_stage: int, H: int, W: int) -> tuple[_Source, int]:
    space: CellSpace = arch.space
    edge_ops = space.edge_ops(arch)
    src = _Source()
    src.layer("stem_conv", f"nn.Conv2d({in_channels}, {C}, 3, 1, 1, bias=False)", "features.0.0")
    src.layer("stem_bn", f"nn.BatchNorm2d({C})", "features.0.1")
    src.line(f"x = self.stem_bn(self.stem_conv(x))  # (B, {C}, {H}, {W})")
    index = 1  # position in ChildNetwork.features
    for stage, width in enumerate((C, 2 * C, 4 * C), start=1):
        if stage > 1:
            name, child = f"reduce{stage}", f"features.{index}"
            src.line(f"# reduction to stage {stage}: ResNet basic block, stride 2, {width // 2} -> {width} channels")
            src.layer(f"{name}_conv_a", _relu_conv_bn(width // 2, width, 3, 2), f"{child}.conv_a")
            src.layer(f"{name}_conv_b", _relu_conv_bn(width, width, 3, 1), f"{child}.conv_b")
            src.layer(
                f"{name}_shortcut",
                f"nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d({width // 2}, {width}, 1, bias=False))",
                f"{child}.shortcut",
            )
            H, W = H // 2, W // 2  # H and W are multiples of 4, so both halvings are exact
            src.line(f"x = self.{name}_conv_b(self.{name}_conv_a(x)) + self.{name}_shortcut(x)  # (B, {width}, {H}, {W})")
            index += 1
        for cell in range(1, cells_per_stage + 1):
            _cell(src, space, edge_ops, width, f"stage{stage}_cell{cell}", f"features.{index}", f"{H}, {W}")
            index += 1
    src.layer("head_bn", f"nn.BatchNorm2d({4 * C})", f"features.{index}.0")
    src.layer("head_relu", "nn.ReLU()", f"features.{index}.1")
    src.line("features = self.head_relu(self.head_bn(x))")
    return src, 4 * C


# --- DARTS space --------------------------------------------------------------------------------------
def _factorized_reduce(src: _Source, name: str, child: str, C_in: int, C_out: int, x: str) -> str:
    """A factorized reduction (ReLU, two 1x1 stride-2 convs on offset grids, concatenated, BN); returns its expression."""
    half = C_out // 2
    src.layer(f"{name}_conv0", f"nn.Conv2d({C_in}, {half}, 1, 2, bias=False)", f"{child}.convs.0")
    src.layer(f"{name}_conv1", f"nn.Conv2d({C_in}, {C_out - half}, 1, 2, bias=False)", f"{child}.convs.1")
    src.layer(f"{name}_bn", f"nn.BatchNorm2d({C_out})", f"{child}.bn")
    x = f"torch.relu({x})"
    shifted = f"nn.functional.pad({x}, (0, 1, 0, 1))[:, :, 1:, 1:]"  # the offset grid sees the other pixels
    return f"self.{name}_bn(torch.cat([self.{name}_conv0({x}), self.{name}_conv1({shifted})], dim=1))"


def _darts_op(op: str, C: int, stride: int) -> str:
    """Source of the registry's DARTS op ``op`` at width ``C`` (skip_connect with stride 2 is built apart)."""
    if op == "skip_connect":
        return "nn.Identity()"
    if op in ("max_pool_3x3", "avg_pool_3x3"):
        return f"nn.MaxPool2d(3, {stride}, 1)" if op == "max_pool_3x3" else f"nn.AvgPool2d(3, {stride}, 1, count_include_pad=False)"
    k = int(op[-1])

    def block(s: int, dilation: int) -> str:
        dw = f"nn.Conv2d({C}, {C}, {k}, {s}, {dilation * (k // 2)}, {dilation}, groups={C}, bias=False)"
        return f"nn.Sequential(nn.ReLU(), {dw}, nn.Conv2d({C}, {C}, 1, bias=False), nn.BatchNorm2d({C}))"

    if op.startswith("dil_conv"):
        return block(stride, 2)
    return f"nn.Sequential({block(stride, 1)}, {block(1, 1)})"  # sep_conv: the separable conv twice


def _darts_source(arch: Architecture, in_channels: int, C: int, cells_per_stage: int, H: int, W: int) -> tuple[_Source, int]:
    """Stem (3C), then the cells; each cell's two inputs preprocessed, its nodes written out, concatenated."""
    from ..nn.darts_network import STEM_MULTIPLIER, darts_layout, edge_stride, num_cells_for

    space: DartsSpace = arch.space
    cells = space.cells(arch)
    plans, C_out = darts_layout(C, num_cells_for(cells_per_stage), space.num_nodes)
    src = _Source()
    src.layer("stem_conv", f"nn.Conv2d({in_channels}, {STEM_MULTIPLIER * C}, 3, 1, 1, bias=False)", "features.stem.0")
    src.layer("stem_bn", f"nn.BatchNorm2d({STEM_MULTIPLIER * C})", "features.stem.1")
    src.line(f"s0 = s1 = self.stem_bn(self.stem_conv(x))  # (B, {STEM_MULTIPLIER * C}, {H}, {W})")
    for k, plan in enumerate(plans):
        name, child, kind = f"cell{k}", f"features.cells.{k}", "reduce" if plan.reduction else "normal"
        src.line(f"# cell {k}: {kind} cell at {plan.C} channels")
        if plan.reduction_prev:  # s0 still has twice the resolution of s1
            expr = _factorized_reduce(src, f"{name}_pre0", f"{child}.preprocess0", plan.C_prev_prev, plan.C, "s0")
            src.line(f"{name}_0 = {expr}")
        else:
            src.layer(f"{name}_pre0", _relu_conv_bn(plan.C_prev_prev, plan.C, 1, 1), f"{child}.preprocess0")
            src.line(f"{name}_0 = self.{name}_pre0(s0)")
        src.layer(f"{name}_pre1", _relu_conv_bn(plan.C_prev, plan.C, 1, 1), f"{child}.preprocess1")
        src.line(f"{name}_1 = self.{name}_pre1(s1)")
        for n, node in enumerate(cells[kind]):
            terms = []
            for t, (op, i) in enumerate(zip(node.ops, node.inputs, strict=True)):
                layer, stride = f"{name}_n{node.node}_from{i}", edge_stride(plan, i)
                if op == "skip_connect" and stride == 2:
                    terms.append(_factorized_reduce(src, layer, f"{child}.ops.{n}.{t}", plan.C, plan.C, f"{name}_{i}"))
                else:
                    src.layer(layer, _darts_op(op, plan.C, stride), f"{child}.ops.{n}.{t}", comment=f"{op}, state {i} -> node {node.node}")
                    terms.append(f"self.{layer}({name}_{i})")
            src.line(f"{name}_{node.node} = {' + '.join(terms)}")
        if plan.reduction:
            H, W = -(-H // 2), -(-W // 2)
        outputs = ", ".join(f"{name}_{s}" for s in space.nodes)
        src.line(f"s0, s1 = s1, torch.cat([{outputs}], dim=1)  # (B, {space.num_nodes * plan.C}, {H}, {W})")
    src.line("features = s1")
    return src, C_out


# --- the file ----------------------------------------------------------------------------------------
def export_pytorch(
    arch: Architecture,
    *,
    input_shape: Sequence[int] = (1, 8, 8),
    num_classes: int = 10,
    channels: int = 16,
    cells_per_stage: int = 1,
    class_name: str = "ExportedNet",
    result: Mapping | None = None,
) -> str:
    """Python source of a standalone ``nn.Module`` equal to ``ChildNetwork(arch, ...)``.

    The arguments mean what they mean for :class:`~nasrl_nb.nn.child_network.ChildNetwork`;
    ``class_name`` names the generated class. The source imports only ``torch``; its
    class has ``load_child_state_dict(state_dict)`` to load a ChildNetwork's weights.
    ``result``: which search result this is (plain JSON: ``method``, ``rule``,
    ``description``, ...), written into the docstring and as ``SEARCH_RESULT``.
    """
    from ..nn.child_network import ChildNetwork

    # building the reference network checks every argument with ChildNetwork's own messages
    reference = ChildNetwork(arch, input_shape, num_classes, channels=channels, cells_per_stage=cells_per_stage)
    space, (C_in, H, W), num_classes = arch.space, reference.input_shape, reference.num_classes
    if H == 1:
        raise ValueError(
            f"input_shape: a height of 1 (a signal such as MNIST-1D's 1 x {W}) is not exported; allowed values: "
            "a height of 2 or more (save the ChildNetwork's state_dict instead)"
        )
    check_class_name(class_name)
    helpers = ""
    if isinstance(space, MacroSpace):
        src, feature_channels = _macro_source(arch, C_in, channels, H, W)
        description = f"macro space, {space.num_layers} layers, stem width {channels}"
    elif isinstance(space, ZophLeSpace):
        src, feature_channels = _zoph_le_source(arch, C_in, H, W)
        description = f"Zoph & Le's space (2017, Sec. 3.3), {space.num_layers} layers"
        helpers = _CONCAT_PADDED
    elif isinstance(space, DartsSpace):
        src, feature_channels = _darts_source(arch, C_in, channels, cells_per_stage, H, W)
        description = f"DARTS space, {len(reference.features.cells)} cells (2 reductions), initial width {channels}"
    else:
        src, feature_channels = _cell_source(arch, C_in, channels, cells_per_stage, H, W)
        description = f"NAS-Bench-201 cell space, {cells_per_stage} cell(s) per stage, widths {channels}/{2 * channels}/{4 * channels}"
    src.layer("classifier", f"nn.Linear({feature_channels}, {num_classes})", "classifier")
    src.line(f"return self.classifier(features.mean(dim=(2, 3)))  # global average pool -> (B, {num_classes})")
    return _render(arch, src, class_name, description, (C_in, H, W), num_classes, result, helpers)


def _render(arch, src: _Source, class_name: str, description: str, input_shape, num_classes: int,
            result: Mapping | None = None, helpers: str = "") -> str:
    text = str(arch)
    indent8 = "\n        "
    names = "".join(f"\n    {name!r}: {child!r}," for name, child in src.child_names.items())
    provenance = "" if result is None else (
        f"\nSearch result ({result.get('method')} search, rule {result.get('rule')!r}): {result.get('description')}.\n")
    return f'''"""{class_name}: a network found by neural architecture search (exported by nasrl_nb).

Architecture ({arch.space.name} space):
    {text}
{provenance}
{description}; input {input_shape}, {num_classes} classes.
Needs only PyTorch. Load weights trained with nasrl_nb's ChildNetwork with
``net.load_child_state_dict(child.state_dict())``.
"""

import torch
from torch import nn

ARCHITECTURE = {json.dumps(text)}
INPUT_SHAPE = {tuple(input_shape)!r}
NUM_CLASSES = {num_classes}
SEARCH_RESULT = {None if result is None else dict(result)!r}  # which result of which search this is (None: not from a search)

# layer name here -> parameter prefix in nasrl_nb.nn.child_network.ChildNetwork
CHILD_NETWORK_NAMES = {{{names}
}}
{"" if not helpers else chr(10) + chr(10) + helpers}

class {class_name}(nn.Module):
    """{arch.space.name} architecture: {text}"""

    def __init__(self):
        super().__init__(){indent8}{indent8.join(src.layers)}

    def forward(self, x):
        """Logits (B, {num_classes}) for images x of shape (B, {", ".join(map(str, input_shape))})."""
        {indent8.join(src.forward)}

    def load_child_state_dict(self, state_dict):
        """Load a state_dict saved from nasrl_nb's ChildNetwork of the same architecture."""
        renamed = {{}}
        for name in self.state_dict():
            layer, _, rest = name.partition(".")
            child_name = CHILD_NETWORK_NAMES[layer] + ("." + rest if rest else "")
            renamed[name] = state_dict[child_name]
        return self.load_state_dict(renamed)


if __name__ == "__main__":
    net = {class_name}().eval()
    logits = net(torch.randn(2, *INPUT_SHAPE))
    print(f"{class_name}: {{sum(p.numel() for p in net.parameters()):,}} parameters, logits {{tuple(logits.shape)}}")
'''


def check_class_name(class_name) -> None:
    """Refuse a ``class_name`` that cannot name the generated class."""
    if not isinstance(class_name, str) or not class_name.isidentifier() or keyword.iskeyword(class_name):
        raise ValueError(f"class_name: {class_name!r} is not allowed; allowed values: a Python identifier that is not a keyword")
