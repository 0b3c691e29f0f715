"""The scripts behind BENCHMARKS.md's figures, run as modules from the repository root.

``python -m benchmarks.NAME --help`` lists a script's options (``python -m benchmarks.showdown``,
``python -m benchmarks.enas``, ...). They import the library and never copy it: a figure here is
a measurement of the code a notebook runs. What they share lives in this package
(:mod:`benchmarks.tabular_pool`: seeded searches on a table in a pool of worker processes) or
in the library (the platform from :func:`nasrl_nb.runtime.environment_report`).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # the repository root: default paths of figures and tables


def machine() -> str:
    """Python, torch, the CPU architecture, its cores and torch's threads now, on one line
    (from :func:`nasrl_nb.runtime.environment_report`): what a timing is measured on."""
    from nasrl_nb.runtime import environment_report

    env = environment_report()
    return (f"Python {env['python']}, torch {env['torch']}, {env['machine']}, {env['cpu_count']} CPUs, "
            f"{env['torch_threads']} torch thread(s)")
