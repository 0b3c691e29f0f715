"""TabularEvaluator, searches on a table, the analysis helpers and their plots.

The tables are written here: a small hand-made one, and a complete synthetic one (every one of
the 6,466 unique cells) whose ground truth is planted, so that the analysis must recover it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure
from tabular_helpers import A, B, complete_table_lines, planted_accuracy, write_table

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.bench import analysis
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.evaluators.base import RECORD_KEYS, Evaluator
from nasrl_nb.stats import spearman_rho
from nasrl_nb.viz import bench_plots


@pytest.fixture
def small(tmp_path):
    lines = [
        f"{A},0,0.90,0.88,1000,2000,1.5,0.80;0.90",
        f"{A},1,0.80,0.86,1000,2000,2.5,0.70;0.80",
        f"{B},0,0.70,0.71,500,900,1.0,0.60;0.70",
        f"{B},1,nan,nan,500,900,1.0,",
    ]
    return TabularBenchmark.load(write_table(tmp_path / "small.csv", lines))


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    return TabularBenchmark.load(write_table(tmp_path_factory.mktemp("complete") / "complete.csv.gz", complete_table_lines()))


# --- the evaluator ------------------------------------------------------------------------------------
def test_records_follow_the_protocol(small):
    evaluator = TabularEvaluator(small, seed=3)
    assert isinstance(evaluator, Evaluator)
    arch = small.space.parse(A)
    records = evaluator.evaluate([arch] * 40)
    assert all(set(RECORD_KEYS) <= set(r) for r in records)
    seen = {r["table_seed"]: r for r in records}
    assert set(seen) == {0, 1}  # a seed is drawn per query
    assert seen[0]["val_accuracy"] == 0.90 and seen[1]["val_accuracy"] == 0.80  # select by that run's validation
    assert all(r["test_accuracy"] == pytest.approx(0.87) for r in records)  # report the mean test over runs
    assert seen[1]["seconds"] == 2.5 and seen[0]["params"] == 1000 and seen[0]["flops"] == 2000
    assert evaluator.simulated_seconds == pytest.approx(sum(r["seconds"] for r in records))
    # the same seed gives the same draws
    again = TabularEvaluator(small, seed=3).evaluate([arch] * 40)
    assert [r["table_seed"] for r in again] == [r["table_seed"] for r in records]


def test_select_by_report_epoch_and_failed_runs(small):
    arch = small.space.parse(A)
    oracle = TabularEvaluator(small, select_by="test_accuracy", report="val_accuracy", seed=0)
    record = oracle.evaluate([arch])[0]
    assert record["val_accuracy"] in (0.88, 0.86) and record["test_accuracy"] == pytest.approx(0.85)
    cheap = TabularEvaluator(small, epoch=1, seed=0).evaluate([arch])[0]
    assert cheap["val_accuracy"] in (0.80, 0.70) and cheap["seconds"] in (0.75, 1.25)
    b = small.space.parse(B)
    records = TabularEvaluator(small, seed=1).evaluate([b] * 30)
    failed = [r for r in records if r["table_seed"] == 1]
    assert failed and all(r["status"] == "failed" and "failed to train" in r["reason"] for r in failed)
    assert all(r["status"] == "ok" and r["val_accuracy"] == 0.70 for r in records if r["table_seed"] == 0)


def test_missing_architectures_raise_or_fail(small):
    other = small.space.parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    with pytest.raises(ValueError, match="is not in"):
        TabularEvaluator(small).evaluate([other])
    record = TabularEvaluator(small, on_missing="fail").evaluate([other])[0]
    assert record["status"] == "failed" and record["reason"].startswith("missing from the table")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"select_by": "accuracy"}, r"select_by: 'accuracy' is not allowed; allowed values: val_accuracy, test_accuracy"),
        ({"report": "params"}, r"report: 'params' is not allowed"),
        ({"epoch": 3}, r"epoch: 3 is not allowed; allowed values: 1\.\.2"),
        ({"budget_seconds": 0}, r"budget_seconds: must be a positive number"),
        ({"on_missing": "skip"}, r"on_missing: 'skip' is not allowed; allowed values: error, fail"),
        ({"seed": 1.5}, r"seed: must be an integer"),
    ],
)
def test_bad_evaluator_arguments(small, kwargs, message):
    with pytest.raises(ValueError, match=message):
        TabularEvaluator(small, **kwargs)


def test_seconds_budget_and_state(small):
    arch = small.space.parse(A)
    evaluator = TabularEvaluator(small, budget_seconds=4.0, seed=0)
    while not evaluator.exhausted:
        evaluator.evaluate([arch])
    assert 4.0 <= evaluator.simulated_seconds < 4.0 + 2.5
    state = evaluator.state_dict()
    ahead = [r["table_seed"] for r in evaluator.evaluate([arch] * 10)]
    clone = TabularEvaluator(small, seed=99)
    clone.load_state_dict(state)
    assert [r["table_seed"] for r in clone.evaluate([arch] * 10)] == ahead


# --- searches on the table ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["random", "evolution", "reinforce", "ppo"])
def test_every_method_runs_on_a_table_reproducibly(complete, method):
    def run(seed):
        search = make_search(method, "cell", None, budget=24, batch_size=4, seed=seed,
                             evaluator=TabularEvaluator(complete, seed=seed), progress=False)
        search.run()
        return search

    first, again = run(5), run(5)
    assert [r["arch"] for r in first.history] == [r["arch"] for r in again.history]
    assert [r["val_accuracy"] for r in first.history] == [r["val_accuracy"] for r in again.history]
    summary = first.summary()
    assert summary["evaluations"] == 24 and summary["evaluator"]["kind"] == "TabularEvaluator"
    best = first.best
    assert summary["best_test_accuracy"] == pytest.approx(planted_accuracy(complete.space.parse(best["arch"])))


def test_search_stops_at_the_seconds_budget(complete):
    evaluator = TabularEvaluator(complete, budget_seconds=20.0, seed=0)
    search = make_search("random", "cell", None, budget=1000, batch_size=1, seed=0, evaluator=evaluator, progress=False)
    search.run()
    seconds = sum(r["seconds"] for r in search.history)
    assert search.done and 20.0 <= seconds < 22.0 and search.evaluations < 1000  # each run costs 1 or 2 s


def test_evolution_beats_random_on_the_planted_table(complete):
    """Mutation climbs the planted gradient (more nor_conv_3x3): over 8 seeds evolution's picks are better."""
    def mean_pick(method):
        picks = []
        for seed in range(8):
            search = make_search(method, "cell", None, budget=80, batch_size=4, seed=seed,
                                 evaluator=TabularEvaluator(complete, seed=seed), progress=False, policy_snapshots=False)
            picks.append(search.run()["best_test_accuracy"])
        return np.mean(picks)

    assert mean_pick("evolution") > mean_pick("random")


