"""Steering a search from outside its loop: pause, resume, stop, new hyper-parameters, Ctrl-C.

A dashboard runs a search in a background thread while its buttons and sliders act from
the kernel's thread. :class:`SearchControl` holds what the two threads share, each piece
behind a lock or an event:

* pause / resume: an iteration waits before its next step while paused;
* stop: ends a running iteration after its current step (and does nothing when none runs,
  so a later ``run()`` is not cut short);
* hyper-parameter requests (``lr``, ``entropy_weight``, ``temperature``): checked when they
  are made, applied by the loop at the start of the next step, so that a batch is sampled
  and updated with one setting, and forgotten once the step that applied them commits.

Ctrl-C is held back while a step is committed (:func:`nasrl_nb.interrupts.deferred_interrupt`),
so that a commit is never half done.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..strategies import hooks
from ..strategies.base import SearchStrategy
from ..validation import require_positive


class SearchControl:
    """Pause, stop and hyper-parameter requests shared by a search's loop and other threads."""

    def __init__(self):
        self._lock = threading.Lock()  # guards _iterating and the stop request
        self._iterating = False
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._hparam_lock = threading.Lock()
        self._pending: dict[str, float] = {}

    # --- pause, resume, stop ---------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """End a running iteration after its current step; nothing to do when none runs."""
        with self._lock:
            if self._iterating:
                self._stop.set()
                self._running.set()  # a paused loop wakes up to notice

    @contextmanager
    def iteration(self) -> Iterator[None]:
        """Mark the block as the (only) running iteration; a stop request ends with it."""
        with self._lock:
            if self._iterating:
                raise RuntimeError("search: it is already being iterated (in another thread?)")
            self._iterating = True
            self._stop.clear()
        try:
            yield
        finally:
            with self._lock:
                self._iterating = False
                self._stop.clear()

    def may_continue(self) -> bool:
        """Wait while paused; then False if a stop was requested."""
        while not self._running.wait(timeout=0.1):
            pass
        return not self._stop.is_set()

    # --- hyper-parameter requests ----------------------------------------------------------
    def request(self, strategy: SearchStrategy, **given) -> dict:
        """Check ``lr`` / ``entropy_weight`` / ``temperature`` (None: unchanged) and queue them.

        Returns the changes still pending.
        """
        given = {k: v for k, v in given.items() if v is not None}
        if given and not hooks.is_tunable(strategy):
            name = next(iter(given))
            raise ValueError(f"{name}: the {strategy.method} strategy has no policy to tune; allowed for: "
                             "a strategy with run-time settings (nasrl_nb.strategies.hooks.Tunable)")
        if "lr" in given:
            given["lr"] = float(require_positive("lr", given["lr"]))
        if "temperature" in given:
            given["temperature"] = float(require_positive("temperature", given["temperature"]))
        if "entropy_weight" in given:
            value = given["entropy_weight"]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"entropy_weight: must be a finite number >= 0, got {value!r}")
            given["entropy_weight"] = float(value)
        with self._hparam_lock:
            self._pending.update(given)
            return dict(self._pending)

    def pending(self) -> dict:
        """The requested changes not yet committed (a step applies them before it samples)."""
        with self._hparam_lock:
            return dict(self._pending)

    def hyperparameters(self, strategy: SearchStrategy) -> dict:
        """The strategy's current settings with pending changes on top."""
        with self._hparam_lock:
            return {**hooks.hyperparameters(strategy), **self._pending}

    def applied(self, changes: Mapping) -> None:
        """Forget ``changes`` once the step that applied them is committed (unless re-requested since)."""
        with self._hparam_lock:
            for key, value in changes.items():
                if self._pending.get(key) == value:
                    del self._pending[key]
