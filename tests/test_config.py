"""The configuration's dataclasses are the single source of make_search's keywords (issue 21)."""

from __future__ import annotations

import dataclasses

import pytest

from nasrl_nb.search.config import (
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
    ("random", {"remedy": "darts-"}, "remedy: only for method darts, not method='random'"),
    ("ppo", {"darts_kwargs": {"w_lr": 0.1}}, "darts_kwargs: only for method darts, not method='ppo'"),
    ("ucb", {"epsilon": 0.1}, "epsilon: only for reinforce, ppo, a2c, trpo, sac and enas, not method='ucb'"),
    ("a2c", {"trpo_kwargs": {"max_kl": 0.1}}, "trpo_kwargs: only for method trpo, not method='a2c'"),
    ("reinforce", {"warmup_steps": 3}, "warmup_steps: only for method enas or random_ws, not method='reinforce'"),
    ("enas", {"population_size": 4}, "population_size: only for method evolution, not method='enas'"),
])
def test_a_section_another_method_reads_is_refused(method, settings, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_method_sections(method, settings)


def test_a_default_value_or_none_for_another_method_changes_nothing_and_is_allowed():
    check_method_sections("random", {"second_order": False, "controller": "lstm", "trainer_kwargs": None,
                                     "darts_kwargs": {"w_lr": SECTIONS["darts"]().w_lr}, "lr": 0.5, "dataset": "digits"})
    check_method_sections("darts", {"remedy": "darts-", "darts_kwargs": {"w_lr": 0.1}})
    assert set(ALIASES) <= set(SETTINGS)
