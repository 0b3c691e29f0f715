"""Evaluators: records with every key, order-independent seeding, caching, and failures that never raise."""

from __future__ import annotations

import math

import pytest
import torch

from nasrl_nb.evaluators.base import (
    RECORD_KEYS,
    ChildEvaluator,
    Evaluator,
    FunctionEvaluator,
    architecture_seed,
)
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.spaces.search_space import custom_space

CELL = get_space("cell")
A = CELL.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
B = CELL.parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|")


@pytest.fixture
def evaluator(tiny_digits):
    def make(**kwargs):
        options = {"epochs": 1, "device": "cpu", "child_kwargs": {"channels": 4}, "cache": False, **kwargs}
        return ChildEvaluator(tiny_digits, **options)

    return make


def test_child_records_have_every_key_and_real_costs(evaluator):
    (record,) = evaluator().evaluate([A])
    assert set(RECORD_KEYS) <= set(record)
    assert record["status"] == "ok" and record["reason"] is None
    assert 0.0 <= record["val_accuracy"] <= 1.0 and 0.0 <= record["test_accuracy"] <= 1.0
    assert record["params"] > 0 and record["flops"] > 0 and record["latency_ms"] > 0
    assert len(record["train_losses"]) == 1 and record["seconds"] > 0


def test_same_architecture_same_result_in_any_order(evaluator):
    forward = evaluator().evaluate([A, B])
    backward = evaluator().evaluate([B, A])
    for key in ("val_accuracy", "test_accuracy", "train_losses", "params", "flops"):
        assert forward[0][key] == backward[1][key]
        assert forward[1][key] == backward[0][key]
    other_seed = evaluator(seed=1).evaluate([A])[0]
    assert other_seed["train_losses"] != forward[0]["train_losses"]


def test_evaluation_leaves_the_callers_rng_alone(evaluator):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluator().evaluate([A])
    assert torch.equal(torch.rand(3), expected)


def test_unbuildable_children_fail_without_raising(evaluator):
    bad_width = evaluator(child_kwargs={"channels": 0}).evaluate([A])[0]
    assert bad_width["status"] == "failed" and "channels" in bad_width["reason"]
    assert math.isnan(bad_width["val_accuracy"])
    custom = custom_space({"x": [1, 2]}).from_choices([1])
    no_builder = evaluator().evaluate([custom])[0]
    assert no_builder["status"] == "failed" and "no network builder" in no_builder["reason"]


def test_diverging_training_is_a_failed_child(evaluator):
    (record,) = evaluator(lr=1e30).evaluate([A])
    assert record["status"] == "failed" and record["reason"]
    assert record["params"] > 0  # costs measured before training are kept


def test_bad_arguments_raise(tiny_digits):
    with pytest.raises(ValueError, match="epochs: must be a positive integer"):
        ChildEvaluator(tiny_digits, epochs=0)
    with pytest.raises(ValueError, match="data: expected a nasrl_nb.nn.data.Dataset"):
        ChildEvaluator("digits")


def test_cache_answers_repeats():
    calls = []

    def fn(arch):
        calls.append(arch)
        return 0.5

    ev = FunctionEvaluator(fn)
    first, again, other = ev.evaluate([A, A, B])
    assert len(calls) == 2
    assert not first["cached"] and again["cached"] and not other["cached"]
    assert again["val_accuracy"] == first["val_accuracy"]
    FunctionEvaluator(fn, cache=False).evaluate([A, A])
    assert len(calls) == 4


def test_function_evaluator_accepts_floats_and_dicts_and_contains_failures():
    def fn(arch):
        if arch == B:
            raise RuntimeError("boom")
        return {"val_accuracy": 0.25, "params": 7}

    ok, failed = FunctionEvaluator(fn).evaluate([A, B])
    assert ok["status"] == "ok" and ok["val_accuracy"] == 0.25 and ok["params"] == 7
    assert failed["status"] == "failed" and failed["reason"] == "RuntimeError: boom"
    (nan,) = FunctionEvaluator(lambda arch: math.nan).evaluate([A])
    assert nan["status"] == "failed" and "non-finite" in nan["reason"]
    (plain,) = FunctionEvaluator(lambda arch: 1).evaluate([A])
    assert plain["val_accuracy"] == 1.0 and set(RECORD_KEYS) <= set(plain)
    with pytest.raises(ValueError, match="fn: expected a callable"):
        FunctionEvaluator(0.5)


def test_architecture_seed_depends_on_seed_and_arch_only():
    assert architecture_seed(0, A) == architecture_seed(0, CELL.parse(str(A)))
    assert len({architecture_seed(0, A), architecture_seed(1, A), architecture_seed(0, B)}) == 3
    assert 0 <= architecture_seed(5, B) < 2**31


def test_evaluator_is_an_interface():
    with pytest.raises(TypeError):
        Evaluator()

    class Constant(Evaluator):
        def evaluate(self, architectures):
            return [{"status": "ok", "val_accuracy": 1.0} for _ in architectures]

    assert Constant().evaluate([A, B])[1]["val_accuracy"] == 1.0
    assert Constant().config() == {"kind": "Constant"}


@pytest.mark.parametrize("threads", [1, 3])
def test_a_child_trains_with_the_evaluators_threads_whatever_the_caller_has(evaluator, monkeypatch, threads):
    """Issue 20: the intra-op thread count is the evaluator's (child.threads), so serial and workers agree."""
    import nasrl_nb.nn.training as training

    seen = []
    train = training.train_and_evaluate

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return train(*args, **kwargs)

    monkeypatch.setattr(training, "train_and_evaluate", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        child = evaluator(threads=threads)
        record = child.evaluate([A])[0]
        assert torch.get_num_threads() == 2  # the caller's count comes back
    finally:
        torch.set_num_threads(before)
    assert record["status"] == "ok" and seen == [threads] and child.config()["threads"] == threads
