"""MixedOp: DARTS's weighted sum of candidate ops, against the plain sum over every op of the registry."""

from __future__ import annotations

import pytest
import torch

from nasrl_nb.nn.operations import build_op
from nasrl_nb.oneshot.mixed_op import MixedOp, mixing_weights
from nasrl_nb.spaces.cell_space import CELL_OPS


def test_mixing_weights_are_a_distribution_per_edge():
    alpha = torch.tensor([[0.0, 0.0, 0.0], [50.0, -50.0, 3.0], [1e-3, 2e-3, -7.0]])
    w = mixing_weights(alpha)
    assert torch.all(w >= 0)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(3))
    torch.testing.assert_close(w[0], torch.full((3,), 1 / 3))


def test_mixed_op_equals_the_reference_sum_over_every_op_including_none():
    """The reference (quark0/darts) runs every op, `none`'s Zero module too; outputs and alpha gradients agree."""
    torch.manual_seed(0)
    mixed = MixedOp(4, 4, 1, CELL_OPS).double()
    reference = [build_op(name, 4, 4, 1).double() for name in CELL_OPS]
    live = iter(mixed.ops)
    for name, op in zip(CELL_OPS, reference):
        if name != "none":
            op.load_state_dict(next(live).state_dict())
    x = torch.randn(3, 4, 6, 6, dtype=torch.float64)
    alpha = torch.randn(len(CELL_OPS), dtype=torch.float64, requires_grad=True)
    out = mixed(x, mixing_weights(alpha))
    (grad,) = torch.autograd.grad(out.square().sum(), alpha)
    alpha_ref = alpha.detach().clone().requires_grad_(True)
    w_ref = mixing_weights(alpha_ref)
    out_ref = sum(w * op(x) for w, op in zip(w_ref, reference))
    (grad_ref,) = torch.autograd.grad(out_ref.square().sum(), alpha_ref)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(grad, grad_ref)
    assert "none" not in [type(op).__name__.lower() for op in mixed.ops] and len(mixed.ops) == len(CELL_OPS) - 1


def test_ops_with_zero_weight_are_not_run():
    mixed = MixedOp(2, 2, 1, CELL_OPS)
    calls = {name: 0 for name in CELL_OPS}
    for k, op in zip(mixed.live, mixed.ops):
        op.register_forward_hook(lambda module, inp, out, name=CELL_OPS[k]: calls.__setitem__(name, calls[name] + 1))
    x = torch.randn(2, 2, 4, 4)
    one_hot = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0])  # nor_conv_3x3 only
    out = mixed(x, one_hot)
    assert calls == {"none": 0, "skip_connect": 0, "nor_conv_1x1": 0, "nor_conv_3x3": 1, "avg_pool_3x3": 0}
    mixed(x, torch.tensor([0.2, 0.2, 0.2, 0.2, 0.2]))
    assert calls == {"none": 0, "skip_connect": 1, "nor_conv_1x1": 1, "nor_conv_3x3": 2, "avg_pool_3x3": 1}
    torch.testing.assert_close(out, mixed.ops[CELL_OPS.index("nor_conv_3x3") - 1](x))


@pytest.mark.parametrize("stride, size", [(1, 5), (2, 5), (2, 8)])
def test_nothing_run_gives_exact_zeros_shaped_like_an_op(stride, size):
    mixed = MixedOp(3, 6, stride, ["none", "nor_conv_3x3"])
    x = torch.randn(2, 3, size, size)
    out = mixed(x, torch.tensor([1.0, 0.0]))
    assert out.shape == mixed.ops[0](x).shape and not out.any()


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match=r"^ops: expected a non-empty list"):
        MixedOp(2, 2, 1, [])
    with pytest.raises(ValueError, match=r"^op: 'conv9x9' is not allowed; allowed values: none, skip_connect"):
        MixedOp(2, 2, 1, ["none", "conv9x9"])
    with pytest.raises(ValueError, match=r"^weights: expected shape \(2,\)"):
        MixedOp(2, 2, 1, ["none", "skip_connect"])(torch.randn(1, 2, 4, 4), torch.ones(3))
