"""Search strategies: who proposes the next architectures, and how they learn from rewards.

A NAS method is a *search strategy* (Elsken et al. 2019, "Neural Architecture Search: A
Survey", Sec. 3) plugged into one loop: propose a batch, evaluate it, reward it, observe
the rewards. Every strategy here has the same small interface, so the loop
(:class:`nasrl_nb.run.loop.Search`) never asks which one it runs:

* ``propose(n) -> list[Architecture]``; a strategy whose proposing has statistics of its own
  (DARTS: the search epochs that derived the cells) returns them with the batch as a
  :class:`Proposal`, which the loop records beside ``observe``'s;
* ``observe(architectures, results, rewards) -> dict`` of plain-number statistics (the RL
  strategies add ``baseline`` and ``advantages``);
* ``state_dict()`` / ``load_state_dict(state)``: tensors and plain containers only;
* ``result_rule``: which architecture the search hands over (see :mod:`nasrl_nb.run.result`).

A strategy with a policy may also show it (its snapshot, each choice's probability, its
baseline, the settings a dashboard may change): those optional hooks are small protocols in
:mod:`nasrl_nb.strategies.hooks`, which this base class knows nothing of.

The strategies: :class:`~nasrl_nb.strategies.rl.PolicyGradientStrategy` (REINFORCE, PPO),
:class:`~nasrl_nb.strategies.random_search.RandomSearch` and
:class:`~nasrl_nb.strategies.evolution.RegularizedEvolution`; :func:`~nasrl_nb.assembly.methods.make_strategy` builds one by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_positive


class Proposal(list):
    """A proposed batch (a list of architectures) with the statistics of proposing it.

    ``stats``: plain numbers and containers, recorded in the step's statistics before those
    ``observe`` returns (``steps.jsonl``). A plain list is a proposal without statistics.
    """

    def __init__(self, architectures: Sequence[Architecture] = (), stats: Mapping | None = None):
        super().__init__(architectures)
        self.stats = dict(stats or {})


def proposal_stats(proposal: Sequence[Architecture]) -> dict:
    """The statistics proposing ``proposal`` produced ({} for a plain list)."""
    return dict(proposal.stats) if isinstance(proposal, Proposal) else {}


class SearchStrategy(ABC):
    """Base class of the strategies; see the module docstring for the interface."""

    method = "strategy"
    # Which architecture is the search's result (:mod:`nasrl_nb.run.result`, read by the summary
    # and by export): "best_reward" -- the evaluated child with the highest reward; "last" -- the
    # last one proposed (DARTS: the cell derived from the final alphas); "derive" -- ranked afresh
    # after the search (ENAS: candidates sampled from the trained policy, scored with the shared weights).
    result_rule = "best_reward"

    def __init__(self, space: SearchSpace):
        if not isinstance(space, SearchSpace):
            raise ValueError(f"space: expected a SearchSpace, got {type(space).__name__}")
        self.space = space

    @abstractmethod
    def propose(self, n: int) -> list[Architecture]:
        """The next ``n`` architectures to evaluate."""

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        """Learn from a evaluated batch; returns plain-number statistics (none by default)."""
        return {}

    @abstractmethod
    def state_dict(self) -> dict:
        """Everything needed to continue exactly: tensors and plain containers only."""

    @abstractmethod
    def load_state_dict(self, state: Mapping) -> None:
        """Restore :meth:`state_dict`."""

    def config(self) -> dict:
        """Plain-JSON description of the strategy's settings."""
        return {"method": self.method}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "method")
        return f"{type(self).__name__}({args})"


def check_batch(architectures: Sequence, results: Sequence, rewards: Sequence) -> None:
    """``observe`` arguments must have one result and one reward per architecture."""
    if not (len(architectures) == len(results) == len(rewards)):
        raise ValueError(
            f"rewards: expected one result and one reward per architecture, got {len(architectures)} architectures, "
            f"{len(results)} results and {len(rewards)} rewards"
        )


def check_count(n) -> int:
    return require_positive("n", n, integer=True)
