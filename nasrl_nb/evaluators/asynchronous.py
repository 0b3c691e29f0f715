"""Asynchronous updates: learn from the first children back while the others still train.

Zoph & Le (2017, Sec. 3.2) ran controller replicas that updated a parameter server as soon
as their children returned, without waiting for the slowest child of a batch; regularized
evolution (Real et al. 2019, Sec. 2 and its asynchronous workers) replaces a population
member as each child returns. :class:`AsyncBatches` gives a :class:`~nasrl_nb.run.loop.Search`
those batches through the evaluator's ``submit`` / ``next_results`` calls, so it works with
every evaluator -- serially (nothing runs in the background: the same batches as a
synchronous search), on worker processes or on Ray:

1. keep ``max(workers, update_size)`` children in flight: propose only what tops them up,
   within the budget;
2. wait until ``update_size`` records have arrived (the rest keep training) and hand them to
   the update in the order they arrived;
3. each record's **staleness** is the number of policy updates between the one that proposed
   it and the one that learns from it (0 in a synchronous search).

The children still in flight when a step is committed are part of the committed state (and of
the checkpoint): a step that is interrupted cancels what is in flight and the next step
resubmits the committed ones (the evaluator's cache answers those that had finished). The
order in which children finish depends on timing, so an asynchronous run with parallel
workers is not repeatable bit for bit; with a serial evaluator it is.
"""

from __future__ import annotations

from ..spaces.registry import architecture_from_json
from ..spaces.search_space import Architecture
from .base import Evaluator


class AsyncBatches:
    """Children in flight between the updates of an asynchronous search.

    Args:
        evaluator: any :class:`~nasrl_nb.evaluators.base.Evaluator` (``submit``/``next_results``).
        update_size: records per update (K).
    """

    def __init__(self, evaluator: Evaluator, *, update_size: int):
        self.evaluator = evaluator
        self.update_size = update_size
        self.in_flight = max(int(getattr(evaluator, "workers", 1)), update_size)
        self._committed: list[tuple[Architecture, int]] = []  # (arch, version that proposed it), as of the last commit
        self._unsent: list[tuple[Architecture, int]] = []  # to submit at the next step
        self._flight: dict[int, tuple[Architecture, int]] = {}  # ticket -> (arch, version)
        self._arrived: list[tuple[Architecture, int, dict]] = []  # back, not yet used by an update

    @property
    def held(self) -> int:
        """Children proposed and not yet used by an update."""
        return len(self._unsent) + len(self._flight) + len(self._arrived)

    def wanted(self, remaining: int) -> int:
        """How many architectures to propose now: enough to fill the workers, never past the budget."""
        return max(0, min(self.in_flight - self.held, remaining - self.held))

    def next_batch(self, proposed: list[Architecture], version: int) -> tuple[list[Architecture], list[dict]]:
        """Submit ``proposed`` (made by policy ``version``); wait for up to ``update_size`` records.

        Returns the architectures and records in the order they came back; each record has
        ``staleness = version - the version that proposed it``.
        """
        self._unsent.extend((arch, version) for arch in proposed)
        for arch, made_by in self._unsent:
            self._flight[self.evaluator.submit(arch)] = (arch, made_by)
        self._unsent = []
        wanted = min(self.update_size, len(self._flight) + len(self._arrived))
        while len(self._arrived) < wanted:
            for ticket, record in self.evaluator.next_results():
                arch, made_by = self._flight.pop(ticket)
                self._arrived.append((arch, made_by, record))
        batch, self._arrived = self._arrived[:wanted], self._arrived[wanted:]
        return [arch for arch, _, _ in batch], [{**record, "staleness": version - made_by} for _, made_by, record in batch]

    def commit(self) -> None:
        """What is in flight now belongs to the committed state."""
        self._committed = [*self._flight.values(), *((arch, made_by) for arch, made_by, _ in self._arrived)]

    def rollback(self) -> None:
        """Cancel what is in flight; the next step resubmits the children of the last commit."""
        self.evaluator.cancel()
        self._flight.clear()
        self._arrived.clear()
        self._unsent = list(self._committed)

    def state_dict(self) -> list:
        """The committed children in flight as plain JSON (for the checkpoint)."""
        return [[arch.to_json(), made_by] for arch, made_by in self._committed]

    def load_state_dict(self, state: list) -> None:
        self._committed = [(architecture_from_json(text), int(made_by)) for text, made_by in state]
        self._unsent = list(self._committed)
        self._flight.clear()
        self._arrived.clear()
