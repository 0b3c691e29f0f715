"""The showdown: every search method of the toolkit on digits-cell at a comparable cost.

Multi-trial methods (random search, regularized evolution, REINFORCE, PPO, ...) evaluate
many children; one-shot methods (random search with weight sharing, ENAS, DARTS plain and
remedied) train one supernet. Both end with one picked cell, and the digits-cell table says
how good it really is (NAS-Bench-201's use of its table, Dong & Yang 2020, Sec. 5-6).

**The cost rule.** A cost is counted in *table seconds*: the training seconds of the
digits-cell build (column ``train_seconds``, measured by the builder on a loaded 2-core
machine, one torch thread per worker).

1. The one-shot methods really train their supernet on digits -- the same data and the same
   train/validation split as the table (its sidecar's ``settings``: dataset, ``data_seed``) --
   here, with ``threads`` torch threads. Their cost is the measured CPU time of the process
   over the whole search (deriving the cell included; the wall time is recorded too),
   converted to table seconds by :func:`calibrate`: a few cells are trained now with the
   build's own settings and threads, timed by the same clock, and
   ``time_scale = median over the cells of CPU seconds now / the table's train_seconds``;
   ``cost = CPU seconds / time_scale``. This takes out the difference of machine between the
   build and this run. CPU time rather than wall time, because on a shared machine the wall
   time of the same search changes with the other work (by 2.5x within minutes on the
   machine these figures were taken on); CPU time changes much less, though cache and
   memory contention still leak into it.
2. The multi-trial methods run on the table (:class:`~nasrl_nb.bench.evaluator.TabularEvaluator`):
   each evaluation is charged the table's ``train_seconds`` of the run it drew, and the
   budget is ``budget_seconds`` -- by default the mean cost of the one-shot runs, so each
   multi-trial search may spend what a one-shot search spent on average. A search
   evaluates whole batches; its pick is chosen among the evaluations up to and including
   the one whose running sum of seconds first reaches the budget (NAS-Bench-201's rule: the
   evaluation that crosses the budget counts), and that sum is its cost.

**The pick.** Multi-trial: the evaluated cell with the best validation accuracy it saw (one
table run drawn per query). ENAS and random search with weight sharing: the best of
``candidates`` cells ranked by shared-weight accuracy on the whole validation split
(:func:`~nasrl_nb.enas.strategy.derive`). DARTS: the cell derived after the last epoch
(argmax per edge excluding ``none``, DARTS's rule). No method ever sees a test accuracy.

**The score.** The pick's table test accuracy and validation accuracy, each the mean over the
table's seeds, and its regret: the table's best mean test accuracy minus the pick's (>= 0).

1. :func:`calibrate` measures ``time_scale``;
2. :func:`run_one_shot` and :func:`run_multi_trial` run one seeded search and return its record;
3. :func:`run_showdown` runs every method on every seed (one-shot first, then the others on
   their mean cost) and returns a :class:`ShowdownResult`;
4. :func:`summarize` and :func:`markdown_table` turn the records into one table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..bench.build import BuildSettings, train_cell
from ..bench.evaluator import TabularEvaluator
from ..bench.tabular import TabularBenchmark
from ..darts.strategy import search_data
from ..enas.strategy import ONESHOT_DEFAULTS, derive
from ..runtime import quick_mode
from ..validation import require_positive, require_seed
from .compare import TABULAR_SETTINGS

# one-shot methods: name -> (make_search method, DARTS remedy)
ONE_SHOT_METHODS: dict[str, tuple[str, str | None]] = {
    "random_ws": ("random_ws", None),
    "enas": ("enas", None),
    "darts": ("darts", "none"),
    "darts-": ("darts", "darts-"),  # DARTS-: auxiliary skip with a decaying weight (Chu et al. 2021)
    "darts+": ("darts", "darts+"),  # DARTS+: early stop on the number of skips (Liang et al. 2019)
    "r-darts-l2": ("darts", "r-darts-l2"),  # R-DARTS (L2): stronger weight decay (Zela et al. 2020)
}
MULTI_TRIAL_METHODS: tuple[str, ...] = tuple(TABULAR_SETTINGS)
SHOWDOWN_METHODS: tuple[str, ...] = ("random", "evolution", "reinforce", "ppo", "random_ws", "enas", "darts", "darts-")
MAX_EVALUATIONS = 100_000  # the multi-trial searches stop on the seconds budget long before this


@dataclass(frozen=True)
class OneShotSettings:
    """How the supernets are trained (the same for every one-shot method, so their costs compare).

    ``epochs`` counts passes over the training split: DARTS's search epochs (each pass split
    into the halves for ``w`` and ``alpha``), and the shared-weight phases of ENAS / random
    search with weight sharing (each trains the shared weights for one pass, then scores
    ``enas_batch_size`` sampled cells on validation minibatches in each of the method's
    ``controller_steps`` search steps: ENAS's 10 controller updates per pass, random_ws's 1).
    """

    epochs: int = 20
    channels: int = 16  # the supernet's width (the table's children: 16)
    cells_per_stage: int = 1  # the table's skeleton
    darts_batch_size: int = 32  # minibatch of each half (benchmarks/darts_collapse.py's digits setting)
    alpha_lr: float = 3e-3  # DARTS's 3e-4 x 10: digits gives ~16 steps per epoch, not ~400
    enas_batch_size: int = 8  # controller samples per ENAS step
    candidates: int = 50  # cells ENAS / random_ws rank with the shared weights at the end

    def __post_init__(self):
        for name in ("epochs", "channels", "cells_per_stage", "darts_batch_size", "enas_batch_size", "candidates"):
            require_positive(name, getattr(self, name), integer=True)
        require_positive("alpha_lr", self.alpha_lr)

    @classmethod
    def quick(cls) -> OneShotSettings:
        """Tiny supernets for quick mode and tests (a few seconds per search on a 2-core CPU)."""
        return cls(epochs=4, channels=4, enas_batch_size=4, candidates=10)


@dataclass
class ShowdownResult:
    """What :func:`run_showdown` returns: one plain record per (method, seed), and the landmarks."""

    records: list[dict]
    budget_seconds: float
    time_scale: float
    optimum: float
    best_arch: str
    calibration: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def summary(self) -> list[dict]:
        return summarize(self.records)


# --- the pieces ---------------------------------------------------------------------------------------
@contextmanager
def torch_threads(threads: int | None):
    """Run with ``threads`` torch threads (None: as they are), restoring the count afterwards."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(require_positive("threads", threads, integer=True))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def table_settings(bench: TabularBenchmark) -> BuildSettings:
    """The build settings recorded in the table's sidecar (the shipped defaults where one is missing)."""
    saved = dict(bench.metadata.get("settings") or {})
    known = {k: v for k, v in saved.items() if k in BuildSettings.__dataclass_fields__}
    if "seeds" in known:
        known["seeds"] = tuple(known["seeds"])
    return BuildSettings(**known)


