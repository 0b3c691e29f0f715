"""The RL toolbox through make_search and the CLI: every new method and controller runs on the
digits-cell table, resumes exactly, records its statistics, and rejects misplaced options."""

from __future__ import annotations

import json

import pytest

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.bench.evaluator import TabularEvaluator

NEW_METHODS = ["a2c", "trpo", "sac", "ucb", "thompson"]


@pytest.fixture(scope="module")
def bench(digits_cell_table):
    return digits_cell_table


def run(bench, method, budget, out_dir=None, **settings):
    search = make_search(method, "cell", None, budget=budget, batch_size=4, seed=7, evaluator=TabularEvaluator(bench, seed=7),
                         progress=False, out_dir=out_dir, **settings)
    search.run()
    return search


@pytest.mark.parametrize("method", NEW_METHODS)
def test_resumed_run_equals_uninterrupted_run(bench, method, tmp_path):
    full = run(bench, method, 16, policy_snapshots=False)
    run(bench, method, 8, out_dir=tmp_path, policy_snapshots=False)
    resumed = resume_search(tmp_path, evaluator=TabularEvaluator(bench, seed=7), budget=16)
    resumed.run()
    assert [r["arch"] for r in resumed.history] == [r["arch"] for r in full.history]
    assert [r["reward"] for r in resumed.history] == [r["reward"] for r in full.history]
    assert resumed.steps[-1].stats == full.steps[-1].stats


@pytest.mark.parametrize("controller", ["gru", "attention"])
def test_controllers_through_make_search_resume_exactly(bench, controller, tmp_path):
    full = run(bench, "reinforce", 16, controller=controller, policy_snapshots=False)
    run(bench, "reinforce", 8, out_dir=tmp_path, controller=controller, policy_snapshots=False)
    assert json.loads((tmp_path / "config.json").read_text())["controller"]["kind"] == controller
    resumed = resume_search(tmp_path, evaluator=TabularEvaluator(bench, seed=7), budget=16)
    resumed.run()
    assert [r["arch"] for r in resumed.history] == [r["arch"] for r in full.history]


def test_a2c_advantages_in_steps_jsonl_like_reinforce(bench, tmp_path):
    run(bench, "a2c", 8, out_dir=tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "steps.jsonl").read_text().splitlines()]
    for line in lines:
        assert len(line["advantages"]) == 4 and isinstance(line["baseline"], float)
        assert len(line["stats"]["decision_advantages"]) == 4
    assert lines[0]["policy"] is not None


def test_trpo_and_sac_record_their_statistics(bench):
    trpo = run(bench, "trpo", 8, trpo_kwargs={"max_kl": 0.005})
    assert all(step.stats["kl"] <= 0.005 + 1e-7 and step.stats["max_kl"] == 0.005 for step in trpo.steps)
    sac = run(bench, "sac", 8, sac_kwargs={"critic_steps": 5})
    assert [step.stats["buffer_size"] for step in sac.steps] == [4, 8]
    assert sac.steps[-1].advantages is None and sac.steps[-1].stats["alpha"] > 0


def test_epsilon_and_bandit_options_reach_the_strategy(bench):
    search = make_search("ppo", "cell", None, evaluator=TabularEvaluator(bench), epsilon=0.25, progress=False)
    assert search.strategy.trainer.epsilon == 0.25
    ucb = make_search("ucb", "cell", None, evaluator=TabularEvaluator(bench), bandit_kwargs={"exploration": 2.0}, progress=False)
    assert ucb.strategy.bandit.exploration == 2.0


def test_misplaced_options_are_rejected(bench):
    with pytest.raises(ValueError, match="trpo_kwargs: only for methods trpo; method 'a2c' does not use it"):
        make_search("a2c", "cell", None, evaluator=TabularEvaluator(bench), trpo_kwargs={"max_kl": 0.1})
    with pytest.raises(ValueError, match="bandit_kwargs: only for methods ucb, thompson"):
        make_search("reinforce", "cell", None, evaluator=TabularEvaluator(bench), bandit_kwargs={"exploration": 2.0})
    with pytest.raises(ValueError, match="controller.kind: 'rnn' is not allowed; allowed values: lstm, gru, attention"):
        make_search("reinforce", "cell", None, evaluator=TabularEvaluator(bench), controller="rnn")
    with pytest.raises(ValueError, match="sac_kwargs: unknown key 'lr'; allowed keys: critic_hidden"):
        make_search("sac", "cell", None, evaluator=TabularEvaluator(bench), sac_kwargs={"lr": 0.1})
    with pytest.raises(ValueError, match="ppo_epochs: not an option of A2C"):
        make_search("a2c", "cell", None, evaluator=TabularEvaluator(bench), trainer_kwargs={"ppo_epochs": 2})


def test_multi_objective_reward_end_to_end(bench, tmp_path):
    search = run(bench, "ucb", 8, reward="multi", reward_weights=[1.0, 0.0, 0.5], reference_params=200000.0)
    for row in search.history:
        assert row["reward"] == pytest.approx(row["val_accuracy"] - 0.5 * min(1.0, row["params"] / 200000.0))
    assert search.reward_fn.config()["weights"] == [1.0, 0.0, 0.5]
    with pytest.raises(ValueError, match="reward_weights, reference_params, reference_latency_ms: only for reward 'multi'"):
        run(bench, "ucb", 8, reward_weights=[1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="weights: must be >= 0 and not all zero"):
        run(bench, "ucb", 8, reward="multi", reward_weights=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="reference_params: needed when the complexity weight is non-zero"):
        run(bench, "ucb", 8, reward="multi", reward_weights=[1.0, 0.0, 0.5])


def test_cli_exposes_the_toolbox(tmp_path):
    from nasrl_nb.cli.commands import main

    out = tmp_path / "run"
    code = main(["search", "--method", "trpo", "--controller", "attention", "--epsilon", "0.1", "--reward", "multi",
                 "--reward-weights", "1", "0", "0.1", "--reference-params", "100000", "--dataset", "bench:digits-cell",
                 "--budget", "8", "--batch", "4", "--out", str(out), "--quiet"])
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "trpo" and config["controller"]["kind"] == "attention"
    assert config["trainer"]["epsilon"] == 0.1 and config["reward"]["weights"] == [1.0, 0.0, 0.1]


@pytest.mark.parametrize("method", NEW_METHODS)
def test_asynchronous_updates_run(bench, method):
    """Every new method accepts updates from an asynchronous search (staleness documented per module)."""
    search = run(bench, method, 12, asynchronous=True, policy_snapshots=False)
    assert search.evaluations == 12
