"""The configuration's dataclasses are the single source of make_search's keywords (issue 21)."""

from __future__ import annotations

import dataclasses

import pytest

from nasrl_nb.assembly.config import (
    ALIASES,
    SECTION_KWARGS,
    SECTIONS,
    SETTINGS,
    SearchConfig,
    check_method_sections,
    keywords,
)

# make_search's keywords as the hand-kept table had them before it was generated (README,
# notebooks and BENCHMARKS quote them): each must still set the same field
DOCUMENTED = {
    "method": "method", "space": "space", "budget": "budget", "batch_size": "batch_size", "seed": "seed",
    "progress": "progress", "policy_snapshots": "policy_snapshots", "dataset": "data.dataset",
    "max_samples": "data.max_samples", "data_seed": "data.data_seed", "channels": "child.channels",
    "cells_per_stage": "child.cells_per_stage", "epochs": "child.epochs", "lr": "child.lr",
    "child_batch_size": "child.batch_size", "lr_schedule": "child.lr_schedule", "device": "child.device",
    "precision": "child.precision", "threads": "child.threads", "population_size": "evolution.population_size",
    "sample_size": "evolution.sample_size", "max_params": "reward.max_params", "max_flops": "reward.max_flops",
    "max_latency_ms": "reward.max_latency_ms", "constraint_mode": "reward.constraint_mode",
    "failure_reward": "reward.failure_reward", "evaluator_kind": "parallel.evaluator", "workers": "parallel.workers",
    "ray_address": "parallel.ray_address", "asynchronous": "parallel.asynchronous",
    "supernet_train_steps": "supernet.train_steps", "warmup_steps": "supernet.warmup_steps",
    "supernet_lr": "supernet.lr", "supernet_batch_size": "supernet.batch_size",
    "eval_batch_size": "supernet.eval_batch_size", "supernet_lr_schedule": "supernet.lr_schedule",
    "controller_steps": "supernet.controller_steps", "second_order": "darts.second_order", "remedy": "darts.remedy",
    "controller": "controller.kind", "reward": "reward.objective", "curriculum": "curriculum.enabled",
    "reward_weights": "reward.weights", "reference_params": "reward.reference_params",
    "reference_latency_ms": "reward.reference_latency_ms", "epsilon": "trainer.epsilon",
}


def test_every_documented_keyword_still_sets_its_field():
    assert {key: SETTINGS.get(key) for key in DOCUMENTED} == DOCUMENTED
    assert set(SECTION_KWARGS) >= {"controller_kwargs", "trainer_kwargs", "darts_kwargs", "a2c_kwargs", "trpo_kwargs",
                                   "sac_kwargs", "bandit_kwargs", "curriculum_kwargs"}


def test_each_field_has_exactly_one_keyword():
    paths = [f"{name}.{f.name}" for name, kind in SECTIONS.items() for f in dataclasses.fields(kind)]
    paths += [f.name for f in dataclasses.fields(SearchConfig) if f.name not in SECTIONS]
    settable = [p for p in paths if p not in ("evaluator", "rules", "reward.custom")]
    assert sorted(SETTINGS.values()) == sorted(settable)  # every field once, none twice
    # a bare name where it is unique, section_field where two sections share it
    assert SETTINGS["w_lr"] == "darts.w_lr" and SETTINGS["hidden_size"] == "controller.hidden_size"
    assert SETTINGS["darts_alpha_lr"] == "darts.alpha_lr" and SETTINGS["sac_alpha_lr"] == "sac.alpha_lr"
    assert "alpha_lr" not in SETTINGS and "child_lr" not in SETTINGS  # ambiguous; an alias (lr) replaces child_lr


def test_a_new_field_becomes_a_keyword_without_a_table():
    @dataclasses.dataclass
    class Extra:
        lr: float = 0.1  # shared with another section: extra_lr
        halving: int = 2  # unique: its bare name

    @dataclasses.dataclass
    class Top:
        seed: int = 0
        child: object = None
        extra: object = None

    table = keywords(Top, {"child": SECTIONS["child"], "extra": Extra}, aliases={"lr": "child.lr"})
    assert table["halving"] == "extra.halving" and table["extra_lr"] == "extra.lr" and table["lr"] == "child.lr"
    assert table["seed"] == "seed" and "extra_halving" not in table

    @dataclasses.dataclass
    class Clash:
        extra_lr: float = 0.1  # unique, so its bare name: the keyword of extra.lr as well

    with pytest.raises(ValueError, match=r"^extra_lr: a make_search keyword for two fields, other.extra_lr and extra.lr"):
        keywords(Top, {"other": Clash, "child": SECTIONS["child"], "extra": Extra}, aliases={})


def test_keywords_set_the_fields_they_name():
    config = SearchConfig.from_settings(method="darts", w_lr=0.05, supernet_lr=0.2, lr=0.03, child_batch_size=16,
                                        darts_alpha_lr=1e-3, reward_weights=[1, 0, 0], reward="multi")
    assert (config.darts.w_lr, config.supernet.lr, config.child.lr, config.child.batch_size) == (0.05, 0.2, 0.03, 16)
    assert config.darts.alpha_lr == 1e-3 and config.reward.weights == [1.0, 0.0, 0.0]
    assert config.trainer.lr == type(config.trainer)().lr  # lr is the child's, not the controller's


def test_an_unknown_keyword_names_itself_and_the_allowed_ones():
    with pytest.raises(ValueError, match=r"^alpha_lr: not a search setting; allowed keywords: .*darts_alpha_lr") as info:
        SearchConfig.from_settings(alpha_lr=0.1)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"^trainer_kwargs: unknown key 'w_lr'; allowed keys: lr, "):
        SearchConfig.from_settings(trainer_kwargs={"w_lr": 0.1})


