"""The controller's settings (:class:`ControllerConfig`): the one place their defaults live.

Every controller class reads its keyword defaults from these fields, and a search's
``config.json`` stores them in its ``controller`` section
(:class:`~nasrl_nb.assembly.config.SearchConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..validation import choice, require_choices

CONTROLLER_KINDS: tuple[str, ...] = ("lstm", "gru", "attention")  # the keys of controllers.registry.CONTROLLERS


@dataclass
class ControllerConfig:
    """The RNN controller of the RL methods and enas (:class:`~nasrl_nb.controllers.lstm.Controller`)."""

    hidden_size: int = 64  # LSTM width
    num_layers: int = 1  # stacked LSTM layers
    temperature: float = 1.0  # logits / T before sampling (Zoph & Le: exploration)
    tanh_constant: float | None = 2.5  # logits = c * tanh(logits) (ENAS), None: off
    skip_attention: bool = True  # skip decisions by attention over earlier layers (Zoph & Le Sec. 3.3)
    seed: int | None = None  # the sampling generator's seed; None: drawn from the search's seed
    kind: str = choice("lstm", CONTROLLER_KINDS)  # the core: lstm (Zoph & Le), gru or attention (nasrl_nb.controllers.registry)
    num_heads: int = 2  # attention controller only: heads per block

    def __post_init__(self):
        require_choices(self, "controller")
