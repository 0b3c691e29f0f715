"""The supernet drawing: every candidate op drawn, exactly the sampled architecture's subgraph highlighted."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pytest

import nasrl_nb as nb
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.viz.drawing import op_color
from nasrl_nb.viz.enas_plots import FAINT, draw_supernet, highlighted


def _patches(fig, prefix):
    return {p.get_gid()[len(prefix):]: p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith(prefix)}


def _same_color(a, b) -> bool:
    return mcolors.to_hex(a) == mcolors.to_hex(b)


@pytest.mark.parametrize("seed", range(5))
def test_the_cell_supernet_highlights_exactly_the_ops_the_architecture_picks(seed):
    space = CellSpace()
    arch = space.sample(np.random.default_rng(seed))
    fig = draw_supernet(arch)
    expected = {f"{j}->{i}:{op}" for (i, j), op in space.edge_ops(arch).items() if op != "none"}
    assert set(highlighted(fig)) == expected
    chosen, faint = _patches(fig, "chosen:"), _patches(fig, "candidate:")
    # every non-none op on every edge is in the supernet: 6 edges x 4 ops, each drawn once
    ops = [op for op in space.ops if op != "none"]
    assert set(chosen) | set(faint) == {f"{j}->{i}:{op}" for i, j in space.edges for op in ops}
    assert not set(chosen) & set(faint)
    for name, patch in chosen.items():  # bold in the op's colour
        assert _same_color(patch.get_edgecolor(), op_color(name.split(":")[1])) and patch.get_linewidth() > 2
    for patch in faint.values():
        assert _same_color(patch.get_edgecolor(), FAINT) and patch.get_linewidth() < 1
    labels = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert {name.split(":")[1] for name in chosen} <= labels


def test_a_none_edge_keeps_only_faint_candidates():
    space = CellSpace()
    arch = space.parse("|none~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")
    assert highlighted(draw_supernet(arch)) == ["0->2:skip_connect", "2->3:avg_pool_3x3"]


def test_the_macro_supernet_highlights_the_chosen_layer_types_and_skips():
    space = nb.MacroSpace(num_layers=4, skip_connections=True)
    for seed in range(3):
        arch = space.sample(np.random.default_rng(seed))
        layers = space.layers(arch)
        fig = draw_supernet(arch)
        expected = [f"layer{i}:{layer.layer_type}" for i, layer in enumerate(layers)]
        expected += [f"skip{j}->{i}" for i, layer in enumerate(layers) for j in layer.skips]
        assert highlighted(fig) == expected
        faint = _patches(fig, "candidate:")
        assert len([k for k in faint if k.startswith("layer")]) == 4 * (len(space.vocab["layer_type"]) - 1)
        assert len([k for k in faint if k.startswith("skip")]) == 3 - sum(len(layer.skips) for layer in layers)
        for i, layer in enumerate(layers):
            assert _same_color(_patches(fig, "chosen:")[f"layer{i}:{layer.layer_type}"].get_facecolor(),
                               op_color(layer.layer_type))


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="arch: expected an Architecture"):
        draw_supernet("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    arch = nb.custom_space({"arm": ["a", "b"]}).from_choices(["a"])
    with pytest.raises(ValueError, match="allowed values: cell, macro"):
        draw_supernet(arch)
