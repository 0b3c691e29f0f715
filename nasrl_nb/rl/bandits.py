"""Factored multi-armed bandits over a space's decisions: UCB1 and Thompson sampling.

A *factored* bandit treats every decision ``t`` as its own multi-armed bandit whose arms are
the options ``k`` of that decision, and credits an architecture's reward to each option it
chose. It assumes that rewards add up over decisions (no interactions); what it misses
because of that is the lesson against the controllers, which condition each choice on the
earlier ones. Both bandits keep, per decision and option, the count ``n_tk``, the reward
sum and the sum of squares.

* **UCB1** (Auer, Cesa-Bianchi & Fischer 2002, Fig. 1): play every option once, then the
  option maximising ``mean_tk + c * sigma * sqrt(2 ln N / n_tk)``. Rewards here are not in
  [0, 1] with unit range, so the bonus is scaled by ``sigma``, the standard deviation of all
  rewards seen (floored), and by ``c = exploration``. Within a batch, and while results are
  pending, every proposed option counts as played ("virtual counts", as in batched and
  asynchronous UCB), so that one batch does not repeat one architecture. Ties are broken
  uniformly at random, and an architecture already evaluated (or pending) is not proposed
  again while the space holds one that is not: the proposal is the best-scoring *unknown*
  architecture (scores add over decisions), found best-first from the per-decision argmax.
  On a table (one value per architecture) a repeat would spend budget on a known result.
* **Thompson sampling** (Thompson 1933; Agrawal & Goyal 2013, Gaussian version): draw, for
  every option, a mean from its posterior ``N(mu_tk, sigma^2 / (n_tk + n0))`` with ``mu_tk``
  shrunk towards the mean of all rewards by ``n0 = prior_count`` pseudo-observations, and
  take the best draw; independent draws per architecture diversify a batch by themselves.

Randomness (UCB's tie-breaks, Thompson's draws) comes from a private NumPy generator seeded
with ``seed``, saved in :meth:`FactoredBandit.state_dict`.

Staleness (asynchronous evaluation): both work with stale results: counts commute, so the
order in which rewards arrive does not matter; UCB's virtual counts stand in for results
still pending (:meth:`FactoredBandit.observe` releases them), and Thompson sampling needs no
correction.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_choice, require_positive, require_seed
from .config import BanditConfig

BANDITS: tuple[str, ...] = ("ucb", "thompson")
UNTRIED_SCORE = 1e6  # stands in for UCB's +inf of a never-tried option when rows' scores are summed


class FactoredBandit:
    """Per-decision option statistics; subclasses choose the option (:meth:`choose`)."""

    kind = "bandit"

    def __init__(self, space: SearchSpace, *, seed: int = 0, std_floor: float = BanditConfig.std_floor):
        if not isinstance(space, SearchSpace):
            raise ValueError(f"space: expected a SearchSpace, got {type(space).__name__}")
        self.space = space
        self.seed = require_seed("seed", seed)
        self.std_floor = float(require_positive("std_floor", std_floor))
        self.rng = np.random.default_rng(seed)
        sizes = [len(d.choices) for d in space.decisions]
        self.counts = [np.zeros(k) for k in sizes]  # n_tk
        self.sums = [np.zeros(k) for k in sizes]  # sum of rewards
        self.pending = [np.zeros(k) for k in sizes]  # proposed, result not yet observed
        self.known: set[tuple[int, ...]] = set()  # architectures (indices) evaluated or pending
        self.total, self.reward_sum, self.reward_sq = 0, 0.0, 0.0

    # --- statistics -----------------------------------------------------------------------------------
    def global_mean(self) -> float:
        return self.reward_sum / self.total if self.total else 0.0

    def sigma(self) -> float:
        """Standard deviation of every reward seen (floored); 1 before two rewards."""
        if self.total < 2:
            return 1.0
        var = max(self.reward_sq / self.total - self.global_mean() ** 2, 0.0) * self.total / (self.total - 1)
        return max(math.sqrt(var), self.std_floor)

    def means(self, t: int) -> np.ndarray:
        """Mean reward of each option of decision ``t`` (the global mean where unplayed)."""
        n = self.counts[t]
        return np.where(n > 0, self.sums[t] / np.maximum(n, 1), self.global_mean())

    # --- the bandit loop ------------------------------------------------------------------------------
    def choose(self, t: int) -> int:
        raise NotImplementedError

    def propose(self, n: int) -> list[Architecture]:
        """``n`` architectures, one option per decision each; marks their options pending."""
        architectures = []
        for _ in range(require_positive("n", n, integer=True)):
            row = [self.choose(t) for t in range(len(self.counts))]
            for t, k in enumerate(row):
                self.pending[t][k] += 1
            self.known.add(tuple(row))
            architectures.append(self.space.from_indices(row))
        return architectures

    def observe(self, architectures: Sequence[Architecture], rewards: Sequence[float]) -> None:
        """Credit each reward to every option its architecture chose; release their pending marks."""
        if len(architectures) != len(rewards):
            raise ValueError(f"rewards: expected one per architecture, got {len(rewards)} for {len(architectures)}")
        for arch, reward in zip(architectures, rewards, strict=True):
            reward = float(reward)
            if not math.isfinite(reward):
                raise ValueError(f"rewards: must be finite numbers, got {reward!r}")
            self.known.add(tuple(arch.indices))
            for t, k in enumerate(arch.indices):
                self.counts[t][k] += 1
                self.sums[t][k] += reward
                self.pending[t][k] = max(self.pending[t][k] - 1, 0)
            self.total += 1
            self.reward_sum += reward
            self.reward_sq += reward * reward

    def _argmax(self, scores: np.ndarray) -> int:
        """The best option; ties broken uniformly by the private generator."""
        best = np.flatnonzero(scores == scores.max())
        return int(best[0] if len(best) == 1 else self.rng.choice(best))

    def selection_probabilities(self, num_samples: int = 256, seed: int = 0) -> list[np.ndarray]:
        """Per decision, the probability that :meth:`choose` picks each option now (no generator touched)."""
        raise NotImplementedError

    # --- checkpoints ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "kind": self.kind,
            "counts": [c.tolist() for c in self.counts],
            "sums": [s.tolist() for s in self.sums],
            "pending": [p.tolist() for p in self.pending],
            "known": sorted(list(row) for row in self.known),
            "total": self.total,
            "reward_sum": self.reward_sum,
            "reward_sq": self.reward_sq,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: Mapping) -> None:
        if state.get("kind") != self.kind:
            raise ValueError(f"state: a {state.get('kind')!r} bandit's checkpoint, not {self.kind!r}")
        self.counts = [np.asarray(c, dtype=float) for c in state["counts"]]
        self.sums = [np.asarray(s, dtype=float) for s in state["sums"]]
        self.pending = [np.asarray(p, dtype=float) for p in state["pending"]]
        self.known = {tuple(int(k) for k in row) for row in state.get("known", [])}
        self.total, self.reward_sum, self.reward_sq = int(state["total"]), float(state["reward_sum"]), float(state["reward_sq"])
        self.rng.bit_generator.state = dict(state["rng"])


class FactoredUCB1(FactoredBandit):
    """UCB1 per decision with a bonus scaled by the rewards' spread (see the module docstring)."""

    kind = "ucb"

    def __init__(self, space: SearchSpace, *, exploration: float = BanditConfig.exploration, **kwargs):
        super().__init__(space, **kwargs)
        self.exploration = float(require_positive("exploration", exploration))

    def scores(self, t: int) -> np.ndarray:
        """``mean + c sigma sqrt(2 ln N / n)`` with virtual counts; +inf for options never tried."""
        played = self.counts[t] + self.pending[t]  # (K_t,)
        total = max(played.sum(), 1.0)
        bonus = self.exploration * self.sigma() * np.sqrt(2 * math.log(total) / np.maximum(played, 1))
        return np.where(played > 0, self.means(t) + bonus, np.inf)

    def choose(self, t: int) -> int:
        return self._argmax(self.scores(t))

    def propose(self, n: int) -> list[Architecture]:
        """``n`` architectures, each the best-scoring one not yet known (see the module docstring)."""
        architectures = []
        for _ in range(require_positive("n", n, integer=True)):
            row = self.best_unknown()
            for t, k in enumerate(row):
                self.pending[t][k] += 1
            self.known.add(row)
            architectures.append(self.space.from_indices(list(row)))
        return architectures

    def best_unknown(self) -> tuple[int, ...]:
        """The architecture maximising ``sum_t score_t(k_t)`` among those not in :attr:`known`.

        Each decision's options are ranked by score (ties in a random order); the search starts
        at the all-best row and pops rows best-first, a row's successors moving one decision to
        its next-ranked option, so it pops at most ``len(known) + 1`` rows. Never-tried options
        (score +inf) rank first. When every architecture is known, the best row is returned.
        """
        scores, orders = [], []
        for t in range(len(self.counts)):
            s = self.scores(t)
            s = np.where(np.isinf(s), UNTRIED_SCORE, s)  # finite, so sums still order rows
            order = self.rng.permutation(len(s))
            order = order[np.argsort(-s[order], kind="stable")]  # best first, ties at random
            scores.append(s[order])
            orders.append(order)
        start = (0,) * len(orders)
        heap, seen = [(-sum(s[0] for s in scores), start)], {start}
        while heap:
            _, ranks = heapq.heappop(heap)
            row = tuple(int(order[r]) for order, r in zip(orders, ranks, strict=True))
            if row not in self.known:
                return row
            for t, r in enumerate(ranks):
                if r + 1 < len(orders[t]):
                    nxt = ranks[:t] + (r + 1,) + ranks[t + 1:]
                    if nxt not in seen:
                        seen.add(nxt)
                        total = sum(s[q] for s, q in zip(scores, nxt, strict=True))
                        heapq.heappush(heap, (-total, nxt))
        return tuple(int(order[0]) for order in orders)  # the whole space is known: repeat the best

    def selection_probabilities(self, num_samples: int = 256, seed: int = 0) -> list[np.ndarray]:
        out = []
        for t in range(len(self.counts)):
            scores = self.scores(t)
            best = (scores == scores.max()).astype(float)
            out.append(best / best.sum())
        return out


