"""Child networks: every sampled architecture builds and trains, and its wiring is what it says.

Parameter counts are checked against closed-form formulas written from the specs (not from
the modules), the connectivity patterns against their definitions (residual adds the input,
dense concatenates, attention mixes with softmax weights, skips add earlier outputs), and
the 32x32 cell network against the parameter count that NAS-Bench-201 publishes.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.nn.complexity import count_flops, count_parameters
from nasrl_nb.spaces.cell_space import CELL_OPS, CellSpace
from nasrl_nb.spaces.macro_space import ARCHITECTURE_VOCAB, MacroSpace
from nasrl_nb.spaces.search_space import custom_space

KERNEL = {"conv1x1": 1, "conv3x3": 3, "conv5x5": 5, "maxpool3x3": 0, "avgpool3x3": 0}


# --- closed-form parameter counts -------------------------------------------------------
def _proj(c_in: int, c_out: int) -> int:
    return 0 if c_in == c_out else c_in * c_out


def macro_params(arch, in_channels: int, channels: int, num_classes: int) -> int:
    """Stem conv+BN, each layer's gather/skips/op/norm/shortcut, then the classifier."""
    total = 9 * in_channels * channels + 2 * channels
    widths = [channels]
    for spec in arch.space.layers(arch):
        c_in, c_out = widths[-1], spec.filters
        if len(widths) > 1 and spec.connectivity == "dense":
            total += sum(widths) * c_in
        if len(widths) > 1 and spec.connectivity == "attention":
            total += len(widths) + sum(_proj(w, c_in) for w in widths)
        total += sum(_proj(widths[j + 1], c_in) for j in spec.skips)
        k = KERNEL[spec.layer_type]
        total += k * k * c_in * c_out if k else _proj(c_in, c_out)
        total += 2 * c_out  # every normalization has an affine scale and shift per channel
        if spec.connectivity == "residual":
            total += _proj(c_in, c_out)
        widths.append(c_out)
    return total + widths[-1] * num_classes + num_classes


def cell_params(arch, in_channels: int, C: int, cells_per_stage: int, num_classes: int) -> int:
    """NAS-Bench-201 skeleton: stem, cells, two reduction blocks, last BN, classifier."""
    per_op = {"nor_conv_3x3": lambda c: 9 * c * c + 2 * c, "nor_conv_1x1": lambda c: c * c + 2 * c}
    total = 9 * in_channels * C + 2 * C
    for width in (C, 2 * C, 4 * C):
        total += cells_per_stage * sum(per_op[op](width) for op in arch.choices if op in per_op)
    for c_in, c_out in ((C, 2 * C), (2 * C, 4 * C)):
        total += 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out
    return total + 2 * 4 * C + 4 * C * num_classes + num_classes


def _train_step_checks(net: ChildNetwork, batch: int) -> torch.Tensor:
    x = torch.randn(batch, *net.input_shape)
    logits = net(x)
    assert logits.shape == (batch, net.num_classes)
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.arange(batch) % net.num_classes).backward()
    return logits


# --- every sampled architecture builds, runs, trains --------------------------------------
@st.composite
def macro_spaces(draw):
    vocab = {}
    for key, options in ARCHITECTURE_VOCAB.items():
        if draw(st.booleans()):
            vocab[key] = draw(st.lists(st.sampled_from(options), min_size=1, max_size=len(options), unique=True))
    if draw(st.booleans()):
        vocab["filters"] = draw(st.lists(st.sampled_from([4, 6, 8, 12]), min_size=1, max_size=3, unique=True))
    if not vocab:
        vocab["connectivity"] = list(ARCHITECTURE_VOCAB["connectivity"])
    return MacroSpace(
        num_layers=draw(st.integers(1, 4)),
        vocab=vocab,
        filters=draw(st.sampled_from([4, 8])),
        skip_connections=draw(st.booleans()),
    )


@settings(max_examples=20, deadline=None)
@given(
    space=macro_spaces(),
    seed=st.integers(0, 2**32 - 1),
    channels=st.sampled_from([4, 8]),
    input_shape=st.sampled_from([(1, 8, 8), (3, 5, 7)]),
)
def test_sampled_macro_children_build_train_and_count_params(space, seed, channels, input_shape):
    arch = space.sample(seed)
    net = ChildNetwork(arch, input_shape, num_classes=3, channels=channels)
    _train_step_checks(net, batch=3)
    # every parameter lies on the path from input to logits: no dead modules
    assert all(p.grad is not None for p in net.parameters())
    metrics = net.get_complexity_metrics()
    assert metrics["params"] == sum(t.numel() for t in net.parameters())
    assert metrics["params"] == macro_params(arch, input_shape[0], channels, 3)
    assert isinstance(metrics["flops"], int) and metrics["flops"] > 0
    assert metrics["latency_ms"] > 0


