"""Asynchronous search: updates while children train, staleness recorded, resumable."""

from __future__ import annotations

import hashlib
import json
import time

import torch

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.evaluators.process import ProcessEvaluator


def score(arch) -> float:
    """A deterministic 'accuracy' in [0, 1) that depends on the architecture only."""
    return int(hashlib.sha256(str(arch).encode()).hexdigest()[:6], 16) / 16**6


def slow_score(arch) -> float:
    time.sleep(0.3)
    return score(arch)


def test_async_with_a_serial_evaluator_is_the_synchronous_search():
    settings = dict(method="reinforce", space="cell", budget=8, batch_size=2, seed=5, progress=False)
    sync = make_search(evaluator=FunctionEvaluator(score), **settings)
    sync.run()
    asyn = make_search(evaluator=FunctionEvaluator(score), asynchronous=True, **settings)
    asyn.run()
    assert [r["staleness"] for r in asyn.history] == [0] * 8
    timeless = [{k: v for k, v in r.items() if k != "seconds"} for r in sync.history]
    assert [{k: v for k, v in r.items() if k not in ("staleness", "seconds")} for r in asyn.history] == timeless
    assert asyn.config.parallel.asynchronous is True


def test_async_evolution_replaces_a_member_as_each_child_returns():
    search = make_search(method="evolution", evaluator=FunctionEvaluator(score), asynchronous=True, budget=6,
                         batch_size=4, population_size=4, sample_size=2, seed=0, progress=False)
    populations = [step.stats["population"] for step in search]
    assert populations == [1, 2, 3, 4, 4, 4]  # one child per update; then the oldest member goes
    assert search.num_steps == 6 and search.evaluations == 6


def test_async_updates_while_children_train_records_staleness_and_resumes(tmp_path):
    out = tmp_path / "run"
    torch.manual_seed(123)
    search = make_search(method="reinforce", space="cell", evaluator=ProcessEvaluator(FunctionEvaluator(slow_score), workers=3),
                         asynchronous=True, budget=7, batch_size=1, seed=1, progress=False, out_dir=out)
    try:
        search.run(callback=lambda step: step.step < 2)  # stop after 3 updates, 2 children still in flight
        assert search.evaluator.outstanding == 0  # stopping cancelled the children in flight
    finally:
        search.evaluator.close()
    assert search.evaluations == 3
    in_flight = [json.loads(text)["arch"] for text, _ in search.checkpoint_state()["in_flight"]]
    assert len(in_flight) == 2

    resumed = resume_search(out, evaluator=ProcessEvaluator(FunctionEvaluator(slow_score), workers=3))
    try:
        resumed.run()
    finally:
        resumed.evaluator.close()
    history = resumed.history
    assert len(history) == 7 and [r["step"] for r in history] == list(range(7))
    assert set(in_flight) <= {r["arch"] for r in history[3:]}  # the children in flight at the stop were used, not lost
    assert all(r["val_accuracy"] == score_of(r["arch"]) for r in history)
    # three children are in flight from the first update on: the third of those proposed by policy 0 is
    # used at update 2 or later, so some update learned from a child proposed 2+ updates earlier
    staleness = [r["staleness"] for r in history]
    assert max(staleness) >= 2 and min(staleness) >= 0
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["stats"]["staleness"] for s in steps] == [[s] for s in staleness]


def score_of(arch_text: str) -> float:
    return int(hashlib.sha256(arch_text.encode()).hexdigest()[:6], 16) / 16**6


class Interrupting:
    """score(arch), but the ``at``-th call raises KeyboardInterrupt (as Ctrl-C would, mid-child)."""

    def __init__(self, at: int):
        self.calls, self.at = 0, at

    def __call__(self, arch) -> float:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return score(arch)


def test_an_interrupted_async_step_is_redone_and_the_run_equals_an_uninterrupted_one():
    """Three children in flight, one update per child, evaluated in order: deterministic, so comparable."""
    def search(fn):
        evaluator = FunctionEvaluator(fn)
        evaluator.workers = 3  # keep three in flight (a serial evaluator evaluates them oldest first)
        return make_search(method="reinforce", space="cell", evaluator=evaluator, asynchronous=True, budget=8,
                           batch_size=1, seed=2, progress=False)

    plain = search(score)
    plain.run()
    interrupted = search(Interrupting(at=4))
    for _ in range(3):
        interrupted.step()
    try:
        interrupted.step()  # its child, the 4th evaluated, raises KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the step was not interrupted")
    assert interrupted.evaluations == 3  # nothing of the interrupted step was committed
    interrupted.run()
    drop = ("seconds", "cached")
    assert [{k: v for k, v in r.items() if k not in drop} for r in interrupted.history] == \
           [{k: v for k, v in r.items() if k not in drop} for r in plain.history]
    assert max(r["staleness"] for r in plain.history) == 2  # three in flight, one update per child
