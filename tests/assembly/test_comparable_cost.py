"""The showdown on digits-cell: the cost rule (budget, calibration), the records, the table and the figure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasrl_nb.assembly.comparable_cost import (
    OneShotSettings,
    calibrate,
    markdown_table,
    run_multi_trial,
    run_one_shot,
    run_showdown,
    summarize,
    within_budget,
)
from nasrl_nb.spaces.cell_space import CellSpace

TINY = OneShotSettings(epochs=1, channels=2, darts_batch_size=32, enas_batch_size=2, candidates=3)


@pytest.fixture(scope="module")
def bench(digits_cell_table):
    return digits_cell_table


def _check_record(bench, record):
    arch = CellSpace().parse(record["arch"])  # a valid cell of the space
    row = bench.query(arch)
    assert record["test_accuracy"] == row["test_accuracy"] and record["val_accuracy"] == row["val_accuracy"]
    assert 0 <= record["test_accuracy"] <= 1 and 0 <= record["val_accuracy"] <= 1
    optimum = np.nanmax(bench.values("test_accuracy"))
    assert record["regret"] == pytest.approx(optimum - record["test_accuracy"]) and record["regret"] >= 0
    assert record["cost_seconds"] > 0 and record["wall_seconds"] > 0


def test_within_budget_keeps_the_evaluation_that_crosses_the_budget():
    history = [{"seconds": 1.0}, {"seconds": 2.0}, {"seconds": 0.5}, {"seconds": 3.0}]
    assert within_budget(history, 3.0) == history[:2]  # 1 + 2 reaches 3: the crossing evaluation counts
    assert within_budget(history, 3.2) == history[:3]  # 1 + 2 + 0.5 = 3.5 >= 3.2
    assert within_budget(history, 3.6) == history  # 6.5 >= 3.6 at the last one
    assert within_budget(history, 10.0) == history  # never reached: everything
    assert within_budget(history, 0.1) == history[:1]


def test_a_multi_trial_search_spends_the_budget_and_picks_by_validation(bench):
    record = run_multi_trial(bench, "evolution", 3, budget_seconds=6.0)
    _check_record(bench, record)
    assert record["kind"] == "multi-trial" and record["method"] == "evolution" and record["budget_seconds"] == 6.0
    assert record["cost_seconds"] >= 6.0 and record["evaluations"] >= 2
    # the same search by hand: its evaluations up to the crossing one, the best validation accuracy among them
    from nasrl_nb.assembly.compare import TABULAR_SETTINGS
    from nasrl_nb.assembly.factory import make_search
    from nasrl_nb.bench.evaluator import TabularEvaluator

    search = make_search("evolution", "cell", None, budget=1000, seed=3, progress=False, policy_snapshots=False,
                         evaluator=TabularEvaluator(bench, seed=3, budget_seconds=6.0), **TABULAR_SETTINGS["evolution"])
    search.run()
    spent, kept = 0.0, []
    for row in search.history:
        kept.append(row)
        spent += row["seconds"]
        if spent >= 6.0:
            break
    assert record["evaluations"] == len(kept) and record["cost_seconds"] == pytest.approx(spent)
    assert spent - kept[-1]["seconds"] < 6.0  # the budget was not reached before the last kept evaluation
    assert record["last_seconds"] == kept[-1]["seconds"]
    assert record["arch"] == max(kept, key=lambda r: r["val_accuracy"])["arch"]
    assert run_multi_trial(bench, "evolution", 3, budget_seconds=6.0)["arch"] == record["arch"]  # seeded


@pytest.mark.parametrize("method", ["enas", "random_ws", "darts", "darts-"])
def test_a_one_shot_search_returns_a_cell_of_the_space_and_costs_its_cpu_time(bench, tiny_digits, method):
    record = run_one_shot(bench, method, 0, settings=TINY, data=tiny_digits, time_scale=2.0)
    _check_record(bench, record)
    assert record["kind"] == "one-shot" and record["supernet_epochs"] == 1 and record["evaluations"] is None
    assert record["cost_seconds"] == pytest.approx(record["cpu_seconds"] / 2.0) and record["cpu_seconds"] > 0
    again = run_one_shot(bench, method, 0, settings=TINY, data=tiny_digits, time_scale=2.0)
    assert again["arch"] == record["arch"]  # seeded: the same supernet, the same pick


def test_the_multi_trial_budget_is_the_mean_cost_of_the_one_shot_runs(bench, tiny_digits, monkeypatch):
    import nasrl_nb.assembly.comparable_cost as comparable_cost

    monkeypatch.setattr(comparable_cost, "search_data", lambda *a, **k: tiny_digits)  # tiny supernets on tiny data
    seen = []
    result = run_showdown(bench, ["random", "enas", "darts"], [0, 1], settings=TINY, time_scale=1.0, callback=seen.append)
    assert [(r["method"], r["seed"]) for r in result.records] == [
        ("random", 0), ("random", 1), ("enas", 0), ("enas", 1), ("darts", 0), ("darts", 1)]
    assert len(seen) == 6 and result.calibration == {} and result.time_scale == 1.0
    one_shot = [r["cost_seconds"] for r in result.records if r["kind"] == "one-shot"]
    assert result.budget_seconds == pytest.approx(sum(one_shot) / 4)
    for record in result.records:
        _check_record(bench, record)
        if record["kind"] == "multi-trial":
            assert record["budget_seconds"] == result.budget_seconds <= record["cost_seconds"]
    assert result.optimum == pytest.approx(np.nanmax(bench.values("test_accuracy"))) and result.best_arch in bench
    rows = summarize(result.records)
    assert [r["method"] for r in rows] == ["random", "enas", "darts"] and all(r["runs"] == 2 for r in rows)
    random = [r["test_accuracy"] for r in result.records if r["method"] == "random"]
    assert rows[0]["test_mean"] == pytest.approx(np.mean(random)) and rows[0]["test_std"] == pytest.approx(np.std(random, ddof=1))
    text = markdown_table(result)
    assert sum(line.startswith("| ") for line in text.splitlines()) == 4 and "| enas | one-shot | 2 |" in text and f"{100 * result.optimum:.2f}%" in text
    assert f"(`{result.best_arch}`)" in text  # a code span: bare, the string's ~ pairs render as strikethrough


def test_a_fixed_budget_runs_multi_trial_methods_alone(bench):
    result = run_showdown(bench, ["random", "reinforce"], [0], budget_seconds=4.0)
    assert result.budget_seconds == 4.0 and [r["method"] for r in result.records] == ["random", "reinforce"]
    assert all(r["cost_seconds"] >= 4.0 for r in result.records)


def test_calibrate_compares_the_same_runs_trained_now_with_the_table(bench, digits):
    cal = calibrate(bench, cells=1, seed=0, data=digits)
    (arch,) = cal["cells"]
    assert cal["table_seconds"] == [pytest.approx(np.mean(bench.values("train_seconds", reduce="none")[bench.index(arch)]))]
    assert cal["measured_seconds"][0] > 0 and cal["measured_wall_seconds"][0] > 0 and cal["time_scale"] == pytest.approx(cal["measured_seconds"][0] / cal["table_seconds"][0])
    three = calibrate(bench, cells=3, seed=0, data=digits, threads=None)
    assert three["time_scale"] == pytest.approx(np.median([m / t for m, t in zip(three["measured_seconds"], three["table_seconds"])]))
    assert three["cells"][0] == arch and three["threads"] is None  # the same seeded draw
    assert math.isfinite(cal["time_scale"]) and cal["threads"] == 1


def test_bad_input_names_the_field(bench):
    with pytest.raises(ValueError, match="methods: 'bogus' is not allowed; allowed values: random, evolution"):
        run_showdown(bench, ["random", "bogus"], [0], budget_seconds=1.0)
    with pytest.raises(ValueError, match="budget_seconds: give it, or include a one-shot method"):
        run_showdown(bench, ["random"], [0])
    with pytest.raises(ValueError, match="time_scale: 'fast' is not allowed"):
        run_showdown(bench, ["enas"], [0], time_scale="fast", settings=TINY)
    with pytest.raises(ValueError, match="epochs: must be"):
        OneShotSettings(epochs=0)
    with pytest.raises(ValueError, match="method: 'enas' is not a multi-trial method"):
        run_multi_trial(bench, "enas", 0, budget_seconds=1.0)
    with pytest.raises(ValueError, match="method: 'random' is not a one-shot method"):
        run_one_shot(bench, "random", 0)
    with pytest.raises(ValueError, match="calibrate_after: needs time_scale='calibrate'"):
        run_showdown(bench, ["random"], [0], budget_seconds=1.0, time_scale=1.0, calibrate_after=True)


def test_plot_showdown_draws_a_column_per_method_and_the_optimum():
    from nasrl_nb.viz.bench_plots import plot_showdown

    records = [{"method": m, "kind": k, "seed": s, "test_accuracy": a, "cost_seconds": 3.0}
               for m, k, a in (("random", "multi-trial", 0.8), ("darts", "one-shot", 0.4)) for s in range(3)]
    fig = plot_showdown(records, optimum=0.94)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["random\n3.0 s", "darts\n3.0 s"]
    assert any(line.get_linestyle() == "--" and line.get_ydata()[0] == 0.94 for line in ax.lines)
    assert len(ax.collections) >= 2  # the seeds' points of each method