# --- analysis -------------------------------------------------------------------------------------------
def test_summary_histogram_and_near_best(complete):
    s = analysis.accuracy_summary(complete)
    values = np.array([planted_accuracy(a) for a in complete.architectures])
    assert s["best"] == pytest.approx(values.max()) and s["median"] == pytest.approx(np.median(values))
    assert s["count"] == 6466 and s["failed"] == 0
    counts, edges = analysis.accuracy_histogram(complete, bins=7)
    assert counts.sum() == 6466 and len(edges) == 8
    near = analysis.near_best(complete, tolerance=0.01)
    assert near["count"] == int((values >= values.max() - 0.01).sum())
    space_values = analysis.unit_values(complete, over="space")
    assert len(space_values) == 15625
    with pytest.raises(ValueError, match="over: 'all' is not allowed; allowed values: unique, space, entries"):
        analysis.unit_values(complete, over="all")


def test_op_importance_matches_brute_force_and_recovers_the_planted_effects(complete):
    rows = {(r["decision"], r["op"]): r for r in analysis.op_importance(complete)}
    assert len(rows) == 6 * 5 and all(r["count"] == 3125 for r in rows.values())
    # brute force: every cell of the space, answered by its isomorphism class's row
    by_class = {complete.canonical[e]: planted_accuracy(complete.architectures[e]) for e in range(len(complete))}
    cells = list(complete.space.enumerate())
    truth = np.array([by_class[complete.space.canonical(a)] for a in cells])
    for d, decision in enumerate(complete.space.decisions):
        for op in decision.choices:
            chosen = truth[[a.choices[d] == op for a in cells]]
            row = rows[decision.name, op]
            assert row["mean"] == pytest.approx(chosen.mean())
            assert row["high"] - row["mean"] == pytest.approx(1.96 * chosen.std(ddof=1) / np.sqrt(len(chosen)))
    # the planted effects show through (isomorphism blurs them a little: a dead edge's op does not count)
    for decision in ("node1<-0", "node3<-0", "node3<-2"):
        gain = rows[decision, "nor_conv_3x3"]["mean"] - rows[decision, "avg_pool_3x3"]["mean"]
        assert 0.035 < gain < 0.065
    assert rows["node3<-0", "none"]["mean"] < rows["node3<-0", "avg_pool_3x3"]["mean"] - 0.1


def test_motifs_find_the_planted_pattern(complete):
    motifs = analysis.frequent_motifs(complete, top_fraction=0.01, max_size=1, min_support=0.5)
    found = {m["motif"] for m in motifs}
    assert all((("node3<-0", "none"),) not in found for _ in [0])
    # the top 1% are the cells with most conv3x3 and a live input->output edge
    assert (("node1<-0", "nor_conv_3x3"),) in found
    top = motifs[0]
    assert top["lift"] == pytest.approx(top["support_top"] / top["support_all"]) and top["support_all"] <= 0.2 + 1e-9
    assert analysis.format_motif(top["motif"]).count("=") == 1