def calibrate(bench: TabularBenchmark, *, cells: int = 3, seed: int = 0, data=None, threads: int | None = 1) -> dict:
    """``time_scale``: how much slower (> 1) or faster this machine trains now than the build did.

    Trains ``cells`` cells drawn uniformly (seeded) with the table's own build settings, once
    each with the table's first seed, and compares the time of each with the table's
    ``train_seconds`` of that cell (the mean over its runs: what a multi-trial query is charged
    on average). The time here is the process's CPU time around the run (see the module
    docstring); its wall-clock ``train_seconds`` is kept too. ``time_scale`` is the *median*
    of the per-cell ratios: the build's seconds are wall times on a loaded machine, and one
    cell slowed 4x by a spike there would pull a sum or a mean. Returns ``{"time_scale",
    "ratios", "cells", "measured_seconds", "measured_wall_seconds", "table_seconds", "threads"}``.
    """
    cells = require_positive("cells", cells, integer=True)
    require_seed("seed", seed)
    settings = table_settings(bench)
    first = settings.seeds[0]
    one_seed = BuildSettings(**{**asdict(settings), "seeds": (first,)})
    data = data if data is not None else search_data(None, table=bench)
    rng = np.random.default_rng(seed)
    chosen = [bench.space.sample(rng) for _ in range(cells)]
    measured, wall, table = [], [], []
    with torch_threads(threads):
        train_cell(str(chosen[0]), BuildSettings(**{**asdict(one_seed), "epochs": 1}), data)  # warm-up, not timed
        for arch in chosen:
            start = time.process_time()
            row = train_cell(str(arch), one_seed, data)[0]
            measured.append(time.process_time() - start)
            wall.append(float(row["train_seconds"]))
            table.append(float(bench.query(arch)["train_seconds"]))
    ratios = [m / t for m, t in zip(measured, table)]
    return {"time_scale": float(np.median(ratios)), "ratios": ratios, "cells": [str(a) for a in chosen],
            "measured_seconds": measured, "measured_wall_seconds": wall, "table_seconds": table, "threads": threads}


