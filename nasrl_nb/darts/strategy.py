"""DARTS as a strategy of the one search loop: each proposal is one search epoch.

The loop (:class:`~nasrl_nb.run.loop.Search`) proposes, evaluates and observes; DARTS
(Liu et al., ICLR 2019) fits it without the loop knowing:

1. ``propose(n)`` runs ``n`` search epochs of the bilevel optimisation
   (:class:`~nasrl_nb.darts.architect.BilevelOptimizer`) on the relaxed supernet of the space
   (:mod:`nasrl_nb.darts.relaxed_supernets`) and returns the cell derived after each epoch,
   so ``budget`` counts search epochs and the history holds the derived cell of every epoch;
2. the evaluator scores that cell like any other child (trained from scratch by a
   :class:`~nasrl_nb.evaluators.base.ChildEvaluator`, or looked up in the digits-cell table
   by a :class:`~nasrl_nb.bench.evaluator.TabularEvaluator`: the ground truth);
3. ``observe`` learns nothing from the rewards (DARTS does not use them). The epochs'
   statistics come back with the cells, as the :class:`~nasrl_nb.strategies.base.Proposal`'s
   ``stats``, which the loop writes to ``steps.jsonl``: the supernet's validation accuracy, the losses,
   the mixing weights (softmax per edge), the share of skip connections and of parameter-free
   ops in the derived cell, and the softmax mass on parameter-free ops against its chance value
   (``parameter_free_weight``, ``parameter_free_chance``: the drift before any argmax).

The training split is cut once into two halves, as in DARTS (Sec. 3.1.1): one trains the
weights, the other the alphas; each epoch shuffles both with the strategy's own generator.

Remedies for the collapse to parameter-free ops (``remedy``):

* ``"darts-"`` (Chu et al., ICLR 2021, "DARTS-: robustly stepping out of performance
  collapse without indicators", Sec. 3.2): an auxiliary skip ``beta * x`` on every edge,
  outside the softmax, with ``beta`` decayed linearly from ``aux_skip_weight`` to 0 over
  ``epochs``: the skip op no longer has to win the softmax to give the gradient a shortcut;
* ``"darts+"`` (Liang et al. 2019, "DARTS+: improved differentiable architecture search with
  early stopping", Sec. 3.2, criterion 1): stop the search once the derived cell holds
  ``max_skips`` skip connections; later proposals repeat the cell derived at the stop;
* ``"r-darts-l2"`` (Zela et al., ICLR 2020, "Understanding and robustifying differentiable
  architecture search", Sec. 5.2, DARTS-L2): a stronger L2 regularisation of the weights,
  which keeps the validation loss's curvature w.r.t. the alphas low. R-DARTS(L2) searches a
  grid of L2 factors (``3e-4 x {1, 3, 9, 27, 81}``) and keeps the cell that validates best;
  this remedy is ONE point of that grid, ``w_weight_decay x 27`` (:data:`R_DARTS_L2_FACTOR`),
  with no grid and no selection. The grid is a loop over ``w_weight_decay`` by the caller.

:meth:`state_dict` holds the supernet (weights and alphas), both optimisers, the generator,
the epoch counter and the stop, so a search checkpoint resumes exactly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence

import torch

from ..bench.tabular import TabularBenchmark
from ..nn.data import Dataset, load_dataset
from ..runtime import resolve_device
from ..spaces.search_space import Architecture, SearchSpace
from ..strategies.base import Proposal, SearchStrategy, check_count
from ..validation import require_seed
from .architect import BilevelOptimizer
from .config import DartsConfig
from .relaxed_supernets import build_relaxed_supernet

R_DARTS_L2_FACTOR = 27  # "r-darts-l2": one grid point, weight decay 3e-4 x 27 = 8.1e-3, of R-DARTS's grid 3e-4 x {1, 3, 9, 27, 81}
DARTS_DEFAULTS = {"batch_size": 1}  # make_search(method="darts"): one search epoch per step of the loop
EVAL_BATCH_SIZE = 1024


def search_data(dataset: str | None, *, data: Dataset | None = None, table: TabularBenchmark | None = None,
                data_seed: int = 0, max_samples: int | None = None) -> Dataset:
    """The data DARTS searches on: ``data``, the dataset a table was built on, or a dataset name.

    When a tabular benchmark answers the derived cells (``table``, or ``dataset`` given as
    ``bench:NAME`` / ``csv:PATH``) the supernet trains on the table's own dataset and split
    (its sidecar's ``settings``), so the ground truth describes the same data.
    """
    if data is not None:
        return data
    if table is None and isinstance(dataset, str) and dataset.startswith(("bench:", "csv:")):
        table = TabularBenchmark.load(dataset)
    if table is not None:
        settings = table.metadata.get("settings") or {}
        if not settings.get("dataset"):
            raise ValueError(f"dataset: the table {table.name!r} does not record the dataset it was built on "
                             "(settings.dataset in its .json sidecar); pass dataset=<Dataset> to make_search")
        dataset, data_seed = settings["dataset"], int(settings.get("data_seed", data_seed))
    if dataset is None:
        raise ValueError("dataset: DARTS needs data to train its supernet; pass a dataset name or dataset=<Dataset>")
    return load_dataset(dataset, seed=data_seed, max_samples=max_samples)


def _parameter_free_share(supernet) -> float | None:
    share = getattr(supernet, "parameter_free_share", None)
    return float(share()) if callable(share) else None


def _parameter_free_weight(supernet) -> dict:
    """``parameter_free_weight`` (softmax mass on weight-free ops) and its chance value, when the supernet has them."""
    weight = getattr(supernet, "parameter_free_weight", None)
    if not callable(weight):
        return {}
    mass, chance = weight()
    return {"parameter_free_weight": mass, "parameter_free_chance": chance}


class DartsStrategy(SearchStrategy):
    """DARTS on the relaxed supernet of ``space``; one search epoch per proposed architecture.

    Args:
        space: the search space (one with a relaxed supernet, e.g. ``cell``).
        data: the :class:`~nasrl_nb.nn.data.Dataset` whose training split is searched on
            (halves for ``w`` and ``alpha``); its validation split gives the supernet's accuracy.
        channels, cells_per_stage: the supernet's skeleton (as the children's).
        batch_size: minibatch of each half (DARTS: 64).
        w_lr, w_lr_min, w_momentum, w_weight_decay, grad_clip: SGD on the weights; the rate
            is annealed from ``w_lr`` to ``w_lr_min`` by a cosine over ``epochs`` (DARTS).
        alpha_lr, alpha_weight_decay: Adam on the alphas (betas 0.5, 0.999).
        second_order: the unrolled architecture gradient (DARTS Eq. 7-8).
        virtual_step: second order's unrolled step, ``"sgd"`` (Eq. 6) or ``"reference"`` (with
            momentum and weight decay, as the paper's code; :class:`~nasrl_nb.darts.architect.BilevelOptimizer`).
        batch_norm: the supernet's BatchNorms, ``"darts"`` (no affine, one after each pool: the
            paper's search network) or ``"affine"`` (the children's ops, for weight inheritance).
        epochs: the planned search length, for the cosine and DARTS-'s decay (after it,
            the rate stays at ``w_lr_min`` and ``beta`` at 0); required (make_search plans the budget).
        remedy: ``"none"``, ``"darts-"``, ``"darts+"`` or ``"r-darts-l2"`` (see the module docstring).
        aux_skip_weight: DARTS-'s starting ``beta``; max_skips: DARTS+'s stopping count.
        seed: seeds the generator of the data split and the batch order.
        device: where the supernet trains.

    The defaults are :class:`~nasrl_nb.darts.config.DartsConfig`'s fields (the
    children's :class:`~nasrl_nb.evaluators.base.ChildConfig` for ``channels`` and
    ``cells_per_stage``), which also check the values. The supernet's initial weights and alphas come from torch's global RNG (the factory
    seeds it); everything after that is seeded here.
    """

    method = "darts"
    result_rule = "last"  # DARTS's result is the cell derived from the final alphas (Sec. 2.4), not the best-scored epoch

    def __init__(
        self,
        space: SearchSpace,
        data: Dataset,
        *,
        channels: int = 16,
        cells_per_stage: int = 1,
        batch_size: int = DartsConfig.batch_size,
        w_lr: float = DartsConfig.w_lr,
        w_lr_min: float = DartsConfig.w_lr_min,
        w_momentum: float = DartsConfig.w_momentum,
        w_weight_decay: float = DartsConfig.w_weight_decay,
        grad_clip: float | None = DartsConfig.grad_clip,
        alpha_lr: float = DartsConfig.alpha_lr,
        alpha_weight_decay: float = DartsConfig.alpha_weight_decay,
        second_order: bool = DartsConfig.second_order,
        virtual_step: str = DartsConfig.virtual_step,
        batch_norm: str = DartsConfig.batch_norm,
        epochs: int | None = DartsConfig.epochs,
        remedy: str = DartsConfig.remedy,
        aux_skip_weight: float = DartsConfig.aux_skip_weight,
        max_skips: int = DartsConfig.max_skips,
        seed: int = 0,
        device="cpu",
    ):
        super().__init__(space)
        if not isinstance(data, Dataset):
            raise ValueError(f"data: expected a nasrl_nb.nn.data.Dataset (see load_dataset), got {type(data).__name__}")
        DartsConfig(second_order=second_order, batch_size=batch_size, w_lr=w_lr, w_lr_min=w_lr_min, w_momentum=w_momentum,
                    w_weight_decay=w_weight_decay, grad_clip=grad_clip, alpha_lr=alpha_lr,
                    alpha_weight_decay=alpha_weight_decay, epochs=epochs, remedy=remedy, aux_skip_weight=aux_skip_weight,
                    max_skips=max_skips, virtual_step=virtual_step, batch_norm=batch_norm)  # checks them
        if epochs is None:
            raise ValueError("epochs: the planned search epochs (the cosine's and DARTS-'s length; the paper's 50), "
                             "a positive integer; make_search plans the budget; got None")
        self.remedy, self.batch_size, self.epochs, self.max_skips = remedy, batch_size, epochs, max_skips
        self.w_lr_start, self.w_lr_min = float(w_lr), float(w_lr_min)
        self.aux_skip_start = float(aux_skip_weight)
        self.seed = require_seed("seed", seed)
        self.device = resolve_device(device)
        self.data = data.to(self.device)
        self.settings = {
            "channels": channels, "cells_per_stage": cells_per_stage, "batch_size": self.batch_size,
            "w_lr": w_lr, "w_lr_min": w_lr_min, "w_momentum": w_momentum, "w_weight_decay": w_weight_decay,
            "grad_clip": grad_clip, "alpha_lr": alpha_lr, "alpha_weight_decay": alpha_weight_decay,
            "second_order": bool(second_order), "virtual_step": virtual_step, "batch_norm": batch_norm,
            "epochs": self.epochs, "remedy": self.remedy,
            "aux_skip_weight": aux_skip_weight, "max_skips": max_skips, "seed": seed,
        }
        self.supernet = build_relaxed_supernet(
            space, self.data.input_shape, self.data.num_classes, channels=channels, cells_per_stage=cells_per_stage,
            batch_norm=batch_norm,
        ).to(self.device)
        if self.remedy == "darts-" and not hasattr(self.supernet, "aux_skip_weight"):
            raise ValueError(f"remedy: 'darts-' needs a supernet with an auxiliary skip; the {space.name!r} one has none; "
                             "allowed values here: none, darts+")
        if self.remedy == "r-darts-l2":
            w_weight_decay = w_weight_decay * R_DARTS_L2_FACTOR
        self.optimizer = BilevelOptimizer(
            self.supernet, w_lr=w_lr, w_momentum=w_momentum, w_weight_decay=w_weight_decay, grad_clip=grad_clip,
            alpha_lr=alpha_lr, alpha_weight_decay=alpha_weight_decay, second_order=second_order,
            virtual_step=virtual_step,
        )
        # the data: the training split cut once into halves (DARTS Sec. 3.1.1), shuffled each epoch
        self.generator = torch.Generator().manual_seed(self.seed)
        n = len(self.data.y_train)
        if n < 4:
            raise ValueError(f"data: the training split has {n} examples; DARTS needs at least 4 (two halves of 2)")
        perm = torch.randperm(n, generator=self.generator)
        self.w_half, self.alpha_half = perm[: n // 2], perm[n // 2: 2 * (n // 2)]
        self.epoch = 0  # search epochs run
        self.stopped_at: int | None = None  # DARTS+: the epoch after which the search stopped

    # --- one search epoch -------------------------------------------------------------------------------
    def scheduled_w_lr(self, epoch: int) -> float:
        """Cosine annealing from ``w_lr`` to ``w_lr_min`` over ``epochs`` (SGDR without restarts)."""
        t = min(epoch, self.epochs) / self.epochs
        return self.w_lr_min + 0.5 * (self.w_lr_start - self.w_lr_min) * (1 + math.cos(math.pi * t))

    def scheduled_aux_skip_weight(self, epoch: int) -> float:
        """DARTS-'s ``beta``: linear decay from ``aux_skip_weight`` to 0 over ``epochs`` (0 for other remedies)."""
        if self.remedy != "darts-":
            return 0.0
        return self.aux_skip_start * max(0.0, 1.0 - epoch / self.epochs)

    def _batches(self, half: torch.Tensor) -> list[torch.Tensor]:
        order = half[torch.randperm(len(half), generator=self.generator)]
        steps = max(1, len(order) // self.batch_size)  # whole batches only (BatchNorm needs > 1 example)
        size = self.batch_size if len(order) >= self.batch_size else len(order)
        return [order[k * size:(k + 1) * size].to(self.device) for k in range(steps)]

    def run_epoch(self) -> dict:
        """One epoch of Algorithm 1 over the two halves; returns its statistics (plain numbers).

        With ``remedy="darts+"`` it also applies DARTS+'s stop (``stopped_at``, ``"stopped"``)."""
        net, X, y = self.supernet, self.data.X_train, self.data.y_train
        self.optimizer.w_lr = self.scheduled_w_lr(self.epoch)
        beta = self.scheduled_aux_skip_weight(self.epoch)
        if hasattr(net, "set_aux_skip_weight"):
            net.set_aux_skip_weight(beta)
        net.train()
        totals: dict[str, float] = {}
        pairs = list(zip(self._batches(self.w_half), self._batches(self.alpha_half)))
        for w_idx, a_idx in pairs:
            stats = self.optimizer.step((X[w_idx], y[w_idx]), (X[a_idx], y[a_idx])).to_dict()
            for key in ("train_loss", "train_accuracy", "val_loss", "alpha_grad_norm", "w_grad_norm", "hvp_norm"):
                if stats.get(key) is not None:
                    totals[key] = totals.get(key, 0.0) + stats[key]
        self.epoch += 1
        derived = net.derive()
        if self.remedy == "darts+" and self._skip_count() >= self.max_skips:  # DARTS+'s criterion 1: stop here
            self.stopped_at = self.epoch
        return {
            "epoch": self.epoch,
            "derived": str(derived),
            "skip_share": float(net.skip_share()),
            "parameter_free_share": _parameter_free_share(net),
            **_parameter_free_weight(net),
            "supernet_val_accuracy": self.supernet_accuracy("val"),
            **{key: value / len(pairs) for key, value in totals.items()},
            "w_lr": self.optimizer.w_lr,
            "aux_skip_weight": beta,
            "steps": len(pairs),
            "weights": {k: w.cpu().tolist() for k, w in net.arch_weights().items()},  # softmax per edge
            "stopped": self.stopped_at is not None,
        }

    @torch.no_grad()
    def supernet_accuracy(self, split: str = "val") -> float:
        """The relaxed supernet's accuracy on ``split`` (eval mode: BatchNorm's running statistics)."""
        X, y = self.data.split(split)
        if len(y) == 0:
            return math.nan
        was_training = self.supernet.training
        self.supernet.eval()
        try:
            correct = sum(int((self.supernet(X[k:k + EVAL_BATCH_SIZE]).argmax(1) == y[k:k + EVAL_BATCH_SIZE]).sum())
                          for k in range(0, len(y), EVAL_BATCH_SIZE))
        finally:
            self.supernet.train(was_training)
        return correct / len(y)

    # --- the strategy interface -----------------------------------------------------------------------
    def propose(self, n: int) -> Proposal:
        """Run ``n`` search epochs; the cell derived after each (DARTS+: frozen once stopped),
        with the epochs' statistics as the proposal's ``stats``."""
        architectures, epochs = [], []
        for _ in range(check_count(n)):
            epochs.append(self.run_epoch() if self.stopped_at is None else self.stopped_epoch())
            architectures.append(self.supernet.derive())
        last = epochs[-1]
        return Proposal(architectures, {
            "epochs": epochs,
            "skip_share": last.get("skip_share"),
            "parameter_free_share": last.get("parameter_free_share"),
            "supernet_val_accuracy": last.get("supernet_val_accuracy"),
        })

    def stopped_epoch(self) -> dict:
        """The record of an epoch not run: DARTS+ stopped, the derived cell stays as it was."""
        return {"epoch": self.epoch, "derived": str(self.supernet.derive()), "stopped": True,
                "skip_share": float(self.supernet.skip_share()),
                "parameter_free_share": _parameter_free_share(self.supernet),
                **_parameter_free_weight(self.supernet)}

    def _skip_count(self) -> int:
        """Skip connections in the derived cell (a supernet may define ``skip_count``: DARTS's normal cell)."""
        count = getattr(self.supernet, "skip_count", None)
        return int(count()) if callable(count) else sum(c == "skip_connect" for c in self.supernet.derive().choices)

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        """DARTS learns nothing from rewards; the supernet's ops and edges and the stop (for ``steps.jsonl``)."""
        return {"ops": list(self.supernet.op_names), "edges": self.supernet.edge_names(), "stopped_at": self.stopped_at}

    def choice_probabilities(self, architectures: Sequence[Architecture]) -> list[list[dict]] | None:
        """Each decision's chosen op and its mixing weight (the cell space: one decision per edge)."""
        weights = self.supernet.arch_weights()
        if list(weights) != ["cell"]:
            return None
        rows = weights["cell"].tolist()  # (E, K)
        ops = list(self.supernet.op_names)
        return [[{"decision": d.name, "choice": c, "prob": row[ops.index(c)]}
                 for d, c, row in zip(self.space.decisions, arch.choices, rows)] for arch in architectures]

    def mixing_weights(self) -> dict[str, torch.Tensor]:
        """The supernet's current softmax per edge, keyed by cell type (for heat maps)."""
        return self.supernet.arch_weights()

    def state_dict(self) -> dict:
        return {
            "method": self.method,
            "supernet": self.supernet.state_dict(),  # the weights and the alphas
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "stopped_at": self.stopped_at,
        }

    def load_state_dict(self, state: Mapping) -> None:
        if state.get("method") != self.method:
            raise ValueError(f"state: checkpoint of method {state.get('method')!r}, not {self.method!r}")
        state = copy.deepcopy(dict(state))  # the optimisers keep the tensors they are given
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.epoch = int(state["epoch"])
        self.stopped_at = None if state["stopped_at"] is None else int(state["stopped_at"])

    def config(self) -> dict:
        return {"method": self.method, **self.settings}
