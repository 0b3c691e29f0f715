"""Controllers by name: ``"lstm"`` (Zoph & Le), ``"gru"``, ``"attention"``; one interface for all."""

from __future__ import annotations

from ..spaces.search_space import SearchSpace
from ..validation import require_choice
from .attention import AttentionController
from .config import CONTROLLER_KINDS, ControllerConfig
from .gru import GRUController
from .lstm import Controller, LSTMController

CONTROLLERS: dict[str, type[Controller]] = dict(zip(CONTROLLER_KINDS, (LSTMController, GRUController,
                                                                           AttentionController)))


def make_controller(space: SearchSpace, *, kind: str = ControllerConfig.kind, **kwargs) -> Controller:
    """The ``kind`` controller over ``space``; ``kwargs`` are :class:`Controller`'s
    (``hidden_size``, ``num_layers``, ``temperature``, ``tanh_constant``, ``skip_attention``,
    ``seed``; ``num_heads`` for attention)."""
    kind = require_choice("kind", kind, CONTROLLERS)
    if kind != "attention" and "num_heads" in kwargs:
        raise ValueError(f"num_heads: only for the attention controller, not kind={kind!r}")
    return CONTROLLERS[kind](space, **kwargs)
