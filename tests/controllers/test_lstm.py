"""LSTMController (and the Controller base): log pi against torch.distributions, batching, skip attention, snapshots."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Categorical

from nasrl_nb.controllers.lstm import ControllerSample, LSTMController, PolicySnapshot, max_entropy
from nasrl_nb.runtime import seed_everything
from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.spaces.search_space import Decision, SearchSpace, custom_space
from nasrl_nb.spaces.zoph_le_space import ZophLeSpace

SPACES = {
    "custom": lambda: custom_space({"arm": ["a", "b", "c"], "width": [8, 16], "act": ["relu", "tanh", "gelu", "swish"]}),
    "cell": lambda: CellSpace(),
    "macro": lambda: MacroSpace(num_layers=3),
    "macro_skips": lambda: MacroSpace(num_layers=3, vocab={"layer_type": ["conv1x1", "conv3x3"], "activation": ["relu", "tanh"]}, skip_connections=True),
    "zoph_le": lambda: ZophLeSpace(num_layers=3, strides=True),
}


def make(space_name="cell", seed=0, **kwargs):
    seed_everything(seed)
    return LSTMController(SPACES[space_name](), hidden_size=kwargs.pop("hidden_size", 16), **kwargs)


def sharpen(ctrl, factor=30.0):
    """Scale every weight so that the policy is far from uniform."""
    with torch.no_grad():
        for p in ctrl.parameters():
            p.mul_(factor)


def reference_score(ctrl, arch):
    """One architecture, unbatched, straight from the class docstring, with torch.distributions."""
    decisions, H = ctrl.space.decisions, ctrl.hidden_size
    state = [(torch.zeros(1, H), torch.zeros(1, H)) for _ in ctrl.cells]
    x, hidden = ctrl.start, []
    log_prob = entropy = torch.zeros(())
    for t, (d, a) in enumerate(zip(decisions, arch.indices, strict=True)):
        for k, cell in enumerate(ctrl.cells):
            state[k] = cell(x, state[k])
            x = state[k][0]
        hidden.append(x)
        if d.kind == "skip" and ctrl.skip_attention:
            anchor = max(s for s, e in enumerate(decisions) if e.layer == d.source and e.kind == "categorical")
            score = ctrl.v_attn(torch.tanh(ctrl.w_prev(hidden[anchor]) + ctrl.w_curr(x)))[0, 0]
            dist = Bernoulli(logits=ctrl.tanh_constant * torch.tanh(score / ctrl.temperature))
        else:
            dist = Categorical(logits=ctrl.tanh_constant * torch.tanh(ctrl.heads[str(t)](x)[0] / ctrl.temperature))
        log_prob = log_prob + dist.log_prob(torch.tensor(float(a) if isinstance(dist, Bernoulli) else a))
        entropy = entropy + dist.entropy()
        if t + 1 < len(decisions):
            x = ctrl.embeddings[t](torch.tensor([a]))
    return log_prob, entropy


@pytest.mark.parametrize("space_name", list(SPACES))
def test_batched_pass_matches_unbatched_reference(space_name):
    ctrl = make(space_name, num_layers=2)
    sharpen(ctrl, 4.0)
    sample = ctrl.sample(5)
    for b, arch in enumerate(sample.architectures):
        log_prob, entropy = reference_score(ctrl, arch)
        torch.testing.assert_close(sample.log_prob[b], log_prob)
        torch.testing.assert_close(sample.entropy[b], entropy)


def test_batched_sampling_shapes_and_randomness():
    ctrl = make("cell")
    sample = ctrl.sample(64)
    assert isinstance(sample, ControllerSample) and len(sample) == 64
    assert sample.indices.shape == (64, 6) and sample.indices.dtype == torch.long
    assert sample.log_prob.shape == (64,) and sample.entropy.shape == (64,)
    assert [a.indices for a in sample.architectures] == [tuple(r) for r in sample.indices.tolist()]
    assert all(a in ctrl.space for a in sample.architectures)
    assert len(set(sample.architectures)) >= 50  # a near-uniform policy over 15,625 cells
    assert bool((sample.entropy <= max_entropy(ctrl.space) + 1e-5).all())


def test_gradients_reach_every_parameter_used():
    ctrl = make("macro_skips")
    ctrl.sample(8).log_prob.sum().backward()
    missing = [n for n, p in ctrl.named_parameters() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    assert missing == []


def test_greedy_is_deterministic_argmax_path():
    ctrl = make("macro")
    sharpen(ctrl, 3.0)
    first, second = ctrl.sample(4, greedy=True), ctrl.sample(4, greedy=True)
    assert torch.equal(first.indices, second.indices)
    assert all(torch.equal(row, first.indices[0]) for row in first.indices)
    out = ctrl(first.indices[:1])
    for t, logits in enumerate(out.logits):
        assert int(logits.argmax()) == int(first.indices[0, t])
    best = sum(torch.log_softmax(logits, -1).max() for logits in out.logits)
    torch.testing.assert_close(first.log_prob[0], best)


def test_higher_temperature_gives_higher_entropy():
    # softmax(x / T) flattens as T grows; with tanh clipping saturated logits can break ties
    # either way, so the strict ordering is checked on the unclipped policy
    ctrl = make("cell", tanh_constant=None)
    sharpen(ctrl)
    entropies = []
    for temperature in (0.5, 1.0, 5.0):
        ctrl.temperature = temperature
        entropies.append(ctrl.policy_snapshot(8).entropy.sum())
    assert entropies[0] < entropies[1] < entropies[2] <= max_entropy(ctrl.space)


def test_tanh_clipping_bounds_logits():
    clipped, free = make("cell", tanh_constant=2.5), make("cell", tanh_constant=None)
    for ctrl in (clipped, free):
        sharpen(ctrl, 100.0)
    indices = clipped.sample(16).indices
    with torch.no_grad():
        clipped_max = max(float(logits.abs().max()) for logits in clipped(indices).logits)
        free_max = max(float(logits.abs().max()) for logits in free(indices).logits)
    assert clipped_max <= 2.5 + 1e-6
    assert free_max > 2.5


def test_skip_probability_is_sigmoid_of_attention_score():
    ctrl = make("macro_skips", tanh_constant=None)
    sharpen(ctrl, 3.0)
    decisions = ctrl.space.decisions
    skips = [t for t, d in enumerate(decisions) if d.kind == "skip"]
    assert skips and all(str(t) not in ctrl.heads for t in skips)  # scored by attention, not a head
    indices = ctrl.sample(32).indices
    out = ctrl(indices)
    for t in skips:
        d = decisions[t]
        anchor = max(s for s, e in enumerate(decisions) if e.layer == d.source and e.kind == "categorical")
        score = ctrl.v_attn(torch.tanh(ctrl.w_prev(out.hidden[:, anchor]) + ctrl.w_curr(out.hidden[:, t]))).squeeze(1)
        torch.testing.assert_close(out.logits[t].softmax(-1)[:, 1], torch.sigmoid(score))


def test_skip_decisions_without_attention_are_softmax_heads():
    ctrl = make("macro_skips", skip_attention=False)
    assert not ctrl.skip_attention and not hasattr(ctrl, "v_attn")
    assert all(str(t) in ctrl.heads for t in range(len(ctrl.space.decisions)))
    sample = ctrl.sample(6)
    torch.testing.assert_close(ctrl.log_prob(sample.architectures)[0], sample.log_prob)


def test_seeded_sampling_is_reproducible():
    first = make("macro_skips", seed=7).sample(10)
    second = make("macro_skips", seed=7).sample(10)
    assert torch.equal(first.indices, second.indices)
    torch.testing.assert_close(first.log_prob, second.log_prob)
    assert first.architectures == second.architectures


def test_sampling_uses_its_own_generator_not_the_global_rng():
    # the kernel reseeding or drawing from torch's global RNG between samples changes nothing
    quiet, busy = make("macro_skips", seed=3), make("macro_skips", seed=3)
    global_state = torch.get_rng_state()
    undisturbed = [quiet.sample(8).indices for _ in range(3)]
    assert torch.equal(torch.get_rng_state(), global_state)  # sampling never touched the global RNG
    disturbed = []
    for k in range(3):
        torch.manual_seed(1000 + k)
        torch.rand(7)
        disturbed.append(busy.sample(8).indices)
    assert all(torch.equal(a, b) for a, b in zip(undisturbed, disturbed, strict=True))
    # the same controller seed gives the same samples; another seed, other samples
    a, b = LSTMController(CellSpace(), seed=5), LSTMController(CellSpace(), seed=5)
    b.load_state_dict(a.state_dict())  # same weights too (state_dict carries the generator as well)
    c = LSTMController(CellSpace(), seed=6)
    c.load_state_dict({k: v for k, v in a.state_dict().items() if k != "_extra_state"}, strict=False)
    assert torch.equal(a.sample(32).indices, b.sample(32).indices)
    assert not torch.equal(a.sample(32).indices, c.sample(32).indices)
    # the sampled frequencies follow the policy (inverse-CDF draws are unbiased)
    ctrl = make("custom")
    sharpen(ctrl, 4.0)
    probs = ctrl(ctrl.sample(1).indices).logits[0].softmax(-1)[0].detach()
    counts = torch.bincount(ctrl.sample(20_000).indices[:, 0], minlength=3).double() / 20_000
    torch.testing.assert_close(counts, probs.double(), atol=0.015, rtol=0)


def test_state_dict_round_trip_continues_the_sample_stream():
    ctrl = make("macro_skips", seed=4)
    ctrl.sample(5)
    buffer = io.BytesIO()
    torch.save(ctrl.state_dict(), buffer)
    buffer.seek(0)
    expected = [ctrl.sample(6).indices for _ in range(3)]
    restored = make("macro_skips", seed=99)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert all(torch.equal(restored.sample(6).indices, e) for e in expected)
    ctrl.manual_seed(4)
    assert torch.equal(ctrl.sample(5).indices, make("macro_skips", seed=4).manual_seed(4).sample(5).indices)


def test_seed_comes_from_the_global_rng_when_not_given():
    first, second = make("cell", seed=12), make("cell", seed=12)  # make() calls seed_everything(12)
    assert first.seed == second.seed and torch.equal(first.sample(9).indices, second.sample(9).indices)
    assert make("cell", seed=13).seed != first.seed


def test_policy_snapshot_is_a_distribution_and_leaves_rng_alone():
    ctrl = make("macro_skips")
    sharpen(ctrl, 3.0)
    generator_state = ctrl.generator.get_state()
    expected = ctrl.sample(5).indices
    ctrl.generator.set_state(generator_state)
    rng_state = torch.get_rng_state()
    snap = ctrl.policy_snapshot(4000)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.equal(ctrl.sample(5).indices, expected)  # the dashboard did not change the run

    assert snap.decisions == [d.name for d in ctrl.space.decisions]
    assert snap.choices == [d.choices for d in ctrl.space.decisions]
    for p, m in zip(snap.probs, snap.marginals, strict=True):
        assert p.shape == m.shape and math.isclose(p.sum(), 1.0, abs_tol=1e-9) and math.isclose(m.sum(), 1.0, abs_tol=1e-9)
    np.testing.assert_allclose(snap.entropy, [-(p * np.log(p)).sum() for p in snap.probs])
    # probs follow the greedy path; decision 0 has no earlier choice, so its marginal matches it
    greedy = ctrl(ctrl.sample(1, greedy=True).indices)
    for t, logits in enumerate(greedy.logits):
        np.testing.assert_allclose(snap.probs[t], logits.softmax(-1)[0].detach().double().numpy(), atol=1e-6)
    np.testing.assert_allclose(snap.marginals[0], snap.probs[0], atol=0.04)

    again = PolicySnapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again.decisions == snap.decisions and again.choices == snap.choices
    for a, b in zip(again.probs + again.marginals, snap.probs + snap.marginals, strict=True):
        np.testing.assert_allclose(a, b)


def test_seed_entry_points():
    ctrl = make("custom")
    arch, log_prob, entropy = ctrl.sample_architecture()
    assert arch in ctrl.space and log_prob.dim() == 0 and entropy.dim() == 0 and log_prob.requires_grad
    torch.testing.assert_close(ctrl.log_prob([arch])[0][0], log_prob)

    sample = ctrl.sample(6)
    assert not hasattr(ctrl, "compute_loss")  # one REINFORCE loss: nasrl_nb.rl.policy_gradient.reinforce_loss

    out = ctrl(sample.indices, temperature=4.0)
    assert [tuple(lg.shape) for lg in out.logits] == [(6, len(d.choices)) for d in ctrl.space.decisions]
    assert out.decision_log_probs.shape == (6, 3) and out.hidden.shape == (6, 3, ctrl.hidden_size)
    assert ctrl.temperature == 1.0  # the override lasted one call
    assert bool((out.entropies.sum(1) > ctrl.log_prob(sample.indices)[1]).all())


def test_repr_is_readable():
    text = repr(make("cell"))
    assert text.startswith("LSTMController(space=CellSpace(6 decisions") and "hidden_size=16" in text
    assert "tanh_constant=2.5" in text and "parameters=" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_size": 0}, "hidden_size: must be a positive integer"),
        ({"num_layers": 1.5}, "num_layers: must be a positive integer"),
        ({"temperature": 0}, "temperature: must be a positive number"),
        ({"tanh_constant": -1.0}, "tanh_constant: must be a positive number"),
    ],
)
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LSTMController(CellSpace(), **kwargs)


def test_bad_space_and_actions():
    with pytest.raises(ValueError, match="space: expected a SearchSpace"):
        LSTMController({"arm": ["a", "b"]})
    ctrl = make("cell")
    with pytest.raises(ValueError, match="batch_size: must be a positive integer"):
        ctrl.sample(0)
    with pytest.raises(ValueError, match="actions: architecture .* is not from this controller's space"):
        ctrl.log_prob([MacroSpace(num_layers=2).sample(0)])
    with pytest.raises(ValueError, match=r"actions: expected an index tensor of shape \(B, 6\)"):
        ctrl.log_prob(torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="actions: indices out of range"):
        ctrl.log_prob(torch.full((2, 6), 5))
    with pytest.raises(ValueError, match="seed: must be an integer >= 0"):
        LSTMController(CellSpace(), seed=-1)
    with pytest.raises(ValueError, match="seed: must be an integer >= 0"):
        ctrl.manual_seed(1.5)
    with pytest.raises(ValueError, match="temperature: must be a positive number"):
        ctrl.temperature = -2


def test_skip_attention_needs_an_anchor_before_the_skip():
    space = SearchSpace([Decision("skip_1_0", (0, 1), kind="skip", layer=1, source=0), Decision("op", ("a", "b"), layer=0)])
    with pytest.raises(ValueError, match="skip_attention: decision 'skip_1_0' attends to layer 0"):
        LSTMController(space)
    ctrl = LSTMController(space, skip_attention=False)
    sample = ctrl.sample(3)
    torch.testing.assert_close(ctrl.log_prob(sample.indices)[0], sample.log_prob)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    ctrl = make("macro_skips").to("cuda")
    sample = ctrl.sample(32)
    assert sample.indices.device.type == "cuda" and sample.log_prob.device.type == "cuda"
    on_cpu = make("macro_skips")  # same weights and generator seed: the uniforms come from the same CPU stream
    assert torch.equal(on_cpu.sample(32).indices, sample.indices.cpu())
    torch.testing.assert_close(ctrl.log_prob(sample.architectures)[0], sample.log_prob)
    snap = ctrl.policy_snapshot(64)
    assert math.isclose(snap.marginals[0].sum(), 1.0)
