"""The Ray evaluator, run for real on a local Ray (``ray.init(num_cpus=2)``, shared by the module).

Ray starts slowly on two loaded cores, so the tests share one session and stay few: the
search against the serial one, the faults (a child that raises, workers killed once and
for good), and cancellation.
"""

from __future__ import annotations

import functools
import itertools
import time

import parallel_helpers
import pytest
import ray  # in the dev extra: CI runs Ray for real, never skips it
from parallel_helpers import (
    SEARCH,
    comparable,
    faulty,
    marker_name,
    serial_history,
    slow_unless,
    tiny_data,
)

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.evaluators.ray_evaluator import RayEvaluator, start_local_ray
from nasrl_nb.spaces.registry import get_space

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    start_local_ray(num_cpus=2)  # ray.init, tried twice: a loaded machine may miss Ray's start-up window
    ray.cloudpickle.register_pickle_by_value(parallel_helpers)  # Ray workers do not see tests/ on their path
    yield
    ray.shutdown()


def test_ray_evaluator_gives_the_serial_search():
    reference = serial_history()
    search = make_search(dataset=tiny_data(), evaluator="ray", workers=2, **SEARCH)
    try:
        search.run()
    finally:
        search.evaluator.close()
    assert isinstance(search.evaluator, RayEvaluator) and ray.is_initialized()  # a Ray it did not start stays up
    assert comparable(search.history) == comparable(reference)
    assert search.summary()["evaluator"]["parallel"] == "ray"


def test_ray_faults_a_raising_child_fails_a_killed_worker_is_retried_once(tmp_path):
    archs = list(itertools.islice(get_space("cell").enumerate(), 4))
    faults = {"raises": str(archs[1]), "dies_once": str(archs[2]), "dies_always": str(archs[3])}
    with RayEvaluator(FunctionEvaluator(functools.partial(faulty, tmp_path, faults)), workers=2) as evaluator:
        fine, raised, retried, lost = evaluator.evaluate(archs)
    assert fine["status"] == "ok" and fine["val_accuracy"] == 0.25
    assert raised["status"] == "failed" and raised["reason"] == "RuntimeError: this child cannot be built"
    assert retried["status"] == "ok" and (tmp_path / marker_name(archs[2])).read_text() == "2"
    assert lost["status"] == "failed" and lost["reason"].startswith("worker died 2 times training this child: WorkerCrashedError")
    assert (tmp_path / marker_name(archs[3])).read_text() == "2"


def test_ray_cancel_drops_the_tasks_in_flight(tmp_path):
    archs = list(itertools.islice(get_space("cell").enumerate(), 3))
    evaluator = RayEvaluator(FunctionEvaluator(functools.partial(slow_unless, tmp_path)), workers=2)
    try:
        for arch in archs:
            evaluator.submit(arch)
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert evaluator.outstanding == 3
        assert evaluator.cancel() == 3 and evaluator.outstanding == 0
        (tmp_path / "go").touch()
        records = evaluator.evaluate(archs[:1])  # still usable; nothing of the cancelled tasks comes back
        assert [r["val_accuracy"] for r in records] == [0.75] and evaluator.outstanding == 0
    finally:
        evaluator.close()
