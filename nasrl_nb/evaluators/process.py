"""Parallel evaluators: train a batch of children at once, on local processes (or Ray).

Zoph & Le (2017, Sec. 3.2) trained hundreds of children at once on a pool of workers; the
controller never knew where a child trained. Here too: a :class:`ParallelEvaluator` wraps
a serial evaluator (usually a :class:`~nasrl_nb.evaluators.base.ChildEvaluator`, which
holds the data and the child settings) and answers the same ``evaluate(architectures)``
and ``submit`` / ``next_results`` calls, so :class:`~nasrl_nb.run.loop.Search` runs
unchanged on one core or many.

1. The wrapped evaluator, with its data moved to the CPU and its cache left behind, is sent
   to each worker once (a process's start-up arguments; Ray's object store). A task carries
   only the architecture's JSON and a ticket.
2. Each child is seeded from ``(seed, arch)`` (:func:`~nasrl_nb.evaluators.base.architecture_seed`),
   so its metrics do not depend on which worker trains it or in which order: on the CPU they
   are bit for bit those of the serial evaluator, because a :class:`~nasrl_nb.evaluators.base.ChildEvaluator`
   trains every child with its own ``threads`` intra-op torch threads (``child.threads`` in
   ``config.json``, default 1) wherever it runs.
3. Faults. A child that raises is a failed record (the wrapped evaluator's rule). A worker
   that dies mid-child (killed, out of memory, a crash in native code) has that child
   retried once on a fresh worker (``retries``), then recorded ``status="failed"`` with the
   reason. Ctrl-C (or a search's Stop between steps) cancels the outstanding children:
   :meth:`ParallelEvaluator.cancel` kills the busy workers, and the search redoes the
   interrupted step when it continues, so nothing committed is lost.
4. The cache is the wrapped evaluator's: a repeated architecture gets its first record with
   ``cached=True``, exactly as the serial evaluator answers it.

:class:`ProcessEvaluator` runs spawned worker processes on this machine (each with the
wrapped evaluator's ``threads``, default 1); :class:`~nasrl_nb.evaluators.ray_evaluator.RayEvaluator` runs Ray tasks, locally or on a
cluster.
"""

from __future__ import annotations

import copy
import multiprocessing
import signal
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_any

from ..spaces.search_space import Architecture
from ..validation import require_positive
from .base import (
    ChildEvaluator,
    Evaluator,
    SerialEvaluator,
    describe_exception,
    failed_record,
)

EVALUATOR_KINDS: tuple[str, ...] = ("serial", "process", "ray")


@dataclass
class WorkerLost:
    """The outcome of an attempt whose worker died before it answered."""

    reason: str


@dataclass
class _Task:
    arch: Architecture
    attempts: int = 0
    followers: list[int] = field(default_factory=list)  # tickets of the same architecture submitted meanwhile


