"""Regenerate the executed copies of the notebooks that GitHub and nbviewer show with their figures.

A notebook committed without outputs shows no figure on GitHub. This script runs every
``notebooks/NN_*.ipynb`` top to bottom in a fresh kernel in quick mode (``NASRL_NB_QUICK=1``, the
mode of the test suite and Binder) and writes it, outputs and widget state included, to
``notebooks/executed/NN_*.ipynb``. ``tests/test_packaging.py`` fails when a copy is stale: when
its cells' sources differ from the notebook's, or a code cell has no output record.

    python notebooks/executed/regenerate.py                          # every notebook (about 15 minutes on 2 cores)
    python notebooks/executed/regenerate.py notebooks/04_reinforce.ipynb

It prints each notebook's wall time in quick mode. Exit status 1 when a notebook fails; its
copy is then left as it was.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent


def execute(path: Path, *, timeout: int = 900) -> nbformat.NotebookNode:
    """``path`` run in a fresh kernel whose working directory is the notebook's folder."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                            resources={"metadata": {"path": str(path.parent)}}, store_widget_state=True)
    client.execute()
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    args = parser.parse_args(argv)
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
        print(f"{path.name}: written, ran in {time.perf_counter() - start:.0f} s (kernel start-up included)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
