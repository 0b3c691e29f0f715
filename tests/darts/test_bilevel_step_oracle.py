"""BilevelOptimizer's memory savings change no number: one step against a plain autograd step, bit for bit.

The optimiser freezes what a pass does not differentiate (the alphas in the weight step, the
weights in the first-order architecture pass) and drops each pass's graph before the next
one. The oracle here is the plain way: every pass with every parameter requiring grad,
``loss.backward()`` into all of them, nothing deleted early; after one step the weights, the
alphas and the BatchNorm statistics must be *equal* (``torch.equal``), not just close.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from nasrl_nb.darts.architect import BilevelOptimizer
from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet
from nasrl_nb.darts.supernet import DartsSupernet
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.darts_space import DartsSpace

HYPER = {"w_lr": 0.05, "w_momentum": 0.9, "w_weight_decay": 3e-4, "grad_clip": 5.0, "alpha_lr": 0.01,
         "alpha_betas": (0.5, 0.999), "alpha_weight_decay": 1e-3}


def make_net(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "darts":
        net = DartsSupernet(DartsSpace(), (1, 8, 8), 3, channels=4, cells_per_stage=1)
    else:
        net = RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2, cells_per_stage=1)
    with torch.no_grad():  # distinct mixing weights, so that every op's weight matters
        for a in net.arch_parameters():
            a.copy_(torch.randn(a.shape, generator=torch.Generator().manual_seed(1)))
    return net


def make_batches(shape):
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn((8, *shape), generator=g), torch.randint(0, 3, (8,), generator=g)
    return (X[:4], y[:4]), (X[4:], y[4:])


def grad_of_all(net, batch, alphas):
    """``backward()`` into every parameter (nothing frozen); the alphas' gradients, the rest discarded."""
    net.zero_grad(set_to_none=True)
    for a in alphas:
        a.grad = None
    loss = nn.functional.cross_entropy(net(batch[0]), batch[1])
    loss.backward()
    return loss, [a.grad.clone() for a in alphas]


def plain_step(net, alphas, weights, w_opt, a_opt, train, val, second_order):
    """Algorithm 1 the plain way: the architecture step (BN statistics restored), then the weight step."""
    buffers = [b.detach().clone() for b in net.buffers()]
    if not second_order:
        _, grad_alpha = grad_of_all(net, val, alphas)
    else:
        xi = w_opt.param_groups[0]["lr"]
        saved = [p.detach().clone() for p in weights]
        grad_of_all(net, train, alphas)
        grad_w = [p.grad.clone() for p in weights]
        with torch.no_grad():
            torch._foreach_add_(weights, grad_w, alpha=-xi)  # w' = w - xi grad_w L_train
        _, direct = grad_of_all(net, val, alphas)
        v = [p.grad.clone() for p in weights]
        with torch.no_grad():
            torch._foreach_copy_(weights, saved)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in v]))
        eps = 0.01 / max(float(norm), 1e-12)
        grads = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                torch._foreach_add_(weights, v, alpha=sign * eps)
            grads.append(grad_of_all(net, train, alphas)[1])
            with torch.no_grad():
                torch._foreach_copy_(weights, saved)
        hvp = [(gp - gm) / (2 * eps) for gp, gm in zip(*grads, strict=True)]
        grad_alpha = [d - xi * h for d, h in zip(direct, hvp, strict=True)]
    with torch.no_grad():
        for b, saved_b in zip(net.buffers(), buffers, strict=True):
            b.copy_(saved_b)
    a_opt.zero_grad(set_to_none=True)
    for a, g in zip(alphas, grad_alpha, strict=True):
        a.grad = g
    a_opt.step()
    w_opt.zero_grad(set_to_none=True)
    grad_of_all(net, train, alphas)
    nn.utils.clip_grad_norm_(weights, HYPER["grad_clip"])
    w_opt.step()


