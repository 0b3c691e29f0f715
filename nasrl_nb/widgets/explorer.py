"""SpaceExplorer: pick each decision from a dropdown and see the architecture and its cost."""

from __future__ import annotations

import html
import threading

import ipywidgets as W

from .common import image, report_errors, start_thread


class SpaceExplorer:
    """Dropdowns for every decision of ``space``; the drawing, params, FLOPs and latency follow.

    The Train button trains the shown architecture on ``data`` (a ``Dataset``) in a
    background thread and draws its training curve.
    """

    def __init__(self, space, data=None, *, epochs: int = 3, arch=None, child_kwargs=None):
        self.space = space
        self.data = data
        self.epochs = epochs
        self.child_kwargs = dict(child_kwargs or {})
        self.output = W.Output()
        safe = report_errors(self.output)
        arch = arch or space.sample(0)
        # every label in full ("layer_0.normalization"), all of one width so the menus line up
        label = f"{max(len(d.name) for d in space.decisions) + 2}ch"
        self.dropdowns = [
            W.Dropdown(options=list(d.choices), value=c, description=d.name,
                       style={"description_width": label}, layout=W.Layout(width=f"calc({label} + 170px)"))
            for d, c in zip(space.decisions, arch.choices)
        ]
        for dropdown in self.dropdowns:
            dropdown.observe(safe(lambda _change: self.update()), names="value")
        self.picture = image()
        self.metrics = W.HTML()
        self.curve = image(placeholder="press Train to draw the training curve" if data is not None
                           else "pass a Dataset to train this architecture")
        self.train_button = W.Button(description="Train", icon="play", disabled=data is None)
        self.train_button.on_click(safe(lambda _b: self.train()))
        self._thread: threading.Thread | None = None
        self.result = None
        controls = W.VBox(self.dropdowns, layout=W.Layout(max_height="420px", overflow="auto"))
        self.widget = W.VBox([W.HBox([controls, W.VBox([self.picture, self.metrics, self.train_button])]),
                              self.curve, self.output])
        self.update()

    @property
    def architecture(self):
        return self.space.from_choices([d.value for d in self.dropdowns])

    def _network(self):
        from ..nn.child_network import ChildNetwork

        shape = self.data.input_shape if self.data is not None else (1, 8, 8)
        classes = self.data.num_classes if self.data is not None else 10
        return ChildNetwork(self.architecture, shape, classes, **self.child_kwargs)

    def update(self) -> dict:
        """Redraw for the current dropdown values; returns the complexity metrics shown."""
        from ..viz.drawing import draw_architecture, figure_to_png

        arch = self.architecture
        self.picture.value = figure_to_png(draw_architecture(arch), dpi=80)
        metrics = self._network().get_complexity_metrics()
        self.metrics.value = (f"<b>{metrics['params']:,}</b> parameters · <b>{metrics['flops']:,}</b> FLOPs · "
                              f"<b>{metrics['latency_ms']:.2f}</b> ms latency<br><code>{html.escape(str(arch))}</code>")
        self.current_metrics = metrics
        return metrics

    def train(self) -> None:
        """Train the shown architecture in a background thread (the kernel stays free)."""
        if self.data is None or (self._thread is not None and self._thread.is_alive()):
            return
        self.train_button.disabled = True
        self._thread = start_thread(self._train, "nasrl-train")

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _train(self) -> None:
        from ..nn.training import train_and_evaluate
        from ..viz.drawing import figure_to_png
        from ..viz.views import plot_training_curve

        try:
            self.result = train_and_evaluate(self._network(), self.data, epochs=self.epochs, seed=0)
            self.curve.value = figure_to_png(plot_training_curve(self.result), dpi=80)
            self.metrics.value += (f"<br>trained {self.epochs} epochs: {self.result.status}, val acc "
                                   f"{self.result.val_accuracy:.3f}, test acc {self.result.test_accuracy:.3f}")
        except Exception:
            import traceback

            self.output.append_stderr(traceback.format_exc())
        finally:
            self.train_button.disabled = False

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
