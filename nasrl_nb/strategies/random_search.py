"""Random search: the baseline every NAS method must beat (Li & Talwalkar, UAI 2019).

Li & Talwalkar (2019, Sec. 4) show that random search over the same space, at the same
budget, is a strong baseline that many NAS papers failed to report. Each architecture is
drawn uniformly: every decision independently picks one of its options.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_seed
from .base import SearchStrategy, check_count


class RandomSearch(SearchStrategy):
    """Uniform samples from ``space``, from a private NumPy generator seeded with ``seed``."""

    method = "random"

    def __init__(self, space: SearchSpace, *, seed: int = 0):
        super().__init__(space)
        require_seed("seed", seed)
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def propose(self, n: int) -> list[Architecture]:
        return [self.space.sample(self.rng) for _ in range(check_count(n))]

    def state_dict(self) -> dict:
        return {"method": self.method, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping) -> None:
        self.rng.bit_generator.state = dict(state["rng"])

    def config(self) -> dict:
        return {"method": self.method, "seed": self.seed}
