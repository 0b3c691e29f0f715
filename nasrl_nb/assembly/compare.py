"""Search methods compared on a table, over many seeds (NAS-Bench-201's protocol, Dong & Yang 2020, Sec. 5).

Every method gets the same budget of evaluations on the same table; each run picks the
architecture with the best *validation* accuracy it saw and is scored by that architecture's
*test* accuracy. Over many seeds this gives means with error bars, the regret to the table's
optimum, and how many evaluations each method needs to find a top-1% architecture.

1. :func:`run_method` runs one seeded search and returns its history;
2. :func:`score_runs` turns the histories of one method into curves and statistics;
3. :func:`compare_methods` does both for several methods (serially; a script may spread the
   runs over processes with :func:`run_method` itself);
4. :func:`tune` picks a method's settings from a small grid by the mean *validation* accuracy
   of the picks, on seeds kept apart from those of the comparison (never by test accuracy).

Every method runs with its defaults (:data:`~nasrl_nb.assembly.config.METHOD_DEFAULTS`, the
batch-size rule): :data:`TABULAR_SETTINGS` adds nothing to them, and is where a script passes
other keyword arguments of :func:`~nasrl_nb.assembly.factory.make_search`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..bench.analysis import best_so_far, first_reach, summarize_runs, unit_values
from ..bench.evaluator import TabularEvaluator
from ..bench.tabular import TabularBenchmark
from ..validation import require_choice, require_positive
from .methods import METHODS

# Extra make_search keywords per method on a table: none. Every method runs with its defaults
# (nasrl_nb.assembly.config.METHOD_DEFAULTS and the batch-size rule), the same values the CLI, the
# dashboard and the notebooks get; a script may still pass its own (tune() starts from these).
TABULAR_METHODS: tuple[str, ...] = ("random", "evolution", "reinforce", "ppo", "a2c", "trpo", "sac", "ucb", "thompson", "pnas")
TABULAR_SETTINGS: dict[str, dict] = {method: {} for method in TABULAR_METHODS}


def run_method(bench: TabularBenchmark, method: str, seed: int, *, budget: int = 100,
               settings: Mapping | None = None) -> list[dict]:
    """One seeded search of ``budget`` evaluations on ``bench``; its history records."""
    return _run(bench, method, seed, budget, settings).history


def _run(bench: TabularBenchmark, method: str, seed: int, budget: int, settings: Mapping | None):
    from .factory import make_search

    require_choice("method", method, METHODS)
    kwargs = dict(TABULAR_SETTINGS.get(method, {}) if settings is None else settings)
    evaluator = TabularEvaluator(bench, seed=seed)
    search = make_search(method, "cell", None, budget=budget, seed=seed, evaluator=evaluator, progress=False,
                         policy_snapshots=False, **kwargs)
    search.run()
    return search


@dataclass
class LearningCurve:
    """What one seeded search learned: per evaluation, the validation accuracy it saw (``rewards``,
    failed children 0) and the test accuracy of its pick so far (``best``); per update, the
    policy's ``entropy`` (nats, summed over decisions; empty for methods without a policy);
    ``records``: the strategy's own per-step records, where it keeps them (PNAS's steps)."""

    method: str
    seed: int
    rewards: np.ndarray
    best: np.ndarray
    entropy: np.ndarray
    batch_size: int
    records: list = field(default_factory=list)

    @classmethod
    def of(cls, search) -> LearningCurve:
        """The curve of a finished :class:`~nasrl_nb.run.loop.Search` (on a table or on real children)."""
        rewards = np.array([r["val_accuracy"] if r.get("status") == "ok" else 0.0 for r in search.history])
        entropy = np.array([s.stats["entropy"] for s in search.steps if s.stats.get("entropy") is not None])
        records = [dict(r) for r in getattr(search.strategy, "records", [])]
        return cls(search.method, search.seed, rewards, best_so_far(search.history), entropy, search.batch_size, records)

    def fifths(self) -> tuple[float, float]:
        """Mean reward of the first and of the last fifth of the evaluations: did it improve on its start?"""
        k = max(1, len(self.rewards) // 5)
        return float(self.rewards[:k].mean()), float(self.rewards[-k:].mean())


def learning_curve(bench: TabularBenchmark, method: str, seed: int, *, budget: int = 100,
                   settings: Mapping | None = None) -> LearningCurve:
    """One seeded search of ``method`` with its defaults on ``bench``, as a :class:`LearningCurve`."""
    return LearningCurve.of(_run(bench, method, seed, budget, settings))


@dataclass
class MethodResult:
    """The runs of one method: ``curves`` (runs x budget: test accuracy of the pick so far),
    ``reach`` (evaluations to find a top-1% architecture, None if never), ``picks`` (each run's
    final pick) and ``stats`` (see :func:`~nasrl_nb.bench.analysis.summarize_runs`)."""

    method: str
    curves: np.ndarray
    reach: list
    picks: list[str]
    stats: dict
    settings: dict = field(default_factory=dict)


def landmarks(bench: TabularBenchmark, column: str = "test_accuracy") -> tuple[float, float]:
    """``(optimum, top-1% threshold)`` of ``column`` over the unique architectures."""
    values = unit_values(bench, column)
    values = values[np.isfinite(values)]
    return float(values.max()), float(np.quantile(values, 0.99))


def score_runs(method: str, histories: Sequence[Sequence[Mapping]], *, optimum: float, threshold: float,
               settings: Mapping | None = None) -> MethodResult:
    """Curves and statistics of one method's histories (all of one budget)."""
    curves = np.stack([best_so_far(h) for h in histories])  # (runs, budget)
    reach = [first_reach(h, threshold) for h in histories]
    picks = []
    for h in histories:
        ok = [r for r in h if r.get("status") == "ok" and math.isfinite(r.get("val_accuracy", math.nan))]
        picks.append(max(ok, key=lambda r: r["val_accuracy"])["arch"] if ok else None)
    stats = summarize_runs(curves, optimum=optimum, threshold=threshold, reach=reach)
    return MethodResult(method, curves, reach, picks, stats, dict(settings or {}))


