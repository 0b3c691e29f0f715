"""Check that a shipped table holds exactly the rows of its build: so that nobody ships a partial table.

Merges the build folder's shards of all 6,466 unique cells (the folder's own settings.json) as
``bench build`` does and compares them row by row with the shipped ``.csv.gz``
(:func:`nasrl_nb.bench.build.check_table_against_build`). Exit status 0 when they match, 1 when
they differ, 2 when the build folder is incomplete or the table is missing.

    python -m benchmarks.check_shipped_table                              # mnist1d-cell and its build
    python -m benchmarks.check_shipped_table bench:digits-cell FOLDER     # another table, another build

Ship a finished build with the command that built it plus ``--table``; a complete folder trains
nothing and only merges:

    python -m nasrl_nb bench build --dataset mnist1d --out benchmarks/builds/mnist1d-cell \\
        --table nasrl_nb/bench/data/mnist1d-cell.csv.gz
"""

from __future__ import annotations

import argparse
import json
import sys

from nasrl_nb.bench.build import check_table_against_build
from nasrl_nb.bench.tabular import resolve_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("table", nargs="?", default="bench:mnist1d-cell", help="bench:NAME, csv:PATH or a path")
    parser.add_argument("build", nargs="?", default="benchmarks/builds/mnist1d-cell", help="the build folder of shards")
    args = parser.parse_args(argv)
    try:
        report = check_table_against_build(resolve_table(args.table), args.build)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0 if report["match"] else 1


if __name__ == "__main__":
    sys.exit(main())
