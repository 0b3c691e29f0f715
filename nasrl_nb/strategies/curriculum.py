"""A curriculum that grows a layered space in depth (Zoph & Le 2017, Sec. 4.1).

Zoph & Le began with shallow children and added layers as the search went on: the
controller first learns what makes a good early layer on cheap networks, then keeps that
knowledge while the later layers are added. :class:`CurriculumStrategy` runs an RL strategy
(:class:`~nasrl_nb.strategies.rl.PolicyGradientStrategy`) on the macro space or Zoph &
Le's own (:data:`GROWABLE_SPACES`) with ``num_layers=L``
with ``L = start_layers`` and, each time ``grow_every`` more architectures have been
observed, grows to ``L + step_layers`` (up to the full space's depth) at the start of the
next step:

1. the bigger space is the full space's spec with ``num_layers = L``;
2. the controller grows with it (:func:`~nasrl_nb.controllers.growth.grow_controller`): every
   old decision keeps its weights and probabilities, and the sampling stream continues;
3. the trainer is rebuilt around the grown controller and keeps its moving-average
   baseline, update count, entropy weight, (A2C) critic and (REINFORCE/PPO) value-baseline
   head; the optimisers start afresh
   (Adam's moments belong to the old parameter set).

Proposed architectures belong to the current stage's space, so a run's history holds children
of several depths; the search's own space is the full one. Off-policy SAC keeps a replay
buffer of the old spaces' architectures, so the curriculum takes the on-policy methods only
(reinforce, ppo, a2c, trpo).

Staleness (asynchronous evaluation): a result of a shallower stage that arrives after the
growth belongs to another space, which the grown controller cannot score; the curriculum is
for synchronous searches (``asynchronous=False``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from ..controllers.growth import grow_controller
from ..controllers.registry import make_controller
from ..rl.registry import make_trainer
from ..spaces.macro_space import MacroSpace
from ..spaces.search_space import Architecture
from ..spaces.zoph_le_space import ZophLeSpace
from ..validation import require_choice, require_positive
from .base import SearchStrategy, check_batch, check_count
from .rl import PolicyGradientStrategy

CURRICULUM_METHODS: tuple[str, ...] = ("reinforce", "ppo", "a2c", "trpo")
# spaces whose L-layer decisions are a prefix of their (L + 1)-layer ones, so a controller can grow with them
GROWABLE_SPACES: dict[str, type] = {"macro": MacroSpace, "zoph-le": ZophLeSpace}


@dataclass
class CurriculumConfig:
    """Growing a layered space (macro, zoph-le) in depth (:class:`~nasrl_nb.strategies.curriculum.CurriculumStrategy`)."""

    enabled: bool = False  # on: the search starts shallow and adds layers (reinforce, ppo, a2c, trpo; macro or zoph-le space)
    start_layers: int = 1  # the first stage's depth
    grow_every: int | None = None  # architectures per stage; None: the budget split evenly over the stages
    step_layers: int = 1  # layers added at each growth

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise ValueError(f"curriculum.enabled: must be True or False, got {self.enabled!r}")
        require_positive("curriculum.start_layers", self.start_layers, integer=True)
        require_positive("curriculum.step_layers", self.step_layers, integer=True)
        if self.grow_every is not None:
            require_positive("curriculum.grow_every", self.grow_every, integer=True)



class CurriculumStrategy(SearchStrategy):
    """An RL strategy whose layered space grows by ``step_layers`` every ``grow_every`` evaluations.

    Args:
        space: the full :class:`~nasrl_nb.spaces.macro_space.MacroSpace` or
            :class:`~nasrl_nb.spaces.zoph_le_space.ZophLeSpace` (its depth is the last stage's).
        algorithm: reinforce, ppo, a2c or trpo.
        start_layers: the first stage's depth (< the full depth).
        grow_every: architectures observed per stage.
        step_layers: layers added at each growth.
        controller_kwargs, trainer_kwargs: as for :class:`PolicyGradientStrategy`.
    """

    def __init__(self, space: MacroSpace | ZophLeSpace, *, algorithm: str = "reinforce",
                 start_layers: int = CurriculumConfig.start_layers, grow_every: int | None = CurriculumConfig.grow_every,
                 step_layers: int = CurriculumConfig.step_layers, controller_kwargs: Mapping | None = None, trainer_kwargs: Mapping | None = None):
        super().__init__(space)
        if not isinstance(space, tuple(GROWABLE_SPACES.values())):
            raise ValueError(f"curriculum: grows a layered space's depth; got a {type(space).__name__} "
                             f"(allowed spaces: {', '.join(GROWABLE_SPACES)})")
        self.method = require_choice("algorithm", algorithm, CURRICULUM_METHODS)
        CurriculumConfig(enabled=True, start_layers=start_layers, grow_every=grow_every, step_layers=step_layers)  # checks
        if grow_every is None:
            raise ValueError("curriculum.grow_every: architectures per stage, a positive integer (make_search's "
                             "default splits the budget evenly over the stages), got None")
        if start_layers >= space.num_layers:
            raise ValueError(f"curriculum.start_layers: must be below the space's {space.num_layers} layers, got {start_layers}")
        self.start_layers, self.grow_every, self.step_layers = start_layers, grow_every, step_layers
        self.controller_kwargs = dict(controller_kwargs or {})
        self.trainer_kwargs = dict(trainer_kwargs or {})
        self.observed = 0  # architectures observed so far
        self.inner = PolicyGradientStrategy(self.stage_space(start_layers), algorithm=self.method,
                                            controller_kwargs=self.controller_kwargs, trainer_kwargs=self.trainer_kwargs)

    # --- stages -----------------------------------------------------------------------------------------
    def stage_space(self, layers: int) -> MacroSpace | ZophLeSpace:
        """The full space's spec with ``layers`` layers."""
        spec = {k: v for k, v in self.space.spec().items() if k != "space"}
        return type(self.space)(**{**spec, "num_layers": layers})

    @property
    def layers(self) -> int:
        return self.inner.space.num_layers

    def scheduled_layers(self) -> int:
        """The depth the schedule asks for after ``observed`` architectures."""
        grown = self.start_layers + (self.observed // self.grow_every) * self.step_layers
        return min(grown, self.space.num_layers)

    def grow(self, layers: int) -> None:
        """Move to ``layers`` layers: grow the controller, rebuild the trainer, keep its running state."""
        old = self.inner.trainer
        space = self.stage_space(layers)
        controller = grow_controller(old.controller, space, skip_attention=self.controller_kwargs.get("skip_attention", True))
        trainer = make_trainer(controller, self.method, **self.trainer_kwargs)
        trainer.baseline, trainer.num_updates = old.baseline, old.num_updates
        trainer.entropy_weight, trainer.temperature = old.entropy_weight, old.temperature
        if hasattr(old, "critic"):  # A2C's critic reads the same hidden size
            trainer.critic.load_state_dict(old.critic.state_dict())
            trainer._critic_ready = old._critic_ready
        if old.value_head is not None:  # REINFORCE/PPO's value baseline V(h_t), the same shape
            trainer.value_head.load_state_dict(old.value_head.state_dict())
            trainer._value_ready = old._value_ready
        self.inner = PolicyGradientStrategy(space, algorithm=self.method, controller_kwargs=self.controller_kwargs,
                                            trainer_kwargs=self.trainer_kwargs, trainer=trainer)

    # --- the strategy interface -------------------------------------------------------------------------
    def propose(self, n: int) -> list[Architecture]:
        if self.scheduled_layers() > self.layers:
            self.grow(self.scheduled_layers())
        return self.inner.propose(check_count(n))

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        check_batch(architectures, results, rewards)
        stats = self.inner.observe(architectures, results, rewards)
        self.observed += len(architectures)
        return {**stats, "layers": self.layers}

    def state_dict(self) -> dict:
        return {"method": self.method, "curriculum": True, "layers": self.layers, "observed": self.observed,
                "trainer": copy.deepcopy(self.inner.trainer.state_dict())}

    def load_state_dict(self, state: Mapping) -> None:
        if state.get("method") != self.method or not state.get("curriculum"):
            raise ValueError(f"state: not a {self.method} curriculum checkpoint")
        layers = int(state["layers"])
        if layers != self.layers:  # rebuild the stage's structure; every weight then comes from the state
            with torch.random.fork_rng(devices=[]):
                space = self.stage_space(layers)
                controller = make_controller(space, **{**self.controller_kwargs, "seed": 0})
                trainer = make_trainer(controller, self.method, **self.trainer_kwargs)
            self.inner = PolicyGradientStrategy(space, algorithm=self.method, controller_kwargs=self.controller_kwargs,
                                                trainer_kwargs=self.trainer_kwargs, trainer=trainer)
        self.inner.trainer.load_state_dict(state["trainer"])
        self.observed = int(state["observed"])

    def policy_snapshot(self):
        return self.inner.policy_snapshot()

    def choice_probabilities(self, architectures):
        return self.inner.choice_probabilities(architectures)

    def current_baseline(self):
        return self.inner.current_baseline()

    def hyperparameters(self) -> dict:
        return self.inner.hyperparameters()

    def set_hyperparameters(self, **kwargs) -> None:
        self.inner.set_hyperparameters(**kwargs)

    def config(self) -> dict:
        return {"method": self.method, "start_layers": self.start_layers, "grow_every": self.grow_every,
                "step_layers": self.step_layers, "controller_kwargs": self.controller_kwargs,
                "trainer_kwargs": self.trainer_kwargs}
