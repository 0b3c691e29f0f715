"""Every method in the dashboard, the step-through and the replay, without a browser.

The method menu (``SearchDashboard.from_settings``) builds the chosen strategy, the
curriculum checkbox a growing macro space, the reward menu the chosen reward; the
step-through walks one step of every RL optimiser, bandit and baseline and shows what its
update did; a DARTS search gets the heat map, derived cell and collapse panels live and in
the replay of its run folder; an ENAS run folder replays with the live dashboard's panels.
"""

from __future__ import annotations

import json
import time

import pytest
import torch

import nasrl_nb as nb
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.assembly.methods import BANDIT_METHODS, METHODS, RL_METHODS
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.controllers.registry import CONTROLLERS
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.rewards.objectives import AccuracyReward, MultiObjectiveReward, ZophLeReward
from nasrl_nb.rl.registry import make_trainer
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.strategies import hooks
from nasrl_nb.strategies.curriculum import CurriculumStrategy
from nasrl_nb.viz.drawing import figure_to_png
from nasrl_nb.viz.enas_plots import draw_supernet
from nasrl_nb.widgets import ReplayViewer, SearchDashboard, StepThroughWidget
from nasrl_nb.widgets.common import PLACEHOLDER, placeholder_png
from nasrl_nb.widgets.darts_panels import darts_warnings, render_darts_panels
from nasrl_nb.widgets.enas_panels import ENAS_PANELS
from nasrl_nb.widgets.method_picker import applicable_methods
from nasrl_nb.widgets.panels import PANELS, RunState
from nasrl_nb.widgets.run_panels import DARTS_RUN_PANELS, render_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOY = nb.custom_space({"arm": ["a", "b", "c"], "width": [8, 16]})
EVERYWHERE = (*RL_METHODS, "random", "evolution", *BANDIT_METHODS)  # the methods that run on any space
# tiny one-shot settings (as in test_enas_widgets.py): 300 digits, 4 channels, 2 supernet minibatches per step
TINY_ENAS = {"max_samples": 300, "channels": 4, "supernet_train_steps": 2, "device": "cpu", "progress": False,
             "batch_size": 4, "supernet_batch_size": 32, "eval_batch_size": 30}
TINY_DARTS = {"max_samples": 300, "channels": 2, "darts_kwargs": {"batch_size": 45}, "progress": False}


def toy_accuracy(delay: float = 0.0):
    def fn(arch):
        time.sleep(delay)
        return {"a": 0.2, "b": 0.5, "c": 0.8}[arch.choices[0]] + (0.1 if arch.choices[1] == 16 else 0.0)

    return fn


def toy_dashboard(delay: float = 0.0, **kwargs) -> SearchDashboard:
    evaluator = FunctionEvaluator(toy_accuracy(delay), cache=False)
    return SearchDashboard.from_settings(space=TOY, evaluator=evaluator, budget=8, batch_size=4, seed=0,
                                         cooperative=False, **kwargs)


def is_drawn(widget) -> bool:
    """A real picture: a PNG that is not a placeholder."""
    value = bytes(widget.value)
    return value.startswith(PNG_MAGIC) and value != placeholder_png(PLACEHOLDER)


def errors(widget) -> str:
    return "".join(o.get("text", "") for o in widget.output.outputs)


@pytest.fixture(scope="module")
def digits_cell(digits_cell_table):
    return digits_cell_table


# --- the method menu --------------------------------------------------------------------------------------
def test_the_menu_offers_every_method_that_runs_on_the_space_and_evaluator(digits_cell):
    toy = FunctionEvaluator(toy_accuracy(), cache=False)
    assert applicable_methods(TOY, evaluator=toy) == EVERYWHERE
    table = TabularEvaluator(digits_cell)
    assert applicable_methods(nb.CellSpace(), evaluator=table) == (*EVERYWHERE, "pnas", "darts")  # the table's data; PNAS grows cells
    assert set(applicable_methods(nb.CellSpace(), dataset="digits")) == set(METHODS)  # all: ENAS builds its supernet
    assert "darts" not in applicable_methods(nb.MacroSpace(), dataset="digits")  # no relaxed macro supernet
    dash = toy_dashboard()
    assert dash.picker.method.options == EVERYWHERE
    with pytest.raises(ValueError, match=r"^method: 'enas' is not allowed; allowed values: reinforce, ppo"):
        toy_dashboard(method="enas")
    with pytest.raises(ValueError, match=r"^epsilon: must be a number in \[0.0, 1.0\]"):
        toy_dashboard(epsilon=2.0)


