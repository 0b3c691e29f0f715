"""An architecture as a standalone PyTorch file: readable source that needs only ``torch``.

DARTS (Liu et al. 2019) made the *genotype* the only contract between search and
evaluation. :func:`standalone_source` writes the :class:`~nasrl_nb.nn.child_network.ChildNetwork`
of an architecture as source: every layer is one explicit line in ``__init__`` and the
forward pass is written out node by node (no interpreter of the architecture string).

The layers are built by the package's own op registry, copied into the file from its source
(:func:`copied_definitions` of :mod:`nasrl_nb.nn.operations`: ``OPS``, ``ACTIVATIONS``,
``NORMALIZATIONS`` and the classes they build; and the child network's few helpers), so an
op added to the registry is in every exported file without a second edit, and the file's
modules are the child's own classes. The file also carries a map from its flat layer names
to ChildNetwork's parameter names, so weights trained inside nasrl_nb load with
``net.load_child_state_dict(child.state_dict())``. :mod:`nasrl_nb.assembly.result` decides
*which* architecture a search hands over.
"""
from __future__ import annotations

import ast
import inspect
import json
import keyword
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..spaces.cell_space import CellSpace
from ..spaces.darts_space import DartsSpace
from ..spaces.macro_space import LayerSpec, MacroSpace
from ..spaces.search_space import Architecture
from ..spaces.zoph_le_space import ZophLeSpace


@dataclass
class _Source:
    """The generated module under construction: layer lines, forward lines, name map, copied definitions."""

    layers: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    child_names: dict[str, str] = field(default_factory=dict)
    child_network_names: tuple[str, ...] = ()  # definitions copied from nn/child_network.py besides the op registry

    def layer(self, name: str, code: str, child_name: str, comment: str = "") -> None:
        suffix = f"  # {comment}" if comment else ""
        self.layers.append(f"self.{name} = {code}{suffix}")
        self.child_names[name] = child_name

    def line(self, code: str) -> None:
        self.forward.append(code)


def _op(name: str, C_in: int, C_out: int, stride) -> str:
    """A call of the op registry (its source is copied into the file): ``OPS[name](C_in, C_out, stride)``."""
    return f"OPS[{name!r}]({C_in}, {C_out}, {stride!r})"


# --- macro space ------------------------------------------------------------------------------
def _macro_layer(src: _Source, i: int, spec: LayerSpec, source_channels: list[int], hw: str) -> None:
    """One MacroLayer: gather, skips, op -> norm -> activation, residual shortcut."""
    prefix, child = f"layer{i}", f"features.layers.{i}"
    C_in, C_out = source_channels[-1], spec.filters
    skips = f", skips from layers {list(spec.skips)}" if spec.skips else ""
    src.line(f"# layer {i}: {spec.layer_type} -> {spec.normalization} -> {spec.activation}, {spec.connectivity}{skips}")
    earlier = ", ".join(f"x{k}" for k in range(len(source_channels)))
    gather = {"dense": "DenseInput", "attention": "AttentionInput"}.get(spec.connectivity)
    if len(source_channels) > 1 and gather:
        src.layer(f"{prefix}_gather", f"{gather}({source_channels}, {C_in})", f"{child}.gather")
        src.line(f"h = self.{prefix}_gather([{earlier}])  # (B, {C_in}, {hw})")
    else:
        src.line(f"h = x{len(source_channels) - 1}")
    for k, j in enumerate(spec.skips):
        src.layer(f"{prefix}_skip{j}", f"_project({source_channels[j + 1]}, {C_in})", f"{child}.skip_projections.{k}")
        src.line(f"h = h + self.{prefix}_skip{j}(x{j + 1})  # anchor-point skip from layer {j}")
    src.layer(f"{prefix}_op", _op(spec.layer_type, C_in, C_out, 1), f"{child}.op")
    src.layer(f"{prefix}_norm", f"NORMALIZATIONS[{spec.normalization!r}]({C_out})", f"{child}.norm")
    src.layer(f"{prefix}_act", f"ACTIVATIONS[{spec.activation!r}]()", f"{child}.act")
    out = f"x{len(source_channels)}"
    src.line(f"{out} = self.{prefix}_act(self.{prefix}_norm(self.{prefix}_op(h)))  # (B, {C_out}, {hw})")
    if spec.connectivity == "residual":
        src.layer(f"{prefix}_shortcut", f"_project({C_in}, {C_out})", f"{child}.shortcut")
        src.line(f"{out} = {out} + self.{prefix}_shortcut(h)")


