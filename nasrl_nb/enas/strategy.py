"""ENAS and random search with weight sharing, as strategies of the one search loop.

ENAS (Pham et al., ICML 2018, Sec. 2.2) alternates two phases per iteration:

1. train the shared weights ``w`` on the training split, one architecture ``m ~ pi(m; theta)``
   per minibatch (no gradient into the controller), SGD with Nesterov momentum and a cosine
   learning rate (Sec. 3.2);
2. train the controller ``theta`` with REINFORCE on ``R(m, w)``, the shared-weight
   validation accuracy of its samples on a minibatch, with an exponential moving average
   baseline, an entropy bonus, and the logits ``c * tanh(logits / T)``, for many steps
   on the fixed ``w`` (:data:`ENAS_CONTROLLER_STEPS` per phase 1 here; see below).

In this package phase 1 and the reward live in the evaluator
(:class:`~nasrl_nb.enas.evaluator.SharedWeightEvaluator`), phase 2 is the usual REINFORCE
update of :class:`~nasrl_nb.strategies.rl.PolicyGradientStrategy`. The only link is
:meth:`EnasStrategy.sample_for_training`, which the factory hands to the evaluator as its
``sampler``: the search loop does not know it runs ENAS. :class:`RandomWeightSharing`
(Li & Talwalkar, UAI 2019, Sec. 3) is the same with uniform sampling in both places.

Deriving the result (ENAS Sec. 2.2, "Deriving Architectures"): :func:`derive` samples
candidates from the trained policy (uniform for random search with weight sharing),
scores each with the shared weights on the whole validation split and ranks them; the
best is then trained from scratch, or looked up in a tabular benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..spaces.search_space import Architecture, SearchSpace
from ..strategies.random_search import RandomSearch
from ..strategies.rl import PolicyGradientStrategy
from ..validation import require_positive, require_seed
from .evaluator import SharedWeightEvaluator

# ENAS's controller settings (Pham et al. 2018, Sec. 3.1-3.2 and the authors' code): tanh
# constant 2.5, temperature 5, entropy weight 1e-4, baseline decay 0.99, raw advantages R - b
# (no normalisation), Adam at 3.5e-4 (the paper; the authors' CIFAR-10 micro-search script
# uses 3.5e-3). ENAS_PAPER_TRAINER is that preset, for long runs.
ENAS_CONTROLLER = {"temperature": 5.0, "tanh_constant": 2.5}
ENAS_PAPER_TRAINER = {"optimizer": "adam", "lr": 3.5e-4, "entropy_weight": 1e-4, "baseline_decay": 0.99,
                      "normalize_advantages": False}

# ENAS's ratio of controller updates to shared-weight training (Sec. 2.2): phase 1 is one pass
# over the training data (about 400 minibatches on Penn Treebank), phase 2 a fixed number of
# controller steps on the fixed weights, "typically 2000"; the authors' CIFAR-10 scripts take
# 30 steps of 10 sampled cells (micro) or 50 of 20 (macro) per epoch, over 150-310 epochs:
# thousands of controller updates in all. A lab run has tens, so make_search(method="enas")
# takes ENAS_CONTROLLER_STEPS updates per phase 1 (with the default phase of one pass: that
# many per epoch; SupernetConfig.controller_steps) and a controller learning rate of 0.01,
# with which the policy's entropy falls visibly within a few hundred scored cells on digits
# (notebook 07 asserts it); everything else is the paper's.
ENAS_CONTROLLER_STEPS = 10
ENAS_TRAINER = {**ENAS_PAPER_TRAINER, "lr": 1e-2}


class EnasStrategy(PolicyGradientStrategy):
    """ENAS's controller: a REINFORCE :class:`PolicyGradientStrategy` that also samples for phase 1.

    Takes :class:`PolicyGradientStrategy`'s ``controller_kwargs`` and ``trainer_kwargs``;
    its ``method`` is ``"enas"``.
    """

    result_rule = "derive"  # the result is ranked afresh by :func:`derive` (Sec. 2.2), not the best minibatch reward

    def __init__(self, space: SearchSpace, **kwargs):
        kwargs.pop("algorithm", None)
        super().__init__(space, algorithm="reinforce", **kwargs)
        self.method = "enas"

    @torch.no_grad()
    def sample_for_training(self, n: int) -> list[Architecture]:
        """``n`` architectures ``m ~ pi(m; theta)`` for the shared weights (phase 1), without gradients.

        They come from the controller's own generator, whose state is in :meth:`state_dict`.
        """
        return self.controller.sample(require_positive("n", n, integer=True)).architectures


class RandomWeightSharing(RandomSearch):
    """Random search with weight sharing (Li & Talwalkar 2019): uniform architectures to train
    the shared weights and uniform candidates to score with them."""

    method = "random_ws"
    result_rule = "derive"  # uniform candidates ranked by shared-weight validation accuracy (:func:`derive`)

    def sample_for_training(self, n: int) -> list[Architecture]:
        """``n`` uniform architectures for the shared weights, from the strategy's generator."""
        return self.propose(n)


