"""Rebuilding a lost or damaged checkpoint from the history: resuming then continues exactly.

Issue 8: a corrupt run folder says which file is corrupt and what the user can do; the
history is kept and the checkpoint can be rebuilt from it (:func:`nasrl_nb.rebuild_checkpoint`).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import nasrl_nb as nb
from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.evaluators.base import Evaluator, FunctionEvaluator, SerialEvaluator
from nasrl_nb.run.folder import read_history
from nasrl_nb.validation import RunFolderError

METHODS = ("reinforce", "ppo", "random", "evolution")


def scored(arch) -> dict:
    """A synthetic child: accuracy = share of 3x3 convs; a cell of three or more ``none`` edges fails."""
    if sum(op == "none" for op in arch.choices) >= 3:
        raise ValueError("disconnected cell")
    share = sum(op == "nor_conv_3x3" for op in arch.choices) / len(arch.choices)
    return {"val_accuracy": share, "test_accuracy": 1.0 - share, "params": 100 + 1000 * share}


def search(method, out_dir, **kwargs):
    options = {"evaluator": FunctionEvaluator(scored), "budget": 24, "batch_size": 4, "progress": False, **kwargs}
    return make_search(method, "cell", out_dir=out_dir, **options)


def dashboard(search_):
    """A callback that changes the policy's settings after step 1, as a dashboard's sliders do."""
    def callback(step):
        if step.step == 1 and search_.hyperparameters():  # {} for a strategy without the Tunable hook
            search_.set_hyperparameters(lr=0.05, temperature=1.5)
    return callback


def timeless(rows):
    return [{k: v for k, v in row.items() if k not in ("seconds", "cached")} for row in rows]


def assert_same_state(a, b, path="checkpoint"):
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))}"
        for key in a:
            if path == "checkpoint" and key == "seconds":
                continue
            assert_same_state(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def half_run(method, tmp_path):
    """Three committed steps of a 24-architecture run (stopped), then a half-written line (a kill)."""
    run = search(method, tmp_path / "half")
    callback = dashboard(run)
    run.run(lambda step: callback(step) or step.step < 2)
    assert run.evaluations == 12
    with open(tmp_path / "half" / "history.jsonl", "a") as file:
        file.write('{"step": 3, "evaluation": 12, "arch": "|nor_c')  # the next step, killed mid-line
    return tmp_path / "half"


@pytest.mark.parametrize("method", METHODS)
def test_rebuilt_checkpoint_equals_the_lost_one_and_resumes_exactly(method, tmp_path):
    full = search(method, tmp_path / "full")
    full.run(dashboard(full))
    folder = half_run(method, tmp_path)
    lost = torch.load(folder / "checkpoint.pt", weights_only=True)
    if method in ("reinforce", "evolution"):
        (folder / "checkpoint.pt").write_bytes(b"\x80\x02garbage")
    else:
        (folder / "checkpoint.pt").unlink()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    # resuming says which file and what to do, and changes nothing
    with pytest.raises(RunFolderError, match=r"checkpoint\.pt.*rebuild-checkpoint .*half.*rebuild_checkpoint"):
        resume_search(folder, evaluator=FunctionEvaluator(scored))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    result = nb.rebuild_checkpoint(folder, evaluator=FunctionEvaluator(scored))
    assert result == {"checkpoint": str(folder / "checkpoint.pt"), "steps": 3, "evaluations": 12}
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "checkpoint.pt"} == {
        k: v for k, v in before.items() if k != "checkpoint.pt"}  # only the checkpoint is written
    assert_same_state(torch.load(folder / "checkpoint.pt", weights_only=True), lost)

    resumed = resume_search(folder, evaluator=FunctionEvaluator(scored), budget=24)
    resumed.run()
    assert timeless(read_history(folder)) == timeless(read_history(tmp_path / "full"))
    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    full_steps = [json.loads(line) for line in (tmp_path / "full" / "steps.jsonl").read_text().splitlines()]
    assert steps == full_steps
    assert resumed.summary()["best_arch"] == full.summary()["best_arch"]


def test_the_evaluator_cache_is_rebuilt(tmp_path):
    """Evolution repeats architectures: the rebuilt cache answers them as the first run did."""
    folder = half_run("evolution", tmp_path)
    lost = torch.load(folder / "checkpoint.pt", weights_only=True)["evaluator"]
    assert lost["cache"], "the run should have cached records"
    nb.rebuild_checkpoint(folder, evaluator=FunctionEvaluator(scored), force=True)
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["evaluator"] == lost
    nb.rebuild_checkpoint(folder, evaluator=FunctionEvaluator(scored, cache=False), force=True)
    assert torch.load(folder / "checkpoint.pt", weights_only=True)["evaluator"] == {"cache": None}


# --- what cannot be rebuilt is refused, naming the file, the line or the argument --------------------
@pytest.fixture
def damaged(tmp_path):
    folder = half_run("reinforce", tmp_path)
    (folder / "checkpoint.pt").unlink()
    return folder


def unchanged(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_history_that_does_not_follow_from_the_config_names_the_line(damaged):
    rows = damaged.joinpath("history.jsonl").read_text().splitlines()
    record = json.loads(rows[5])
    other = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    record["arch"] = other if record["arch"] != other else other.replace("3x3", "1x1")
    rows[5] = json.dumps(record)
    damaged.joinpath("history.jsonl").write_text("\n".join(rows) + "\n")
    before = unchanged(damaged)
    with pytest.raises(RunFolderError, match=r"history\.jsonl' line 6: the replay of config\.json proposes .* does not follow from config\.json"):
        nb.rebuild_checkpoint(damaged, evaluator=FunctionEvaluator(scored))
    assert unchanged(damaged) == before


def test_another_reward_or_config_is_refused(damaged):
    config = json.loads(damaged.joinpath("config.json").read_text())
    config["reward"]["max_params"] = 300.0  # most children now break the constraint: other rewards
    damaged.joinpath("config.json").write_text(json.dumps(config))
    with pytest.raises(RunFolderError, match=r"(history|steps)\.jsonl' line \d+: the repla"):
        nb.rebuild_checkpoint(damaged, evaluator=FunctionEvaluator(scored))
    config["reward"]["max_params"], config["seed"] = None, 99
    damaged.joinpath("config.json").write_text(json.dumps(config))
    with pytest.raises(RunFolderError, match=r"history\.jsonl' line 1: the replay of config\.json proposes"):
        nb.rebuild_checkpoint(damaged, evaluator=FunctionEvaluator(scored))
    assert not damaged.joinpath("checkpoint.pt").exists()


def test_lost_records_and_a_readable_checkpoint_and_stateful_evaluators_are_refused(damaged, tmp_path):
    with pytest.raises(ValueError, match=r"evaluator: this run used a FunctionEvaluator; pass evaluator="):
        nb.rebuild_checkpoint(damaged)

    class Trained(Evaluator):  # keeps state the history does not hold (a supernet's weights)
        def evaluate(self, architectures):
            return [scored(a) for a in architectures]

        def state_dict(self):
            return {"weights": torch.zeros(2)}

    with pytest.raises(ValueError, match=r"evaluator: a Trained keeps state that history\.jsonl does not hold"):
        nb.rebuild_checkpoint(damaged, evaluator=Trained())

    class Stateless(Evaluator):
        def evaluate(self, architectures):
            return [scored(a) for a in architectures]

    nb.rebuild_checkpoint(damaged, evaluator=Stateless())  # no state to rebuild: allowed
    with pytest.raises(ValueError, match=r"checkpoint\.pt' is a readable checkpoint; .*--force"):
        nb.rebuild_checkpoint(damaged, evaluator=FunctionEvaluator(scored))

    copy = tmp_path / "copy"
    shutil.copytree(damaged, copy)
    (copy / "checkpoint.pt").unlink()
    lines = (copy / "history.jsonl").read_text().splitlines()
    (copy / "history.jsonl").write_text("\n".join(lines[:10]) + "\n")  # two records of step 2 lost
    with pytest.raises(RunFolderError, match=r"history\.jsonl': has 10 records but steps\.jsonl counts 12"):
        nb.rebuild_checkpoint(copy, evaluator=FunctionEvaluator(scored))
    with pytest.raises(ValueError, match=r"out_dir: no search in .*nowhere.* \(no config\.json\)"):
        nb.rebuild_checkpoint(tmp_path / "nowhere")
    assert issubclass(FunctionEvaluator, SerialEvaluator)
