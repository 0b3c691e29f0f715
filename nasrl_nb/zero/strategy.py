"""Regularized evolution of programs (Real et al. 2020, Sec. 4; the ageing evolution of Real et al. 2019).

The population starts as ``population_size`` copies of the empty program. Each proposal is
a tournament: draw ``sample_size`` members uniformly (with replacement), mutate the fittest
(:func:`~nasrl_nb.zero.mutations.mutate`). Each evaluated child joins the population and the
*oldest* member dies. Fitness is the search's reward (the mean held-out accuracy over the
search tasks, :mod:`nasrl_nb.zero.evaluate`). The strategy has the interface of every other
(:class:`~nasrl_nb.strategies.base.SearchStrategy`), so the NAS loop runs it unchanged.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

import numpy as np

from ..strategies.base import SearchStrategy, check_batch, check_count
from ..validation import require_positive, require_seed
from .mutations import mutate
from .space import ProgramSpace


class ProgramEvolution(SearchStrategy):
    """Ageing evolution over a :class:`~nasrl_nb.zero.space.ProgramSpace`, from empty programs."""

    method = "zero"
    steady_state = True

    def __init__(self, space: ProgramSpace, *, population_size: int = 100, sample_size: int = 10, seed: int = 0):
        if not isinstance(space, ProgramSpace):
            raise ValueError(f"space: expected a ProgramSpace, got {type(space).__name__}")
        super().__init__(space)
        self.population_size = require_positive("population_size", population_size, integer=True)
        self.sample_size = require_positive("sample_size", sample_size, integer=True)
        if self.sample_size > self.population_size:
            raise ValueError(f"sample_size: {sample_size} is not allowed; allowed values: 1..population_size ({population_size})")
        self.seed = require_seed("seed", seed)
        self.rng = np.random.default_rng(seed)
        self.population: deque = deque()  # (architecture, fitness), oldest first
        self.mutations: dict[str, int] = {}

    def tournament(self):
        """The fittest of ``sample_size`` members drawn with replacement (ties: the first drawn)."""
        picks = self.rng.integers(len(self.population), size=self.sample_size)
        best = max(picks, key=lambda i: self.population[int(i)][1])
        return self.population[int(best)][0]

    def propose(self, n: int) -> list:
        n = check_count(n)
        missing = max(0, self.population_size - len(self.population))
        proposals = []
        for i in range(n):
            if i < missing or not self.population:
                proposals.append(self.space.sample(self.rng))  # the empty program
            else:
                child, kind = mutate(self.tournament().choices[0], self.space, self.rng)
                self.mutations[kind] = self.mutations.get(kind, 0) + 1
                proposals.append(self.space.wrap(child))
        return proposals

    def observe(self, architectures: Sequence, results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        check_batch(architectures, results, rewards)
        for arch, reward in zip(architectures, rewards, strict=True):
            self.population.append((arch, float(reward)))
        while len(self.population) > self.population_size:
            self.population.popleft()  # ageing: the oldest dies, however fit
        fitness = [f for _, f in self.population]
        return {"population": len(self.population), "population_best": max(fitness),
                "population_mean": float(np.mean(fitness)),
                "fec_hits": sum(1 for r in results if r.get("fec_hit"))}

    def state_dict(self) -> dict:
        return {"method": self.method, "rng": self.rng.bit_generator.state, "mutations": dict(self.mutations),
                "population": [[str(arch), fitness] for arch, fitness in self.population]}

    def load_state_dict(self, state: Mapping) -> None:
        self.rng.bit_generator.state = dict(state["rng"])
        self.mutations = dict(state["mutations"])
        self.population = deque((self.space.parse(text), float(f)) for text, f in state["population"])

    def config(self) -> dict:
        return {"method": self.method, "population_size": self.population_size, "sample_size": self.sample_size,
                "seed": self.seed}
