"""Discrete SAC for NAS: the critic fits a planted reward, the policy reaches softmax(Q / alpha),
the temperature moves towards the target entropy, the search learns, checkpoints resume exactly."""

from __future__ import annotations

import copy

import pytest
import torch

from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.rl.sac import RewardCritic, SoftActorCritic
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.search_space import custom_space

OPS = ["a", "b", "c", "d"]


def toy(seed=0, **kwargs):
    seed_everything(seed)
    ctrl = LSTMController(custom_space({"op": OPS, "width": [8, 16, 32]}), hidden_size=16)
    return SoftActorCritic(ctrl, **kwargs)


def planted(architectures):
    """0.1 per op index plus 0.05 per width index: additive, so the one-hot MLP can fit it."""
    return [0.1 * OPS.index(a.choices[0]) + 0.05 * [8, 16, 32].index(a.choices[1]) for a in architectures]


def test_one_hot_codes():
    critic = RewardCritic([4, 3])
    codes = critic.encode(torch.tensor([[2, 0], [3, 2]]))
    torch.testing.assert_close(codes, torch.tensor([[0, 0, 1, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0, 1.0]]))


def test_critic_fits_the_planted_reward_and_ranks_unseen_architectures():
    trainer = toy(critic_steps=300, epsilon=1.0)  # uniform proposals
    seen = trainer.propose(10)
    trainer.buffer_indices = trainer.controller.as_indices(seen)
    trainer.buffer_rewards = torch.tensor(planted(seen))
    assert trainer.fit_critic() < 0.01
    every = torch.cartesian_prod(torch.arange(4), torch.arange(3))  # (12, 2): all architectures
    truth = torch.tensor(planted(trainer.controller.to_architectures(every)))
    with torch.no_grad():
        predicted = trainer.critic(every)
    assert float(torch.corrcoef(torch.stack([predicted, truth]))[0, 1]) > 0.9


def test_policy_reaches_the_softmax_of_the_critic():
    """With alpha held fixed the policy's optimum is softmax(Q / alpha) (one decision: exact)."""
    seed_everything(0)
    ctrl = LSTMController(custom_space({"op": OPS}), hidden_size=8, tanh_constant=None)
    trainer = SoftActorCritic(ctrl, lr=0.05, alpha=0.5, alpha_lr=1e-12, policy_samples=256)
    trainer.buffer_indices = torch.tensor([[0], [1], [2], [3]])
    trainer.buffer_rewards = torch.tensor([0.0, 0.3, 0.6, 0.9])
    trainer.fit_critic()
    for _ in range(300):
        trainer.policy_step()
    with torch.no_grad():
        q = trainer.critic(torch.tensor([[0], [1], [2], [3]]))
        probs = ctrl(torch.tensor([[0]])).logits[0].softmax(-1)[0]
    torch.testing.assert_close(probs, (q / trainer.alpha).softmax(-1), atol=0.04, rtol=0)


@pytest.mark.parametrize("target, direction", [(0.05, "down"), (1.0, "up")])
def test_temperature_moves_towards_the_target_entropy(target, direction):
    """A fresh controller is near uniform (entropy just below the maximum): a low target lowers alpha, the maximum raises it."""
    trainer = toy(target_entropy=target, lr=1e-6)  # the policy barely moves: only alpha's sign is tested
    alpha = trainer.alpha
    archs = trainer.propose(8)
    stats = trainer.update_policy(archs, planted(archs))
    if direction == "down":
        assert stats.entropy > stats.target_entropy and trainer.alpha < alpha
    else:
        assert stats.entropy < stats.target_entropy and trainer.alpha > alpha


def test_sac_learns_and_reports_its_pieces():
    trainer = toy(lr=0.05)
    for _ in range(10):
        archs = trainer.propose(8)
        stats = trainer.update_policy(archs, planted(archs))
    assert stats.buffer_size == 80 and stats.advantages is None and stats.baseline is None
    assert stats.grad_norm > 0  # the policy steps' real gradient norm, not a placeholder


def test_sac_reports_the_policy_gradient_norm_before_clipping():
    trainer = toy(lr=0.05, grad_clip=1e-4)
    archs = trainer.propose(8)
    stats = trainer.update_policy(archs, planted(archs))
    grads = [p.grad for p in trainer.controller.parameters() if p.grad is not None]
    after = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    assert after <= 1e-4 * 1.001 < stats.grad_norm  # clipped to 1e-4; the report is the norm before
    best = trainer.propose(64)
    assert sum(a.choices[0] == "d" for a in best) / 64 > 0.6


def test_sac_checkpoint_resumes_exactly():
    first = toy(3, lr=0.05)
    for _ in range(2):
        archs = first.propose(4)
        first.update_policy(archs, planted(archs))
    state = copy.deepcopy(first.state_dict())
    clone = toy(4, lr=0.05)
    clone.load_state_dict(state)
    for _ in range(2):
        a, b = first.propose(4), clone.propose(4)
        assert a == b
        assert first.update_policy(a, planted(a)).to_dict() == clone.update_policy(b, planted(b)).to_dict()
    assert torch.equal(first.buffer_indices, clone.buffer_indices) and first.alpha == clone.alpha
    # the checkpoint layout of every run folder written so far: every trainer's keys, then SAC's
    assert list(state) == ["controller", "optimizer", "baseline", "reward_stats", "num_updates", "entropy_weight",
                           "temperature", "critic", "critic_optimizer", "log_alpha", "alpha_optimizer",
                           "buffer_indices", "buffer_rewards"]
    assert list(state["optimizer"]["state"]) == list(range(len(list(first.controller.parameters()))))  # Adam on the controller


def test_sac_bad_options():
    with pytest.raises(ValueError, match="ppo_epochs: not an option of SAC"):
        toy(ppo_epochs=2)
    with pytest.raises(ValueError, match="target_entropy"):
        toy(target_entropy=1.5)
    with pytest.raises(ValueError, match="state: not a SAC checkpoint"):
        toy().load_state_dict({})
