"""Regenerate the executed copies of the notebooks that GitHub and nbviewer show with their figures.

A notebook committed without outputs shows no figure on GitHub. This script runs every
``notebooks/NN_*.ipynb`` top to bottom in a fresh kernel in quick mode (``NASRL_NB_QUICK=1``, the
mode of the test suite and Binder) and writes it, outputs and widget state included, to
``notebooks/executed/NN_*.ipynb``. ``tests/test_packaging.py`` fails when a copy is stale: when
its cells' sources differ from the notebook's, or a code cell has no output record.

    python notebooks/executed/regenerate.py                          # every notebook (about 15 minutes on 2 cores)
    python notebooks/executed/regenerate.py notebooks/04_reinforce.ipynb
    python notebooks/executed/regenerate.py --table                  # README's lab-path table from times.json
    python notebooks/executed/regenerate.py --full                   # full-budget times (NASRL_NB_QUICK=0) into full_times.json

It prints each notebook's wall time in quick mode and records it in ``times.json`` with the
notebook's words of prose and checked exercises, from which :func:`lab_minutes` estimates a
student's time (README's lab path). Exit status 1 when a notebook fails; its
copy is then left as it was.

``--full`` runs the notebooks at their full budgets instead (``NASRL_NB_QUICK=0``, the mode a course
sets for a long lab or homework) and writes no copy: it records each notebook's wall time, the CPU
time of its kernel (user + system, with the worker processes it waited for), and the machine's
load average before and after in ``full_times.json``. On a shared machine the wall time grows
with the load; the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent
TIMES = HERE / "times.json"
FULL_TIMES = HERE / "full_times.json"
READING_WORDS_PER_MINUTE = 200  # a careful reading pace for technical prose
MINUTES_PER_EXERCISE = 5  # an allowance for one checked exercise: read, write a few lines, check
# The lab path: what a student works through in a 90-minute lab (README, notebook 00); the rest is homework.
LAB_PATH = ("00_start_here", "03_controller", "04_reinforce", "06_benchmarks_and_baselines", "10_showdown")


def checked_exercises(nb: nbformat.NotebookNode) -> int:
    """The code cells that call a ``nasrl_nb.checks`` checker: one per checked exercise."""
    return sum(c.cell_type == "code" and bool(re.search(r"checks\.check_\w+\(", c.source)) for c in nb.cells)


def lab_minutes(entry: dict) -> float:
    """A student's time for one notebook: its measured quick-mode run, plus reading its prose at
    :data:`READING_WORDS_PER_MINUTE`, plus :data:`MINUTES_PER_EXERCISE` per checked exercise."""
    return entry["seconds"] / 60 + entry["words"] / READING_WORDS_PER_MINUTE + MINUTES_PER_EXERCISE * entry["exercises"]


def kernel_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and of the children it has waited for (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime, stime, cutime, cstime


def execute(path: Path, *, timeout: int = 900, cpu: dict | None = None) -> nbformat.NotebookNode:
    """``path`` run in a fresh kernel whose working directory is the notebook's folder; ``cpu``, when
    given, receives the kernel's CPU seconds after each cell (key ``"seconds"``)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                            resources={"metadata": {"path": str(path.parent)}}, store_widget_state=True)
    if cpu is not None:
        def after_cell(**_):
            pid = getattr(client.km.provisioner, "pid", None)
            if pid is not None and Path(f"/proc/{pid}/stat").exists():
                cpu["seconds"] = kernel_cpu_seconds(pid)
        client.on_cell_executed = after_cell
    client.execute()
    return nb


def run_full(paths: list[Path], *, timeout: int) -> int:
    """Each notebook at its full budget: wall and kernel CPU seconds into :data:`FULL_TIMES`."""
    os.environ["NASRL_NB_QUICK"] = "0"
    failed = 0
    for path in paths:
        load_before, cpu, start = os.getloadavg()[0], {}, time.perf_counter()
        try:
            execute(path.resolve(), timeout=timeout, cpu=cpu)
        except (CellExecutionError, TimeoutError) as err:
            failed += 1
            print(f"{path.name}: FAILED at full budget\n{str(err)[-600:]}", file=sys.stderr)
            continue
        wall = time.perf_counter() - start
        times = json.loads(FULL_TIMES.read_text()) if FULL_TIMES.exists() else {}
        times[path.name] = {"wall_seconds": round(wall, 1), "kernel_cpu_seconds": round(cpu.get("seconds", float("nan")), 1),
                            "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1),
                            "cpu_count": os.cpu_count()}
        FULL_TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
        print(f"{path.name}: full budget, {wall:.0f} s wall, {cpu.get('seconds', float('nan')):.0f} s kernel CPU")
    return 1 if failed else 0


def paths_table(times: dict, full: dict | None = None) -> str:
    """README's table of the lab path and the homework path, with each notebook's minutes; with
    ``full`` (:data:`FULL_TIMES`' entries) also each notebook's wall time at its full budget."""
    full = full or {}
    rows, totals = [], {"lab": 0.0, "homework": 0.0}
    for name, entry in times.items():
        path = "lab" if Path(name).stem in LAB_PATH else "homework"
        minutes = lab_minutes(entry)
        totals[path] += minutes
        long_run = f" {full[name]['wall_seconds']:.0f} |" if name in full else " — |" if full else ""
        rows.append(f"| `{Path(name).stem}` | {path} | {entry['seconds']:.0f} |{long_run} {entry['words']} | {entry['exercises']} "
                    f"| {minutes:.0f} |")
    extra = (" run (s, full budget) |", "---:|", " |") if full else ("", "", "")
    header = [f"| notebook | path | run (s, quick mode) |{extra[0]} words | checked exercises | minutes |",
              f"|---|---|---:|{extra[1]}---:|---:|---:|"]
    footer = [f"| lab path ({len(LAB_PATH)} notebooks) | | |{extra[2]} | | {totals['lab']:.0f} |",
              f"| homework path | | |{extra[2]} | | {totals['homework']:.0f} |"]
    return "\n".join(header + rows + footer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--table", action="store_true", help="print README's lab/homework table from times.json and exit")
    parser.add_argument("--full", action="store_true", help="time the full budgets (NASRL_NB_QUICK=0) into full_times.json; "
                                                            "no copy is written")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one cell may run (default: 900)")
    args = parser.parse_args(argv)
    if args.table:
        full = json.loads(FULL_TIMES.read_text()) if FULL_TIMES.exists() else {}
        print(paths_table(json.loads(TIMES.read_text()), full))
        return 0
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")]))
    if args.full:
        return run_full(args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")), timeout=args.timeout)
    os.environ["NASRL_NB_QUICK"] = "1"  # the kernel inherits it
    failed = 0
    for path in args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
        start = time.perf_counter()
        try:
            nb = execute(path.resolve(), timeout=args.timeout)
        except CellExecutionError as err:
            failed += 1
            print(f"{path.name}: FAILED, copy left as it was\n{str(err)[-600:]}", file=sys.stderr)
            continue
        nbformat.write(nb, HERE / path.name)
        times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        times[path.name] = {"seconds": round(time.perf_counter() - start, 1), "exercises": checked_exercises(nb),
                            "words": sum(len(re.findall(r"\w+", c.source)) for c in nb.cells if c.cell_type == "markdown")}
        TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
        print(f"{path.name}: written, ran in {time.perf_counter() - start:.0f} s (kernel start-up included)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
