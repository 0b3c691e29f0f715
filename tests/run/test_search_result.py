"""The result a search hands over, and reading every record in the space it was sampled in.

DARTS's result is the cell derived from the final alphas, not the best-scored epoch; ENAS's is
derived after the search from the trained supernet; the other methods hand over the best child
by reward. A curriculum run's shallow records export, replay and are analysed in their own space.
"""

from __future__ import annotations

import itertools
import json
import runpy

import pytest
import torch

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.assembly.result import result
from nasrl_nb.bench import analysis
from nasrl_nb.cli.commands import main
from nasrl_nb.enas.strategy import derive
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.nn.data import load_dataset
from nasrl_nb.run.folder import load_run
from nasrl_nb.run.result import summary_result
from nasrl_nb.run.summary import RunTally
from nasrl_nb.spaces.macro_space import MacroSpace


def exported_architecture(source: str) -> str:
    namespace: dict = {}
    exec(compile(source, "exported.py", "exec"), namespace)  # the file runs and defines its constants
    return namespace["ARCHITECTURE"], namespace["SEARCH_RESULT"]


# --- DARTS: the last derived cell ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def darts_run(tmp_path_factory):
    """A real 3-epoch DARTS search whose first epoch's cell scores best (the evaluator's scores fall)."""
    out = tmp_path_factory.mktemp("darts") / "run"
    scores = itertools.count()
    evaluator = FunctionEvaluator(lambda arch: {"val_accuracy": 0.9 / (1 + next(scores))}, cache=False)
    data = load_dataset("digits", seed=0, max_samples=300)
    search = make_search(method="darts", dataset=data, evaluator=evaluator, budget=3, channels=2, seed=3,
                         darts_kwargs={"batch_size": 45, "alpha_lr": 0.05}, out_dir=out, progress=False)
    summary = search.run()
    summary["evaluator"] = {"input_shape": [1, 8, 8], "num_classes": 10, "child_kwargs": {"channels": 2}}
    (out / "summary.json").write_text(json.dumps(summary))  # the FunctionEvaluator records no child settings
    return out, search


def test_darts_exports_the_cell_derived_from_the_final_alphas(darts_run, capsys):
    out, search = darts_run
    history = load_run(out).history
    assert history[0]["arch"] != history[-1]["arch"]  # the alphas moved: the two rules can disagree
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_evaluation"] == 0 and summary["best_arch"] == history[0]["arch"]
    assert summary["result"]["rule"] == "last" and summary["result"]["evaluation"] == 2
    assert summary["result"]["arch"] == history[-1]["arch"] == str(search.strategy.supernet.derive())
    architecture, metadata = exported_architecture(result(out).to_pytorch())
    assert architecture == history[-1]["arch"]
    assert metadata["method"] == "darts" and metadata["rule"] == "last" and "final alphas" in metadata["description"]
    assert main(["export", str(out), "--out", str(out / "net.py")]) == 0
    assert "the darts search's result: the last proposed architecture (DARTS: the cell derived from the final " \
           "alphas), evaluation 3" in capsys.readouterr().err
    assert exported_architecture((out / "net.py").read_text())[0] == history[-1]["arch"]


def test_other_methods_hand_over_the_best_by_reward():
    rows = [{"arch": a, "status": "ok", "reward": r, "val_accuracy": r, "step": 0, "evaluation": k}
            for k, (a, r) in enumerate([("a", 0.2), ("b", 0.9), ("c", 0.5)])]
    tally = RunTally(rows)
    assert summary_result("best_reward", tally)["arch"] == "b" and summary_result("last", tally)["arch"] == "c"
    assert summary_result("derive", tally)["arch"] is None
    with pytest.raises(ValueError, match="result_rule: 'first' is not allowed; allowed values: best_reward, last, derive"):
        summary_result("first", tally)
    space = MacroSpace(num_layers=2, vocab={"layer_type": ["conv1x1", "conv5x5"]})
    search = make_search("random", space, None, evaluator=FunctionEvaluator(lambda a: a.choices.count("conv5x5") / 2),
                         budget=4, batch_size=2, progress=False)
    summary = search.run()
    assert summary["result"]["rule"] == "best_reward" and summary["result"]["arch"] == summary["best_arch"]
    assert result(search).arch == summary["best_arch"]


