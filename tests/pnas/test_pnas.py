"""PNAS (Liu et al. 2018): the expansion, the predictor, the strategy in the loop, resume, bad settings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.assembly.methods import make_strategy
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.pnas.config import PNASConfig, beam_size_rule
from nasrl_nb.pnas.expansion import (
    counts_per_step,
    distinct_functions,
    expand,
    expand_all,
    num_edges,
    one_edge_cells,
)
from nasrl_nb.pnas.predictor import encode, fit_ensemble
from nasrl_nb.pnas.strategy import ProgressiveSearch, step_spearman, trained_vs_candidates
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.stats import spearman_rho

CELL = get_space("cell")
CONV = "nor_conv_3x3"


def conv_score(arch) -> dict:
    """A synthetic child whose accuracy is the number of 3x3 conv edges, plus a little of 1x1 ones."""
    score = sum(op == CONV for op in arch.choices) + 0.3 * sum(op == "nor_conv_1x1" for op in arch.choices)
    return {"val_accuracy": score / 10, "test_accuracy": score / 10}


def pnas(budget=40, **kwargs):
    options = {"evaluator": FunctionEvaluator(conv_score), "budget": budget, "batch_size": 4, "progress": False, **kwargs}
    return make_search("pnas", "cell", **options)


# --- the expansion ------------------------------------------------------------------------------------
def test_step_one_is_the_24_cells_with_one_edge():
    cells = one_edge_cells(CELL)
    assert len(cells) == 24 == len(set(cells))
    assert all(num_edges(c) == 1 for c in cells)
    assert {c.choices[t] for c in cells for t in range(6) if c.choices[t] != "none"} == set(CELL.ops) - {"none"}


def test_each_expansion_adds_exactly_one_edge_and_keeps_the_others():
    rng = np.random.default_rng(0)
    for _ in range(30):
        cell = CELL.sample(rng)
        children = expand(cell)
        empty = sum(op == "none" for op in cell.choices)
        assert len(children) == len(set(children)) == 4 * empty
        for child in children:
            assert num_edges(child) == num_edges(cell) + 1
            changed = [t for t in range(6) if child.choices[t] != cell.choices[t]]
            assert len(changed) == 1 and cell.choices[changed[0]] == "none"


def test_growing_every_cell_reaches_every_cell_once_per_step():
    """Keeping every cell, step b holds exactly the cells with b edges: C(6, b) 4^b of them, no duplicates."""
    level = one_edge_cells(CELL)
    sizes = [len(level)]
    for _ in range(5):
        level = expand_all(level)
        assert len(level) == len(set(level))
        sizes.append(len(level))
    assert sizes == counts_per_step(CELL) == [math.comb(6, b) * 4**b for b in range(1, 7)]
    assert sum(sizes) == CELL.size() - 1  # every cell but the empty one
    assert all(num_edges(c) == 6 for c in level)


def test_expand_all_leaves_out_the_excluded_cells():
    parents = one_edge_cells(CELL)[:2]
    first = expand(parents[0])
    assert set(expand_all(parents, exclude=first)) == set(expand(parents[1])) - set(first)


def test_isomorphic_cells_are_trained_once():
    """Step 1 trains one cell per function among the 24 (NAS-Bench-201's canonical form); all 24 are kept."""
    functions = distinct_functions(CELL, one_edge_cells(CELL))
    assert 1 < functions < 24
    search = pnas(budget=40)
    while search.strategy.step < 2:
        search.step()
    first = search.strategy.records[0]
    assert first["trained"] == first["chosen"] == functions and first["free"] == 24 - functions
    trained = [CELL.canonical(CELL.parse(row["arch"])) for row in search.history]
    assert len(trained) == len(set(trained))  # no function trained twice in the whole run so far
    assert all(num_edges(CELL.from_indices(c)) == 2 for c in search.strategy.beam)  # step 2's kept cells


# --- the predictor --------------------------------------------------------------------------------------
def test_encode_is_one_token_per_edge():
    cell = CELL.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    x = encode([cell])
    assert x.shape == (1, 30) and x.sum() == 6
    assert [int(i) % 5 for i in x[0].nonzero().flatten()] == list(cell.indices)


def linear_task(n, seed):
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(6, 5))
    cells = [CELL.sample(rng) for _ in range(n)]
    return cells, np.array([sum(weights[t, k] for t, k in enumerate(c.indices)) for c in cells])


def test_the_predictor_learns_a_linear_reward_out_of_sample():
    cells, y = linear_task(400, seed=1)
    ensemble = fit_ensemble(cells[:100], y[:100], seed=0)
    assert spearman_rho(ensemble.predict(cells[100:]), y[100:]) > 0.9
    members = ensemble.predict_members(cells[100:])
    assert members.shape == (5, 300) and np.allclose(members.mean(0), ensemble.predict(cells[100:]))
    assert not np.allclose(members[0], members[1])  # the members differ (folds and initialisations)