def test_seed_correlation(complete, small):
    runs = complete.values("val_accuracy", reduce="none")
    assert analysis.seed_correlation(complete) == spearman_rho(runs[:, 0], runs[:, 1])
    assert analysis.seed_correlation(complete, "test_accuracy") == pytest.approx(1.0)  # test accuracy has no seed noise
    with pytest.raises(ValueError, match="need at least 3"):
        analysis.seed_correlation(small)


def test_best_so_far_and_first_reach():
    history = [
        {"status": "ok", "val_accuracy": 0.5, "test_accuracy": 0.6},
        {"status": "failed", "val_accuracy": math.nan, "test_accuracy": math.nan},
        {"status": "ok", "val_accuracy": 0.7, "test_accuracy": 0.65},
        {"status": "ok", "val_accuracy": 0.6, "test_accuracy": 0.9},  # better test, worse validation: not picked
    ]
    assert analysis.best_so_far(history).tolist() == [0.6, 0.6, 0.65, 0.65]
    assert analysis.first_reach(history, 0.8) == 4 and analysis.first_reach(history, 0.95) is None
    stats = analysis.summarize_runs(np.array([[0.5, 0.7], [0.6, 0.9]]), optimum=1.0, threshold=0.85, reach=[2, None])
    assert stats["final_mean"] == pytest.approx(0.8) and stats["regret"] == pytest.approx(0.2)
    assert stats["top_hit"] == 0.5 and stats["median_reach"] is None and stats["reached"] == 1


def test_proposal_drift(complete):
    search = make_search("evolution", "cell", None, budget=60, batch_size=4, seed=0,
                         evaluator=TabularEvaluator(complete, seed=0), progress=False)
    search.run()
    drift = analysis.proposal_drift(search.history, complete.space, windows=5)
    assert drift["choice_share"].shape == (5, 6, 5) and np.allclose(drift["choice_share"].sum(axis=2), 1.0)
    assert drift["op_share"].shape == (5, 5) and drift["options"][0] == "none"
    assert drift["reference"] == search.best["arch"]
    # evolution mutates its population towards the pick: the last window is closer to it than the first
    assert drift["distance"][-1] < drift["distance"][0]


# --- plots ---------------------------------------------------------------------------------------------
def test_plots_return_figures_and_draw_into_a_given_axes(complete):
    values = analysis.unit_values(complete)
    fig = bench_plots.plot_accuracy_distribution(values, summary=analysis.accuracy_summary(complete))
    assert isinstance(fig, Figure) and len(fig.axes[0].lines) == 3
    fig = bench_plots.plot_op_importance(analysis.op_importance(complete))
    assert len(fig.axes[0].containers) == 5  # one errorbar group per op
    fig = bench_plots.plot_motifs(analysis.frequent_motifs(complete, max_size=2, min_support=0.5), top=4)
    assert len(fig.axes[0].patches) == 8
    curves = {"random": np.random.default_rng(0).random((5, 12)), "evolution": np.random.default_rng(1).random((5, 12))}
    target = Figure().add_subplot()
    assert bench_plots.plot_best_so_far(curves, ax=target, optimum=1.0) is target.figure
    assert len(target.lines) == 3 and len(target.collections) == 2
    history = [{"arch": str(a), "status": "ok", "val_accuracy": 0.5} for a in complete.architectures[:40]]
    fig = bench_plots.plot_proposal_drift(analysis.proposal_drift(history, complete.space, windows=4))
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_bands():
    curves = np.array([[0.0, 1.0], [1.0, 3.0]])
    mean, low, high = bench_plots.band(curves, "std")
    assert mean.tolist() == [0.5, 2.0] and high[1] - mean[1] == pytest.approx(np.std([1, 3], ddof=1))
    center, q1, q3 = bench_plots.band(curves, "iqr")
    assert center.tolist() == [0.5, 2.0] and q1[0] == 0.25
    with pytest.raises(ValueError, match="band: 'sem' is not allowed; allowed values: ci95, std, iqr"):
        bench_plots.band(curves, "sem")


def test_a_table_runs_config_json_records_no_child_training(complete, tmp_path):
    """A table scores every child: epochs, device, threads never applied, so config.json does not record them."""
    import json

    from nasrl_nb.assembly.factory import resume_search

    search = make_search("random", "cell", None, evaluator=TabularEvaluator(complete), budget=4, batch_size=2,
                         epochs=2, progress=False, out_dir=tmp_path / "run")
    search.run()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["evaluator"] == "TabularEvaluator" and saved["child"] == {}
    resumed = resume_search(tmp_path / "run", evaluator=TabularEvaluator(complete), budget=6)
    resumed.run()
    assert resumed.evaluations == 6
    # a DARTS run judged by the table still records what its supernet takes from `child`
    from nasrl_nb.assembly.config import SearchConfig

    darts = SearchConfig(method="darts", evaluator="TabularEvaluator").to_dict()
    assert sorted(darts["child"]) == ["cells_per_stage", "channels", "device"]
    assert "threads" in SearchConfig().to_dict()["child"]  # a ChildEvaluator run records every child setting
