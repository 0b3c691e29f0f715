"""The relaxed DARTS-space supernet: the contract, deriving, and its equality with the derived child.

Oracles: with one-hot mixing weights on a genotype the supernet computes exactly the child of
that genotype given the same weights (forward and gradients); deriving picks the top-2 inputs
per node and the argmax op, ``none`` excluded, on hand-set alphas; the mixing weights sum to one.
"""

from __future__ import annotations

import pytest
import torch

from nasrl_nb.darts.architect import BilevelOptimizer, RelaxedSupernet
from nasrl_nb.darts.mixed_op import FusedMixedOp, MixedOp
from nasrl_nb.darts.relaxed_supernets import build_relaxed_supernet
from nasrl_nb.darts.supernet import DartsSupernet
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.spaces.darts_space import DARTS_V2, RELAXED_OPS, DartsSpace

SPACE = DartsSpace()


def _supernet(shape=(1, 8, 8), channels=4, seed=0, batch_norm="darts", fused=True) -> DartsSupernet:
    torch.manual_seed(seed)
    if not fused:  # the builder makes the default (fused) supernet
        return DartsSupernet(SPACE, shape, 10, channels=channels, cells_per_stage=1, batch_norm=batch_norm, fused=False)
    return build_relaxed_supernet(SPACE, shape, 10, channels=channels, cells_per_stage=1, batch_norm=batch_norm)


def _one_hot_alphas(net: DartsSupernet, arch) -> None:
    """Alphas whose softmax is exactly one-hot: the genotype's op on its edges, ``none`` elsewhere."""
    with torch.no_grad():
        for alpha, cell in zip(net.arch_parameters(), ("normal", "reduce")):
            alpha.fill_(-float("inf"))
            alpha[:, 0] = 0.0  # none
            for node in SPACE.cells(arch)[cell]:
                for op, j in zip(node.ops, node.inputs):
                    e = net.edges.index((node.node, j))
                    alpha[e, 0] = -float("inf")
                    alpha[e, net.op_names.index(op)] = 0.0


def test_contract_shapes_and_registry():
    net = _supernet()
    assert isinstance(net, RelaxedSupernet) and net.op_names == RELAXED_OPS
    assert [tuple(a.shape) for a in net.arch_parameters()] == [(14, 8), (14, 8)]
    assert net.edge_names()["normal"][:3] == ["0->2", "1->2", "0->3"]
    assert not {id(p) for p in net.weight_parameters()} & {id(a) for a in net.arch_parameters()}
    weights = net.arch_weights()
    assert set(weights) == {"normal", "reduce"}
    for w in weights.values():
        assert torch.allclose(w.sum(dim=1), torch.ones(14)) and (w > 0).all()
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert len(net.cells) == 5 and [c.reduction for c in net.cells] == [False, True, False, True, False]


@pytest.mark.parametrize("shape, arch_text", [((1, 8, 8), DARTS_V2), ((3, 16, 16), None)], ids=["darts_v2_8x8", "sampled_16x16"])
def test_one_hot_supernet_computes_its_derived_child(shape, arch_text):
    net = _supernet(shape, batch_norm="affine")  # weight inheritance: the children's ops
    arch = SPACE.parse(arch_text) if arch_text else SPACE.sample(5)
    _one_hot_alphas(net, arch)
    assert net.derive() == arch
    child = ChildNetwork(arch, shape, 10, channels=4)
    child.load_state_dict(net.child_state_dict(arch))  # strict: every child tensor is named
    X = torch.randn(6, *shape, generator=torch.Generator().manual_seed(1))
    for mode in ("train", "eval"):
        net.train(mode == "train"), child.train(mode == "train")
        assert torch.equal(net(X), child(X)), mode
    # the gradients of the shared weights agree too
    net.train(), child.train()
    net(X).square().sum().backward()
    child(X).square().sum().backward()
    named = dict(net.named_parameters())
    probe = named["cells.2.preprocess1.1.weight"]
    assert torch.allclose(probe.grad, dict(child.named_parameters())["features.cells.2.preprocess1.1.weight"].grad, rtol=1e-4, atol=1e-5)


def test_the_equality_oracle_can_fail():
    net = _supernet(batch_norm="affine")
    arch = SPACE.parse(DARTS_V2)
    _one_hot_alphas(net, arch)
    child = ChildNetwork(arch, (1, 8, 8), 10, channels=4)
    child.load_state_dict(net.child_state_dict(arch))
    X = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        net.alphas_normal[0, 0] = -20.0  # edge 0->2 no longer exactly one-hot: a tiny share of every op leaks in
        net.alphas_normal[0, 1:] = 0.0
    assert not torch.allclose(net(X), child(X))


def test_derive_takes_the_top2_inputs_and_the_argmax_op_without_none():
    net = _supernet()
    with torch.no_grad():
        for alpha in net.arch_parameters():
            alpha.zero_()
        A = net.alphas_normal
        ops = net.op_names
        # node 3 (edges 0->3, 1->3, 2->3): 0->3 is dominated by none (does not count), 1->3 and 2->3 win
        A[net.edges.index((3, 0))] = torch.tensor([9.0, 0, 0, 0, 0, 0, 0, 1.5])  # strongest non-none weight is small
        A[net.edges.index((3, 1)), ops.index("sep_conv_5x5")] = 2.0
        A[net.edges.index((3, 2)), ops.index("skip_connect")] = 1.0
        # node 5: 4->5 strongest, then 1->5; alpha rank differs from softmax rank on 0->5
        A[net.edges.index((5, 4)), ops.index("dil_conv_3x3")] = 3.0
        A[net.edges.index((5, 1)), ops.index("max_pool_3x3")] = 2.0
        A[net.edges.index((5, 0))] = torch.tensor([0.0, 0, 0, 0, 0, 2.5, 2.5, 2.5])  # big alphas, shared softmax
    cells = SPACE.cells(net.derive())["normal"]
    assert cells[1].inputs == (1, 2) and cells[1].ops == ("sep_conv_5x5", "skip_connect")
    assert cells[3].inputs == (1, 4) and cells[3].ops == ("max_pool_3x3", "dil_conv_3x3")
    # all-equal alphas: ties go to the lower input and the first op after none
    assert cells[0].inputs == (0, 1) and cells[0].ops == ("max_pool_3x3", "max_pool_3x3")
    assert cells[2].inputs == (0, 1)
    assert net.derive() == net.derive()
    assert net.skip_share() == 1 / 8