class FactoredThompson(FactoredBandit):
    """Gaussian Thompson sampling per decision (see the module docstring)."""

    kind = "thompson"

    def __init__(self, space: SearchSpace, *, prior_count: float = BanditConfig.prior_count, **kwargs):
        super().__init__(space, **kwargs)
        self.prior_count = float(require_positive("prior_count", prior_count))

    def posterior(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) of each option's posterior mean reward."""
        n = self.counts[t] + self.prior_count
        mean = (self.sums[t] + self.prior_count * self.global_mean()) / n
        return mean, self.sigma() / np.sqrt(n)

    def choose(self, t: int, rng: np.random.Generator | None = None) -> int:
        mean, std = self.posterior(t)
        return int(np.argmax((rng or self.rng).normal(mean, std)))

    def selection_probabilities(self, num_samples: int = 256, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        out = []
        for t, counts in enumerate(self.counts):
            picks = [self.choose(t, rng) for _ in range(num_samples)]
            out.append(np.bincount(picks, minlength=len(counts)) / num_samples)
        return out


def make_bandit(kind: str, space: SearchSpace, **kwargs) -> FactoredBandit:
    """``"ucb"`` -> :class:`FactoredUCB1`, ``"thompson"`` -> :class:`FactoredThompson`."""
    kind = require_choice("kind", kind, BANDITS)
    return FactoredUCB1(space, **kwargs) if kind == "ucb" else FactoredThompson(space, **kwargs)