@settings(max_examples=20, deadline=None)
@given(
    ops=st.lists(st.sampled_from(CELL_OPS), min_size=6, max_size=6),
    channels=st.sampled_from([4, 8]),
    cells_per_stage=st.integers(1, 2),
    input_shape=st.sampled_from([(1, 8, 8), (3, 4, 12)]),
)
def test_sampled_cell_children_build_train_and_count_params(ops, channels, cells_per_stage, input_shape):
    arch = CellSpace().from_choices(ops)
    net = ChildNetwork(arch, input_shape, num_classes=4, channels=channels, cells_per_stage=cells_per_stage)
    _train_step_checks(net, batch=2)
    # the stem is trained exactly when some path of non-`none` edges joins input and output
    assert (net.features[0][0].weight.grad is not None) == arch.space.is_valid(arch)
    assert count_parameters(net) == sum(t.numel() for t in net.parameters())
    assert count_parameters(net) == cell_params(arch, input_shape[0], channels, cells_per_stage, 4)


# --- macro connectivity really is what it says ------------------------------------------------
def _macro(rows, *, filters=8, skip_connections=False, **kw):
    """A macro child from explicit layer rows (only the connectivity and filters searched)."""
    space = MacroSpace(
        num_layers=len(rows),
        vocab={"connectivity": list(ARCHITECTURE_VOCAB["connectivity"]), "filters": [4, 8, 12]},
        fixed=kw.pop("fixed", None),
        filters=filters,
        skip_connections=skip_connections,
    )
    return ChildNetwork(space.parse(rows), **kw)


def _outputs(net, x):
    """``outs[0]`` = stem output, ``outs[j + 1]`` = macro layer j's output."""
    feats = net.features
    outs = [feats.stem(x)]
    for layer in feats.layers:
        outs.append(layer(outs))
    return outs


def _silence_block(layer):
    """Zero the normalization's scale and shift, so that relu(norm(op(x))) == 0."""
    with torch.no_grad():
        layer.norm.weight.zero_()
        layer.norm.bias.zero_()


@pytest.mark.parametrize("filters", [8, 12])
def test_residual_adds_the_identity_or_projected_input(filters):
    net = _macro([{"connectivity": "residual", "filters": filters}], channels=8)
    layer = net.features.layers[0]
    x = torch.randn(4, 1, 8, 8)
    stem = net.features.stem(x)
    assert not torch.allclose(layer([stem]), layer.shortcut(stem))  # the block contributes
    _silence_block(layer)
    expected = stem if filters == 8 else layer.shortcut(stem)
    assert isinstance(layer.shortcut, torch.nn.Identity if filters == 8 else torch.nn.Conv2d)
    torch.testing.assert_close(layer([stem]), expected, rtol=0, atol=0)


def test_sequential_has_no_shortcut():
    net = _macro([{"connectivity": "sequential", "filters": 8}], channels=8)
    layer = net.features.layers[0]
    _silence_block(layer)
    stem = net.features.stem(torch.randn(4, 1, 8, 8))
    assert torch.count_nonzero(layer([stem])) == 0


def test_dense_input_is_the_concatenation_of_all_earlier_outputs():
    rows = [{"connectivity": "sequential", "filters": 4}, {"connectivity": "sequential", "filters": 12},
            {"connectivity": "dense", "filters": 8}]
    net = _macro(rows, channels=8)
    dense = net.features.layers[2]
    assert dense.gather.project.in_channels == 8 + 4 + 12  # stem + layer 0 + layer 1
    assert dense.gather.project.out_channels == 12  # back to the previous output's width
    seen = []
    dense.gather.project.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    outs = _outputs(net, torch.randn(2, 1, 8, 8))
    torch.testing.assert_close(seen[0], torch.cat(outs[:3], dim=1), rtol=0, atol=0)