def score_pick(bench: TabularBenchmark, arch, *, optimum: float | None = None) -> dict:
    """The pick's table test and validation accuracy (means over seeds) and its regret to ``optimum``."""
    row = bench.query(arch)
    optimum = float(np.nanmax(bench.values("test_accuracy"))) if optimum is None else optimum
    return {"arch": str(arch), "test_accuracy": row["test_accuracy"], "val_accuracy": row["val_accuracy"],
            "regret": optimum - row["test_accuracy"]}


def within_budget(history: Sequence[Mapping], budget_seconds: float) -> list[Mapping]:
    """The evaluations up to and including the one whose running sum of ``seconds`` first reaches the budget."""
    spent, kept = 0.0, []
    for row in history:
        kept.append(row)
        spent += float(row.get("seconds") or 0.0)
        if spent >= budget_seconds:
            break
    return kept


def run_multi_trial(bench: TabularBenchmark, method: str, seed: int, *, budget_seconds: float,
                    settings: Mapping | None = None, optimum: float | None = None) -> dict:
    """One seeded multi-trial search on the table with ``budget_seconds`` of simulated training; its record."""
    from .factory import make_search

    if method not in MULTI_TRIAL_METHODS:
        raise ValueError(f"method: {method!r} is not a multi-trial method; allowed values: {', '.join(MULTI_TRIAL_METHODS)}")
    budget_seconds = float(require_positive("budget_seconds", budget_seconds))
    kwargs = dict(TABULAR_SETTINGS[method] if settings is None else settings)
    evaluator = TabularEvaluator(bench, seed=seed, budget_seconds=budget_seconds)
    start = time.perf_counter()
    search = make_search(method, "cell", None, budget=MAX_EVALUATIONS, seed=seed, evaluator=evaluator,
                         progress=False, policy_snapshots=False, **kwargs)
    search.run()
    wall = time.perf_counter() - start
    kept = within_budget(search.history, budget_seconds)
    ok = [r for r in kept if r.get("status") == "ok" and math.isfinite(r.get("val_accuracy", math.nan))]
    if not ok:
        raise ValueError(f"budget_seconds: {budget_seconds:g} bought no successful evaluation for {method!r}; raise it")
    pick = max(ok, key=lambda r: r["val_accuracy"])["arch"]
    return {"method": method, "kind": "multi-trial", "seed": seed, **score_pick(bench, pick, optimum=optimum),
            "cost_seconds": sum(float(r.get("seconds") or 0.0) for r in kept), "wall_seconds": wall,
            "evaluations": len(kept), "budget_seconds": budget_seconds,
            "last_seconds": float(kept[-1].get("seconds") or 0.0)}  # cost - last_seconds < budget <= cost


def run_one_shot(bench: TabularBenchmark, method: str, seed: int, *, settings: OneShotSettings = OneShotSettings(),
                 data=None, time_scale: float = 1.0, optimum: float | None = None) -> dict:
    """One seeded one-shot search on the table's data; its record (cost: CPU seconds / ``time_scale``)."""
    from .factory import make_search

    if method not in ONE_SHOT_METHODS:
        raise ValueError(f"method: {method!r} is not a one-shot method; allowed values: {', '.join(ONE_SHOT_METHODS)}")
    time_scale = float(require_positive("time_scale", time_scale))
    data = data if data is not None else search_data(None, table=bench)
    name, remedy = ONE_SHOT_METHODS[method]
    common = {"seed": seed, "channels": settings.channels, "cells_per_stage": settings.cells_per_stage,
              "device": "cpu", "progress": False, "policy_snapshots": False}
    start, cpu_start = time.perf_counter(), time.process_time()
    if name == "darts":
        # the derived cell of each epoch is also looked up (history), but the pick is the last one
        search = make_search("darts", "cell", data, evaluator=TabularEvaluator(bench, seed=seed), budget=settings.epochs,
                             remedy=remedy, darts_kwargs={"batch_size": settings.darts_batch_size,
                                                          "alpha_lr": settings.alpha_lr}, **common)
        search.run()
        pick = search.strategy.supernet.derive()
        extra = {"skip_share": float(search.strategy.supernet.skip_share())}
    else:
        per_phase = ONESHOT_DEFAULTS[name].get("controller_steps", 1)  # search steps per pass (SupernetConfig)
        search = make_search(name, "cell", data, budget=settings.epochs * per_phase * settings.enas_batch_size,
                             batch_size=settings.enas_batch_size, **common)
        search.run()
        ranked = derive(search, num_candidates=settings.candidates, seed=seed)
        pick = ranked[0]["arch"]
        extra = {"shared_accuracy": ranked[0]["shared_accuracy"]}
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {"method": method, "kind": "one-shot", "seed": seed, **score_pick(bench, pick, optimum=optimum),
            "cost_seconds": cpu / time_scale, "cpu_seconds": cpu, "wall_seconds": wall, "evaluations": None,
            "supernet_epochs": settings.epochs, **extra}


