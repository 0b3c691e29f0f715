"""The DARTS search space (Liu et al. 2019): its genotype text, its size, its network.

Oracles: the size against the paper's count; the paper's own genotype string parses and
round-trips; the registry's new ops against the parameter counts of the paper's
``operations.py``; every decision changes the network (the oracle of
``test_decisions_matter.py``); the network learns (its loss falls) on digits and on
CIFAR-shaped tensors.
"""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.nn.complexity import count_parameters
from nasrl_nb.nn.darts_network import darts_layout, num_cells_for
from nasrl_nb.nn.operations import build_op
from nasrl_nb.spaces.darts_space import DARTS_OPS, DARTS_V2, RELAXED_OPS, DartsSpace
from nasrl_nb.spaces.registry import architecture_from_json, get_space, space_from_spec

SPACE = DartsSpace()


# --- the space ------------------------------------------------------------------------------------
def test_size_is_the_papers_count_of_about_1e18():
    # Liu et al. 2019, Sec. 3.1.1: per node C(k+1, 2) input pairs and 7**2 op pairs, two cells
    per_cell = math.prod(math.comb(k + 1, 2) * 7**2 for k in range(1, 5))
    assert SPACE.size() == per_cell**2 == 1_076_746_950_455_072_400
    assert len(SPACE.decisions) == 2 * (3 + 4 * 2)  # node 2 has one input pair: no decision
    assert RELAXED_OPS[0] == "none" and DARTS_OPS == RELAXED_OPS[1:] and len(RELAXED_OPS) == 8


def test_the_papers_darts_v2_genotype_parses_and_reads_back():
    arch = SPACE.parse(DARTS_V2)
    cells = SPACE.cells(arch)
    assert [n.inputs for n in cells["normal"]] == [(0, 1), (0, 1), (0, 1), (0, 2)]
    assert cells["normal"][2].ops == ("skip_connect", "sep_conv_3x3")  # listed as (sep 1), (skip 0) in the paper
    assert cells["reduce"][1].inputs == (1, 2) and cells["reduce"][1].ops == ("max_pool_3x3", "skip_connect")
    assert SPACE.parse(str(arch)) == arch
    assert str(arch).startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),")
    # the search code prints the concat as range(2, 6)
    assert SPACE.parse(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == arch


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num_nodes=st.integers(1, 5))
def test_format_parse_round_trip(seed, num_nodes):
    space = DartsSpace(num_nodes=num_nodes)
    arch = space.sample(seed)
    assert space.parse(str(arch)) == arch
    assert architecture_from_json(arch.to_json()) == arch
    assert space_from_spec(space.spec()) == space


def test_the_pairs_of_a_node_may_come_in_either_order():
    arch = SPACE.sample(3)
    cells = {c: [(op, i) for n in nodes for op, i in zip(n.ops, n.inputs)] for c, nodes in SPACE.cells(arch).items()}
    swapped = {c: [p for k in range(0, len(pairs), 2) for p in (pairs[k + 1], pairs[k])] for c, pairs in cells.items()}
    assert SPACE.from_cells(swapped) == SPACE.from_cells(cells) == arch


def test_registry_builds_the_space_with_options():
    space = get_space("darts", num_nodes=2, ops=["skip_connect", "sep_conv_3x3"])
    assert space.spec() == {"space": "darts", "num_nodes": 2, "ops": ["skip_connect", "sep_conv_3x3"]}
    assert [d.name for d in space.decisions[:4]] == ["normal.node2.op0", "normal.node2.op1", "normal.node3.inputs", "normal.node3.op0"]
    assert space.decisions[2].choices == ("0,1", "0,2", "1,2")
    assert space.size() == (2 * 2 * 3 * 2 * 2) ** 2


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "expected a DARTS genotype string"),
        ("Genotype(normal=[", "not a DARTS genotype string"),
        ("__import__('os').system('true')", r"expected Genotype\(normal=\.\.\."),
        (DARTS_V2.replace("reduce_concat", "other"), "fields must be exactly"),
        (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"), "normal_concat must list every intermediate node"),
        (DARTS_V2.replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ", "", 1), "normal needs 8 .op, input. pairs"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('none', 2)"), "arch op of normal node 5: 'none' is not allowed"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), r"normal node 5: input 5 is not allowed; allowed values: 0\.\.4"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "normal node 5: both inputs are 0"),
        (DARTS_V2.replace("('dil_conv_3x3', 2)", "'dil_conv_3x3'"), "expected an .op, input. pair"),
    ],
)
def test_bad_genotype_text_is_refused_naming_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        SPACE.parse(text)


