"""MixedOp: DARTS's weighted sum of candidate ops, against the plain sum over every op; FusedMixedOp against MixedOp."""

from __future__ import annotations

import copy

import pytest
import torch

from nasrl_nb.darts.mixed_op import (
    BATCH_NORMS,
    FusedMixedOp,
    MixedOp,
    mixing_weights,
    scaled_batch_norm,
)
from nasrl_nb.nn.operations import build_op
from nasrl_nb.spaces.cell_space import CELL_OPS
from nasrl_nb.spaces.darts_space import RELAXED_OPS


def test_mixing_weights_are_a_distribution_per_edge():
    alpha = torch.tensor([[0.0, 0.0, 0.0], [50.0, -50.0, 3.0], [1e-3, 2e-3, -7.0]])
    w = mixing_weights(alpha)
    assert torch.all(w >= 0)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(3))
    torch.testing.assert_close(w[0], torch.full((3,), 1 / 3))


def _reference_op(name: str, C: int, stride: int, batch_norm: str) -> torch.nn.Module:
    """An op as quark0/darts's search ``MixedOp`` builds it (``"darts"``), or the child's op (``"affine"``)."""
    if batch_norm == "affine":
        return build_op(name, C, C, stride)
    op = build_op(name, C, C, stride, affine=False)  # OPS[primitive](C, stride, False)
    if "pool" in name:  # if 'pool' in primitive: op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
        op = torch.nn.Sequential(op, torch.nn.BatchNorm2d(C, affine=False))
    return op


@pytest.mark.parametrize("cls", [MixedOp, FusedMixedOp])
@pytest.mark.parametrize("batch_norm", BATCH_NORMS)
def test_mixed_op_equals_the_reference_sum_over_every_op_including_none(batch_norm, cls):
    """The reference (quark0/darts) runs every op, `none`'s Zero module too; outputs and alpha gradients agree."""
    torch.manual_seed(0)
    mixed = cls(4, 4, 1, CELL_OPS, batch_norm=batch_norm).double()
    reference = [_reference_op(name, 4, 1, batch_norm).double() for name in CELL_OPS]
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


@pytest.mark.parametrize("stride", [1, 2])
def test_the_search_form_has_darts_batch_norms_and_the_affine_form_is_the_childs(stride):
    """DARTS searches with BatchNorm(affine=False) everywhere and a BatchNorm after each pool (Liu et al. 2019)."""
    search, child = (MixedOp(4, 4, stride, RELAXED_OPS, batch_norm=b) for b in ("darts", "affine"))
    bns = [m for m in search.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(bn.affine for bn in bns)
    assert not any(name.endswith(("weight", "bias")) and ".bn" in name for name, _ in search.named_parameters())
    for k, op in zip(search.live, search.ops):
        if "pool" in RELAXED_OPS[k]:
            assert isinstance(op, torch.nn.Sequential) and isinstance(op[-1], torch.nn.BatchNorm2d), RELAXED_OPS[k]
    assert all(bn.affine for bn in child.modules() if isinstance(bn, torch.nn.BatchNorm2d))
    for k, op in zip(child.live, child.ops):  # the child's op, module for module
        assert repr(op) == repr(build_op(RELAXED_OPS[k], 4, 4, stride))
    assert MixedOp(4, 4, 1, ["skip_connect"]).batch_norm == "darts"  # the default


def test_the_fused_twin_does_not_run_ops_with_zero_weight():
    mixed = FusedMixedOp(2, 2, 1, CELL_OPS)
    calls = {name: 0 for name in CELL_OPS}
    for k, op in zip(mixed.live, mixed.ops):
        # the fused path runs an op's modules, not its own forward: count a run of its first
        # module that is not a ReLU (or of the op itself when it has no submodules)
        leaves = [m for m in op.modules() if not list(m.children())]
        first = next(m for m in leaves if not isinstance(m, torch.nn.ReLU))
        first.register_forward_hook(lambda module, inp, out, name=CELL_OPS[k]: calls.__setitem__(name, calls[name] + 1))
    x = torch.randn(2, 2, 4, 4)
    one_hot = torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0])  # nor_conv_3x3 only
    out = mixed(x, one_hot)
    assert calls == {"none": 0, "skip_connect": 0, "nor_conv_1x1": 0, "nor_conv_3x3": 1, "avg_pool_3x3": 0}
    mixed(x, torch.tensor([0.2, 0.2, 0.2, 0.2, 0.2]))
    assert calls == {"none": 0, "skip_connect": 1, "nor_conv_1x1": 1, "nor_conv_3x3": 2, "avg_pool_3x3": 1}
    torch.testing.assert_close(out, mixed.ops[CELL_OPS.index("nor_conv_3x3") - 1](x))


