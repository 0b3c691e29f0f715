"""Parallel evaluators: the same search on worker processes as serially; faults; cancellation.

The faults are real: a child whose function kills its own worker process (SIGKILL) is
retried on a fresh worker, then recorded failed; Ctrl-C is a real SIGINT sent to this
process while the workers train.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from parallel_helpers import (
    SEARCH,
    accuracy_or_raise,
    comparable,
    die_in,
    marker_name,
    serial_history,
    slow_unless,
    tiny_data,
)

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.evaluators.process import ProcessEvaluator
from nasrl_nb.spaces.registry import get_space


def test_process_evaluator_gives_the_serial_search():
    reference = serial_history()
    search = make_search(dataset=tiny_data(), evaluator="process", workers=2, **SEARCH)
    try:
        search.run()
    finally:
        search.evaluator.close()
    assert [row["arch"] for row in search.history] == [row["arch"] for row in reference]
    assert comparable(search.history) == comparable(reference)
    assert search.config.parallel.evaluator == "process" and search.config.parallel.workers == 2
    assert search.summary()["evaluator"]["parallel"] == "process"


def test_a_child_that_raises_is_a_failed_record_and_the_batch_goes_on():
    space = get_space("cell")
    archs = [space.parse("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|none~2|"),
             space.parse("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")]
    with ProcessEvaluator(FunctionEvaluator(accuracy_or_raise), workers=2) as evaluator:
        ok, failed = evaluator.evaluate(archs)
    assert ok["status"] == "ok" and ok["val_accuracy"] == 0.5
    assert failed["status"] == "failed" and failed["reason"] == "RuntimeError: this child cannot be built"


def test_a_killed_worker_has_its_child_retried_once_then_failed(tmp_path):
    space = get_space("cell")
    survivor, victim, doomed = itertools.islice(space.enumerate(), 3)
    dies_once = ProcessEvaluator(FunctionEvaluator(functools.partial(die_in, tmp_path, 1)), workers=2)
    dies_always = ProcessEvaluator(FunctionEvaluator(functools.partial(die_in, tmp_path, 99)), workers=2)
    try:
        [first] = dies_once.evaluate([victim])
        fine, lost = dies_always.evaluate([survivor, doomed])
        assert all(p.is_alive() for p in [w.process for w in dies_always._pool])  # dead ones were replaced
    finally:
        dies_once.close()
        dies_always.close()
    assert first["status"] == "ok" and first["val_accuracy"] == 0.25  # the second attempt, on a fresh worker
    assert (tmp_path / marker_name(victim)).read_text() == "2"
    # `survivor` died too (times=99 applies to every architecture): each child is tried twice, then failed
    for record in (fine, lost):
        assert record["status"] == "failed"
        assert record["reason"].startswith("worker died 2 times training this child: worker process exited with code -9")


def test_ctrl_c_cancels_the_children_in_flight_and_the_search_redoes_the_step(tmp_path):
    search = make_search(method="random", space="cell", evaluator=FunctionEvaluator(functools.partial(slow_unless, tmp_path)),
                         budget=4, batch_size=2, seed=0, progress=False)
    evaluator = ProcessEvaluator(search.evaluator, workers=2)
    search.evaluator = evaluator

    def interrupt_once_both_train():
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_both_train, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            search.step()
        busy = [int(p.name.split("-")[1]) for p in tmp_path.glob("started-*")]
        assert len(busy) == 2 and evaluator.outstanding == 0 and evaluator.worker_pids == []
        for pid in busy:  # the workers that were training are gone
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert search.evaluations == 0 and search.history == []
        (tmp_path / "go").touch()
        step = search.step()  # the same step again, on fresh workers
    finally:
        evaluator.close()
    assert [r["val_accuracy"] for r in step.results] == [0.75, 0.75] and search.evaluations == 2


def test_bad_parallel_settings_are_clear_errors():
    with pytest.raises(ValueError, match="parallel.evaluator: 'threads' is not allowed.*serial, process, ray"):
        make_search(evaluator="threads", dataset=tiny_data(), progress=False)
    with pytest.raises(ValueError, match="workers: 2 needs evaluator 'process' or 'ray'"):
        make_search(workers=2, dataset=tiny_data(), progress=False)
    with pytest.raises(ValueError, match="parallel.workers"):
        make_search(evaluator="process", workers=0, dataset=tiny_data(), progress=False)
    with pytest.raises(ValueError, match="ray_address: 'auto' is only for evaluator 'ray'"):
        make_search(evaluator="process", workers=2, ray_address="auto", dataset=tiny_data(), progress=False)
    with pytest.raises(ValueError, match="asynchronous: method 'enas' trains one shared supernet"):
        make_search(method="enas", asynchronous=True, dataset=tiny_data(), progress=False)
    with pytest.raises(ValueError, match="evaluator: expected a SerialEvaluator"):
        ProcessEvaluator(object(), workers=2)
    with pytest.raises(ValueError, match="retries: must be an integer >= 0"):
        ProcessEvaluator(FunctionEvaluator(accuracy_or_raise), retries=-1)


def test_import_nasrl_nb_does_not_import_ray():
    code = ("import sys, nasrl_nb; from nasrl_nb.evaluators import process as parallel, ray_evaluator; from nasrl_nb.assembly import factory; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"


def test_cli_search_on_worker_processes_asynchronously_then_replay_the_folder(tmp_path, capsys):
    from nasrl_nb.cli.commands import main
    from nasrl_nb.run.folder import RunFolder

    out = tmp_path / "run"
    tiny = ["--epochs", "1", "--channels", "4", "--max-samples", "200", "--device", "cpu", "--quiet"]
    assert main(["search", "--method", "evolution", "--budget", "4", "--batch", "2", "--evaluator", "process",
                 "--workers", "2", "--async", *tiny, "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["evaluations"] == 4 and summary["evaluator"]["parallel"] == "process"
    config = json.loads((out / "config.json").read_text())
    assert config["parallel"] == {"evaluator": "process", "workers": 2, "ray_address": None, "asynchronous": True}
    history = RunFolder(out).read_history()
    assert len(history) == 4 and all("staleness" in row for row in history)

    assert main(["search", "--workers", "2", "--out", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.strip() == "error: workers: 2 needs evaluator 'process' or 'ray'; the serial evaluator has 1 worker"
    assert main(["search", "--evaluator", "process", "--workers", "0", "--out", str(tmp_path / "bad")]) == 2
    assert "parallel.workers" in capsys.readouterr().err
