"""SearchDashboard: watch, pause, step, steer and stop a real search from a notebook.

The kernel stays responsive while the search runs, so Stop works mid-search. In a Jupyter
kernel the search runs cooperatively on the kernel's event loop, yielding between steps
so that button clicks are handled; elsewhere it runs in a background thread (with one
torch thread) and a second thread redraws. Neither calls ``display()`` or writes to an
``Output`` with ``with``: they only set widget values (PNG bytes, HTML, progress).
Redraws are throttled to a share of the wall time (see ``BENCHMARKS.md``). A shared-weight
search (ENAS, random_ws) gets the panels of :mod:`.enas_panels` as well, a DARTS search those
of :mod:`.darts_panels` (:mod:`.run_panels` says which). :meth:`SearchDashboard.from_settings`
adds a first row to choose the method, the controller, epsilon-greedy, a growing curriculum
and the reward (:class:`~.method_picker.MethodPicker`); a new choice builds a new search before Start.
"""

from __future__ import annotations

import asyncio
import html
import threading
import time
from pathlib import Path

import ipywidgets as W

from ..strategies import hooks
from .common import Throttle, image, report_errors, start_thread
from .enas_panels import default_benchmark, uses_shared_weights
from .method_picker import MethodPicker
from .panels import RunState
from .run_panels import panel_names, render_run, run_warnings