# --- ENAS: derived from the trained supernet ----------------------------------------------------------------------
def test_enas_export_writes_the_derived_architecture(tmp_path, capsys):
    out = tmp_path / "run"
    tiny = {"dataset": "digits", "max_samples": 300, "channels": 4, "supernet_train_steps": 2, "device": "cpu",
            "progress": False, "batch_size": 4, "supernet_batch_size": 32, "eval_batch_size": 30}
    search = make_search("enas", "cell", budget=8, seed=1, out_dir=out, **tiny)
    summary = search.run()
    assert summary["result"]["rule"] == "derive" and summary["result"]["arch"] is None
    expected = derive(search, num_candidates=100, seed=0)[0]
    derived = result(out)  # rebuilt from config.json and checkpoint.pt
    assert derived.arch == str(expected["arch"]) and derived.record["shared_accuracy"] == expected["shared_accuracy"]
    assert derived.top[0] == {"arch": derived.arch, "shared_accuracy": expected["shared_accuracy"]}
    assert result(search).arch == derived.arch
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    architecture, metadata = exported_architecture(result(out).to_pytorch())
    assert architecture == derived.arch and metadata["rule"] == "derive" and metadata["candidates"] >= 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # deriving changed nothing in the folder
    assert exported_architecture(result(search).to_pytorch())[0] == derived.arch
    with pytest.raises(ValueError, match="the result of the enas search is ranked after the search .* needs the trained"):
        result(summary).to_pytorch()
    assert main(["export", str(out)]) == 0
    assert "the enas search's result: ranked after the search" in capsys.readouterr().err


# --- the curriculum: every record in its own stage's space -----------------------------------------------------------
@pytest.fixture(scope="module")
def curriculum_run(tmp_path_factory):
    """A curriculum search (1 -> 2 -> 3 layers) whose reward is the complexity alone: the best child is a 1-layer one."""
    out = tmp_path_factory.mktemp("curriculum") / "run"
    space = MacroSpace(num_layers=3, vocab={"activation": ["relu", "tanh"]}, filters=4)  # depth alone sets the size
    search = make_search("reinforce", space, "digits", budget=6, batch_size=2, seed=0, curriculum=True, epochs=1,
                         channels=4, max_samples=120, device="cpu", reward="multi", reward_weights=[0.0, 0.0, 1.0],
                         reference_params=1e6, out_dir=out, progress=False)
    search.run()
    return out, search


def test_curriculum_records_carry_their_stage_space(curriculum_run):
    out, search = curriculum_run
    history = load_run(out).history
    assert [len(json.loads(r["arch"])) for r in history] == [1, 1, 2, 2, 3, 3]
    assert [(r.get("space") or {}).get("num_layers") for r in history] == [1, 1, 2, 2, None, None]
    summary = json.loads((out / "summary.json").read_text())
    assert len(json.loads(summary["best_arch"])) == 1 and summary["best_space"]["num_layers"] == 1
    assert summary["result"]["space"] == summary["best_space"]


def test_a_shallow_best_child_of_a_curriculum_exports(curriculum_run, tmp_path):
    out, _ = curriculum_run
    summary = json.loads((out / "summary.json").read_text())
    architecture, _ = exported_architecture(result(out).to_pytorch())
    assert architecture == summary["best_arch"]
    path = tmp_path / "net.py"
    result(out).to_pytorch(path)
    net = runpy.run_path(str(path))["ExportedNet"]().eval()  # the file needs only torch
    assert tuple(net(torch.randn(2, 1, 8, 8)).shape) == (2, 10)
    assert "self.layer0_op" in path.read_text() and "self.layer1_op" not in path.read_text()


def test_a_curriculum_run_replays_and_is_analysed(curriculum_run):
    from nasrl_nb.widgets.common import placeholder_png
    from nasrl_nb.widgets.replay import ReplayViewer

    out, search = curriculum_run
    viewer = ReplayViewer(out)
    for steps in (1, 2, 3):  # after each stage: the latest child has 1, 2, 3 layers
        viewer.show(steps)  # raises if a record cannot be read (the slider's callback would only log it)
        assert viewer.state.upto(steps).latest_architecture().space.num_layers == steps
    assert viewer.images["architecture"].value != placeholder_png("no architecture panel at this step")
    drift = analysis.proposal_drift(load_run(out).history, search.space, windows=3)
    assert drift["choice_share"].shape == (3, len(search.space.decisions), 2)
    assert drift["choice_share"][0, :1].sum() == pytest.approx(1.0)  # layer 0 exists in every window
    assert drift["choice_share"][0, 1:].sum() == 0.0  # layers 1 and 2 do not exist yet in the first window
    assert drift["distance"][0] >= 0 and drift["reference"] in [r["arch"] for r in search.history]


def test_a_live_export_is_what_the_cli_writes_for_a_reward_ranked_search(tmp_path):
    out = tmp_path / "run"
    search = make_search("random", MacroSpace(num_layers=2), "digits", budget=2, batch_size=2, epochs=1,
                         max_samples=100, channels=4, progress=False, out_dir=out)
    search.run()
    source = result(search).to_pytorch()  # the dashboard's Export
    assert source == result(out).to_pytorch() == result(search.summary()).to_pytorch()  # `nasrl-nb export`, the summary
    assert exported_architecture(source)[1]["rule"] == "best_reward"
