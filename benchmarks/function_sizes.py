"""The longest functions and the widest signatures of a package, read with ``ast`` (issue 21's house measure).

``python -m benchmarks.function_sizes [PACKAGE] [--top N]`` prints the ``N`` longest functions
(lines from ``def`` to the last line, docstring included) and the ``N`` widest signatures
(parameters, ``self``/``cls`` not counted, ``*args`` and ``**kwargs`` one each), then how many
functions are over 60 lines and over 10 parameters. Nothing is imported or run.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def function_sizes(package: Path) -> list[tuple[int, int, str]]:
    """``(lines, parameters, "path:line name")`` for every function and method under ``package``."""
    rows = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                params = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
                positional = a.posonlyargs + a.args
                params -= bool(positional and positional[0].arg in ("self", "cls"))
                where = f"{path.relative_to(package.parent)}:{node.lineno} {node.name}"
                rows.append((node.end_lineno - node.lineno + 1, params, where))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", default="nasrl_nb", help="the package folder (default: nasrl_nb)")
    parser.add_argument("--top", type=int, default=8, help="rows in each list (default: 8)")
    args = parser.parse_args(argv)
    rows = function_sizes(Path(args.package))
    print("longest functions:")
    for lines, params, where in sorted(rows, key=lambda r: (-r[0], -r[1], r[2]))[: args.top]:
        print(f"  {lines:4d} lines  {params:3d} parameters  {where}")
    print("widest signatures:")
    for lines, params, where in sorted(rows, key=lambda r: (-r[1], -r[0], r[2]))[: args.top]:
        print(f"  {params:4d} parameters  {lines:3d} lines  {where}")
    print(f"{len(rows)} functions; over 60 lines: {sum(r[0] > 60 for r in rows)}; over 10 parameters: "
          f"{sum(r[1] > 10 for r in rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