def test_attention_mixes_all_earlier_outputs_with_softmax_weights():
    rows = [{"connectivity": "sequential", "filters": 4}, {"connectivity": "sequential", "filters": 8},
            {"connectivity": "attention", "filters": 12}]
    net = _macro(rows, channels=8)
    gather = net.features.layers[2].gather
    weights = gather.mixing_weights()
    assert weights.shape == (3,) and (weights > 0).all()
    torch.testing.assert_close(weights.sum(), torch.tensor(1.0))
    x = torch.randn(4, 1, 8, 8)
    outs = _outputs(net, x)
    # at initialization the mix is uniform: the mean of the projected outputs
    projected = [p(o) for p, o in zip(gather.projections, outs[:3], strict=True)]
    torch.testing.assert_close(gather(outs[:3]), sum(projected) / 3)
    # sources are 8 (stem), 4 and 8 channels wide; the block's input width is the last one's
    assert isinstance(gather.projections[0], torch.nn.Identity)
    assert gather.projections[1].in_channels == 4 and gather.projections[1].out_channels == 8
    assert isinstance(gather.projections[2], torch.nn.Identity)
    # the weights are learned: they receive a gradient from the loss
    _train_step_checks(net, batch=4)
    assert gather.logits.grad is not None and gather.logits.grad.abs().sum() > 0
    # a one-hot softmax selects one earlier output exactly
    with torch.no_grad():
        gather.logits.copy_(torch.tensor([0.0, -1e4, -1e4]))
    torch.testing.assert_close(gather(outs[:3]), outs[0])


def test_first_dense_or_attention_layer_reads_the_stem_directly_so_the_space_does_not_offer_them():
    for connectivity in ("dense", "attention"):
        space = MacroSpace(num_layers=2, vocab={"layer_type": ["conv3x3", "conv1x1"]}, fixed={"connectivity": connectivity})
        net = ChildNetwork(space.sample(0))
        assert net.features.layers[0].gather is None  # only the stem precedes layer 0
        assert net.features.layers[1].gather is not None
    searched = MacroSpace(num_layers=2)
    choices = {d.name: d.choices for d in searched.decisions}
    assert choices["layer_0.connectivity"] == ("sequential", "residual")
    assert choices["layer_1.connectivity"] == ARCHITECTURE_VOCAB["connectivity"]
    with pytest.raises(ValueError, match=r"layer_0.connectivity: 'dense' is not allowed; allowed values: sequential, residual"):
        _macro([{"connectivity": "dense", "filters": 8}], channels=8)


def test_skip_decision_adds_the_earlier_layers_output_to_the_input():
    rows = [{"connectivity": "sequential", "filters": 8, "skips": []}] * 2
    x = torch.randn(2, 1, 8, 8)
    for skips in ([], [0]):
        net = _macro([*rows, {"connectivity": "sequential", "filters": 8, "skips": skips}], skip_connections=True)
        seen = []
        net.features.layers[2].op.register_forward_pre_hook(lambda m, args, seen=seen: seen.append(args[0]))
        outs = _outputs(net, x)
        expected = outs[2] + outs[1] if skips else outs[2]  # layer 2 also takes layer 0's output
        torch.testing.assert_close(seen[0], expected, rtol=0, atol=0)


def test_skip_from_a_narrower_layer_adds_a_projection():
    rows = [{"connectivity": "sequential", "filters": 4, "skips": []},
            {"connectivity": "sequential", "filters": 8, "skips": []}]
    with_skip = _macro([*rows, {"connectivity": "sequential", "filters": 8, "skips": [0]}], skip_connections=True)
    without = _macro([*rows, {"connectivity": "sequential", "filters": 8, "skips": []}], skip_connections=True)
    assert count_parameters(with_skip) - count_parameters(without) == 4 * 8


# --- NAS-Bench-201 cells ---------------------------------------------------------------------------
def _cell(text, **kw):
    return ChildNetwork(CellSpace().parse(text), **kw)


def test_a_single_path_cell_is_the_composition_of_its_three_ops():
    net = _cell("|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|nor_conv_3x3~2|", channels=8)
    cell = net.features[1]
    assert [len(ops) for ops in cell.edges] == [1, 1, 1]  # `none` edges are not built
    x = torch.randn(2, 8, 8, 8)
    e10, e21, e32 = (ops[0] for ops in cell.edges)
    torch.testing.assert_close(cell(x), e32(e21(e10(x))), rtol=0, atol=0)