# --- the whole showdown -------------------------------------------------------------------------------
def run_showdown(
    bench="bench:digits-cell",
    methods: Sequence[str] = SHOWDOWN_METHODS,
    seeds: Sequence[int] = range(3),
    *,
    settings: OneShotSettings | None = None,
    budget_seconds: float | None = None,
    time_scale: float | str = "calibrate",
    calibration_cells: int = 3,
    calibrate_after: bool = False,
    threads: int | None = 1,
    callback: Callable[[dict], object] | None = None,
) -> ShowdownResult:
    """Run every method on every seed at a comparable cost (see the module docstring).

    Args:
        bench: the table (a :class:`TabularBenchmark` or its source).
        methods: names from :data:`ONE_SHOT_METHODS` and :data:`MULTI_TRIAL_METHODS`.
        seeds: the seeds of every method.
        settings: the supernets' :class:`OneShotSettings` (default: :meth:`OneShotSettings.quick`
            in quick mode, else the defaults).
        budget_seconds: the multi-trial budget in table seconds; None: the mean cost of the
            one-shot runs (then ``methods`` must hold at least one one-shot method).
        time_scale: ``"calibrate"`` (measure it, :func:`calibrate`, with ``calibration_cells``
            cells) or a number (1.0: take CPU seconds here as table seconds).
        calibrate_after: calibrate again after the one-shot runs and use the mean of the two
            scales (less sensitive to a load that changes during the runs).
        threads: torch threads for the one-shot searches and the calibration (the build used 1).
        callback: called with each record as it is made.
    """
    bench = bench if isinstance(bench, TabularBenchmark) else TabularBenchmark.load(bench)
    methods, seeds = _checked_methods_and_seeds(methods, seeds)
    settings = settings or (OneShotSettings.quick() if quick_mode() else OneShotSettings())
    one_shot = [m for m in methods if m in ONE_SHOT_METHODS]
    if budget_seconds is None and not one_shot:
        raise ValueError("budget_seconds: give it, or include a one-shot method whose mean cost sets it")
    best = bench.best("test_accuracy")
    optimum = float(best["test_accuracy"])
    data = search_data(None, table=bench) if one_shot else None
    time_scale, calibration = _time_scale(bench, time_scale, calibrate_now=bool(one_shot), cells=calibration_cells,
                                          data=data, threads=threads)
    if calibrate_after and not calibration:
        raise ValueError("calibrate_after: needs time_scale='calibrate' and a one-shot method")
    records = []

    def keep(record: dict) -> None:
        records.append(record)
        if callback is not None:
            callback(record)

    # 1. the one-shot methods: real supernets, measured
    with torch_threads(threads):
        for method in one_shot:
            for seed in seeds:
                keep(run_one_shot(bench, method, seed, settings=settings, data=data, time_scale=time_scale, optimum=optimum))
    if calibrate_after:  # the mean of the scales before and after; the one-shot costs converted again
        after = calibrate(bench, cells=calibration_cells, seed=1, data=data, threads=threads)
        time_scale = (calibration["time_scale"] + after["time_scale"]) / 2
        calibration = {**calibration, "time_scale_before": calibration["time_scale"], "after": after,
                       "time_scale": time_scale}
        for record in records:
            record["cost_seconds"] = record["cpu_seconds"] / time_scale
    # 2. the multi-trial methods on the table, charged its seconds, on the one-shot methods' mean cost
    if budget_seconds is None:
        budget_seconds = float(np.mean([r["cost_seconds"] for r in records]))
    for method in methods:
        if method in MULTI_TRIAL_METHODS:
            for seed in seeds:
                keep(run_multi_trial(bench, method, seed, budget_seconds=budget_seconds, optimum=optimum))
    order = {m: k for k, m in enumerate(methods)}
    records.sort(key=lambda r: (order[r["method"]], seeds.index(r["seed"])))
    return ShowdownResult(records, float(budget_seconds), time_scale, optimum, best["arch"], calibration,
                          {**asdict(settings), "threads": threads, "seeds": seeds})