def test_choosing_a_method_builds_its_strategy_and_a_step_draws_its_panels():
    dash = toy_dashboard()
    for method in EVERYWHERE:
        dash.picker.method.value = method
        search = dash.search
        assert search.method == method and search.evaluations == 0 and dash.progress.value == 0
        if method in RL_METHODS:  # the same trainer class make_trainer builds for that name
            assert type(search.strategy.trainer) is type(make_trainer(search.strategy.controller, method))
        assert f"<b>{method}</b>" in dash.status.value
        assert dash.sliders["lr"].disabled == (method not in RL_METHODS)
        assert dash.picker.controller.disabled == dash.picker.epsilon.disabled == (method not in RL_METHODS)
        before = {name: bytes(image.value) for name, image in dash.images.items()}
        dash.buttons["step"].click()
        assert dash.wait(timeout=60) and search.evaluations == 4, method
        assert errors(dash) == "", method
        for name in ("architecture", "rewards"):
            assert is_drawn(dash.images[name]) and dash.images[name].value != before[name], (method, name)
        if hooks.policy_snapshot(search.strategy) is not None:  # the RL controllers and the bandits (hooks.ShowsPolicy)
            assert is_drawn(dash.images["policy"]), method
    assert type(dash.search.strategy).__name__ == "BanditStrategy"


def test_the_controller_menu_and_epsilon_slider_build_the_chosen_controller():
    dash = toy_dashboard(method="ppo")
    for kind, cls in CONTROLLERS.items():
        dash.picker.controller.value = kind
        assert type(dash.search.strategy.controller) is cls and dash.search.config.controller.kind == kind
    dash.picker.epsilon.value = 0.25
    assert dash.search.strategy.trainer.epsilon == 0.25 and dash.search.config.trainer.epsilon == 0.25
    assert dash.search.method == "ppo" and type(dash.search.strategy.controller) is CONTROLLERS["attention"]
    dash.picker.method.value = "random"
    assert dash.search.config.trainer.epsilon == 0.0  # epsilon is the controller's; random search has none


def test_the_menus_are_disabled_while_the_search_runs_and_a_change_in_code_is_refused():
    dash = toy_dashboard(delay=0.05)
    search = dash.search
    dash.buttons["start"].click()
    assert dash.running and dash.picker.method.disabled and dash.picker.controller.disabled
    assert dash.picker.reward.disabled and dash.picker.curriculum.disabled
    dash.picker.method.value = "evolution"
    assert dash.picker.method.value == "reinforce" and dash.search is search
    assert "method: cannot change while the search runs" in errors(dash)
    dash.picker.reward.value = "zoph_le"
    assert dash.picker.reward.value == "accuracy" and dash.search is search
    assert "reward: cannot change while the search runs" in errors(dash)
    dash.buttons["stop"].click()
    assert dash.wait(timeout=30) and not dash.running
    assert not dash.picker.method.disabled and not dash.picker.controller.disabled and not dash.picker.reward.disabled
    assert dash.picker.curriculum.disabled  # a custom space: no layers to grow
    dash.picker.method.value = "evolution"
    assert dash.search.method == "evolution" and dash.search is not search


# --- the curriculum checkbox and the reward menu ----------------------------------------------------------
MACRO = MacroSpace(num_layers=3, vocab={"layer_type": ["conv1x1", "conv3x3"], "activation": ["relu", "gelu"]})


def deeper_is_better(arch):
    return 0.3 + 0.1 * len(list(arch.space.layers(arch)))


