"""Child training: learns, repeats under a seed, and turns a failing child into a record."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from nasrl_nb.nn.data import dataset_from_tensors
from nasrl_nb.nn.training import (
    OPTIMIZERS,
    TrainResult,
    accuracy,
    recalibrate_batch_norm,
    train_and_evaluate,
)
from nasrl_nb.runtime import seed_everything

CHANCE = 0.1  # ten balanced digit classes


class Explode(nn.Module):
    """Wraps a net and multiplies its logits by ``inf``: the loss is NaN from the first batch."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x) * math.inf


class RaiseAfter(nn.Module):
    """Wraps a net and raises ``error`` on every forward call after the first ``calls``."""

    def __init__(self, net: nn.Module, error: Exception, calls: int = 0):
        super().__init__()
        self.net, self.error, self.calls = net, error, calls

    def forward(self, x):
        if self.calls <= 0:
            raise self.error
        self.calls -= 1
        return self.net(x)


def seeded_run(data, make_net, *, seed=0, **kwargs) -> TrainResult:
    seed_everything(seed)  # building under the seed fixes the initial weights
    return train_and_evaluate(make_net(), data, seed=seed, device="cpu", **kwargs)


def test_a_small_cnn_learns_digits_well_above_chance(tiny_digits, tiny_cnn):
    # measured: 0.75..0.93 validation accuracy over 20 seeds after 2 epochs on 180 images
    result = seeded_run(tiny_digits, tiny_cnn, epochs=2)
    assert result.status == "ok" and result.reason is None
    assert result.val_accuracy >= 0.5 and result.test_accuracy >= 0.5
    assert result.val_accuracy == result.val_accuracies[-1] and result.epochs == 2
    assert result.train_losses[1] < result.train_losses[0] < math.log(10) + 0.5
    assert result.seconds > 0


def test_the_same_seed_repeats_the_run_exactly_on_cpu(tiny_digits, tiny_cnn):
    a = seeded_run(tiny_digits, tiny_cnn, seed=3, epochs=2)
    b = seeded_run(tiny_digits, tiny_cnn, seed=3, epochs=2)
    c = seeded_run(tiny_digits, tiny_cnn, seed=4, epochs=2)
    assert a.train_losses == b.train_losses and a.val_accuracies == b.val_accuracies
    assert a.test_accuracy == b.test_accuracy
    assert c.train_losses != a.train_losses


def test_the_seed_fixes_the_batch_order_even_for_the_same_initial_weights(tiny_digits, tiny_cnn):
    seed_everything(0)
    net = tiny_cnn()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    first = train_and_evaluate(net, tiny_digits, epochs=1, seed=1, device="cpu")
    net.load_state_dict(state)
    other_order = train_and_evaluate(net, tiny_digits, epochs=1, seed=2, device="cpu")
    net.load_state_dict(state)
    same_order = train_and_evaluate(net, tiny_digits, epochs=1, seed=1, device="cpu")
    assert same_order.train_losses == first.train_losses != other_order.train_losses


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(tiny_digits, tiny_cnn, optimizer):
    lr = 0.1 if optimizer == "sgd" else 0.01
    result = seeded_run(tiny_digits, tiny_cnn, epochs=2, optimizer=optimizer, lr=lr, weight_decay=1e-4)
    assert result.status == "ok" and result.val_accuracy > 2 * CHANCE


def test_on_epoch_is_called_once_per_epoch_with_the_recorded_values(tiny_digits, tiny_cnn):
    calls = []
    result = seeded_run(tiny_digits, tiny_cnn, epochs=3, on_epoch=lambda *args: calls.append(args))
    assert [c[0] for c in calls] == [1, 2, 3]
    assert [c[1] for c in calls] == result.train_losses
    assert [c[2] for c in calls] == result.val_accuracies


def test_an_exception_in_on_epoch_is_the_callers_and_propagates(tiny_digits, tiny_cnn):
    def stop(epoch, loss, acc):
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        seeded_run(tiny_digits, tiny_cnn, epochs=2, on_epoch=stop)


def test_a_diverging_child_fails_with_a_reason_instead_of_raising(tiny_digits, tiny_cnn):
    calls = []
    result = seeded_run(tiny_digits, lambda: Explode(tiny_cnn()), epochs=3, on_epoch=lambda *a: calls.append(a))
    assert result.status == "failed" and not result.ok
    assert result.reason == "diverged: loss is nan at epoch 1"
    assert math.isnan(result.val_accuracy) and math.isnan(result.test_accuracy)
    assert result.epochs == 0 and result.train_losses == [] and calls == []


def test_a_loss_that_turns_infinite_is_reported_as_such(tiny_digits):
    class Huge(nn.Module):  # logit +3e38 for class 0, -3e38 elsewhere: float32 loss overflows to inf
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(()))

        def forward(self, x):
            logits = torch.full((len(x), 10), -3e38)
            logits[:, 0] = 3e38
            return logits + self.w

    data = dataset_from_tensors(torch.rand(40, 1, 2, 2), 1 + torch.arange(40) % 3)
    result = train_and_evaluate(Huge(), data, epochs=2, device="cpu")
    assert result.status == "failed" and result.reason == "diverged: loss is inf at epoch 1"