def test_the_predictor_is_reproducible_from_its_seed():
    cells, y = linear_task(60, seed=2)
    a, b = (fit_ensemble(cells, y, seed=3).predict(cells) for _ in range(2))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, fit_ensemble(cells, y, seed=4).predict(cells))


def test_the_predictor_with_too_few_steps_does_not_learn():
    """The same fit with one Adam step is no better than chance: the test above measures learning."""
    cells, y = linear_task(400, seed=1)
    ensemble = fit_ensemble(cells[:100], y[:100], seed=0, config=PNASConfig(predictor_epochs=1))
    assert spearman_rho(ensemble.predict(cells[100:]), y[100:]) < 0.6


def test_step_spearman_needs_three_distinct_pairs():
    assert step_spearman([(0.1, 0.2), (0.2, 0.3)]) is None
    assert step_spearman([(0.1, 0.2), (0.1, 0.3), (0.1, 0.1)]) is None
    assert step_spearman([(0.1, 0.2), (0.2, 0.3), (0.3, 0.4)]) == pytest.approx(1.0)


# --- the strategy in the loop ---------------------------------------------------------------------------
def test_the_beam_size_rule_spreads_the_budget_over_the_steps():
    functions = distinct_functions(CELL, one_edge_cells(CELL))
    assert beam_size_rule(100, functions, 6) == (100 - functions) // 5
    assert beam_size_rule(5, functions, 6) == 1
    search = pnas(budget=100)
    assert search.strategy.beam_size == (100 - functions) // 5
    assert search.config.pnas.beam_size == search.strategy.beam_size and "beam_size" in search.config.rules


def test_pnas_grows_the_cells_and_finds_the_best_on_a_known_function():
    search = pnas(budget=60)
    search.run()
    records = search.strategy.records
    assert [r["edges"] for r in records[:6]] == [1, 2, 3, 4, 5, 6]
    for r in records[1:6]:
        assert r["trained"] == r["chosen"] <= search.strategy.beam_size
    assert search.best["val_accuracy"] == pytest.approx(0.6)  # all six edges 3x3 convs
    rhos = [r["spearman"] for r in records[1:6]]
    assert all(rho is not None for rho in rhos) and sum(rho > 0 for rho in rhos) >= 4  # within the top K: noisy
    assert trained_vs_candidates(records)["trained"] < trained_vs_candidates(records)["candidates"] / 5


def test_pnas_on_the_digits_cell_table_beats_its_own_first_step(digits_cell_table):
    search = make_search("pnas", "cell", evaluator=TabularEvaluator(digits_cell_table, seed=0), budget=50, seed=0,
                         progress=False)
    search.run()
    first = search.strategy.records[0]["trained"]
    rewards = np.array([row["reward"] for row in search.history])
    assert rewards[first:].mean() > rewards[:first].mean() + 0.2
    assert rewards[first:].max() > rewards[:first].max()
    rhos = [r["spearman"] for r in search.strategy.records[1:6] if r["spearman"] is not None]
    assert len(rhos) >= 4 and np.mean(rhos) > 0


def test_step_statistics_reach_steps_jsonl(tmp_path):
    search = pnas(budget=30, out_dir=tmp_path / "run")
    search.run()
    lines = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    stats = [line["stats"] for line in lines]
    assert {s["pnas_step"] for s in stats} >= {1, 2, 3}
    assert any("spearman" in s for s in stats)
    assert all(set(s) >= {"candidates", "trained", "known_functions"} for s in stats)


def test_same_seed_same_search_other_seed_other_predictor():
    a, b, c = pnas(budget=40, seed=5), pnas(budget=40, seed=5), pnas(budget=40, seed=6)
    for search in (a, b, c):
        search.run()
    assert [r["arch"] for r in a.history] == [r["arch"] for r in b.history]
    assert a.strategy.records == b.strategy.records
    assert a.strategy.records != c.strategy.records  # the predictor's folds and initialisations


def test_resume_gives_the_same_history_as_an_uninterrupted_run(tmp_path):
    whole = pnas(budget=40, out_dir=tmp_path / "whole")
    whole.run()
    part = pnas(budget=40, out_dir=tmp_path / "part")
    for _ in range(4):  # step 1 (9 cells: 4 + 4 + 1) and the first batch of step 2: stopped mid-step
        part.step()
    assert part.strategy.queue and part.strategy.step == 2
    del part
    resumed = resume_search(tmp_path / "part", evaluator=FunctionEvaluator(conv_score))
    resumed.run()
    assert [(r["arch"], r["reward"]) for r in resumed.history] == [(r["arch"], r["reward"]) for r in whole.history]
    assert resumed.strategy.records == whole.strategy.records


