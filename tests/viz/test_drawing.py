"""Architecture drawings: graph structure against the definitions, legends, SVG and PNG output.

The graph is checked against what each connectivity means (residual: the layer's input is
added to its output; dense/attention: every earlier output feeds the layer; skips: the
chosen earlier layers feed it), written out by hand for small cases and as counting
invariants over random architectures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import matplotlib

matplotlib.use("Agg")

import networkx as nx  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

from nasrl_nb.display import architecture_html  # noqa: E402
from nasrl_nb.spaces.cell_space import CELL_OPS, CellSpace  # noqa: E402
from nasrl_nb.spaces.macro_space import ARCHITECTURE_VOCAB, MacroSpace  # noqa: E402
from nasrl_nb.spaces.search_space import Decision, SearchSpace, custom_space  # noqa: E402
from nasrl_nb.viz.drawing import (  # noqa: E402
    CONNECTION_KINDS,
    OP_COLORS,
    architecture_graph,
    architecture_svg,
    draw_architecture,
    figure_to_png,
    legend_labels,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NB201 = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


def macro_arch(connectivity, skips=None, layer_types=None):
    """A macro architecture with the given per-layer connectivity (and skips)."""
    space = MacroSpace(num_layers=len(connectivity), skip_connections=skips is not None)
    rows = []
    for i, conn in enumerate(connectivity):
        row = {"layer_type": (layer_types or ["conv3x3"] * len(connectivity))[i], "activation": "relu",
               "normalization": "batch_norm", "connectivity": conn, "filters": 16}
        if skips is not None:
            row["skips"] = skips[i]
        rows.append(row)
    return space.parse(json.dumps(rows))


def edges_of(graph, op):
    return {(s, t) for s, t, o in graph.edges(data="op") if o == op}


def drawn_edges(fig):
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, FancyArrowPatch)]


# --- cell -------------------------------------------------------------------------------------------
def test_cell_graph_has_one_op_edge_per_non_none_edge():
    arch = CellSpace().parse(NB201)
    graph = architecture_graph(arch)
    assert set(graph.nodes) == {0, 1, 2, 3}
    assert graph.number_of_edges() == 5  # six edges, one of them none
    expected = {(j, i): op for (i, j), op in CellSpace().edge_ops(arch).items() if op != "none"}
    assert {(s, t): op for s, t, op in graph.edges(data="op")} == expected
    assert graph.graph["none_edges"] == [(1, 3)]
    assert nx.is_directed_acyclic_graph(graph)


def test_cell_graph_of_all_none_cell_has_no_edges():
    arch = CellSpace().from_choices(["none"] * 6)
    graph = architecture_graph(arch)
    assert graph.number_of_edges() == 0
    assert len(graph.graph["none_edges"]) == 6


def test_cell_drawing_draws_every_edge_and_legends_exactly_the_ops_used():
    space = CellSpace()
    for seed in range(5):
        arch = space.sample(seed)
        fig = draw_architecture(arch)
        assert isinstance(fig, Figure)
        assert len(drawn_edges(fig)) == 6  # none edges are drawn too, faint
        assert sorted(legend_labels(fig)) == sorted(set(arch.choices))
        labels = [t.get_text() for t in fig.axes[0].texts]
        for op in set(arch.choices) - {"none"}:
            assert op in labels  # every op edge is labelled with its op


def test_larger_cell_space_draws():
    space = CellSpace(num_nodes=5)
    arch = space.sample(0)
    graph = architecture_graph(arch)
    assert graph.number_of_edges() + len(graph.graph["none_edges"]) == 10
    assert len(drawn_edges(draw_architecture(arch))) == 10


# --- macro -------------------------------------------------------------------------------------------
def test_macro_residual_edge_goes_from_the_layer_input_to_an_add_node():
    graph = architecture_graph(macro_arch(["sequential", "residual", "sequential"]))
    assert list(graph.nodes) == ["input", "layer0", "layer1", "add1", "layer2", "output"]
    assert edges_of(graph, "residual") == {("layer0", "add1")}
    assert edges_of(graph, "sequential") == {
        ("input", "layer0"), ("layer0", "layer1"), ("layer1", "add1"), ("add1", "layer2"), ("layer2", "output")
    }


def test_macro_dense_and_attention_edges_come_from_every_earlier_output():
    # layer 0 has only the stem before it, so the space offers it no dense or attention
    graph = architecture_graph(macro_arch(["sequential", "dense", "attention"]))
    assert edges_of(graph, "dense") == {("input", "layer1")}
    assert edges_of(graph, "attention") == {("input", "layer2"), ("layer0", "layer2")}
    fig = draw_architecture(macro_arch(["sequential", "dense", "attention"]))
    attention = [p for p in drawn_edges(fig) if p.get_gid() == "edge:attention"]
    assert len(attention) == 2 and all(p.get_linestyle() == "--" for p in attention)


def test_macro_skip_edges_start_at_the_chosen_layers_outputs():
    arch = macro_arch(["residual", "sequential", "sequential", "sequential"], skips=[[], [], [0], [0, 1]])
    graph = architecture_graph(arch)
    # layer 0 is residual, so its output is the add node
    assert edges_of(graph, "skip") == {("add0", "layer2"), ("add0", "layer3"), ("layer1", "layer3")}
    # the previous layer always feeds (the sequential edge) and is never a skip source
    assert not edges_of(graph, "skip") & edges_of(graph, "sequential")


@pytest.mark.parametrize("seed", range(8))
def test_macro_graph_invariants_on_random_architectures(seed):
    space = MacroSpace(num_layers=5, skip_connections=True)
    arch = space.sample(seed)
    layers = space.layers(arch)
    graph = architecture_graph(arch)
    assert nx.is_directed_acyclic_graph(graph)
    assert nx.descendants(graph, "input") == set(graph.nodes) - {"input"}
    assert nx.ancestors(graph, "output") == set(graph.nodes) - {"output"}
    for i, layer in enumerate(layers):
        into = [op for _, _, op in graph.in_edges(f"layer{i}", data="op")]
        assert into.count("sequential") == 1
        assert into.count("skip") == len(layer.skips)
        assert into.count("dense") == (i if layer.connectivity == "dense" else 0)
        assert into.count("attention") == (i if layer.connectivity == "attention" else 0)
        assert graph.nodes[f"layer{i}"]["op"] == layer.layer_type
        assert (f"add{i}" in graph) == (layer.connectivity == "residual")
    assert len(edges_of(graph, "residual")) == sum(layer.connectivity == "residual" for layer in layers)


@pytest.mark.parametrize("seed", range(4))
def test_macro_legend_lists_the_layer_types_and_connection_kinds_used(seed):
    space = MacroSpace(num_layers=4, skip_connections=True)
    arch = space.sample(seed)
    layers = space.layers(arch)
    expected = {layer.layer_type for layer in layers}
    expected |= {layer.connectivity for i, layer in enumerate(layers)
                 if layer.connectivity == "residual" or (layer.connectivity in ("dense", "attention") and i > 0)}
    expected |= {"skip"} if any(layer.skips for layer in layers) else set()
    fig = draw_architecture(arch)
    assert sorted(legend_labels(fig)) == sorted(expected)
    assert len(drawn_edges(fig)) == architecture_graph(arch).number_of_edges()


def test_macro_node_labels_name_every_choice():
    arch = macro_arch(["sequential", "residual"], layer_types=["conv5x5", "maxpool3x3"])
    graph = architecture_graph(arch)
    label = graph.nodes["layer1"]["label"]
    for word in ("maxpool3x3", "relu", "batch_norm", "16"):
        assert word in label


# --- custom spaces ----------------------------------------------------------------------------------
def test_custom_space_is_drawn_as_a_chain_of_decisions():
    space = custom_space({"lr": [0.1, 0.01], "optimizer": ["adam", "sgd"], "width": [16, 32]})
    arch = space.sample(0)
    graph = architecture_graph(arch)
    assert list(graph.nodes) == ["lr", "optimizer", "width"]
    assert edges_of(graph, "sequential") == {("lr", "optimizer"), ("optimizer", "width")}
    assert f"optimizer = {arch.as_dict()['optimizer']}" in graph.nodes["optimizer"]["label"]
    assert isinstance(draw_architecture(arch), Figure)


def test_any_space_with_skip_decisions_gets_skip_edges():
    space = SearchSpace([
        Decision("l0.op", ("conv3x3", "conv1x1"), layer=0),
        Decision("l1.op", ("conv3x3", "maxpool3x3"), layer=1),
        Decision("l1.skip0", (0, 1), kind="skip", layer=1, source=0),
        Decision("l2.op", ("conv5x5", "conv3x3"), layer=2),
        Decision("l2.skip0", (0, 1), kind="skip", layer=2, source=0),
        Decision("l2.skip1", (0, 1), kind="skip", layer=2, source=1),
    ])
    arch = space.from_choices(["conv1x1", "maxpool3x3", 1, "conv5x5", 0, 1])
    graph = architecture_graph(arch)
    assert list(graph.nodes) == ["layer0", "layer1", "layer2"]
    assert edges_of(graph, "skip") == {("layer0", "layer1"), ("layer1", "layer2")}
    fig = draw_architecture(arch)
    assert sorted(legend_labels(fig)) == sorted({"conv1x1", "maxpool3x3", "conv5x5", "skip"})


def test_graph_rejects_non_architectures():
    with pytest.raises(ValueError, match="arch: expected an Architecture"):
        architecture_graph("|nor_conv_3x3~0|")


# --- palette ------------------------------------------------------------------------------------------
def test_palette_covers_every_op_and_vocabulary_entry_with_valid_colours():
    from nasrl_nb.nn.operations import OPS

    names = set(OPS) | set(CONNECTION_KINDS) | {v for values in ARCHITECTURE_VOCAB.values() for v in values}
    assert names <= set(OP_COLORS)
    assert all(matplotlib.colors.is_color_like(c) for c in OP_COLORS.values())
    for group in (CELL_OPS, ARCHITECTURE_VOCAB["layer_type"], CONNECTION_KINDS,
                  ARCHITECTURE_VOCAB["activation"], ARCHITECTURE_VOCAB["normalization"]):
        assert len({OP_COLORS[name] for name in group}) == len(group), group  # distinguishable


# --- axes, SVG, PNG -----------------------------------------------------------------------------------
def test_draw_into_given_axes_returns_its_figure():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert draw_architecture(CellSpace().parse(NB201), ax=right) is fig
    assert not left.patches and right.patches


def test_svg_is_small_valid_xml_with_text_and_is_the_notebook_display():
    arch = CellSpace().parse(NB201)
    svg = architecture_svg(arch)
    assert svg.startswith("<svg")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert "nor_conv_3x3" in svg  # text stays text, so the SVG stays small and searchable
    assert len(svg) < 60_000
    assert architecture_html(arch) == svg  # deterministic: no dates or random ids
    macro = MacroSpace(num_layers=4, skip_connections=True).sample(0)
    assert ET.fromstring(architecture_html(macro)).tag.endswith("svg")
    assert macro._repr_html_().startswith("<table>")  # outside IPython: a table, no drawing code


def test_figure_to_png_works_from_background_threads_and_matches_the_main_thread():
    archs = [CellSpace().sample(0), MacroSpace(num_layers=3).sample(1)]
    expected = [figure_to_png(draw_architecture(a), dpi=60) for a in archs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        rendered = list(pool.map(lambda a: figure_to_png(draw_architecture(a), dpi=60), archs))
    assert all(png.startswith(PNG_MAGIC) for png in rendered)
    assert rendered == expected


def test_import_nasrl_nb_does_not_import_plotting_libraries(repo_root, cli_env):
    code = (
        "import sys, nasrl_nb; nasrl_nb.CellSpace().sample(0); "
        "assert 'matplotlib' not in sys.modules and 'networkx' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('matplotlib', 'networkx')))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=repo_root, env=cli_env)
