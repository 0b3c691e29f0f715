"""Ctrl-C (SIGINT) held back while work that must not be cut in half runs.

Two things need it: a search step's commit (a half-written commit would lose the history)
and PyTorch's own start-up, whose C++ code calls back into Python: a ``KeyboardInterrupt``
raised inside such a callback cannot unwind through C++, and the process aborts
(``terminate called after throwing an instance of 'pybind11::error_already_set'``). So the
command line imports torch under it first, and the package's lazy imports (the first
``from nasrl_nb import ...`` in a notebook) run under it, so that "interrupt kernel" at that
moment stops the cell instead of killing the kernel. This module imports nothing heavy, so
it can guard the import of torch itself.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for the block, then raise it as ``KeyboardInterrupt``.

    Signal handlers can only be changed in the main thread; elsewhere the block runs as is.
    Inside another such block it runs as is too: the outermost block raises, at its end.
    """
    nested = getattr(signal.getsignal(signal.SIGINT), "holds_interrupts", False)
    if nested or threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def hold(signum, frame):
        received.append(signum)

    hold.holds_interrupts = True
    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def import_torch() -> None:
    """Import PyTorch with Ctrl-C held back until it has started (then raised, if pressed)."""
    with deferred_interrupt():
        import torch  # noqa: F401