def macro_dashboard(method="reinforce", **kwargs) -> SearchDashboard:
    return SearchDashboard.from_settings(method, space=MACRO, evaluator=FunctionEvaluator(deeper_is_better, cache=False),
                                         budget=12, batch_size=4, seed=0, cooperative=False, **kwargs)


def test_the_curriculum_checkbox_builds_a_search_that_grows_the_macro_space():
    dash = macro_dashboard()
    assert not dash.picker.curriculum.disabled and not dash.search.config.curriculum.enabled
    assert type(dash.search.strategy) is not CurriculumStrategy
    dash.picker.curriculum.value = True
    search = dash.search
    assert type(search.strategy) is CurriculumStrategy and search.config.curriculum.enabled
    assert search.config.curriculum.grow_every == 4  # 12 evaluations over depths 1, 2, 3
    for _ in range(3):
        dash.buttons["step"].click()
        assert dash.wait(timeout=60) and errors(dash) == ""
    assert [step.stats["layers"] for step in search.steps] == [1, 2, 3]  # one layer more per stage
    assert [len(json.loads(record["arch"])) for record in search.history] == [1] * 4 + [2] * 4 + [3] * 4  # layers
    assert is_drawn(dash.images["policy"]) and is_drawn(dash.images["architecture"])
    dash.picker.method.value = "sac"  # off-policy: its replay buffer would hold the old spaces' architectures
    assert dash.picker.curriculum.disabled and "allowed methods: reinforce, ppo, a2c, trpo" in dash.picker.curriculum.tooltip
    assert type(dash.search.strategy) is not CurriculumStrategy and not dash.search.config.curriculum.enabled
    dash.picker.method.value = "ppo"  # the checkbox kept its tick: ppo grows again
    assert type(dash.search.strategy) is CurriculumStrategy and dash.search.strategy.method == "ppo"
    dash.picker.curriculum.value = False
    dash.picker.method.value = "sac"
    dash.picker.curriculum.value = True  # in code, on the disabled checkbox: undone and refused
    assert dash.picker.curriculum.value is False and not dash.search.config.curriculum.enabled
    assert "curriculum: grows an on-policy controller; allowed methods: reinforce, ppo, a2c, trpo, not 'sac'" in errors(dash)
    with pytest.raises(ValueError, match=r"^curriculum: grows an on-policy controller; allowed methods: reinforce, ppo"):
        macro_dashboard("random", curriculum=True)
    with pytest.raises(ValueError, match=r"^curriculum: grows a layered space's depth \(--space macro or zoph-le\); this space is"):
        toy_dashboard(curriculum=True)
    with pytest.raises(ValueError, match=r"^curriculum: for synchronous searches"):
        macro_dashboard(curriculum=True, asynchronous=True)
    assert toy_dashboard().picker.curriculum.disabled


def test_the_reward_menu_builds_the_chosen_reward():
    dash = toy_dashboard(reward_weights=(0.5, 0.0, 0.0))
    assert dash.picker.reward.options == ("accuracy", "zoph_le", "multi") and not dash.picker.reward.disabled
    expected = {"accuracy": (AccuracyReward, lambda acc: acc), "zoph_le": (ZophLeReward, lambda acc: acc ** 3),
                "multi": (MultiObjectiveReward, lambda acc: 0.5 * acc)}  # zoph_le: one epoch, so val_accuracy cubed
    for name, (cls, of_accuracy) in reversed(expected.items()):
        dash.picker.reward.value = name
        search = dash.search
        assert search.config.reward.objective == name and type(search.reward_fn) is cls
        assert search.config.reward.weights == ([0.5, 0.0, 0.0] if name == "multi" else None)  # multi's weights only
        dash.buttons["step"].click()
        assert dash.wait(timeout=60) and errors(dash) == "" and search.evaluations == 4
        for record in search.history:
            assert record["reward"] == pytest.approx(of_accuracy(record["val_accuracy"])), name
    with pytest.raises(ValueError, match=r"^reward: 'zoph' is not allowed; allowed values: accuracy, zoph_le, multi"):
        toy_dashboard(reward="zoph")
    budgeted = toy_dashboard(max_params=1e6)
    assert budgeted.picker.reward.options == ("accuracy", "zoph_le")  # multi weighs costs itself
    with pytest.raises(ValueError, match=r"^reward: 'multi' weighs costs itself, so not with max_params"):
        toy_dashboard(reward="multi", max_params=1e6)
    custom = toy_dashboard(reward_fn=ZophLeReward(power=2.0))
    assert custom.picker.reward.disabled and type(custom.search.reward_fn) is ZophLeReward
    custom.picker.reward.value = "multi"
    assert custom.picker.reward.value == "accuracy" and "reward: a reward_fn was given" in errors(custom)


