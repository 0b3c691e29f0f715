"""Helpers shared by the widgets: safe callbacks, throttling, PNG images with placeholders."""

from __future__ import annotations

import functools
import threading
import time
import traceback

import ipywidgets as W


def report_errors(output: W.Output):
    """Decorate a callback so that an exception shows in ``output`` instead of vanishing.

    ipywidgets swallows errors raised in ``on_click``/``observe`` handlers (they go to the
    kernel log); a student must see them. ``append_stderr`` sets the Output widget's value,
    which is safe from a background thread, unlike ``with output:``.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def safe(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:
                output.append_stderr(traceback.format_exc())
                return None

        return safe

    return wrap


class Throttle:
    """Paces live redraws: at most ``rate`` a second, and at most ``max_share`` of wall time.

    Drawing runs in the kernel's process and competes with the search for the GIL and the
    cores, so the pause after a redraw grows with what the redraw cost: a redraw that took
    ``d`` seconds is followed by at least ``d * (1 / max_share - 1)`` seconds without one.
    Call :meth:`ready` to ask and :meth:`done` with the redraw's duration.
    """

    def __init__(self, rate: float, max_share: float = 0.05):
        self.interval = 1.0 / rate
        self.max_share = max_share
        self._next = -float("inf")
        self._lock = threading.Lock()

    def ready(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now >= self._next:
                self._next = now + self.interval
                return True
            return False

    def done(self, seconds: float) -> None:
        """Record that a redraw took ``seconds``; the next one waits accordingly."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds * (1.0 / self.max_share - 1.0))


def start_thread(target, name: str, *, torch_threads: int = 1) -> threading.Thread:
    """Run ``target`` in a daemon thread with ``torch_threads`` intra-op threads.

    The thread count is per thread in PyTorch, and a second team of intra-op threads next
    to the kernel's own makes small CPU kernels crawl: a search in a background thread ran
    2-3x slower with 2 torch threads than with 1 on a 2-core machine (see BENCHMARKS.md,
    "Live dashboard overhead").
    """
    import torch

    def run():
        torch.set_num_threads(torch_threads)
        target()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


PLACEHOLDER = "nothing to show yet"


def image(width: str = "100%", placeholder: str = PLACEHOLDER) -> W.Image:
    """A PNG image widget whose ``value`` the views fill; until then it shows ``placeholder``.

    An ``Image`` with an empty value renders as a broken-image icon in the browser, so
    every image starts as a small picture that says what will appear there.
    """
    return W.Image(value=placeholder_png(placeholder), format="png",
                   layout=W.Layout(width=width, max_width="640px", height="auto"))


@functools.lru_cache(maxsize=32)
def placeholder_png(text: str) -> bytes:
    """A light 480x40 px PNG with ``text`` in grey italics (cached: drawn once per text)."""
    from matplotlib.figure import Figure

    from ..viz.drawing import figure_to_png

    fig = Figure(figsize=(6, 0.5))
    fig.text(0.5, 0.5, text, ha="center", va="center", color="#777777", fontsize=11, style="italic")
    return figure_to_png(fig, dpi=80)
