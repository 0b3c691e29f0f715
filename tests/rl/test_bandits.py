"""Factored UCB1 and Thompson sampling: UCB's scores by hand, trying every option first, batches
spread by virtual counts, finding the best arm, checkpoints, the strategy in a search."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from nasrl_nb.rl.bandits import FactoredThompson, FactoredUCB1, make_bandit
from nasrl_nb.spaces.search_space import custom_space
from nasrl_nb.strategies.bandit import BanditStrategy

SPACE = custom_space({"op": ["a", "b", "c", "d"], "width": [8, 16, 32]})
PAY = {"a": 0.2, "b": 0.5, "c": 0.9, "d": 0.4}


def rewards(architectures, rng=None):
    noise = (lambda: 0.0) if rng is None else (lambda: float(rng.normal(0, 0.05)))
    return [PAY[a.choices[0]] + 0.01 * a.indices[1] + noise() for a in architectures]


def test_ucb_scores_by_hand():
    ucb = FactoredUCB1(SPACE, exploration=0.5)
    archs = [SPACE.from_choices(c) for c in (("a", 8), ("a", 16), ("b", 8), ("c", 32))]
    ucb.observe(archs, [0.1, 0.3, 0.6, 0.8])
    sigma = float(np.std([0.1, 0.3, 0.6, 0.8], ddof=1))
    assert ucb.sigma() == pytest.approx(sigma)
    scores = ucb.scores(0)
    assert scores[0] == pytest.approx(0.2 + 0.5 * sigma * math.sqrt(2 * math.log(4) / 2))
    assert scores[2] == pytest.approx(0.8 + 0.5 * sigma * math.sqrt(2 * math.log(4) / 1))
    assert scores[3] == math.inf  # never tried


def test_ucb_tries_every_option_first_and_spreads_a_batch():
    ucb = FactoredUCB1(SPACE, seed=1)
    batch = ucb.propose(4)
    assert sorted(a.choices[0] for a in batch) == ["a", "b", "c", "d"]  # virtual counts: no repeats
    assert len({a.choices[1] for a in batch[:3]}) == 3
    ucb.observe(batch, rewards(batch))
    assert all(p.sum() == 0 for p in ucb.pending)  # observed results release their pending marks


@pytest.mark.parametrize("kind", ["ucb", "thompson"])
def test_bandit_finds_the_best_option(kind):
    bandit = make_bandit(kind, SPACE, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(25):
        batch = bandit.propose(4)
        bandit.observe(batch, rewards(batch, rng))
    last = bandit.propose(20)
    assert sum(a.choices[0] == "c" for a in last) >= 15
    assert np.argmax(bandit.counts[0]) == 2


@pytest.mark.parametrize("kind", ["ucb", "thompson"])
def test_bandit_checkpoint_resumes_exactly(kind):
    first = make_bandit(kind, SPACE, seed=3)
    for _ in range(3):
        batch = first.propose(3)
        first.observe(batch, rewards(batch))
    pending = first.propose(2)  # in flight when the checkpoint is taken
    clone = make_bandit(kind, SPACE, seed=99)
    clone.load_state_dict(copy.deepcopy(first.state_dict()))
    for _ in range(3):
        a, b = first.propose(3), clone.propose(3)
        assert a == b
        first.observe(a, rewards(a))
        clone.observe(b, rewards(b))
    first.observe(pending, rewards(pending))
    clone.observe(pending, rewards(pending))
    assert first.state_dict() == clone.state_dict()


def test_thompson_posterior_shrinks_towards_the_global_mean():
    ts = FactoredThompson(SPACE, prior_count=2.0)
    archs = [SPACE.from_choices(("a", 8))] * 2 + [SPACE.from_choices(("b", 8))] * 2
    ts.observe(archs, [1.0, 1.0, 0.0, 0.0])
    mean, std = ts.posterior(0)
    assert mean[0] == pytest.approx((2.0 + 2 * 0.5) / 4) and mean[2] == pytest.approx(0.5)
    assert std[0] < std[2]  # played options are more certain
    # the posterior of a Gaussian mean after n observations (n0 of them prior): sigma / sqrt(n)
    sigma = float(np.std([1.0, 1.0, 0.0, 0.0], ddof=1))
    assert ts.sigma() == pytest.approx(sigma)
    assert std.tolist() == pytest.approx([sigma / math.sqrt(2 + 2), sigma / math.sqrt(2 + 2), sigma / math.sqrt(2), sigma / math.sqrt(2)])


def test_bandit_strategy_snapshot_and_bad_input():
    strategy = BanditStrategy(SPACE, algorithm="thompson", seed=0)
    batch = strategy.propose(4)
    stats = strategy.observe(batch, [{}] * 4, rewards(batch))
    assert stats["observed"] == 4
    snap = strategy.policy_snapshot()
    assert all(abs(p.sum() - 1) < 1e-9 for p in snap.probs) and all(abs(m.sum() - 1) < 1e-9 for m in snap.marginals)
    with pytest.raises(ValueError, match="algorithm: 'exp3' is not allowed; allowed values: ucb, thompson"):
        BanditStrategy(SPACE, algorithm="exp3")
    with pytest.raises(ValueError, match="exploration"):
        BanditStrategy(SPACE, algorithm="ucb", exploration=-1)
    with pytest.raises(ValueError, match="state: checkpoint of method 'thompson', not 'ucb'"):
        BanditStrategy(SPACE, algorithm="ucb").load_state_dict(strategy.state_dict())


def test_ucb_does_not_spend_a_budget_on_known_architectures():
    """One value per architecture (a table): 100 evaluations of a 125-architecture space are 100 different ones."""
    space = custom_space({"op": ["a", "b", "c", "d", "e"], "width": [8, 16, 32, 64, 128], "depth": [1, 2, 3, 4, 5]})
    ucb = FactoredUCB1(space, seed=0)
    seen = []
    for _ in range(25):
        batch = ucb.propose(4)
        # additive with one interaction; a deterministic table lookup, so a repeat teaches nothing
        ucb.observe(batch, [0.1 * a.indices[0] + 0.02 * a.indices[1] + 0.05 * (a.indices[0] == a.indices[2]) for a in batch])
        seen += [a.indices for a in batch]
    assert len(set(seen)) == 100
    # once every architecture is known, the best one comes back rather than an error
    small = FactoredUCB1(SPACE, seed=0)
    everything = small.propose(12) + small.propose(3)
    assert len(set(a.indices for a in everything[:12])) == 12 and len(everything) == 15


def test_ucb_breaks_ties_at_random():
    firsts = {FactoredUCB1(SPACE, seed=seed).propose(1)[0].indices for seed in range(20)}
    assert len(firsts) > 3  # every option untried: each seed's tie-break picks its own row
