"""Exercise checkers: right answers pass, each usual mistake gets its own hint, no spoilers."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nasrl_nb.checks import (
    CheckResult,
    check_baseline_update,
    check_gpu_days,
    check_max_entropy,
    check_output_shape,
    check_param_count,
    check_pareto_front,
    check_reinforce_loss,
    check_space_size,
    check_unique_cells,
    solution,
)
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.spaces.search_space import custom_space


def _fails_without_spoiler(result: CheckResult, expected, *needles: str) -> None:
    assert not result and result.passed is False
    for text in (f"{expected}", f"{expected:,}" if isinstance(expected, int) else f"{expected}"):
        assert text not in result.message, f"hint gives the answer away: {result.message}"
    for needle in needles:
        assert needle.lower() in result.message.lower(), result.message


# --- the result object -----------------------------------------------------------------------


def test_check_result_is_truthy_only_when_passed_and_renders_both_ways():
    good, bad = CheckResult(True, "fine"), CheckResult(False, "use <b>mean</b>")
    assert good and not bad
    assert "Correct" in good._repr_html_() and "#2e7d32" in good._repr_html_()
    html = bad._repr_html_()
    assert "hint" in html and "&lt;b&gt;mean&lt;/b&gt;" in html  # the message is escaped
    assert repr(bad).startswith("\u2718 Not yet.") and "use <b>mean</b>" in repr(bad)


# --- space size ----------------------------------------------------------------------------------


# --- 00: GPU-days ----------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [22400, 800 * 28, 22400.0, torch.tensor(22400), torch.tensor(22400.0)])
def test_gpu_days_passes_in_several_forms(answer):
    result = check_gpu_days(answer)
    assert result and "GPU-days" in result.message


@pytest.mark.parametrize(
    "answer, needle",
    [
        (800 * 28 * 24, "GPU-hours"),
        (800 + 28, "added"),
        (800, "one of the two factors"),
        (28, "one of the two factors"),
        (800 / 28, "operation"),
        (1000, "one GPU busy for one day"),
    ],
)
def test_gpu_days_hints_for_each_usual_mistake(answer, needle):
    _fails_without_spoiler(check_gpu_days(answer), 22400, needle)


def test_gpu_days_is_computed_from_its_arguments_and_junk_gets_a_hint():
    assert check_gpu_days(2, gpus=1, days=2) and not check_gpu_days(22400, gpus=1, days=2)
    for junk in (None, "22400", [22400], float("nan"), True):
        result = check_gpu_days(junk)
        assert not result and "one finite number" in result.message


# --- 03: the uniform policy's entropy ----------------------------------------------------------

EX_SPACE = MacroSpace(num_layers=2, vocab={"layer_type": ["conv3x3", "conv5x5"], "activation": ["relu", "tanh", "gelu"]})
EX_H = 2 * (math.log(2) + math.log(3))  # 2 layers, each a 2-way and a 3-way decision: ln 36 nats


@pytest.mark.parametrize(
    "answer", [EX_H, math.log(36), round(EX_H, 3), torch.tensor(EX_H), torch.log(torch.tensor(36.0)), 2 * math.log(6)]
)
def test_max_entropy_passes_in_several_forms(answer):
    result = check_max_entropy(EX_SPACE, answer)
    assert result and "nats" in result.message


@pytest.mark.parametrize(
    "answer, needle",
    [
        (math.log2(36), "bits"),
        (math.log10(36), "base 10"),
        (-EX_H, "sign"),
        (EX_H / 4, "mean"),  # 4 decisions
        (math.log(3), "one decision"),
        (math.log(2) ** 2 * math.log(3) ** 2, "multiplied"),
        (36, "count"),
        (10, "count"),  # the sum of the option counts
        (1 / 36, "log K"),  # a probability, not an entropy
    ],
)
def test_max_entropy_hints_for_each_usual_mistake(answer, needle):
    result = check_max_entropy(EX_SPACE, answer)
    assert not result and needle.lower() in result.message.lower(), result.message
    assert f"{EX_H:.3f}" not in result.message  # no spoiler


def test_max_entropy_follows_the_space_and_junk_gets_a_hint():
    assert check_max_entropy(CellSpace(), 6 * math.log(5)) and not check_max_entropy(CellSpace(), EX_H)
    for junk in (None, "3.58", [EX_H], float("inf")):
        assert "one finite number" in check_max_entropy(EX_SPACE, junk).message


def test_space_size_passes_on_product_of_option_counts():
    space = custom_space({"a": [1, 2, 3], "b": ["x", "y"], "c": [0, 1, 2, 3, 4]})
    assert check_space_size(space, 3 * 2 * 5)
    assert check_space_size(space, 30.0)  # an integral float is still the right count
    assert check_space_size(space, torch.tensor(30))


def test_space_size_hints_for_sum_and_missing_decision_and_type():
    space = custom_space({"a": [1, 2, 3], "b": ["x", "y"], "c": [0, 1, 2, 3, 4]})
    _fails_without_spoiler(check_space_size(space, 3 + 2 + 5), 30, "added")
    _fails_without_spoiler(check_space_size(space, 3 * 5), 30, "one decision short")
    _fails_without_spoiler(check_space_size(space, "thirty"), 30, "whole number")
    _fails_without_spoiler(check_space_size(space, 31), 30, "too high")


def test_space_size_one_short_catches_forgotten_skip_decisions():
    space = MacroSpace(num_layers=3, skip_connections=True)
    without_skips = math.prod(len(d.choices) for d in space.decisions if d.kind != "skip")
    skips = [len(d.choices) for d in space.decisions if d.kind == "skip"]
    assert skips  # counted from the space, whichever skip convention it follows
    # forgetting one of the skip decisions is one decision short
    assert check_space_size(space, without_skips * math.prod(skips))
    _fails_without_spoiler(check_space_size(space, without_skips * math.prod(skips[1:])), space.size(), "skip")


def test_space_size_float_that_cannot_hold_a_big_count_gets_its_own_hint():
    space = custom_space({f"d{i}": list(range(7)) for i in range(25)})  # 7**25 > 2**53
    assert not check_space_size(space, float(space.size()))
    assert "float" in check_space_size(space, float(space.size())).message
    assert check_space_size(space, 7**25)


# --- unique cells ----------------------------------------------------------------------------------


def test_unique_cells_matches_nas_bench_201():
    assert check_unique_cells(6466)  # the benchmark's reported number of unique cells


def test_unique_cells_hints():
    _fails_without_spoiler(check_unique_cells(5**6), 6466, "canonical")
    space = CellSpace()
    connected = sum(space.is_valid(a) for a in space.enumerate())
    _fails_without_spoiler(check_unique_cells(connected), 6466, "isomorphic")
    _fails_without_spoiler(check_unique_cells(100), 6466, "too low")


def test_unique_cells_on_a_smaller_cell_space_is_computed_not_hard_coded():
    space = CellSpace(num_nodes=3, ops=("none", "skip_connect", "nor_conv_3x3"))
    expected = len({space.canonical(a) for a in space.enumerate()})
    assert expected < space.size()
    assert check_unique_cells(expected, space)
    assert not check_unique_cells(space.size(), space)


def test_unique_cells_rejects_a_space_without_canonical_form():
    with pytest.raises(ValueError, match="space: .* is not allowed"):
        check_unique_cells(1, custom_space({"a": [1, 2]}))


# --- parameters and shapes ---------------------------------------------------------------------------


def _small_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),  # 4*1*3*3 weights + 4 biases = 40
        nn.BatchNorm2d(4),  # 4 + 4 affine; buffers: 4 mean + 4 var + 1 count
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 10),  # 40 + 10 = 50
    )


def test_param_count_passes_and_hints():
    net = _small_net()
    expected = 40 + 8 + 50
    assert check_param_count(net, expected)
    _fails_without_spoiler(check_param_count(net, expected + 9), expected, "buffers")
    _fails_without_spoiler(check_param_count(net, 6), expected, "tensors")
    _fails_without_spoiler(check_param_count(net, 36 + 4 + 40), expected, "biases")
    _fails_without_spoiler(check_param_count(net, 3.5), expected, "whole number")


def test_param_count_counts_frozen_parameters_too():
    net = _small_net()
    for p in net[0].parameters():
        p.requires_grad_(False)
    assert check_param_count(net, 98)
    _fails_without_spoiler(check_param_count(net, 98 - 40), 98, "trainable")


def test_output_shape_passes_and_hints_and_restores_train_mode():
    net = _small_net().train()
    x = torch.zeros(5, 1, 8, 8)
    assert check_output_shape(net, x, (5, 10))
    assert check_output_shape(net, x, torch.Size([5, 10]))
    assert net.training
    assert "batch" in check_output_shape(net, x, (10,)).message
    assert "order" in check_output_shape(net, x, (10, 5)).message
    assert "input" in check_output_shape(net, x, (5, 1, 8, 8)).message
    assert not check_output_shape(net, x, "5x10")


# --- REINFORCE ----------------------------------------------------------------------------------------


def test_reinforce_loss_passes_for_the_textbook_loss():
    def loss(log_prob, rewards, baseline):
        return -((rewards - baseline) * log_prob).mean()

    result = check_reinforce_loss(loss)
    assert result, result.message
    assert "matches nasrl_nb.reinforce_loss" in result.message


@pytest.mark.parametrize(
    "student, needle",
    [
        # every positive multiple of the estimator's gradient is a REINFORCE loss with this baseline
        (lambda lp, r, b: -((r - b) * lp).sum(), "a sum instead of a mean"),
        (lambda lp, r, b: -((r - b) / (r - b).std() * lp).mean(), "standard deviation"),
        (lambda lp, r, b: -((r - b) / ((r - b).std() + 1e-8) * lp).sum(), "standard deviation"),
        (lambda lp, r, b: (lp * (b - r)).mean(), "matches"),  # the same loss written the other way round
        (lambda lp, r, b: -((r - b) * lp).mean() + 1.0, "matches"),  # a constant changes no gradient
    ],
)
def test_reinforce_loss_accepts_every_positive_multiple_and_names_the_scale(student, needle):
    result = check_reinforce_loss(student)
    assert result, result.message
    assert needle in result.message


@pytest.mark.parametrize(
    "student, needle",
    [
        (lambda lp, r, b: ((r - b) * lp).mean(), "sign"),
        (lambda lp, r, b: ((r - b) * lp).sum(), "sign"),
        (lambda lp, r, b: -(r * lp).mean(), "subtract the baseline"),
        (lambda lp, r, b: (r * lp).sum(), "two slips"),
        (lambda lp, r, b: -((r + b) * lp).mean(), "not added"),
        (lambda lp, r, b: -((r - r.mean()) * lp).mean(), "batch's mean"),
        (lambda lp, r, b: -((r - r.mean()) / r.std() * lp).mean(), "batch's mean"),
        (lambda lp, r, b: -((r - b) * lp.detach()).mean(), "gradient"),
        (lambda lp, r, b: -(lp * 0).sum(), "gradient"),  # the notebook's blank answer
        (lambda lp, r, b: -((r - b) * lp), "scalar"),
        (lambda lp, r, b: -((r - b) * lp.detach()).mean().item(), "tensor"),
        (lambda lp, r, b: 1 / 0, "ZeroDivisionError"),
        (lambda lp, r, b: -((r - b) * lp.exp()).mean(), "advantage"),
    ],
)
def test_reinforce_loss_hints(student, needle):
    result = check_reinforce_loss(student)
    assert not result
    assert needle.lower() in result.message.lower(), result.message


def test_reinforce_check_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    check_reinforce_loss(lambda lp, r, b: -((r - b) * lp).mean())
    assert torch.equal(torch.rand(3), before)


def test_baseline_update_passes_and_hints():
    assert check_baseline_update(lambda b, r, d: d * b + (1 - d) * r.mean())
    assert "swapped" in check_baseline_update(lambda b, r, d: (1 - d) * b + d * r.mean()).message
    assert "mean" in check_baseline_update(lambda b, r, d: r.mean()).message
    assert "sum" in check_baseline_update(lambda b, r, d: d * b + (1 - d) * r.sum()).message


# --- Pareto front -----------------------------------------------------------------------------------------


def _records():
    return [
        {"status": "ok", "val_accuracy": 0.90, "params": 1000},  # 0: front (most accurate)
        {"status": "ok", "val_accuracy": 0.80, "params": 100},  # 1: front (smallest)
        {"status": "ok", "val_accuracy": 0.85, "params": 500},  # 2: front (in between)
        {"status": "ok", "val_accuracy": 0.80, "params": 800},  # 3: dominated by 2 (and 1)
        {"status": "failed", "val_accuracy": 0.99, "params": 10},  # 4: failed, never on the front
    ]


def test_pareto_front_passes_for_records_or_indices():
    records = _records()
    assert check_pareto_front(records, [0, 1, 2])
    assert check_pareto_front(records, [records[2], records[0], records[1]])


def test_pareto_front_accepts_one_of_two_records_with_identical_metrics():
    records = _records() + [{"status": "ok", "val_accuracy": 0.85, "params": 500}]  # 5: a twin of 2
    assert check_pareto_front(records, [0, 1, 2, 5])
    for answer in ([0, 1, 2], [0, 1, 5]):  # either twin alone is the same front
        result = check_pareto_front(records, answer)
        assert result, result.message
        assert "same metrics" in result.message
    assert "missing" in check_pareto_front(records, [0, 2, 5]).message  # twins do not stand in for record 1
    assert "dominated" in check_pareto_front(records, [0, 1, 2, 3]).message


def test_pareto_front_counts_over_budget_records_like_any_other():
    records = _records()
    records[1] = {**records[1], "constraint_violated": True}  # over the budget, but it trained
    assert check_pareto_front(records, [0, 1, 2])
    assert "missing" in check_pareto_front(records, [0, 2]).message


def test_pareto_front_hints():
    records = _records()
    assert "dominated" in check_pareto_front(records, [0, 1, 2, 3]).message
    assert "missing" in check_pareto_front(records, [0, 1]).message
    assert "failed" in check_pareto_front(records, [1, 2, 4]).message
    # [0, 3] is the front when accuracy is minimised and parameters maximised
    assert "directions" in check_pareto_front(records, [0, 3]).message
    assert not check_pareto_front(records, 7)


# --- reference answers, shown on request -------------------------------------------------------------------


def _solution_cases():
    """Each solution's name, the notebook variables its code reads, and the check its notebook runs."""
    import nasrl_nb as nb

    net = _small_net()
    records = _records() + [
        {"status": "ok", "val_accuracy": 0.85, "params": 500},  # a twin of record 2
        {"status": "ok", "val_accuracy": 0.95, "params": 5000, "constraint_violated": True},  # over budget: counts
    ]
    records = [{**r, "flops": r["params"] * 10} for r in records]
    ex_space = MacroSpace(num_layers=2, vocab={"layer_type": ["conv3x3", "conv5x5"], "activation": ["relu", "tanh", "gelu"]})
    small_cells = CellSpace(ops=["none", "skip_connect", "nor_conv_3x3"])
    data = type("Data", (), {"num_classes": 10})()
    return [
        ("space_size", {}, lambda ns: check_space_size(CellSpace(), ns["answer"])),
        ("gpu_days", {}, lambda ns: check_gpu_days(ns["answer"])),
        ("max_entropy", {"ex_space": EX_SPACE}, lambda ns: check_max_entropy(EX_SPACE, ns["answer"])),
        ("macro_space_size", {}, lambda ns: check_space_size(ex_space, ns["answer"])),
        ("unique_cells", {"nb": nb}, lambda ns: check_unique_cells(ns["answer"], space=small_cells)),
        ("param_count", {}, lambda ns: check_param_count(nn.Conv2d(16, 32, kernel_size=3, bias=False), ns["answer"])),
        ("output_shape", {"data": data}, lambda ns: check_output_shape(net, torch.zeros(7, 1, 8, 8), ns["answer"])),
        ("reinforce_loss", {}, lambda ns: check_reinforce_loss(ns["my_reinforce_loss"])),
        (
            "pareto_front",
            {"search": type("Search", (), {"history": records})()},
            lambda ns: check_pareto_front(records, ns["answer"], metrics=("val_accuracy", "flops")),
        ),
    ]