def test_skip_share_counts_the_normal_cells_skips():
    net = _supernet()
    with torch.no_grad():
        net.alphas_normal.zero_()
        net.alphas_normal[:, net.op_names.index("skip_connect")] = 1.0
        net.alphas_reduce.zero_()
    assert net.skip_share() == 1.0 and net.skip_count() == 8 and net.parameter_free_share() == 1.0
    assert all(op == "skip_connect" for n in SPACE.cells(net.derive())["normal"] for op in n.ops)
    with torch.no_grad():
        net.alphas_normal[:, net.op_names.index("sep_conv_3x3")] = 2.0
        net.alphas_normal[:2, net.op_names.index("avg_pool_3x3")] = 3.0  # node 2's two edges
        net.alphas_reduce[:, net.op_names.index("skip_connect")] = 5.0  # the reduction cell does not count
    assert net.skip_count() == 0 and net.parameter_free_share() == 2 / 8


def test_a_bilevel_step_changes_both_alpha_tensors_and_the_weights():
    for second_order in (False, True):
        net = _supernet()
        opt = BilevelOptimizer(net, second_order=second_order, alpha_lr=0.1)
        g = torch.Generator().manual_seed(0)
        train, val = ((torch.randn(8, 1, 8, 8, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(2))
        before = [a.detach().clone() for a in net.arch_parameters()]
        w_before = net.stem[0].weight.detach().clone()
        stats = opt.step(train, val)
        assert all(not torch.equal(b, a) for b, a in zip(before, net.arch_parameters()))
        assert not torch.equal(w_before, net.stem[0].weight)
        assert (stats.hvp_norm is not None) == second_order


@pytest.mark.parametrize("batch_norm", ["darts", "affine"])
def test_the_fused_supernet_computes_the_op_by_op_supernet(batch_norm):
    """Fused mixed ops (one ReLU per edge, weights folded into BN) and channels-last: the same loss and gradients."""
    fused = _supernet(shape=(3, 8, 8), batch_norm=batch_norm)
    plain = _supernet(shape=(3, 8, 8), batch_norm=batch_norm, fused=False)
    plain.load_state_dict(fused.state_dict())  # the same state_dict layout
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # distinct mixing weights, so that every op's weight matters
        for a, b in zip(fused.arch_parameters(), plain.arch_parameters()):
            a.copy_(torch.randn(a.shape, generator=g)), b.copy_(a)
    X, y = torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 10, (6,), generator=g)
    seen = []
    fused.cells[2].register_forward_hook(lambda m, inp, out: seen.append(out.is_contiguous(memory_format=torch.channels_last)))
    losses, grads = [], []
    for net in (fused, plain):
        loss = torch.nn.functional.cross_entropy(net(X), y)
        losses.append(loss)
        grads.append(torch.autograd.grad(loss, list(net.parameters())))
    assert seen == [True]
    assert all(isinstance(m, FusedMixedOp) for m in fused.modules() if isinstance(m, MixedOp))  # the default
    assert all(type(m) is MixedOp for m in plain.modules() if isinstance(m, MixedOp))
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-5)
    for name, g_f, g_p in zip(dict(fused.named_parameters()), *grads):
        torch.testing.assert_close(g_f, g_p, rtol=1e-4, atol=1e-5, msg=lambda m, name=name: f"{name}: {m}")
    for (name, b_f), b_p in zip(fused.named_buffers(), plain.buffers()):
        torch.testing.assert_close(b_f, b_p, rtol=1e-5, atol=1e-6, msg=lambda m, name=name: f"{name}: {m}")


def test_aux_skip_adds_the_input_on_stride_one_edges_only():
    net = _supernet()
    X = torch.randn(4, 1, 8, 8)
    net.eval()
    plain = net(X)
    net.set_aux_skip_weight(0.5)
    assert not torch.allclose(plain, net(X))
    with pytest.raises(ValueError, match="aux_skip_weight"):
        net.set_aux_skip_weight(-1.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="space: expected a DartsSpace"):
        DartsSupernet(object())
    with pytest.raises(ValueError, match="channels"):
        DartsSupernet(SPACE, channels=0)
    with pytest.raises(ValueError, match="arch: expected an architecture of"):
        _supernet(batch_norm="affine").child_state_dict(DartsSpace(num_nodes=2).sample(0))
    with pytest.raises(ValueError, match="^batch_norm: weight inheritance needs a supernet built with batch_norm='affine'"):
        _supernet().child_state_dict(SPACE.parse(DARTS_V2))
    with pytest.raises(ValueError, match="^batch_norm: .*allowed values"):
        _supernet(batch_norm="bn")


def test_the_search_supernet_has_no_affine_batch_norm_in_its_cells():
    """As DARTS's search network: no BN scale can stand in for a mixing weight (the stem keeps its affine BN)."""
    net = _supernet()
    in_cells = [m for m in net.cells.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert in_cells and not any(bn.affine for bn in in_cells)
    assert all(bn.affine for bn in _supernet(batch_norm="affine").cells.modules() if isinstance(bn, torch.nn.BatchNorm2d))
