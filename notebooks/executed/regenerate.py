"""Regenerate the executed copies of the notebooks that GitHub and nbviewer show with their figures.

A notebook committed without outputs shows no figure on GitHub. This script runs every
``notebooks/NN_*.ipynb`` top to bottom in a fresh kernel in quick mode (``NASRL_NB_QUICK=1``, the
mode of the test suite and Binder) and writes it, outputs and widget state included, to
``notebooks/executed/NN_*.ipynb``. ``tests/test_packaging.py`` fails when a copy is stale: when
its cells' sources differ from the notebook's, or a code cell has no output record.

    python notebooks/executed/regenerate.py                          # every notebook (about 15 minutes on 2 cores)
    python notebooks/executed/regenerate.py notebooks/04_reinforce.ipynb
    python notebooks/executed/regenerate.py --table                  # README's lab-path table from times.json

It prints each notebook's wall time in quick mode and records it in ``times.json`` with the
notebook's words of prose and checked exercises, from which :func:`lab_minutes` estimates a
student's time (README's lab path). Exit status 1 when a notebook fails; its
copy is then left as it was.
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


def execute(path: Path, *, timeout: int = 900) -> nbformat.NotebookNode:
    """``path`` run in a fresh kernel whose working directory is the notebook's folder."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                            resources={"metadata": {"path": str(path.parent)}}, store_widget_state=True)
    client.execute()
    return nb


def paths_table(times: dict) -> str:
    """README's table of the lab path and the homework path, with each notebook's minutes."""
    rows, totals = [], {"lab": 0.0, "homework": 0.0}
    for name, entry in times.items():
        path = "lab" if Path(name).stem in LAB_PATH else "homework"
        minutes = lab_minutes(entry)
        totals[path] += minutes
        rows.append(f"| `{Path(name).stem}` | {path} | {entry['seconds']:.0f} | {entry['words']} | {entry['exercises']} "
                    f"| {minutes:.0f} |")
    header = ["| notebook | path | run (s, quick mode) | words | checked exercises | minutes |", "|---|---|---:|---:|---:|---:|"]
    footer = [f"| lab path ({len(LAB_PATH)} notebooks) | | | | | {totals['lab']:.0f} |",
              f"| homework path | | | | | {totals['homework']:.0f} |"]
    return "\n".join(header + rows + footer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--table", action="store_true", help="print README's lab/homework table from times.json and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(paths_table(json.loads(TIMES.read_text())))
        return 0
    os.environ["NASRL_NB_QUICK"] = "1"  # the kernel inherits it
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")]))
    failed = 0
    for path in args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
        start = time.perf_counter()
        try:
            nb = execute(path.resolve())
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
