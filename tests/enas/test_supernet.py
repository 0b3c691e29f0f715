"""Shared-weight supernets: a subgraph computes what the standalone child computes with the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrl_nb.enas.supernet import CellSupernet, MacroSupernet, build_shared_supernet, live_paths
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import ARCHITECTURE_VOCAB, MacroSpace
from nasrl_nb.spaces.search_space import custom_space
from nasrl_nb.spaces.zoph_le_space import ZophLeSpace

# every vocabulary, widths that differ from layer to layer (slicing, projections), and skips
WIDE_MACRO = MacroSpace(num_layers=4, vocab={**ARCHITECTURE_VOCAB, "filters": (4, 6, 8)}, skip_connections=True)
ZOPH_LE = ZophLeSpace(num_layers=4, strides=True)  # concatenated inputs of several widths and sizes


def _trained(net, space, steps=6, seed=0):
    """A few SGD steps through random subgraphs, so weights and BN statistics are not at their init."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(net(x, space.sample(rng)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


@pytest.mark.parametrize("space", [CellSpace(), MacroSpace(), WIDE_MACRO, ZOPH_LE], ids=["cell", "macro", "macro-widths-skips", "zoph-le"])
def test_a_subgraph_computes_the_same_function_as_the_standalone_child(space):
    torch.manual_seed(1)
    net = _trained(build_shared_supernet(space, (1, 8, 8), 10, channels=6), space)
    x = torch.randn(12, 1, 8, 8)
    rng = np.random.default_rng(1)
    for arch in [space.sample(rng) for _ in range(12)]:
        for training in (True, False):  # batch statistics, then the running averages
            net.train(training)
            child = net.child(arch)
            assert isinstance(child, ChildNetwork) and child.training == training
            with torch.no_grad():
                torch.testing.assert_close(net(x, arch), child(x), rtol=1e-5, atol=1e-6)


def test_the_comparison_can_fail_a_changed_weight_changes_the_output():
    space = CellSpace()
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    net = build_shared_supernet(space, channels=4).eval()
    child = net.child(arch).eval()
    with torch.no_grad():
        child.features[1].edges[0][0][1].weight[0, 0, 0, 0] += 1.0  # the child's copy, not the supernet
        x = torch.randn(4, 1, 8, 8)
        assert not torch.allclose(net(x, arch), child(x))


def test_the_child_holds_copies_and_the_subgraph_trains_the_shared_tensors_in_place():
    space = CellSpace()
    arch = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|")
    net = build_shared_supernet(space, channels=4)
    shared = net.features[1].edges[0][0]["nor_conv_3x3"][1].weight
    before = shared.detach().clone()
    child = net.child(arch)
    with torch.no_grad():
        child.features[1].edges[0][0][1].weight.add_(1.0)
    assert torch.equal(shared, before)  # copying out leaves the supernet alone
    net(torch.randn(4, 1, 8, 8), arch).sum().backward()
    assert shared.grad is not None  # the path's op gets the gradient, in the supernet itself
    assert net.features[1].edges[0][0]["nor_conv_1x1"][1].weight.grad is None  # an op off the path gets none
    assert net.features[1].edges[1][0]["nor_conv_3x3"][1].weight.grad is None  # an edge that is "none"


def test_filter_counts_share_one_tensor_sliced_to_the_width():
    space = MacroSpace(num_layers=2, vocab={"layer_type": ("conv3x3",), "filters": (4, 8)})
    net = build_shared_supernet(space, channels=4)
    conv = net.layers[0].ops["conv3x3"]
    assert tuple(conv.weight.shape) == (8, 4, 3, 3)  # one tensor at the largest width
    narrow = space.from_choices(["conv3x3", 4, "conv3x3", 8])
    net(torch.randn(4, 1, 8, 8), narrow).sum().backward()
    assert conv.weight.grad[:4].abs().sum() > 0 and torch.all(conv.weight.grad[4:] == 0)
    torch.testing.assert_close(net.child(narrow).features.layers[0].op.weight, conv.weight[:4].detach())