@pytest.mark.parametrize("second_order", [False, True], ids=["first_order", "second_order"])
@pytest.mark.parametrize("kind", ["darts", "cell"])
def test_two_steps_equal_plain_autograd_steps_bit_for_bit(kind, second_order):
    net = make_net(kind)
    ref = copy.deepcopy(net)
    train, val = make_batches((1, 8, 8) if kind == "darts" else (1, 4, 4))
    opt = BilevelOptimizer(net, second_order=second_order, **HYPER)
    alphas, weights = list(ref.arch_parameters()), list(ref.weight_parameters())
    w_opt = torch.optim.SGD(weights, lr=HYPER["w_lr"], momentum=HYPER["w_momentum"], weight_decay=HYPER["w_weight_decay"])
    a_opt = torch.optim.Adam(alphas, lr=HYPER["alpha_lr"], betas=HYPER["alpha_betas"], weight_decay=HYPER["alpha_weight_decay"])
    before = {k: v.clone() for k, v in net.state_dict().items()}
    for _ in range(2):  # the second step also checks the momentum and Adam states
        opt.step(train, val)
        plain_step(ref, alphas, weights, w_opt, a_opt, train, val, second_order)
    got, want = net.state_dict(), ref.state_dict()
    assert got.keys() == want.keys()
    differ = [k for k in got if not torch.equal(got[k], want[k])]
    assert not differ, f"differ from the plain step: {differ[:5]}"
    assert [k for k in got if not torch.equal(got[k], before[k])], "the step changed nothing: the oracle is vacuous"
    assert all(a.requires_grad for a in net.arch_parameters()) and all(p.requires_grad for p in net.weight_parameters())


def test_the_plain_step_oracle_can_fail():
    net = make_net("cell")
    ref = copy.deepcopy(net)
    train, val = make_batches((1, 4, 4))
    BilevelOptimizer(net, **HYPER).step(train, val)
    alphas, weights = list(ref.arch_parameters()), list(ref.weight_parameters())
    w_opt = torch.optim.SGD(weights, lr=HYPER["w_lr"], momentum=HYPER["w_momentum"], weight_decay=HYPER["w_weight_decay"])
    a_opt = torch.optim.Adam(alphas, lr=HYPER["alpha_lr"] * 1.001, betas=HYPER["alpha_betas"],
                             weight_decay=HYPER["alpha_weight_decay"])
    plain_step(ref, alphas, weights, w_opt, a_opt, train, val, False)
    assert not torch.equal(net.alphas, ref.alphas)


class Recorder:
    """Cross-entropy that records, per call, whether the alphas and the weights require grad; raises on call ``fail_at``."""

    def __init__(self, net, fail_at=None):
        self.net, self.fail_at, self.calls = net, fail_at, []

    def __call__(self, logits, y):
        self.calls.append((all(a.requires_grad for a in self.net.arch_parameters()),
                           all(p.requires_grad for p in self.net.weight_parameters())))
        if len(self.calls) == self.fail_at:
            raise KeyboardInterrupt("interrupted mid-step")
        return nn.functional.cross_entropy(logits, y)


@pytest.mark.parametrize("second_order", [False, True], ids=["first_order", "second_order"])
def test_each_pass_freezes_only_what_it_does_not_differentiate(second_order):
    net = make_net("cell")
    train, val = make_batches((1, 4, 4))
    recorder = Recorder(net)
    BilevelOptimizer(net, second_order=second_order, criterion=recorder, **HYPER).step(train, val)
    # (alphas require grad, weights require grad) per loss evaluated
    if second_order:  # train for w', val at w', train at w+, train at w-, then the weight step
        assert recorder.calls == [(True, True)] * 4 + [(False, True)]
    else:  # val (weights frozen), then the weight step (alphas frozen)
        assert recorder.calls == [(True, False), (False, True)]


@pytest.mark.parametrize(("second_order", "fail_at"), [(False, 1), (False, 2), (True, 2), (True, 3), (True, 5)])
def test_an_interrupted_step_restores_the_flags_and_a_retry_equals_the_uninterrupted_step(second_order, fail_at):
    nets = [make_net("cell"), make_net("cell")]
    train, val = make_batches((1, 4, 4))
    recorder = Recorder(nets[0], fail_at=fail_at)
    cut = BilevelOptimizer(nets[0], second_order=second_order, criterion=recorder, **HYPER)
    before = {k: v.clone() for k, v in nets[0].state_dict().items()}
    with pytest.raises(KeyboardInterrupt):
        cut.step(train, val)
    assert all(p.requires_grad for p in nets[0].parameters())  # the frozen passes' flags are put back
    if fail_at <= (4 if second_order else 1):  # inside the architecture step: w, alphas, BN statistics untouched
        assert all(torch.equal(v, before[k]) for k, v in nets[0].state_dict().items())
        recorder.fail_at = None
        cut.step(train, val)
        BilevelOptimizer(nets[1], second_order=second_order, **HYPER).step(train, val)
        assert all(torch.equal(v, nets[1].state_dict()[k]) for k, v in nets[0].state_dict().items())
