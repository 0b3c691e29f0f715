"""ENAS as the paper trained it (Pham et al. 2018, Sec. 2.2 and 3.2), checked through a real search.

What each phase reads: phase 1 trains the shared weights on *training* minibatches through the
architectures the *controller* samples; the reward scores each proposal on a *validation*
minibatch. The shared weights follow SGDR's cosine schedule; the controller takes
``controller_steps`` updates per phase 1.
"""

from __future__ import annotations

import math

import pytest
import torch

from nasrl_nb.assembly.config import SearchConfig
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.enas.evaluator import SharedWeightEvaluator, sgdr_lr
from nasrl_nb.nn.data import Dataset
from nasrl_nb.spaces.cell_space import CellSpace

SETTINGS = {"channels": 4, "device": "cpu", "progress": False, "supernet_batch_size": 16, "eval_batch_size": 20,
            "policy_snapshots": False}


def _noise_data(seed: int = 0) -> Dataset:
    """Gaussian images: no image is in two splits, so an input row names the split it came from."""
    g = torch.Generator().manual_seed(seed)

    def split(n):
        return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)

    (X_train, y_train), (X_val, y_val), (X_test, y_test) = split(96), split(40), split(20)
    return Dataset("noise", X_train, y_train, X_val, y_val, X_test, y_test, num_classes=10)


def _rows(X: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in X.detach().cpu()}


class SupernetSpy:
    """Wraps a supernet's forward: records each call's inputs, architecture and phase.

    Phase 1 runs with gradients; the reward is computed under ``inference_mode``.
    """

    def __init__(self, supernet):
        self.calls: list[dict] = []
        forward = supernet.forward

        def spy(x, arch):
            phase = "score" if torch.is_inference_mode_enabled() else "train"
            self.calls.append({"phase": phase, "rows": _rows(x), "arch": arch})
            return forward(x, arch)

        supernet.forward = spy

    def of(self, phase: str) -> list[dict]:
        return [c for c in self.calls if c["phase"] == phase]


def test_phase_one_trains_on_training_minibatches_and_the_reward_reads_validation_minibatches():
    data = _noise_data()
    search = make_search("enas", "cell", data, budget=8, batch_size=4, seed=0, supernet_train_steps=3, **SETTINGS)
    spy = SupernetSpy(search.evaluator.supernet)
    step = search.step()
    train, val = _rows(data.X_train), _rows(data.X_val)
    trained, scored = spy.of("train"), spy.of("score")
    assert len(trained) == 3 and len(scored) == 4
    assert all(c["rows"] <= train and not c["rows"] & val for c in trained)  # phase 1: training split only
    assert all(c["rows"] <= val and not c["rows"] & train for c in scored)  # the reward: validation split only
    assert all(len(c["rows"]) == 20 for c in scored)  # one validation minibatch (eval_batch_size) per proposal
    assert [c["arch"] for c in scored] == step.architectures  # each proposal scored once, in order
    # the reward the controller learns from is that minibatch's accuracy
    assert all(0 <= r["val_accuracy"] <= 1 and r["val_accuracy"] * 20 == round(r["val_accuracy"] * 20)
               for r in step.results)


def test_phase_one_trains_the_controllers_samples():
    search = make_search("enas", "cell", _noise_data(), budget=8, batch_size=4, seed=0, supernet_train_steps=5,
                         **SETTINGS)
    controller = search.strategy.controller
    drawn: list[list] = []
    sample = controller.sample

    def recording(*args, **kwargs):
        out = sample(*args, **kwargs)
        drawn.append(list(out.architectures))
        return out

    controller.sample = recording
    spy = SupernetSpy(search.evaluator.supernet)
    search.step()
    trained = [c["arch"] for c in spy.of("train")]
    assert len(trained) == 5 and trained in drawn  # one controller draw of 5: exactly the architectures trained


