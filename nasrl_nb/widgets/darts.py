"""Widgets for DARTS: watch the mixing weights and the collapse live; step through one bilevel step.

:class:`DartsMonitor` runs a DARTS search (``make_search(method="darts")``) one epoch per
step, in the kernel (``Step``) or in a background thread (``Run``), and redraws after each
epoch: the heat map of softmax(alpha) per edge, the derived cell, and the skip /
parameter-free share with the collapse warning. :class:`BilevelStepThrough` runs one
bilevel step of a :class:`~nasrl_nb.darts.architect.BilevelOptimizer` and shows its terms:
the architecture gradient (and in second order its direct part and ``-xi * H v``), the
alpha step, the weight step. Both only wire buttons to :mod:`nasrl_nb.viz.darts_plots`.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as W

from ..viz.darts_plots import plot_arch_gradient
from ..viz.drawing import figure_to_png
from .common import image, report_errors, start_thread
from .darts_panels import darts_warnings, render_darts_panels
from .panels import RunState


class DartsMonitor:
    """Live view of a DARTS search: heat map, derived cell, collapse plot and warning.

    Args:
        search: a :class:`~nasrl_nb.run.loop.Search` whose strategy is a DARTS strategy.

    ``step_button`` runs one search epoch; ``run_button`` runs to the budget in a thread
    (``stop_button`` ends it after the current epoch); :meth:`refresh` redraws from the
    search's steps and history. ``warning.value`` holds the collapse warning (empty without one).
    The panels are the DARTS panels of the :class:`~.dashboard.SearchDashboard`
    (:mod:`.darts_panels`), which shows them too, beside its own.
    """

    def __init__(self, search):
        if getattr(search.strategy, "method", None) != "darts":
            raise ValueError(f"search: expected a DARTS search (method darts), got method {search.method!r}")
        self.search = search
        self.output = W.Output()
        self.heatmap, self.cell, self.collapse = image(), image(), image()
        self.warning = W.HTML("")
        self.status = W.HTML("")
        self.step_button = W.Button(description="Step (1 epoch)")
        self.run_button = W.Button(description="Run")
        self.stop_button = W.Button(description="Stop")
        self.step_button.on_click(report_errors(self.output)(lambda _: self.step()))
        self.run_button.on_click(report_errors(self.output)(lambda _: self.start()))
        self.stop_button.on_click(report_errors(self.output)(lambda _: self.search.stop()))
        self._thread: threading.Thread | None = None
        self.widget = W.VBox([
            W.HBox([self.step_button, self.run_button, self.stop_button, self.status]),
            self.warning,
            W.HBox([self.heatmap, self.cell]),
            self.collapse,
            self.output,
        ])
        self.refresh()

    def step(self) -> None:
        """One search epoch, then a redraw."""
        if not self.search.done:
            self.search.step()
        self.refresh()

    def start(self) -> threading.Thread:
        """Run the rest of the budget in a background thread, redrawing after every epoch."""
        if self._thread is not None and self._thread.is_alive():
            return self._thread
        self._thread = start_thread(report_errors(self.output)(lambda: self.search.run(callback=lambda _: self.refresh())),
                                    "darts-monitor")
        return self._thread

    def refresh(self) -> None:
        """Redraw every panel from the search's committed epochs."""
        state = RunState.from_search(self.search)
        self.status.value = f"epoch {self.search.evaluations} of {self.search.budget}"
        pngs = render_darts_panels(state)
        for name, widget in (("alphas", self.heatmap), ("derived_cell", self.cell), ("collapse", self.collapse)):
            if name in pngs:
                widget.value = pngs[name]
        warnings = darts_warnings(state)
        self.warning.value = "".join(f"<b style='color:#c00'>{html.escape(w)}</b>" for w in warnings)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class BilevelStepThrough:
    """One bilevel step of ``optimizer`` on ``(train_batch, val_batch)``, term by term.

    ``next_button`` runs the next step (:meth:`BilevelOptimizer.traced_step`); the panels
    show the architecture gradient (second order: its direct part and ``-xi * H v`` too),
    the change of the mixing weights, and the weight step's statistics in ``text``.
    """

    def __init__(self, optimizer, batches):
        self.optimizer = optimizer
        self.batches = iter(batches)
        self.output = W.Output()
        self.gradient, self.terms, self.change = image(), image(), image()
        self.text = W.HTML("")
        self.next_button = W.Button(description="Next bilevel step")
        self.next_button.on_click(report_errors(self.output)(lambda _: self.next()))
        self.trace: dict | None = None
        self.widget = W.VBox([self.next_button, self.text, W.HBox([self.gradient, self.terms]), self.change, self.output])

    def next(self) -> dict:
        """Run one traced step on the next pair of batches; redraw; return the trace."""
        train_batch, val_batch = next(self.batches)
        stats, trace = self.optimizer.traced_step(train_batch, val_batch)
        net = self.optimizer.supernet
        kind = next(iter(net.arch_weights()))
        ops, names = net.op_names, net.edge_names()[kind]
        self.gradient.value = figure_to_png(plot_arch_gradient(trace["grad_alpha"][0], ops, edge_names=names,
                                                               title="1. architecture gradient ∇α"), dpi=80)
        if trace["hvp"] is not None:
            self.terms.value = figure_to_png(plot_arch_gradient(
                -trace["xi"] * trace["hvp"][0], ops, edge_names=names, title="second-order term −ξ·Hv"), dpi=80)
        before = trace["alphas_before"][0].softmax(-1)
        after = trace["alphas_after"][0].softmax(-1)
        self.change.value = figure_to_png(plot_arch_gradient(after - before, ops, edge_names=names,
                                                             title="2. change of softmax(α) by the architecture step"), dpi=80)
        rows = "".join(f"<tr><td>{k}</td><td>{v:.4g}</td></tr>" for k, v in stats.to_dict().items() if v is not None)
        self.text.value = (f"<table>{rows}<tr><td>3. weight step ‖Δw‖</td><td>{trace['w_change_norm']:.4g}</td></tr></table>")
        self.trace = trace
        return trace

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
