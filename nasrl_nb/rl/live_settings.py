"""What a controller's trainer lets a running search change between updates: lr and temperature.

The dashboard's sliders (and ``Search.set_hyperparameters``) set these on every trainer of
the controller, REINFORCE/PPO/A2C/TRPO (:class:`~nasrl_nb.rl.policy_gradient.PolicyGradientTrainer`)
and discrete SAC (:class:`~nasrl_nb.rl.sac.SoftActorCritic`) alike, so they are written once here.
"""

from __future__ import annotations

from ..validation import require_positive


class LiveSettings:
    """Mixin for a trainer with ``self.optimizer`` (the controller's) and ``self.controller``."""

    @property
    def lr(self) -> float:
        """The controller optimiser's learning rate (every parameter group has the same one)."""
        return self.optimizer.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(require_positive("lr", value))
        for group in self.optimizer.param_groups:
            group["lr"] = value

    @property
    def temperature(self) -> float:
        """The controller's sampling temperature (softmax(logits / T))."""
        return self.controller.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self.controller.temperature = value
