"""The search loop: steps, budget, history, best, control, checkpoints, exact resume, interrupts, learning."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time

import numpy as np
import pytest
import torch

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.evaluators.base import Evaluator, FunctionEvaluator
from nasrl_nb.rewards.objectives import AccuracyReward
from nasrl_nb.run import folder as run_folder_module
from nasrl_nb.run.folder import read_history
from nasrl_nb.run.loop import Search, SearchStep
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.strategies.evolution import RegularizedEvolution, mutate
from nasrl_nb.strategies.random_search import RandomSearch

CELL = get_space("cell")
METHODS = ("reinforce", "ppo", "random", "evolution")


def conv_share(arch) -> dict:
    """A synthetic child: validation accuracy = share of 3x3 conv edges; test accuracy = 1 - that."""
    share = sum(op == "nor_conv_3x3" for op in arch.choices) / len(arch.choices)
    return {"val_accuracy": share, "test_accuracy": 1.0 - share, "params": 100 + 1000 * share}


def synthetic(method="reinforce", **kwargs) -> Search:
    options = {"evaluator": FunctionEvaluator(conv_share), "budget": 16, "batch_size": 4, "progress": False, **kwargs}
    return make_search(method, "cell", **options)


def arch_sequence(search) -> list[str]:
    return [row["arch"] for row in search.history]


# --- steps, budget, records ------------------------------------------------------------------------
def test_steps_fill_the_budget_exactly():
    search = synthetic("random", budget=10)
    steps = list(search)
    assert [len(s.architectures) for s in steps] == [4, 4, 2]
    assert [s.evaluations for s in steps] == [4, 8, 10]
    assert search.done and search.evaluations == len(search.history) == 10
    assert [row["evaluation"] for row in search.history] == list(range(10))
    assert [row["step"] for row in search.history] == [0] * 4 + [1] * 4 + [2] * 2
    with pytest.raises(RuntimeError, match="search is done"):
        search.step()


def test_search_step_contents_for_rl():
    search = synthetic("reinforce")
    step = search.step()
    assert isinstance(step, SearchStep) and step.step == 0
    assert len(step.results) == len(step.rewards) == len(step.advantages) == 4
    assert step.rewards == [row["reward"] for row in step.results]
    assert step.rewards == [conv_share(a)["val_accuracy"] for a in step.architectures]
    # REINFORCE's rank advantages: the reported baseline is the median of the rewards ranked (torch's: the lower middle)
    assert step.baseline == pytest.approx(sorted(step.rewards)[1])
    assert sum(step.advantages) == pytest.approx(0.0, abs=1e-6)  # ranked among themselves: centred
    assert step.policy is not None and len(step.policy.probs) == len(CELL.decisions)
    assert {"loss", "entropy", "lr"} <= set(step.stats)
    assert step.best["val_accuracy"] == max(r["val_accuracy"] for r in step.results)
    row = step.results[0]
    for key in ("step", "arch", "status", "val_accuracy", "test_accuracy", "params", "reward", "seconds", "reason", "constraint_violated"):
        assert key in row
    assert synthetic("random").step().policy is None


def test_best_test_accuracy_belongs_to_the_best_validation_architecture():
    search = synthetic("random", budget=24)
    summary = search.run()
    best_val = max(row["val_accuracy"] for row in search.history)
    assert summary["best_val_accuracy"] == best_val
    assert summary["best_test_accuracy"] == pytest.approx(1.0 - best_val)
    assert summary["best_test_accuracy"] < max(row["test_accuracy"] for row in search.history)
    assert summary["evaluations"] == 24 and summary["method"] == "random" and summary["seed"] == 0
    assert summary["space"] == CELL.spec()
    json.dumps(summary)  # plain JSON


def test_failed_children_get_the_failure_reward_and_the_search_goes_on():
    def flaky(arch):
        if arch.choices[0] == "none":
            raise RuntimeError("cannot train")
        return conv_share(arch)

    search = make_search(
        "reinforce", "cell", evaluator=FunctionEvaluator(flaky), reward_fn=AccuracyReward(failure_reward=-1.0),
        budget=40, batch_size=8, progress=False,
    )
    summary = search.run()
    failed = [row for row in search.history if row["status"] == "failed"]
    assert failed and summary["failed"] == len(failed) and summary["evaluations"] == 40
    assert all(row["reward"] == -1.0 and row["reason"] == "RuntimeError: cannot train" for row in failed)
    assert all(row["val_accuracy"] is None for row in failed)


def test_constraints_flag_and_exclude_from_best():
    search = synthetic("random", budget=32, max_params=400, constraint_mode="hard")
    search.run()
    for row in search.history:
        assert row["constraint_violated"] == (row["params"] > 400)
        assert row["reward"] == (0.0 if row["params"] > 400 else row["val_accuracy"])
    assert search.best["params"] <= 400
    assert search.summary()["constraint_violated"] == sum(row["params"] > 400 for row in search.history)


# --- reproducibility -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_run_and_outside_rng_use_does_not_matter(method):
    quiet = synthetic(method, seed=3)
    quiet.run()
    noisy = synthetic(method, seed=3)
    while not noisy.done:
        torch.manual_seed(999), np.random.seed(5), random.seed(7)  # a notebook doing other things
        torch.rand(10), np.random.rand(3), random.random()
        noisy.step()
    assert arch_sequence(noisy) == arch_sequence(quiet)
    other = synthetic(method, seed=4)
    other.run()
    assert arch_sequence(other) != arch_sequence(quiet)


@pytest.mark.parametrize("method", METHODS)
def test_resumed_run_equals_uninterrupted_run(method, tmp_path):
    full = synthetic(method, budget=24, out_dir=tmp_path / "full")
    full.run()
    half = synthetic(method, budget=12, out_dir=tmp_path / "half")
    half.run()
    del half
    resumed = resume_search(tmp_path / "half", evaluator=FunctionEvaluator(conv_share), budget=24)
    assert resumed.evaluations == 12 and len(resumed.history) == 12
    resumed.run()
    assert arch_sequence(resumed) == arch_sequence(full)
    assert [r["reward"] for r in resumed.history] == [r["reward"] for r in full.history]
    def timeless(rows):
        return [{k: v for k, v in row.items() if k not in ("seconds", "cached")} for row in rows]

    assert timeless(read_history(tmp_path / "half")) == timeless(read_history(tmp_path / "full"))
    assert resumed.summary()["best_arch"] == full.summary()["best_arch"]


def test_checkpoint_is_weights_only_and_atomic(tmp_path):
    search = synthetic("ppo", out_dir=tmp_path)
    search.step()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1 and state["evaluations"] == 4 and state["method"] == "ppo"
    assert set(state["rng"]) == {"torch", "numpy", "python"}
    assert "controller" in state["strategy"]["trainer"]
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt", "config.json", "history.jsonl", "steps.jsonl", "summary.json"]  # no temp files left
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["evaluations"] == 4


# --- interruptions -------------------------------------------------------------------------------------
class InterruptOnce(Evaluator):
    """Evaluates one architecture at a time and raises KeyboardInterrupt at call number ``at``."""

    def __init__(self, at: int):
        self.inner, self.at, self.calls = FunctionEvaluator(conv_share), at, 0

    def evaluate(self, architectures):
        records = []
        for arch in architectures:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
            records.extend(self.inner.evaluate([arch]))
        return records


@pytest.mark.parametrize("method", ["reinforce", "evolution"])
def test_interrupt_mid_step_discards_the_partial_batch_and_redoes_it(method, tmp_path):
    reference = synthetic(method, budget=16)
    reference.run()
    search = make_search(method, "cell", evaluator=InterruptOnce(at=7), budget=16, batch_size=4, progress=False, out_dir=tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        search.run()
    assert search.evaluations == 4 and len(search.history) == 4  # step 1 had evaluated 2 of 4: discarded
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == 4
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["evaluations"] == 4
    shutil.copytree(tmp_path / "run", tmp_path / "copy")
    search.run()  # continue in memory
    assert arch_sequence(search) == arch_sequence(reference)
    from_disk = resume_search(tmp_path / "copy", evaluator=FunctionEvaluator(conv_share))
    from_disk.run()  # or continue from disk
    assert arch_sequence(from_disk) == arch_sequence(reference)


def test_ctrl_c_during_the_commit_is_held_until_the_step_is_saved(tmp_path, monkeypatch):
    real_save = run_folder_module.save_checkpoint

    def save_and_get_interrupted(path, state):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while the checkpoint is written
        time.sleep(0.05)
        return real_save(path, state)

    search = synthetic("random", out_dir=tmp_path)
    monkeypatch.setattr(run_folder_module, "save_checkpoint", save_and_get_interrupted)
    with pytest.raises(KeyboardInterrupt):
        search.step()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert search.evaluations == state["evaluations"] == 4  # the step was committed, then Ctrl-C raised
    assert len(read_history(tmp_path)) == 4


def test_history_lines_without_a_checkpoint_are_dropped_on_resume(tmp_path):
    search = synthetic("random", out_dir=tmp_path)
    search.step()
    with open(tmp_path / "history.jsonl", "a") as f:  # a crash after writing history, before the checkpoint
        f.write(json.dumps({"arch": "orphan"}) + "\n")
    resumed = resume_search(tmp_path, evaluator=FunctionEvaluator(conv_share))
    assert len(resumed.history) == 4 and len(read_history(tmp_path)) == 4


# --- control from a dashboard ------------------------------------------------------------------------------
def test_pause_resume_stop_from_another_thread():
    def slow(arch):
        time.sleep(0.005)
        return conv_share(arch)

    search = make_search("random", "cell", evaluator=FunctionEvaluator(slow), budget=400, batch_size=2, progress=False)
    thread = threading.Thread(target=search.run)
    thread.start()
    deadline = time.time() + 10
    while search.evaluations < 4 and time.time() < deadline:
        time.sleep(0.01)
    search.pause()
    held = -1
    while held != search.evaluations and time.time() < deadline:  # the step in flight finishes
        held = search.evaluations
        time.sleep(0.3)
    time.sleep(0.3)
    assert search.evaluations == held and search.paused and thread.is_alive()
    search.resume()
    while search.evaluations <= held and time.time() < deadline:
        time.sleep(0.01)
    assert search.evaluations > held
    search.stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and not search.done
    stopped_at = search.evaluations
    search.budget = stopped_at + 4
    search.run()  # a stopped search can be run again
    assert search.done and search.evaluations == stopped_at + 4


def test_stop_while_idle_does_not_cut_the_next_run_short():
    search = synthetic("random", budget=8)
    search.stop()
    assert search.run()["evaluations"] == 8


def test_callback_returning_false_stops():
    search = synthetic("random", budget=40)
    seen = []
    search.run(callback=lambda step: seen.append(step.step) or len(seen) < 2)
    assert seen == [0, 1] and search.evaluations == 8


def test_set_hyperparameters_takes_effect_at_the_next_step():
    search = synthetic("reinforce", trainer_kwargs={"lr": 0.01})
    search.step()
    pending = search.set_hyperparameters(lr=0.2, entropy_weight=0.05, temperature=2.0)
    assert pending == {"lr": 0.2, "entropy_weight": 0.05, "temperature": 2.0}
    assert search.strategy.trainer.lr == 0.01  # not applied yet
    assert search.hyperparameters()["lr"] == 0.2
    step = search.step()
    assert (step.stats["lr"], step.stats["entropy_weight"], step.stats["temperature"]) == (0.2, 0.05, 2.0)
    assert search.strategy.controller.temperature == 2.0 and search.set_hyperparameters() == {}
    with pytest.raises(ValueError, match="lr: must be a positive number"):
        search.set_hyperparameters(lr=-1)
    with pytest.raises(ValueError, match=r"lr: the random strategy has no policy to tune; allowed for: a strategy with run-time settings"):
        synthetic("random").set_hyperparameters(lr=0.1)


# --- bad input ---------------------------------------------------------------------------------------------------
def test_bad_arguments_and_folders(tmp_path):
    with pytest.raises(ValueError, match="method: 'sgd' is not allowed; allowed values: reinforce, ppo, "):
        synthetic("sgd")
    with pytest.raises(ValueError, match="budget: must be a positive integer, got 0"):
        synthetic("random", budget=0)
    with pytest.raises(ValueError, match="batch_size: must be a positive integer"):
        synthetic("random", batch_size=-2)
    synthetic("random", out_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="already holds a search; pass resume=True to continue it, overwrite=True"):
        synthetic("random", out_dir=tmp_path / "run")
    with pytest.raises(ValueError, match="other settings: method: 'random' -> 'evolution'"):
        synthetic("evolution", out_dir=tmp_path / "run", resume=True)
    with pytest.raises(ValueError, match="resume: no search in .* start one there without resume"):
        synthetic("random", out_dir=tmp_path / "empty", resume=True)
    with pytest.raises(ValueError, match="evaluator: this run used a FunctionEvaluator; pass evaluator="):
        resume_search(tmp_path / "run")
    with pytest.raises(ValueError, match="strategy: its space"):
        Search(CELL, RandomSearch(get_space("macro")), FunctionEvaluator(conv_share), budget=4)
    with pytest.raises(ValueError, match="reward_fn: expected a RewardFunction"):
        Search(CELL, RandomSearch(CELL), FunctionEvaluator(conv_share), lambda r: 1.0, budget=4)


# --- regularized evolution ------------------------------------------------------------------------------------------
def test_mutation_changes_exactly_one_decision():
    rng = np.random.default_rng(0)
    for _ in range(200):
        parent = CELL.sample(rng)
        child = mutate(parent, rng)
        assert sum(a != b for a, b in zip(parent.choices, child.choices, strict=True)) == 1


def test_ageing_removes_the_oldest_not_the_worst():
    evo = RegularizedEvolution(CELL, population_size=3, sample_size=2)
    archs = evo.propose(3)
    assert len(evo.population) == 0
    evo.observe(archs, [{}] * 3, [0.9, 0.1, 0.5])  # the first is the fittest
    newcomer = evo.propose(1)
    evo.observe(newcomer, [{}], [0.0])
    assert [a for a, _ in evo.population] == archs[1:] + newcomer  # the fittest, being oldest, is gone
    state = json.loads(json.dumps(evo.state_dict()))  # plain JSON
    copy = RegularizedEvolution(CELL, population_size=3, sample_size=2)
    copy.load_state_dict(state)
    assert copy.propose(4) == evo.propose(4)
    with pytest.raises(ValueError, match=r"sample_size: 5 is not allowed; allowed values: 1..population_size \(3\)"):
        RegularizedEvolution(CELL, population_size=3, sample_size=5)


def test_tournament_returns_the_fittest_of_its_sample():
    evo = RegularizedEvolution(CELL, population_size=6, sample_size=3, seed=1)
    archs = evo.propose(6)
    evo.observe(archs, [{}] * 6, [0.1, 0.6, 0.3, 0.9, 0.2, 0.4])
    fitness = {a: f for a, f in evo.population}
    for _ in range(50):
        replay = np.random.default_rng()
        replay.bit_generator.state = evo.rng.bit_generator.state
        drawn = replay.integers(6, size=3)
        assert fitness[evo.tournament()] == max(fitness[archs[i]] for i in drawn)


# --- evidence of learning -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["reinforce", "ppo", "evolution"])
def test_strategies_learn_a_synthetic_reward(method):
    kwargs = {"trainer_kwargs": {"lr": 0.05}} if method != "evolution" else {"population_size": 16, "sample_size": 4}
    search = synthetic(method, budget=160, batch_size=8, seed=0, **kwargs)
    steps = list(search)
    first = np.mean([s.mean_reward for s in steps[:3]])
    last = np.mean([s.mean_reward for s in steps[-3:]])
    assert last > first + 0.2, (first, last)


@pytest.mark.slow
def test_reinforce_learns_on_real_digits_children():
    """Real children (cell space, width 8, 1 epoch on 600 digits), the controller's defaults: the last
    16 children beat the first 16, and the policy's entropy falls."""
    search = make_search(
        "reinforce", "cell", "digits", budget=64, batch_size=4, epochs=1, max_samples=600, child_batch_size=32,
        channels=8, device="cpu", seed=0, progress=False, policy_snapshots=False,
    )
    steps = list(search)
    first = np.mean([s.mean_reward for s in steps[:4]])
    last = np.mean([s.mean_reward for s in steps[-4:]])
    assert last > first + 0.05, (first, last)
    assert steps[-1].stats["entropy"] < steps[0].stats["entropy"] - 1.0
