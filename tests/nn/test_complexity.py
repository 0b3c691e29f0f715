"""Complexity measures: FLOPs against the textbook convolution formula, exact parameter counts,
and measurement that leaves the module exactly as it found it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nasrl_nb.nn.complexity import count_flops, count_parameters, measure_latency_ms


def _conv_flops(c_in, c_out, k, h_out, w_out, groups=1):
    """Multiply-adds of a convolution, 2 FLOPs each; the bias is not counted."""
    return 2 * (c_in // groups) * c_out * k * k * h_out * w_out


@pytest.mark.parametrize(("conv", "shape", "out_hw"), [
    (nn.Conv2d(3, 8, 3, padding=1), (3, 10, 12), (10, 12)),
    (nn.Conv2d(3, 8, 3, padding=1, bias=False), (3, 10, 12), (10, 12)),
    (nn.Conv2d(4, 6, 5, stride=2), (4, 11, 9), (4, 3)),
    (nn.Conv2d(4, 8, 3, padding=1, groups=2), (4, 6, 6), (6, 6)),
])
def test_conv_flops_match_the_formula(conv, shape, out_hw):
    k = conv.kernel_size[0]
    expected = _conv_flops(conv.in_channels, conv.out_channels, k, *out_hw, groups=conv.groups)
    assert count_flops(conv, shape) == expected


def test_only_convs_and_matmuls_are_counted():
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 3 * 3, 7),
    )
    assert count_flops(net, (2, 6, 6)) == _conv_flops(2, 4, 3, 6, 6) + 2 * 36 * 7


def test_shared_parameters_are_counted_once():
    layer = nn.Linear(5, 5)
    assert count_parameters(nn.Sequential(layer, nn.Tanh(), layer)) == 5 * 5 + 5
    assert count_parameters(nn.ReLU()) == 0


def _bn_net():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm2d(4)))
    net[2].eval()  # a mixed-mode module: measuring must restore each flag, not call train()
    return net


@pytest.mark.parametrize("measure", [
    lambda net: count_flops(net, (1, 5, 5)),
    lambda net: measure_latency_ms(net, (1, 5, 5), repeats=3, warmup=1),
])
def test_measuring_restores_modes_and_leaves_batchnorm_statistics_alone(measure):
    net = _bn_net()
    modes = [m.training for m in net.modules()]
    buffers = {k: v.clone() for k, v in net.state_dict().items()}
    measure(net)
    assert [m.training for m in net.modules()] == modes
    for key, value in net.state_dict().items():
        assert torch.equal(value, buffers[key]), key
    assert all(p.grad is None for p in net.parameters())  # measured under no_grad


def test_latency_is_a_positive_median_and_grows_with_work():
    small = nn.Conv2d(8, 8, 1)
    large = nn.Sequential(*[nn.Conv2d(8, 8, 3, padding=1) for _ in range(40)])
    fast = measure_latency_ms(small, (8, 16, 16), device="cpu")
    slow = measure_latency_ms(large, (8, 16, 16), device="cpu", repeats=5)
    assert isinstance(fast, float) and fast > 0
    assert slow > fast


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"repeats": 0}, r"repeats: must be a positive integer, got 0"),
    ({"warmup": -1}, r"warmup: must be a non-negative integer, got -1"),
    ({"device": "tpu"}, r"device: 'tpu' is not allowed; allowed values: auto, cpu"),
])
def test_bad_latency_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        measure_latency_ms(nn.Linear(3, 2), (3,), **kwargs)


@pytest.mark.parametrize("shape", [(), "1x8x8", (1, 0, 8), (1, 2.5)])
def test_bad_input_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"input_shape"):
        count_flops(nn.Identity(), shape)