def test_bad_space_options_are_refused():
    with pytest.raises(ValueError, match="ops: 'none' is not allowed"):
        DartsSpace(ops=RELAXED_OPS)
    with pytest.raises(ValueError, match="num_nodes"):
        DartsSpace(num_nodes=0)
    with pytest.raises(ValueError, match=r"space 'darts': unknown options \['steps'\]"):
        get_space("darts", steps=4)


def test_canonical_form_ignores_node_order_and_sees_op_changes():
    # nodes 2 and 3 both read only the inputs: exchanging them (and renumbering node 4's
    # reference to node 2 as node 3) gives the same cell with its nodes relabelled
    a = {"normal": [("sep_conv_3x3", 0), ("skip_connect", 1), ("max_pool_3x3", 0), ("dil_conv_3x3", 1),
                    ("avg_pool_3x3", 2), ("sep_conv_5x5", 1), ("skip_connect", 0), ("dil_conv_5x5", 4)],
         "reduce": [("max_pool_3x3", 0), ("max_pool_3x3", 1)] * 4}
    b = {"normal": [("max_pool_3x3", 0), ("dil_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 1),
                    ("avg_pool_3x3", 3), ("sep_conv_5x5", 1), ("dil_conv_5x5", 4), ("skip_connect", 0)],
         "reduce": a["reduce"]}
    arch_a, arch_b = SPACE.from_cells(a), SPACE.from_cells(b)
    assert arch_a != arch_b and SPACE.canonical(arch_a) == SPACE.canonical(arch_b)
    c = {**a, "normal": [("sep_conv_5x5", 0), *a["normal"][1:]]}
    assert SPACE.canonical(SPACE.from_cells(c)) != SPACE.canonical(arch_a)
    d = {**a, "reduce": [("max_pool_3x3", 0), ("avg_pool_3x3", 1), *a["reduce"][2:]]}  # the reduction cell counts
    assert SPACE.canonical(SPACE.from_cells(d)) != SPACE.canonical(arch_a)


# --- the ops ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "op, params",
    [  # C = 4: the paper's operations.py, BatchNorm with affine weight and bias
        ("sep_conv_3x3", 2 * (4 * 9 + 4 * 4 + 2 * 4)),
        ("sep_conv_5x5", 2 * (4 * 25 + 4 * 4 + 2 * 4)),
        ("dil_conv_3x3", 4 * 9 + 4 * 4 + 2 * 4),
        ("dil_conv_5x5", 4 * 25 + 4 * 4 + 2 * 4),
        ("max_pool_3x3", 0),
    ],
)
def test_darts_ops_have_the_papers_parameters_and_shapes(op, params):
    x = torch.randn(2, 4, 9, 9)
    for stride, side in ((1, 9), (2, 5)):
        module = build_op(op, 4, 4, stride)
        assert count_parameters(module) == params
        assert module(x).shape == (2, 4, side, side)


def test_dil_conv_sees_a_wider_field_than_its_kernel():
    """dil_conv_3x3 (dilation 2): an impulse spreads over a 5x5 area, 9 taps two pixels apart."""
    torch.manual_seed(0)
    op = build_op("dil_conv_3x3", 1, 1, 1).eval()
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 4] = 1.0  # relu keeps it
    reached = (op(x) - op(torch.zeros_like(x))).abs()[0, 0] > 0
    assert reached.sum() == 9 and reached[2, 2] and reached[6, 6] and not reached[3, 3]


