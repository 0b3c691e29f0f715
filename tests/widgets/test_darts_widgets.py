"""The DARTS widgets, without a browser: press the buttons, check what they draw."""

from __future__ import annotations

import pytest
import torch

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.darts.architect import BilevelOptimizer
from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.widgets.common import placeholder_png
from nasrl_nb.widgets.darts import BilevelStepThrough, DartsMonitor


def small_search(data, budget=2):
    evaluator = FunctionEvaluator(lambda arch: {"val_accuracy": 0.5, "test_accuracy": arch.choices.count("skip_connect") / 6})
    return make_search(method="darts", dataset=data, evaluator=evaluator, budget=budget, channels=2,
                       darts_kwargs={"batch_size": 45}, progress=False)


def test_monitor_step_draws_every_panel_and_warns_on_collapse(tiny_digits):
    search = small_search(tiny_digits)
    monitor = DartsMonitor(search)
    assert monitor.heatmap.value == placeholder_png("nothing to show yet")
    monitor.step_button.click()
    assert search.evaluations == 1 and monitor.status.value == "epoch 1 of 2"
    assert all(panel.value[:4] == b"\x89PNG" and panel.value != placeholder_png("nothing to show yet")
               for panel in (monitor.heatmap, monitor.cell, monitor.collapse))
    with torch.no_grad():
        search.strategy.supernet.alphas[:, 1] = 50.0  # skip_connect everywhere from now on
    monitor.step_button.click()
    assert "collapse warning" in monitor.warning.value and search.done
    assert monitor.output.outputs == ()


def test_monitor_run_button_finishes_the_budget_in_a_thread(tiny_digits):
    search = small_search(tiny_digits, budget=2)
    monitor = DartsMonitor(search)
    monitor.run_button.click()
    monitor._thread.join(timeout=120)
    assert search.done and monitor.status.value == "epoch 2 of 2"


def test_monitor_refuses_other_methods(tiny_digits):
    search = make_search(method="random", dataset=tiny_digits, evaluator=FunctionEvaluator(lambda a: 0.5), budget=1,
                         progress=False)
    with pytest.raises(ValueError, match=r"^search: expected a DARTS search"):
        DartsMonitor(search)


def test_step_through_shows_the_terms_of_one_second_order_step():
    torch.manual_seed(0)
    net = RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2)
    X, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    widget = BilevelStepThrough(BilevelOptimizer(net, second_order=True), [((X[:4], y[:4]), (X[4:], y[4:]))])
    alphas = net.alphas.detach().clone()
    widget.next_button.click()
    assert widget.trace is not None and not torch.equal(alphas, net.alphas)
    assert widget.terms.value != placeholder_png("nothing to show yet") and "weight step" in widget.text.value
    widget.next_button.click()  # no batches left: the error shows in the output, not in the kernel log
    assert "StopIteration" in "".join(o.get("text", "") for o in widget.output.outputs)


def test_the_heat_map_panel_draws_both_cells_of_the_darts_space():
    from nasrl_nb.darts.relaxed_supernets import build_relaxed_supernet
    from nasrl_nb.spaces.darts_space import DartsSpace
    from nasrl_nb.viz.darts_plots import latest_mixing_weights, plot_alpha_heatmaps

    torch.manual_seed(0)
    net = build_relaxed_supernet(DartsSpace(), (1, 8, 8), 10, channels=2)
    weights = {kind: w.tolist() for kind, w in net.arch_weights().items()}  # as a DARTS step records them
    fig = plot_alpha_heatmaps(weights, net.op_names, edge_names=net.edge_names(), title="softmax(α) after epoch 3")
    heat = [ax for ax in fig.axes if ax.get_title() in weights]
    assert [ax.get_title() for ax in heat] == list(weights) == ["normal", "reduce"]
    assert [t.get_text() for t in heat[1].get_yticklabels()] == net.edge_names()["reduce"]
    assert fig._suptitle.get_text() == "softmax(α) after epoch 3"
    # a DARTS+ search that stopped records no weights for its frozen epochs: the last ones recorded are shown
    epochs = [{"epoch": 1, "weights": weights}, {"epoch": 1, "derived": "x", "stopped": True}]
    assert latest_mixing_weights(epochs) == (1, weights) and latest_mixing_weights(epochs[1:]) is None