class SearchDashboard:
    """Live views of ``search`` with Start / Pause / Step / Stop / Export and policy sliders.

    Args:
        search: a :class:`nasrl_nb.run.loop.Search` (any strategy; the sliders act on RL ones).
        max_redraws_per_second: throttle for the live redraws (the final state is always drawn).
        max_render_share: the most of the wall time that live redraws may take (they share
            the CPU and the GIL with the search); 5% keeps the dashboard's cost under 10%.
        export_path: where the Export button writes the best architecture as PyTorch code.
        cooperative: in a Jupyter kernel, run the search on the kernel's event loop between
            button clicks (the default: the search keeps the kernel's torch threads and
            the GIL to itself) rather than in a background thread.
        benchmark: for a shared-weight search, the :class:`~nasrl_nb.bench.tabular.TabularBenchmark`
            whose accuracies the shared-weight scatter plots against (None: the shipped
            table of the search's dataset, digits-cell or mnist1d-cell, for the cell space, else no scatter).
        picker: a :class:`~.method_picker.MethodPicker` whose choice rebuilds the search
            (see :meth:`from_settings`); None: the dashboard shows ``search`` only.
    """

    def __init__(self, search, *, max_redraws_per_second: float = 1.0, max_render_share: float = 0.05,
                 export_path="best_architecture.py", cooperative: bool = True, benchmark=None,
                 picker: MethodPicker | None = None):
        self.cooperative = cooperative
        self.picker = picker
        self._given_benchmark = benchmark
        self._task = None
        self._handoff = False
        self._throttle = Throttle(max_redraws_per_second, max_render_share)
        self._thread: threading.Thread | None = None
        self._active = False  # the search thread is between its start and its final redraw
        self._dirty = threading.Event()
        self._draw_lock = threading.Lock()
        self._renderer: threading.Thread | None = None
        self.redraws = 0
        self.output = W.Output(layout=W.Layout(max_height="160px", overflow="auto"))
        safe = report_errors(self.output)
        self.stopped = False
        self.status = W.HTML().add_class("nasrl-status")
        self.warnings = W.HTML()
        self.progress = W.IntProgress(min=0, max=search.budget, description="evaluated")
        self.grid = W.GridBox(layout=W.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))", grid_gap="6px"))
        self.buttons = {
            name: W.Button(description=name.capitalize(), icon=icon, layout=W.Layout(width="90px"))
            for name, icon in (("start", "play"), ("pause", "pause"), ("step", "step-forward"),
                               ("stop", "stop"), ("export", "download"))
        }
        for name, button in self.buttons.items():
            button.on_click(safe(getattr(self, f"_on_{name}")))
        self.export_path = W.Text(value=str(export_path), description="export to", layout=W.Layout(width="320px"))
        self._quiet = False  # set while the dashboard itself moves a slider or a menu
        self.sliders = self._make_sliders()
        self.settings = W.HTML()  # the batch size and optimiser in force, and which came from a rule
        for name, slider in self.sliders.items():
            slider.observe(safe(lambda change, name=name: self._on_slider(name, change["new"])), names="value")
        if picker is not None:
            picker.observe(safe(self._on_pick))
        self._attach(search)
        self.widget = self._layout()
        self.refresh()

    @classmethod
    def from_settings(cls, method: str = "reinforce", space=None, dataset=None, *, evaluator=None,
                      controller: str = "lstm", epsilon: float = 0.0, curriculum: bool = False,
                      reward: str = "accuracy", max_redraws_per_second: float = 1.0,
                      max_render_share: float = 0.05, export_path="best_architecture.py", cooperative: bool = True,
                      benchmark=None, **settings) -> SearchDashboard:
        """A dashboard with a method menu: choose the method, the controller, epsilon-greedy, the
        curriculum and the reward, then Start.

        ``method``, ``space``, ``dataset``, ``evaluator``, ``controller``, ``epsilon``,
        ``curriculum``, ``reward`` and ``settings`` (budget, seed, ...) are
        :func:`~nasrl_nb.assembly.factory.make_search`'s; the menu offers every method that runs
        on this space and evaluator (RL optimisers, random, evolution, bandits; ENAS and
        random_ws with their own supernet; DARTS where the space has a relaxed supernet), the
        curriculum checkbox is enabled where it runs (the macro space, reinforce/ppo/a2c/trpo).
        Changing a menu between runs builds a fresh search; while one runs the menus are
        disabled. Progress bars are off unless ``progress=True``.
        """
        settings.setdefault("progress", False)
        picker = MethodPicker(space=space, dataset=dataset, evaluator=evaluator, method=method,
                              controller=controller, epsilon=epsilon, curriculum=curriculum, reward=reward, **settings)
        return cls(picker.build(), max_redraws_per_second=max_redraws_per_second, max_render_share=max_render_share,
                   export_path=export_path, cooperative=cooperative, benchmark=benchmark, picker=picker)

    # --- layout ------------------------------------------------------------------------------
    def _make_sliders(self) -> dict[str, W.Widget]:
        style = {"description_width": "110px"}
        sliders = {
            "lr": W.FloatLogSlider(value=1e-3, base=10, min=-5, max=-0.5, step=0.1,
                                   description="controller lr", readout_format=".1e", style=style),
            "entropy_weight": W.FloatSlider(value=0.0, min=0.0, max=0.1,
                                            step=1e-3, description="entropy weight", readout_format=".3f", style=style),
            "temperature": W.FloatSlider(value=1.0, min=0.2, max=5.0, step=0.1,
                                         description="temperature", style=style),
        }
        for slider in sliders.values():
            slider.continuous_update = False
        return sliders

    def _attach(self, search) -> None:
        """Show ``search``: its panels (by method), its policy settings on the sliders, its progress."""
        self.search = search
        self.stopped = False
        self.shared_weights = uses_shared_weights(search)
        self.benchmark = None
        if self.shared_weights:
            dataset = getattr(getattr(getattr(search, "config", None), "data", None), "dataset", None)
            if dataset is None:  # a Dataset object handed to make_search: its own name (digits, mnist1d, ...)
                dataset = getattr(getattr(search.evaluator, "data", None), "name", None)
            self.benchmark = default_benchmark(search.space, dataset) if self._given_benchmark is None else self._given_benchmark
        self.panel_names = panel_names(search.method, shared_weights=self.shared_weights, benchmark=self.benchmark)
        self.images = {name: image().add_class(f"nasrl-{name}") for name in self.panel_names}
        self.grid.children = [self.images[name] for name in self.panel_names]
        tunable = hooks.is_tunable(search.strategy)  # the optional hook; a strategy without it gets no sliders
        current = search.hyperparameters() if tunable else {}
        self._quiet = True
        try:
            for name, slider in self.sliders.items():
                if name in current:
                    slider.value = current[name]
                slider.disabled = name not in current
        finally:
            self._quiet = False
        self.progress.max = search.budget
        self.progress.value = search.evaluations
        self.settings.value = settings_line(search)

    def _layout(self) -> W.Widget:
        controls = W.HBox([*self.buttons.values(), self.progress])
        rows = [] if self.picker is None else [self.picker.widget]
        return W.VBox([*rows, controls, W.HBox(list(self.sliders.values())), self.settings, self.export_path, self.status,
                       self.warnings, self.grid, self.output])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # --- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        """Run the search to the end of its budget without blocking the notebook.

        In a Jupyter kernel the search runs cooperatively on the kernel's event loop: one
        step, then a pause for button clicks and a throttled redraw, then the next step.
        Elsewhere (or with ``cooperative=False``) it runs in a background thread.
        """
        if self.running:
            self.search.resume()
            return
        loop = _running_loop() if self.cooperative else None
        if loop is None:
            self._launch(self._run_all)
            return
        self.stopped, self._active, self._handoff = False, True, False
        self._task = loop.create_task(self._run_cooperatively())
        self._set_status("running")

    def step(self) -> None:
        """Run exactly one step in a background thread (no-op while the search is running)."""
        if not self.running and not self.search.done:
            self._launch(self._run_one)

    def pause(self) -> None:
        self.search.pause()
        self._set_status("paused")

    def stop(self) -> None:
        """Stop after the current step; what was evaluated stays in the history/checkpoint."""
        if self._thread is not None and self._thread.is_alive():
            self.search.stop()
        self.stopped = True
        self._set_status("stopping after the current step…")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (a notebook under test must not move on mid-search).

        A cooperative run cannot progress while a cell blocks the kernel's event loop, so
        ``wait`` takes it over and finishes it here (``timeout`` then does not apply).
        """
        if self._task is not None and not self._task.done():
            self._handoff = True  # the task leaves at its next turn; this call runs the rest
            self._cooperative_steps()
            self._finish()
            return True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._renderer is not None:
            self._renderer.join(timeout)
        return not self.running

    def _launch(self, target) -> None:
        self.stopped = False
        self._active = True
        self._thread = start_thread(target, "nasrl-search")
        if self._renderer is None or not self._renderer.is_alive():
            self._renderer = threading.Thread(target=self._render_loop, name="nasrl-render", daemon=True)
            self._renderer.start()
        self._set_status("running")

    async def _run_cooperatively(self) -> None:
        """Steps on the event loop, yielding between them so that clicks are handled."""
        try:
            while not self._handoff and self._cooperative_step():
                await asyncio.sleep(0.1 if self.search.paused else 0)
        except Exception:
            self.output.append_stderr(_traceback())
        finally:
            if not self._handoff:
                self._finish()

    def _cooperative_step(self) -> bool:
        """One step (unless paused) and a throttled redraw; False once the run is over."""
        if self.search.done or self.stopped:
            return False
        if not self.search.paused:
            self.search.step()
            if self._throttle.ready():
                start = time.monotonic()
                self._safe_refresh()
                self._throttle.done(time.monotonic() - start)
        return True

    def _cooperative_steps(self) -> None:
        self.search.resume()
        try:
            while self._cooperative_step():
                pass
        except Exception:
            self.output.append_stderr(_traceback())

    def _render_loop(self) -> None:
        """Redraw when a step has landed, at most ``max_redraws_per_second``.

        Drawing happens here, not in the search thread, so a slow redraw never holds a step
        up; the search thread only raises the ``_dirty`` flag.
        """
        while self._active:
            if not self._dirty.wait(timeout=0.2):
                continue
            while self._active and not self._throttle.ready():
                time.sleep(0.05)
            self._dirty.clear()
            if self._active:
                start = time.monotonic()
                self._safe_refresh()
                self._throttle.done(time.monotonic() - start)

    def _run_all(self) -> None:
        def steps():
            for _ in self.search:
                self._dirty.set()  # the render thread redraws when the throttle allows

        self._guarded(steps)

    def _run_one(self) -> None:
        self._guarded(self.search.step)

    def _guarded(self, work) -> None:
        """Run ``work`` in the search thread: errors go to the output, the end is always drawn."""
        try:
            work()
        except Exception:
            self.output.append_stderr(_traceback())
        finally:
            self._finish()

    def _finish(self) -> None:
        self._active = False
        self._dirty.set()
        self._safe_refresh()

    def _safe_refresh(self) -> None:
        try:
            self.refresh()
        except Exception:
            self.output.append_stderr(_traceback())

    # --- drawing --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw every panel from the search's current state (cheap; also called by the thread)."""
        with self._draw_lock:  # a late background redraw must not overwrite a newer one
            search, images = self.search, self.images
            state = RunState.from_search(search)
            pngs = render_run(state, tuple(images), benchmark=self.benchmark)
            for name, png in pngs.items():
                images[name].value = png
        self.progress.max = search.budget
        self.progress.value = search.evaluations
        self.warnings.value = "".join(
            f"<div style='color:#b35900'>⚠ {html.escape(m)}</div>" for m in run_warnings(state)
        )
        self.redraws += 1
        self._set_status(self.state())

    def state(self) -> str:
        """One word for the run: running, paused, done, stopped or ready."""
        if self.search.done:
            return "done"
        if self.running:
            return "stopping" if self.stopped else "paused" if self.search.paused else "running"
        return "stopped" if self.stopped else "ready"

    def _set_status(self, what: str) -> None:
        if self.picker is not None:
            self.picker.set_enabled(not self.running)
        best = self.search.best
        best_text = "no child yet" if best is None else (  # the reward's choice (Search.best), not the most accurate
            f"best reward {_number(best.get('reward'))}, val acc {_number(best['val_accuracy'])} "
            f"(test {_number(best.get('test_accuracy'))}): <code>{html.escape(best['arch'])}</code>")
        self.status.value = (f"<b>{html.escape(self.search.method)}</b> — {what} — "
                             f"{self.search.evaluations}/{self.search.budget} evaluated — {best_text}")

    # --- callbacks ---------------------------------------------------------------------------------
    def _on_start(self, _):
        self.start()

    def _on_pause(self, _):
        self.pause()

    def _on_step(self, _):
        self.step()

    def _on_stop(self, _):
        self.stop()

    def _on_export(self, _):
        path = self.export()
        self._set_status(f"exported the best architecture to {html.escape(str(path))}")

    def _on_slider(self, name: str, value: float) -> None:
        if not self._quiet:
            self.search.set_hyperparameters(**{name: value})

    def _on_pick(self, change) -> None:
        """A new method, controller, epsilon, curriculum or reward: build its search and show it
        (never mid-run; a change made in code to a disabled control is undone and refused)."""
        if self._quiet:
            return
        owner = change["owner"]
        refusal = ("cannot change while the search runs; stop it first" if self.running
                   else self.picker.refusal(owner, change["new"]))
        if refusal is not None:
            self._undo(owner, change["old"])  # the control is disabled; undo the change made in code
            raise ValueError(f"{self.picker.field(owner)}: {refusal}")
        try:
            search = self.picker.build()
        except ValueError:
            self._undo(owner, change["old"])  # make_search refused the combination: keep showing the search that runs
            raise
        self.use(search)

    def _undo(self, widget, old) -> None:
        self._quiet = True
        try:
            widget.value = old
        finally:
            self._quiet = False

    def use(self, search) -> None:
        """Show ``search`` instead of the current one (not while one runs); Start runs it."""
        if self.running:
            raise ValueError("search: cannot replace the search while it runs; stop it first")
        self._attach(search)
        self.refresh()

    def export(self, path=None) -> Path:
        """Write the search's result so far (its method's rule: best reward, DARTS's last derived
        cell, ENAS's derived architecture) as standalone PyTorch source; returns the path."""
        from ..assembly.result import SearchResult

        path = Path(path or self.export_path.value)
        SearchResult.from_search(self.search).to_pytorch(path)  # never replaces a file it did not write
        return path


def _running_loop():
    """The event loop running in this thread (a Jupyter kernel's), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _number(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


def _traceback() -> str:
    import traceback

    return traceback.format_exc()


def settings_line(search) -> str:
    """The batch size and the controller's optimiser in force, saying which value a rule chose (HTML)."""
    config = getattr(search, "config", None)
    rules = getattr(config, "rules", None) or {}
    batch = f"batch {search.batch_size}" + (f" (rule: {html.escape(rules['batch_size'])})" if "batch_size" in rules else "")
    trainer = getattr(search.strategy, "trainer", None)
    optimizer = getattr(trainer, "optimizer_name", None)
    policy = "" if optimizer is None else f"; controller: {optimizer} at lr {trainer.lr:g}"
    return f"<small>{batch}{policy}</small>"
