"""Run folders saved before the renames of issue 21 (NASController -> LSTMController, ...) still
resume: the checkpoints name no class, only tensors and plain data, so no alias is needed.

``data/reinforce-lstm`` and ``data/ppo-attention``: one step (4 of 8 evaluations) on digits-cell,
saved at commit 5e6661c by ``make_search(method, "cell", None, evaluator=TabularEvaluator(bench,
seed=1), budget=8, batch_size=4, seed=1, controller=kind, controller_kwargs={"hidden_size": 8})``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.controllers.lstm import Controller

DATA = Path(__file__).parent / "data"


def rows(path):
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name, method, kind", [("reinforce-lstm", "reinforce", "lstm"), ("ppo-attention", "ppo", "attention")])
def test_a_checkpoint_saved_before_the_renames_resumes_exactly(tmp_path, name, method, kind):
    bench = TabularBenchmark.load("bench:digits-cell")
    folder = tmp_path / name
    shutil.copytree(DATA / name, folder)
    saved = torch.load(folder / "checkpoint.pt", weights_only=True)["strategy"]["trainer"]["controller"]
    resumed = resume_search(folder, evaluator=TabularEvaluator(bench, seed=1))
    controller = resumed.strategy.controller
    assert isinstance(controller, Controller) and resumed.evaluations == 4
    assert all(torch.equal(controller.state_dict()[k], v) for k, v in saved.items() if isinstance(v, torch.Tensor))
    resumed.run()
    fresh = make_search(method, "cell", None, evaluator=TabularEvaluator(bench, seed=1), budget=8, batch_size=4, seed=1,
                        controller=kind, controller_kwargs={"hidden_size": 8}, out_dir=tmp_path / "fresh", progress=False)
    fresh.run()
    assert rows(folder / "history.jsonl") == rows(tmp_path / "fresh" / "history.jsonl")
    assert len(rows(folder / "history.jsonl")) == 8