def test_a_peaked_controller_trains_its_mode_in_phase_one():
    """The distribution check: a controller that puts (almost) all its mass on one cell makes
    phase 1 train that cell only; uniform sampling would draw it with probability 5**-6."""
    search = make_search("enas", "cell", _noise_data(), budget=4, batch_size=2, seed=0, supernet_train_steps=8,
                         controller_kwargs={"temperature": 1.0, "tanh_constant": None}, **SETTINGS)
    space = search.space
    with torch.no_grad():
        for head in search.strategy.controller.heads.values():
            head.bias[2] = 50.0  # option 2 on every edge
    mode = space.from_indices([2] * len(space.decisions))
    spy = SupernetSpy(search.evaluator.supernet)
    step = search.step()
    assert step.architectures == [mode, mode]
    assert [c["arch"] for c in spy.of("train")] == [mode] * 8


def test_random_ws_trains_uniform_architectures_not_the_proposals():
    search = make_search("random_ws", "cell", _noise_data(), budget=8, batch_size=4, seed=0, supernet_train_steps=40,
                         **SETTINGS)
    spy = SupernetSpy(search.evaluator.supernet)
    search.step()
    assert len({c["arch"] for c in spy.of("train")}) > 30  # 40 draws from 15,625 cells


# --- the shared weights' learning rate: SGDR (ENAS Sec. 3.2) -------------------------------------
def test_sgdr_follows_its_formula_with_warm_restarts():
    kw = {"lr_max": 0.05, "lr_min": 0.001, "t0": 10, "t_mul": 2}
    assert sgdr_lr(0, **kw) == 0.05
    assert sgdr_lr(5, **kw) == pytest.approx(0.001 + 0.049 * 0.5)  # half way down the first cycle
    assert sgdr_lr(9.999, **kw) == pytest.approx(0.001, abs=1e-6)
    assert sgdr_lr(10, **kw) == 0.05  # restart; the second cycle lasts 20 epochs
    assert sgdr_lr(20, **kw) == pytest.approx(0.001 + 0.049 * 0.5)
    assert sgdr_lr(30, **kw) == 0.05 and sgdr_lr(70, **kw) == 0.05  # cycles of 10, 20, 40
    for epoch in (0.3, 2.5, 13.0, 41.0):  # against the closed form T_cur / T_i
        t_i, t_cur = 10.0, epoch
        while t_cur >= t_i:
            t_cur, t_i = t_cur - t_i, 2 * t_i
        assert sgdr_lr(epoch, **kw) == pytest.approx(0.001 + 0.5 * 0.049 * (1 + math.cos(math.pi * t_cur / t_i)))


def test_the_shared_weights_follow_the_cosine_by_default_and_a_constant_on_request():
    data = _noise_data()
    evaluator = SharedWeightEvaluator(CellSpace(), data, channels=4, batch_size=16, device="cpu", seed=0, lr_t0=1.0)
    assert evaluator.lr_schedule == "cosine" and evaluator.epoch_steps == 6  # 96 images / 16
    seen = []
    step = evaluator.optimizer.step

    def recording(*args, **kwargs):
        seen.append(evaluator.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    evaluator.optimizer.step = recording
    evaluator.train_shared_weights(9)  # 1.5 epochs: one cycle of 1 epoch, then half of the next (2 epochs)
    expected = [sgdr_lr(k / 6, lr_max=0.05, lr_min=0.001, t0=1.0, t_mul=2.0) for k in range(9)]
    assert seen == pytest.approx(expected) and seen[0] == 0.05 and seen[5] < 0.005 and seen[6] == 0.05
    constant = SharedWeightEvaluator(CellSpace(), data, channels=4, batch_size=16, device="cpu", seed=0,
                                     lr_schedule="constant")
    constant.train_shared_weights(9)
    assert constant.optimizer.param_groups[0]["lr"] == 0.05


def test_the_paper_values_are_the_defaults_and_written_to_the_config():
    config = SearchConfig.from_settings(method="enas").supernet
    assert (config.lr, config.lr_min, config.lr_t0, config.lr_t_mul, config.lr_schedule) == (0.05, 0.001, 10.0, 2.0, "cosine")
    search = make_search("random_ws", "cell", _noise_data(), budget=4, batch_size=2, **SETTINGS)
    written = search.config_dict()["supernet"]
    assert written["lr_schedule"] == "cosine" and written["controller_steps"] == 1
    assert search.evaluator.config()["lr_schedule"] == "cosine"


# --- controller updates per shared-weight phase ----------------------------------------------------
def test_controller_steps_score_with_fixed_weights_between_phases():
    search = make_search("enas", "cell", _noise_data(), budget=24, batch_size=4, seed=0, supernet_train_steps=3,
                         controller_steps=3, **SETTINGS)
    weights = []
    for step in search:
        weights.append({k: v.clone() for k, v in search.evaluator.supernet.state_dict().items()})
        assert step.stats["baseline"] is not None or step.step == 0  # every step is one controller update
    assert search.evaluator.steps == 6 and len(search.evaluator.losses) == 2  # phases before steps 0 and 3
    same = [all(torch.equal(a[k], b[k]) for k in a) for a, b in zip(weights, weights[1:])]
    assert same == [True, True, False, True, True]  # w fixed within a phase 2 of 3 controller steps
    losses = [search.history[4 * s]["supernet_loss"] for s in range(6)]
    assert [loss is not None for loss in losses] == [True, False, False, True, False, False]
    assert [search.history[4 * s]["supernet_steps"] for s in range(6)] == [3, 3, 3, 6, 6, 6]


def test_controller_steps_survive_a_resume(tmp_path):
    from nasrl_nb.assembly.factory import resume_search

    data = _noise_data()
    whole = make_search("enas", "cell", data, budget=20, batch_size=4, seed=3, supernet_train_steps=2,
                        controller_steps=3, **SETTINGS)
    whole.run()
    part = make_search("enas", "cell", data, budget=8, batch_size=4, seed=3, supernet_train_steps=2,
                       controller_steps=3, out_dir=tmp_path / "run", **SETTINGS)
    part.run()
    resumed = resume_search(tmp_path / "run", budget=20, dataset=data)
    resumed.run()
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in whole.history]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history] == strip
    assert resumed.evaluator.steps == whole.evaluator.steps == 4