@pytest.mark.parametrize("method, settings, message", [
    ("random", {"remedy": "darts-"}, "remedy: only for methods darts; method 'random' does not use it"),
    ("ppo", {"darts_kwargs": {"w_lr": 0.1}}, "darts_kwargs: only for methods darts; method 'ppo' does not use it"),
    ("ucb", {"epsilon": 0.1}, "epsilon: only for methods reinforce, ppo, a2c, trpo, sac, enas; method 'ucb' does not use it"),
    ("a2c", {"trpo_kwargs": {"max_kl": 0.1}}, "trpo_kwargs: only for methods trpo; method 'a2c' does not use it"),
    ("reinforce", {"warmup_steps": 3}, "warmup_steps: only for methods enas, random_ws; method 'reinforce' does not use it"),
    ("enas", {"population_size": 4}, "population_size: only for methods evolution; method 'enas' does not use it"),
])
def test_a_section_another_method_reads_is_refused(method, settings, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_method_sections(method, settings)


def test_the_command_line_names_its_option():
    with pytest.raises(ValueError, match=r"^--controller-lr: only for methods reinforce, .*; method 'random' does not"):
        check_method_sections("random", {"trainer_lr": 0.1}, names={"trainer_lr": "--controller-lr"})


def test_a_default_value_or_none_for_another_method_changes_nothing_and_is_allowed():
    check_method_sections("random", {"second_order": False, "controller": "lstm", "trainer_kwargs": None,
                                     "darts_kwargs": {"w_lr": SECTIONS["darts"]().w_lr}, "lr": 0.5, "dataset": "digits"})
    check_method_sections("darts", {"remedy": "darts-", "darts_kwargs": {"w_lr": 0.1}})
    assert set(ALIASES) <= set(SETTINGS)


def test_each_components_defaults_are_its_sections_fields():
    """No default is written twice: every keyword a component shares with its section defaults to the field."""
    import inspect

    from nasrl_nb.controllers.attention import AttentionController
    from nasrl_nb.controllers.lstm import Controller
    from nasrl_nb.controllers.registry import make_controller
    from nasrl_nb.darts.architect import BilevelOptimizer
    from nasrl_nb.darts.strategy import DartsStrategy
    from nasrl_nb.enas.evaluator import SharedWeightEvaluator
    from nasrl_nb.evaluators.base import ChildEvaluator
    from nasrl_nb.nn.data import load_dataset
    from nasrl_nb.rewards.objectives import make_reward
    from nasrl_nb.rl.a2c import A2CTrainer
    from nasrl_nb.rl.bandits import FactoredBandit, FactoredThompson, FactoredUCB1
    from nasrl_nb.rl.policy_gradient import PolicyGradientTrainer
    from nasrl_nb.rl.sac import SoftActorCritic
    from nasrl_nb.rl.trpo import TRPOTrainer
    from nasrl_nb.strategies.curriculum import CurriculumStrategy
    from nasrl_nb.strategies.evolution import RegularizedEvolution

    components = [
        (Controller, "controller"), (AttentionController, "controller"), (make_controller, "controller"),
        (PolicyGradientTrainer, "trainer"), (A2CTrainer, "a2c"), (TRPOTrainer, "trpo"), (SoftActorCritic, "sac"),
        (FactoredBandit, "bandit"), (FactoredUCB1, "bandit"), (FactoredThompson, "bandit"),
        (RegularizedEvolution, "evolution"), (CurriculumStrategy, "curriculum"), (ChildEvaluator, "child"),
        (SharedWeightEvaluator, "supernet"), (DartsStrategy, "darts"), (BilevelOptimizer, "darts"),
        (make_reward, "reward"), (load_dataset, "data"),
    ]
    for supernet in (SharedWeightEvaluator, DartsStrategy):  # the supernet's skeleton is the children's
        params = inspect.signature(supernet).parameters
        assert (params["channels"].default, params["cells_per_stage"].default) == (SECTIONS["child"].channels,
                                                                                   SECTIONS["child"].cells_per_stage)
    renamed = {(load_dataset, "name"): "dataset", (load_dataset, "seed"): "data_seed"}
    checked = 0
    for component, section in components:
        fields = {f.name: f.default for f in dataclasses.fields(SECTIONS[section])}
        for name, parameter in inspect.signature(component).parameters.items():
            field = renamed.get((component, name), name)
            if field in fields and parameter.default is not inspect.Parameter.empty and name != "device":
                assert parameter.default == fields[field], f"{component.__name__}({name}=) is not {section}.{field}"
                checked += 1
    assert checked >= 60


def test_darts_checks_each_value_in_its_dataclass_once():
    from nasrl_nb.assembly.config import DartsConfig
    from nasrl_nb.darts.strategy import DartsStrategy
    from nasrl_nb.nn.data import load_dataset
    from nasrl_nb.spaces.registry import get_space

    space, data = get_space("cell"), load_dataset("digits", max_samples=100)
    for build in (lambda: DartsConfig(w_lr=-1.0), lambda: DartsStrategy(space, data, w_lr=-1.0, epochs=2)):
        with pytest.raises(ValueError, match=r"^darts.w_lr: must be a positive number, got -1.0$"):
            build()
    with pytest.raises(ValueError, match=r"^darts.w_lr_min: 0.5 is above w_lr=0.1; allowed values: 0..w_lr$"):
        DartsStrategy(space, data, w_lr=0.1, w_lr_min=0.5, epochs=2)
    with pytest.raises(ValueError, match=r"^epochs: the planned search epochs .* got None$"):
        DartsStrategy(space, data)  # DartsConfig.epochs is None: make_search plans the budget
