"""Run ``tests/test_mutations.py``'s entries in one process: import once, fork once per mutation.

Started by that test as ``python tests/mutation_runner.py`` with its working directory and
``PYTHONPATH`` on a copy of ``nasrl_nb/``. It reads a JSON list of jobs from stdin, each
``{"name", "file", "old", "new", "tests"}``, and writes one JSON object to stdout: for each name,
the forked pytest's exit status, the last lines of its output, and the ``nasrl_nb`` it imported.

Why fork: starting Python, PyTorch and pytest again for every mutation cost about 3 CPU seconds of
each entry's 6. This process imports the third-party libraries once (never ``nasrl_nb``, and it runs
no PyTorch op, so no OpenMP thread pool exists to be copied into a child); each forked child then
imports ``nasrl_nb`` from the copy, with the one mutated file in it, and runs the named tests with
``pytest.main``. The parent puts the file back (text and modification time) after the child exits.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy  # noqa: F401  (imported once here, shared by every child)
import pytest
import torch  # noqa: F401

ROOT = Path.cwd()  # the copy: ROOT / "nasrl_nb"


def run_child(job: dict, log: Path) -> None:
    """In the forked child: run the named tests with stdout/stderr in ``log``; never returns."""
    status = 3
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        # pythonpath emptied: pyproject puts the repository root on sys.path, which would shadow the copy
        status = int(pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-o", "pythonpath=", "-p", "pytest_timeout", "--no-header",
                                  *job["tests"]]))
        module = sys.modules.get("nasrl_nb")
        print(f"nasrl_nb imported from: {getattr(module, '__file__', None)}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def run_one(job: dict, log: Path) -> dict:
    """Mutate, fork, wait, restore: the child's exit status and its output's last lines."""
    target = ROOT / "nasrl_nb" / job["file"]
    original, stat = target.read_text(), target.stat()
    if original.count(job["old"]) != 1:
        return {"status": None, "tail": f"the text to mutate occurs {original.count(job['old'])} times", "imported": None}
    target.write_text(original.replace(job["old"], job["new"]))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))  # 10 s later: its bytecode is stale
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            run_child(job, log)
        _, wait_status = os.waitpid(pid, 0)
    finally:
        target.write_text(original)
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the copy's first bytecode is valid again
    lines = log.read_text(errors="replace").splitlines()
    imported = lines[-1].removeprefix("nasrl_nb imported from: ") if lines and lines[-1].startswith("nasrl_nb imported") else None
    return {"status": os.waitstatus_to_exitcode(wait_status), "tail": "\n".join(lines[-6:]), "imported": imported}


def main() -> None:
    jobs = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as workdir:
        results = {job["name"]: run_one(job, Path(workdir) / f"{i}.log") for i, job in enumerate(jobs)}
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