def derive(search, *, num_candidates: int = 100, seed: int = 0, split: str = "val") -> list[dict]:
    """Rank ``num_candidates`` sampled architectures by shared-weight accuracy on ``split``.

    ``search`` is a :class:`~nasrl_nb.run.loop.Search` run with ``method="enas"`` or
    ``"random_ws"`` (its evaluator a :class:`SharedWeightEvaluator`). Candidates are drawn
    from the trained controller (ENAS) or uniformly (random_ws), from a generator seeded by
    ``seed`` -- the search's own streams are untouched -- and duplicates are scored once.
    Returns ``[{"arch", "shared_accuracy"}, ...]``, best first; ``result[0]["arch"]`` is the
    derived architecture (train it from scratch with
    :func:`~nasrl_nb.evaluators.base.train_architecture`, or look it up in a benchmark).
    """
    evaluator, strategy = search.evaluator, search.strategy
    if not isinstance(evaluator, SharedWeightEvaluator):
        raise ValueError(f"search: expected a search with a SharedWeightEvaluator (method enas or random_ws), "
                         f"got {type(evaluator).__name__}")
    num_candidates = require_positive("num_candidates", num_candidates, integer=True)
    require_seed("seed", seed)
    if isinstance(strategy, EnasStrategy):
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            candidates = strategy.controller.sample(num_candidates, generator=generator).architectures
    else:
        rng = np.random.default_rng(seed)
        candidates = [search.space.sample(rng) for _ in range(num_candidates)]
    unique = list(dict.fromkeys(candidates))
    ranked = [{"arch": arch, "shared_accuracy": evaluator.accuracy(arch, split)} for arch in unique]
    ranked.sort(key=lambda row: -row["shared_accuracy"])  # stable: ties keep sampling order
    return ranked


def wire_sampler(strategy, evaluator) -> None:
    """Give ``evaluator`` the strategy's phase-1 sampler (what make_search does for enas and random_ws)."""
    sample = getattr(strategy, "sample_for_training", None)
    if isinstance(evaluator, SharedWeightEvaluator) and callable(sample):
        evaluator.sampler = sample


def strategy_for(method: str, space: SearchSpace, *, seed: int = 0, **kwargs):
    """``EnasStrategy`` for ``"enas"``, ``RandomWeightSharing`` for ``"random_ws"`` (see make_strategy)."""
    if method == "enas":
        return EnasStrategy(space, **kwargs)
    if method == "random_ws":
        return RandomWeightSharing(space, seed=seed, **kwargs)
    raise ValueError(f"method: {method!r} is not allowed; allowed values: enas, random_ws")


ONESHOT_METHODS: tuple[str, ...] = ("enas", "random_ws")
ONESHOT_DEFAULTS: Mapping[str, dict] = {
    "enas": {"controller_kwargs": ENAS_CONTROLLER, "trainer_kwargs": ENAS_TRAINER,
             "controller_steps": ENAS_CONTROLLER_STEPS},
    "random_ws": {},
}
