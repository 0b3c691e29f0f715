"""Search methods by name: the one place that maps ``--method`` to a strategy class."""

from __future__ import annotations

from ..darts.strategy import DartsStrategy
from ..enas.strategy import ONESHOT_METHODS, strategy_for
from ..pnas.strategy import ProgressiveSearch
from ..spaces.search_space import SearchSpace
from ..strategies.bandit import BanditStrategy
from ..strategies.base import SearchStrategy
from ..strategies.evolution import RegularizedEvolution
from ..strategies.random_search import RandomSearch
from ..strategies.rl import PolicyGradientStrategy
from ..validation import require_choice

RL_METHODS: tuple[str, ...] = ("reinforce", "ppo", "a2c", "trpo", "sac")  # a controller and a trainer (rl/registry.py)
BANDIT_METHODS: tuple[str, ...] = ("ucb", "thompson")  # factored bandits (rl/bandits.py)
METHODS: tuple[str, ...] = (*RL_METHODS, "random", "evolution", *BANDIT_METHODS, *ONESHOT_METHODS, "darts", "pnas")


def make_strategy(method: str, space: SearchSpace, *, seed: int = 0, **kwargs) -> SearchStrategy:
    """Build a strategy by name, one of :data:`METHODS`: the RL optimisers (``reinforce``,
    ``ppo``, ``a2c``, ``trpo``, ``sac``), ``random``, ``evolution``, the bandits (``ucb``,
    ``thompson``), the one-shot ``enas`` / ``random_ws``, ``darts`` and ``pnas``.

    ``kwargs`` go to the strategy's constructor (e.g. ``controller_kwargs``,
    ``trainer_kwargs`` for the RL methods; ``population_size``, ``sample_size`` for
    evolution). Random search and evolution draw from their own generator seeded by ``seed``;
    the controller samples from its own generator, seeded once from the global RNG (which the
    search seeds) when it is built.
    """
    require_choice("method", method, METHODS)
    if method in RL_METHODS:
        return PolicyGradientStrategy(space, algorithm=method, **kwargs)
    if method in BANDIT_METHODS:  # kwargs: exploration (ucb), prior_count (thompson), std_floor
        return BanditStrategy(space, algorithm=method, seed=seed, **kwargs)
    if method == "random":
        return RandomSearch(space, seed=seed, **kwargs)
    if method in ONESHOT_METHODS:  # enas, random_ws: their evaluator is a shared-weight supernet
        return strategy_for(method, space, seed=seed, **kwargs)
    if method == "darts":  # kwargs: data and DartsStrategy's settings (see factory.build_strategy)
        return DartsStrategy(space, seed=seed, **kwargs)
    if method == "pnas":  # kwargs: beam_size (or budget, for the rule) and the predictor's settings
        return ProgressiveSearch(space, seed=seed, **kwargs)
    return RegularizedEvolution(space, seed=seed, **kwargs)
