"""Quick mode gives a notebook kernel one torch thread; scripts, tests and full budgets keep torch's default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from nasrl_nb import runtime


@pytest.fixture()
def threads_restored():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_quick_mode_sets_one_thread_and_full_budgets_keep_the_default(monkeypatch, threads_restored):
    torch.set_num_threads(2)
    monkeypatch.setenv(runtime.QUICK_ENV, "0")
    assert runtime.quick_kernel_threads() is False and torch.get_num_threads() == 2
    monkeypatch.setenv(runtime.QUICK_ENV, "1")
    assert runtime.quick_kernel_threads() is True and torch.get_num_threads() == runtime.QUICK_KERNEL_THREADS == 1


_KERNEL = (
    "import torch; torch.set_num_threads(2)\n"
    "from IPython.core.interactiveshell import InteractiveShell; InteractiveShell.instance()\n"
    "import nasrl_nb; print(torch.get_num_threads())\n"
)
_SCRIPT = "import torch; torch.set_num_threads(2)\nimport nasrl_nb; print(torch.get_num_threads())\n"


@pytest.mark.parametrize(
    "code, quick, threads",
    [(_KERNEL, "1", 1), (_KERNEL, "0", 2), (_SCRIPT, "1", 2)],
    ids=["kernel-quick", "kernel-full", "script-quick"],
)
def test_import_sets_the_threads_only_in_a_quick_mode_kernel(code, quick, threads):
    env = {**os.environ, runtime.QUICK_ENV: quick}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert int(done.stdout.split()[-1]) == threads
