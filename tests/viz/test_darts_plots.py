"""The DARTS pictures: per-epoch records from steps, the collapse warning, the heat map and the collapse plot."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from nasrl_nb.viz.darts_plots import (
    COLLAPSE_MARGIN,
    COLLAPSE_THRESHOLD,
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
    assert collapse_warning([epoch(1, 0.5)]) is None  # a random derived cell's share on average: no warning
    assert "skip connections at epoch 4" in collapse_warning([epoch(4, 4 / 6)])
    assert "parameter-free ops" in collapse_warning([epoch(2, 0.0, free=0.83)])
    assert collapse_warning([epoch(2, 0.9, free=0.2)]) is None
    assert collapse_warning([epoch(2, 0.34)], threshold=0.3) is not None


def test_the_threshold_is_set_above_a_random_cells_parameter_free_share():
    """Cells derived from random alphas on NAS-Bench-201's ops: their mean share sits below the threshold,
    and with the softmax mass at its chance value the warning never fires, whatever the argmax drew."""
    import torch

    from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet
    from nasrl_nb.spaces.cell_space import CellSpace

    torch.manual_seed(0)
    net = RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2)
    shares, fired = [], 0
    for _ in range(300):
        with torch.no_grad():
            net.alphas.normal_(0.0, 1e-3)  # DARTS's initialisation
        mass, chance = net.parameter_free_weight()
        record = {"epoch": 1, "skip_share": net.skip_share(), "parameter_free_share": net.parameter_free_share(),
                  "parameter_free_weight": mass, "parameter_free_chance": chance}
        shares.append(record["parameter_free_share"])
        fired += collapse_warning([record]) is not None
    assert chance == pytest.approx(2 / 5) and abs(mass - chance) < 0.01
    mean_share = sum(shares) / len(shares)
    assert mean_share == pytest.approx(0.5, abs=0.05) and mean_share < COLLAPSE_THRESHOLD  # 2 of the 4 ops kept
    assert max(shares) >= COLLAPSE_THRESHOLD  # the argmax alone reaches it by chance ...
    assert fired == 0  # ... and the warning stays silent: the weights did not move


def test_the_warning_needs_the_mixing_weights_to_have_drifted():
    """Share at the threshold: silent while the mass is near chance, fires once it is COLLAPSE_MARGIN above."""
    def record(mass):
        return {"epoch": 3, "skip_share": 0.0, "parameter_free_share": 1.0, "parameter_free_weight": mass,
                "parameter_free_chance": 0.4}

    assert collapse_warning([record(0.4 + COLLAPSE_MARGIN / 2)]) is None
    warning = collapse_warning([record(0.4 + COLLAPSE_MARGIN + 0.01)])
    assert warning and "softmax mass on them 0.46 against 0.40" in warning
    assert collapse_warning([{**record(0.9), "parameter_free_share": 0.5}]) is None  # drift, but the cell is not taken


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
