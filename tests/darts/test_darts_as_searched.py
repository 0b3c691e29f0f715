"""DARTS as the paper searched: which data each phase reads, FactorizedReduce's ReLU, the derive
rules by name, and second order's virtual step in the paper's and in its code's form.

Each test fails on the wrong version (the one-line mutation is named beside it).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from nasrl_nb.darts.architect import BilevelOptimizer
from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet
from nasrl_nb.darts.strategy import DartsStrategy
from nasrl_nb.nn.operations import FactorizedReduce
from nasrl_nb.spaces.cell_space import CellSpace


# --- which data each phase of Algorithm 1 reads -------------------------------------------------------------
def _marked(data):
    """``data`` with the index of each training example written into its first pixel (X_train[i, 0, 0, 0] = i)."""
    X = data.X_train.clone()
    X[:, 0, 0, 0] = torch.arange(len(X), dtype=X.dtype)
    return dataclasses.replace(data, X_train=X)


@pytest.mark.parametrize("second_order", [False, True], ids=["first_order", "second_order"])
def test_the_architecture_step_reads_the_alpha_half_and_the_weight_step_the_weight_half(tiny_digits, second_order):
    """DARTS (Sec. 2.3, Algorithm 1; Sec. 3.1.1's halves): alpha descends L_val on held-out data, w descends L_train.

    Catches feeding the architecture step the weight step's batch in ``DartsStrategy.run_epoch``.
    """
    torch.manual_seed(0)
    strategy = DartsStrategy(CellSpace(), _marked(tiny_digits), channels=2, batch_size=30, epochs=2,
                             second_order=second_order)
    w_half, alpha_half = set(strategy.w_half.tolist()), set(strategy.alpha_half.tolist())
    assert w_half and alpha_half and not w_half & alpha_half
    seen = {"val": [], "train": [], "unrolled_train": []}
    architecture_gradient, weight_step = strategy.optimizer.architecture_gradient, strategy.optimizer.weight_step

    def ids(batch):
        return batch[0][:, 0, 0, 0].round().long().tolist()

    def spy_architecture_gradient(train_batch, val_batch):
        seen["val"].extend(ids(val_batch))
        seen["unrolled_train"].extend(ids(train_batch))
        return architecture_gradient(train_batch, val_batch)

    def spy_weight_step(train_batch):
        seen["train"].extend(ids(train_batch))
        return weight_step(train_batch)

    strategy.optimizer.architecture_gradient = spy_architecture_gradient
    strategy.optimizer.weight_step = spy_weight_step
    strategy.propose(2)
    assert seen["val"] and set(seen["val"]) <= alpha_half  # the architecture step: validation half only
    assert seen["train"] and set(seen["train"]) <= w_half  # the weight step: training half only
    assert set(seen["unrolled_train"]) <= w_half  # second order unrolls on the weight step's batch
    assert len(set(seen["val"])) == len(seen["val"]) // 2  # each epoch reads every batch of the half once


# --- FactorizedReduce -------------------------------------------------------------------------------------------
def test_factorized_reduce_begins_with_a_relu():
    """DARTS's and NAS-Bench-201's stride-2 FactorizedReduce apply ReLU first: negative inputs count as 0."""
    torch.manual_seed(0)
    reduce = FactorizedReduce(3, 4, 2)
    x = torch.randn(5, 3, 6, 6)
    torch.testing.assert_close(reduce(x), reduce(torch.relu(x)))
    assert reduce(x).shape == (5, 4, 3, 3)
    change = FactorizedReduce(3, 4, 1)  # stride 1 (channels only) as NAS-Bench-201's: no ReLU
    assert not torch.allclose(change(x), change(torch.relu(x)))


# --- the derive rules -------------------------------------------------------------------------------------------
def test_the_derive_rules_by_name():
    """``darts`` excludes `none` (DARTS Sec. 2.4); ``nas-bench-201`` takes the argmax over all ops (its genotype())."""
    torch.manual_seed(0)
    net = RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2)
    with torch.no_grad():
        net.alphas.zero_()
        net.alphas[:, 3] = 1.0  # nor_conv_3x3 ...
        net.alphas[0, 0] = 2.0  # ... but `none` strongest on edge 0->1
    darts, nb201 = net.derive(), net.derive("nas-bench-201")
    assert darts.choices == ("nor_conv_3x3",) * 6
    assert nb201.choices == ("none",) + ("nor_conv_3x3",) * 5
    assert net.derive_rule == "darts" and net.derive() == net.derive("darts")
    other = RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2, derive_rule="nas-bench-201")
    other.load_state_dict(net.state_dict())
    assert other.derive() == nb201
    with pytest.raises(ValueError, match=r"^rule: 'argmax' is not allowed; allowed values: darts, nas-bench-201"):
        net.derive("argmax")


# --- second order's virtual step --------------------------------------------------------------------------------
class TinyNet(nn.Module):
    """Two ops on one edge, ``(p_a W + p_b) x`` with a weight matrix: small enough to unroll by hand."""

    op_names = ("linear", "identity")

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.W = nn.Parameter(torch.randn(3, 3, generator=g, dtype=torch.float64))
        self.alpha = nn.Parameter(torch.tensor([0.3, -0.2], dtype=torch.float64))

    def forward(self, x, W=None):
        p = torch.softmax(self.alpha, dim=0)
        return p[0] * x @ (self.W if W is None else W).T + p[1] * x

    def weight_parameters(self):
        return [self.W]

    def arch_parameters(self):
        return [self.alpha]


def _mse(out, y):
    return ((out - y) ** 2).mean()


def _batches():
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64))
            for _ in range(3)]


@pytest.mark.parametrize("virtual_step", ["sgd", "reference"])
def test_the_virtual_step_is_eq_6_or_the_reference_codes_momentum_step(virtual_step):
    """``sgd``: w' = w - xi g (Eq. 6); ``reference``: w' = w - xi (mu m + g + lambda w) (quark0's architect.py)."""
    net = TinyNet()
    xi, mu, decay = 0.1, 0.9, 0.05
    opt = BilevelOptimizer(net, w_lr=xi, w_momentum=mu, w_weight_decay=decay, grad_clip=None, second_order=True,
                           virtual_step=virtual_step, criterion=_mse)
    warm, train, val = _batches()
    opt.weight_step(warm)  # a momentum buffer m that is not zero
    m = opt.w_optimizer.state[net.W]["momentum_buffer"].clone()
    _, info = opt.architecture_gradient(train, val)
    W = net.W.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(_mse(net(train[0], W), train[1]), W)
    W_prime = W.detach() - xi * (g if virtual_step == "sgd" else mu * m + g + decay * W.detach())
    alpha = net.alpha
    (direct,) = torch.autograd.grad(_mse(net(val[0], W_prime), val[1]), alpha)
    torch.testing.assert_close(info["terms"]["direct"][0], direct)
    # the two forms differ here (a non-zero buffer and weight decay)
    (plain,) = torch.autograd.grad(_mse(net(val[0], W.detach() - xi * g), val[1]), alpha)
    assert torch.allclose(direct, plain) == (virtual_step == "sgd")


def test_the_reference_virtual_step_before_any_weight_step_is_eq_6_plus_weight_decay():
    """No momentum buffer yet (quark0: zeros); without weight decay both forms give the same gradient."""
    train, val = _batches()[:2]
    grads = []
    for virtual_step in ("sgd", "reference"):
        net = TinyNet()
        opt = BilevelOptimizer(net, w_lr=0.1, w_weight_decay=0.0, second_order=True, virtual_step=virtual_step,
                               criterion=_mse)
        grads.append(opt.architecture_gradient(train, val)[0][0])
    torch.testing.assert_close(grads[0], grads[1])
    with pytest.raises(ValueError, match=r"^darts.virtual_step: 'adam' is not allowed; allowed values: sgd, reference"):
        BilevelOptimizer(TinyNet(), virtual_step="adam")


def test_a_config_written_before_batch_norm_existed_reads_as_the_affine_supernet_it_ran():
    """Old run folders resume with the supernet their checkpoint holds (affine BatchNorms); new ones say which."""
    from nasrl_nb.assembly.config import SearchConfig

    saved = SearchConfig.from_settings(method="darts").to_dict()
    assert saved["darts"]["batch_norm"] == "darts" and saved["darts"]["virtual_step"] == "sgd"
    del saved["darts"]["batch_norm"], saved["darts"]["virtual_step"]
    old = SearchConfig.from_dict(saved)
    assert old.darts.batch_norm == "affine" and old.darts.virtual_step == "sgd"


def test_the_parameter_free_mass_starts_at_chance_and_follows_the_alphas():
    """Both supernets: the softmax mass on weight-free ops is its chance value at uniform alphas, ~1 when they win."""
    from nasrl_nb.darts.supernet import DartsSupernet
    from nasrl_nb.spaces.darts_space import DartsSpace

    torch.manual_seed(0)
    cell = RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2)
    darts = DartsSupernet(DartsSpace(num_nodes=2), (1, 8, 8), 3, channels=2)
    assert cell.parameter_free_ops() == ("skip_connect", "avg_pool_3x3")
    for net, alpha, chance in ((cell, cell.alphas, 2 / 5), (darts, darts.alphas_normal, 3 / 8)):
        mass, at_uniform = net.parameter_free_weight()
        assert at_uniform == pytest.approx(chance) and mass == pytest.approx(chance, abs=0.01)
        with torch.no_grad():
            alpha[:, net.op_names.index("skip_connect")] = 20.0
        assert net.parameter_free_weight()[0] > 0.99
