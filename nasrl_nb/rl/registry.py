"""Policy optimisers by name: the one place that maps an RL method to its trainer class.

=========== ============================================== ==========================
name        idea                                           module
=========== ============================================== ==========================
reinforce   score-function gradient, EMA baseline          :mod:`.policy_gradient`
ppo         clipped ratio, several epochs, KL early stop   :mod:`.ppo`
a2c         learned per-decision critic as the baseline    :mod:`.a2c`
trpo        natural gradient inside a KL trust region      :mod:`.trpo`
sac         reward critic on a replay buffer, soft policy  :mod:`.sac`
=========== ============================================== ==========================

Every trainer has the same interface: ``propose(n)``, ``update_policy(architectures,
rewards) -> UpdateStats``, ``state_dict()`` / ``load_state_dict()``, and the run-time
``lr``, ``entropy_weight`` and ``temperature``.
"""

from __future__ import annotations

from ..controllers.lstm import Controller
from ..validation import require_choice
from .a2c import A2CTrainer
from .policy_gradient import PolicyGradientTrainer
from .sac import SoftActorCritic
from .trpo import TRPOTrainer

OPTIMISERS: tuple[str, ...] = ("reinforce", "ppo", "a2c", "trpo", "sac")
_CLASSES = {"a2c": A2CTrainer, "trpo": TRPOTrainer, "sac": SoftActorCritic}


def make_trainer(controller: Controller, algorithm: str = "reinforce", **kwargs) -> PolicyGradientTrainer | SoftActorCritic:
    """The ``algorithm``'s trainer for ``controller``; ``kwargs`` are that trainer's options."""
    algorithm = require_choice("algorithm", algorithm, OPTIMISERS)
    if algorithm in ("reinforce", "ppo"):
        return PolicyGradientTrainer(controller, algorithm=algorithm, **kwargs)
    return _CLASSES[algorithm](controller, **kwargs)
