"""The DARTS pictures: per-epoch records from steps, the collapse warning, the heat map and the collapse plot."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from nasrl_nb.viz.darts_plots import (
    collapse_warning,
    darts_epochs,
    plot_alpha_heatmap,
    plot_collapse,
)

OPS = ["none", "skip_connect", "nor_conv_3x3"]


def epoch(k, skip, free=None):
    return {"epoch": k, "skip_share": skip, "parameter_free_share": free, "weights": {"cell": [[0.2, 0.5, 0.3]]}}


def test_epochs_are_flattened_in_order_and_joined_to_the_history():
    steps = [{"stats": {"epochs": [epoch(1, 0.0), epoch(2, 0.2)]}}, {"stats": {"epochs": [epoch(3, 0.5)]}}]
    history = [{"val_accuracy": v, "test_accuracy": v + 0.1} for v in (0.1, 0.2, 0.3)]
    epochs = darts_epochs(steps, history)
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert [e["test_accuracy"] for e in epochs] == pytest.approx([0.2, 0.3, 0.4])
    assert "test_accuracy" not in steps[0]["stats"]["epochs"][0]  # the steps are not modified


def test_the_warning_fires_at_the_threshold_and_prefers_the_parameter_free_share():
    assert collapse_warning([]) is None
    assert collapse_warning([epoch(1, 0.33)]) is None
    assert "skip connections at epoch 4" in collapse_warning([epoch(4, 0.5)])
    assert "parameter-free ops" in collapse_warning([epoch(2, 0.0, free=0.83)])
    assert collapse_warning([epoch(2, 0.9, free=0.2)]) is None
    assert collapse_warning([epoch(2, 0.34)], threshold=0.3) is not None


def test_heat_map_boxes_the_kept_op_excluding_none():
    fig = plot_alpha_heatmap([[0.6, 0.3, 0.1], [0.1, 0.2, 0.7]], OPS, edge_names=["0->1", "0->2"])
    ax = fig.axes[0]
    boxes = [(p.get_x() + 0.5, p.get_y() + 0.5) for p in ax.patches]
    assert boxes == [(1.0, 0.0), (2.0, 1.0)]  # edge 0 keeps skip_connect, not `none`
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0->1", "0->2"]
    with pytest.raises(ValueError, match=r"^weights: expected shape \(edges, 3\)"):
        plot_alpha_heatmap([[0.5, 0.5]], OPS)


def test_collapse_plot_turns_its_title_into_the_warning():
    calm = plot_collapse([epoch(1, 0.0, 0.1), epoch(2, 0.1, 0.2)])
    assert isinstance(calm, Figure) and not calm.axes[0].get_title().startswith("collapse warning")
    rows = [dict(epoch(1, 0.0, 0.3), test_accuracy=0.8), dict(epoch(2, 0.2, 0.7), test_accuracy=0.4)]
    fig = plot_collapse(rows)
    assert fig.axes[0].get_title().startswith("collapse warning: 70%") and len(fig.axes) == 2  # accuracy axis
    with pytest.raises(ValueError, match=r"^epochs: expected at least one"):
        plot_collapse([])
