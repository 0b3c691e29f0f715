"""Time every notebook in quick mode and measure its kernel's peak memory.

Each notebook runs top to bottom ("Run All") in a fresh kernel with ``NASRL_NB_QUICK=1``,
the way the test suite and Binder run it. For each we report the wall time of the cells
(kernel start-up excluded) and the kernel process's resident-memory high-water mark
(``VmHWM`` from ``/proc/<pid>/status``, read just before the kernel shuts down; Linux only,
and child processes the kernel starts are not included). Targets: about a minute and under
1.5 GB per notebook, so that a course lab runs on Binder's small machines.

    python -m benchmarks.notebooks                      # every notebooks/*.ipynb
    python -m benchmarks.notebooks notebooks/03_controller.ipynb --markdown
    python -m benchmarks.notebooks --json runs/notebook_bench.json
    python -m benchmarks.notebooks notebooks/04_reinforce.ipynb --threads 2   # torch's threads, not quick mode's 1

Exit status 1 when a notebook fails (the table shows the failing cell's error).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from benchmarks import REPO, machine

TARGET_SECONDS = 60.0
TARGET_PEAK_MB = 1536.0


@dataclass
class NotebookRun:
    """One notebook's run: ``status`` is ``"ok"`` or ``"failed"`` (with ``error``)."""

    notebook: str
    status: str
    seconds: float
    peak_rss_mb: float | None
    cells: int
    error: str | None = None


def kernel_peak_rss_mb(pid: int | None) -> float | None:
    """The process's peak resident set size in MiB (Linux ``VmHWM``), or None if unknown."""
    if pid is None:
        return None
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # the line reads "VmHWM:  123456 kB"
    return None


def run_notebook(path: Path, *, timeout: int = 600, kernel_name: str | None = None,
                 threads: int | None = None) -> NotebookRun:
    """Execute ``path`` in a fresh kernel (cwd = its folder) and measure it; never raises.

    ``threads``: run ``torch.set_num_threads(threads)`` right after the notebook's first code cell
    (its setup cell), overriding what the setup chose; None leaves the kernel as the notebook sets it.
    """
    nb = nbformat.read(path, as_version=4)
    if threads is not None:
        first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
        nb.cells.insert(first + 1, nbformat.v4.new_code_cell(f"import torch; torch.set_num_threads({int(threads)})"))
    kernel_name = kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, resources={"metadata": {"path": str(path.parent)}}
    )
    code_cells = sum(cell.cell_type == "code" for cell in nb.cells)
    error, peak_mb, seconds = None, None, 0.0
    try:
        with client.setup_kernel():
            start = time.perf_counter()
            try:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            except (CellExecutionError, CellTimeoutError) as err:
                error = f"cell {index}: {_describe(err)}"
            seconds = time.perf_counter() - start
            peak_mb = kernel_peak_rss_mb(getattr(client.km.provisioner, "pid", None))
    except DeadKernelError as err:  # e.g. killed for using too much memory
        error = f"kernel died: {_describe(err)}"
    return NotebookRun(
        notebook=str(_relative(path)),
        status="failed" if error else "ok",
        seconds=round(seconds, 1),
        peak_rss_mb=None if peak_mb is None else round(peak_mb, 1),
        cells=code_cells,
        error=error,
    )


def _describe(err: Exception) -> str:
    """``"ValueError: message"`` for a failing cell, without the traceback's colour codes."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    text = f"{ename}: {evalue}" if ename else (str(err).strip().splitlines() or [type(err).__name__])[-1]
    return re.sub(r"\x1b\[[0-9;]*m", "", text)[:200]


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(REPO)
    except ValueError:
        return path


def format_table(runs: list[NotebookRun], *, markdown: bool = False) -> str:
    """A plain-text (or Markdown) table with a verdict against the targets."""
    header = ("notebook", "status", "cells", "seconds", "peak RSS (MB)", "within target")
    rows = []
    for run in runs:
        within = run.status == "ok" and run.seconds <= TARGET_SECONDS
        within = within and (run.peak_rss_mb is None or run.peak_rss_mb <= TARGET_PEAK_MB)
        peak = "n/a" if run.peak_rss_mb is None else f"{run.peak_rss_mb:.0f}"
        status = run.status if run.error is None else f"{run.status}: {run.error}"
        rows.append((run.notebook, status, str(run.cells), f"{run.seconds:.1f}", peak, "yes" if within else "NO"))
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's kernelspec)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table for BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the kernel, set after each notebook's setup cell (default: as it sets them)")
    args = parser.parse_args(argv)

    paths = args.notebooks or sorted((REPO / "notebooks").glob("*.ipynb"))
    if not paths:
        parser.error("no notebooks found")
    # the kernel inherits this environment: quick mode, and this checkout's package first
    # (so the notebooks' install-when-missing cell never fires, installed or not)
    os.environ["NASRL_NB_QUICK"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    runs = []
    for path in paths:
        print(f"running {_relative(path)} ...", file=sys.stderr, flush=True)
        runs.append(run_notebook(path, timeout=args.timeout, kernel_name=args.kernel, threads=args.threads))
    print(f"Notebooks in quick mode (NASRL_NB_QUICK=1) on {machine()}")
    print(format_table(runs, markdown=args.markdown))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine, "runs": [asdict(r) for r in runs]}, indent=2))
    return 1 if any(run.status != "ok" for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
