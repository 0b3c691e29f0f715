"""A causal self-attention controller over the previous decisions (after Vaswani et al. 2017).

Instead of a recurrent state, step ``t`` attends over the inputs of every step so far
(the start token and the embeddings of decisions ``0..t-1``, each plus a learned position
embedding): a small decoder-only transformer (Vaswani et al., NeurIPS 2017, Sec. 3.2; the
causal mask of GPT) run one position at a time with a cache of the earlier positions, so
that sampling is still one pass over the decisions for the whole batch. Everything else --
heads, skip attention, temperature, tanh clipping, the own generator -- is
:class:`~nasrl_nb.controllers.lstm.Controller`'s.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ControllerConfig
from .lstm import Controller


class CausalBlock(nn.Module):
    """One pre-norm-free transformer block on the newest position (no LayerNorm: ENAS's
    uniform(-0.1, 0.1) initialisation keeps the residual stream small).

    ``forward(z_t (B, H), past (B, T, H)) -> (B, H)``: ``u = z_t + W_o attn(q_t, K, V)`` over
    the positions ``0..t`` (``past`` holds ``z_0..z_t``), then ``u + W_2 relu(W_1 u)``.
    """

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"num_heads: must divide hidden_size={hidden_size}, got {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.ff = nn.Sequential(nn.Linear(hidden_size, 2 * hidden_size), nn.ReLU(), nn.Linear(2 * hidden_size, hidden_size))

    def forward(self, z: torch.Tensor, past: torch.Tensor) -> torch.Tensor:
        B, T, H = past.shape
        nh, hs = self.num_heads, H // self.num_heads
        q = self.qkv(z)[:, :H].reshape(B, nh, 1, hs)  # (B, nh, 1, hs): the newest position's query
        _, k, v = self.qkv(past).split(H, dim=-1)  # (B, T, H) each
        k = k.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.reshape(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hs), dim=-1)  # (B, nh, 1, T): causal by construction
        attended = (weights @ v).reshape(B, H)  # (B, H)
        u = z + self.out(attended)
        return u + self.ff(u)


class AttentionCore(nn.Module):
    """Position embeddings (one per decision) and ``num_layers`` :class:`CausalBlock`\\ s."""

    def __init__(self, hidden_size: int, num_layers: int, num_positions: int, num_heads: int):
        super().__init__()
        self.positions = nn.Parameter(torch.empty(num_positions, hidden_size))
        self.blocks = nn.ModuleList(CausalBlock(hidden_size, num_heads) for _ in range(num_layers))


class AttentionController(Controller):
    """:class:`Controller` whose core is causal self-attention over the earlier decisions.

    Step ``t``: ``z^0_t = x_t + p_t`` (input plus position embedding); each block ``l``
    appends ``z^{l-1}_t`` to its cache and computes ``z^l_t`` from it; the top ``z_t`` is
    ``h_t`` (B, H) for the heads. The state is the list of caches, each (B, t + 1, H).

    Args:
        num_heads: attention heads per block (must divide ``hidden_size``); the other
            arguments are :class:`Controller`'s (``num_layers`` = blocks).
    """

    def __init__(self, space, *, num_heads: int = ControllerConfig.num_heads, **kwargs):
        self.num_heads = int(num_heads)
        super().__init__(space, **kwargs)

    def _make_core(self) -> nn.Module:
        return AttentionCore(self.hidden_size, self.num_layers, len(self.space.decisions), self.num_heads)

    def _initial_state(self, batch_size: int):
        return {"t": 0, "caches": [None] * self.num_layers}

    def _advance(self, x: torch.Tensor, state):
        t, caches = state["t"], list(state["caches"])
        z = x + self.cells.positions[t]  # (B, H)
        for layer, block in enumerate(self.cells.blocks):
            new = z[:, None, :]  # (B, 1, H)
            caches[layer] = new if caches[layer] is None else torch.cat([caches[layer], new], dim=1)  # (B, t + 1, H)
            z = block(z, caches[layer])
        return z, {"t": t + 1, "caches": caches}