class ParallelEvaluator(Evaluator):
    """Base of the evaluators that train children elsewhere; subclasses supply the workers.

    Args:
        evaluator: a :class:`~nasrl_nb.evaluators.base.SerialEvaluator` (a ``ChildEvaluator``,
            or a ``FunctionEvaluator`` whose function can be pickled); it must be picklable.
        workers: children trained at once.
        retries: how many times a child whose worker died is tried again (then it fails).

    Subclasses implement ``_launch(ticket, arch)``, ``_collect() -> [(ticket, record | WorkerLost)]``
    (blocks until at least one attempt ends), ``_abort(tickets)`` and ``_shutdown()``.
    """

    kind = "parallel"

    def __init__(self, evaluator: SerialEvaluator, *, workers: int = 2, retries: int = 1):
        if not isinstance(evaluator, SerialEvaluator):
            raise ValueError(
                f"evaluator: expected a SerialEvaluator (ChildEvaluator, FunctionEvaluator) to run in parallel, "
                f"got {type(evaluator).__name__}"
            )
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries: must be an integer >= 0, got {retries!r}")
        self.base = evaluator
        self.workers = require_positive("workers", workers, integer=True)
        self.retries = retries
        self._next_ticket = 0
        self._tasks: dict[int, _Task] = {}  # leader ticket -> task (queued or running)
        self._leaders: dict[str, int] = {}  # str(arch) -> leader ticket, while in flight
        self._queued: deque[int] = deque()  # leader tickets not yet started
        self._running: set[int] = set()
        self._ready: list[tuple[int, dict]] = []  # finished, not yet handed out

    # --- the Evaluator interface ----------------------------------------------------------------
    def evaluate(self, architectures: Sequence[Architecture]) -> list[dict]:
        """One record per architecture, in order, trained ``workers`` at a time.

        An exception while waiting (Ctrl-C) cancels the outstanding children and propagates.
        """
        tickets = [self.submit(arch) for arch in architectures]
        wanted = set(tickets)
        records: dict[int, dict] = {}
        others: list[tuple[int, dict]] = []  # results of children submitted before this call
        try:
            while len(records) < len(tickets):
                for ticket, record in self.next_results():
                    if ticket in wanted:
                        records[ticket] = record
                    else:
                        others.append((ticket, record))
        except BaseException:
            self.cancel()
            raise
        self._ready[:0] = others
        return [records[t] for t in tickets]

    def submit(self, arch: Architecture) -> int:
        ticket = self._next_ticket
        self._next_ticket += 1
        key = str(arch)
        cache = self.base.cache
        if cache is not None and key in cache:
            self._ready.append((ticket, {**cache[key], "cached": True}))
        elif key in self._leaders:  # the same child is already training: share its record
            self._tasks[self._leaders[key]].followers.append(ticket)
        else:
            self._tasks[ticket] = _Task(arch)
            self._leaders[key] = ticket
            self._queued.append(ticket)
            self._fill()
        return ticket

    def next_results(self) -> list[tuple[int, dict]]:
        if not self._ready and not self._tasks:
            raise RuntimeError("evaluator: next_results() with nothing submitted")
        while not self._ready:
            for ticket, outcome in self._collect():
                self._running.discard(ticket)
                task = self._tasks[ticket]
                if isinstance(outcome, WorkerLost):
                    if task.attempts <= self.retries:
                        self._queued.appendleft(ticket)  # try again first, on a fresh worker
                        continue
                    outcome = failed_record(f"worker died {task.attempts} times training this child: {outcome.reason}")
                self._finish(ticket, outcome)
            self._fill()
        ready, self._ready = self._ready, []
        return ready

    @property
    def outstanding(self) -> int:
        return len(self._ready) + sum(1 + len(t.followers) for t in self._tasks.values())

    def cancel(self) -> int:
        """Kill the children in flight, drop the queued ones and the unread results; returns how many."""
        dropped = self.outstanding
        running = sorted(self._running)
        if running:
            self._abort(running)
        self._tasks.clear()
        self._leaders.clear()
        self._queued.clear()
        self._running.clear()
        self._ready.clear()
        return dropped

    def close(self) -> None:
        """Cancel what is outstanding and stop the workers (they start again if used later)."""
        self.cancel()
        self._shutdown()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self, arch: Architecture) -> dict | None:
        return self.base.describe(arch)

    def config(self) -> dict:
        return {**self.base.config(), "parallel": self.kind, "workers": self.workers, "retries": self.retries}

    def state_dict(self) -> dict:
        return self.base.state_dict()

    def load_state_dict(self, state: Mapping) -> None:
        self.base.load_state_dict(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.base).__name__}, workers={self.workers})"

    # --- bookkeeping ------------------------------------------------------------------------------
    def _fill(self) -> None:
        """Start queued children while fewer than ``workers`` run."""
        while self._queued and len(self._running) < self.workers:
            ticket = self._queued.popleft()
            self._tasks[ticket].attempts += 1
            self._running.add(ticket)
            try:
                self._launch(ticket, self._tasks[ticket].arch)
            except Exception as err:  # the worker could not even take the task: that child fails
                self._running.discard(ticket)
                self._finish(ticket, failed_record(f"could not start the child: {describe_exception(err)}"))

    def _finish(self, ticket: int, record: dict) -> None:
        task = self._tasks.pop(ticket)
        self._leaders.pop(str(task.arch), None)
        if self.base.cache is not None:
            self.base.cache[str(task.arch)] = dict(record)
        self._ready.append((ticket, {**record, "cached": False}))
        self._ready.extend((t, {**record, "cached": True}) for t in task.followers)

    def worker_copy(self) -> SerialEvaluator:
        """What each worker receives once: the wrapped evaluator without its cache, data on the CPU."""
        clone = copy.copy(self.base)
        clone.cache = None
        if isinstance(clone, ChildEvaluator):
            clone.data = clone.data.to("cpu")  # moved to the child's device inside the worker
        return clone

    # --- the workers (subclasses) -----------------------------------------------------------------------
    def _launch(self, ticket: int, arch: Architecture) -> None:
        raise NotImplementedError

    def _collect(self) -> list[tuple[int, dict | WorkerLost]]:
        raise NotImplementedError

    def _abort(self, tickets: list[int]) -> None:
        raise NotImplementedError

    def _shutdown(self) -> None:
        raise NotImplementedError


def worker_threads(evaluator: SerialEvaluator) -> int:
    """The torch threads a worker runs with: a child evaluator's own ``threads``, else 1."""
    return getattr(evaluator, "threads", 1)


