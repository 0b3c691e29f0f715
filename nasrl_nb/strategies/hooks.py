"""What a strategy with a policy may show: optional hooks for the dashboard and the step records.

The strategy interface (:mod:`nasrl_nb.strategies.base`) is only propose, observe and state.
A strategy that has a policy -- a controller (Zoph & Le 2017, Sec. 3), a bandit, DARTS's
mixing weights -- may also offer any of the hooks below. Each is a small
:class:`typing.Protocol`; the loop (:mod:`nasrl_nb.run.loop`), its controls and the widgets
ask through the functions here, which check ``isinstance`` and give the "nothing to show"
value otherwise. So a strategy without a hook runs everywhere; its dashboard simply has no
policy panel, no baseline line and disabled sliders.

* :class:`ShowsPolicy` -- ``policy_snapshot()``: the whole policy as a
  :class:`~nasrl_nb.controllers.lstm.PolicySnapshot` (recorded after every update);
* :class:`ScoresChoices` -- ``choice_probabilities(architectures)``: per architecture, each
  decision's chosen option and its probability pi(a_t | a_<t) (``{"decision", "choice", "prob"}``);
* :class:`HasBaseline` -- ``current_baseline()``: the baseline b the next update subtracts
  from each reward (Williams 1992, Sec. 4), or None while the batch decides it;
* :class:`Tunable` -- ``hyperparameters()`` and ``set_hyperparameters(lr=, entropy_weight=,
  temperature=)``: the values a running search may change (the dashboard's sliders).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..spaces.search_space import Architecture


@runtime_checkable
class ShowsPolicy(Protocol):
    def policy_snapshot(self): ...


@runtime_checkable
class ScoresChoices(Protocol):
    def choice_probabilities(self, architectures: Sequence[Architecture]) -> list[list[dict]]: ...


@runtime_checkable
class HasBaseline(Protocol):
    def current_baseline(self) -> float | None: ...


@runtime_checkable
class Tunable(Protocol):
    def hyperparameters(self) -> dict: ...

    def set_hyperparameters(self, *, lr=None, entropy_weight=None, temperature=None) -> None: ...


def policy_snapshot(strategy):
    """The strategy's policy snapshot; None for a strategy that shows no policy."""
    return strategy.policy_snapshot() if isinstance(strategy, ShowsPolicy) else None


def choice_probabilities(strategy, architectures: Sequence[Architecture]) -> list[list[dict]] | None:
    """Each chosen option's probability under the strategy's policy; None without one."""
    return strategy.choice_probabilities(architectures) if isinstance(strategy, ScoresChoices) else None


def current_baseline(strategy) -> float | None:
    """The baseline the strategy's next update starts from; None without one."""
    return strategy.current_baseline() if isinstance(strategy, HasBaseline) else None


def hyperparameters(strategy) -> dict:
    """The strategy's run-time settable values (``lr``, ``entropy_weight``, ``temperature``); {} if none."""
    return dict(strategy.hyperparameters()) if isinstance(strategy, Tunable) else {}


def is_tunable(strategy) -> bool:
    """Whether a running search may change the strategy's ``lr``, ``entropy_weight`` or ``temperature``."""
    return isinstance(strategy, Tunable) and bool(strategy.hyperparameters())