def test_every_op_on_every_edge_holds_its_own_weights():
    space = CellSpace()
    net = CellSupernet(space, channels=4)
    cell = net.features[1]
    assert [len(incoming) for incoming in cell.edges] == [1, 2, 3]  # 6 edges
    assert all(set(ops) == set(space.ops) - {"none"} for incoming in cell.edges for ops in incoming)
    child_params = sum(p.numel() for p in net.child(space.sample(0)).parameters())
    assert sum(p.numel() for p in net.parameters()) > child_params


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match=r"space: 'custom' has no supernet; allowed values: cell, macro, zoph-le"):
        build_shared_supernet(custom_space({"a": [1, 2]}))
    net = MacroSupernet(MacroSpace(num_layers=2), channels=4)
    with pytest.raises(ValueError, match="arch: expected an Architecture of this supernet's space"):
        net(torch.randn(2, 1, 8, 8), CellSpace().sample(0))
    with pytest.raises(ValueError, match="channels"):
        build_shared_supernet(CellSpace(), channels=0)


@pytest.mark.parametrize("space", [CellSpace(), WIDE_MACRO, ZOPH_LE], ids=["cell", "macro", "zoph-le"])
def test_child_parameters_counts_the_standalone_childs_parameters(space):
    net = build_shared_supernet(space, channels=6)
    rng = np.random.default_rng(2)
    for arch in [space.sample(rng) for _ in range(8)]:
        assert net.child_parameters(arch) == sum(p.numel() for p in net.child(arch).parameters())


def _reaches_output(space: CellSpace, arch) -> set[int]:
    """Brute force: the nodes from which a path of non-none edges leads to the last node."""
    edge_ops = space.edge_ops(arch)
    last = space.num_nodes - 1

    def reaches(j):
        return j == last or any(edge_ops[(i, j)] != "none" and reaches(i) for i in range(j + 1, space.num_nodes))

    return {j for j in range(space.num_nodes) if reaches(j)}


def test_live_paths_keep_exactly_the_nodes_the_output_reads_over_the_whole_cell_space():
    space = CellSpace()
    for arch in space.enumerate():
        live = _reaches_output(space, arch)
        edge_ops = space.edge_ops(arch)
        expected = tuple(tuple((j, edge_ops[(i, j)]) for j in range(i) if edge_ops[(i, j)] != "none") if i in live else None
                         for i in range(1, space.num_nodes))
        assert live_paths(space, arch) == expected


@pytest.mark.parametrize("text, ran", [
    # node 2 feeds nothing (2 -> 3 is none): its two ops are skipped, node 1 still feeds node 3
    ("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
     {(1, 0, "nor_conv_3x3"), (3, 0, "skip_connect"), (3, 1, "nor_conv_3x3")}),
    # nodes 1 and 2 feed nothing: only the direct edge 0 -> 3 runs
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|none~2|", {(3, 0, "nor_conv_1x1")}),
    # every node is read: all six ops run
    ("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|", None),
])
def test_the_supernet_skips_nodes_that_feed_nothing_and_still_computes_the_child(text, ran):
    space = CellSpace()
    arch = space.parse(text)
    torch.manual_seed(0)
    net = _trained(build_shared_supernet(space, (1, 8, 8), 10, channels=4), space)
    cell = net.features[1]
    called = set()
    for i, incoming in enumerate(cell.edges, start=1):
        for j, ops in enumerate(incoming):
            for name, op in ops.items():
                op.register_forward_hook(lambda *_, key=(i, j, name): called.add(key))
    x = torch.randn(6, 1, 8, 8)
    for training in (True, False):
        net.train(training)
        child = net.child(arch)
        called.clear()
        with torch.no_grad():
            torch.testing.assert_close(net(x, arch), child(x), rtol=1e-5, atol=1e-6)
        edge_ops = space.edge_ops(arch)
        assert called == (ran if ran is not None else {(i, j, op) for (i, j), op in edge_ops.items() if op != "none"})