def settle_worker(evaluator: SerialEvaluator, *, threads: int | None = 1) -> SerialEvaluator:
    """In a worker: limit torch to ``threads`` and put a child evaluator's data on its device."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if isinstance(evaluator, ChildEvaluator):
        evaluator.data = evaluator.data.to(evaluator.device)
    return evaluator


def evaluate_in_worker(evaluator: SerialEvaluator, arch_json: str) -> dict:
    """Rebuild the architecture from its JSON and evaluate it; never raises for a failing child."""
    from ..spaces.registry import architecture_from_json

    try:
        return evaluator.evaluate_one(architecture_from_json(arch_json))
    except Exception as err:  # e.g. an evaluator function that raises where evaluate_one does not catch
        return failed_record(describe_exception(err))


def _worker_main(conn, evaluator: SerialEvaluator, threads: int) -> None:
    """A worker process: receive ``(ticket, arch_json)``, send ``(ticket, record)``, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it cancels us
    evaluator = settle_worker(evaluator, threads=threads)
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone
            return
        if message is None:
            return
        ticket, arch_json = message
        conn.send((ticket, evaluate_in_worker(evaluator, arch_json)))


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: object  # the parent's end of the pipe
    ticket: int | None = None  # the child it is training


class ProcessEvaluator(ParallelEvaluator):
    """Train children on ``workers`` local worker processes (``spawn``; the evaluator's threads each).

    Workers start on first use and stay up between steps; each receives the wrapped
    evaluator -- the dataset included -- once, when it starts. The parent knows which child
    every worker trains, so a dead worker costs only its own child one retry.

    Example::

        child = ChildEvaluator(load_dataset("digits"), epochs=1)
        with ProcessEvaluator(child, workers=2) as evaluator:
            records = evaluator.evaluate(space.sample_batch(8))
    """

    kind = "process"

    def __init__(self, evaluator: SerialEvaluator, *, workers: int = 2, retries: int = 1,
                 threads_per_worker: int | None = None, start_method: str = "spawn"):
        super().__init__(evaluator, workers=workers, retries=retries)
        if threads_per_worker is None:  # a child evaluator sets its own count around each child anyway
            threads_per_worker = worker_threads(evaluator)
        self.threads_per_worker = require_positive("threads_per_worker", threads_per_worker, integer=True)
        if start_method not in multiprocessing.get_all_start_methods():
            raise ValueError(f"start_method: {start_method!r} is not allowed here; allowed values: "
                             f"{', '.join(multiprocessing.get_all_start_methods())}")
        self.start_method = start_method
        self._pool: list[_Worker] = []
        self._payload = None  # the worker copy, made once

    def _launch(self, ticket: int, arch: Architecture) -> None:
        for dead in [w for w in self._pool if w.ticket is None and not w.process.is_alive()]:
            self._discard(dead)  # an idle worker that died (killed from outside): start another
        worker = next((w for w in self._pool if w.ticket is None), None) or self._start_worker()
        worker.conn.send((ticket, arch.to_json()))
        worker.ticket = ticket

    def _start_worker(self) -> _Worker:
        ctx = multiprocessing.get_context(self.start_method)
        if self._payload is None:
            self._payload = self.worker_copy()
        parent, child = ctx.Pipe()
        process = ctx.Process(target=_worker_main, args=(child, self._payload, self.threads_per_worker), daemon=True,
                              name=f"nasrl-nb-worker-{len(self._pool)}")
        process.start()
        child.close()
        worker = _Worker(process, parent)
        self._pool.append(worker)
        return worker

    def _collect(self) -> list[tuple[int, dict | WorkerLost]]:
        busy = [w for w in self._pool if w.ticket is not None]
        if not busy:
            raise RuntimeError("ProcessEvaluator: waiting with no child in flight")
        wait_for_any([w.conn for w in busy] + [w.process.sentinel for w in busy])
        outcomes = []
        for worker in busy:
            ticket = worker.ticket
            try:
                if not worker.conn.poll():
                    if worker.process.is_alive():
                        continue
                    raise EOFError
                answered, record = worker.conn.recv()
            except (EOFError, OSError):  # it died before answering
                worker.process.join(timeout=5)
                outcomes.append((ticket, WorkerLost(f"worker process exited with code {worker.process.exitcode}")))
                self._discard(worker)
                continue
            worker.ticket = None
            outcomes.append((answered, record))
        return outcomes

    def _abort(self, tickets: list[int]) -> None:
        for worker in [w for w in self._pool if w.ticket in tickets]:
            worker.process.kill()
            worker.process.join(timeout=5)
            self._discard(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.conn.close()
        self._pool.remove(worker)

    def _shutdown(self) -> None:
        for worker in list(self._pool):
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in list(self._pool):
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            self._discard(worker)

    def config(self) -> dict:
        return {**super().config(), "threads_per_worker": self.threads_per_worker}

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (a fault test kills one)."""
        return [w.process.pid for w in self._pool]
