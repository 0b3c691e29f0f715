"""PNAS as a search strategy: progressive expansion, ranked by a learned predictor (Liu et al. 2018, Algorithm 1).

Liu et al. (2018, Sec. 3, Algorithm 1) search cells from simple to complex:

1. train every cell of the simplest kind (here: one non-``none`` edge, 24 cells);
2. fit the predictor (:mod:`~nasrl_nb.pnas.predictor`) on every (cell, accuracy) pair so far;
3. expand every kept cell by one edge (:mod:`~nasrl_nb.pnas.expansion`) and rank all the
   expansions by the predictor;
4. keep the top K, train them, and go to 2 until the cells are full (6 edges).

The loop (:class:`~nasrl_nb.run.loop.Search`) asks for batches; a PNAS step spans as many
batches as its cells need (the last batch of a step may be smaller), and the next step
starts only once the previous one is observed, so this strategy runs synchronously.

Three choices of this implementation, beyond the paper:

* Isomorphic cells (:meth:`~nasrl_nb.spaces.cell_space.CellSpace.canonical`: the same
  function, as NAS-Bench-201 counts architectures) are trained once. A candidate whose
  function is already known, or is being trained in this step, joins the beam for free with
  that accuracy and does not count towards K; so step 1 trains one cell per function among
  the 24 one-edge cells (9 in the default space) and keeps all 24.
* K (``beam_size``) is a rule of the budget (:func:`~nasrl_nb.pnas.config.beam_size_rule`):
  the budget spread over the 5 expansion steps, as the paper's cost ``|B_1| + K (B - 1)``.
* When the 6 steps leave budget (an expansion step may offer fewer than K new functions),
  each later step ranks *every* cell of the space whose function is not known yet with the
  refitted predictor and trains the top K: a plain predictor-guided search. Once every
  function is known (6,466 in the default space), proposals are uniform samples.

Each step's record (:attr:`ProgressiveSearch.records`) holds the number of candidates, the
cells trained, and the predictor's Spearman rho against the accuracies of the cells it chose,
predicted *before* they were trained: out-of-sample ranking quality. ``observe`` returns the
current step's numbers, so they reach ``steps.jsonl`` and a live display.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence

import numpy as np

from ..spaces.search_space import Architecture, SearchSpace
from ..stats import spearman_rho
from ..strategies.base import SearchStrategy, check_batch, check_count
from ..validation import require_seed
from .config import PNASConfig
from .expansion import EMPTY, check_space, expand_indices, one_edge_cells, pnas_beam_size
from .predictor import PredictorEnsemble, fit_ensemble


class ProgressiveSearch(SearchStrategy):
    """PNAS on the NAS-Bench-201 cell space with beam size ``beam_size`` (K).

    Args:
        space: a :class:`~nasrl_nb.spaces.cell_space.CellSpace` with a ``none`` op.
        beam_size: K, new cells trained per expansion step; None: the rule of ``budget``.
        budget: the search's evaluations, for the rule (needed only when ``beam_size`` is None).
        ensemble_size, predictor_hidden, predictor_epochs, predictor_lr: the predictor
            (:class:`~nasrl_nb.pnas.config.PNASConfig`).
        seed: the folds and initialisations of every predictor fit.
    """

    method = "pnas"

    def __init__(self, space: SearchSpace, *, beam_size: int | None = PNASConfig.beam_size, budget: int | None = None,
                 ensemble_size: int = PNASConfig.ensemble_size, predictor_hidden: int = PNASConfig.predictor_hidden,
                 predictor_epochs: int = PNASConfig.predictor_epochs, predictor_lr: float = PNASConfig.predictor_lr,
                 seed: int = 0):
        super().__init__(check_space(space))
        if beam_size is None:
            if budget is None:
                raise ValueError("beam_size: pass K (a positive integer) or the search's budget for the rule")
            beam_size = pnas_beam_size(budget, space)
        self.settings = PNASConfig(beam_size=beam_size, ensemble_size=ensemble_size, predictor_hidden=predictor_hidden,
                                   predictor_epochs=predictor_epochs, predictor_lr=predictor_lr)
        self.beam_size = self.settings.beam_size
        self.seed = require_seed("seed", seed)
        self.rng = np.random.default_rng(seed)
        self.step = 0  # PNAS steps started: 1..E grow the cells, later ones rank the whole space
        self.beam: list[tuple] = []  # the cells kept at this step (indices)
        self.queue: list[tuple] = []  # chosen at this step, not proposed yet
        self.pending: list[tuple] = []  # proposed, not observed yet
        self.known: dict[str, float] = {}  # canonical form -> reward of the cell that was trained
        self.seen: list[tuple] = []  # the predictor's training cells: every kept or trained cell, once
        self.predicted: dict[tuple, float] = {}  # this step's chosen cells -> the prediction made before training them
        self.pairs: list[tuple[float, float]] = []  # this step's (prediction, reward) of the trained cells
        self.records: list[dict] = []  # one per step (see :meth:`_new_record`)
        self.predictor: PredictorEnsemble | None = None  # the last fit (not checkpointed: refit at every step)

    # --- helpers -----------------------------------------------------------------------
    def canonical(self, indices: tuple) -> str:
        """The cell's function (NAS-Bench-201's canonical form), cached for the space (all searches share it)."""
        forms = canonical_cache(self.space)
        if indices not in forms:
            forms[indices] = self.space.canonical(self.space.from_indices(indices))
        return forms[indices]

    def cells(self, indices: Sequence[tuple]) -> list[Architecture]:
        return [self.space.from_indices(i) for i in indices]

    @property
    def num_steps(self) -> int:
        """The number of steps that grow the cells: one per edge (6)."""
        return len(self.space.decisions)

    def training_data(self) -> tuple[list[tuple], list[float]]:
        """The predictor's data: every kept or trained cell whose function's accuracy is known."""
        keep = [i for i in self.seen if self.canonical(i) in self.known]
        return keep, [self.known[self.canonical(i)] for i in keep]

    # --- one PNAS step -------------------------------------------------------------------
    def candidates(self) -> list[tuple]:
        """This step's candidates: step 1 the one-edge cells, then the expansions of the beam,
        after the last expansion step every cell whose function is not known yet."""
        if self.step == 1:
            return [c.indices for c in one_edge_cells(self.space)]
        if self.step <= self.num_steps:
            empty, seen = self.space.ops.index(EMPTY), set()  # expand_all on index tuples
            children = (child for cell in self.beam for child in expand_indices(cell, empty, len(self.space.ops)))
            return [c for c in children if not (c in seen or seen.add(c))]
        every = itertools.product(*(range(len(d.choices)) for d in self.space.decisions))
        return [i for i in every if self.canonical(i) not in self.known]

    def start_step(self) -> None:
        """Rank the next step's candidates with a freshly fit predictor and queue the top K."""
        if self.pending:
            raise RuntimeError("pnas: a step starts once the previous one is observed; run the search synchronously")
        self.step += 1
        candidates = self.candidates()
        predictions = None
        cells, targets = self.training_data()
        if self.step > 1 and cells and candidates:
            self.predictor = fit_ensemble(cells, targets, seed=int(self.rng.integers(2**31)), config=self.settings,
                                          num_ops=len(self.space.ops))
            predictions = self.predictor.predict(candidates)
        order = range(len(candidates)) if predictions is None else np.argsort(-predictions, kind="stable")  # best first
        beam, queue, queued, free = [], [], set(), 0
        for i in order:
            if self.step > 1 and len(queue) >= self.beam_size:
                break
            cell = candidates[int(i)]
            form = self.canonical(cell)
            if form in self.known or form in queued:  # its function is known or in training: kept, not trained
                beam.append(cell)
                free += 1
                continue
            queue.append(cell)
            queued.add(form)
            beam.append(cell)
            if predictions is not None:
                self.predicted[cell] = float(predictions[int(i)])
        self.beam = beam if self.step <= self.num_steps else []
        self.queue = queue
        old = set(self.seen)
        self.seen.extend(c for c in beam if c not in old)
        self.pairs = []
        self.records.append({"step": self.step, "edges": self.step if self.step <= self.num_steps else None,
                             "candidates": len(candidates), "chosen": len(queue), "trained": 0, "free": free,
                             "spearman": None})

    # --- the strategy interface ---------------------------------------------------------------
    def propose(self, n: int) -> list[Architecture]:
        n = check_count(n)
        if not self.queue:
            self.start_step()
        if not self.queue:  # every function is known: uniform samples (re-evaluations)
            return [self.space.sample(self.rng) for _ in range(n)]
        take, self.queue = self.queue[:n], self.queue[n:]
        self.pending.extend(take)
        return self.cells(take)

    def observe(self, architectures: Sequence[Architecture], results: Sequence[Mapping], rewards: Sequence[float]) -> dict:
        check_batch(architectures, results, rewards)
        record = self.records[-1] if self.records else None
        for arch, reward in zip(architectures, rewards, strict=True):
            cell = arch.indices
            self.known.setdefault(self.canonical(cell), float(reward))
            if cell in self.pending:
                self.pending.remove(cell)
                record["trained"] += 1
                if cell in self.predicted:
                    self.pairs.append((self.predicted.pop(cell), float(reward)))
            if cell not in self.seen:
                self.seen.append(cell)
        if record is None:
            return {}
        if not self.queue and not self.pending and record["spearman"] is None:  # the step is complete
            record["spearman"] = step_spearman(self.pairs)
        stats = {"pnas_step": record["step"], "candidates": record["candidates"], "trained": record["trained"],
                 "known_functions": len(self.known)}
        if record["spearman"] is not None:
            stats["spearman"] = record["spearman"]
        return stats

    def state_dict(self) -> dict:
        return {
            "method": self.method,
            "rng": self.rng.bit_generator.state,
            "step": self.step,
            "beam": [list(c) for c in self.beam],
            "queue": [list(c) for c in self.queue],
            "pending": [list(c) for c in self.pending],
            "known": dict(self.known),
            "seen": [list(c) for c in self.seen],
            "predicted": [[list(c), p] for c, p in self.predicted.items()],
            "pairs": [list(p) for p in self.pairs],
            "records": [dict(r) for r in self.records],
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.rng.bit_generator.state = dict(state["rng"])
        self.step = int(state["step"])
        self.beam, self.queue, self.pending, self.seen = ([tuple(c) for c in state[k]] for k in ("beam", "queue", "pending", "seen"))
        self.known = {str(k): float(v) for k, v in state["known"].items()}
        self.predicted = {tuple(c): float(p) for c, p in state["predicted"]}
        self.pairs = [(float(p), float(r)) for p, r in state["pairs"]]
        self.records = [dict(r) for r in state["records"]]

    def config(self) -> dict:
        return {"method": self.method, "beam_size": self.beam_size, "ensemble_size": self.settings.ensemble_size,
                "predictor_hidden": self.settings.predictor_hidden, "predictor_epochs": self.settings.predictor_epochs,
                "predictor_lr": self.settings.predictor_lr, "seed": self.seed}


@functools.lru_cache(maxsize=4)
def canonical_cache(space: SearchSpace) -> dict[tuple, str]:
    """A dict of canonical forms by index tuple, one per space, filled as cells are met."""
    return {}


def step_spearman(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Spearman's rho of a step's (prediction, reward) pairs; None for fewer than 3 or constant ones."""
    if len(pairs) < 3:
        return None
    predicted, measured = np.array(pairs, dtype=float).T
    if np.ptp(predicted) == 0 or np.ptp(measured) == 0:
        return None
    return spearman_rho(predicted, measured)


def trained_vs_candidates(records: Sequence[Mapping]) -> dict:
    """Cells trained against a search that trains every candidate of every expansion step."""
    grow = [r for r in records if r["edges"] is not None]
    return {"trained": sum(r["trained"] for r in grow), "candidates": sum(r["candidates"] for r in grow)}
