"""Fixtures shared by the test suite: small datasets, small nets, and a CLI runner.

Session-scoped datasets are shared between tests, so tests must not modify their tensors.

The whole session runs PyTorch with one intra-op thread (restored at the end): the suite
trains tiny nets, for which a second thread buys nothing, and on a busy 2-core machine
two spinning OpenMP threads per process made a small conv 50x slower. CLI subprocesses
get the same setting through ``OMP_NUM_THREADS`` in their own environment only.

A session started with SIGINT ignored (in the background of a non-interactive shell) gets
Python's own SIGINT handler back, so that the Ctrl-C tests and their subprocesses see Ctrl-C.

Each notebook runs once per session. ``tests/test_browser.py`` runs every notebook top to bottom in
JupyterLab and fails on any error output, any traceback or any cell that did not run: everything
``--nbval-lax`` checks, and what a student sees besides. When both are collected (the README's
command: ``tests`` before ``notebooks``), a notebook whose browser run passed earlier in the session
is not executed a second time by nbval: its cells are skipped with the reason named. Without
Chromium, or when the browser run of a notebook failed, nbval runs that notebook as before, cell
by cell, so a failure is still reported with the cell that raised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from nasrl_nb.nn.data import load_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
NB201_EXAMPLE = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


BROWSER_NOTEBOOK_TEST = "test_notebook_runs_and_renders_in_jupyterlab"


class NotebooksRunOnce:
    """The hooks that skip nbval's second run of a notebook (see the module docstring).

    Registered as a plugin by :func:`pytest_configure`, so that they reach the items under
    ``notebooks/`` too (a conftest's own hooks reach only the items below its folder).
    """

    def __init__(self):
        self.ran_clean: set[Path] = set()  # notebooks whose run in JupyterLab passed

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if getattr(item, "originalname", None) == BROWSER_NOTEBOOK_TEST and report.when == "call" and report.passed:
            self.ran_clean.add(Path(item.callspec.params["notebook"]).resolve())

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        """``tryfirst``: ahead of the setup that would start nbval's kernel for the notebook."""
        if item.path.suffix == ".ipynb" and item.path.resolve() in self.ran_clean:
            pytest.skip(f"{item.path.name} ran top to bottom without an error in JupyterLab in this session "
                        f"(tests/test_browser.py::{BROWSER_NOTEBOOK_TEST}[{item.path.stem}])")


def pytest_configure(config):
    config.pluginmanager.register(NotebooksRunOnce(), "nasrl_nb_notebooks_run_once")
    # A suite started in the background of a non-interactive shell inherits SIGINT ignored, and so
    # would every child it starts: the Ctrl-C tests then test nothing. Give Python's own handler back.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def digits():
    """All 1,797 scikit-learn digits, split 60/20/20 with seed 0, on the CPU."""
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="session")
def tiny_digits():
    """A stratified 300-image subset of digits (180/60/60): trains a small CNN in ~20 ms."""
    return load_dataset("digits", seed=0, max_samples=300)


def make_tiny_cnn(input_shape=(1, 8, 8), num_classes: int = 10, channels: int = 8) -> nn.Module:
    """conv3x3 -> ReLU -> global average pool -> linear: small, fast, and learns digits."""
    return nn.Sequential(
        nn.Conv2d(input_shape[0], channels, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * input_shape[1] * input_shape[2], num_classes),
    )


@pytest.fixture(scope="session")
def digits_cell_table():
    """The shipped digits-cell table, loaded once for the session (read-only: tests must not change it)."""
    from nasrl_nb.bench.tabular import TabularBenchmark

    return TabularBenchmark.load("bench:digits-cell")


@pytest.fixture
def tiny_cnn():
    """Factory ``tiny_cnn(input_shape=(1, 8, 8), num_classes=10, channels=8)`` (not seeded)."""
    return make_tiny_cnn


@pytest.fixture
def nb201_example() -> str:
    """The NAS-Bench-201 string used in the benchmark's README."""
    return NB201_EXAMPLE


@pytest.fixture(scope="session")
def cli_env() -> dict:
    """Environment for a ``python -m nasrl_nb`` subprocess: this checkout first on the path."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="session")
def run_cli(cli_env):
    """``run_cli(*args, timeout=120)`` runs ``python -m nasrl_nb ARGS`` and returns the CompletedProcess."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nasrl_nb", *args],
            capture_output=True,
            text=True,
            env=cli_env,
            cwd=REPO_ROOT,
            timeout=timeout,
        )

    return run
