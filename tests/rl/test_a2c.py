"""A2C: GAE against hand-computed advantages, the first update centred like REINFORCE's, the
critic fitting the rewards, learning, checkpoints and the advantages in steps.jsonl."""

from __future__ import annotations

import copy

import pytest
import torch

from nasrl_nb.controllers.lstm import LSTMController
from nasrl_nb.rl.a2c import A2CTrainer, gae_advantages
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.search_space import custom_space


def toy(seed=0, hidden_size=16):
    seed_everything(seed)
    return LSTMController(custom_space({"op": ["a", "b", "c", "d"], "width": [8, 16, 32]}), hidden_size=hidden_size)


def toy_rewards(architectures):
    return [1.0 if arch.choices[0] == "c" else 0.0 for arch in architectures]


def test_gae_against_hand_computed_advantages():
    values = torch.tensor([[0.5, 0.2, 0.9]])
    rewards = torch.tensor([1.0])
    # lambda = 1: Monte Carlo, R - V_t
    torch.testing.assert_close(gae_advantages(values, rewards, 1.0), torch.tensor([[0.5, 0.8, 0.1]]))
    # lambda = 0: one-step TD errors V_{t+1} - V_t, the last against R
    torch.testing.assert_close(gae_advantages(values, rewards, 0.0), torch.tensor([[-0.3, 0.7, 0.1]]))
    # lambda = 0.5: A_2 = 0.1, A_1 = 0.7 + 0.05, A_0 = -0.3 + 0.5 * 0.75
    torch.testing.assert_close(gae_advantages(values, rewards, 0.5), torch.tensor([[0.075, 0.75, 0.1]]))


def test_first_update_uses_the_batch_mean_and_reports_per_decision_advantages():
    ctrl = toy()
    trainer = A2CTrainer(ctrl, normalize_advantages=False)
    archs = trainer.propose(6)
    rewards = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2]
    stats = trainer.update_policy(archs, rewards)
    mean = sum(rewards) / 6
    assert stats.baseline == pytest.approx(mean)
    assert stats.advantages == pytest.approx([r - mean for r in rewards], abs=1e-6)
    assert len(stats.decision_advantages) == 6 and all(len(row) == 2 for row in stats.decision_advantages)
    assert stats.value_loss is not None and stats.kl is None
    assert trainer.baseline == pytest.approx(trainer.start_value())  # the next update's V(h_0)


def test_the_critic_learns_per_decision_values():
    """V(h_1), after op is chosen, must learn the reward of that op (1 for "c", else 0)."""
    ctrl = toy()
    trainer = A2CTrainer(ctrl, lr=0.02, entropy_weight=0.0, value_coef=1.0, epsilon=1.0)  # uniform proposals
    for _ in range(60):
        archs = trainer.propose(16)
        stats = trainer.update_policy(archs, toy_rewards(archs))
    with torch.no_grad():
        rows = torch.tensor([[k, 0] for k in range(4)])
        values = trainer.values(ctrl(rows).hidden)[:, 1]  # (4,): V after op
    assert float(values[2]) > 0.8 and float(values[[0, 1, 3]].max()) < 0.3
    # V(h_0) cannot know the op: its irreducible error is Var(R) = 0.25 * 0.75; V(h_1) has none
    assert stats.value_loss < (0.25 * 0.75) / 2 + 0.02


def test_a2c_learns_the_toy_problem():
    ctrl = toy()
    trainer = A2CTrainer(ctrl, lr=0.05)
    for _ in range(30):
        archs = trainer.propose(8)
        trainer.update_policy(archs, toy_rewards(archs))
    assert sum(toy_rewards(trainer.propose(64))) / 64 > 0.8


def test_a2c_checkpoint_resumes_exactly():
    first = A2CTrainer(toy(3), lr=0.05, gae_lambda=0.9)
    for _ in range(2):
        archs = first.propose(4)
        first.update_policy(archs, toy_rewards(archs))
    state = copy.deepcopy(first.state_dict())
    clone = A2CTrainer(toy(4), lr=0.05, gae_lambda=0.9)  # other weights and generator: all come from the state
    clone.load_state_dict(state)
    for _ in range(2):
        a, b = first.propose(4), clone.propose(4)
        assert a == b
        assert first.update_policy(a, toy_rewards(a)).to_dict() == clone.update_policy(b, toy_rewards(b)).to_dict()
    torch.testing.assert_close(first.critic.weight, clone.critic.weight)


def test_a2c_bad_options():
    with pytest.raises(ValueError, match="gae_lambda"):
        A2CTrainer(toy(), gae_lambda=1.5)
    with pytest.raises(ValueError, match="value_coef"):
        A2CTrainer(toy(), value_coef=0)
    with pytest.raises(ValueError, match="baseline_decay: not an option of A2C"):
        A2CTrainer(toy(), baseline_decay=0.9)
    with pytest.raises(ValueError, match="state: not an A2C checkpoint"):
        A2CTrainer(toy()).load_state_dict({"controller": {}})


def test_a2c_clips_the_critic_with_the_controller():
    """Actor and critic share one loss and one Adam: one clip over both (SB3's A2C)."""
    trainer = A2CTrainer(toy(), lr=0.05, grad_clip=1e-3)
    archs = trainer.propose(8)
    stats = trainer.update_policy(archs, toy_rewards(archs))
    critic = [p.grad for p in trainer.critic.parameters()]
    everything = critic + [p.grad for p in trainer.controller.parameters() if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in everything])))
    assert norm <= 1e-3 * 1.001 < stats.grad_norm
    assert float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in critic]))) > 0  # the critic did get a gradient
