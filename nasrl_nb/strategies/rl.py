"""NAS with reinforcement learning as a search strategy (Zoph & Le, ICLR 2017, Sec. 3).

An RNN controller (:class:`~nasrl_nb.controllers.lstm.Controller`) samples a batch of
architectures; their rewards update it by policy gradient
(:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer`, REINFORCE with a moving-average
baseline, or PPO). This module only adapts the two to the strategy interface of
:mod:`nasrl_nb.strategies.base`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..controllers.lstm import Controller
from ..controllers.registry import make_controller
from ..rl.policy_gradient import PolicyGradientTrainer
from ..rl.registry import OPTIMISERS, make_trainer
from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_choice
from .base import SearchStrategy, check_batch, check_count


class PolicyGradientStrategy(SearchStrategy):
    """A controller and its policy-gradient trainer.

    Args:
        space: the search space.
        algorithm: ``"reinforce"``, ``"ppo"``, ``"a2c"``, ``"trpo"`` or ``"sac"``
            (:data:`nasrl_nb.rl.registry.OPTIMISERS`).
        controller_kwargs: :func:`~nasrl_nb.controllers.registry.make_controller` options
            (``kind`` = lstm, gru or attention; ``hidden_size``, ``temperature``, ...).
        trainer_kwargs: the algorithm's trainer options (``lr``, ``entropy_weight``, ...;
            see :func:`~nasrl_nb.rl.registry.make_trainer`).
        controller, trainer: ready-made objects instead (the trainer's controller is used).

    The controller samples from its own generator (``controller_kwargs={"seed": ...}`` fixes
    it; by default it is seeded from torch's global RNG when the controller is built). The
    generator's state is part of :meth:`state_dict`, so a checkpoint resumes the exact
    stream of samples, and nothing run in the kernel meanwhile can change it.

    :meth:`observe` returns the trainer's :class:`~nasrl_nb.rl.policy_gradient.UpdateStats`
    as a dict: the ``baseline`` and ``advantages`` the loss used, and PPO's ``kl`` and
    ``clip_fraction``.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        algorithm: str = "reinforce",
        controller_kwargs: Mapping | None = None,
        trainer_kwargs: Mapping | None = None,
        controller: Controller | None = None,
        trainer: PolicyGradientTrainer | None = None,
    ):
        super().__init__(space)
        self.algorithm = require_choice("algorithm", algorithm, OPTIMISERS)
        self.method = self.algorithm
        self.controller_kwargs = dict(controller_kwargs or {})
        self.trainer_kwargs = dict(trainer_kwargs or {})
        if trainer is not None:
            if trainer.algorithm != self.algorithm:
                raise ValueError(f"trainer: its algorithm {trainer.algorithm!r} differs from algorithm={self.algorithm!r}")
            controller = trainer.controller
        if controller is None:
            controller = make_controller(space, **self.controller_kwargs)  # kind: lstm, gru or attention
        if controller.space != space:
            raise ValueError(f"controller: its space {controller.space!r} differs from the search space {space!r}")
        self.controller = controller
        self.trainer = trainer or make_trainer(controller, self.algorithm, **self.trainer_kwargs)

    def propose(self, n: int) -> list[Architecture]:
        return self.trainer.propose(check_count(n))

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        check_batch(architectures, results, rewards)
        return self.trainer.update_policy(list(architectures), [float(r) for r in rewards]).to_dict()

    def state_dict(self) -> dict:
        return {"method": self.method, "trainer": self.trainer.state_dict()}

    def load_state_dict(self, state: Mapping) -> None:
        if state.get("method") != self.method:
            raise ValueError(f"state: checkpoint of method {state.get('method')!r}, not {self.method!r}")
        self.trainer.load_state_dict(state["trainer"])

    def policy_snapshot(self):
        """The controller's :class:`~nasrl_nb.controllers.lstm.PolicySnapshot` (torch's RNG untouched)."""
        return self.controller.policy_snapshot()

    def choice_probabilities(self, architectures: Sequence[Architecture]) -> list[list[dict]]:
        """pi(a_t | a_<t) of every chosen option, by teacher forcing (no gradients)."""
        with torch.no_grad():
            out = self.controller(list(architectures))
        probs = out.decision_log_probs.exp()  # (B, D)
        return [
            [{"decision": d.name, "choice": c, "prob": float(p)} for d, c, p in zip(self.space.decisions, arch.choices, row)]
            for arch, row in zip(architectures, probs.tolist())
        ]

    def current_baseline(self) -> float | None:
        """The EMA the next update's advantages will use (None before the first update,
        which uses its batch's mean reward; with a value baseline the critic decides, with
        rank advantages the batch's ranks among the recent rewards)."""
        if self.trainer.value_baseline or getattr(self.trainer, "rank_window", None) is not None:
            return None  # the critic, or the ranks in the recent window, decide with the batch
        return self.trainer.baseline

    def hyperparameters(self) -> dict:
        return {"lr": self.trainer.lr, "entropy_weight": self.trainer.entropy_weight, "temperature": self.trainer.temperature}

    def set_hyperparameters(self, *, lr=None, entropy_weight=None, temperature=None) -> None:
        """Set the trainer's ``lr``, ``entropy_weight`` and the controller's ``temperature`` (validated)."""
        if lr is not None:
            self.trainer.lr = lr
        if entropy_weight is not None:
            self.trainer.entropy_weight = entropy_weight
        if temperature is not None:
            self.trainer.temperature = temperature

    def config(self) -> dict:
        return {
            "method": self.method,
            "controller_kwargs": dict(self.controller_kwargs),
            "trainer_kwargs": dict(self.trainer_kwargs),
        }
