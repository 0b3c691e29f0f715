"""GRU and attention controllers: the LSTM's tests (log-probs against torch.distributions,
batched = one at a time), plus causality, the registry, checkpoints and learning."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.distributions import Categorical

from nasrl_nb.controllers.attention import AttentionController
from nasrl_nb.controllers.gru import GRUController
from nasrl_nb.controllers.lstm import Controller, LSTMController
from nasrl_nb.controllers.registry import CONTROLLERS, make_controller
from nasrl_nb.rl.policy_gradient import PolicyGradientTrainer
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.spaces.search_space import custom_space
from nasrl_nb.spaces.zoph_le_space import ZophLeSpace

SPACES = {
    "custom": lambda: custom_space({"arm": ["a", "b", "c"], "width": [8, 16], "act": ["relu", "tanh", "gelu", "swish"]}),
    "cell": lambda: CellSpace(),
    "macro": lambda: MacroSpace(num_layers=3),
    "macro_skips": lambda: MacroSpace(num_layers=3, vocab={"layer_type": ["conv1x1", "conv3x3"], "activation": ["relu", "tanh"]},
                                      skip_connections=True),
    "zoph_le": lambda: ZophLeSpace(num_layers=3, strides=True),
}
KINDS = ["lstm", "gru", "attention"]


def make(kind, space_name="cell", seed=0, **kwargs):
    seed_everything(seed)
    ctrl = make_controller(SPACES[space_name](), kind=kind, hidden_size=16, **kwargs)
    with torch.no_grad():  # far from uniform, so that errors in the scores show
        for p in ctrl.parameters():
            p.mul_(5.0)
    return ctrl


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("kind", KINDS)
def test_log_prob_matches_categorical(kind, space_name):
    ctrl = make(kind, space_name, temperature=1.7)
    sample = ctrl.sample(12)
    out = ctrl(sample.indices)
    by_hand = sum(Categorical(logits=out.logits[t]).log_prob(sample.indices[:, t]) for t in range(len(out.logits)))
    entropy = sum(Categorical(logits=logits).entropy() for logits in out.logits)
    torch.testing.assert_close(sample.log_prob, by_hand)
    torch.testing.assert_close(sample.entropy, entropy)
    log_prob, teacher_entropy = ctrl.log_prob(sample.architectures)
    torch.testing.assert_close(log_prob, sample.log_prob)
    torch.testing.assert_close(teacher_entropy, sample.entropy)
    assert log_prob.requires_grad and bool((log_prob <= 0).all())


@pytest.mark.parametrize("space_name", list(SPACES))
@pytest.mark.parametrize("kind", KINDS)
def test_batched_equals_one_at_a_time(kind, space_name):
    ctrl = make(kind, space_name)
    sample = ctrl.sample(6)
    batched = ctrl(sample.indices)
    for b, arch in enumerate(sample.architectures):
        alone = ctrl([arch])
        torch.testing.assert_close(alone.decision_log_probs[0], batched.decision_log_probs[b])
        torch.testing.assert_close(alone.hidden[0], batched.hidden[b])


def test_attention_is_causal():
    """Decision t's distribution must not depend on decisions t, t+1, ... (only on earlier ones)."""
    ctrl = make("attention", "custom")
    a = torch.tensor([[0, 0, 0]])
    b = torch.tensor([[0, 1, 3]])  # differs from decision 1 on
    la, lb = ctrl(a).logits, ctrl(b).logits
    torch.testing.assert_close(la[0], lb[0])
    torch.testing.assert_close(la[1], lb[1])  # decision 1's logits depend on decision 0 only
    assert not torch.allclose(la[2], lb[2])


def test_gradients_reach_the_core():
    for kind in ("gru", "attention"):
        ctrl = make(kind, "custom")
        ctrl.sample(4).log_prob.sum().backward()
        core = [p for name, p in ctrl.named_parameters() if name.startswith("cells.")]
        assert core and all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in core), kind


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_and_checkpointed_sampling(kind):
    first = make(kind, "cell", seed=1)
    again = make(kind, "cell", seed=1)
    assert torch.equal(first.sample(5).indices, again.sample(5).indices)
    state = copy.deepcopy(first.state_dict())
    ahead = first.sample(5).indices
    other = make(kind, "cell", seed=2)
    other.load_state_dict(state)
    assert torch.equal(other.sample(5).indices, ahead)
    assert type(first).__name__ in repr(first)


@pytest.mark.parametrize("kind", KINDS)
def test_every_controller_learns_with_reinforce(kind):
    seed_everything(0)
    ctrl = make_controller(custom_space({"op": ["a", "b", "c", "d"], "width": [8, 16, 32]}), kind=kind, hidden_size=16)
    trainer = PolicyGradientTrainer(ctrl, lr=0.05)
    for _ in range(30):
        archs = trainer.propose(8)
        trainer.update_policy(archs, [1.0 if a.choices[0] == "c" else 0.0 for a in archs])
    assert sum(a.choices[0] == "c" for a in trainer.propose(64)) / 64 > 0.7


def test_registry_and_bad_input():
    assert CONTROLLERS == {"lstm": LSTMController, "gru": GRUController, "attention": AttentionController}
    assert all(issubclass(kind, Controller) and kind is not Controller for kind in CONTROLLERS.values())
    with pytest.raises(NotImplementedError, match="Controller: a controller needs a recurrent core"):
        Controller(CellSpace())  # the base has none of its own
    with pytest.raises(ValueError, match="kind: 'transformer' is not allowed; allowed values: lstm, gru, attention"):
        make_controller(CellSpace(), kind="transformer")
    with pytest.raises(ValueError, match="num_heads: must divide hidden_size=16"):
        make_controller(CellSpace(), kind="attention", hidden_size=16, num_heads=3)
    with pytest.raises(ValueError, match="num_heads: only for the attention controller"):
        make_controller(CellSpace(), kind="gru", num_heads=2)
