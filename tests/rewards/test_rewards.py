"""Rewards: the seed's weighted formula, budgets (hard and penalty), MnasNet's soft constraint and Zoph & Le's cubed reward."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasrl_nb.rewards.objectives import (
    AccuracyReward,
    ConstrainedReward,
    MnasNetReward,
    MultiObjectiveReward,
    ZophLeReward,
    complexity_score,
    compute_reward,
    efficiency_score,
    make_reward,
    relative_excess,
)


def record(acc=0.8, params=1000, flops=2000, latency_ms=4.0, status="ok"):
    return {"status": status, "val_accuracy": acc, "params": params, "flops": flops, "latency_ms": latency_ms}


unit = st.floats(0, 1)
weight = st.floats(0, 10)


@given(unit, unit, unit, weight, weight, weight)
def test_compute_reward_is_the_weighted_sum(acc, eff, cplx, w0, w1, w2):
    if w0 == w1 == w2 == 0:
        with pytest.raises(ValueError, match="not all zero"):
            compute_reward(acc, eff, cplx, (w0, w1, w2))
        return
    assert compute_reward(acc, eff, cplx, (w0, w1, w2)) == pytest.approx(w0 * acc + w1 * eff - w2 * cplx)


def test_default_weights_give_the_accuracy():
    assert compute_reward(0.7, 0.9, 0.3) == 0.7


@pytest.mark.parametrize(
    "weights, message",
    [((1, 1), "three numbers"), ((1, -1, 0), ">= 0"), ((0, 0, 0), "not all zero"), ((1, math.nan, 0), "finite"), ("abc", "three")],
)
def test_bad_weights_are_named(weights, message):
    with pytest.raises(ValueError, match=rf"weights: .*{message}"):
        compute_reward(0.5, 0.5, 0.5, weights)


def test_scores_out_of_range_are_rejected():
    with pytest.raises(ValueError, match=r"efficiency: must be a number in \[0.0, 1.0\]"):
        compute_reward(0.5, 1.5, 0.0)


def test_efficiency_and_complexity_scores():
    assert efficiency_score(0.0, 10.0) == 1.0
    assert efficiency_score(2.5, 10.0) == 0.75
    assert efficiency_score(20.0, 10.0) == 0.0  # clipped at the reference
    assert complexity_score(500, 1000) == 0.5
    assert complexity_score(5000, 1000) == 1.0
    with pytest.raises(ValueError, match="reference_params: must be a positive number"):
        complexity_score(5, 0)


def test_multi_objective_reward_uses_the_scores():
    fn = MultiObjectiveReward((1.0, 0.5, 0.2), reference_params=2000, reference_latency_ms=8.0)
    expected = 0.8 + 0.5 * (1 - 4.0 / 8.0) - 0.2 * (1000 / 2000)
    assert fn(record()) == pytest.approx(expected)
    with pytest.raises(ValueError, match="reference_latency_ms: needed"):
        MultiObjectiveReward((1.0, 0.5, 0.0))


@pytest.mark.parametrize("bad", [record(status="failed"), record(acc=math.nan), record(acc=None), {"status": "ok"}])
def test_failed_children_get_the_failure_reward(bad):
    assert AccuracyReward()(bad) == 0.0
    assert AccuracyReward(failure_reward=-1.0).reward(bad) == -1.0


def test_accuracy_reward_is_validation_accuracy():
    assert AccuracyReward()(record(acc=0.625)) == 0.625
    assert not AccuracyReward().constraint_violated(record())


def test_hard_constraint_rejects_and_flags():
    fn = ConstrainedReward(max_params=1500, mode="hard", violation_reward=-0.1)
    inside, outside = record(params=1500), record(params=1501)
    assert fn(inside) == 0.8 and not fn.constraint_violated(inside)
    assert fn(outside) == -0.1 and fn.constraint_violated(outside)
    assert outside["status"] == "ok"  # the reward never edits the record
    assert not fn.constraint_violated(record(params=10**9, status="failed"))  # failed is failed, not "violated"


def test_penalty_constraint_subtracts_relative_excess():
    fn = ConstrainedReward(max_params=500, max_latency_ms=2.0, mode="penalty", penalty_weight=0.5)
    r = record(params=1000, latency_ms=3.0)  # excess: 1000/500 - 1 = 1.0 and 3/2 - 1 = 0.5
    assert relative_excess(r, fn.limits) == pytest.approx(1.5)
    assert fn(r) == pytest.approx(0.8 - 0.5 * 1.5)
    assert fn.constraint_violated(r)
    assert fn(record(params=400, latency_ms=1.0)) == 0.8


def test_missing_cost_counts_as_over_budget():
    fn = ConstrainedReward(max_latency_ms=2.0, mode="penalty")
    assert fn(record(latency_ms=None)) == fn.violation_reward


def test_mnasnet_soft_constraint_matches_the_paper_formula():
    fn = MnasNetReward({"latency_ms": 5.0})
    for latency in (1.0, 5.0, 10.0):
        assert fn(record(latency_ms=latency)) == pytest.approx(0.8 * (latency / 5.0) ** -0.07)
    # twice as slow as the target: about 5% less reward (Tan et al. 2019, Sec. 3)
    assert fn(record(latency_ms=10.0)) / 0.8 == pytest.approx(2**-0.07)


def test_mnasnet_piecewise_exponents():
    fn = MnasNetReward({"params": 1000}, alpha=0.0, beta=-1.0)
    assert fn(record(params=500)) == pytest.approx(0.8)  # below target: no bonus
    assert fn(record(params=2000)) == pytest.approx(0.8 * 0.5)  # above: (cost/T)^-1
    with pytest.raises(ValueError, match="beta: must be <= 0"):
        MnasNetReward({"params": 1000}, beta=0.5)
    with pytest.raises(ValueError, match="targets key: 'bogus' is not allowed; allowed values: params, flops, latency_ms"):
        MnasNetReward({"bogus": 1.0})


def test_make_reward_picks_the_mode():
    assert isinstance(make_reward(), AccuracyReward)
    assert isinstance(make_reward(max_params=10, constraint_mode="mnasnet"), MnasNetReward)
    fn = make_reward(max_flops=10, constraint_mode="penalty", failure_reward=-2.0)
    assert isinstance(fn, ConstrainedReward) and fn.mode == "penalty" and fn.failure_reward == -2.0
    with pytest.raises(ValueError, match="constraint_mode: 'soft' is not allowed; allowed values: hard, penalty, mnasnet"):
        make_reward(max_flops=10, constraint_mode="soft")
    with pytest.raises(ValueError, match="max_params: must be a positive number"):
        make_reward(max_params=-3)
    with pytest.raises(ValueError, match="give at least one budget"):
        ConstrainedReward()


# --- Zoph & Le's reward: max of the last 5 validation accuracies, cubed ----------------------
def test_zoph_le_reward_is_the_max_of_the_last_five_epochs_cubed():
    fn = ZophLeReward()
    epochs = [0.9, 0.1, 0.5, 0.6, 0.4, 0.7, 0.3]  # the 0.9 is six epochs back: outside the window
    row = {**record(acc=0.3), "val_accuracies": epochs}
    assert fn(row) == pytest.approx(0.7**3)
    assert fn({**row, "val_accuracies": [0.2, 0.5]}) == pytest.approx(0.5**3)  # fewer than 5 epochs: all of them
    assert fn({**row, "val_accuracies": [0.4, math.nan, 0.6]}) == pytest.approx(0.6**3)  # NaN entries ignored
    assert fn(record(acc=0.3, status="failed")) == 0.0
    assert ZophLeReward(last_epochs=2, power=1)(row) == pytest.approx(0.7)  # max of the last two, 0.7 and 0.3
    assert ZophLeReward(last_epochs=1, power=2)(row) == pytest.approx(0.3**2)


@given(st.lists(unit, min_size=1, max_size=12))
def test_zoph_le_reward_against_its_definition(accuracies):
    row = {**record(acc=accuracies[-1]), "val_accuracies": accuracies}
    assert ZophLeReward()(row) == pytest.approx(max(accuracies[-5:]) ** 3)
    assert accuracies[-1] ** 3 <= ZophLeReward()(row) <= 1.0  # never below the final epoch's, cubed


def test_zoph_le_reward_falls_back_to_the_final_accuracy_without_per_epoch_accuracies():
    fn = ZophLeReward()
    for missing in ({}, {"val_accuracies": []}, {"val_accuracies": None}, {"val_accuracies": [math.nan]}):
        assert fn({**record(acc=0.8), **missing}) == pytest.approx(0.8**3)


def test_zoph_le_reward_by_name_and_with_budgets():
    assert isinstance(make_reward(objective="zoph_le"), ZophLeReward)
    assert isinstance(make_reward(), AccuracyReward) and make_reward().label == "validation accuracy"
    assert "Zoph & Le" not in make_reward().label and "Zoph & Le" in make_reward(objective="zoph_le").label
    row = {**record(acc=0.5, params=2000), "val_accuracies": [0.9, 0.5]}
    hard = make_reward(objective="zoph_le", max_params=4000)
    assert isinstance(hard.base, ZophLeReward) and hard(row) == pytest.approx(0.9**3)
    assert hard({**row, "params": 8000}) == 0.0
    assert "Zoph & Le" in hard.label and "params <= 4000" in hard.label
    mnas = make_reward(objective="zoph_le", max_params=1000, constraint_mode="mnasnet")
    assert mnas(row) == pytest.approx(0.9**3 * 2.0**-0.07)
    assert mnas.config()["base"]["kind"] == "ZophLeReward"
    assert "base" not in make_reward(max_params=1000, constraint_mode="mnasnet").config()  # default stays as it was
    with pytest.raises(ValueError, match="objective: 'zoph' is not allowed; allowed values: accuracy, zoph_le"):
        make_reward(objective="zoph")
    with pytest.raises(ValueError, match="last_epochs: must be a positive integer"):
        ZophLeReward(last_epochs=0)
    with pytest.raises(ValueError, match="base: expected a RewardFunction"):
        MnasNetReward({"params": 10}, base="accuracy")


def test_child_evaluator_records_one_validation_accuracy_per_epoch(tiny_digits):
    from nasrl_nb.evaluators.base import RECORD_KEYS, ChildEvaluator, FunctionEvaluator
    from nasrl_nb.spaces.macro_space import MacroSpace

    arch = MacroSpace(num_layers=1, filters=4).sample(0)
    evaluator = ChildEvaluator(tiny_digits, epochs=3, device="cpu", child_kwargs={"channels": 4}, cache=False)
    (row,) = evaluator.evaluate([arch])
    assert "val_accuracies" in RECORD_KEYS and row["status"] == "ok"
    assert len(row["val_accuracies"]) == 3 and row["val_accuracies"][-1] == row["val_accuracy"]
    assert ZophLeReward()(row) == pytest.approx(max(row["val_accuracies"]) ** 3)
    (plain,) = FunctionEvaluator(lambda a: 0.5).evaluate([arch])
    assert plain["val_accuracies"] == [] and ZophLeReward()(plain) == pytest.approx(0.125)