def _macro_source(arch: Architecture, in_channels: int, channels: int, H: int, W: int) -> tuple[_Source, int]:
    """Stem, then the layers; every layer keeps the resolution (stride 1)."""
    space: MacroSpace = arch.space
    src = _Source(child_network_names=("DenseInput", "AttentionInput", "_project"))
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
def _zoph_le_source(arch: Architecture, in_channels: int, H: int, W: int) -> tuple[_Source, int]:
    """One conv-BN-ReLU per layer on its chosen inputs (the image when none); unread outputs concatenated."""
    space: ZophLeSpace = arch.space
    layers = space.layers(arch)
    src = _Source(child_network_names=("concat_padded",))
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
        src.line(f"# layer {i}: {kh}x{kw} conv, {layer.num_filters} filters, stride {sh}x{sw}, reads {reads}")
        src.layer(f"layer{i}", _op(layer.op, C_in, layer.num_filters, layer.stride), f"features.layers.{i}")
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
            op, layer_name = edge_ops[(i, j)], f"{name}_e{j}to{i}"
            src.layer(layer_name, _op(op, C, C, 1), f"{child}.edges.{i - 1}.{m}", comment=f"node {j} -> node {i}")
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
            src.layer(f"{name}_conv_a", f"ReLUConvBN({width // 2}, {width}, 3, 2)", f"{child}.conv_a")
            src.layer(f"{name}_conv_b", f"ReLUConvBN({width}, {width}, 3, 1)", f"{child}.conv_b")
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
def _darts_source(arch: Architecture, in_channels: int, C: int, cells_per_stage: int, H: int, W: int) -> tuple[_Source, int]:
    """Stem (3C), then the cells; each cell's two inputs preprocessed, its nodes written out, concatenated."""
    from ..nn.darts_network import STEM_MULTIPLIER, darts_layout, edge_stride, num_cells_for

    space: DartsSpace = arch.space
    cells = space.cells(arch)
    plans, C_out = darts_layout(C, num_cells_for(cells_per_stage), space.num_nodes)
    src = _Source()
    src.layer("stem_conv", f"nn.Conv2d({in_channels}, {STEM_MULTIPLIER * C}, 3, 1, 1, bias=False)", "features.stem.0")
    src.layer("stem_bn", f"nn.BatchNorm2d({STEM_MULTIPLIER * C})", "features.stem.1")
    src.line("x = x.contiguous(memory_format=torch.channels_last)  # the child's layout: the same numbers")
    src.line(f"s0 = s1 = self.stem_bn(self.stem_conv(x))  # (B, {STEM_MULTIPLIER * C}, {H}, {W})")
    for k, plan in enumerate(plans):
        name, child, kind = f"cell{k}", f"features.cells.{k}", "reduce" if plan.reduction else "normal"
        src.line(f"# cell {k}: {kind} cell at {plan.C} channels")
        if plan.reduction_prev:  # s0 still has twice the resolution of s1
            src.layer(f"{name}_pre0", f"FactorizedReduce({plan.C_prev_prev}, {plan.C}, 2)", f"{child}.preprocess0")
        else:
            src.layer(f"{name}_pre0", f"ReLUConvBN({plan.C_prev_prev}, {plan.C}, 1, 1)", f"{child}.preprocess0")
        src.layer(f"{name}_pre1", f"ReLUConvBN({plan.C_prev}, {plan.C}, 1, 1)", f"{child}.preprocess1")
        src.line(f"{name}_0, {name}_1 = self.{name}_pre0(s0), self.{name}_pre1(s1)")
        for n, node in enumerate(cells[kind]):
            terms = []
            for t, (op, i) in enumerate(zip(node.ops, node.inputs, strict=True)):
                layer = f"{name}_n{node.node}_from{i}"
                src.layer(layer, _op(op, plan.C, plan.C, edge_stride(plan, i)), f"{child}.ops.{n}.{t}",
                          comment=f"state {i} -> node {node.node}")
                terms.append(f"self.{layer}({name}_{i})")
            src.line(f"{name}_{node.node} = {' + '.join(terms)}")
        if plan.reduction:
            H, W = -(-H // 2), -(-W // 2)
        outputs = ", ".join(f"{name}_{s}" for s in space.nodes)
        src.line(f"s0, s1 = s1, torch.cat([{outputs}], dim=1)  # (B, {space.num_nodes * plan.C}, {H}, {W})")
    src.line("features = s1")
    return src, C_out


# --- the definitions copied from the package's source ------------------------------------------------
def _bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement defines, or changes (``OPS.update(...)`` changes ``OPS``)."""
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
        target = node.value.func.value
        return {target.id} if isinstance(target, ast.Name) else set()
    return set()


def copied_definitions(module, roots) -> tuple[list[str], list[str]]:
    """The import lines and the definitions of ``module`` that ``roots`` need, as its own source.

    Every top-level statement that binds (or changes) a needed name is taken, and with it
    the names it reads, transitively, in the module's order; each definition keeps the
    comment lines just above it (not a ``# ---`` section rule). Relative imports (the rest of nasrl_nb) are never taken:
    a needed name that only they bind is a ValueError, so the file cannot need nasrl_nb.
    """
    text = inspect.getsource(module)
    lines, body = text.splitlines(), ast.parse(text).body
    binders: dict[str, list[int]] = {}
    for k, node in enumerate(body):
        for name in _bound_names(node):
            binders.setdefault(name, []).append(k)
    keep, todo = set(), list(roots)
    while todo:
        for k in binders.get(todo.pop(), []):
            if k not in keep and not (isinstance(body[k], ast.ImportFrom) and body[k].module == "__future__"):
                keep.add(k)
                todo.extend(n.id for n in ast.walk(body[k]) if isinstance(n, ast.Name))
    imports, definitions = [], []
    for k in sorted(keep):
        node = body[k]
        if isinstance(node, ast.ImportFrom) and node.level:
            raise ValueError(f"{module.__name__}: {sorted(_bound_names(node))} come from nasrl_nb; a standalone file "
                             "cannot import them")
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        while first > 0 and lines[first - 1].startswith("#") and not lines[first - 1].startswith("# ---"):  # not a section rule
            first -= 1
        segment = "\n".join(lines[first:node.end_lineno])
        (imports if isinstance(node, (ast.Import, ast.ImportFrom)) else definitions).append(segment)
    return imports, definitions


def _definitions_block(child_network_names: tuple[str, ...]) -> str:
    """The op registry's source (``OPS``, ``ACTIVATIONS``, ``NORMALIZATIONS`` and all they use) and
    the child network's helpers the file needs, each copied from its module."""
    from ..nn import child_network, operations

    imports, parts = ["from __future__ import annotations", ""], []
    for module, roots in ((operations, ("OPS", "ACTIVATIONS", "NORMALIZATIONS")), (child_network, child_network_names)):
        if not roots:
            continue
        module_imports, definitions = copied_definitions(module, roots)
        imports += [line for line in module_imports if line not in imports]
        path = module.__name__.replace(".", "/") + ".py"
        header = f"# --- copied from {path}: {', '.join(roots)} and what they use " + "-" * 20
        parts.append(header + "\n" + "\n\n\n".join(definitions))
    imports.sort(key=lambda line: "torch" in line)  # the standard library first, then torch (a stable sort)
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(parts)


# --- the file ----------------------------------------------------------------------------------------
def standalone_source(
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
    if isinstance(space, MacroSpace):
        src, feature_channels = _macro_source(arch, C_in, channels, H, W)
        description = f"macro space, {space.num_layers} layers, stem width {channels}"
    elif isinstance(space, ZophLeSpace):
        src, feature_channels = _zoph_le_source(arch, C_in, H, W)
        description = f"Zoph & Le's space (2017, Sec. 3.3), {space.num_layers} layers"
    elif isinstance(space, DartsSpace):
        src, feature_channels = _darts_source(arch, C_in, channels, cells_per_stage, H, W)
        description = f"DARTS space, {len(reference.features.cells)} cells (2 reductions), initial width {channels}"
    else:
        src, feature_channels = _cell_source(arch, C_in, channels, cells_per_stage, H, W)
        description = f"NAS-Bench-201 cell space, {cells_per_stage} cell(s) per stage, widths {channels}/{2 * channels}/{4 * channels}"
    src.layer("classifier", f"nn.Linear({feature_channels}, {num_classes})", "classifier")
    src.line(f"return self.classifier(features.mean(dim=(2, 3)))  # global average pool -> (B, {num_classes})")
    return _render(arch, src, class_name, description, (C_in, H, W), num_classes, result)


def _render(arch, src: _Source, class_name: str, description: str, input_shape, num_classes: int,
            result: Mapping | None = None) -> str:
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

{_definitions_block(src.child_network_names)}


ARCHITECTURE = {json.dumps(text)}
INPUT_SHAPE = {tuple(input_shape)!r}
NUM_CLASSES = {num_classes}
SEARCH_RESULT = {None if result is None else dict(result)!r}  # which result of which search this is (None: not from a search)

# layer name here -> parameter prefix in nasrl_nb.nn.child_network.ChildNetwork
CHILD_NETWORK_NAMES = {{{names}
}}


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