@pytest.mark.parametrize("num_nodes", [3, 4, 5])
def test_an_all_skip_cell_multiplies_its_input_by_a_power_of_two(num_nodes):
    # node_i = sum_{j<i} node_j with node_0 = x gives node_i = 2**(i-1) x
    space = CellSpace(num_nodes=num_nodes)
    net = ChildNetwork(space.from_choices(["skip_connect"] * len(space.edges)), channels=4)
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(net.features[1](x), 2 ** (num_nodes - 2) * x, rtol=0, atol=0)


@pytest.mark.parametrize("text", [
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|",  # node 2 is cut off
    "|skip_connect~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|none~2|",
])
def test_a_disconnected_cell_builds_and_gives_every_input_the_same_logits(text):
    space = CellSpace()
    assert not space.is_valid(space.parse(text))
    net = _cell(text)
    x = torch.randn(5, 1, 8, 8)
    for mode in (True, False):
        logits = net.train(mode)(x)
        torch.testing.assert_close(logits, logits[:1].expand_as(logits))
    if text.endswith("none~2|"):
        assert torch.count_nonzero(net.features[1](torch.randn(2, 16, 8, 8))) == 0


SWAP_1_2 = {(1, 0): (2, 0), (2, 0): (1, 0), (3, 0): (3, 0), (3, 1): (3, 2), (3, 2): (3, 1)}


def _edge_modules(cell) -> dict:
    """``{(to, from): module}`` for the edges that the cell built."""
    return {(i, j): op for i, (sources, ops) in enumerate(zip(cell.sources, cell.edges, strict=True), start=1)
            for j, op in zip(sources, ops, strict=True)}


@settings(max_examples=15, deadline=None)
@given(ops=st.lists(st.sampled_from(CELL_OPS), min_size=5, max_size=5))
def test_relabelled_isomorphic_cells_have_equal_params_flops_and_function(ops):
    # With edge 1 -> 2 set to `none`, nodes 1 and 2 both read only node 0: swapping their
    # labels (and the edges into node 3) gives the same graph, hence the same network.
    space = CellSpace()
    a = space.from_choices((ops[0], ops[1], "none", *ops[2:]))
    ops_a = space.edge_ops(a)
    b = space.from_choices([ops_a[SWAP_1_2[edge]] if edge in SWAP_1_2 else "none" for edge in space.edges])
    net_a, net_b = ChildNetwork(a, channels=4), ChildNetwork(b, channels=4)
    assert count_parameters(net_a) == count_parameters(net_b)
    assert count_flops(net_a, (1, 8, 8)) == count_flops(net_b, (1, 8, 8))
    # move a's weights into b's matching modules: then the two compute the same function
    for block_a, block_b in zip(net_a.features, net_b.features, strict=True):
        if hasattr(block_a, "sources"):
            edges_b = _edge_modules(block_b)
            for edge, module in _edge_modules(block_a).items():
                edges_b[SWAP_1_2[edge]].load_state_dict(module.state_dict())
        else:
            block_b.load_state_dict(block_a.state_dict())
    net_b.classifier.load_state_dict(net_a.classifier.state_dict())
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(net_a(x), net_b(x))


def test_equal_canonical_strings_do_not_imply_equal_params():
    """NAS-Bench-201's canonical form drops ops whose input is zero; the network still has them."""
    a = CellSpace().parse("|none~0|+|none~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|")
    b = CellSpace().parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert a.space.canonical(a) == b.space.canonical(b)
    extra_conv = sum(9 * w * w + 2 * w for w in (16, 32, 64))  # one ReLUConvBN per stage
    assert count_parameters(ChildNetwork(a)) == count_parameters(ChildNetwork(b)) + extra_conv


# --- FLOPs ------------------------------------------------------------------------------------------
def test_macro_flops_match_the_conv_and_linear_formula():
    for layer_type, k in (("conv1x1", 1), ("conv3x3", 3), ("conv5x5", 5)):
        space = MacroSpace(num_layers=1, vocab={"layer_type": [layer_type]}, filters=12)
        net = ChildNetwork(space.from_indices([0]), (2, 6, 7), num_classes=5, channels=8)
        stem, layer, head = 2 * 2 * 8 * 9 * 6 * 7, 2 * 8 * 12 * k * k * 6 * 7, 2 * 12 * 5
        assert count_flops(net, net.input_shape) == stem + layer + head


