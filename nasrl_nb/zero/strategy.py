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

from ..strategies.base import check_count
from ..strategies.evolution import RegularizedEvolution
from .mutations import mutate
from .space import ProgramSpace


class ProgramEvolution(RegularizedEvolution):
    """Ageing evolution over a :class:`~nasrl_nb.zero.space.ProgramSpace`, from empty programs: the
    population, tournament and ageing of :class:`~nasrl_nb.strategies.evolution.RegularizedEvolution`,
    with AutoML-Zero's mutations."""

    method = "zero"

    def __init__(self, space: ProgramSpace, *, population_size: int = 100, sample_size: int = 10, seed: int = 0):
        if not isinstance(space, ProgramSpace):
            raise ValueError(f"space: expected a ProgramSpace, got {type(space).__name__}")
        super().__init__(space, population_size=population_size, sample_size=sample_size, seed=seed)
        self.mutations: dict[str, int] = {}

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
        stats = super().observe(architectures, results, rewards)
        return {**stats, "fec_hits": sum(1 for r in results if r.get("fec_hit"))}

    def state_dict(self) -> dict:
        return {"method": self.method, "rng": self.rng.bit_generator.state, "mutations": dict(self.mutations),
                "population": [[str(arch), fitness] for arch, fitness in self.population]}

    def load_state_dict(self, state: Mapping) -> None:
        self.rng.bit_generator.state = dict(state["rng"])
        self.mutations = dict(state["mutations"])
        self.population = deque((self.space.parse(text), float(f)) for text, f in state["population"])