def _time_scale(bench, time_scale, *, calibrate_now: bool, cells: int, data, threads) -> tuple[float, dict]:
    """``time_scale`` checked, or measured (``"calibrate"``, when there are one-shot runs to convert; else 1.0),
    and the calibration's record ({} when none ran)."""
    calibration = {}
    if isinstance(time_scale, str):
        if time_scale != "calibrate":
            raise ValueError(f"time_scale: {time_scale!r} is not allowed; allowed values: 'calibrate' or a positive number")
        if calibrate_now:
            calibration = calibrate(bench, cells=cells, data=data, threads=threads)
        time_scale = calibration.get("time_scale", 1.0)
    return float(require_positive("time_scale", time_scale)), calibration


def _checked_methods_and_seeds(methods: Sequence[str], seeds: Sequence[int]) -> tuple[list[str], list[int]]:
    """``methods`` and ``seeds`` as lists, each checked: at least one, every method a showdown method."""
    methods, seeds = list(methods), [require_seed("seeds", s) for s in seeds]
    if not methods or not seeds:
        raise ValueError("methods, seeds: need at least one method and one seed")
    allowed = (*MULTI_TRIAL_METHODS, *ONE_SHOT_METHODS)
    for method in methods:
        if method not in allowed:
            raise ValueError(f"methods: {method!r} is not allowed; allowed values: {', '.join(allowed)}")
    return methods, seeds


def summarize(records: Sequence[Mapping]) -> list[dict]:
    """One row per method (in first-seen order): runs, mean / std of the pick's test accuracy,
    mean validation accuracy, mean regret, mean cost in table seconds, CPU seconds (one-shot) and wall seconds."""
    rows = []
    for method in dict.fromkeys(r["method"] for r in records):
        mine = [r for r in records if r["method"] == method]
        test = np.array([r["test_accuracy"] for r in mine])
        evaluations = [r["evaluations"] for r in mine if r.get("evaluations") is not None]
        rows.append({
            "method": method, "kind": mine[0]["kind"], "runs": len(mine),
            "test_mean": float(test.mean()), "test_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0,
            "val_mean": float(np.mean([r["val_accuracy"] for r in mine])),
            "regret_mean": float(np.mean([r["regret"] for r in mine])),
            "cost_mean": float(np.mean([r["cost_seconds"] for r in mine])),
            "wall_mean": float(np.mean([r["wall_seconds"] for r in mine])),
            "cpu_mean": float(np.mean([r["cpu_seconds"] for r in mine])) if "cpu_seconds" in mine[0] else None,
            "evaluations_mean": float(np.mean(evaluations)) if evaluations else None,
        })
    return rows


def markdown_table(result: ShowdownResult) -> str:
    """The showdown as a markdown table (accuracies in percent, costs in table seconds).

    The optimum's architecture string sits in a code span: in Markdown its ``~0|+|...~1`` pairs
    would otherwise render as strikethrough."""
    lines = [
        "| method | kind | runs | test acc. of the pick (mean ± std) | val. acc. | regret | cost (table s) | CPU s | wall s "
        "| evaluations |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in summarize(result.records):
        evaluations = "—" if row["evaluations_mean"] is None else f"{row['evaluations_mean']:.1f}"
        cpu = "—" if row["cpu_mean"] is None else f"{row['cpu_mean']:.1f}"
        lines.append(
            f"| {row['method']} | {row['kind']} | {row['runs']} | {100 * row['test_mean']:.2f} ± {100 * row['test_std']:.2f} "
            f"| {100 * row['val_mean']:.2f} | {100 * row['regret_mean']:.2f} | {row['cost_mean']:.1f} "
            f"| {cpu} | {row['wall_mean']:.1f} | {evaluations} |"
        )
    lines += ["", f"Table optimum (best mean test accuracy) {100 * result.optimum:.2f}% (`{result.best_arch}`); "
                  f"multi-trial budget {result.budget_seconds:.1f} table seconds; time scale {result.time_scale:.2f} "
                  "(CPU seconds here per table second)."]
    return "\n".join(lines)