# --- the step-through of every method ---------------------------------------------------------------------
UPDATE_TEXT = {
    "reinforce": "the loss used these advantages",
    "ppo": "PPO: KL(pi_old || pi)",
    "a2c": "A2C: each decision t has its own advantage",
    "trpo": "TRPO: natural-gradient step",
    "sac": "SAC: the batch joined the replay buffer (4 architectures)",
    "ucb": "UCB1",
    "thompson": "Thompson sampling",
    "evolution": "Evolution: the children joined the population (4 members",
    "random": "Random search learns nothing",
}


@pytest.mark.parametrize("method", EVERYWHERE)
def test_the_step_through_walks_every_method_like_reinforce(method):
    search = make_search(method, space=TOY, dataset=None, evaluator=FunctionEvaluator(toy_accuracy(), cache=False),
                         budget=8, batch_size=4, seed=0, progress=False)
    stepper = StepThroughWidget(search)
    for expected in ("sample", "build", "train", "reward", "update"):
        stepper.advance(block=True)
        assert stepper.history[-1].name == expected and errors(stepper) == "", (method, expected)
    assert search.num_steps == 1 and len(search.history) == 4
    text = stepper.text.value
    assert "5. update" in text and UPDATE_TEXT[method] in text, text
    step = search.steps[-1]
    if step.advantages is not None:  # REINFORCE, PPO, A2C, TRPO: the advantages the loss used, read from its stats
        assert f"{step.advantages[0]:+.3f}" in text
    if method == "a2c":
        assert f"{step.stats['decision_advantages'][0][1]:+.3f}" in text
    if method == "trpo":
        assert f"max KL {step.stats['max_kl']:.4g}" in text and "clip fraction" not in text
    if step.policy is not None:
        assert is_drawn(stepper.picture)
    stepper.advance(block=True)
    assert stepper.history[-1].name == "sample"  # the next step starts


# --- DARTS in the dashboard and the replay -----------------------------------------------------------------
def test_a_darts_search_shows_the_mixing_weights_derived_cell_and_collapse_live(digits_cell):
    dash = SearchDashboard.from_settings("darts", space="cell", evaluator=TabularEvaluator(digits_cell), budget=3,
                                         seed=0, cooperative=False, **TINY_DARTS)
    assert dash.search.method == "darts" and tuple(dash.images) == DARTS_RUN_PANELS
    assert tuple(dash.grid.children) == tuple(dash.images.values())
    assert all(slider.disabled for slider in dash.sliders.values())  # DARTS has no controller to tune
    dash.buttons["step"].click()
    assert dash.wait(timeout=120) and dash.search.evaluations == 1 and errors(dash) == ""
    first = {name: bytes(dash.images[name].value) for name in ("alphas", "derived_cell", "collapse")}
    assert all(is_drawn(dash.images[name]) for name in first)
    assert dash.images["alphas"].value == render_darts_panels(RunState.from_search(dash.search))["alphas"]
    assert ("collapse warning" in dash.warnings.value) == bool(darts_warnings(RunState.from_search(dash.search)))
    with torch.no_grad():
        dash.search.strategy.supernet.alphas[:, 1] = 50.0  # skip_connect everywhere from now on
    dash.buttons["step"].click()
    assert dash.wait(timeout=120) and dash.search.evaluations == 2
    assert dash.images["alphas"].value != first["alphas"] and dash.images["collapse"].value != first["collapse"]
    assert dash.images["derived_cell"].value != first["derived_cell"]  # now all skip connections
    assert "collapse warning: 100% of the derived cell's edges".replace("'", "&#x27;") in dash.warnings.value
    assert "skip_connect" in dash.search.history[-1]["arch"]
    dash.picker.method.value = "reinforce"  # back to a controller: the usual panels
    assert tuple(dash.images) == PANELS and dash.search.method == "reinforce"


