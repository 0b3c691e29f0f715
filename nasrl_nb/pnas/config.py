"""The settings of PNAS (:class:`~nasrl_nb.pnas.strategy.ProgressiveSearch`): ``config.json``'s ``pnas`` section.

``beam_size`` is K, the cells trained per expansion step. Left as None, :func:`beam_size_rule`
spreads the budget over the steps as Liu et al. (2018, Sec. 3.1, Algorithm 1) spend theirs:
all the one-operation cells first, then K cells at each of the ``B - 1`` later steps, so that
``budget = |step 1| + K (B - 1)`` is solved for K. :func:`~nasrl_nb.assembly.factory.make_search`
fixes it when the search is made, so a resume with another budget changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import require_positive

BEAM_SIZE_RULE = "(budget - step-1 cells) // (edges - 1): the budget spread over the expansion steps (at least 1)"


@dataclass
class PNASConfig:
    """PNAS's beam and its predictor (Liu et al. 2018, Sec. 3.1-3.2)."""

    beam_size: int | None = None  # K: new cells trained per expansion step; None: BEAM_SIZE_RULE, fixed from the budget
    ensemble_size: int = 5  # predictors averaged (Liu et al. 2018 use an ensemble of 5); member m leaves out fold m of 5
    predictor_hidden: int = 32  # width of each predictor MLP's two hidden layers
    predictor_epochs: int = 100  # full-batch Adam steps per fit (the predictor is refit at every step)
    predictor_lr: float = 0.01  # Adam learning rate of the predictor

    def __post_init__(self):
        if self.beam_size is not None:
            require_positive("pnas.beam_size", self.beam_size, integer=True)
        require_positive("pnas.ensemble_size", self.ensemble_size, integer=True)
        require_positive("pnas.predictor_hidden", self.predictor_hidden, integer=True)
        require_positive("pnas.predictor_epochs", self.predictor_epochs, integer=True)
        require_positive("pnas.predictor_lr", self.predictor_lr)


def beam_size_rule(budget: int, first_step: int, steps: int) -> int:
    """K from the budget (:data:`BEAM_SIZE_RULE`): ``first_step`` evaluations of the one-edge cells,
    then ``steps - 1`` expansion steps share the rest."""
    require_positive("budget", budget, integer=True)
    if steps < 2:
        return max(1, budget)
    return max(1, (budget - first_step) // (steps - 1))
