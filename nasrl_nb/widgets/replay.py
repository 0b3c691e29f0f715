"""ReplayViewer: scrub through a finished (or interrupted) run directory with a slider."""

from __future__ import annotations

import html

import ipywidgets as W

from ..enas.strategy import ONESHOT_METHODS
from ..run.folder import RunFolder
from .common import image, placeholder_png, report_errors
from .enas_panels import default_benchmark
from .panels import RunState
from .run_panels import panel_names, render_run, run_warnings


class ReplayViewer:
    """The dashboard's views of a run written by ``python -m nasrl_nb search --out DIR``.

    Move the slider to see the state after any update: the architectures sampled so far,
    the policy then, the rewards and the trade-off front. A run folder of any method shows
    the panels the live dashboard showed, from its history and steps alone: ENAS and
    random_ws add the supernet with the sampled subgraph, the shared weights' loss and (with
    a ``benchmark``; default: the shipped table of the run's dataset, digits-cell or
    mnist1d-cell, for the cell space) the
    shared-weight vs true accuracy scatter; DARTS shows the mixing weights' heat map, the
    derived cell and the collapse plot with its warning.
    """

    def __init__(self, run_dir, *, benchmark=None):
        self.state = RunState.load(run_dir)
        if not self.state.history:
            raise ValueError(f"run_dir: {str(run_dir)!r} has an empty history.jsonl; nothing to replay")
        self.shared_weights = self.state.method in ONESHOT_METHODS or self.state.shared_weights
        self.benchmark = None
        if self.shared_weights:
            # a run made from a Dataset object records no dataset name: digits, the default, as before
            dataset = ((RunFolder(run_dir).read_config() or {}).get("data") or {}).get("dataset") or "digits"
            self.benchmark = default_benchmark(self.state.space, dataset) if benchmark is None else benchmark
        self.panel_names = panel_names(self.state.method, shared_weights=self.shared_weights, benchmark=self.benchmark)
        self.output = W.Output()
        self.images = {name: image().add_class(f"nasrl-{name}") for name in self.panel_names}
        self.slider = W.IntSlider(value=self.state.num_steps, min=1, max=self.state.num_steps,
                                  description="after step", continuous_update=False)
        self.table = W.HTML()
        self.warnings = W.HTML()
        self.slider.observe(report_errors(self.output)(lambda change: self.show(change["new"])), names="value")
        grid = W.GridBox([self.images[n] for n in self.panel_names],
                         layout=W.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))", grid_gap="6px"))
        self.widget = W.VBox([self.slider, self.warnings, self.table, grid, self.output])
        self.show(self.state.num_steps)

    def show(self, num_steps: int) -> None:
        """Draw the state after ``num_steps`` updates."""
        state = self.state.upto(num_steps)
        pngs = render_run(state, self.panel_names, benchmark=self.benchmark)
        for name, widget in self.images.items():
            widget.value = pngs.get(name) or placeholder_png(f"no {name} panel at this step")
        self.warnings.value = "".join(
            f"<div style='color:#b35900'>⚠ {html.escape(m)}</div>" for m in run_warnings(state))
        rows = [r for r in state.history if r["step"] == num_steps - 1]
        self.table.value = _table(rows, state.best_record())

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _table(rows: list[dict], best: dict | None) -> str:
    def fmt(value):
        return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))

    cells = "".join(
        f"<tr><td><code>{html.escape(r['arch'])}</code></td><td>{fmt(r['status'])}</td>"
        f"<td>{fmt(r.get('val_accuracy'))}</td><td>{fmt(r.get('reward'))}</td><td>{fmt(r.get('params'))}</td></tr>"
        for r in rows
    )
    head = "<tr><th>architecture</th><th>status</th><th>val acc</th><th>reward</th><th>params</th></tr>"
    best_line = "" if best is None else (
        f"<p>best so far: val acc {fmt(best['val_accuracy'])}, test acc {fmt(best.get('test_accuracy'))} — "
        f"<code>{html.escape(best['arch'])}</code></p>")
    return f"{best_line}<table>{head}{cells}</table>"