@pytest.mark.parametrize(
    "error, reason",
    [
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), "RuntimeError: mat1 and mat2 shapes cannot be multiplied"),
        (ValueError("bad child"), "ValueError: bad child"),
        (torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore text"), "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    ],
    ids=["runtime", "value", "oom"],
)
def test_an_exception_in_the_childs_forward_fails_the_run_not_the_caller(tiny_digits, tiny_cnn, error, reason):
    result = seeded_run(tiny_digits, lambda: RaiseAfter(tiny_cnn(), error), epochs=2)
    assert result.status == "failed" and result.reason == reason
    assert math.isnan(result.val_accuracy) and result.epochs == 0


def test_a_failure_in_a_later_epoch_keeps_the_completed_epochs(tiny_digits, tiny_cnn):
    batches = math.ceil(len(tiny_digits.y_train) / 64)
    evaluations = 1  # validation batches per epoch (all 60 images fit in one)
    make = lambda: RaiseAfter(tiny_cnn(), RuntimeError("boom"), calls=batches + evaluations)  # noqa: E731
    result = seeded_run(tiny_digits, make, epochs=3)
    assert result.status == "failed" and result.reason == "RuntimeError: boom"
    assert result.epochs == 1 and len(result.train_losses) == len(result.val_accuracies) == 1


def test_a_net_without_parameters_fails_cleanly(tiny_digits):
    result = train_and_evaluate(nn.Sequential(nn.Flatten()), tiny_digits, epochs=1, device="cpu")
    assert result.status == "failed" and "no trainable parameters" in result.reason


def test_result_to_dict_is_json_serializable_even_when_failed(tiny_digits, tiny_cnn):
    ok = seeded_run(tiny_digits, tiny_cnn, epochs=1).to_dict()
    failed = seeded_run(tiny_digits, lambda: Explode(tiny_cnn()), epochs=1).to_dict()
    assert set(ok) == {"status", "val_accuracy", "test_accuracy", "train_losses", "val_accuracies", "seconds", "epochs", "reason"}
    assert json.loads(json.dumps(ok)) == ok
    assert math.isnan(json.loads(json.dumps(failed))["val_accuracy"])


def test_accuracy_matches_a_direct_count_and_restores_train_mode(tiny_digits, tiny_cnn):
    seed_everything(0)
    net = tiny_cnn()
    net.train()
    with torch.no_grad():
        expected = (net(tiny_digits.X_val).argmax(1) == tiny_digits.y_val).float().mean().item()
    assert accuracy(net, tiny_digits.X_val, tiny_digits.y_val, batch_size=7) == pytest.approx(expected)
    assert net.training
    net.eval()
    accuracy(net, tiny_digits.X_val, tiny_digits.y_val)
    assert not net.training
    assert math.isnan(accuracy(net, tiny_digits.X_val[:0], tiny_digits.y_val[:0]))


def test_evaluation_is_in_eval_mode_so_batch_norm_uses_running_statistics(tiny_digits):
    seed_everything(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(256, 10))
    result = train_and_evaluate(net, tiny_digits, epochs=1, device="cpu")
    net.eval()
    with torch.no_grad():
        expected = (net(tiny_digits.X_test).argmax(1) == tiny_digits.y_test).float().mean().item()
    assert result.test_accuracy == pytest.approx(expected)


@pytest.mark.parametrize(
    "space, arch",
    [
        ("cell", "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"),
        ("macro", None),
    ],
)
def test_child_networks_from_both_spaces_train(tiny_digits, space, arch):
    from nasrl_nb.nn.child_network import ChildNetwork
    from nasrl_nb.spaces.registry import get_space

    s = get_space(space) if space == "cell" else get_space("macro", num_layers=2)
    architecture = s.parse(arch) if arch else s.sample(0)
    make = lambda: ChildNetwork(architecture, tiny_digits.input_shape, tiny_digits.num_classes, channels=8)  # noqa: E731
    result = seeded_run(tiny_digits, make, epochs=2)
    assert result.status == "ok" and result.val_accuracy > CHANCE


def test_batch_norm_recalibration_sets_the_plain_average_of_the_batch_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3))
    net[1].running_mean.fill_(5.0)  # stale statistics from "earlier weights"
    X = torch.randn(8, 1, 4, 4)
    recalibrate_batch_norm(net, X, batch_size=4)
    with torch.no_grad():
        halves = [net[0](X[:4]), net[0](X[4:])]  # (4, 3, 4, 4) each: what the BN layer saw
    mean = torch.stack([h.mean(dim=(0, 2, 3)) for h in halves]).mean(0)  # the plain average over the 2 batches
    var = torch.stack([h.var(dim=(0, 2, 3), unbiased=True) for h in halves]).mean(0)
    assert torch.allclose(net[1].running_mean, mean, atol=1e-6) and torch.allclose(net[1].running_var, var, atol=1e-5)
    assert net[1].momentum == 0.1 and not net[1].training  # momentum put back; the layer uses the new statistics
