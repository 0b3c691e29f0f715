"""Checkers of notebooks 04, 06, 07, 08, 09, 10 and 11: right answers pass in several forms, each usual
mistake gets its own hint, junk answers get a hint and never raise."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nasrl_nb.checks import (
    check_difference_se,
    check_equal_cost_evaluations,
    check_kendall_tau,
    check_parallel_speedup,
    check_ppo_objective,
    check_protocol_pick,
    check_significant_winner,
    check_staleness,
    check_subgraph_weights,
    check_ucb_scores,
    reference_staleness,
    significant_winner,
)
from nasrl_nb.rl.bandits import FactoredUCB1
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.stats import kendall_tau

JUNK = [None, "0.5", [1, 2, 3], {"a": 1}, float("nan"), object()]


def _fails(result, *needles: str) -> None:
    assert not result and result.passed is False, result.message
    for needle in needles:
        assert needle.lower() in result.message.lower(), result.message


# --- 06: standard error of a difference --------------------------------------------------------

A = np.array([0.90, 0.92, 0.88, 0.95, 0.91])  # final picks of "reinforce", 5 runs
B = np.array([0.89, 0.86, 0.90, 0.87])  # of "random", 4 runs: unequal counts catch n_a/n_b mix-ups


def _results(a=A, b=B):
    def result(final):
        curves = np.column_stack([final - 0.05, final])  # (runs, budget=2); the pick is the last column
        return SimpleNamespace(curves=curves)

    return {"reinforce": result(a), "random": result(b)}


def test_difference_se_passes_in_several_forms():
    diff = A.mean() - B.mean()
    se = math.sqrt(A.var(ddof=1) / len(A) + B.var(ddof=1) / len(B))
    assert check_difference_se(_results(), (diff, se))
    assert check_difference_se(_results(), [np.float64(diff), torch.tensor(se)])
    se_from_std = math.hypot(np.std(A, ddof=1) / math.sqrt(5), np.std(B, ddof=1) / math.sqrt(4))
    assert check_difference_se(_results(), (diff, se_from_std))
    assert "standard errors" in check_difference_se(_results(), (diff, se)).message


def test_difference_se_hints_for_each_usual_mistake():
    diff = A.mean() - B.mean()
    va, vb = A.var(ddof=1) / 5, B.var(ddof=1) / 4
    _fails(check_difference_se(_results(), (-diff, math.sqrt(va + vb))), "sign")
    _fails(check_difference_se(_results(), (diff, va + vb)), "square root")
    _fails(check_difference_se(_results(), (diff, math.sqrt(A.var() / 5 + B.var() / 4))), "ddof=1")
    _fails(check_difference_se(_results(), (diff, math.sqrt(va) + math.sqrt(vb))), "do not add")
    _fails(check_difference_se(_results(), (diff, math.sqrt(A.var(ddof=1) + B.var(ddof=1)))), "number of runs")
    _fails(check_difference_se(_results(), (diff, math.sqrt(va))), "baseline's variance")
    _fails(check_difference_se(_results(), (diff, 0.5)), "independent variances add")
    _fails(check_difference_se(_results(), (0.3, 0.01)), "difference is mean")


def test_difference_se_rejects_paired_se_when_counts_match():
    a, b = A[:4], B
    diff = a.mean() - b.mean()
    paired = float((a - b).std(ddof=1) / 2)
    assert check_difference_se(_results(a, b), (diff, math.sqrt(a.var(ddof=1) / 4 + b.var(ddof=1) / 4)))
    _fails(check_difference_se(_results(a, b), (diff, paired)), "independent samples, not pairs")


@pytest.mark.parametrize("answer", JUNK + [(1.0,), (1.0, 2.0, 3.0), ("a", "b")])
def test_difference_se_junk_gets_a_hint(answer):
    _fails(check_difference_se(_results(), answer), "number")


def test_difference_se_names_the_allowed_methods_on_a_bad_method():
    with pytest.raises(ValueError, match="method: 'ppo' is not allowed; allowed values"):
        check_difference_se(_results(), (0, 0), method="ppo")


# --- 06: the protocol's pick -----------------------------------------------------------------------

HISTORY = [
    {"arch": "a", "status": "ok", "val_accuracy": 0.80, "test_accuracy": 0.70},
    {"arch": "b", "status": "ok", "val_accuracy": 0.95, "test_accuracy": 0.82},  # the lucky validation draw
    {"arch": "c", "status": "ok", "val_accuracy": 0.90, "test_accuracy": 0.91},  # best test: not to pick by
    {"arch": "d", "status": "failed", "val_accuracy": math.nan},
    {"arch": "e", "status": "ok", "val_accuracy": 0.60, "test_accuracy": 0.50},
    {"arch": "f", "status": "ok", "val_accuracy": 0.85, "test_accuracy": 0.80},
]


def test_protocol_pick_passes_as_record_string_or_architecture():
    assert check_protocol_pick(HISTORY, HISTORY[1])
    assert check_protocol_pick(HISTORY, "b")
    assert check_protocol_pick(HISTORY, max(HISTORY, key=lambda r: r["val_accuracy"] if r["status"] == "ok" else 0))
    space = CellSpace()
    arch = space.sample(np.random.default_rng(0))
    history = [{"arch": str(arch), "status": "ok", "val_accuracy": 0.9, "test_accuracy": 0.8}]
    assert check_protocol_pick(history, arch)


def test_protocol_pick_hints():
    _fails(check_protocol_pick(HISTORY, "c"), "test accuracy")
    _fails(check_protocol_pick(HISTORY, "f"), "last cell")
    _fails(check_protocol_pick(HISTORY, "e"), "worst")
    _fails(check_protocol_pick(HISTORY, "a"), "highest 'val_accuracy'")
    _fails(check_protocol_pick(HISTORY, "d"), "not among")
    _fails(check_protocol_pick(HISTORY, "zzz"), "not among")


@pytest.mark.parametrize("answer", [None, 3, 0.9, ["b"]])
def test_protocol_pick_junk_gets_a_hint(answer):
    _fails(check_protocol_pick(HISTORY, answer), "picked cell")


# --- 07: Kendall's tau ---------------------------------------------------------------


SHARED = np.array([0.3, 0.5, 0.5, 0.9, 0.2, 0.7, 0.4])  # a tie in the shared scores
TRUE = np.array([0.6, 0.8, 0.7, 0.85, 0.65, 0.6, 0.9])


def _tau_a(x, y):
    n = len(x)
    s = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i in range(n) for j in range(i + 1, n))
    return s / (n * (n - 1) / 2)


def test_kendall_tau_accepts_tau_b_and_tau_a():
    tau_b = kendall_tau(SHARED, TRUE)
    assert check_kendall_tau(SHARED, TRUE, tau_b)
    assert not math.isclose(_tau_a(SHARED, TRUE), tau_b)  # the tie makes them differ
    assert check_kendall_tau(SHARED, TRUE, _tau_a(SHARED, TRUE))
    assert check_kendall_tau(list(SHARED), list(TRUE), np.float32(tau_b))


def test_kendall_tau_hints():
    n = len(SHARED)
    tau_b = kendall_tau(SHARED, TRUE)
    s = _tau_a(SHARED, TRUE) * n * (n - 1) / 2
    concordant = sum(np.sign(SHARED[i] - SHARED[j]) * np.sign(TRUE[i] - TRUE[j]) > 0
                     for i in range(n) for j in range(i + 1, n))
    from nasrl_nb.stats import spearman_rho

    _fails(check_kendall_tau(SHARED, TRUE, -tau_b), "sign")
    _fails(check_kendall_tau(SHARED, TRUE, spearman_rho(SHARED, TRUE)), "spearman")
    _fails(check_kendall_tau(SHARED, TRUE, np.corrcoef(SHARED, TRUE)[0, 1]), "pearson")
    _fails(check_kendall_tau(SHARED, TRUE, concordant / (n * (n - 1) / 2)), "discordant")
    _fails(check_kendall_tau(SHARED, TRUE, s / (n * (n - 1))), "once")
    _fails(check_kendall_tau(SHARED, TRUE, 1.5), "between -1 and 1")
    _fails(check_kendall_tau(SHARED, TRUE, 0.99), "every pair")
    for junk in JUNK:
        _fails(check_kendall_tau(SHARED, TRUE, junk), "number")


# --- 09: staleness and speed-up -----------------------------------------------------------------


def test_reference_staleness_is_what_an_asynchronous_search_records():
    assert reference_staleness(3, 6) == [0, 1, 2, 2, 2, 2]
    assert reference_staleness(1, 4) == [0, 0, 0, 0]  # one child in flight: synchronous


def test_reference_staleness_matches_a_real_asynchronous_search():
    import nasrl_nb as nb

    class SlowlessSerial(nb.FunctionEvaluator):
        workers = 3  # children queue as on 3 workers; a serial evaluator returns them in order

    search = nb.make_search("reinforce", "cell", evaluator=SlowlessSerial(lambda arch: len(str(arch)) / 100),
                            budget=7, batch_size=1, asynchronous=True, progress=False)
    search.run()
    assert [r["staleness"] for r in search.history] == reference_staleness(3, 7)


def test_staleness_passes_in_several_forms():
    assert check_staleness(lambda k, n: [min(t, k - 1) for t in range(n)])
    assert check_staleness(lambda k, n: np.minimum(np.arange(n), k - 1))
    assert check_staleness(lambda k, n: torch.arange(n).clamp(max=k - 1))


def test_staleness_hints():
    _fails(check_staleness(lambda k, n: [0] * n), "synchronous")
    _fails(check_staleness(lambda k, n: [min(t, k) for t in range(n)]), "off by one")
    _fails(check_staleness(lambda k, n: list(range(n))), "does not grow forever")
    _fails(check_staleness(lambda k, n: [k - 1] * n), "follow the children")
    _fails(check_staleness(lambda k, n: [0] * (n + 1)), "one staleness per update")
    _fails(check_staleness(lambda k, n: 1 / 0), "ZeroDivisionError")
    _fails(check_staleness(None), "function itself")
    _fails(check_staleness(lambda k, n: "abc"), "one staleness per update")


def _speedup(c, t, b, k):
    return (c + b * t) / (c + math.ceil(b / k) * t)


def test_parallel_speedup_passes_in_several_forms():
    assert check_parallel_speedup(_speedup)
    assert check_parallel_speedup(lambda c, t, b, k: np.float64(c + b * t) / (c + -(-b // k) * t))
    assert check_parallel_speedup(lambda c, t, b, k: torch.tensor(_speedup(c, t, b, k)))


def test_parallel_speedup_hints():
    _fails(check_parallel_speedup(lambda c, t, b, k: (c + b * t) / (c + b / k * t)), "cannot be split")
    _fails(check_parallel_speedup(lambda c, t, b, k: b / math.ceil(b / k)), "amdahl")
    _fails(check_parallel_speedup(lambda c, t, b, k: float(k)), "k workers give k times")
    _fails(check_parallel_speedup(lambda c, t, b, k: 1 / _speedup(c, t, b, k)), "upside down")
    _fails(check_parallel_speedup(lambda c, t, b, k: _speedup(c, t, b, k) + 0.3), "divide")
    _fails(check_parallel_speedup(lambda c, t, b, k: None), "number")
    _fails(check_parallel_speedup(lambda c, t: 1.0), "TypeError")


# --- 10: equal-cost budget and the significant winner ---------------------------------------------


def _showdown(cpu=(6.0, 8.0), time_scale=2.0, child=0.5):
    records = [{"method": "enas", "kind": "one-shot", "cpu_seconds": s} for s in cpu]
    bench = SimpleNamespace(values=lambda column: np.array([child - 0.1, child + 0.1, np.nan]))
    return SimpleNamespace(records=records, time_scale=time_scale), bench


def test_equal_cost_evaluations():
    result, bench = _showdown(cpu=(6.0, 8.1))  # budget 3.525 table s at 0.5 s: 7.05 -> 8 evaluations
    assert check_equal_cost_evaluations(result, bench, 8)
    assert check_equal_cost_evaluations(result, bench, 8.0)
    assert check_equal_cost_evaluations(result, bench, np.int64(8))
    _fails(check_equal_cost_evaluations(result, bench, 7), "reaches the budget")
    _fails(check_equal_cost_evaluations(result, bench, 15), "time_scale first")  # 7.05 CPU s / 0.5: ceil 15
    _fails(check_equal_cost_evaluations(result, bench, 29), "do not multiply")  # 14.1 / 0.5 = 28.2 -> 29
    _fails(check_equal_cost_evaluations(result, bench, 100), "too high")
    for junk in [None, "8", 7.5, [8]]:
        _fails(check_equal_cost_evaluations(result, bench, junk), "whole number")


def _records(scores: dict[str, list[float]]):
    return [{"method": m, "test_accuracy": v} for m, values in scores.items() for v in values]


# random 0.80 +- small; "evolution" leads clearly; "ppo" has the best mean but a huge spread;
# "enas" leads by > 2 SE only if the baseline's variance is forgotten; "darts" is below random.
SHOWDOWN = {
    "random": [0.78, 0.80, 0.82, 0.80],
    "evolution": [0.86, 0.87, 0.88, 0.87],
    "ppo": [0.99, 0.70, 0.99, 0.96],
    "darts": [0.60, 0.70, 0.65, 0.62],
}


def test_significant_winner_reference():
    records = _records(SHOWDOWN)
    assert significant_winner(records) == "evolution"
    assert significant_winner(_records({"random": [0.8, 0.9], "ppo": [0.85, 0.86]})) is None


def test_significant_winner_passes_and_hints():
    records = _records(SHOWDOWN)
    assert check_significant_winner(records, "evolution")
    _fails(check_significant_winner(records, "ppo"), "within 2 standard errors")
    _fails(check_significant_winner(records, "random"), "baseline itself")
    _fails(check_significant_winner(records, "darts"), "not above")
    _fails(check_significant_winner(records, None), "at least one")
    _fails(check_significant_winner(records, "dart"), "not one of the methods")
    for junk in [3, 0.5, ["evolution"]]:
        _fails(check_significant_winner(records, junk), "method's name")


def test_significant_winner_none_passes_in_several_forms():
    records = _records({"random": [0.8, 0.9], "ppo": [0.85, 0.86]})
    for answer in (None, "none", "None", ""):
        assert check_significant_winner(records, answer)
    _fails(check_significant_winner(records, "ppo"), "within 2 standard errors")


def test_significant_winner_hints_for_std_and_for_a_certain_baseline():
    # "enas" clears 2 SE only without the baseline's variance; with std instead of SE nobody wins
    records = _records({"random": [0.65, 0.80, 0.95, 0.80], "enas": [0.88, 0.89, 0.90, 0.89]})
    assert significant_winner(records) is None
    assert significant_winner(records, baseline_se=False) == "enas"
    _fails(check_significant_winner(records, "enas"), "baseline's mean is uncertain")
    records = _records({"random": [0.78, 0.80, 0.82, 0.80], "enas": [0.82, 0.84, 0.86, 0.84]})
    assert significant_winner(records) == "enas" and significant_winner(records, use_se=False) is None
    _fails(check_significant_winner(records, None), "standard error")


# --- 11: PPO's objective and UCB1's scores -------------------------------------------------------


def _ppo(r, a, eps):
    return torch.min(r * a, r.clamp(1 - eps, 1 + eps) * a).mean()


def test_ppo_objective_passes_in_several_forms():
    assert check_ppo_objective(_ppo)
    assert check_ppo_objective(lambda r, a, eps: torch.min(r * a, r.clamp(1 - eps, 1 + eps) * a))  # per example
    assert check_ppo_objective(lambda r, a, eps: np.minimum(r.numpy() * a.numpy(),
                                                            np.clip(r.numpy(), 1 - eps, 1 + eps) * a.numpy()).mean())
    assert check_ppo_objective(_ppo, clip=0.1)


def test_ppo_objective_hints():
    _fails(check_ppo_objective(lambda r, a, eps: -_ppo(r, a, eps)), "no minus sign")
    _fails(check_ppo_objective(lambda r, a, eps: (r * a).mean()), "without clipping")
    _fails(check_ppo_objective(lambda r, a, eps: (r.clamp(1 - eps, 1 + eps) * a).mean()), "clipping alone")
    _fails(check_ppo_objective(lambda r, a, eps: torch.max(r * a, r.clamp(1 - eps, 1 + eps) * a).mean()), "not the max")
    _fails(check_ppo_objective(lambda r, a, eps: torch.min(r * a, r * a.clamp(1 - eps, 1 + eps)).mean()), "not the advantage")
    _fails(check_ppo_objective(lambda r, a, eps: (torch.min(r, r.clamp(1 - eps, 1 + eps)) * a).mean()), "two products")
    _fails(check_ppo_objective(lambda r, a, eps: _ppo(r, a, eps) + 0.1), "per example")
    _fails(check_ppo_objective(lambda r, a, eps: None), "one number")
    _fails(check_ppo_objective(lambda r, a, eps: r[:3]), "one number")
    _fails(check_ppo_objective(lambda r, a: r), "TypeError")


def _bandit():
    space = CellSpace()
    bandit = FactoredUCB1(space, seed=0, exploration=1.5)
    rng = np.random.default_rng(3)
    archs = [space.sample(rng) for _ in range(12)]
    bandit.observe(archs, list(rng.uniform(0.3, 0.9, size=12)))
    bandit.propose(2)  # pending (virtual) counts count as played
    return bandit


def _ucb(means, counts, sigma, c):
    total = max(counts.sum(), 1)
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, means + c * sigma * np.sqrt(2 * np.log(total) / counts), np.inf)


def test_ucb_scores_pass_in_several_forms():
    bandit = _bandit()
    assert check_ucb_scores(_ucb, bandit)
    assert check_ucb_scores(lambda m, n, s, c: [math.inf if k == 0 else mu + c * s * math.sqrt(2 * math.log(n.sum()) / k)
                                                for mu, k in zip(m, n)], bandit)


def test_ucb_scores_hints():
    bandit = _bandit()

    def variant(bonus):
        return lambda m, n, s, c: np.where(n > 0, m + bonus(n, s, c, max(n.sum(), 1)), np.inf)

    with np.errstate(divide="ignore", invalid="ignore"):
        _fails(check_ucb_scores(variant(lambda n, s, c, N: -c * s * np.sqrt(2 * np.log(N) / n)), bandit), "adds the bonus")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: c * s * 2 * np.log(N) / n), bandit), "square root")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: c * s * np.sqrt(np.log(N) / n)), bandit), "the 2")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: c * np.sqrt(2 * np.log(N) / n)), bandit), "sigma")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: c * s * np.sqrt(2 * N / n)), bandit), "logarithm")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: c * s * np.sqrt(2 * np.log(N) / N) + 0 * n), bandit), "own count")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: 0 * n), bandit), "greedy")
        _fails(check_ucb_scores(lambda m, n, s, c: m + c * s * np.sqrt(2 * np.log(n.sum()) / np.maximum(n, 1)), bandit),
               "+inf")
        _fails(check_ucb_scores(lambda m, n, s, c: m[:2], bandit), "one score per option")
        _fails(check_ucb_scores(lambda m, n, s, c: 1 / 0, bandit), "ZeroDivisionError")
        _fails(check_ucb_scores(variant(lambda n, s, c, N: 1.01 * c * s * np.sqrt(2 * np.log(N) / n)), bandit), "score = mean")


# --- 07: the subgraph's weights -------------------------------------------------------------------


@pytest.fixture(scope="module")
def supernet_and_arch():
    from nasrl_nb.enas.supernet import CellSupernet

    space = CellSpace()
    supernet = CellSupernet(space, (1, 8, 8), 10, channels=4)
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|")
    return supernet, arch


def test_subgraph_weights_pass_in_several_forms(supernet_and_arch):
    supernet, arch = supernet_and_arch
    right = ["0->1:nor_conv_3x3", "0->2:nor_conv_1x1", "2->3:nor_conv_3x3"]
    assert check_subgraph_weights(supernet, arch, right)
    assert check_subgraph_weights(supernet, arch, set(reversed(right)))
    assert check_subgraph_weights(supernet, arch, ("0 -> 1 : nor_conv_3x3", "0->2:nor_conv_1x1", "2->3:nor_conv_3x3"))
    # the checker's answer is the child's: with the shared blocks, its ops' weights are child_parameters
    shared = sum(p.numel() for b in [*supernet.features, supernet.classifier] if not hasattr(b, "edges")
                 for p in b.parameters())
    cells = [b for b in supernet.features if hasattr(b, "edges")]
    in_ops = sum(p.numel() for cell in cells for name in right
                 for p in cell.edges[int(name[3]) - 1][int(name[0])][name.split(":")[1]].parameters())
    assert shared + in_ops == supernet.child_parameters(arch)


def test_subgraph_weights_hints(supernet_and_arch):
    supernet, arch = supernet_and_arch
    right = ["0->1:nor_conv_3x3", "0->2:nor_conv_1x1", "2->3:nor_conv_3x3"]
    _fails(check_subgraph_weights(supernet, arch, right + ["1->2:skip_connect", "0->3:avg_pool_3x3"]), "parameter-free")
    _fails(check_subgraph_weights(supernet, arch, right + ["1->3:none"]), "none edge")
    _fails(check_subgraph_weights(supernet, arch, ["1->0:nor_conv_3x3", "2->0:nor_conv_1x1", "3->2:nor_conv_3x3"]), "from -> to")
    _fails(check_subgraph_weights(supernet, arch, right + ["0->1:nor_conv_1x1"]), "one op per edge")
    _fails(check_subgraph_weights(supernet, arch, right[:2]), "1 weight-carrying op of the child is missing")
    _fails(check_subgraph_weights(supernet, arch, right + ["1->2:nor_conv_3x3"]), "not picked")
    for junk in [None, "0->1:nor_conv_3x3", 3, [1, 2], ["abc"]]:
        _fails(check_subgraph_weights(supernet, arch, junk), "list of strings")


# --- 04: rank advantages -------------------------------------------------------------------------

from nasrl_nb.checks import check_derived_ops, check_mixing_weights, check_rank_advantages  # noqa: E402
from nasrl_nb.rl.policy_gradient import rank_advantages  # noqa: E402

REWARDS = torch.tensor([0.5, 0.8])
WINDOW = torch.tensor([0.1, 0.5, 0.3, 0.9, 0.5, 0.8, 0.2, 0.6])  # this batch (0.5, 0.8) included, a tie at 0.5


def test_rank_advantages_pass_in_several_forms():
    right = rank_advantages(REWARDS, WINDOW)
    assert check_rank_advantages(REWARDS, WINDOW, right)
    assert check_rank_advantages(REWARDS, WINDOW, right.tolist())
    assert check_rank_advantages(REWARDS.numpy(), WINDOW.tolist(), right.numpy())
    # by hand: 0.5 has 3 below and 2 equal (itself and the tie) among 8 -> F = 4/8; 0.8 has 6 below, 1 equal -> 13/16
    assert check_rank_advantages(REWARDS, WINDOW, [math.sqrt(12) * (4 / 8 - 0.5), math.sqrt(12) * (13 / 16 - 0.5)])


def test_rank_advantages_hints():
    right = rank_advantages(REWARDS, WINDOW).numpy()
    n = len(WINDOW)
    below = np.array([3.0, 6.0])
    equal = np.array([2.0, 1.0])
    _fails(check_rank_advantages(REWARDS, WINDOW, -right), "sign")
    _fails(check_rank_advantages(REWARDS, WINDOW, right / math.sqrt(12)), "sqrt(12)")
    _fails(check_rank_advantages(REWARDS, WINDOW, right + math.sqrt(12) / 2), "subtract 1/2")
    _fails(check_rank_advantages(REWARDS, WINDOW, math.sqrt(12) * ((below + equal) / n - 0.5)), "tie counts half")
    _fails(check_rank_advantages(REWARDS, WINDOW, math.sqrt(12) * (below / n - 0.5)), "tie counts half")
    _fails(check_rank_advantages(REWARDS, WINDOW, rank_advantages(REWARDS, REWARDS)), "whole window")
    _fails(check_rank_advantages(REWARDS, WINDOW, REWARDS - WINDOW.median()), "order")
    _fails(check_rank_advantages(REWARDS, WINDOW, REWARDS - WINDOW.mean()), "mean baseline")
    w = WINDOW.numpy().astype(float)
    _fails(check_rank_advantages(REWARDS, WINDOW, (REWARDS.numpy() - w.mean()) / w.std()), "z-scores")
    _fails(check_rank_advantages(REWARDS, WINDOW, right + 0.1), "share of the window")
    _fails(check_rank_advantages(REWARDS, WINDOW, right[:1]), "2 numbers")
    for junk in [None, "abc", [math.nan, 0.0], {"a": 1}, object()]:
        _fails(check_rank_advantages(REWARDS, WINDOW, junk), "one advantage per reward")


# --- 08: mixing weights and the derived ops ------------------------------------------------------

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
ALPHAS = torch.tensor([[0.9, 0.1, 0.3, -0.2, 0.0],  # none strongest: DARTS takes nor_conv_1x1
                       [-0.5, 0.2, 0.1, 0.8, 0.4],
                       [0.0, 0.6, -0.1, 0.2, 0.6]], requires_grad=True)  # a tie: the op listed first


def test_mixing_weights_pass_in_several_forms():
    a = ALPHAS.detach()
    assert check_mixing_weights(ALPHAS, torch.softmax(ALPHAS, dim=-1))  # with its graph
    assert check_mixing_weights(ALPHAS, (a.exp() / a.exp().sum(1, keepdim=True)).numpy())
    assert check_mixing_weights(a.numpy(), torch.softmax(a, 1).tolist())
    assert check_mixing_weights(a[1], torch.softmax(a[1], 0))  # one edge
    assert check_mixing_weights(a, torch.softmax(a - 5.0, -1))  # softmax ignores a shift


def test_mixing_weights_hints():
    a = ALPHAS.detach()
    _fails(check_mixing_weights(a, a.exp()), "normalise")
    _fails(check_mixing_weights(a, a / a.sum(1, keepdim=True)), "exponentiate first")
    _fails(check_mixing_weights(a, a), "alphas themselves")
    _fails(check_mixing_weights(a, torch.softmax(-a, -1)), "sign")
    _fails(check_mixing_weights(a, a.exp() / a.exp().sum()), "own softmax")
    _fails(check_mixing_weights(a, torch.softmax(a, 0)), "dim=-1")
    _fails(check_mixing_weights(a, torch.eye(5)[a.argmax(1)]), "one-hot")
    _fails(check_mixing_weights(a, torch.softmax(a, -1) + 0.01), "a softmax along each edge")
    for junk in [None, "abc", [1.0, 2.0], torch.zeros(2, 5), {"a": 1}]:
        _fails(check_mixing_weights(a, junk), "shape (3, 5)")
    _fails(check_mixing_weights(a[0], None), "shape (5,)")


def test_derived_ops_pass_in_several_forms():
    right = ["nor_conv_1x1", "nor_conv_3x3", "skip_connect"]
    assert check_derived_ops(ALPHAS, OPS, right)
    assert check_derived_ops(ALPHAS, OPS, tuple(right))
    assert check_derived_ops(ALPHAS, list(OPS), [2, 3, 1])  # indices
    assert check_derived_ops(torch.softmax(ALPHAS.detach(), -1), OPS, right)  # the weights' argmax is the alphas'
    assert check_derived_ops(ALPHAS, OPS, SimpleNamespace(choices=tuple(right)))  # an Architecture


def test_derived_ops_match_the_supernet():
    from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet

    torch.manual_seed(0)
    net = RelaxedCellSupernet(CellSpace(), (1, 8, 8), 10, channels=2)
    with torch.no_grad():
        net.alphas.copy_(torch.randn_like(net.alphas))
    with torch.no_grad():
        net.alphas[0, net.op_names.index("none")] = 5.0  # none strongest on the first edge
    assert check_derived_ops(net.alphas, net.op_names, net.derive("darts"))
    assert net.derive("nas-bench-201").choices[0] == "none"
    _fails(check_derived_ops(net.alphas, net.op_names, net.derive("nas-bench-201")), "none")


def test_derived_ops_hints():
    _fails(check_derived_ops(ALPHAS, OPS, ["none", "nor_conv_3x3", "skip_connect"]), "none", "Sec. 2.4")
    _fails(check_derived_ops(ALPHAS, OPS, ["nor_conv_3x3", "none", "nor_conv_1x1"]), "weakest")
    _fails(check_derived_ops(ALPHAS, OPS, ["none", "none", "none"]), "none")
    _fails(check_derived_ops(ALPHAS, OPS, ["nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]), "1 of 3", "first one on a tie")
    _fails(check_derived_ops(ALPHAS, OPS, ["nor_conv_1x1", "nor_conv_3x3"]), "3 edges")
    _fails(check_derived_ops(ALPHAS, OPS, ["conv", "nor_conv_3x3", "skip_connect"]), "op name")
    _fails(check_derived_ops(ALPHAS, OPS, [9, 3, 1]), "op name")
    for junk in [None, "nor_conv_1x1", 3, object()]:
        _fails(check_derived_ops(ALPHAS, OPS, junk), "one op name per edge")


# --- 05: MnasNet's soft constraint ---------------------------------------------------------------

from nasrl_nb.checks import check_mnasnet_reward  # noqa: E402

BIG = {"status": "ok", "val_accuracy": 0.8, "test_accuracy": 0.7, "params": 40_000}  # twice the target
SMALL = {"status": "ok", "val_accuracy": 0.6, "test_accuracy": 0.65, "params": 5_000}  # a quarter of it


def test_mnasnet_reward_pass_in_several_forms():
    assert check_mnasnet_reward(BIG, 0.8 * 2 ** -0.07, 20_000)
    assert check_mnasnet_reward(BIG, np.float32(0.8 * 2 ** -0.07), 20_000)
    assert check_mnasnet_reward(BIG, torch.tensor(0.8 * 2 ** -0.07, dtype=torch.float64), 20_000)
    assert check_mnasnet_reward(SMALL, 0.6 * math.exp(-0.07 * math.log(0.25)), 20_000)  # below the target: a bonus
    assert check_mnasnet_reward(BIG, 0.8 * 2 ** -0.5, 20_000, w=-0.5)
    assert "above" in check_mnasnet_reward(BIG, 0.8 * 2 ** -0.07, 20_000).message


def test_mnasnet_reward_hints():
    _fails(check_mnasnet_reward(BIG, 0.7 * 2 ** -0.07, 20_000), "validation accuracy")
    _fails(check_mnasnet_reward(BIG, 0.8 * 2 ** 0.07, 20_000), "sign of the exponent")
    _fails(check_mnasnet_reward(SMALL, 0.6 * 0.25 ** 0.07, 20_000), "sign of the exponent")
    _fails(check_mnasnet_reward(BIG, 2 ** -0.07, 20_000), "multiply by the accuracy")
    _fails(check_mnasnet_reward(BIG, 0.8 * 2 * -0.07, 20_000), "as a power")
    _fails(check_mnasnet_reward(BIG, 0.8 - 0.07 * 2, 20_000), "not a sum")
    _fails(check_mnasnet_reward(BIG, 0.8 - 0.07 * math.log(2), 20_000), "log-linear")
    _fails(check_mnasnet_reward(BIG, 0.8, 20_000), "accuracy alone")
    _fails(check_mnasnet_reward(SMALL, 0.6, 20_000), "accuracy alone")
    _fails(check_mnasnet_reward(BIG, 0.0, 20_000), "hard constraint")
    _fails(check_mnasnet_reward(BIG, 0.75, 20_000), "reward = val_accuracy")
    for junk in [None, "0.8", [0.8, 0.7], math.nan, object()]:
        _fails(check_mnasnet_reward(BIG, junk, 20_000), "one finite number")