@pytest.mark.parametrize("cls", [MixedOp, FusedMixedOp])
@pytest.mark.parametrize("stride, size", [(1, 5), (2, 5), (2, 8)])
def test_nothing_run_gives_exact_zeros_shaped_like_an_op(stride, size, cls):
    mixed = cls(3, 6, stride, ["none", "nor_conv_3x3"])
    x = torch.randn(2, 3, size, size)
    out = mixed(x, torch.tensor([1.0, 0.0]))
    assert out.shape == mixed.ops[0](x).shape and not out.any()
    only_none = cls(3, 6, stride, ["none"])(x, torch.tensor([1.0]))
    assert only_none.shape == out.shape and not only_none.any()


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match=r"^ops: expected a non-empty list"):
        MixedOp(2, 2, 1, [])
    with pytest.raises(ValueError, match=r"^op: 'conv9x9' is not allowed; allowed values: none, skip_connect"):
        MixedOp(2, 2, 1, ["none", "conv9x9"])
    with pytest.raises(ValueError, match=r"^weights: expected shape \(2,\)"):
        MixedOp(2, 2, 1, ["none", "skip_connect"])(torch.randn(1, 2, 4, 4), torch.ones(3))


def _twin_mixed_ops(ops, stride, batch_norm="darts"):
    """A FusedMixedOp and the plain MixedOp with the same weights (float64): one state_dict loads into the other."""
    torch.manual_seed(0)
    fused = FusedMixedOp(4, 4, stride, ops, batch_norm=batch_norm).double()
    plain = MixedOp(4, 4, stride, ops, batch_norm=batch_norm).double()
    plain.load_state_dict(fused.state_dict())
    assert list(plain.state_dict()) == list(fused.state_dict())
    return fused, plain


@pytest.mark.parametrize("batch_norm", BATCH_NORMS)
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize(("ops", "stride"), [(RELAXED_OPS, 1), (RELAXED_OPS, 2), (CELL_OPS, 1)],
                         ids=["darts_stride1", "darts_stride2", "cell"])
def test_fused_mixed_op_equals_the_plain_sum(ops, stride, layout, batch_norm):
    """One shared ReLU and the weights folded into BatchNorm: same outputs, gradients and BN statistics."""
    fused, plain = _twin_mixed_ops(ops, stride, batch_norm)
    x = torch.randn(3, 4, 7, 7, dtype=torch.float64)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    alpha = torch.randn(len(ops), dtype=torch.float64)
    results = []
    for mixed in (fused, plain):
        xi = x.detach().clone().requires_grad_(True)
        a = alpha.clone().requires_grad_(True)
        out = mixed(xi, mixing_weights(a))
        loss = (out * torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out)).sum()
        grads = torch.autograd.grad(loss, [xi, a, *mixed.parameters()])
        results.append((out, grads, [b.clone() for b in mixed.buffers()]))
    (out_f, grads_f, buf_f), (out_p, grads_p, buf_p) = results
    torch.testing.assert_close(out_f, out_p)
    assert len(grads_f) == len(grads_p) > 2
    for g_f, g_p in zip(grads_f, grads_p):
        torch.testing.assert_close(g_f, g_p)
    for b_f, b_p in zip(buf_f, buf_p):  # running means, variances, counters: BN updated once, as op by op
        torch.testing.assert_close(b_f, b_p)
    fused.eval(), plain.eval()
    torch.testing.assert_close(fused(x, mixing_weights(alpha)), plain(x, mixing_weights(alpha)))


def _saved_activations(mixed, x, weights) -> int:
    """Distinct tensors of at least the input's size that autograd keeps for the backward of one forward."""
    big = x.numel() * x.element_size()
    storages = set()

    def pack(t):
        if t.untyped_storage().nbytes() >= big:
            storages.add(t.untyped_storage().data_ptr())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        mixed(x, weights)
    return len(storages)


def test_the_fused_path_keeps_less_for_backward():
    """Per conv op it keeps neither its own ReLU output nor, for d L / d w_k, its output a second time."""
    fused, plain = _twin_mixed_ops(RELAXED_OPS, 1)
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    weights = mixing_weights(torch.randn(len(RELAXED_OPS), dtype=torch.float64, requires_grad=True))
    kept_fused, kept_plain = _saved_activations(fused, x, weights), _saved_activations(plain, x, weights)
    # 4 conv ops: 3 ReLU outputs fewer (one shared) and 4 op outputs fewer (folded into BN)
    assert kept_plain - kept_fused == 7, (kept_plain, kept_fused)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("mode", ["train", "eval", "untracked"])
@pytest.mark.parametrize("affine", [True, False])
def test_scaled_batch_norm_is_the_scale_times_batch_norm(mode, momentum, affine):
    torch.manual_seed(0)
    bn = torch.nn.BatchNorm2d(3, momentum=momentum, affine=affine, track_running_stats=mode != "untracked").double()
    with torch.no_grad():
        if affine:
            bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-1, 1)
        if bn.running_mean is not None:
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
    twin = copy.deepcopy(bn)
    bn.train(mode != "eval"), twin.train(mode != "eval")
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    scale = torch.tensor(0.37, dtype=torch.float64)
    for _ in range(2):  # the second call sees the updated statistics and counter
        torch.testing.assert_close(scaled_batch_norm(bn, x, scale), scale * twin(x))
    for b, t in zip(bn.buffers(), twin.buffers()):
        torch.testing.assert_close(b, t)
