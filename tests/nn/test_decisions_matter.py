"""Every decision of a search space can change the network it describes.

The oracle: build two children from the same torch seed, one with a single decision flipped,
and call the flip a no-op when both have the same parameter count and compute the same
logits (train mode, so normalizations use batch statistics, as they do while a child is
trained) on one fixed batch. Same seed + same parameter count means the same initial
weights, so equal logits mean the decision did nothing.

* Macro space (checked strictly): no decision may be a no-op, for any architecture. This
  is why the previous layer is not a skip candidate (it already feeds the layer, and a
  second copy is cancelled by normalization), why layer 0 is not offered ``dense`` or
  ``attention`` (only the stem precedes it, so both are ``sequential``), and why group norm
  never has 1 or C groups.
* Cell space (NAS-Bench-201): an edge whose source node cannot be reached from the cell's
  input (it holds zeros) or whose target node cannot reach the cell's output computes
  nothing that reaches the logits. The benchmark keeps such cells in its 15,625 (it lists
  them as separate entries with equal accuracies), so a flip on a dead edge may be a no-op:
  between parameter-free ops it is one. On every live edge, every flip must matter.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.nn.complexity import count_parameters
from nasrl_nb.nn.operations import group_norm_groups
from nasrl_nb.spaces.cell_space import CELL_OPS, CellSpace
from nasrl_nb.spaces.macro_space import ARCHITECTURE_VOCAB, MacroSpace

INPUT_SHAPE = (2, 8, 8)
X = torch.randn(4, *INPUT_SHAPE, generator=torch.Generator().manual_seed(0))  # (B, C, H, W), fixed


def _child(arch, **kw) -> tuple[int, torch.Tensor]:
    """(parameter count, train-mode logits on X) of the child built from torch seed 0."""
    torch.manual_seed(0)
    net = ChildNetwork(arch, INPUT_SHAPE, num_classes=5, channels=8, **kw).train()
    with torch.no_grad():
        return count_parameters(net), net(X)


def _same(a, b) -> bool:
    """True when the two children have equal parameter counts and equal logits."""
    return a[0] == b[0] and torch.allclose(a[1], b[1], rtol=1e-4, atol=1e-5)


def _flips(arch):
    """Every architecture that differs from ``arch`` in exactly one decision, with the decision."""
    for t, decision in enumerate(arch.space.decisions):
        for choice in decision.choices:
            if choice != arch.choices[t]:
                yield decision, arch.space.from_choices((*arch.choices[:t], choice, *arch.choices[t + 1:]))


# --- the oracle can fail -------------------------------------------------------------------------
def test_the_oracle_calls_a_scale_cancelled_by_normalization_no_change():
    """The old ``layer_i.skip_{i-1}`` fed the previous output in twice; normalization cancelled it."""
    arch = MacroSpace(num_layers=2).sample(0)
    torch.manual_seed(0)
    net = ChildNetwork(arch, INPUT_SHAPE, num_classes=5, channels=8).train()
    with torch.no_grad():
        once, twice = net(X), net(2 * X)  # the stem is conv -> batch norm: the factor 2 vanishes
    assert _same((1, once), (1, twice))
    assert _same(_child(arch), _child(arch))
    assert not _same(_child(arch), _child(MacroSpace(num_layers=2).sample(1)))


# --- macro space: strictly no no-ops --------------------------------------------------------------
@st.composite
def macro_spaces(draw):
    vocab = {}
    for key, options in ARCHITECTURE_VOCAB.items():
        if draw(st.booleans()):
            vocab[key] = draw(st.lists(st.sampled_from(options), min_size=2, max_size=len(options), unique=True))
    if draw(st.booleans()):
        vocab["filters"] = draw(st.lists(st.sampled_from([4, 6, 8, 9]), min_size=2, max_size=3, unique=True))
    if not vocab:
        vocab["connectivity"] = list(ARCHITECTURE_VOCAB["connectivity"])
    return MacroSpace(num_layers=draw(st.integers(1, 4)), vocab=vocab, filters=draw(st.sampled_from([4, 8])),
                      skip_connections=draw(st.booleans()))


@settings(max_examples=12, deadline=None)
@given(space=macro_spaces(), seed=st.integers(0, 2**32 - 1))
def test_flipping_any_macro_decision_changes_the_network(space, seed):
    arch = space.sample(seed)
    base = _child(arch)
    for decision, flipped in _flips(arch):
        assert not _same(base, _child(flipped)), f"{decision.name}: {arch} -> {flipped}"


def test_flipping_any_decision_of_the_full_macro_space_with_skips_changes_the_network():
    space = MacroSpace(num_layers=4, vocab={**ARCHITECTURE_VOCAB, "filters": [8, 12]}, skip_connections=True)
    for seed in range(2):
        arch = space.sample(seed)
        base = _child(arch)
        for decision, flipped in _flips(arch):
            assert not _same(base, _child(flipped)), f"{decision.name}: {arch} -> {flipped}"


def test_each_skip_changes_the_output_even_without_new_parameters():
    """Equal widths: a skip adds no projection, so only the logits can tell, and they do."""
    space = MacroSpace(num_layers=4, vocab={"activation": ["relu", "tanh"]}, filters=8, skip_connections=True)
    assert [d.name for d in space.decisions if d.kind == "skip"] == ["layer_2.skip_0", "layer_3.skip_0", "layer_3.skip_1"]
    arch = space.sample(0)
    for decision, flipped in _flips(arch):
        if decision.kind == "skip":
            before, after = _child(arch), _child(flipped)
            assert before[0] == after[0] and not torch.allclose(before[1], after[1], rtol=1e-4, atol=1e-5)


def test_group_norm_is_neither_layer_nor_instance_norm_at_composite_widths():
    for C in range(2, 257):
        composite = any(C % d == 0 for d in range(2, C))
        assert (1 < group_norm_groups(C) < C) == composite, C
        assert C % group_norm_groups(C) == 0


# --- cell space: only dead edges may be no-ops -----------------------------------------------------
def _live(space: CellSpace, arch, edge) -> bool:
    """Edge ``(i, j)`` (node j -> node i) can reach the logits: j is fed by the input, i feeds the output."""
    ops, last = space.edge_ops(arch), space.num_nodes - 1
    fed = {0}
    for n in range(1, space.num_nodes):
        if any(k in fed and ops[(n, k)] != "none" for k in range(n)):
            fed.add(n)
    feeds = {last}
    for n in range(last - 1, -1, -1):
        if any(m in feeds and ops[(m, n)] != "none" for m in range(n + 1, space.num_nodes)):
            feeds.add(n)
    i, j = edge
    return j in fed and i in feeds


@settings(max_examples=8, deadline=None)
@given(ops=st.lists(st.sampled_from(CELL_OPS), min_size=6, max_size=6))
def test_flipping_a_live_cell_edge_changes_the_network_and_a_dead_one_may_not(ops):
    space = CellSpace()
    arch = space.from_choices(ops)
    base = _child(arch)
    for t, edge in enumerate(space.edges):
        for op in CELL_OPS:
            if op == ops[t]:
                continue
            flipped = space.from_choices((*ops[:t], op, *ops[t + 1:]))
            after = _child(flipped)
            if _live(space, arch, edge):
                assert not _same(base, after), f"edge {edge}: {arch} -> {flipped}"
            elif base[0] == after[0]:  # parameter-free ops on a dead edge: nothing reaches the logits
                assert _same(base, after), f"dead edge {edge}: {arch} -> {flipped}"


def test_a_dead_cell_edge_is_a_no_op_and_the_same_edge_alive_is_not():
    space = CellSpace()
    # node 2 feeds nothing (edge 2 -> 3 is none), so the edge 1 -> 2 is dead
    dead = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|")
    assert _same(_child(dead), _child(space.parse(str(dead).replace("skip_connect~1", "avg_pool_3x3~1"))))
    alive = space.parse(str(dead).replace("none~2", "skip_connect~2"))
    assert not _same(_child(alive), _child(space.parse(str(alive).replace("skip_connect~1", "avg_pool_3x3~1"))))


def test_widths_at_which_two_searched_normalizations_coincide_are_refused():
    with pytest.raises(ValueError, match=r"filters: 7 is not allowed while vocab\['normalization'\] searches both group_norm and layer_norm"):
        MacroSpace(filters=7)
    with pytest.raises(ValueError, match=r"filters: 5 is not allowed"):
        MacroSpace(vocab={"normalization": ["layer_norm", "group_norm"], "filters": [4, 5]})
    with pytest.raises(ValueError, match=r"filters: 1 is not allowed while vocab\['normalization'\] searches more than one"):
        MacroSpace(vocab={"normalization": ["layer_norm", "instance_norm"]}, filters=1)
    assert MacroSpace(vocab={"normalization": ["batch_norm", "group_norm"]}, filters=7).size() == 2**4  # nothing coincides
    assert MacroSpace(vocab={"activation": ["relu", "tanh"]}, fixed={"normalization": "group_norm"}, filters=7)