def test_a_darts_run_folder_replays_with_the_live_panels(tmp_path, tiny_digits):
    evaluator = FunctionEvaluator(lambda arch: {"val_accuracy": 0.5, "test_accuracy": arch.choices.count("skip_connect") / 6})
    search = make_search(method="darts", dataset=tiny_digits, evaluator=evaluator, budget=2, channels=2,
                         darts_kwargs={"batch_size": 45}, progress=False, out_dir=tmp_path / "run")
    dash = SearchDashboard(search, cooperative=False)
    dash.buttons["start"].click()
    assert dash.wait(timeout=120) and search.done
    replay = ReplayViewer(tmp_path / "run")
    assert replay.panel_names == DARTS_RUN_PANELS and replay.slider.max == 2
    for name in DARTS_RUN_PANELS[:3]:  # alphas, derived cell, collapse: the same pictures as live
        assert is_drawn(replay.images[name]) and replay.images[name].value == dash.images[name].value, name
    last = bytes(replay.images["alphas"].value)
    replay.slider.value = 1
    assert is_drawn(replay.images["alphas"]) and replay.images["alphas"].value != last
    epoch1 = render_run(RunState.from_search(search).upto(1), ("alphas",))["alphas"]
    assert replay.images["alphas"].value == epoch1


# --- ENAS in the replay ---------------------------------------------------------------------------------
def test_an_enas_run_folder_replays_with_the_supernet_its_loss_and_the_scatter(tmp_path, digits_cell):
    search = make_search("enas", "cell", dataset="digits", budget=8, seed=3, out_dir=tmp_path / "run", **TINY_ENAS)
    dash = SearchDashboard(search, cooperative=False)
    dash.buttons["start"].click()
    assert dash.wait(timeout=120) and search.done
    replay = ReplayViewer(tmp_path / "run")
    assert replay.shared_weights and replay.panel_names == PANELS + ENAS_PANELS
    for name in ("policy", *ENAS_PANELS):  # the controller's policy and the three ENAS panels, as live
        assert is_drawn(replay.images[name]), name
        assert replay.images[name].value == dash.images[name].value, name
    replay.slider.value = 1
    first = [r for r in search.history if r["step"] == 0]
    title = "supernet: subgraph of the latest sample (step 0)"
    assert replay.images["supernet"].value == figure_to_png(draw_supernet(search.space.parse(first[-1]["arch"]),
                                                                          title=title), dpi=80)
    assert replay.images["shared_vs_true"].value != dash.images["shared_vs_true"].value  # fewer points at step 1
    no_table = ReplayViewer(tmp_path / "run", benchmark=None)
    assert no_table.benchmark is not None  # the cell space finds the shipped digits-cell table


def test_the_dashboard_menu_builds_enas_with_its_supernet_panels(tiny_digits, tmp_path):
    dash = SearchDashboard.from_settings("random", space="macro", dataset="digits", budget=4, seed=0, cooperative=False,
                                         **TINY_ENAS)
    assert "enas" in dash.picker.method.options and tuple(dash.images) == PANELS
    dash.picker.method.value = "enas"
    assert dash.shared_weights and tuple(dash.images) == PANELS + ("supernet", "supernet_loss")
    dash.picker.controller.value = "gru"
    assert type(dash.search.strategy.controller) is CONTROLLERS["gru"]
    dash.buttons["step"].click()
    assert dash.wait(timeout=60) and errors(dash) == ""
    assert is_drawn(dash.images["supernet"]) and is_drawn(dash.images["supernet_loss"])
    # Export hands over ENAS's result: the architecture derived with the shared weights
    source = dash.export(tmp_path / "enas_net.py").read_text()
    assert "SEARCH_RESULT = {'method': 'enas', 'rule': 'derive'" in source
