"""The benchmarks form a package: each script imports the library (never forks it) and runs as
``python -m benchmarks.NAME`` from the repository root."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from nasrl_nb.assembly import compare
from nasrl_nb.bench.tabular import TabularBenchmark

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "__init__")


@pytest.fixture(scope="module")
def digits_cell():
    return TabularBenchmark.load("bench:digits-cell")


def test_no_script_patches_sys_path_or_reads_the_platform_itself():
    found = []
    for name in SCRIPTS:
        for node in ast.walk(ast.parse((REPO / "benchmarks" / f"{name}.py").read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) == ("sys", "path") or node.value.id == "platform":
                    found.append(f"{name}: {node.value.id}.{node.attr}")
    assert not found, "use the package (python -m benchmarks.NAME) and nasrl_nb.runtime.environment_report():\n" + "\n".join(found)


def test_every_script_imports_as_a_module_of_the_package():
    for name in SCRIPTS:
        module = importlib.import_module(f"benchmarks.{name}")
        assert module.__name__ == f"benchmarks.{name}"
        assert name == "tabular_pool" or callable(getattr(module, "main", None)), f"benchmarks.{name} has no main()"


def test_a_script_runs_with_python_dash_m_from_the_root():
    """search_on_bench imports benchmarks.tabular_pool and the library: both resolve from the root."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.search_on_bench", "--help"], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "--tune" in out.stdout


def test_tune_scores_each_setting_by_the_mean_validation_of_its_picks(digits_cell):
    """compare.tune's run hook gets the seeds and budget; the winner is the best mean validation of the picks."""
    good, bad = (max(digits_cell.archs, key=lambda a: digits_cell.query(a)["val_accuracy"]),
                 min(digits_cell.archs, key=lambda a: digits_cell.query(a)["val_accuracy"]))
    calls = []

    def run(bench, method, seeds, *, budget, settings):
        calls.append((method, list(seeds), budget, settings["batch_size"]))
        arch = good if settings["batch_size"] == 4 else bad
        return [[{"arch": arch, "status": "ok", "val_accuracy": 0.5}] for _ in seeds]

    best, rows = compare.tune(digits_cell, "random", {"batch_size": [1, 4, 8]}, range(3), budget=7, run=run)
    assert calls == [("random", [0, 1, 2], 7, b) for b in (1, 4, 8)]
    assert best["batch_size"] == 4
    assert [row["score"] for row in rows] == pytest.approx([digits_cell.query(a)["val_accuracy"] for a in (bad, good, bad)])


def test_tune_over_a_pool_gives_the_serial_tune(digits_cell, monkeypatch):
    """benchmarks.tabular_pool spreads compare.tune's seeds over workers: the same histories, in seed order."""
    tabular_pool = importlib.import_module("benchmarks.tabular_pool")
    monkeypatch.setitem(tabular_pool._TABLE, "bench", digits_cell)  # what each worker's initializer loads

    class InProcessPool:  # pool.map's contract, without processes
        def map(self, fn, jobs):
            return [fn(job) for job in jobs]

    grid, seeds = {"batch_size": [1, 4]}, range(2)
    serial = compare.tune(digits_cell, "random", grid, seeds, budget=4)
    pooled = compare.tune(digits_cell, "random", grid, seeds, budget=4, run=tabular_pool.pool_runs(InProcessPool()))
    assert len(set(serial[1][0]["scores"])) > 1  # the seeds differ, so an order mix-up would show
    assert pooled == serial
