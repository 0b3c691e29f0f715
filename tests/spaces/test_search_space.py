"""The committed search spaces: size, sampling, enumeration, membership and text formats."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

from nasrl_nb.spaces.cell_space import CELL_OPS, CellSpace
from nasrl_nb.spaces.macro_space import ARCHITECTURE_VOCAB, MacroSpace
from nasrl_nb.spaces.registry import (
    SPACES,
    architecture_from_json,
    get_space,
    parse_architecture,
    space_from_spec,
)
from nasrl_nb.spaces.search_space import Architecture, Decision, SearchSpace, custom_space

SMALL_MACRO = dict(num_layers=2, vocab={"layer_type": ("conv1x1", "conv3x3"), "activation": ("relu", "tanh", "gelu")})


def spaces_under_test():
    return [
        CellSpace(),
        CellSpace(num_nodes=3, ops=("none", "skip_connect", "nor_conv_3x3")),
        MacroSpace(),
        MacroSpace(num_layers=3, skip_connections=True, vocab={**ARCHITECTURE_VOCAB, "filters": (8, 16)}),
        MacroSpace(**SMALL_MACRO, fixed={"normalization": "group_norm"}, filters=12),
        custom_space({"lr": [0.1, 0.01], "depth": [1, 2, 3], "act": ["relu", "tanh"]}),
    ]


SPACE_IDS = ["cell", "cell3", "macro", "macro-skips-filters", "macro-small", "custom"]


# --- size -------------------------------------------------------------------------------------
def test_sizes_are_the_product_of_option_counts():
    assert CellSpace().size() == 5**6 == 15_625
    # layer 0 offers 2 connectivities (dense and attention fold into sequential there), later layers 4
    assert MacroSpace().size() == (5 * 5 * 4 * 2) * (5 * 5 * 4 * 4) ** 3
    skips = MacroSpace(num_layers=3, skip_connections=True)
    assert skips.size() == 200 * 400**2 * 2 ** (0 + 0 + 1)  # layer i has max(0, i - 1) skip decisions
    assert custom_space({"a": [1, 2], "b": ["x", "y", "z"]}).size() == 2 * 3
    assert len(CellSpace(num_nodes=5)) == 5**10


def test_size_is_exact_for_spaces_too_big_for_a_float():
    space = MacroSpace(num_layers=12, skip_connections=True)
    assert space.size() == 200 * 400**11 * 2 ** (11 * 10 // 2)
    assert isinstance(space.size(), int) and space.size() > 2**53


# --- sampling and membership -----------------------------------------------------------------------
@pytest.mark.parametrize("space", spaces_under_test(), ids=SPACE_IDS)
def test_samples_are_members_and_a_seed_repeats_them(space):
    a, b, c = space.sample(5), space.sample(5), space.sample(np.random.default_rng(6))
    assert a == b and a in space and c in space
    assert isinstance(a, Architecture) and len(a.choices) == len(space.decisions)


def test_sampling_is_uniform_over_each_decisions_options():
    space = CellSpace()
    rng = np.random.default_rng(0)
    counts = np.zeros((6, 5))
    n = 4000
    for _ in range(n):
        for d, i in enumerate(space.sample(rng).indices):
            counts[d, i] += 1
    # each count is Binomial(4000, 0.2): std ~25, so 5 std is 126
    assert np.all(np.abs(counts - n / 5) < 126), counts


def test_an_architecture_of_another_space_is_not_a_member():
    cell, small = CellSpace(), CellSpace(num_nodes=3)
    assert cell.sample(0) not in small and "not an arch" not in cell
    assert CellSpace().sample(0) in cell  # equal spaces built twice accept each other's members


def test_equal_specs_make_equal_spaces_and_equal_hashable_architectures():
    assert MacroSpace(**SMALL_MACRO) == MacroSpace(**SMALL_MACRO) != MacroSpace(**SMALL_MACRO, filters=8)
    archs = {MacroSpace(**SMALL_MACRO).sample(s) for s in range(50)} | {MacroSpace(**SMALL_MACRO).sample(s) for s in range(50)}
    assert len(archs) == len({MacroSpace(**SMALL_MACRO).sample(s) for s in range(50)})
    assert hash(CellSpace()) == hash(CellSpace())


def test_architectures_are_immutable():
    arch = CellSpace().sample(0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.choices = ("none",) * 6


# --- enumeration and indices ----------------------------------------------------------------------------
@pytest.mark.parametrize("space", [s for s in spaces_under_test() if s.size() <= 20_000], ids=["cell", "cell3", "macro-small", "custom"])
def test_enumerate_lists_every_member_once(space):
    members = list(space.enumerate())
    assert len(members) == len(set(members)) == space.size()
    assert all(m in space for m in members)


def test_enumerate_refuses_a_space_over_the_limit():
    with pytest.raises(ValueError, match=r"limit: space has 15,625 members, more than limit=100"):
        next(CellSpace().enumerate(limit=100))


@pytest.mark.parametrize("space", spaces_under_test(), ids=SPACE_IDS)
def test_indices_and_choices_round_trip(space):
    arch = space.sample(11)
    assert space.from_indices(arch.indices) == arch == space.from_choices(arch.choices)
    assert list(arch.as_dict()) == [d.name for d in space.decisions]
    assert all(d.choices[i] == c for d, i, c in zip(space.decisions, arch.indices, arch.choices, strict=True))


def test_from_indices_of_enumeration_counts_like_an_odometer():
    space = custom_space({"a": [0, 1], "b": ["x", "y", "z"]})
    assert [m.indices for m in space.enumerate()] == list(itertools.product(range(2), range(3)))


# --- text and JSON formats ---------------------------------------------------------------------------
@pytest.mark.parametrize("space", spaces_under_test(), ids=SPACE_IDS)
def test_text_and_json_round_trip(space):
    for seed in range(5):
        arch = space.sample(seed)
        assert space.parse(str(arch)) == arch
        restored = architecture_from_json(arch.to_json())
        assert restored == arch and restored.space == space
        assert json.loads(arch.to_json())["space"] == space.spec()


@pytest.mark.parametrize("space", spaces_under_test(), ids=SPACE_IDS)
def test_space_from_spec_rebuilds_an_equal_space(space):
    rebuilt = space_from_spec(json.loads(json.dumps(space.spec())))
    assert rebuilt == space and type(rebuilt) is type(space) and rebuilt.size() == space.size()


def test_every_cell_survives_the_nas_bench_201_string_round_trip():
    space = CellSpace()
    for arch in space.enumerate():
        assert space.parse(space.format(arch)) == arch


def test_nas_bench_201_string_reads_edges_in_benchmark_order(nb201_example):
    space = CellSpace()
    arch = space.parse(nb201_example)
    assert str(arch) == nb201_example
    assert space.edge_ops(arch) == {
        (1, 0): "nor_conv_3x3",
        (2, 0): "skip_connect",
        (2, 1): "nor_conv_3x3",
        (3, 0): "skip_connect",
        (3, 1): "none",
        (3, 2): "nor_conv_3x3",
    }
    assert space.parse(f"  {nb201_example}\n") == arch  # surrounding whitespace is fine


def test_cell_format_generalizes_to_other_node_counts():
    space = CellSpace(num_nodes=3, ops=("none", "skip_connect"))
    arch = space.from_choices(("skip_connect", "none", "skip_connect"))
    assert str(arch) == "|skip_connect~0|+|none~0|skip_connect~1|"


# --- NAS-Bench-201 canonical form -----------------------------------------------------------------------
def test_enumerating_all_15625_cells_gives_the_benchmarks_6466_unique_architectures():
    space = CellSpace()
    canonical = {space.canonical(arch) for arch in space.enumerate()}
    assert space.size() == 15_625 and len(canonical) == 6_466


def test_ops_on_edges_that_cannot_reach_the_output_do_not_change_the_canonical_form():
    space = CellSpace()
    base = "|{a}~0|+|{b}~0|{c}~1|+|skip_connect~0|none~1|none~2|"
    forms = {space.canonical(space.parse(base.format(a=a, b=b, c=c))) for a in CELL_OPS for b in CELL_OPS for c in CELL_OPS}
    assert forms == {space.canonical(space.parse(base.format(a="none", b="none", c="none")))}


def test_the_order_of_summed_inputs_does_not_change_the_canonical_form():
    space = CellSpace()
    # node 2 = conv1x1(node 0) + conv3x3(node 0), reached through different edges
    a = space.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    b = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    assert a != b and space.canonical(a) == space.canonical(b)
    c = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    assert space.canonical(c) != space.canonical(a)


def test_canonical_follows_the_benchmarks_rule_which_does_not_flatten_nested_sums():
    # NAS-Bench-201's to_unique_str joins a skipped-in sum as one term, so these two equal
    # functions (output = conv1x1(x) + conv3x3(x)) get different strings; the 6,466 count relies on it
    space = CellSpace()
    a = space.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    b = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert space.canonical(a) == "#+#+(0)@nor_conv_3x3+(0)@nor_conv_1x1"
    assert space.canonical(b) == "#+#+(0)@nor_conv_1x1+(0)@nor_conv_3x3"


def test_is_valid_checks_for_a_path_from_input_to_output():
    space = CellSpace()
    assert space.is_valid(space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    assert space.is_valid(space.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"))
    assert not space.is_valid(space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|"))
    assert not space.is_valid(space.parse("|none~0|+|none~0|skip_connect~1|+|none~0|skip_connect~1|skip_connect~2|"))


# --- macro space ------------------------------------------------------------------------------------------
def test_macro_text_is_a_json_list_of_layers_with_fixed_values_filled_in():
    space = MacroSpace(**SMALL_MACRO, filters=12)
    arch = space.from_choices(("conv3x3", "tanh", "conv1x1", "gelu"))
    layers = json.loads(str(arch))
    assert layers == [
        {"layer_type": "conv3x3", "activation": "tanh", "normalization": "batch_norm", "connectivity": "sequential", "filters": 12},
        {"layer_type": "conv1x1", "activation": "gelu", "normalization": "batch_norm", "connectivity": "sequential", "filters": 12},
    ]
    assert [spec.activation for spec in space.layers(arch)] == ["tanh", "gelu"]


def test_macro_parse_accepts_a_layers_object_a_python_list_and_omitted_fixed_keys():
    space = MacroSpace(**SMALL_MACRO)
    arch = space.sample(3)
    rows = json.loads(str(arch))
    assert space.parse(json.dumps({"layers": rows})) == arch
    assert space.parse(rows) == arch
    short = [{"layer_type": r["layer_type"], "activation": r["activation"]} for r in rows]
    assert space.parse(json.dumps(short)) == arch


def test_macro_skip_decisions_map_to_each_layers_skip_list():
    # the previous layer always feeds layer i, so its skip candidates are layers 0..i-2 (ENAS)
    space = MacroSpace(num_layers=4, vocab={"activation": ("relu", "tanh")}, skip_connections=True)
    skip_decisions = [d for d in space.decisions if d.kind == "skip"]
    assert [(d.layer, d.source) for d in skip_decisions] == [(2, 0), (3, 0), (3, 1)]
    text = json.dumps(
        [
            {"activation": "relu", "skips": []},
            {"activation": "tanh", "skips": []},
            {"activation": "relu", "skips": [0]},
            {"activation": "relu", "skips": [1]},
        ]
    )
    arch = space.parse(text)
    assert [spec.skips for spec in space.layers(arch)] == [(), (), (0,), (1,)]
    assert arch.as_dict()["layer_3.skip_0"] == 0 and arch.as_dict()["layer_3.skip_1"] == 1
    assert space.parse(str(arch)) == arch


def test_macro_default_searches_the_four_vocabularies_per_layer():
    space = MacroSpace()
    assert [d.name for d in space.decisions[:4]] == [f"layer_0.{k}" for k in ARCHITECTURE_VOCAB]
    assert all(d.choices == ARCHITECTURE_VOCAB[d.name.split(".")[1]] for d in space.decisions if d.name != "layer_0.connectivity")
    # only the stem precedes layer 0: dense and attention would be sequential there
    assert space.decisions[3].choices == ("sequential", "residual")


# --- custom spaces and the registry ---------------------------------------------------------------------------
def test_custom_space_formats_as_json_and_keeps_python_values():
    space = custom_space({"lr": [0.1, 0.01], "depth": [1, 2, 3]})
    arch = space.from_choices((0.01, 3))
    assert json.loads(str(arch)) == {"lr": 0.01, "depth": 3}
    assert space.parse('{"depth": 3, "lr": 0.01}') == arch
    assert space.name == "custom" and math.prod(len(d.choices) for d in space.decisions) == space.size() == 6


def test_a_search_space_can_be_built_from_decisions():
    space = SearchSpace([Decision("x", (1, 2)), Decision("y", ("a", "b", "c"))])
    assert space.size() == 6 and space == custom_space({"x": [1, 2], "y": ["a", "b", "c"]})


def test_registry_builds_and_parses_by_name(nb201_example):
    assert set(SPACES) == {"macro", "cell", "darts", "zoph-le"}
    assert get_space("cell", num_nodes=3) == CellSpace(num_nodes=3)
    assert parse_architecture("cell", nb201_example) == CellSpace().parse(nb201_example)
    macro = get_space("macro", num_layers=2)
    arch = macro.sample(0)
    assert parse_architecture(macro, str(arch)) == arch


def test_repr_names_the_space_and_size():
    assert repr(CellSpace()) == "CellSpace(6 decisions, size=15,625)"
    arch = CellSpace().parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert repr(arch) == "Architecture(cell: |none~0|+|none~0|none~1|+|none~0|none~1|none~2|)"
