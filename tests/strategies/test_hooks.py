"""The dashboard's hooks are an optional protocol: the base class knows none of them."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import nasrl_nb as nb
from nasrl_nb.assembly.methods import METHODS
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.run.loop import Search
from nasrl_nb.strategies import base, hooks
from nasrl_nb.strategies.base import SearchStrategy

TOY = nb.custom_space({"arm": ["a", "b", "c"], "width": [8, 16]})
HOOK_NAMES = ("policy_snapshot", "choice_probabilities", "current_baseline", "hyperparameters", "set_hyperparameters")


class Plain(SearchStrategy):
    """The smallest strategy: uniform proposals, no policy, none of the hooks."""

    method = "plain"

    def __init__(self, space):
        super().__init__(space)
        self.rng = np.random.default_rng(0)

    def propose(self, n):
        return [self.space.sample(self.rng) for _ in range(n)]

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


def plain_search(budget=8):
    return Search(TOY, Plain(TOY), FunctionEvaluator(lambda a: 0.1 * len(a.choices[0])), budget=budget,
                  batch_size=4, seed=0, progress=False)


def test_the_base_class_names_no_hook_and_no_method():
    source = inspect.getsource(SearchStrategy)
    for name in HOOK_NAMES + tuple(METHODS):
        assert name not in source, name
    assert not any(hasattr(SearchStrategy, name) for name in HOOK_NAMES)
    assert "hooks" not in {n for n, _ in inspect.getmembers(base, inspect.ismodule)}


def test_the_protocols_see_which_hooks_a_strategy_has():
    plain = Plain(TOY)
    assert not any(isinstance(plain, p) for p in (hooks.ShowsPolicy, hooks.ScoresChoices, hooks.HasBaseline, hooks.Tunable))
    assert (hooks.policy_snapshot(plain), hooks.choice_probabilities(plain, []), hooks.current_baseline(plain)) == (None, None, None)
    assert hooks.hyperparameters(plain) == {} and not hooks.is_tunable(plain)
    rl = nb.make_search("reinforce", space=TOY, dataset=None, evaluator=FunctionEvaluator(lambda a: 0.5),
                        budget=4, batch_size=2, seed=0, progress=False).strategy
    assert all(isinstance(rl, p) for p in (hooks.ShowsPolicy, hooks.ScoresChoices, hooks.HasBaseline, hooks.Tunable))
    assert hooks.is_tunable(rl) and set(hooks.hyperparameters(rl)) == {"lr", "entropy_weight", "temperature"}
    arch = rl.propose(1)
    probs = hooks.choice_probabilities(rl, arch)[0]
    assert [p["decision"] for p in probs] == ["arm", "width"] and all(0 < p["prob"] <= 1 for p in probs)


def test_a_strategy_without_hooks_runs_in_the_loop_the_step_through_and_the_dashboard():
    from nasrl_nb.widgets import SearchDashboard, StepThroughWidget

    search = plain_search()
    stages = {stage.name: stage.data for stage in search.stages()}
    assert stages["sample"]["probabilities"] is None and stages["reward"]["baseline"] is None
    assert stages["update"]["step"].evaluations == 4
    with pytest.raises(ValueError, match="lr: the plain strategy has no policy to tune; allowed for: a strategy with run-time"):
        search.set_hyperparameters(lr=0.1)
    assert search.hyperparameters() == {}

    dash = SearchDashboard(search)
    assert all(slider.disabled for slider in dash.sliders.values())
    dash.buttons["start"].click()
    assert dash.wait(timeout=60)
    assert search.done and search.evaluations == 8 and dash.progress.value == 8
    assert "error" not in dash.status.value.lower()

    stepper = StepThroughWidget(plain_search())
    for expected in ("sample", "build", "train", "reward", "update"):
        stepper.advance(block=True)
        assert stepper.history[-1].name == expected, stepper.output.outputs
    assert stepper.search.num_steps == 1 and not stepper.output.outputs
