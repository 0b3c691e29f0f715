"""The drawings of DARTS's relaxation: each op's path as wide as its mixing weight, the kept op named."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from nasrl_nb.spaces.cell_space import CELL_OPS
from nasrl_nb.viz.drawing import legend_labels
from nasrl_nb.viz.relaxation_drawing import (
    MAX_WIDTH,
    MIN_WIDTH,
    draw_mixed_op,
    draw_relaxed_supernet,
    line_width,
)

OPS = list(CELL_OPS)  # none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
EDGES = ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"]


def widths(fig, prefix):
    """gid -> the line widths of the patches tagged with it."""
    found = {}
    for patch in fig.axes[0].patches:
        gid = patch.get_gid()
        if gid and gid.startswith(prefix):
            found.setdefault(gid, []).append(patch.get_linewidth())
    return found


def test_line_width_is_linear_in_the_weight():
    assert line_width(0.0) == MIN_WIDTH and line_width(1.0) == MAX_WIDTH
    assert line_width(0.5) == pytest.approx((MIN_WIDTH + MAX_WIDTH) / 2)


def test_mixed_op_draws_each_op_as_wide_as_its_weight():
    weights = np.array([0.05, 0.5, 0.1, 0.3, 0.05])
    fig = draw_mixed_op(weights, OPS)
    assert isinstance(fig, Figure)
    found = widths(fig, "op:")
    assert sorted(found) == sorted(f"op:{op}" for op in OPS)
    for op, w in zip(OPS, weights):
        assert found[f"op:{op}"] == pytest.approx([line_width(w)] * 2)  # x -> op, op -> sum
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "0.50" in texts and "skip_connect" in texts


def test_supernet_draws_every_op_of_every_edge_and_names_the_kept_op():
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(len(OPS)), size=len(EDGES))
    weights[2] = [0.9, 0.0, 0.05, 0.05, 0.0]  # `none` strongest: DARTS keeps the best other op
    fig = draw_relaxed_supernet(weights, OPS, edge_names=EDGES)
    found = widths(fig, "edge:")
    assert len(found) == len(EDGES) * len(OPS)
    for e, name in enumerate(EDGES):
        for k, op in enumerate(OPS):
            assert found[f"edge:{name}:{op}"] == pytest.approx([line_width(weights[e, k])])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "nor_conv_1x1 0.05" in texts and not any(t.startswith("none ") for t in texts)  # ties: the first listed
    assert legend_labels(fig) == OPS
    assert sum(t == "cell" for t in texts) == 3  # the skeleton's cells


def test_the_drawings_take_an_axes():
    fig = Figure()
    ax = fig.add_subplot(1, 2, 1)
    assert draw_mixed_op(np.full(5, 0.2), OPS, ax=ax, title="") is fig
    assert draw_relaxed_supernet(np.full((6, 5), 0.2), OPS, ax=fig.add_subplot(1, 2, 2)) is fig


@pytest.mark.parametrize("call, message", [
    (lambda: draw_mixed_op(np.full(4, 0.25), OPS), r"weights: expected shape \(5,\)"),
    (lambda: draw_mixed_op(np.array([1.0, 2.0, -1.0, 0.0, -1.0]), OPS), "weights: expected softmax weights"),
    (lambda: draw_relaxed_supernet(np.full((5, 5), 0.2), OPS), r"weights: expected shape \(edges, 5\)"),
    (lambda: draw_relaxed_supernet(np.full((1, 5), 0.2), OPS, edge_names=["2->1"]), "edge_names: expected names 'j->i'"),
    (lambda: draw_relaxed_supernet(np.full((1, 5), 0.2), OPS, edge_names=["0->4"]), "edge_names: a cell of at most 4"),
])
def test_bad_input_names_the_field(call, message):
    with pytest.raises(ValueError, match=message):
        call()
