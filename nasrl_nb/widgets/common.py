"""Helpers shared by the widgets: safe callbacks, throttling, PNG images."""

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
    """True at most ``rate`` times a second: live redraws must not slow the search down."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self._last = -float("inf")
        self._lock = threading.Lock()

    def ready(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._last >= self.interval:
                self._last = now
                return True
            return False


def image(width: str = "100%") -> W.Image:
    """An empty PNG image widget whose ``value`` the views fill."""
    return W.Image(format="png", layout=W.Layout(width=width, max_width="640px", height="auto"))
