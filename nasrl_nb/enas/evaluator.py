"""Scoring children with shared weights: the evaluator that trains and reads a supernet.

ENAS (Pham et al., ICML 2018, Sec. 2.2) alternates two phases; this evaluator does the
supernet's half of each search step, so the one search loop runs ENAS unchanged:

1. **train the shared weights** ``w`` on the training split for ``train_steps``
   minibatches, each minibatch with one architecture drawn by ``sampler`` (the controller,
   without gradients: ``m ~ pi(m; theta)``; ENAS's Eq. 1 with ``M = 1``), SGD with
   Nesterov momentum, gradient clipping and, by default, the paper's cosine learning rate
   with warm restarts (:func:`sgdr_lr`);
2. **score** each architecture the search proposes by the accuracy of its subgraph on
   the next validation minibatch: the reward ``R(m, w)`` of the controller's REINFORCE
   update (Sec. 2.2, "Training the controller parameters theta").

Phase 1 runs before every ``controller_steps``-th search step; the steps between score with
``w`` fixed, so the controller takes ``controller_steps`` updates per phase 1 (ENAS's phase 2
is many controller steps on fixed ``w``: see :class:`SharedWeightEvaluator` for the ratios).

Without a sampler the architectures of phase 1 are uniform: random search with weight
sharing (Li & Talwalkar, UAI 2019, Sec. 3). Batch normalization uses the minibatch's own
statistics when scoring (as NAS-Bench-201's weight-sharing baselines do): running averages
mixed over many architectures describe none of them. ``state_dict`` holds the supernet,
its optimizer, the generator and the batch order, so a search checkpoint resumes exactly.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..checkpoint import preserved_rng
from ..evaluators.base import (
    ChildConfig,
    Evaluator,
    data_fields,
    describe_exception,
    failed_record,
    make_record,
)
from ..nn.complexity import count_parameters
from ..nn.training import recalibrate_batch_norm
from ..runtime import resolve_device, seed_everything
from ..spaces.search_space import Architecture, SearchSpace
from ..validation import choice, require_choices, require_positive, require_seed
from .supernet import build_shared_supernet

Sampler = Callable[[int], Sequence[Architecture]]

LR_SCHEDULES: tuple[str, ...] = ("cosine", "constant")

# ENAS's shared-weight optimiser (Pham et al. 2018, Sec. 3.2, CIFAR-10 training details): SGD
# with Nesterov momentum, l2 weight decay 1e-4, the cosine schedule of SGDR with l_max = 0.05,
# l_min = 0.001, T_0 = 10 epochs and T_mul = 2 (the authors' scripts use l_min = 0.0005).
ENAS_LR, ENAS_LR_MIN, ENAS_LR_T0, ENAS_LR_T_MUL = 0.05, 0.001, 10.0, 2.0


@dataclass
class SupernetConfig:
    """The shared-weight supernet of enas and random_ws (:class:`~nasrl_nb.enas.evaluator.SharedWeightEvaluator`).

    Its width and cells come from ``child`` (``channels``, ``cells_per_stage``), its device from ``child.device``.
    """

    train_steps: int | None = None  # shared-weight minibatches per phase 1; None: one pass over the training split
    warmup_steps: int = 0  # minibatches with uniform architectures before the first step
    lr: float = ENAS_LR  # SGD with Nesterov momentum (ENAS)
    momentum: float = 0.9  # Nesterov momentum of the shared weights' SGD
    weight_decay: float = 1e-4  # the shared weights' L2 weight decay
    grad_clip: float | None = 5.0  # clip the shared weights' gradient norm; None: off
    batch_size: int = 64  # training minibatch
    eval_batch_size: int = 128  # the validation minibatch that scores one architecture
    lr_schedule: str = choice("cosine", LR_SCHEDULES)  # cosine: SGDR from lr to lr_min (ENAS Sec. 3.2); constant: lr throughout
    lr_min: float = ENAS_LR_MIN  # the cosine's floor (ENAS: 0.001)
    lr_t0: float = ENAS_LR_T0  # the first cosine cycle, in epochs (ENAS: T_0 = 10)
    lr_t_mul: float = ENAS_LR_T_MUL  # each next cycle this many times longer (ENAS: T_mul = 2)
    controller_steps: int = 1  # search steps (controller updates) per phase 1; enas: ENAS_CONTROLLER_STEPS

    def __post_init__(self):
        if self.train_steps is not None:
            require_positive("supernet.train_steps", self.train_steps, integer=True)
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"supernet.warmup_steps: must be an integer >= 0, got {self.warmup_steps!r}")
        require_positive("supernet.lr", self.lr)
        require_positive("supernet.batch_size", self.batch_size, integer=True)
        require_positive("supernet.eval_batch_size", self.eval_batch_size, integer=True)
        require_choices(self, "supernet")
        if isinstance(self.lr_min, bool) or not isinstance(self.lr_min, (int, float)) or not 0 <= self.lr_min < float("inf"):
            raise ValueError(f"supernet.lr_min: must be a finite number >= 0, got {self.lr_min!r}")
        require_positive("supernet.lr_t0", self.lr_t0)
        if isinstance(self.lr_t_mul, bool) or not isinstance(self.lr_t_mul, (int, float)) or not 1 <= self.lr_t_mul < float("inf"):
            raise ValueError(f"supernet.lr_t_mul: must be a finite number >= 1, got {self.lr_t_mul!r}")
        require_positive("supernet.controller_steps", self.controller_steps, integer=True)
        if isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float)) or not 0 <= self.momentum < 1:
            raise ValueError(f"supernet.momentum: must be a number in [0, 1), got {self.momentum!r}")
        if (isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float))
                or not 0 <= self.weight_decay < float("inf")):
            raise ValueError(f"supernet.weight_decay: must be a finite number >= 0, got {self.weight_decay!r}")
        if self.grad_clip is not None:
            require_positive("supernet.grad_clip", self.grad_clip)


def sgdr_lr(epoch: float, *, lr_max: float, lr_min: float, t0: float, t_mul: float) -> float:
    """The learning rate of SGDR (Loshchilov & Hutter, ICLR 2017, Eq. 5) after ``epoch`` epochs.

    ``lr = lr_min + (lr_max - lr_min) * (1 + cos(pi * T_cur / T_i)) / 2``: a cosine from
    ``lr_max`` down to ``lr_min`` over a cycle of ``T_i`` epochs (``T_0 = t0``), then a warm
    restart at ``lr_max``; each cycle is ``t_mul`` times longer than the one before.
    ``epoch`` may be fractional (minibatches / minibatches per epoch).
    """
    t_i, t_cur = float(t0), float(epoch)
    while t_cur >= t_i:  # skip the cycles already done
        t_cur, t_i = t_cur - t_i, t_i * t_mul
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * t_cur / t_i))


class Minibatches:
    """An endless stream of index minibatches: a fresh random permutation per pass.

    The permutation comes from ``generator``; ``state_dict`` keeps it and the position, so a
    resumed stream continues exactly.
    """

    def __init__(self, n: int, batch_size: int, generator: torch.Generator):
        self.n, self.batch_size, self.generator = n, min(batch_size, n), generator
        self.order = torch.randperm(n, generator=generator)
        self.position = 0

    def next(self) -> torch.Tensor:
        if self.position + self.batch_size > self.n:  # drop the ragged tail, start a new pass
            self.order, self.position = torch.randperm(self.n, generator=self.generator), 0
        batch = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict:
        return {"order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: Mapping) -> None:
        self.order, self.position = state["order"].clone(), int(state["position"])


class SharedWeightEvaluator(Evaluator):
    """ENAS's shared-weight evaluator: train the supernet, then score children as its subgraphs.

    Args:
        space: a cell, macro or zoph-le space (see :func:`~nasrl_nb.enas.supernet.build_shared_supernet`).
        data: a :class:`~nasrl_nb.nn.data.Dataset` (moved to ``device`` once).
        channels, cells_per_stage: the children's :class:`~nasrl_nb.nn.child_network.ChildNetwork` settings.
        train_steps: shared-weight minibatches before each scored batch (None: one pass over
            the training split, as ENAS's phase 1).
        warmup_steps: minibatches with *uniform* architectures before the first step (a
            warm-up that trains every op before the controller narrows the sampling).
        lr, momentum, weight_decay, grad_clip: SGD with Nesterov momentum on the shared
            weights (ENAS: momentum 0.9, weight decay 1e-4, gradient norm clipped at 5).
        lr_schedule: ``"cosine"`` (default, as ENAS trained ``w``): before each minibatch the
            learning rate is :func:`sgdr_lr` of the epochs trained so far (warm-up included;
            an epoch is one pass over the training split), from ``lr`` down to ``lr_min``
            over cycles of ``lr_t0`` epochs, each ``lr_t_mul`` times longer than the last
            (ENAS: 0.05, 0.001, 10, 2; an ``lr_min`` above ``lr`` is capped at ``lr``). ``"constant"``: ``lr`` throughout (the optimizer's
            learning rate is never touched, so a scheduler of your own may drive it).
        controller_steps: search steps per phase 1 (default 1). Phase 1 runs before every
            ``controller_steps``-th call of :meth:`evaluate`; the calls between only score,
            with the shared weights fixed. Each call is one controller update for ENAS, so
            the controller takes ``controller_steps * epoch_steps / steps_per_phase`` updates
            per epoch of shared-weight training (``controller_steps`` with the default one
            pass per phase). ENAS's ratio is far above 1: on Penn Treebank one phase 1 of
            about 400 minibatches (one epoch) alternates with 2000 controller steps (Sec. 2.2);
            the authors' CIFAR-10 scripts take 30 controller steps of 10 sampled cells per
            epoch (micro search) and 50 of 20 (macro search).
        batch_size: training minibatch; eval_batch_size: the validation minibatch that
            scores one architecture.
        bn_calibration: for :meth:`accuracy` (derive, ranking): training images over which each
            architecture's BatchNorm statistics are recomputed before it is scored in eval mode
            (BN recalibration); 0 (default): each scored batch's own statistics. The minibatch
            reward of a search step always uses the batch's statistics.
        device: where the supernet lives; seed: its initial weights, the batch order and the
            uniform samples (its own generator; the caller's RNG states are left as they are).
        sampler: ``sampler(n) -> n architectures`` for phase 1 (the ENAS strategy's
            ``sample_for_training``); None: uniform.

    Each record carries, besides ``val_accuracy`` (the shared-weight validation accuracy
    on one minibatch), ``params`` of the standalone child and the supernet's training
    statistics of the phase before it: ``supernet_loss`` and ``supernet_accuracy`` (means
    over the phase's minibatches), ``supernet_steps`` (minibatches so far) and
    ``shared_weights: True``. ``seconds`` splits the phase's time evenly over the batch.
    """

    def __init__(
        self,
        space: SearchSpace,
        data,
        *,
        channels: int = ChildConfig.channels,
        cells_per_stage: int = ChildConfig.cells_per_stage,
        train_steps: int | None = SupernetConfig.train_steps,
        warmup_steps: int = SupernetConfig.warmup_steps,
        lr: float = SupernetConfig.lr,
        momentum: float = SupernetConfig.momentum,
        weight_decay: float = SupernetConfig.weight_decay,
        grad_clip: float | None = SupernetConfig.grad_clip,
        batch_size: int = SupernetConfig.batch_size,
        eval_batch_size: int = SupernetConfig.eval_batch_size,
        device=ChildConfig.device,
        seed: int = 0,
        sampler: Sampler | None = None,
        bn_calibration: int = 0,
        lr_schedule: str = SupernetConfig.lr_schedule,
        lr_min: float = SupernetConfig.lr_min,
        lr_t0: float = SupernetConfig.lr_t0,
        lr_t_mul: float = SupernetConfig.lr_t_mul,
        controller_steps: int = SupernetConfig.controller_steps,
    ):
        from ..nn.data import Dataset

        if not isinstance(data, Dataset):
            raise ValueError(f"data: expected a nasrl_nb.nn.data.Dataset (see load_dataset), got {type(data).__name__}")
        require_seed("seed", seed)
        self.space, self.seed = space, seed
        self.device = resolve_device(device)
        self.data = data.to(self.device)
        SupernetConfig(train_steps=train_steps, warmup_steps=warmup_steps, lr=lr, momentum=momentum,
                       weight_decay=weight_decay, grad_clip=grad_clip, batch_size=batch_size,
                       eval_batch_size=eval_batch_size, lr_schedule=lr_schedule, lr_min=lr_min, lr_t0=lr_t0,
                       lr_t_mul=lr_t_mul, controller_steps=controller_steps)  # checks them
        self.train_steps, self.warmup_steps, self.controller_steps = train_steps, warmup_steps, controller_steps
        self.lr, self.lr_schedule, self.lr_min = float(lr), lr_schedule, float(lr_min)
        self.lr_t0, self.lr_t_mul = float(lr_t0), float(lr_t_mul)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.child_kwargs = {"channels": require_positive("channels", channels, integer=True),
                             "cells_per_stage": require_positive("cells_per_stage", cells_per_stage, integer=True)}
        with preserved_rng():
            seed_everything(seed)  # the shared weights' initial values depend on the seed only
            net = build_shared_supernet(space, self.data.input_shape, self.data.num_classes, channels=channels,
                                 **({"cells_per_stage": cells_per_stage} if space.name == "cell" else {}))
        self.supernet = net.to(self.device)
        self._parameters = list(self.supernet.parameters())  # walked once, not per minibatch
        self._batch_norms = [m for m in self.supernet.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        self.optimizer = torch.optim.SGD(self.supernet.parameters(), lr=self.lr, momentum=self.momentum,
                                         nesterov=self.momentum > 0, weight_decay=self.weight_decay)
        self.generator = torch.Generator().manual_seed(seed)  # batch order and uniform samples (CPU)
        self.train_batches = Minibatches(len(self.data.y_train), self.batch_size, self.generator)
        self.val_batches = Minibatches(len(self.data.y_val), self.eval_batch_size, self.generator)
        self.sampler = sampler
        if isinstance(bn_calibration, bool) or not isinstance(bn_calibration, int) or bn_calibration < 0:
            raise ValueError(f"bn_calibration: must be an integer >= 0 (training images; 0: batch statistics), got {bn_calibration!r}")
        self.bn_calibration = bn_calibration
        self.steps = 0  # shared-weight minibatches trained so far (warm-up included)
        self.calls = 0  # evaluate() calls (search steps) so far: phase 1 runs when calls % controller_steps == 0
        self.losses: list[float] = []  # mean training loss of each phase 1, in order
        self._params: dict[str, int] = {}

    # --- the two phases ------------------------------------------------------------------------
    @property
    def epoch_steps(self) -> int:
        """Minibatches in one pass over the training split (one epoch)."""
        return max(1, len(self.data.y_train) // self.train_batches.batch_size)

    @property
    def steps_per_phase(self) -> int:
        """Minibatches of phase 1: ``train_steps``, or one pass over the training split."""
        return self.train_steps or self.epoch_steps

    def current_lr(self) -> float:
        """The shared weights' learning rate for the next minibatch (:func:`sgdr_lr` of the
        epochs trained so far; ``lr`` with the constant schedule)."""
        if self.lr_schedule == "constant":
            return self.lr
        return sgdr_lr(self.steps / self.epoch_steps, lr_max=self.lr, lr_min=min(self.lr_min, self.lr), t0=self.lr_t0,
                       t_mul=self.lr_t_mul)

    def sample_uniform(self, n: int) -> list[Architecture]:
        """``n`` uniform architectures from the evaluator's generator."""
        columns = [torch.randint(len(d.choices), (n,), generator=self.generator) for d in self.space.decisions]
        return [self.space.from_indices(row) for row in torch.stack(columns, dim=1).tolist()]

    def sample_fair(self, n: int) -> list[Architecture]:
        """``n`` architectures in which, within each run of ``K`` consecutive ones (``K``: the most
        options of any decision), every option of every decision appears (about) equally often.

        Strict fairness of FairNAS (Chu et al., ICCV 2021, Sec. 3.2), without its gradient
        accumulation: each op is trained once per ``K`` minibatches, none falls behind.
        """
        decisions = self.space.decisions
        k = max(len(d.choices) for d in decisions)
        rows: list[list[int]] = []
        while len(rows) < n:
            columns = [torch.randperm(k, generator=self.generator) % len(d.choices) for d in decisions]  # D x (K,)
            rows.extend(torch.stack(columns, dim=1).tolist())  # (K, D)
        return [self.space.from_indices(row) for row in rows[:n]]

    def train_shared_weights(self, steps: int, *, sampler: Sampler | None = None) -> dict:
        """Phase 1: ``steps`` SGD minibatches, each through one sampled architecture.

        The architectures come from ``sampler``, else the evaluator's ``sampler`` (the
        controller), else :meth:`sample_uniform`. Returns ``{"loss", "accuracy", "steps"}``:
        mean training loss and accuracy over the minibatches. A minibatch whose loss is not
        finite is skipped (no update).
        """
        steps = require_positive("steps", steps, integer=True)
        sample = sampler or self.sampler or self.sample_uniform
        architectures = list(sample(steps))  # the sampler's policy is fixed during the phase
        self.supernet.train()
        losses, correct, seen = [], 0, 0
        for arch in architectures:
            idx = self.train_batches.next()
            X, y = self.data.X_train[idx], self.data.y_train[idx]  # (B, C, H, W), (B,)
            logits = self.supernet(X, arch)  # (B, num_classes)
            loss = F.cross_entropy(logits, y)
            if self.lr_schedule == "cosine":  # the rate for this minibatch, from the epochs trained before it
                for group in self.optimizer.param_groups:
                    group["lr"] = self.current_lr()
            self.steps += 1
            if not torch.isfinite(loss):
                continue
            self.optimizer.zero_grad(set_to_none=True)  # params off the path keep grad None: untouched
            loss.backward()
            if self.grad_clip is not None:  # the norm over the path's gradients (the others are None)
                torch.nn.utils.clip_grad_norm_([p for p in self._parameters if p.grad is not None], self.grad_clip)
            self.optimizer.step()
            losses.append(loss.item())
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        return {"loss": sum(losses) / len(losses) if losses else math.nan,
                "accuracy": correct / seen if seen else math.nan, "steps": len(architectures)}

    @torch.inference_mode()
    def accuracy(self, arch: Architecture, split: str = "val", *, batch: torch.Tensor | None = None) -> float:
        """Shared-weight accuracy of ``arch`` on ``batch`` (indices into ``split``) or the whole split.

        Batch normalization uses each batch's statistics, or, with ``bn_calibration``, statistics
        recomputed for ``arch`` (:meth:`recalibrated`); the supernet's running averages are left untouched.
        """
        if self.bn_calibration:
            with self.recalibrated(arch):
                return self._accuracy(arch, split, batch)
        with _batch_statistics(self._batch_norms):
            return self._accuracy(arch, split, batch)

    @contextmanager
    def recalibrated(self, arch: Architecture):
        """BatchNorm in eval mode with statistics recomputed for ``arch`` (BN recalibration).

        The supernet's running averages mix every architecture it trained; here each BN layer's
        are reset and re-estimated through ``arch``'s subgraph
        (:func:`~nasrl_nb.nn.training.recalibrate_batch_norm`) as the average of the batch
        statistics over the ``bn_calibration`` first images of a fixed (seeded) permutation of
        the training split, in batches of ``eval_batch_size``. Inside the block the layers use them; afterwards the
        supernet's own statistics, momentum and modes are put back.
        """
        X = self.data.X_train[self._calibration_images()]  # (N, C, H, W)
        saved = [(m.training, m.momentum, m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
                 for m in self._batch_norms]
        try:
            with torch.inference_mode():
                recalibrate_batch_norm(self.supernet, X, batch_size=self.eval_batch_size,
                                       forward=lambda x: self.supernet(x, arch))
            yield
        finally:
            with torch.no_grad():
                for m, (training, momentum, mean, var, count) in zip(self._batch_norms, saved, strict=True):
                    m.training, m.momentum = training, momentum
                    m.running_mean.copy_(mean)
                    m.running_var.copy_(var)
                    m.num_batches_tracked.copy_(count)

    def _calibration_images(self) -> torch.Tensor:
        """The first ``bn_calibration`` indices of a permutation of the training split seeded by ``seed``
        (its own generator: the evaluator's batch order is untouched)."""
        n = len(self.data.y_train)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        return order[: min(self.bn_calibration, n)].to(self.data.X_train.device)

    def _accuracy(self, arch: Architecture, split: str, batch: torch.Tensor | None) -> float:
        X, y = self.data.split(split)
        if batch is not None:
            X, y = X[batch], y[batch]
        correct = 0
        for start in range(0, len(y), self.eval_batch_size):
            logits = self.supernet(X[start : start + self.eval_batch_size], arch)  # (B, num_classes)
            correct += int((logits.argmax(1) == y[start : start + self.eval_batch_size]).sum())
        return correct / len(y)

    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict]:
        """Phase 1 (train the shared weights; every ``controller_steps``-th call), then phase 2:
        one record per architecture.

        A call without phase 1 scores with the weights as they are; its records' ``supernet_loss``
        and ``supernet_accuracy`` are None. All or nothing: if anything raises (Ctrl-C
        included) the evaluator is put back as it was, so a step that is redone trains the
        same minibatches.
        """
        architectures = list(architectures)
        before = self.state_dict()  # copies already
        try:
            start = time.perf_counter()
            phase = {"loss": None, "accuracy": None}
            if self.calls % self.controller_steps == 0:
                if self.steps == 0 and self.warmup_steps:
                    self.train_shared_weights(self.warmup_steps, sampler=self.sample_uniform)
                phase = self.train_shared_weights(self.steps_per_phase)
                self.losses.append(phase["loss"])
            self.calls += 1
            share = (time.perf_counter() - start) / max(1, len(architectures))
            stats = {"supernet_loss": phase["loss"], "supernet_accuracy": phase["accuracy"],
                     "supernet_steps": self.steps, "shared_weights": True}
            with torch.inference_mode(), _batch_statistics(self._batch_norms):  # phase 2: scoring only
                return [self._score(arch, share, stats) for arch in architectures]
        except BaseException:
            self.load_state_dict(before)
            raise

    def _score(self, arch: Architecture, share: float, stats: dict) -> dict:
        start = time.perf_counter()
        batch = self.val_batches.next()
        try:
            accuracy = self._accuracy(arch, "val", batch)
            params = self.child_params(arch)
        except Exception as err:  # a subgraph that cannot run is a failed child
            return failed_record(describe_exception(err), seconds=share + time.perf_counter() - start, **stats)
        return make_record(val_accuracy=accuracy, params=params, seconds=share + time.perf_counter() - start, **stats)

    def child_params(self, arch: Architecture) -> int:
        """Parameters of ``arch``'s standalone child (remembered per architecture)."""
        key = str(arch)
        if key not in self._params:
            self._params[key] = self.supernet.child_parameters(arch)
        return self._params[key]

    def _child_kwargs(self) -> dict:
        return dict(self.child_kwargs) if self.space.name == "cell" else {"channels": self.child_kwargs["channels"]}

    # --- the evaluator interface -----------------------------------------------------------------
    def describe(self, arch: Architecture) -> dict:
        shared = count_parameters(self.supernet)
        params = self.child_params(arch)
        return {"arch": str(arch), "params": params, "shared_params": shared,
                "summary": f"subgraph of {type(self.supernet).__name__}: {params:,} of {shared:,} shared parameters"}

    def state_dict(self) -> dict:
        return {
            "supernet": {k: v.detach().cpu().clone() for k, v in self.supernet.state_dict().items()},
            "optimizer": _cloned(self.optimizer.state_dict()),
            "generator": self.generator.get_state(),
            "train_batches": self.train_batches.state_dict(),
            "val_batches": self.val_batches.state_dict(),
            "steps": self.steps,
            "calls": self.calls,
            "losses": list(self.losses),
        }

    def load_state_dict(self, state: Mapping) -> None:
        if not state:  # a checkpoint written before the first step
            return
        self.supernet.load_state_dict(state["supernet"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.train_batches.load_state_dict(state["train_batches"])
        self.val_batches.load_state_dict(state["val_batches"])
        self.steps = int(state["steps"])
        self.calls = int(state.get("calls", 0))  # absent from checkpoints written before controller_steps
        self.losses = [float(v) for v in state["losses"]]

    def config(self) -> dict:
        return {
            "kind": type(self).__name__,
            **data_fields(self.data),
            "seed": self.seed,
            "child_kwargs": self._child_kwargs(),
            "train_steps": self.train_steps,
            "warmup_steps": self.warmup_steps,
            "lr": self.lr,
            "lr_schedule": self.lr_schedule,
            "lr_min": self.lr_min,
            "lr_t0": self.lr_t0,
            "lr_t_mul": self.lr_t_mul,
            "controller_steps": self.controller_steps,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "grad_clip": self.grad_clip,
            "batch_size": self.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "bn_calibration": self.bn_calibration,
            "sampler": "uniform" if self.sampler is None else getattr(self.sampler, "__qualname__", repr(self.sampler)),
        }

    def __repr__(self) -> str:
        return (f"SharedWeightEvaluator(space={self.space!r}, steps={self.steps}, "
                f"shared_params={count_parameters(self.supernet):,}, device={self.device})")


def _cloned(state):
    """A copy of ``state`` (nested dicts and lists of tensors and plain values): what ``copy.deepcopy``
    gives, without its slow path for tensors."""
    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, Mapping):
        return {k: _cloned(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cloned(v) for v in state)
    return copy.copy(state)


@contextmanager
def _batch_statistics(batch_norms: Sequence[torch.nn.Module]):
    """BatchNorm layers normalise with each batch's own statistics and leave their running averages alone.

    Training mode without tracking (``track_running_stats=False``): the supernet's buffers
    are never written, so nothing has to be saved and restored; the flags are put back after.
    """
    flags = [(m.training, m.track_running_stats) for m in batch_norms]
    for m in batch_norms:
        m.training, m.track_running_stats = True, False
    try:
        yield
    finally:
        for m, (training, track) in zip(batch_norms, flags, strict=True):
            m.training, m.track_running_stats = training, track
