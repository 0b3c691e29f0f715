"""The run folder and the configuration: config.json diffed on resume, overwrite guard, readers,
permissions, evaluator state in the checkpoint, and "best" following the reward."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import random
import stat

import pytest

from nasrl_nb.assembly.config import (
    ControllerConfig,
    SearchConfig,
    TrainerConfig,
    config_differences,
)
from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.controllers.attention import AttentionController
from nasrl_nb.controllers.lstm import Controller
from nasrl_nb.controllers.registry import make_controller
from nasrl_nb.evaluators.base import Evaluator, FunctionEvaluator, train_architecture
from nasrl_nb.rewards.objectives import MnasNetReward, RewardFunction
from nasrl_nb.rl.policy_gradient import PolicyGradientTrainer
from nasrl_nb.run.folder import RUN_FILES, load_run, read_history
from nasrl_nb.run.summary import RunTally
from nasrl_nb.spaces.registry import get_space
from nasrl_nb.validation import RunFolderError


def conv_share(arch) -> dict:
    share = sum(op == "nor_conv_3x3" for op in arch.choices) / len(arch.choices)
    return {"val_accuracy": share, "test_accuracy": 1.0 - share, "params": 100 + 1000 * share}


def synthetic(method="random", **kwargs):
    options = {"evaluator": FunctionEvaluator(conv_share), "budget": 8, "batch_size": 4, "progress": False, **kwargs}
    return make_search(method, "cell", **options)


def timeless(rows):
    return [{k: v for k, v in row.items() if k not in ("seconds", "latency_ms")} for row in rows]


# --- configuration ---------------------------------------------------------------------------------
def _defaults(function, skip=()) -> dict:
    return {n: p.default for n, p in inspect.signature(function).parameters.items() if n not in {"self", *skip}}


@pytest.mark.parametrize(("section", "params"), [
    # the controller section: make_controller's kind, the attention core's heads, then Controller's own
    (ControllerConfig, lambda: {**_defaults(make_controller, {"space", "kwargs"}),
                                **_defaults(AttentionController.__init__, {"space", "kwargs"}),
                                **_defaults(Controller.__init__, {"space"})}),
    (TrainerConfig, lambda: _defaults(PolicyGradientTrainer.__init__, {"controller", "algorithm"})),
])
def test_config_sections_mirror_their_constructors(section, params):
    fields = {f.name: f.default for f in dataclasses.fields(section)}
    assert fields == params()  # same names, same defaults: the config is the constructor's documentation


def test_config_round_trips_through_json_and_names_unknown_keys():
    config = SearchConfig.from_settings(method="ppo", epochs=2, trainer_kwargs={"lr": 0.05, "schedule": {"steps": 7}})
    assert config.child.epochs == 2 and config.trainer.lr == 0.05 and config.trainer.schedule["steps"] == 7
    assert SearchConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match=r"controller_kwargs: unknown key 'hidden'; allowed keys: hidden_size, num_layers"):
        make_search(controller_kwargs={"hidden": 3})
    with pytest.raises(ValueError, match=r"trainer_kwargs: unknown key 'clip'; allowed keys: lr, optimizer, baseline_decay"):
        make_search(trainer_kwargs={"clip": 3})
    with pytest.raises(ValueError, match=r"schedule: unknown key 'step'; allowed keys: temperature_start"):
        make_search(trainer_kwargs={"schedule": {"step": 3}})
    with pytest.raises(ValueError, match=r"space 'cell': unknown options \['bogus'\]; allowed keys"):
        make_search(space={"space": "cell", "bogus": 1})
    with pytest.raises(ValueError, match=r"epoch: not a search setting; allowed keywords: .*epochs"):
        make_search(epoch=3)
    with pytest.raises(ValueError, match=r"child.channels: must be a positive integer, got 0"):
        make_search(channels=0)
    with pytest.raises(ValueError, match=r"config: unknown key 'extra'"):
        SearchConfig.from_dict({"extra": 1})


def test_config_differences_name_nested_fields_and_skip_overrides():
    old = SearchConfig(batch_size=8).to_dict()  # a batch size given, not the budget's rule
    new = SearchConfig(budget=99, batch_size=8, child=dataclasses.replace(SearchConfig().child, epochs=1, device="cpu")).to_dict()
    assert config_differences(old, new) == ["child.epochs: 3 -> 1"]
    assert set(config_differences(old, new, ignore=())) == {"budget: 64 -> 99", "child.epochs: 3 -> 1", "child.device: 'auto' -> 'cpu'"}


def test_resume_checks_the_config_and_allows_only_documented_overrides(tmp_path):
    out = tmp_path / "run"
    first = synthetic("reinforce", out_dir=out, budget=4)
    first.run()
    assert json.loads((out / "config.json").read_text()) == first.config.to_dict()
    with pytest.raises(ValueError, match=r"other settings: trainer.lr: 0.2 -> 0.1 \(only budget, device, progress"):
        synthetic("reinforce", out_dir=out, budget=4, trainer_kwargs={"lr": 0.1}, resume=True)
    with pytest.raises(ValueError, match="seed: cannot change on resume; allowed overrides: budget, device, progress, policy_snapshots"):
        resume_search(out, evaluator=FunctionEvaluator(conv_share), seed=3)
    resumed = resume_search(out, evaluator=FunctionEvaluator(conv_share), budget=8, device="cpu", progress=False)
    assert resumed.evaluations == 4 and resumed.config.child.device == "cpu"
    assert resumed.run()["evaluations"] == 8


# --- the folder guard ---------------------------------------------------------------------------------
def test_out_dir_holding_a_run_needs_resume_or_overwrite(tmp_path):
    out = tmp_path / "run"
    synthetic(out_dir=out).run()
    with pytest.raises(ValueError) as err:
        synthetic(out_dir=out)
    assert str(out) in str(err.value) and "resume=True" in str(err.value) and "overwrite=True" in str(err.value)
    assert len(read_history(out)) == 8  # nothing was touched
    with pytest.raises(ValueError, match="resume, overwrite: pass one of them, not both"):
        synthetic(out_dir=out, resume=True, overwrite=True)
    fresh = synthetic(out_dir=out, overwrite=True, budget=4)
    assert fresh.evaluations == 0 and read_history(out) == []
    fresh.run()
    assert len(read_history(out)) == 4


def test_every_run_file_gets_the_same_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    synthetic(out_dir=tmp_path / "run").step()
    modes = {name: stat.S_IMODE(os.stat(tmp_path / "run" / name).st_mode) for name in RUN_FILES}
    assert set(modes.values()) == {0o666 & ~umask}, modes


# --- readers -------------------------------------------------------------------------------------------
def test_a_corrupt_history_line_names_file_and_line(tmp_path):
    out = tmp_path / "run"
    synthetic(out_dir=out).run()
    lines = (out / "history.jsonl").read_text().splitlines()
    lines[2] = lines[2][:-5]  # a damaged record
    (out / "history.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunFolderError, match=r"history.jsonl' line 3: not a JSON record"):
        read_history(out)
    with pytest.raises(RunFolderError, match=r"history.jsonl' line 3"):
        load_run(out)


def test_load_run_reads_what_the_search_holds(tmp_path):
    search = synthetic("reinforce", out_dir=tmp_path / "run")
    search.run()
    run = load_run(tmp_path / "run")
    assert run.history == search.history and len(run.steps) == search.num_steps == 2
    assert run.config == search.config.to_dict() and run.summary == search.summary()
    assert run.space == search.space and run.method == "reinforce" and run.budget == 8
    with open(tmp_path / "run" / "history.jsonl", "a") as file:  # a step in flight: not in the summary yet
        file.write('{"arch": "half')
    assert load_run(tmp_path / "run").history == search.history


# --- the evaluator's state lives in the checkpoint ---------------------------------------------------------
class CountingEvaluator(Evaluator):
    """Remembers how many children it has seen; that count must survive a resume."""

    def __init__(self):
        self.seen = 0

    def evaluate(self, architectures):
        self.seen += len(architectures)
        return FunctionEvaluator(conv_share).evaluate(architectures)

    def state_dict(self):
        return {"seen": self.seen}

    def load_state_dict(self, state):
        self.seen = state["seen"]


def test_the_evaluator_state_is_saved_and_restored(tmp_path):
    synthetic(evaluator=CountingEvaluator(), out_dir=tmp_path / "run", budget=8).run()
    again = CountingEvaluator()
    resumed = resume_search(tmp_path / "run", evaluator=again, budget=12)
    assert again.seen == 8
    resumed.run()
    assert again.seen == 12


def test_the_evaluation_cache_survives_a_resume(tmp_path):
    full = synthetic("reinforce", budget=24, out_dir=tmp_path / "full")
    full.run()
    synthetic("reinforce", budget=12, out_dir=tmp_path / "half").run()
    resumed = resume_search(tmp_path / "half", evaluator=FunctionEvaluator(conv_share), budget=24)
    assert len(resumed.evaluator.cache) == len({row["arch"] for row in resumed.history})
    resumed.run()
    assert [r["cached"] for r in resumed.history] == [r["cached"] for r in full.history]


# --- best follows the reward -------------------------------------------------------------------------
class PreferFewConvs(RewardFunction):
    """A reward that disagrees with accuracy: the fewer 3x3 convolutions, the better."""

    def score(self, record):
        return 1.0 - record["val_accuracy"]


@pytest.mark.parametrize("reward", [PreferFewConvs(), MnasNetReward(targets={"params": 400})])
def test_best_is_the_highest_reward_and_the_most_accurate_feasible_is_kept(tmp_path, reward):
    search = synthetic(budget=48, batch_size=8, reward_fn=reward, out_dir=tmp_path / "run")
    summary = search.run()
    ok = [r for r in search.history if r["status"] == "ok"]
    top = max(r["reward"] for r in ok)
    best = max((r for r in ok if r["reward"] == top), key=lambda r: r["val_accuracy"])
    feasible = [r for r in ok if not r["constraint_violated"]]
    accurate = max(feasible, key=lambda r: r["val_accuracy"])
    assert summary["best_reward"] == top and summary["best_val_accuracy"] == best["val_accuracy"]
    assert summary["best_arch"] == search.best["arch"]
    assert summary["most_accurate_val_accuracy"] == accurate["val_accuracy"]
    assert summary["most_accurate_val_accuracy"] >= summary["best_val_accuracy"]
    if isinstance(reward, PreferFewConvs):
        assert summary["best_val_accuracy"] == min(r["val_accuracy"] for r in ok)  # the reward's choice...
        assert summary["most_accurate_val_accuracy"] == max(r["val_accuracy"] for r in ok)  # ...is not the most accurate
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["best_arch"] == summary["best_arch"]


def test_the_running_tally_equals_a_rescan():
    rng = random.Random(0)
    rows = []
    for i in range(300):
        status = "failed" if rng.random() < 0.1 else "ok"
        rows.append({"arch": f"a{rng.randrange(40)}", "status": status, "evaluation": i,
                     "reward": 0.0 if status == "failed" else rng.choice([0.1, 0.5, 0.9]),
                     "val_accuracy": None if status == "failed" else rng.choice([0.2, 0.6, 0.8]),
                     "constraint_violated": rng.random() < 0.3})
    tally = RunTally()
    for n, row in enumerate(rows, start=1):
        tally.add(row)
        ok = [r for r in rows[:n] if r["status"] == "ok"]
        if ok:
            expected = min(ok, key=lambda r: (-r["reward"], -r["val_accuracy"], r["evaluation"]))
            assert tally.best["evaluation"] == expected["evaluation"]
        feasible = [r for r in ok if not r["constraint_violated"]]
        if feasible:
            expected = min(feasible, key=lambda r: (-r["val_accuracy"], r["evaluation"]))
            assert tally.most_accurate["evaluation"] == expected["evaluation"]
    assert tally.fields()["failed"] == sum(r["status"] != "ok" for r in rows)
    assert tally.fields()["unique_architectures"] == len({r["arch"] for r in rows})


# --- one child from the library (what `nasrl-nb train` runs) -------------------------------------------------
def test_train_architecture_is_seeded_and_complete(tiny_digits, nb201_example):
    arch = get_space("cell").parse(nb201_example)
    kwargs = {"epochs": 1, "batch_size": 32, "seed": 3, "device": "cpu", "child_kwargs": {"channels": 4}}
    one, two = train_architecture(arch, tiny_digits, **kwargs), train_architecture(arch, tiny_digits, **kwargs)
    assert one["status"] == "ok" and one["arch"] == nb201_example and one["params"] > 0
    assert timeless([one]) == timeless([two])
    with pytest.raises(ValueError, match="epochs: must be a positive integer"):
        train_architecture(arch, tiny_digits, epochs=0)
