"""Factored bandits (UCB1, Thompson sampling) as search strategies: baselines without a controller.

This module adapts :mod:`nasrl_nb.rl.bandits` to the strategy interface of
:mod:`nasrl_nb.strategies.base`. The bandits have no learned policy, so
:meth:`BanditStrategy.policy_snapshot` shows, per decision, the probability that the bandit
picks each option next (``probs``) and how often each option was evaluated (``marginals``),
in the controller's :class:`~nasrl_nb.controllers.lstm.PolicySnapshot` format, so that
dashboards and replays draw them like a controller's policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..controllers.lstm import PolicySnapshot
from ..rl.bandits import BANDITS, make_bandit
from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_choice
from .base import SearchStrategy, check_batch, check_count


class BanditStrategy(SearchStrategy):
    """A factored UCB1 (``"ucb"``) or Thompson-sampling (``"thompson"``) bandit over ``space``.

    Args:
        space: the search space.
        algorithm: ``"ucb"`` or ``"thompson"``.
        seed: seeds the bandit's private generator (tie-breaks, posterior draws).
        **kwargs: ``exploration`` (UCB's ``c``), ``prior_count`` (Thompson's ``n0``),
            ``std_floor`` (see :mod:`nasrl_nb.rl.bandits`).
    """

    def __init__(self, space: SearchSpace, *, algorithm: str = "ucb", seed: int = 0, **kwargs):
        super().__init__(space)
        self.method = require_choice("algorithm", algorithm, BANDITS)
        self.seed = seed
        self.kwargs = dict(kwargs)
        self.bandit = make_bandit(self.method, space, seed=seed, **kwargs)

    def propose(self, n: int) -> list[Architecture]:
        return self.bandit.propose(check_count(n))

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        check_batch(architectures, results, rewards)
        self.bandit.observe(list(architectures), [float(r) for r in rewards])
        return {"mean_reward": float(np.mean(rewards)), "observed": self.bandit.total, "sigma": self.bandit.sigma()}

    def state_dict(self) -> dict:
        return {"method": self.method, "bandit": self.bandit.state_dict()}

    def load_state_dict(self, state: Mapping) -> None:
        if state.get("method") != self.method:
            raise ValueError(f"state: checkpoint of method {state.get('method')!r}, not {self.method!r}")
        self.bandit.load_state_dict(state["bandit"])

    def policy_snapshot(self) -> PolicySnapshot:
        """Next-pick probabilities and evaluated-option frequencies per decision (no generator touched)."""
        probs = self.bandit.selection_probabilities()
        total = max(self.bandit.total, 1)
        marginals = [counts / total for counts in self.bandit.counts]
        entropy = np.array([-(p * np.log(np.where(p > 0, p, 1.0))).sum() for p in probs])
        decisions = self.space.decisions
        return PolicySnapshot([d.name for d in decisions], [d.choices for d in decisions], probs, marginals, entropy)

    def config(self) -> dict:
        return {"method": self.method, "seed": self.seed, **self.kwargs}
