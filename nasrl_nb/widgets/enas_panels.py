"""The extra dashboard panels of a shared-weight search (ENAS, random search with weight sharing).

A search whose evaluator is a :class:`~nasrl_nb.enas.evaluator.SharedWeightEvaluator`
gets three more panels, drawn from the same :class:`~.panels.RunState` as the others:

* ``supernet`` -- the supernet with the latest sampled architecture's subgraph highlighted
  (:func:`nasrl_nb.viz.enas_plots.draw_supernet`);
* ``supernet_loss`` -- the shared weights' training loss per step (the history records'
  ``supernet_loss``);
* ``shared_vs_true`` -- each sampled architecture's shared-weight accuracy (its reward, the
  record's ``val_accuracy``) against its accuracy trained from scratch, looked up in a
  :class:`~nasrl_nb.bench.tabular.TabularBenchmark` (only with a benchmark for the space).
"""

from __future__ import annotations

from .panels import RunState

ENAS_PANELS = ("supernet", "supernet_loss", "shared_vs_true")


def uses_shared_weights(search) -> bool:
    """Whether ``search`` scores its children with a shared-weight supernet."""
    from ..enas.evaluator import SharedWeightEvaluator

    return isinstance(getattr(search, "evaluator", None), SharedWeightEvaluator)


def default_benchmark(space):
    """The shipped digits-cell table when ``space`` is the cell space it covers, else None."""
    from ..bench.tabular import TabularBenchmark
    from ..spaces.cell_space import CellSpace

    if not isinstance(space, CellSpace):
        return None
    try:
        bench = TabularBenchmark.load("bench:digits-cell")
    except (ValueError, OSError):  # not shipped in this install
        return None
    return bench if bench.space == space else None


def shared_and_true(history, benchmark) -> tuple[list[float], list[float]]:
    """``(shared, true)`` accuracies of the history's successful records that ``benchmark`` holds."""
    shared, true = [], []
    for row in history:
        if row.get("status") != "ok" or not row.get("shared_weights") or row["arch"] not in benchmark:
            continue
        shared.append(float(row["val_accuracy"]))
        true.append(float(benchmark.query(row["arch"])["val_accuracy"]))
    return shared, true


def render_enas_panels(state: RunState, benchmark=None, names=ENAS_PANELS, *, dpi: int = 80) -> dict[str, bytes]:
    """PNG bytes of each ENAS panel that has data to show (pure: no widgets involved)."""
    from ..viz.drawing import figure_to_png
    from ..viz.enas_plots import (
        draw_supernet,
        plot_shared_vs_true,
        plot_supernet_loss,
        supernet_losses,
    )

    figures = {}
    arch = state.latest_architecture()
    if "supernet" in names and arch is not None:
        figures["supernet"] = draw_supernet(arch, title=f"supernet: subgraph of the latest sample (step "
                                                        f"{state.history[-1]['step']})")
    if "supernet_loss" in names and supernet_losses(state.history)[0]:
        figures["supernet_loss"] = plot_supernet_loss(state.history)
    if "shared_vs_true" in names and benchmark is not None:
        shared, true = shared_and_true(state.history, benchmark)
        if shared:
            figures["shared_vs_true"] = plot_shared_vs_true(
                shared, true, ylabel="shared-weight accuracy (reward minibatch)",
                xlabel=f"val accuracy trained from scratch ({benchmark.name})")
    return {name: figure_to_png(fig, dpi=dpi) for name, fig in figures.items()}
