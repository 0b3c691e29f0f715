"""The extra dashboard panels of a DARTS search, drawn from the run's steps and history alone.

A DARTS search (``method="darts"``, :mod:`nasrl_nb.darts.strategy`) records in each
step's ``stats`` the epochs it ran -- the mixing weights softmax(α) per edge, the cell derived
after the epoch, its skip and parameter-free shares -- and the op and edge names; the
history holds one record per epoch, the derived cell as the evaluator scored it. From those
(a live :class:`~.panels.RunState` or one read from a run folder) come three panels:

* ``alphas`` -- the heat map of softmax(α) per edge, the op each edge keeps boxed
  (:func:`nasrl_nb.viz.darts_plots.plot_alpha_heatmaps`);
* ``derived_cell`` -- the cell derived after the latest epoch, redrawn as it changes;
* ``collapse`` -- the skip / parameter-free share per epoch with the derived cell's accuracy
  and the collapse threshold (:func:`nasrl_nb.viz.darts_plots.plot_collapse`);

and the collapse warning (:func:`darts_warnings`).
"""

from __future__ import annotations

from .panels import RunState

DARTS_PANELS = ("alphas", "derived_cell", "collapse")
DARTS_METHODS = ("darts",)


def is_darts(method: str) -> bool:
    """Whether runs of ``method`` record DARTS epochs (mixing weights, derived cells)."""
    return method in DARTS_METHODS


def darts_epochs_of(state: RunState) -> list[dict]:
    """One record per search epoch of ``state`` (its steps' ``stats["epochs"]``, with the accuracies)."""
    from ..viz.darts_plots import darts_epochs

    return darts_epochs(state.steps, state.history)


def _names(state: RunState) -> tuple[list[str] | None, dict | None]:
    """The op names and edge names per cell type that the latest step recorded."""
    for step in reversed(state.steps):
        stats = step.get("stats") or {}
        if stats.get("ops"):
            return list(stats["ops"]), stats.get("edges")
    return None, None


def render_darts_panels(state: RunState, names=DARTS_PANELS, *, dpi: int = 80) -> dict[str, bytes]:
    """PNG bytes of each DARTS panel that has data to show (pure: no widgets involved)."""
    from ..viz.darts_plots import latest_mixing_weights, plot_alpha_heatmaps, plot_collapse
    from ..viz.drawing import draw_architecture, figure_to_png

    epochs = darts_epochs_of(state)
    if not epochs:
        return {}
    figures = {}
    ops, edges = _names(state)
    latest = latest_mixing_weights(epochs)
    if "alphas" in names and latest is not None and ops:
        epoch, weights = latest
        figures["alphas"] = plot_alpha_heatmaps(weights, ops, edge_names=edges, title=f"softmax(α) after epoch {epoch}")
    last = epochs[-1]
    if "derived_cell" in names and last.get("derived"):
        stopped = " (search stopped)" if last.get("stopped") else ""
        figures["derived_cell"] = draw_architecture(state.space.parse(last["derived"]),
                                                    title=f"derived cell, epoch {last['epoch']}{stopped}")
    if "collapse" in names and all(e.get("skip_share") is not None for e in epochs):
        figures["collapse"] = plot_collapse(epochs)
    return {name: figure_to_png(fig, dpi=dpi) for name, fig in figures.items()}


def darts_warnings(state: RunState) -> list[str]:
    """The collapse warning of ``state``'s latest derived cell (empty without one)."""
    from ..viz.darts_plots import collapse_warning

    warning = collapse_warning(darts_epochs_of(state))
    return [] if warning is None else [warning]
