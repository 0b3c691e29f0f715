"""Train children as Ray tasks: on this machine's cores, its GPUs, or a whole cluster.

Zoph & Le (2017, Sec. 3.2) spread their children over hundreds of GPUs. Ray
(``pip install "nasrl-nb[ray]"``) is an existing engine for exactly that, so nothing here
schedules work by itself:

1. Ray starts with the first batch: ``ray.init(address=ray_address)`` joins a running
   cluster; without an address a local Ray with ``workers`` CPUs (and this machine's GPUs)
   starts, and :meth:`RayEvaluator.close` stops it again. A Ray already started in this
   process (``ray.init(...)`` in a notebook or a test) is used as it is and left running.
2. The wrapped evaluator -- the dataset and the child settings -- is put in Ray's object
   store once (``ray.put``); each worker process fetches it the first time it trains a child.
   A task carries the architecture's JSON only.
3. Each task asks for one CPU and, when children train on CUDA, a share of a GPU
   (``gpus_per_child``, default: the cluster's GPUs divided among ``workers``), so several
   small children share one card.
4. At most ``workers`` tasks are in flight; a task whose worker dies is resubmitted once
   (``retries``), a child that raises is a failed record, :meth:`~RayEvaluator.cancel`
   cancels the tasks in flight (``ray.cancel(force=True)``).

``import nasrl_nb`` never imports Ray; this module imports it when the first child is
submitted.
"""

from __future__ import annotations

import logging

import torch

from ..spaces.search_space import Architecture
from .base import ChildEvaluator, SerialEvaluator, describe_exception
from .process import (
    ParallelEvaluator,
    WorkerLost,
    evaluate_in_worker,
    settle_worker,
    worker_threads,
)

_WORKER_EVALUATORS: dict[str, SerialEvaluator] = {}  # in a Ray worker: object id -> settled evaluator


def import_ray():
    """``ray``, or a clear ImportError telling how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ImportError('the Ray evaluator needs Ray: pip install "nasrl-nb[ray]" (or pip install "ray>=2.9")') from err
    return ray


def start_local_ray(*, num_cpus: int, num_gpus: int | None = None, attempts: int = 2, **options) -> None:
    """``ray.init`` a local Ray, trying again once: on a loaded machine its node may miss Ray's 30 s start-up window."""
    ray = import_ray()
    # Ray's start-up notes go to stderr, which a notebook shows as an error: keep only errors
    options = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR, **options}
    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, **options)
            return
        except Exception:  # Ray raises a bare Exception when its node times out during start-up
            ray.shutdown()
            if attempt == attempts:
                raise


def _ray_child(holder: list, arch_json: str) -> dict:
    """A Ray task: the evaluator (fetched once per worker process) trains one child."""
    ray = import_ray()
    ref = holder[0]  # wrapped in a list so that Ray hands over the reference, not a fresh copy per task
    key = ref.hex()
    if key not in _WORKER_EVALUATORS:
        _WORKER_EVALUATORS.clear()  # one search at a time per worker process
        evaluator = ray.get(ref)
        _WORKER_EVALUATORS[key] = settle_worker(evaluator, threads=worker_threads(evaluator))
    return evaluate_in_worker(_WORKER_EVALUATORS[key], arch_json)


class RayEvaluator(ParallelEvaluator):
    """Train children as Ray tasks, ``workers`` at a time (see the module docstring).

    Args:
        evaluator: the wrapped :class:`~nasrl_nb.evaluators.base.SerialEvaluator`.
        workers: tasks in flight at once (and the CPUs of a local Ray).
        ray_address: a cluster to join (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
            None starts a local Ray.
        gpus_per_child: the GPU share of one task; None: when children train on CUDA, the
            cluster's GPUs divided among ``workers`` (at most 1), else 0.
        retries: resubmissions of a task whose worker died.
        runtime_env: Ray's ``runtime_env`` for a cluster whose nodes lack nasrl-nb, e.g.
            ``{"pip": ["nasrl-nb"]}`` or ``{"py_modules": [nasrl_nb]}``.
    """

    kind = "ray"

    def __init__(self, evaluator: SerialEvaluator, *, workers: int = 2, ray_address: str | None = None,
                 gpus_per_child: float | None = None, retries: int = 1, runtime_env: dict | None = None):
        super().__init__(evaluator, workers=workers, retries=retries)
        if ray_address is not None and (not isinstance(ray_address, str) or not ray_address.strip()):
            raise ValueError(f"ray_address: expected an address such as 'auto' or 'ray://host:10001', or None, got {ray_address!r}")
        if gpus_per_child is not None and (isinstance(gpus_per_child, bool) or not isinstance(gpus_per_child, (int, float))
                                           or not 0 <= gpus_per_child <= 1):
            raise ValueError(f"gpus_per_child: must be a number in [0, 1] or None, got {gpus_per_child!r}")
        self.ray_address = ray_address
        self.gpus_per_child = gpus_per_child
        self.runtime_env = runtime_env
        self._owns_ray = False
        self._ref = None  # the evaluator in the object store
        self._task = None
        self._refs: dict = {}  # ObjectRef -> ticket

    def _start(self) -> None:
        ray = import_ray()
        if not ray.is_initialized():
            options = {} if self.runtime_env is None else {"runtime_env": self.runtime_env}
            if self.ray_address is not None:
                ray.init(address=self.ray_address, include_dashboard=False, log_to_driver=False, **options)
            else:
                gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
                start_local_ray(num_cpus=self.workers, num_gpus=gpus, **options)
            self._owns_ray = True
        payload = self.worker_copy()
        share = self.gpus_per_child
        if share is None:
            on_cuda = isinstance(payload, ChildEvaluator) and payload.device.type == "cuda"
            gpus = float(ray.cluster_resources().get("GPU", 0)) if on_cuda else 0.0
            share = min(1.0, gpus / self.workers) if gpus else 0.0
        if share and isinstance(payload, ChildEvaluator):
            payload.device = torch.device("cuda")  # Ray sets CUDA_VISIBLE_DEVICES to the task's GPU
        self._share = share
        self._ref = ray.put(payload)
        self._task = ray.remote(_ray_child).options(num_cpus=1, num_gpus=share, max_retries=0)

    def _launch(self, ticket: int, arch: Architecture) -> None:
        if self._task is None:
            self._start()
        self._refs[self._task.remote([self._ref], arch.to_json())] = ticket

    def _collect(self) -> list:
        ray = import_ray()
        done, _ = ray.wait(list(self._refs), num_returns=1)
        more, _ = ray.wait([r for r in self._refs if r not in done], num_returns=len(self._refs) - len(done), timeout=0)
        outcomes = []
        for ref in [*done, *more]:
            ticket = self._refs.pop(ref)
            try:
                outcomes.append((ticket, ray.get(ref)))
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError) as err:
                outcomes.append((ticket, WorkerLost(describe_exception(err))))
            except ray.exceptions.RayError as err:  # anything else Ray reports: that child failed
                from .base import failed_record

                outcomes.append((ticket, failed_record(f"ray: {describe_exception(err)}")))
        return outcomes

    def _abort(self, tickets: list[int]) -> None:
        ray = import_ray()
        for ref, ticket in list(self._refs.items()):
            if ticket in tickets:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # already finished, or its worker already gone
                    pass
                del self._refs[ref]

    def _shutdown(self) -> None:
        self._ref = self._task = None
        if self._owns_ray:
            import_ray().shutdown()
            self._owns_ray = False

    def config(self) -> dict:
        return {**super().config(), "ray_address": self.ray_address, "gpus_per_child": self.gpus_per_child}