def test_state_dict_round_trips():
    search = pnas(budget=40)
    for _ in range(4):  # mid-step: a queue and predictions waiting for their rewards
        search.step()
    state = search.strategy.state_dict()
    assert state["queue"] and state["predicted"]
    fresh = make_strategy("pnas", CELL, beam_size=search.strategy.beam_size)
    fresh.load_state_dict(json.loads(json.dumps(state)))  # plain JSON survives
    assert fresh.state_dict() == json.loads(json.dumps(state))
    assert fresh.propose(3) == search.strategy.propose(3)


def test_after_the_last_step_it_ranks_the_rest_of_the_space_then_samples():
    space = CellSpace(num_nodes=2)  # one edge: 4 cells with an op, one function each, and the empty cell
    strategy = ProgressiveSearch(space, beam_size=2)
    cells = strategy.propose(10)
    assert len(cells) == 4 and strategy.records[-1]["edges"] == 1
    strategy.observe(cells, [{}] * 4, [0.1, 0.2, 0.3, 0.4])
    rest = strategy.propose(10)
    assert [str(c) for c in rest] == ["|none~0|"] and strategy.records[-1]["edges"] is None
    strategy.observe(rest, [{}], [0.0])
    assert len(strategy.propose(3)) == 3  # every function is known: uniform samples


def test_the_cli_runs_pnas_on_a_table(tmp_path):
    from nasrl_nb.cli.commands import main

    out = tmp_path / "run"
    assert main(["search", "--method", "pnas", "--dataset", "bench:digits-cell", "--budget", "20", "--out", str(out),
                 "--quiet"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "pnas" and config["pnas"]["beam_size"] >= 1
    assert len((out / "history.jsonl").read_text().splitlines()) == 20


# --- bad settings -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, value", [("beam_size", 0), ("ensemble_size", 0), ("predictor_hidden", 2.5),
                                        ("predictor_epochs", -1), ("predictor_lr", float("nan"))])
def test_bad_settings_name_the_field(key, value):
    with pytest.raises(ValueError, match=rf"^pnas\.{key}: must be a positive"):
        pnas(**{key: value})


def test_pnas_refuses_other_spaces_and_unusable_settings():
    with pytest.raises(ValueError, match=r"^space: PNAS grows NAS-Bench-201 cells .* allowed spaces: cell"):
        make_search("pnas", "macro", evaluator=FunctionEvaluator(conv_score), budget=8, progress=False)
    with pytest.raises(ValueError, match=r"^space: .* must include 'none'"):
        ProgressiveSearch(CellSpace(ops=("skip_connect", CONV)), beam_size=2)
    with pytest.raises(ValueError, match=r"^beam_size: pass K"):
        make_strategy("pnas", CELL)
    with pytest.raises(ValueError, match=r"^beam_size: only for methods pnas"):
        make_search("random", "cell", evaluator=FunctionEvaluator(conv_score), budget=8, beam_size=3)
    with pytest.raises(ValueError, match=r"^asynchronous: method 'pnas'"):
        pnas(evaluator_kind="process", workers=2, asynchronous=True)


# --- the notebook's plot and exercise --------------------------------------------------------------------
def test_the_steps_plot_draws_bars_and_the_spearman_line():
    from matplotlib.figure import Figure

    from nasrl_nb.viz.pnas_plots import plot_pnas_steps

    records = [{"step": 1, "edges": 1, "candidates": 24, "trained": 9, "spearman": None},
               {"step": 2, "edges": 2, "candidates": 240, "trained": 8, "spearman": 0.5},
               {"step": 3, "edges": None, "candidates": 9000, "trained": 8, "spearman": -0.1}]
    fig = plot_pnas_steps(records, spearman_runs=[[None, 0.4, 0.0], [None, 0.6]])
    assert isinstance(fig, Figure)
    bars, right = fig.axes
    assert [round(p.get_height()) for p in bars.patches] == [24, 240, 9000, 9, 8, 8]
    assert [t.get_text() for t in bars.get_xticklabels()] == ["1", "2", "all"]
    line = right.lines[0].get_ydata()
    assert np.isnan(line[0]) and list(line[1:]) == [0.5, -0.1]


def test_the_expansion_count_check():
    from nasrl_nb.checks import check_expansion_count, solution

    arch = CELL.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")  # 2 edges, 4 'none'
    assert check_expansion_count(arch, 16)
    assert not check_expansion_count(arch, 20) and "'none' again" in check_expansion_count(arch, 20).message
    assert not check_expansion_count(arch, 24) and "keeps the cell's edges" in check_expansion_count(arch, 24).message
    assert not check_expansion_count(arch, 4) and "several ops" in check_expansion_count(arch, 4).message
    assert not check_expansion_count(arch, "16")
    assert "len(arch.space.ops) - 1" in solution("expansion_count").code
    answer = sum(op == "none" for op in arch.choices) * (len(arch.space.ops) - 1)
    assert check_expansion_count(arch, answer)