def test_conv3x3_children_cost_more_flops_than_conv1x1_children():
    macro = MacroSpace(num_layers=3, vocab={"layer_type": ["conv1x1", "conv3x3"]})
    small, large = (ChildNetwork(macro.from_indices([i] * 3)) for i in (0, 1))
    assert count_flops(large, (1, 8, 8)) > count_flops(small, (1, 8, 8))
    small, large = (_cell("+".join("|" + "|".join(f"{op}~{j}" for j in range(i)) + "|" for i in (1, 2, 3)))
                    for op in ("nor_conv_1x1", "nor_conv_3x3"))
    assert count_flops(large, (1, 8, 8)) > count_flops(small, (1, 8, 8))


# --- metrics, repr, sizes ---------------------------------------------------------------------------
def test_complexity_metrics_report_exact_params_and_keep_the_training_mode():
    net = _cell("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    bn = net.features[0][1]
    before = bn.running_mean.clone()
    metrics = net.get_complexity_metrics(device="cpu")
    assert set(metrics) == {"params", "flops", "latency_ms"}
    assert metrics["params"] == cell_params(net.architecture, 1, 16, 1, 10)
    assert metrics["flops"] == count_flops(net, (1, 8, 8))
    assert isinstance(metrics["latency_ms"], float) and metrics["latency_ms"] > 0
    assert net.training and torch.equal(bn.running_mean, before)


def test_nas_bench_201_cifar_configuration_matches_the_published_param_count():
    # NAS-Bench-201 (Dong & Yang 2020) lists 1.531546 M parameters on CIFAR-10 for the
    # all-nor_conv_3x3 cell with C=16, N=5, and 0.073306 M for a cell without parametric ops.
    largest = _cell("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
                    input_shape=(3, 32, 32), channels=16, cells_per_stage=5)
    smallest = _cell("|skip_connect~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
                     input_shape=(3, 32, 32), channels=16, cells_per_stage=5)
    assert count_parameters(largest) == 1_531_546
    assert count_parameters(smallest) == 73_306
    logits = largest(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10)
    logits.sum().backward()


def test_repr_names_the_architecture():
    arch = CellSpace().parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    text = repr(ChildNetwork(arch))
    assert str(arch) in text and "num_classes=10" in text
    macro = MacroSpace(num_layers=2).sample(0)
    assert "arch=[{" in repr(ChildNetwork(macro))


def test_seeded_construction_is_reproducible():
    arch = MacroSpace(num_layers=3, skip_connections=True).sample(3)
    nets = []
    for _ in range(2):
        torch.manual_seed(0)
        nets.append(ChildNetwork(arch))
    for (name, a), (_, b) in zip(nets[0].state_dict().items(), nets[1].state_dict().items(), strict=True):
        assert torch.equal(a, b), name


# --- bad input ----------------------------------------------------------------------------------------
CELL = CellSpace().parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"input_shape": (8, 8)}, r"input_shape: expected 3 positive ints"),
    ({"input_shape": (1, 0, 8)}, r"input_shape: expected 3 positive ints"),
    ({"input_shape": "1x8x8"}, r"input_shape: expected 3 positive ints"),
    ({"input_shape": (1, 6, 6)}, r"input_shape: .*6x6 are not allowed .*; allowed values: multiples of 4"),
    ({"num_classes": 1}, r"num_classes: 1 is not allowed; allowed values: integers >= 2"),
    ({"num_classes": True}, r"num_classes: True is not allowed"),
    ({"channels": 0}, r"channels: must be a positive integer, got 0"),
    ({"cells_per_stage": 1.5}, r"cells_per_stage: must be a positive integer"),
])
def test_bad_arguments_raise_value_errors_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChildNetwork(CELL, **kwargs)


def test_custom_spaces_and_non_architectures_are_rejected():
    arch = custom_space({"lr": [0.1, 0.01], "depth": [2, 3]}).sample(0)
    with pytest.raises(ValueError, match=r"architecture.space: 'custom' has no network builder; allowed values: macro, cell"):
        ChildNetwork(arch)
    with pytest.raises(ValueError, match=r"architecture: expected an Architecture"):
        ChildNetwork(str(CELL))


def test_a_single_pixel_macro_input_is_rejected_but_odd_sizes_are_fine():
    arch = MacroSpace(num_layers=2).sample(0)
    with pytest.raises(ValueError, match=r"input_shape: height x width 1x1 is not allowed; allowed values: at least 2"):
        ChildNetwork(arch, (3, 1, 1))
    assert ChildNetwork(arch, (3, 1, 3))(torch.randn(2, 3, 1, 3)).shape == (2, 10)
