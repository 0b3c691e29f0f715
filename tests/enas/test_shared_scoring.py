"""Scoring with shared weights: what the evaluator's accuracy computes, and what it leaves behind."""

from __future__ import annotations

import copy

import pytest
import torch

from nasrl_nb.enas.evaluator import SharedWeightEvaluator
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace


def _trained_evaluator(space, data, **kwargs):
    evaluator = SharedWeightEvaluator(space, data, channels=4, batch_size=32, eval_batch_size=30, device="cpu", seed=0,
                                      **kwargs)
    evaluator.train_shared_weights(20)
    return evaluator


@pytest.mark.parametrize("space", [CellSpace(), MacroSpace(num_layers=3)], ids=["cell", "macro"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_scoring_uses_each_batchs_statistics_and_leaves_the_supernet_as_it_was(tiny_digits, space, mode):
    evaluator = _trained_evaluator(space, tiny_digits)
    net = evaluator.supernet.train(mode == "train")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    flags = [(m.training, getattr(m, "track_running_stats", None)) for m in net.modules()]
    archs = evaluator.sample_uniform(4)
    batch = torch.arange(30)
    scores = [evaluator.accuracy(a, batch=batch) for a in archs]
    whole = [evaluator.accuracy(a) for a in archs]  # two batches of 30 over the 60 validation images
    # the oracle: a copy of the supernet in training mode (batch statistics), batch by batch
    reference = copy.deepcopy(net).train()
    X, y = tiny_digits.X_val, tiny_digits.y_val
    with torch.no_grad():
        expected = [int((reference(X[:30], a).argmax(1) == y[:30]).sum()) / 30 for a in archs]
        expected_whole = [sum(int((reference(X[s:s + 30], a).argmax(1) == y[s:s + 30]).sum()) for s in (0, 30)) / 60
                          for a in archs]
    assert scores == expected and whole == expected_whole and len(set(scores)) > 1
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())  # running statistics untouched
    assert [(m.training, getattr(m, "track_running_stats", None)) for m in net.modules()] == flags  # modes put back


def test_the_scoring_oracle_can_fail_running_statistics_give_other_scores(tiny_digits):
    evaluator = _trained_evaluator(CellSpace(), tiny_digits)
    archs = evaluator.sample_uniform(8)
    X, y = tiny_digits.X_val[:30], tiny_digits.y_val[:30]
    with torch.no_grad():
        running = [int((evaluator.supernet.eval()(X, a).argmax(1) == y).sum()) / 30 for a in archs]
    scores = [evaluator.accuracy(a, batch=torch.arange(30)) for a in archs]
    assert scores != running


@pytest.mark.parametrize("space", [CellSpace(), MacroSpace(num_layers=3)], ids=["cell", "macro"])
def test_bn_recalibration_recomputes_the_statistics_for_the_architecture_and_puts_them_back(tiny_digits, space):
    evaluator = _trained_evaluator(space, tiny_digits, bn_calibration=50)  # batches of 30: 30 + 20 images
    net = evaluator.supernet
    state = {k: v.clone() for k, v in net.state_dict().items()}
    arch = evaluator.sample_uniform(1)[0]
    images = tiny_digits.X_train[torch.randperm(len(tiny_digits.y_train), generator=torch.Generator().manual_seed(0))[:50]]
    stem_bn = net.features[0][1] if space.name == "cell" else net.stem[1]
    with torch.no_grad():
        conv = (net.features[0][0] if space.name == "cell" else net.stem[0])
        means = [conv(images[s:e]).mean(dim=(0, 2, 3)) for s, e in ((0, 30), (30, 50))]
    with evaluator.recalibrated(arch):
        assert not stem_bn.training
        torch.testing.assert_close(stem_bn.running_mean, (means[0] + means[1]) / 2)  # the mean of the two batches' means
        with torch.no_grad():
            expected = int((net(tiny_digits.X_val, arch).argmax(1) == tiny_digits.y_val).sum()) / 60
    assert evaluator.accuracy(arch) == expected  # accuracy scores with the recalibrated statistics
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())  # the supernet's own are back
    assert stem_bn.training and stem_bn.momentum == 0.1


def test_bn_recalibration_changes_the_scores_and_bad_values_are_refused(tiny_digits):
    plain = _trained_evaluator(CellSpace(), tiny_digits)
    calibrated = _trained_evaluator(CellSpace(), tiny_digits, bn_calibration=120)
    archs = plain.sample_uniform(6)
    assert [plain.accuracy(a) for a in archs] != [calibrated.accuracy(a) for a in archs]
    assert calibrated.config()["bn_calibration"] == 120
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=r"bn_calibration: must be an integer >= 0"):
            SharedWeightEvaluator(CellSpace(), tiny_digits, bn_calibration=bad)