# --- the network --------------------------------------------------------------------------------
def test_layout_reduces_at_a_third_and_two_thirds_of_the_depth():
    plans, out = darts_layout(C=16, num_cells=num_cells_for(2), num_nodes=4)  # the paper's search net: 8 cells
    assert [p.reduction for p in plans] == [False, False, True, False, False, True, False, False]
    assert [p.C for p in plans] == [16, 16, 32, 32, 32, 64, 64, 64] and out == 4 * 64
    assert plans[0].C_prev_prev == plans[0].C_prev == 48  # the stem: 3 * C
    assert [p.reduction for p in darts_layout(8, num_cells_for(1), 4)[0]] == [False, True, False, True, False]


def test_child_shapes_on_digits_and_cifar_sized_inputs():
    arch = SPACE.parse(DARTS_V2)
    for shape, side in (((1, 8, 8), 2), ((3, 32, 32), 8), ((3, 15, 15), 4)):
        net = ChildNetwork(arch, shape, 10, channels=4)
        assert net(torch.randn(2, *shape)).shape == (2, 10)
        assert net.features(torch.randn(2, *shape)).shape == (2, 4 * 16, side, side)  # two reductions, 4 nodes of 4C


def _train_steps(net, X, y, steps=8) -> list[float]:
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(net(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_child_learns_digits(tiny_digits):
    torch.manual_seed(0)
    net = ChildNetwork(SPACE.sample(0), tiny_digits.input_shape, tiny_digits.num_classes, channels=4)
    X, y = tiny_digits.split("train")
    losses = _train_steps(net, X[:64], y[:64])
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.7 * losses[0], losses


def test_child_learns_cifar_shaped_tensors():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(16, 3, 32, 32, generator=g), torch.arange(16) % 10
    torch.manual_seed(0)
    net = ChildNetwork(SPACE.parse(DARTS_V2), (3, 32, 32), 10, channels=4)
    losses = _train_steps(net, X, y)
    assert all(math.isfinite(v) for v in losses) and losses[-1] < 0.7 * losses[0], losses


# --- every decision changes the network ---------------------------------------------------------------
def _child(arch, shape) -> tuple[int, torch.Tensor]:
    """(parameter count, train-mode logits on a fixed batch) of the child built from torch seed 0."""
    X = torch.randn(4, *shape, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = ChildNetwork(arch, shape, num_classes=5, channels=4).train()
    with torch.no_grad():
        return count_parameters(net), net(X)


def _same(a, b) -> bool:
    return a[0] == b[0] and torch.allclose(a[1], b[1], rtol=1e-4, atol=1e-5)


def _flips(arch, per_decision: int, seed: int):
    """For every decision, up to ``per_decision`` architectures (seeded pick) differing only there."""
    rng = random.Random(seed)
    for t, decision in enumerate(arch.space.decisions):
        others = [c for c in decision.choices if c != arch.choices[t]]
        for choice in rng.sample(others, min(per_decision, len(others))):
            yield decision, arch.space.from_choices((*arch.choices[:t], choice, *arch.choices[t + 1:]))


@pytest.mark.parametrize("seed, shape", [(0, (1, 8, 8)), (1, (3, 16, 16))])
def test_flipping_any_darts_decision_changes_the_network(seed, shape):
    """Every node is concatenated into the cell's output, so every edge is live: no flip is a no-op.

    Each decision is flipped to two other options (a seeded pick; all 22 decisions each time).
    A flip changes every cell of its type, so the 2x2 last cell of an 8x8 input, where a 3x3
    average pool and a skip give the same global mean, cannot hide it.
    """
    arch = SPACE.sample(seed)
    base = _child(arch, shape)
    for decision, flipped in _flips(arch, per_decision=2, seed=seed):
        assert not _same(base, _child(flipped, shape)), f"{decision.name}: {arch} -> {flipped}"


def test_the_oracle_can_fail():
    arch = SPACE.sample(0)
    assert _same(_child(arch, (1, 8, 8)), _child(arch, (1, 8, 8)))
    X = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    net = ChildNetwork(arch, (1, 8, 8), num_classes=5, channels=4).train()
    with torch.no_grad():
        net.features.cells[-1].preprocess1[1].weight[0, 0] += 1e-3  # one weight of the last cell, slightly
        nudged = (count_parameters(net), net(X))
    assert not _same(_child(arch, (1, 8, 8)), nudged)
