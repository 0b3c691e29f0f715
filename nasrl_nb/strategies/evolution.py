"""Regularized (ageing) evolution (Real et al., AAAI 2019, "Regularized Evolution for
Image Classifier Architecture Search", Sec. 2 and Algorithm 1).

A population of ``P`` evaluated architectures evolves by tournaments: sample ``S`` members
uniformly (with replacement), take the fittest as the parent, mutate it, evaluate the
child and add it to the population, then remove the *oldest* member (not the worst):
ageing favours architectures that stay good when re-discovered, which regularizes
against lucky evaluations. Until the population holds ``P`` members, proposals are
uniform random. A mutation changes one decision to a different option.

Fitness is the search's reward, so budgets and penalties apply to evolution as to RL.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_positive, require_seed
from .base import SearchStrategy, check_batch, check_count


def mutate(arch: Architecture, rng: np.random.Generator) -> Architecture:
    """``arch`` with one decision (chosen uniformly among those with 2+ options) changed.

    The new option is uniform among the *other* options, so the child always differs from
    its parent (unless no decision has a second option, when the parent is returned).
    """
    decisions = arch.space.decisions
    mutable = [t for t, d in enumerate(decisions) if len(d.choices) > 1]
    if not mutable:
        return arch
    t = mutable[int(rng.integers(len(mutable)))]
    indices = list(arch.indices)
    offset = int(rng.integers(1, len(decisions[t].choices)))  # 1..K-1: never the same option
    indices[t] = (indices[t] + offset) % len(decisions[t].choices)
    return arch.space.from_indices(indices)


@dataclass
class EvolutionConfig:
    """The settings of :class:`RegularizedEvolution` (Real et al. 2019): population P and tournament S."""

    population_size: int = 16  # P: architectures kept alive
    sample_size: int = 4  # S: the tournament, drawn from the population



class RegularizedEvolution(SearchStrategy):
    """Ageing evolution with population size ``population_size`` (P) and tournament ``sample_size`` (S).

    The population is a queue of ``(architecture, fitness)``, oldest first; :meth:`observe`
    appends the evaluated batch and drops the oldest members beyond P.
    """

    method = "evolution"
    steady_state = True  # an asynchronous search replaces a member as each child returns (Real et al. 2019)

    def __init__(self, space: SearchSpace, *, population_size: int = EvolutionConfig.population_size,
                 sample_size: int = EvolutionConfig.sample_size, seed: int = 0):
        super().__init__(space)
        self.population_size = require_positive("population_size", population_size, integer=True)
        self.sample_size = require_positive("sample_size", sample_size, integer=True)
        if self.sample_size > self.population_size:
            raise ValueError(
                f"sample_size: {sample_size} is not allowed; allowed values: 1..population_size ({population_size})"
            )
        require_seed("seed", seed)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.population: deque[tuple[Architecture, float]] = deque()

    def tournament(self) -> Architecture:
        """The fittest of ``S`` members drawn uniformly with replacement (ties: first drawn)."""
        picks = self.rng.integers(len(self.population), size=self.sample_size)
        best = max(picks, key=lambda i: self.population[int(i)][1])
        return self.population[int(best)][0]

    def propose(self, n: int) -> list[Architecture]:
        n = check_count(n)
        missing = max(0, self.population_size - len(self.population))  # initial random population
        proposals = []
        for i in range(n):
            if i < missing or not self.population:
                proposals.append(self.space.sample(self.rng))
            else:
                proposals.append(mutate(self.tournament(), self.rng))
        return proposals

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        check_batch(architectures, results, rewards)
        for arch, reward in zip(architectures, rewards, strict=True):
            self.population.append((arch, float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()  # ageing: the oldest dies, however fit
        fitness = [f for _, f in self.population]
        return {"population": len(self.population), "population_best": max(fitness), "population_mean": float(np.mean(fitness))}

    def state_dict(self) -> dict:
        return {
            "method": self.method,
            "rng": self.rng.bit_generator.state,
            "population": [[list(arch.indices), fitness] for arch, fitness in self.population],
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.rng.bit_generator.state = dict(state["rng"])
        self.population = deque((self.space.from_indices(indices), float(f)) for indices, f in state["population"])

    def config(self) -> dict:
        return {
            "method": self.method,
            "population_size": self.population_size,
            "sample_size": self.sample_size,
            "seed": self.seed,
        }