def compare_methods(bench: TabularBenchmark, methods: Sequence[str] = METHODS, seeds: Sequence[int] = range(10), *,
                    budget: int = 100, settings: Mapping[str, Mapping] | None = None,
                    callback: Callable[[str, int], object] | None = None) -> dict[str, MethodResult]:
    """Run every method on every seed (serially); ``callback(method, seed)`` after each run."""
    require_positive("budget", budget, integer=True)
    optimum, threshold = landmarks(bench)
    results = {}
    for method in methods:
        chosen = (settings or {}).get(method, TABULAR_SETTINGS[require_choice("methods", method, METHODS)])
        histories = []
        for seed in seeds:
            histories.append(run_method(bench, method, seed, budget=budget, settings=chosen))
            if callback is not None:
                callback(method, seed)
        results[method] = score_runs(method, histories, optimum=optimum, threshold=threshold, settings=chosen)
    return results


def pick_validation(bench: TabularBenchmark, history: Sequence[Mapping]) -> float:
    """Mean validation accuracy (over the table's seeds) of the run's pick: the tuning score."""
    ok = [r for r in history if r.get("status") == "ok" and math.isfinite(r.get("val_accuracy", math.nan))]
    if not ok:
        return math.nan
    return bench.query(max(ok, key=lambda r: r["val_accuracy"])["arch"])["val_accuracy"]


def settings_grid(base: Mapping, grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of ``grid`` applied to ``base`` (keys ``"batch_size"`` or ``"trainer_kwargs.lr"``)."""
    out = []
    for values in itertools.product(*grid.values()):
        settings = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
        for key, value in zip(grid, values):
            head, _, tail = key.partition(".")
            if tail:
                settings.setdefault(head, {})[tail] = value
            else:
                settings[head] = value
        out.append(settings)
    return out


def run_seeds(bench: TabularBenchmark, method: str, seeds: Sequence[int], *, budget: int = 100,
              settings: Mapping | None = None) -> list[list[dict]]:
    """:func:`run_method` for each of ``seeds``, serially: one history per seed, in order."""
    return [run_method(bench, method, seed, budget=budget, settings=settings) for seed in seeds]


def tune(bench: TabularBenchmark, method: str, grid: Mapping[str, Sequence], seeds: Sequence[int], *,
         budget: int = 100, run: Callable | None = None) -> tuple[dict, list[dict]]:
    """The settings of ``grid`` with the best mean validation accuracy of the picks over ``seeds``.

    Returns ``(best settings, [{"settings", "score", "scores"}...])``. ``run(bench, method, seeds,
    budget=, settings=)`` returns one history per seed; it defaults to :func:`run_seeds` (a script
    may pass one that spreads the seeds over processes, as ``benchmarks/tabular_pool.py`` does).
    """
    run = run or run_seeds
    table = []
    for settings in settings_grid(TABULAR_SETTINGS[method], grid):
        histories = run(bench, method, seeds, budget=budget, settings=settings)
        scores = [pick_validation(bench, history) for history in histories]
        table.append({"settings": settings, "score": float(np.nanmean(scores)), "scores": scores})
    best = max(table, key=lambda row: row["score"])
    return best["settings"], table


def markdown_table(results: Mapping[str, MethodResult], *, optimum: float, threshold: float, budget: int) -> str:
    """The comparison as a markdown table (accuracies in percent)."""
    lines = [
        f"| method | runs | test acc. of the pick (mean ± std) | regret to optimum | picks in top 1% | "
        f"median evals to find a top-1% arch (of {budget}) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method, result in results.items():
        s = result.stats
        reach = "over budget" if s["median_reach"] is None else f"{s['median_reach']:.0f}"
        lines.append(
            f"| {method} | {s['runs']} | {100 * s['final_mean']:.2f} ± {100 * s['final_std']:.2f} | "
            f"{100 * s['regret']:.2f} | {100 * s['top_hit']:.0f}% | {reach} ({s['reached']}/{s['runs']} runs found one) |"
        )
    lines.append("")
    lines.append(f"Optimum (best mean test accuracy) {100 * optimum:.2f}%; top-1% threshold {100 * threshold:.2f}%.")
    return "\n".join(lines)
