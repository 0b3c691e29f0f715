"""The growing curriculum: a grown controller keeps its old decisions' probabilities exactly, the
depth follows the schedule, and a curriculum search resumes exactly across a growth."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.controllers.growth import extends, grow_controller
from nasrl_nb.controllers.registry import make_controller
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.strategies.curriculum import CurriculumStrategy

VOCAB = {"layer_type": ["conv1x1", "conv3x3"], "activation": ["relu", "tanh", "gelu"]}


def macro(layers, skips=True):
    return MacroSpace(num_layers=layers, vocab=VOCAB, skip_connections=skips)


def toy_reward(arch):
    """Deeper is better, and conv3x3 + gelu pay in every layer."""
    layers = arch.space.layers(arch)
    return 0.3 + 0.05 * len(layers) + sum(0.02 * (s.layer_type == "conv3x3") + 0.02 * (s.activation == "gelu") for s in layers)


@pytest.mark.parametrize("kind", ["lstm", "gru", "attention"])
def test_grown_controller_keeps_the_old_decisions_probabilities(kind):
    seed_everything(0)
    small = make_controller(macro(3), kind=kind, hidden_size=16)
    with torch.no_grad():
        for p in small.parameters():
            p.mul_(5.0)
    big = grow_controller(small, macro(5))
    assert extends(small.space, big.space) and type(big) is type(small)
    D = len(small.space.decisions)
    sample = big.sample(8)
    old = small(sample.indices[:, :D])
    new = big(sample.indices)
    torch.testing.assert_close(new.decision_log_probs[:, :D], old.decision_log_probs)
    with pytest.raises(ValueError, match="does not extend the controller's space"):
        grow_controller(big, macro(3))


def test_generator_continues_across_growth():
    seed_everything(0)
    small = make_controller(macro(2), hidden_size=8)
    small.sample(3)
    state = small.generator.get_state()
    big = grow_controller(small, macro(3))
    assert torch.equal(big.generator.get_state(), state)


def search(tmp_path=None, budget=24, method="reinforce", **curriculum):
    return make_search(method, macro(3).spec(), None, evaluator=FunctionEvaluator(toy_reward), budget=budget,
                       batch_size=4, seed=3, curriculum=True, progress=False, out_dir=tmp_path,
                       trainer_kwargs={"lr": 0.05}, curriculum_kwargs=curriculum or None)


@pytest.mark.parametrize("method", ["reinforce", "a2c"])
def test_depth_follows_the_schedule_and_resume_is_exact(method, tmp_path):
    full = search(budget=24, method=method)  # grow_every: the budget split over the 3 depths, 8 each
    full.run()
    assert full.config.curriculum.grow_every == 8
    depths = [len(json.loads(row["arch"])) for row in full.history]
    assert depths == [1] * 8 + [2] * 8 + [3] * 8
    assert [step.stats["layers"] for step in full.steps] == [1, 1, 2, 2, 3, 3]
    half = search(tmp_path, budget=12, method=method, grow_every=8)  # fixed, so the resumed run grows as the full one
    half.run()
    resumed = resume_search(tmp_path, evaluator=FunctionEvaluator(toy_reward), budget=24)
    resumed.run()
    assert [r["arch"] for r in resumed.history] == [r["arch"] for r in full.history]
    assert [r["reward"] for r in resumed.history] == [r["reward"] for r in full.history]


def test_curriculum_bad_input():
    with pytest.raises(ValueError, match="curriculum: grows an on-policy controller; allowed methods: reinforce, ppo, a2c, trpo"):
        search(method="sac")
    with pytest.raises(ValueError, match="curriculum: grows a layered space's depth; allowed spaces: macro, zoph-le"):
        make_search("reinforce", "cell", None, evaluator=FunctionEvaluator(lambda a: 0.5), curriculum=True)
    with pytest.raises(ValueError, match="curriculum.start_layers: must be below the space's 3 layers"):
        make_search("reinforce", macro(3).spec(), None, evaluator=FunctionEvaluator(toy_reward), curriculum=True,
                    curriculum_kwargs={"start_layers": 3})


@pytest.mark.parametrize("method", ["reinforce", "ppo"])
def test_growth_keeps_the_value_baseline_head(method):
    strategy = CurriculumStrategy(macro(3), algorithm=method, start_layers=1, grow_every=4,
                                  trainer_kwargs={"value_baseline": True, "value_lr": 0.1})
    batch = strategy.propose(4)
    strategy.observe(batch, [{}] * 4, [toy_reward(a) for a in batch])
    old = strategy.inner.trainer
    learned = copy.deepcopy(old.value_head.state_dict())
    strategy.propose(4)  # grows to 2 layers
    new = strategy.inner.trainer
    assert strategy.layers == 2 and new is not old and new._value_ready
    for name, tensor in learned.items():
        torch.testing.assert_close(new.value_head.state_dict()[name], tensor)
