"""Plots of a PNAS search (Liu et al. 2018): what each step ranked, trained, and how well it ranked.

Pure functions in the style of :mod:`nasrl_nb.viz.bench_plots`: they take the strategy's
records (:attr:`nasrl_nb.pnas.strategy.ProgressiveSearch.records`, or their means over seeds),
draw into ``ax`` when given or into a new pyplot-free Figure, and return the Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .axes import new_axes, style_axes


def plot_pnas_steps(records: Sequence[Mapping], ax=None, *, spearman_runs: Sequence[Sequence] | None = None,
                    title: str = "PNAS step by step") -> Figure:
    """Per step: candidates ranked and cells trained (bars, log scale, left axis) and the
    predictor's Spearman rho on the cells it chose, predicted before they were trained
    (line, right axis). ``spearman_runs``: one list of per-step rhos per seed, drawn as points."""
    fig, ax = new_axes(ax, (6.5, 3.4), margins=(0.7, 0.7, 0.5, 0.35))
    steps = np.array([r["step"] for r in records])
    ax.bar(steps - 0.2, [r["candidates"] for r in records], width=0.4, color="#56b4e9", label="candidates ranked")
    ax.bar(steps + 0.2, [r["trained"] for r in records], width=0.4, color="#e69f00", label="cells trained")
    ax.set_yscale("log")
    ax.set_xticks(steps, [str(r["edges"]) if r["edges"] is not None else "all" for r in records])
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    style_axes(ax, title, "step (edges per cell)", "cells")
    right = ax.twinx()
    rho = [np.nan if r["spearman"] is None else r["spearman"] for r in records]
    for runs in spearman_runs or []:
        right.scatter(steps[: len(runs)], [np.nan if v is None else v for v in runs], color="#0072b2", s=6, alpha=0.25)
    right.plot(steps, rho, color="#0072b2", marker="o", linewidth=1.6)
    right.axhline(0.0, color="#0072b2", linewidth=0.6, linestyle=":")
    right.set_ylim(-1.05, 1.05)
    right.set_ylabel("Spearman rho of the predictor", color="#0072b2")
    return fig
