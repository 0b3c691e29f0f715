"""Helpers of the parallel-evaluator tests: a tiny search, its serial reference, faulty children.

The functions that workers run live here, at module level, so that worker processes import
them by reference and Ray ships them by value (``register_pickle_by_value``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import time
from pathlib import Path

import torch

from nasrl_nb.assembly.factory import make_search
from nasrl_nb.nn.data import load_dataset

TIMING_FIELDS = ("seconds", "latency_ms")  # wall-clock measurements: the only fields allowed to differ


@functools.lru_cache(maxsize=1)
def tiny_data():
    return load_dataset("digits", max_samples=200)


SEARCH = dict(method="reinforce", budget=6, batch_size=3, seed=3, epochs=1, channels=4, progress=False)


def comparable(history):
    return [{k: v for k, v in row.items() if k not in TIMING_FIELDS} for row in history]


def serial_history(caller_threads: int = 2):
    """The reference: a serial search started with ``caller_threads`` torch threads (a 2-core default).

    Its children train with ``child.threads`` (1), as every worker's do, whatever the caller has;
    the caller's count comes back afterwards.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(caller_threads)
    try:
        search = make_search(dataset=tiny_data(), **SEARCH)
        search.run()
        assert torch.get_num_threads() == caller_threads
        assert search.config.child.threads == 1 and search.evaluator.config()["threads"] == 1
        return search.history
    finally:
        torch.set_num_threads(threads)


# --- functions the workers run (module level: they are pickled by reference) ---------------------
def marker_name(arch) -> str:
    return hashlib.sha256(str(arch).encode()).hexdigest()[:16] + ".attempts"


def accuracy_or_raise(arch):
    if "skip_connect~0|+|none" in str(arch):
        raise RuntimeError("this child cannot be built")
    return 0.5


def die_in(folder, times, arch):
    """Kill this worker process the first ``times`` attempts at ``arch`` (attempts counted in files)."""
    marker = Path(folder) / marker_name(arch)
    attempts = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(attempts + 1))
    if attempts < times:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"val_accuracy": 0.25, "params": os.getpid()}


def slow_unless(folder, arch):
    """Say that it started, then train 'forever' unless ``folder/go`` exists."""
    (Path(folder) / f"started-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not (Path(folder) / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return 0.75


def faulty(folder, faults, arch):
    """Raise for ``faults["raises"]``; kill the worker once for ``"dies_once"``, always for ``"dies_always"``."""
    text = str(arch)
    if text == faults["raises"]:
        raise RuntimeError("this child cannot be built")
    times = 1 if text == faults["dies_once"] else 99 if text == faults["dies_always"] else 0
    return die_in(folder, times, arch)
