"""TRPO: the Fisher-vector product against an explicit Fisher matrix, conjugate gradient against
a dense solve, the KL bound of the accepted step, learning, checkpoints."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn.utils import parameters_to_vector

from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.rl.trpo import TRPOTrainer, conjugate_gradient, mean_kl
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.search_space import custom_space


def tiny(seed=0, hidden_size=4):
    seed_everything(seed)
    ctrl = LSTMController(custom_space({"op": ["a", "b", "c"], "width": [8, 16]}), hidden_size=hidden_size, tanh_constant=None)
    with torch.no_grad():
        for p in ctrl.parameters():
            p.mul_(10.0)  # a policy far from uniform, so that F is not trivial
    return ctrl


def toy_rewards(architectures):
    return [1.0 if arch.choices[0] == "c" else 0.0 for arch in architectures]


def explicit_fisher(ctrl, indices) -> torch.Tensor:
    """``(1/B) sum_b sum_t sum_k p_btk g_btk g_btk^T`` with ``g_btk = grad log pi(k | a_b,<t)``: first derivatives only."""
    params = [p for p in ctrl.parameters() if p.requires_grad]
    n = sum(p.numel() for p in params)
    fisher = torch.zeros(n, n)
    out = ctrl(indices)
    for logits in out.logits:
        logp = torch.log_softmax(logits, dim=-1)  # (B, K)
        for b in range(logp.shape[0]):
            for k in range(logp.shape[1]):
                grads = torch.autograd.grad(logp[b, k], params, retain_graph=True, allow_unused=True)
                g = torch.cat([(torch.zeros_like(p) if gr is None else gr).reshape(-1) for p, gr in zip(params, grads)])
                fisher += float(logp[b, k].detach().exp()) * torch.outer(g, g)
    return fisher / indices.shape[0]


def test_fisher_vector_product_matches_explicit_fisher():
    ctrl = tiny()
    trainer = TRPOTrainer(ctrl)
    indices = ctrl.sample(5).indices
    fisher = explicit_fisher(ctrl, indices)
    assert float(fisher.abs().max()) > 1e-3  # a real test: F is not zero
    for seed in range(3):
        v = torch.randn(fisher.shape[0], generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(trainer.fisher_vector_product(indices, v, damping=0.0), fisher @ v, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(trainer.fisher_vector_product(indices, v, damping=0.3), fisher @ v + 0.3 * v,
                                   rtol=1e-4, atol=1e-5)


def test_conjugate_gradient_solves_the_damped_fisher_system():
    ctrl = tiny()
    trainer = TRPOTrainer(ctrl, cg_damping=0.1)
    indices = ctrl.sample(5).indices
    A = explicit_fisher(ctrl, indices) + 0.1 * torch.eye(sum(p.numel() for p in ctrl.parameters()))
    b = torch.randn(A.shape[0], generator=torch.Generator().manual_seed(0))
    x = conjugate_gradient(trainer.fisher_operator(indices), b, iterations=200, tolerance=1e-20)
    torch.testing.assert_close(x, torch.linalg.solve(A.double(), b.double()).float(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("max_kl", [0.001, 0.01, 0.1])
def test_accepted_step_satisfies_the_kl_bound(max_kl):
    ctrl = tiny(hidden_size=8)
    trainer = TRPOTrainer(ctrl, max_kl=max_kl)
    for _ in range(3):
        archs = trainer.propose(8)
        indices = ctrl.as_indices(archs)
        with torch.no_grad():
            before = [logits.clone() for logits in ctrl(indices).logits]
        theta = parameters_to_vector(ctrl.parameters()).detach().clone()
        stats = trainer.update_policy(archs, [1.0, 0.0] * 4)
        with torch.no_grad():
            kl = float(mean_kl(before, ctrl(indices).logits))
        moved = float((parameters_to_vector(ctrl.parameters()).detach() - theta).norm())
        assert kl <= max_kl + 1e-7
        assert kl == pytest.approx(stats.kl, abs=1e-6)
        if stats.step_fraction > 0:
            assert moved > 0 and stats.improvement > 0
        else:
            assert moved == 0.0


def test_full_step_is_near_the_boundary_for_small_max_kl():
    """With a tiny trust region the quadratic model is exact: the first step is accepted at KL ~ max_kl."""
    ctrl = tiny(hidden_size=8)
    trainer = TRPOTrainer(ctrl, max_kl=1e-4, cg_damping=1e-3, cg_iterations=50)
    archs = trainer.propose(8)
    stats = trainer.update_policy(archs, [1.0, 0.0] * 4)
    assert stats.step_fraction == 1.0
    assert 0.5e-4 < stats.kl <= 1e-4


def test_trpo_learns_the_toy_problem():
    seed_everything(0)
    ctrl = LSTMController(custom_space({"op": ["a", "b", "c", "d"], "width": [8, 16, 32]}), hidden_size=16)
    trainer = TRPOTrainer(ctrl, max_kl=0.05)
    for _ in range(25):
        archs = trainer.propose(8)
        trainer.update_policy(archs, toy_rewards(archs))
    archs = trainer.propose(64)
    assert sum(toy_rewards(archs)) / 64 > 0.7


def test_trpo_checkpoint_resumes_exactly():
    def make():
        seed_everything(3)
        return TRPOTrainer(LSTMController(custom_space({"op": ["a", "b", "c"], "w": [1, 2]}), hidden_size=8), max_kl=0.02)

    first = make()
    for _ in range(2):
        archs = first.propose(4)
        first.update_policy(archs, toy_rewards(archs))
    state = copy.deepcopy(first.state_dict())
    clone = make()
    clone.load_state_dict(state)
    for _ in range(2):
        a, b = first.propose(4), clone.propose(4)
        assert a == b
        sa, sb = first.update_policy(a, toy_rewards(a)), clone.update_policy(b, toy_rewards(b))
        assert sa.to_dict() == sb.to_dict()


def test_trpo_bad_options():
    ctrl = tiny()
    with pytest.raises(ValueError, match="max_kl"):
        TRPOTrainer(ctrl, max_kl=0)
    with pytest.raises(ValueError, match="ppo_epochs: not an option of TRPO"):
        TRPOTrainer(ctrl, ppo_epochs=3)
