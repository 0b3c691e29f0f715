"""PNAS's surrogate: an ensemble of small MLPs that predicts a cell's accuracy (Liu et al. 2018, Sec. 3.2).

PNAS trains a cheap predictor on every (cell, accuracy) pair evaluated so far and uses it to
rank the next step's expansions, of which only the top K are trained. Liu et al. compare an
LSTM and an MLP over the cell's tokens and average an ensemble of 5 predictors to reduce the
variance of the ranking. Here:

1. a cell's tokens are its edges' ops; :func:`encode` one-hot codes each edge's op and
   concatenates them, ``(N, E * |ops|)`` -- the same as a learned embedding per (edge, op);
2. each member is an MLP ``E*|ops| -> H -> H -> 1`` (ReLU), fit by full-batch Adam on the
   standardised accuracies (mean squared error); member ``m`` leaves out fold ``m`` of a
   random split into ``M`` folds, and starts from its own initialisation, so the members
   disagree where the data are thin (:class:`EnsembleMLP` holds the ``M`` members side by side);
3. the prediction is the members' mean (:meth:`PredictorEnsemble.predict`).

Only the ranking matters to PNAS, so the quality measure is Spearman's rho of the predictions
against the accuracies measured afterwards (:func:`nasrl_nb.stats.spearman_rho`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..spaces.search_space import Architecture
from ..validation import require_seed
from .config import PNASConfig


def encode(cells: Sequence[Architecture | Sequence[int]], num_ops: int | None = None) -> torch.Tensor:
    """One-hot tokens of the cells: ``(N, E * |ops|)`` float32, edge ``t``'s op at ``t * |ops| + k``.

    ``cells`` are architectures, or their index tuples with ``num_ops`` (a search ranks
    thousands of candidates; it need not build an Architecture for each)."""
    if not cells:
        raise ValueError("cells: expected at least one cell to encode")
    if isinstance(cells[0], Architecture):
        num_ops = len(cells[0].space.decisions[0].choices)
        cells = [c.indices for c in cells]
    elif num_ops is None:
        raise ValueError("num_ops: needed to encode index tuples (the number of ops per edge)")
    indices = torch.tensor(cells, dtype=torch.long)  # (N, E)
    onehot = nn.functional.one_hot(indices, num_ops).float()  # (N, E, |ops|)
    return onehot.flatten(1)  # (N, E * |ops|)


class EnsembleMLP(nn.Module):
    """``M`` MLPs ``D -> H -> H -> 1`` (ReLU) side by side: member ``m``'s weights are slice ``m``.

    The members share no weight, so training their summed loss trains each on its own; one
    batched product per layer replaces ``M`` small ones (the fit is ``M`` times fewer steps).
    Each layer starts as ``nn.Linear`` does: uniform in +-1/sqrt(fan_in).
    """

    def __init__(self, members: int, inputs: int, hidden: int, generator: torch.Generator):
        super().__init__()
        sizes = [(inputs, hidden), (hidden, hidden), (hidden, 1)]
        bound = [1 / math.sqrt(fan_in) for fan_in, _ in sizes]
        self.weights = nn.ParameterList(
            nn.Parameter((torch.rand(members, i, o, generator=generator) * 2 - 1) * b) for (i, o), b in zip(sizes, bound))
        self.biases = nn.ParameterList(
            nn.Parameter((torch.rand(members, 1, o, generator=generator) * 2 - 1) * b) for (_, o), b in zip(sizes, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(N, D)`` -> each member's prediction ``(M, N)``."""
        h = x.expand(len(self.weights[0]), *x.shape)  # (M, N, D)
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)  # (M, N, out) = b + h @ w
            if layer < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(2)  # (M, N)


@dataclass
class PredictorEnsemble:
    """The fitted members and the standardisation of the targets they were fit on."""

    net: EnsembleMLP
    mean: float
    std: float
    num_ops: int

    @torch.no_grad()
    def predict_members(self, cells: Sequence) -> np.ndarray:
        """Each member's prediction of each cell's accuracy, in the targets' units: ``(M, N)``
        (``cells``: architectures or their index tuples)."""
        return (self.net(encode(cells, self.num_ops)) * self.std + self.mean).numpy().astype(float)

    def predict(self, cells: Sequence) -> np.ndarray:
        """The members' mean prediction of each cell's accuracy: ``(N,)``."""
        return self.predict_members(cells).mean(0)


def fit_ensemble(cells: Sequence, targets: Sequence[float], *, seed: int,
                 config: PNASConfig | None = None, num_ops: int | None = None) -> PredictorEnsemble:
    """Fit ``config.ensemble_size`` MLPs to ``targets`` (one per cell), reproducibly from ``seed``.

    With fewer cells than twice the members, every member sees all of them (a fold would be
    too small to leave out); the members still differ by their initialisation.
    """
    config = config or PNASConfig()
    y = np.asarray(targets, dtype=float)
    if len(cells) != len(y) or len(y) < 1:
        raise ValueError(f"targets: expected one target per cell and at least one, got {len(y)} for {len(cells)} cells")
    require_seed("seed", seed)
    if isinstance(cells[0], Architecture):
        num_ops = len(cells[0].space.decisions[0].choices)
    x = encode(cells, num_ops)  # (N, D)
    mean, std = float(y.mean()), float(y.std())
    std = std if std > 1e-12 else 1.0
    target = torch.tensor((y - mean) / std, dtype=torch.float32)  # (N,)
    members = config.ensemble_size
    folds = np.random.default_rng(seed).permutation(len(y)) % members  # each cell's fold
    if len(y) >= 2 * members:
        mask = torch.from_numpy(folds[None, :] != np.arange(members)[:, None]).float()  # (M, N): member m leaves out fold m
    else:
        mask = torch.ones(members, len(y))
    net = EnsembleMLP(members, x.shape[1], config.predictor_hidden, torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(net.parameters(), lr=config.predictor_lr)
    for _ in range(config.predictor_epochs):
        optimizer.zero_grad()
        squared = (net(x) - target) ** 2  # (M, N)
        loss = ((squared * mask).sum(1) / mask.sum(1)).sum()  # each member's mean squared error, summed
        loss.backward()
        optimizer.step()
    return PredictorEnsemble(net, mean, std, num_ops)