def test_bad_schedule_and_ratio_settings_name_the_field():
    data = _noise_data()
    with pytest.raises(ValueError, match="lr_schedule: 'step' is not allowed; allowed values: cosine, constant"):
        SharedWeightEvaluator(CellSpace(), data, lr_schedule="step")
    with pytest.raises(ValueError, match="lr_min: must be a finite number >= 0"):
        SharedWeightEvaluator(CellSpace(), data, lr_min=-0.1)
    small = SharedWeightEvaluator(CellSpace(), data, lr=1e-4)  # the default floor 0.001 is capped at lr
    assert small.current_lr() == 1e-4
    with pytest.raises(ValueError, match="lr_t_mul: must be a finite number >= 1"):
        SharedWeightEvaluator(CellSpace(), data, lr_t_mul=0.5)
    with pytest.raises(ValueError, match="controller_steps"):
        SharedWeightEvaluator(CellSpace(), data, controller_steps=0)
    with pytest.raises(ValueError, match="supernet.controller_steps"):
        SearchConfig.from_settings(method="enas", controller_steps=0)
    with pytest.raises(ValueError, match="supernet.lr_t_mul: must be a finite number >= 1"):
        SearchConfig.from_dict({**SearchConfig().to_dict(), "supernet": {**SearchConfig().to_dict()["supernet"], "lr_t_mul": 0.5}})
    with pytest.raises(ValueError, match="supernet.lr_schedule: 'linear' is not allowed"):
        SearchConfig.from_settings(method="enas", supernet_lr_schedule="linear")


def test_cli_controller_steps_reaches_the_config(tmp_path, capsys):
    import json

    from nasrl_nb.cli.commands import main

    out = tmp_path / "run"
    assert main(["search", "--method", "enas", "--channels", "4", "--max-samples", "200", "--supernet-steps", "1",
                 "--batch", "2", "--budget", "6", "--controller-steps", "2", "--device", "cpu", "--quiet",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    config = json.loads((out / "config.json").read_text())
    assert config["supernet"]["controller_steps"] == 2 and config["supernet"]["lr_schedule"] == "cosine"
    losses = [json.loads(line)["supernet_loss"] for line in (out / "history.jsonl").read_text().splitlines()]
    assert [loss is not None for loss in losses] == [True, True, False, False, True, True]  # steps 0 and 2 train