@pytest.mark.parametrize("name, namespace, check", _solution_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_reference_answer_passes_its_checker(name, namespace, check):
    shown = solution(name)
    namespace = dict(namespace)
    exec(shown.code, namespace)  # the code exactly as the student sees it
    result = check(namespace)
    assert result, result.message


def test_reference_answers_render_collapsed_and_unknown_names_are_refused():
    shown = solution("reinforce_loss")
    html = shown._repr_html_()
    assert html.startswith("<details>") and "<summary>" in html and "open>" not in html  # closed until clicked
    assert "-((rewards - baseline) * log_prob).mean()" in str(shown)
    with pytest.raises(ValueError, match=r"name: 'reinforce' is not allowed; allowed values: .*reinforce_loss"):
        solution("reinforce")


def test_checks_print_nothing(capsys):
    check_space_size(custom_space({"a": [1, 2]}), 3)
    check_reinforce_loss(lambda lp, r, b: lp.sum())
    assert capsys.readouterr() == ("", "")


# --- what the notebooks rely on -----------------------------------------------------------------------------


def test_every_checker_returns_a_check_result_that_a_notebook_can_assert():
    import inspect

    import nasrl_nb.checks as checks

    checkers = [f for name, f in vars(checks).items() if name.startswith("check_") and inspect.isfunction(f)]
    assert len(checkers) >= 7
    for checker in checkers:
        assert inspect.signature(checker).return_annotation in (CheckResult, "CheckResult"), checker.__name__
    result = check_space_size(custom_space({"a": [1, 2]}), 2)
    assert isinstance(result, CheckResult) and result.passed is True and bool(result) is True


def test_the_notebooks_blank_answer_gets_a_hint_not_an_exception():
    # every exercise cell ships with `answer = None` and must run cleanly under Run All
    net = _small_net()
    for result in (
        check_space_size(CellSpace(), None),
        check_unique_cells(None),
        check_param_count(net, None),
        check_output_shape(net, torch.zeros(2, 1, 8, 8), None),
        check_pareto_front(_records(), None),
        check_gpu_days(None),
        check_max_entropy(EX_SPACE, None),
    ):
        assert isinstance(result, CheckResult) and not result and result.message


# --- the notebooks' one form: a check cell, then its solution folded in a <details> -------------------------


def _notebook_cells(name: str):
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / name
    return [(c["cell_type"], "".join(c["source"])) for c in json.loads(path.read_text())["cells"]]


OWN_NOTEBOOKS = ["00_start_here.ipynb", "01_search_space.ipynb", "02_child_network.ipynb", "03_controller.ipynb",
                 "04_reinforce.ipynb", "05_multi_objective.ipynb", "07_enas.ipynb", "09_scale_out.ipynb",
                 "11_rl_algorithms.ipynb", "12_pnas.ipynb", "13_automl_zero.ipynb"]


@pytest.mark.parametrize("name", OWN_NOTEBOOKS)
def test_every_check_cell_is_followed_by_its_folded_solution(name):
    import re

    cells = _notebook_cells(name)
    checks = [i for i, (kind, src) in enumerate(cells) if kind == "code" and re.search(r"checks\.check_\w+\(", src)]
    assert len(checks) >= 2, f"{name}: fewer than two checked exercises"
    for i in checks:
        kind, src = cells[i + 1]
        assert kind == "markdown" and src.startswith("<details><summary>Solution"), f"{name}: cell {i + 1}"
        assert "```python\n" in src and src.rstrip().endswith("</details>")
    assert not any("checks.solution(" in src for _, src in cells)  # one form: no second way to reveal it


def test_the_folded_solutions_are_the_tested_reference_answers():
    import re
    from pathlib import Path

    from nasrl_nb.checks import _SOLUTIONS

    codes = {s.code for s in _SOLUTIONS.values()}
    found = 0
    for name in sorted(p.name for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        for kind, src in _notebook_cells(name):
            if kind == "markdown" and src.startswith("<details>"):
                block = re.search(r"```python\n(.*?)\n```", src, re.S)
                found += block is not None and block.group(1) in codes
    assert found == len(codes)  # each reference answer (run against its checker above) is shown once
