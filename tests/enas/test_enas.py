"""ENAS and random search with weight sharing through the one search loop: records, resume, CLI, derive."""

from __future__ import annotations

import json

import pytest
import torch

from nasrl_nb.assembly.config import SearchConfig
from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.assembly.result import result
from nasrl_nb.cli.commands import main
from nasrl_nb.enas.evaluator import SharedWeightEvaluator
from nasrl_nb.enas.ranking import ranking_quality
from nasrl_nb.enas.strategy import (
    ENAS_CONTROLLER_STEPS,
    ENAS_PAPER_TRAINER,
    ENAS_TRAINER,
    EnasStrategy,
    RandomWeightSharing,
    derive,
)
from nasrl_nb.spaces.cell_space import CellSpace

# a tiny, fast search: 180 training images, 1-2 shared-weight minibatches per step, 4 channels, the
# shared weights trained before every step (controller_steps=1; ENAS's default ratio: test_enas_as_trained.py)
TINY = {"dataset": "digits", "max_samples": 300, "channels": 4, "supernet_train_steps": 2, "device": "cpu",
        "progress": False, "batch_size": 4, "supernet_batch_size": 32, "eval_batch_size": 30, "controller_steps": 1}


def _rows(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_enas_runs_in_the_search_loop_with_shared_weight_records(tmp_path):
    search = make_search("enas", "cell", budget=8, seed=1, out_dir=tmp_path / "run", **TINY)
    assert isinstance(search.strategy, EnasStrategy) and isinstance(search.evaluator, SharedWeightEvaluator)
    assert search.evaluator.sampler == search.strategy.sample_for_training  # phase 1 samples from the controller
    summary = search.run()
    assert summary["method"] == "enas" and summary["evaluations"] == 8 and len(search.history) == 8
    for row in search.history:
        assert row["shared_weights"] is True and 0 <= row["val_accuracy"] <= 1 and row["params"] > 0
        assert row["supernet_steps"] in (2, 4) and row["supernet_loss"] > 0
    assert search.evaluator.steps == 4 and len(search.evaluator.losses) == 2  # two steps of 2 minibatches
    steps = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert len(steps) == 2 and steps[0]["baseline"] is not None  # REINFORCE updated on the shared-weight rewards
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["evaluator"] == "SharedWeightEvaluator" and config["supernet"]["train_steps"] == 2
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    supernet = state["evaluator"]["supernet"]
    assert all(torch.equal(supernet[k], v.cpu()) for k, v in search.evaluator.supernet.state_dict().items())


def test_enas_starts_from_the_papers_controller_settings_and_keeps_overrides():
    config = SearchConfig.from_settings(method="enas")
    assert (config.controller.temperature, config.controller.tanh_constant) == (5.0, 2.5)
    assert (config.trainer.baseline_decay, config.trainer.normalize_advantages, config.trainer.entropy_weight) == (0.99, False, 1e-4)
    assert config.trainer.lr == ENAS_TRAINER["lr"] == 1e-2 and ENAS_PAPER_TRAINER["lr"] == 3.5e-4  # a lab's budget; the paper's preset
    assert config.supernet.controller_steps == ENAS_CONTROLLER_STEPS == 10  # many controller steps per phase 1
    assert SearchConfig.from_settings(method="random_ws").supernet.controller_steps == 1
    assert SearchConfig.from_settings(method="reinforce").controller.temperature == 1.0  # others unchanged
    search = make_search("enas", "cell", budget=4, controller_kwargs={"temperature": 2.0}, **TINY)
    assert search.strategy.controller.temperature == 2.0 and search.strategy.trainer.baseline_decay == 0.99


@pytest.mark.parametrize(("method", "space"), [("enas", "cell"), ("random_ws", "macro")])
def test_an_interrupted_and_resumed_search_equals_an_uninterrupted_one(tmp_path, method, space):
    whole = make_search(method, space, budget=12, seed=5, out_dir=tmp_path / "whole", **TINY)
    whole.run()
    part = make_search(method, space, budget=4, seed=5, out_dir=tmp_path / "part", **TINY)
    part.run()
    del part
    resumed = resume_search(tmp_path / "part", budget=12)
    assert resumed.evaluator.steps == 2  # the supernet came back from the checkpoint
    resumed.run()
    assert _rows(resumed.history) == _rows(whole.history)
    assert all(torch.equal(a, b) for a, b in zip(resumed.evaluator.supernet.state_dict().values(),
                                                whole.evaluator.supernet.state_dict().values()))


def test_a_step_interrupted_inside_the_supernet_training_is_redone_exactly():
    whole = make_search("enas", "cell", budget=8, seed=2, **TINY)
    whole.run()
    search = make_search("enas", "cell", budget=8, seed=2, **TINY)
    search.step()
    sampler, calls = search.evaluator.sampler, []

    def interrupting(n):
        calls.append(n)
        raise KeyboardInterrupt

    search.evaluator.sampler = interrupting
    with pytest.raises(KeyboardInterrupt):
        search.step()
    assert calls and search.evaluations == 4
    search.evaluator.sampler = sampler
    search.run()
    assert _rows(search.history) == _rows(whole.history)


def test_random_ws_samples_uniformly_and_shared_training_learns(tiny_digits):
    torch.manual_seed(0)
    evaluator = SharedWeightEvaluator(CellSpace(), tiny_digits, channels=8, batch_size=32, device="cpu", seed=0)
    archs = evaluator.sample_uniform(6)
    before = [evaluator.accuracy(a) for a in archs]
    stats = evaluator.train_shared_weights(60, sampler=evaluator.sample_uniform)
    after = [evaluator.accuracy(a) for a in archs]
    assert stats["steps"] == 60 and evaluator.steps == 60
    assert sum(after) / 6 > max(0.25, sum(before) / 6 + 0.1)  # the shared weights learned digits (chance: 0.1)
    strategy = RandomWeightSharing(CellSpace(), seed=0)
    assert len(set(strategy.sample_for_training(40))) > 30  # uniform over 15,625 cells: few repeats
    fair = evaluator.sample_fair(10)  # two runs of K = 5: every op on every edge once in each
    for run in (fair[:5], fair[5:]):
        assert all(sorted(column) == sorted(CellSpace().ops) for column in zip(*(a.choices for a in run)))


def test_derive_ranks_candidates_by_shared_weight_accuracy_on_the_whole_split():
    search = make_search("enas", "cell", budget=4, seed=0, **TINY)
    search.run()
    generator_state = search.strategy.controller.generator.get_state()
    buffers = {k: v.clone() for k, v in search.evaluator.supernet.state_dict().items()}
    ranked = derive(search, num_candidates=12, seed=3)
    accuracies = [row["shared_accuracy"] for row in ranked]
    assert accuracies == sorted(accuracies, reverse=True)
    assert len({row["arch"] for row in ranked}) == len(ranked) <= 12
    assert ranked[0]["shared_accuracy"] == search.evaluator.accuracy(ranked[0]["arch"], "val")
    assert derive(search, num_candidates=12, seed=3) == ranked  # seeded
    assert torch.equal(search.strategy.controller.generator.get_state(), generator_state)  # search streams untouched
    assert all(torch.equal(v, buffers[k]) for k, v in search.evaluator.supernet.state_dict().items())


def test_bad_input_names_the_field(tiny_digits):
    with pytest.raises(ValueError, match="evaluator_kind: 'process' is not allowed for method 'enas'"):
        make_search("enas", "cell", budget=4, evaluator="process", workers=2, **TINY)
    with pytest.raises(ValueError, match="supernet.warmup_steps: must be an integer >= 0"):
        SearchConfig.from_settings(method="enas", warmup_steps=-1)
    with pytest.raises(ValueError, match=r"^trainer_kwargs: only for methods reinforce, .*, enas; method 'random_ws' does not use it$"):
        make_search("random_ws", "cell", budget=4, trainer_kwargs={"lr": 0.1}, **TINY)
    with pytest.raises(ValueError, match="search: expected a search with a SharedWeightEvaluator"):
        derive(make_search("random", "cell", budget=4, dataset=tiny_digits, progress=False))
    with pytest.raises(ValueError, match="momentum: must be a number in"):
        SharedWeightEvaluator(CellSpace(), tiny_digits, momentum=1.5)


def test_cli_search_enas_writes_the_run_folder_resumes_and_exports(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["search", "--method", "enas", "--space", "cell", "--channels", "4", "--max-samples", "200",
            "--supernet-steps", "1", "--batch", "2", "--device", "cpu", "--quiet", "--out", out]
    assert main([*args, "--budget", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "enas"
    assert main(["search", "--resume", "--budget", "4", "--out", out, "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["evaluations"] == 4 and summary["evaluator"]["kind"] == "SharedWeightEvaluator"
    assert len((tmp_path / "run" / "history.jsonl").read_text().splitlines()) == 4
    assert main(["export", out]) == 0
    source = capsys.readouterr().out
    assert "class ExportedNet" in source and f"ARCHITECTURE = {json.dumps(result(out).arch)}" in source  # derived


def test_ranking_quality_reports_kendall_and_spearman():
    quality = ranking_quality([0.1, 0.5, 0.3, 0.9], [0.2, 0.6, 0.4, 0.8])
    assert quality == {"kendall_tau": 1.0, "spearman_rho": pytest.approx(1.0), "n": 4}
    # one swapped pair of four: tau (5 - 1) / 6, rho 1 - 6 * 2 / (4 * 15)
    quality = ranking_quality([0.1, 0.5, 0.3, 0.9], [0.2, 0.4, 0.6, 0.8])
    assert quality["kendall_tau"] == pytest.approx(4 / 6) and quality["spearman_rho"] == pytest.approx(0.8)


def test_plots_of_supernet_loss_and_shared_vs_true_accuracy():
    from nasrl_nb.viz.enas_plots import plot_shared_vs_true, plot_supernet_loss, supernet_losses

    history = [{"step": 0, "supernet_loss": 2.3}, {"step": 0, "supernet_loss": 2.3}, {"step": 1, "supernet_loss": 1.7}]
    assert supernet_losses(history) == ([0, 1], [2.3, 1.7])
    fig = plot_supernet_loss(history)
    assert list(fig.axes[0].lines[0].get_ydata()) == [2.3, 1.7]
    fig = plot_shared_vs_true([0.2, 0.5, 0.4, 0.9], [0.3, 0.6, 0.5, 0.8], highlight=3)
    assert "Kendall tau 1.00" in fig.axes[0].get_title() and len(fig.axes[0].collections) == 2
