"""Search methods by name: the one place that maps ``--method`` to a strategy class."""

from __future__ import annotations

from ..spaces.search_space import SearchSpace
from ..validation import require_choice
from .evolution import RegularizedEvolution
from .random_search import RandomSearch
from .rl_strategy import PolicyGradientStrategy
from .strategy import SearchStrategy

METHODS: tuple[str, ...] = ("reinforce", "ppo", "random", "evolution")


def make_strategy(method: str, space: SearchSpace, *, seed: int = 0, **kwargs) -> SearchStrategy:
    """Build a strategy by name: ``"reinforce"``, ``"ppo"``, ``"random"`` or ``"evolution"``.

    ``kwargs`` go to the strategy's constructor (e.g. ``controller_kwargs``,
    ``trainer_kwargs`` for the RL methods; ``population_size``, ``sample_size`` for
    evolution). Random search and evolution draw from their own generator seeded by ``seed``;
    the controller samples from its own generator, seeded once from the global RNG (which the
    search seeds) when it is built.
    """
    require_choice("method", method, METHODS)
    if method in ("reinforce", "ppo"):
        return PolicyGradientStrategy(space, algorithm=method, **kwargs)
    if method == "random":
        return RandomSearch(space, seed=seed, **kwargs)
    return RegularizedEvolution(space, seed=seed, **kwargs)
