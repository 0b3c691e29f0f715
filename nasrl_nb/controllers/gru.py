"""A GRU controller: the LSTM controller with gated recurrent units (Cho et al., EMNLP 2014).

The GRU (Cho et al. 2014, Sec. 2.3) keeps one state vector instead of the LSTM's two and
gates it with a reset and an update gate: fewer parameters (3 H^2 per matrix set instead of
4 H^2) for the same sequence of decisions. Everything else -- start token, one embedding per
decision, one head per decision, skip attention, temperature and tanh clipping, the own
generator -- is :class:`~nasrl_nb.controllers.lstm.Controller`'s; only the recurrent core
differs.
"""

from __future__ import annotations

import torch
from torch import nn

from .lstm import Controller


class GRUController(Controller):
    """:class:`Controller` with ``num_layers`` stacked ``GRUCell``\\ s as its core.

    Step ``t``: ``h^1_t = GRU_1(x_t, h^1_{t-1})``, ``h^l_t = GRU_l(h^{l-1}_t, h^l_{t-1})``; the
    top ``h_t`` (B, H) feeds the heads exactly as the LSTM's does.
    """

    def _make_core(self) -> nn.Module:
        return nn.ModuleList(nn.GRUCell(self.hidden_size, self.hidden_size) for _ in range(self.num_layers))

    def _initial_state(self, batch_size: int):
        return [torch.zeros(batch_size, self.hidden_size, device=self.device)] * self.num_layers  # h per layer, (B, H)

    def _advance(self, x: torch.Tensor, state):
        new_state = []
        for cell, h in zip(self.cells, state, strict=True):
            x = cell(x, h)  # (B, H)
            new_state.append(x)
        return x, new_state
