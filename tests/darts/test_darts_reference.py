"""The package's DARTS against the reference implementation (quark0/darts, re-implemented in
``nasrl_nb.darts.reference``): the same step on the same weights and batches.

The reference's architect builds a second network for the unrolled weights and moves ``p.data``
for the Hessian-vector product; :class:`BilevelOptimizer` unrolls in place, freezes what a pass
does not differentiate and restores BatchNorm statistics. On the reference's own network (float64),
both must give the same alpha gradient and, after whole steps (architecture step, then weight
step), the same alphas and weights.
"""

from __future__ import annotations

import copy

import pytest
import torch

from nasrl_nb.darts.architect import BilevelOptimizer
from nasrl_nb.darts.mixed_op import FusedMixedOp, MixedOp, mixing_weights
from nasrl_nb.darts.reference import (
    A_LR,
    A_WD,
    GRAD_CLIP,
    W_LR,
    W_MOMENTUM,
    W_WD,
    RefArchitect,
    RefMixedOp,
    RefNetwork,
    search_iteration,
)
from nasrl_nb.spaces.darts_space import RELAXED_OPS


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the reference's alphas are plain tensors: made in the default dtype
    yield
    torch.set_default_dtype(previous)


def _tiny_network(seed=0) -> RefNetwork:
    """3 cells (the 2nd and 3rd reduce), 2 nodes, C=2, on 1x8x8 inputs; alphas spread so that every op matters."""
    torch.manual_seed(seed)
    net = RefNetwork(2, 3, 3, steps=2, multiplier=2, in_channels=1)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for a in net.arch_parameters():
            a.copy_(torch.randn(a.shape, generator=g, dtype=a.dtype))
    return net


def _batches(seed=2):
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 3, (8,), generator=g)
    return (X[:4], y[:4]), (X[4:], y[4:])


@pytest.mark.parametrize("second_order", [False, True], ids=["first_order", "second_order"])
def test_the_package_step_equals_the_reference_step(float64, second_order):
    train, val = _batches()
    ref = _tiny_network()
    ours = copy.deepcopy(ref)  # the same weights, alphas and BatchNorm statistics
    w_optimizer = torch.optim.SGD(ref.parameters(), W_LR, momentum=W_MOMENTUM, weight_decay=W_WD)
    architect = RefArchitect(ref)
    bilevel = BilevelOptimizer(ours, w_lr=W_LR, w_momentum=W_MOMENTUM, w_weight_decay=W_WD, grad_clip=GRAD_CLIP,
                               alpha_lr=A_LR, alpha_weight_decay=A_WD, second_order=second_order,
                               virtual_step="reference")  # quark0's unrolled step: momentum and weight decay
    for step in range(2):  # the second step's unrolled weights read the momentum buffers of the first
        grad_alpha, _ = bilevel.architecture_gradient(train, val)
        ref_grad_alpha = search_iteration(ref, architect, w_optimizer, train, val, second_order)
        bilevel.step(train, val)
        for ours_grad, ref_grad in zip(grad_alpha, ref_grad_alpha, strict=True):
            torch.testing.assert_close(ours_grad, ref_grad, rtol=1e-6, atol=1e-9, msg=lambda m, s=step: f"step {s}: {m}")
        for name, a, b in zip(("normal", "reduce"), ours.arch_parameters(), ref.arch_parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12, msg=lambda m, n=name: f"alphas_{n}: {m}")
        for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-7, atol=1e-10, msg=lambda m, n=name: f"{n}: {m}")
    assert not torch.equal(ref.alphas_normal, _tiny_network().alphas_normal)  # the steps moved the alphas


@pytest.mark.parametrize("stride", [1, 2])
def test_the_reference_mixed_op_equals_the_packages_in_darts_search_form(float64, stride):
    """RefMixedOp runs `none` as a Zero module; MixedOp and FusedMixedOp never build it: same output and alpha gradient."""
    torch.manual_seed(0)
    ref = RefMixedOp(4, stride)
    ours = MixedOp(4, 4, stride, RELAXED_OPS)
    built = iter(ours.ops)
    for name, op in zip(RELAXED_OPS, ref._ops, strict=True):
        if name != "none":  # the same tensors in the same order (FactorizedReduce names its convs differently)
            target = next(built)
            source = list(op.state_dict().values())
            assert [t.shape for t in source] == [t.shape for t in target.state_dict().values()], name
            target.load_state_dict(dict(zip(target.state_dict(), source, strict=True)))
    fused = FusedMixedOp(4, 4, stride, RELAXED_OPS)
    fused.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 6, 6)
    results = []
    for mixed in (ref, ours, fused):
        alpha = torch.linspace(-1, 1, len(RELAXED_OPS)).requires_grad_(True)
        out = mixed(x, mixing_weights(alpha))
        results.append((out, torch.autograd.grad(out.square().sum(), alpha)[0]))
    for out, grad in results[1:]:
        torch.testing.assert_close(out, results[0][0])
        torch.testing.assert_close(grad, results[0][1])
