"""ENAS in the dashboard and the step-through, without a browser: set values, run, assert on the panels."""

from __future__ import annotations

import pytest

import nasrl_nb as nb
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.viz.drawing import figure_to_png
from nasrl_nb.viz.enas_plots import draw_supernet
from nasrl_nb.widgets import SearchDashboard, StepThroughWidget
from nasrl_nb.widgets.enas_panels import ENAS_PANELS, render_enas_panels, shared_and_true
from nasrl_nb.widgets.panels import PANELS, RunState

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# a tiny shared-weight search (as in test_enas.py): 300 digits, 4 channels, 2 supernet minibatches per step
TINY = {"dataset": "digits", "max_samples": 300, "channels": 4, "supernet_train_steps": 2, "device": "cpu",
        "progress": False, "batch_size": 4, "supernet_batch_size": 32, "eval_batch_size": 30}


def is_png(widget) -> bool:
    return bytes(widget.value).startswith(PNG_MAGIC)


@pytest.fixture(scope="module")
def digits_cell(digits_cell_table):
    return digits_cell_table


def test_the_dashboard_of_an_enas_search_shows_the_supernet_its_loss_and_the_ranking_live(digits_cell):
    search = make_search("enas", "cell", budget=12, seed=3, **TINY)
    dash = SearchDashboard(search, cooperative=False)
    assert tuple(dash.images) == PANELS + ENAS_PANELS  # the cell space finds the shipped digits-cell table
    dash.buttons["start"].click()
    assert dash.wait(timeout=120) and search.done
    for name in PANELS[:2] + ENAS_PANELS:  # architecture, policy, and the three ENAS panels
        assert is_png(dash.images[name]), name
    # the supernet panel is the latest sampled architecture's subgraph, the scatter the table's lookups
    latest, step = search.space.parse(search.history[-1]["arch"]), search.history[-1]["step"]
    title = f"supernet: subgraph of the latest sample (step {step})"
    assert dash.images["supernet"].value == figure_to_png(draw_supernet(latest, title=title), dpi=80)
    state = RunState.from_search(search)
    assert dash.images["shared_vs_true"].value == render_enas_panels(state, digits_cell)["shared_vs_true"]
    shared, true = shared_and_true(search.history, digits_cell)
    assert len(shared) == sum(r["arch"] in digits_cell for r in search.history) > 0
    assert shared == [r["val_accuracy"] for r in search.history if r["arch"] in digits_cell]
    assert true[0] == digits_cell.query(next(r["arch"] for r in search.history if r["arch"] in digits_cell))["val_accuracy"]


def test_a_dataset_object_finds_its_own_table_as_the_dataset_name_does():
    """Notebook 07 hands make_search a loaded Dataset, so config.data.dataset is None: the referee
    comes from the data's own name (digits -> digits-cell, mnist1d -> mnist1d-cell)."""
    settings = {k: v for k, v in TINY.items() if k not in ("dataset", "max_samples")}
    digits = make_search("enas", "cell", nb.load_dataset("digits", max_samples=300), budget=4, seed=0, **settings)
    assert tuple(SearchDashboard(digits, cooperative=False).images) == PANELS + ENAS_PANELS
    assert SearchDashboard(digits, cooperative=False).benchmark.name == "digits-cell"
    signals = make_search("enas", "cell", nb.load_dataset("mnist1d", max_samples=300), budget=4, seed=0, **settings)
    assert SearchDashboard(signals, cooperative=False).benchmark.name == "mnist1d-cell"


def test_the_macro_space_has_no_scatter_without_a_benchmark_and_other_methods_look_as_before():
    search = make_search("random_ws", "macro", budget=4, seed=0, **TINY)
    dash = SearchDashboard(search, cooperative=False)
    assert tuple(dash.images) == PANELS + ("supernet", "supernet_loss")
    dash.step()
    dash.wait(timeout=60)
    assert is_png(dash.images["supernet"]) and is_png(dash.images["supernet_loss"])
    toy = make_search("reinforce", space=nb.custom_space({"arm": ["a", "b"]}), dataset=None, budget=4, batch_size=2,
                      evaluator=FunctionEvaluator(lambda arch: 0.5, cache=False), seed=0, progress=False)
    plain = SearchDashboard(toy)
    assert tuple(plain.images) == PANELS and not plain.shared_weights and plain.benchmark is None


def test_the_step_through_of_enas_shows_the_shared_weight_phase_in_the_train_stage():
    search = make_search("enas", "cell", budget=8, seed=1, **TINY)
    stepper = StepThroughWidget(search)
    for expected in ("sample", "build", "train"):
        stepper.advance(block=True)
        assert stepper.history[-1].name == expected
    results = stepper.history[-1].data["results"]
    text = stepper.text.value
    assert "train shared weights, then score" in text
    assert f"mean training loss {results[0]['supernet_loss']:.3f}" in text
    assert "2 minibatch(es) this step, 2 in all" in text
    assert bytes(stepper.picture.value).startswith(PNG_MAGIC)
    assert stepper.picture.value == figure_to_png(draw_supernet(stepper.history[-1].data["architectures"][0]), dpi=80)
    stepper.advance(block=True)
    assert "baseline" in stepper.text.value  # REINFORCE's first batch: its mean is the baseline
    stepper.advance(block=True)
    assert stepper.history[-1].name == "update" and search.num_steps == 1 and search.evaluator.steps == 2
